// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Per-client state and the driver's ioctls.

use kernel::{
    drm::{self, accel::gem::Kind, accel::vm::Access, gem::BaseObject, Registered},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    transmute::AsBytes,
    uaccess::UserSlice,
};

use crate::{
    driver::{GaudiDevice, GaudiDriver, GaudiRegData},
    gem::Bo,
    submit::Ctx,
    uapi,
    usage::ClientUsage,
    vm::{self, LazyVm, Vm},
};

/// Contexts a client may have at once.
const MAX_CONTEXTS: usize = 256;

/// `DRM_GAUDI_QUERY_HEALTH` result.
#[repr(transparent)]
struct HealthInfo(uapi::drm_gaudi_health);

// Eighteen `u32`s and eighteen `u64`s, the `u64`s at 8-byte offsets: no padding.
const _: () = assert!(core::mem::size_of::<uapi::drm_gaudi_health>() == 18 * 4 + 18 * 8);

// SAFETY: `drm_gaudi_health` is made of integers laid out without padding (the uapi mirror's
// build checks every offset against the C header), so every byte is initialized.
unsafe impl AsBytes for HealthInfo {}

/// `DRM_GAUDI_QUERY_MEMORY` result.
#[repr(transparent)]
struct MemoryInfo(uapi::drm_gaudi_memory_info);

// SAFETY: `drm_gaudi_memory_info` is made of four `u64`s: no padding, every byte initialized.
unsafe impl AsBytes for MemoryInfo {}

/// The contexts of a client.
struct Contexts {
    list: KVec<Arc<Ctx>>,
    next_id: u32,
}

/// Per-file (client) data.
#[pin_data]
pub(crate) struct FileData {
    /// The client's device address space, created on first use.
    #[pin]
    vm: LazyVm,
    #[pin]
    ctxs: Mutex<Contexts>,
    /// Busy time of the client's jobs, for fdinfo.
    pub(crate) usage: Arc<ClientUsage>,
}

impl FileData {
    /// Looks up context `id`.
    pub(crate) fn ctx(&self, id: u32) -> Result<Arc<Ctx>> {
        self.ctxs
            .lock()
            .list
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or(ENOENT)
    }

    fn vm(&self, dev: &GaudiDevice, reg: &GaudiRegData<'_>) -> Result<Arc<Vm>> {
        vm::get_or_create(&self.vm, dev, reg.dev, &reg.engine.asids)
    }
}

/// A client of the accel node.
pub(crate) type File = drm::file::File<FileData>;

impl drm::file::DriverFile for FileData {
    type Driver = GaudiDriver;

    fn open(_dev: &drm::Device<Self::Driver>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(Self {
                vm <- new_mutex!(None, "gaudi_file_vm"),
                ctxs <- new_mutex!(
                    Contexts {
                        list: KVec::new(),
                        next_id: 1,
                    },
                    "gaudi_file_ctxs"
                ),
                usage: ClientUsage::new()?,
            }),
            GFP_KERNEL,
        )
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
        reg_data: &GaudiRegData<'_>,
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
            uapi::DRM_GAUDI_QUERY_HEALTH => {
                let health = HealthInfo(crate::health::query(&reg_data.engine)?);
                copy_query_result(args, health.as_bytes())?
            }
            _ => return Err(EINVAL),
        }

        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_GEM_CREATE`.
    pub(crate) fn gem_create(
        dev: &GaudiDevice<Registered>,
        _reg_data: &GaudiRegData<'_>,
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
        _reg_data: &GaudiRegData<'_>,
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
            Kind::Imported => match bo.peer_import() {
                None => uapi::DRM_GAUDI_BO_IMPORTED,
                Some(peer) if peer.mapped() => {
                    uapi::DRM_GAUDI_BO_IMPORTED | uapi::DRM_GAUDI_BO_PEER
                }
                Some(_) => {
                    uapi::DRM_GAUDI_BO_IMPORTED
                        | uapi::DRM_GAUDI_BO_PEER
                        | uapi::DRM_GAUDI_BO_INVALIDATED
                }
            },
        };
        args.size = bo.size() as u64;
        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET`.
    pub(crate) fn gem_mmap_offset(
        _dev: &GaudiDevice<Registered>,
        _reg_data: &GaudiRegData<'_>,
        args: &mut uapi::drm_gaudi_gem_mmap_offset,
        file: &File,
    ) -> Result<u32> {
        if args.flags != 0 {
            return Err(EINVAL);
        }
        args.offset = Bo::lookup_handle(file, args.handle)?.mmap_offset();
        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_VM_BIND`.
    pub(crate) fn vm_bind(
        dev: &GaudiDevice<Registered>,
        reg_data: &GaudiRegData<'_>,
        args: &mut uapi::drm_gaudi_vm_bind,
        file: &File,
    ) -> Result<u32> {
        if args.pad != 0 {
            return Err(EINVAL);
        }
        let this = file.inner();
        match args.op {
            uapi::DRM_GAUDI_VM_BIND_OP_MAP => {
                reg_data.engine.ras.check()?;
                if args.flags & !uapi::DRM_GAUDI_VM_BIND_READONLY != 0 {
                    return Err(EINVAL);
                }
                let access = if args.flags & uapi::DRM_GAUDI_VM_BIND_READONLY != 0 {
                    Access::ReadOnly
                } else {
                    Access::ReadWrite
                };
                let bo = Bo::lookup_handle(file, args.handle)?;
                this.vm(dev, reg_data)?
                    .map(&bo, args.bo_offset, args.va, args.size, access)?;
            }
            uapi::DRM_GAUDI_VM_BIND_OP_UNMAP => {
                if args.flags != 0 || args.handle != 0 || args.bo_offset != 0 {
                    return Err(EINVAL);
                }
                Vm::check_unmap(args.va, args.size)?;
                // A client without a VM has nothing mapped.
                let vm = this.vm.lock().clone();
                if let Some(vm) = vm {
                    // Waits until no job runs in the VM: memory a job uses stays mapped
                    // until it ends.
                    vm.unmap(args.va, args.size)?;
                }
            }
            _ => return Err(EINVAL),
        }
        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_CTX_CREATE`.
    pub(crate) fn ctx_create(
        dev: &GaudiDevice<Registered>,
        reg_data: &GaudiRegData<'_>,
        args: &mut uapi::drm_gaudi_ctx_create,
        file: &File,
    ) -> Result<u32> {
        if args.flags != 0 || args.pad != 0 {
            return Err(EINVAL);
        }
        let priority = Ctx::priority(args.priority)?;
        let this = file.inner();
        let vm = this.vm(dev, reg_data)?;
        let mut ctxs = this.ctxs.lock();
        if ctxs.list.len() >= MAX_CONTEXTS {
            return Err(ENOSPC);
        }
        let id = ctxs.next_id;
        let next_id = id.checked_add(1).ok_or(ENOSPC)?;
        let ctx = Ctx::new(reg_data, id, priority, vm)?;
        ctxs.list.push(ctx, GFP_KERNEL)?;
        ctxs.next_id = next_id;
        args.ctx_id = id;
        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_CTX_DESTROY`.
    pub(crate) fn ctx_destroy(
        _dev: &GaudiDevice<Registered>,
        _reg_data: &GaudiRegData<'_>,
        args: &mut uapi::drm_gaudi_ctx_destroy,
        file: &File,
    ) -> Result<u32> {
        if args.pad != 0 {
            return Err(EINVAL);
        }
        let this = file.inner();
        let ctx = {
            let mut ctxs = this.ctxs.lock();
            let pos = ctxs
                .list
                .iter()
                .position(|c| c.id == args.ctx_id)
                .ok_or(ENOENT)?;
            ctxs.list.remove(pos).map_err(|_| EINVAL)?
        };
        // Dropping the context (here or when its last job ends) cancels its queued jobs.
        drop(ctx);
        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_CTX_QUERY`.
    pub(crate) fn ctx_query(
        _dev: &GaudiDevice<Registered>,
        reg_data: &GaudiRegData<'_>,
        args: &mut uapi::drm_gaudi_ctx_query,
        file: &File,
    ) -> Result<u32> {
        if args.flags != 0 || args.queue != 0 {
            return Err(EINVAL);
        }
        file.inner()
            .ctx(args.ctx_id)?
            .query(args, reg_data.engine.ras.is_wedged());
        Ok(0)
    }

    /// `DRM_IOCTL_GAUDI_SUBMIT`.
    pub(crate) fn submit(
        dev: &GaudiDevice<Registered>,
        reg_data: &GaudiRegData<'_>,
        args: &mut uapi::drm_gaudi_submit,
        file: &File,
    ) -> Result<u32> {
        crate::submit::submit(dev, reg_data, args, file)
    }
}
