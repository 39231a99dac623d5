// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Per-client state and the driver's ioctls.

use kernel::{
    drm::{self, Registered},
    prelude::*,
    transmute::AsBytes,
    uaccess::UserSlice,
    uapi,
};

use crate::driver::{GaudiDevice, GaudiDriver, GaudiRegData};

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
        _dev: &GaudiDevice<Registered>,
        reg_data: &GaudiRegData,
        args: &mut uapi::drm_gaudi_query,
        _file: &File,
    ) -> Result<u32> {
        if args.flags != 0 || args.pad != 0 {
            return Err(EINVAL);
        }

        match args.type_ {
            uapi::drm_gaudi_query_type_DRM_GAUDI_QUERY_DEVICE_INFO => {
                copy_query_result(args, reg_data.info.as_bytes())?
            }
            _ => return Err(EINVAL),
        }

        Ok(0)
    }
}
