// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Per-client state and the driver's ioctls.

use kernel::{
    drm::{self, accel::gem::Kind, gem::BaseObject, Registered},
    prelude::*,
    transmute::AsBytes,
    uaccess::UserSlice,
};

use crate::{
    driver::{GaudiDevice, GaudiDriver, GaudiRegData},
    gem::Bo,
    uapi,
};

/// `DRM_GAUDI_QUERY_MEMORY` result.
#[repr(transparent)]
struct MemoryInfo(uapi::drm_gaudi_memory_info);

// SAFETY: `drm_gaudi_memory_info` is made of four `u64`s: no padding, every byte initialized.
unsafe impl AsBytes for MemoryInfo {}

/// Per-file (client) data.
#[pin_data]
pub(crate) struct FileData {}

/// A client of the accel node.
pub(crate) type File = drm::file::File<FileData>;

impl drm::file::DriverFile for FileData {
    type Driver = GaudiDriver;

    fn open(_dev: &drm::Device<Self::Driver>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(try_pin_init!(Self {}), GFP_KERNEL)
    }
}

/// Copies a query result to userspace following the size protocol of `drm_gaudi_query`.
///
/// With `size == 0` only the size of the result is reported. Otherwise at most `size` bytes are
/// copied and `size` is set to the number of bytes copied.
fn copy_query_result(args: &mut uapi::drm_gaudi_query, result: &[u8]) -> Result {
    let total = u32::try_from(result.len())?;

    if args.size == 0 {
        args.size = total;
        return Ok(());
    }

    let len = args.size.min(total);
    let bytes = result.get(..len as usize).ok_or(EINVAL)?;
    let ptr = UserPtr::from_addr(usize::try_from(args.pointer)?);

    UserSlice::new(ptr, bytes.len())
        .writer()
        .write_slice(bytes)?;
    args.size = len;

    Ok(())
}

impl FileData {
    /// `DRM_IOCTL_GAUDI_QUERY`.
    pub(crate) fn query(
        dev: &GaudiDevice<Registered>,
        reg_data: &GaudiRegData,
        args: &mut uapi::drm_gaudi_query,
        _file: &File,
    ) -> Result<u32> {
        if args.flags != 0 || args.pad != 0 {
            return Err(EINVAL);
        }

        match args.type_ {
            uapi::DRM_GAUDI_QUERY_DEVICE_INFO => copy_query_result(args, reg_data.info.as_bytes())?,
            uapi::DRM_GAUDI_QUERY_MEMORY => {
                let (bo_count, bo_bytes) = dev.bo_stats.get();
                let info = MemoryInfo(uapi::drm_gaudi_memory_info {
                    dram_size: dev.vram.size(),
                    dram_free: dev.vram.avail(),
                    bo_count,
                    bo_bytes,
                });
                copy_query_result(args, info.as_bytes())?
            }
            _ => return Err(EINVAL),
        }

        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_GEM_CREATE`.
    pub(crate) fn gem_create(
        dev: &GaudiDevice<Registered>,
        _reg_data: &GaudiRegData,
        args: &mut uapi::drm_gaudi_gem_create,
        file: &File,
    ) -> Result<u32> {
        if args.flags & !uapi::DRM_GAUDI_BO_CREATE_FLAGS != 0 {
            return Err(EINVAL);
        }
        let size = usize::try_from(args.size).map_err(|_| EINVAL)?;
        let bo = if args.flags & uapi::DRM_GAUDI_BO_DEVICE != 0 {
            Bo::new_device(dev, &dev.vram, size)?
        } else {
            Bo::new_system(dev, size, args.flags & uapi::DRM_GAUDI_BO_WC != 0)?
        };
        // The handle holds its own reference; ours goes when `bo` does.
        args.handle = bo.create_handle(file)?;
        args.size = bo.size() as u64;
        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_GEM_INFO`.
    pub(crate) fn gem_info(
        _dev: &GaudiDevice<Registered>,
        _reg_data: &GaudiRegData,
        args: &mut uapi::drm_gaudi_gem_info,
        file: &File,
    ) -> Result<u32> {
        if args.pad != 0 {
            return Err(EINVAL);
        }
        let bo = Bo::lookup_handle(file, args.handle)?;
        args.flags = match bo.kind() {
            Kind::System { wc: true } => uapi::DRM_GAUDI_BO_WC,
            Kind::System { wc: false } => 0,
            Kind::Device => uapi::DRM_GAUDI_BO_DEVICE,
            Kind::Imported => uapi::DRM_GAUDI_BO_IMPORTED,
        };
        args.size = bo.size() as u64;
        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET`.
    pub(crate) fn gem_mmap_offset(
        _dev: &GaudiDevice<Registered>,
        _reg_data: &GaudiRegData,
        args: &mut uapi::drm_gaudi_gem_mmap_offset,
        file: &File,
    ) -> Result<u32> {
        if args.flags != 0 {
            return Err(EINVAL);
        }
        args.offset = Bo::lookup_handle(file, args.handle)?.mmap_offset();
        Ok(0)
    }
}
