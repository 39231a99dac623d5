// SPDX-License-Identifier: GPL-2.0 OR MIT

//! DRM compute accelerator (accel) support.
//!
//! C header: [`include/drm/drm_accel.h`](srctree/include/drm/drm_accel.h)
//!
//! A [`drm::Driver`](crate::drm::Driver) that sets
//! [`FEAT_COMPUTE_ACCEL`](crate::drm::Driver::FEAT_COMPUTE_ACCEL) is registered as a compute
//! accelerator: the DRM core gives it a `/dev/accel/accelN` node (major 261) instead of the
//! `/dev/dri` primary and render nodes. Such a driver gets the accel file operations built by
//! [`create_fops`], has no dumb-buffer ioctls, and must not set
//! [`FEAT_RENDER`](crate::drm::Driver::FEAT_RENDER); both rules are enforced at compile time by
//! [`drm::UnregisteredDevice`](crate::drm::UnregisteredDevice).
//!
//! # Clients without a master
//!
//! Accel files have no `drm_master`: `drm_file::master` stays NULL for their whole life. The
//! legacy core ioctls that need one fail cleanly on them: `GET_UNIQUE` and `GET_MAGIC` with
//! `EOPNOTSUPP` (an accel node has no bus id and no authentication; before the DRM core fix
//! in `kernel/patches/0002-*.patch` both dereferenced the NULL master), `SET_MASTER` with
//! `EINVAL` or `EACCES`, `DROP_MASTER` with `EINVAL`, `AUTH_MAGIC` with `EACCES`.
//!
//! # Driver ioctls
//!
//! Since there is no master, driver ioctls must be declared with flags `0` or
//! [`RENDER_ALLOW`](crate::drm::ioctl::RENDER_ALLOW): [`AUTH`](crate::drm::ioctl::AUTH) would
//! restrict the ioctl to `CAP_SYS_ADMIN` holders and [`MASTER`](crate::drm::ioctl::MASTER)
//! would make it always fail with `EACCES`.
//!
//! # debugfs
//!
//! The DRM core never calls `drm_driver::debugfs_init` for accel devices; a driver adds its
//! files under the device's debugfs root itself.
//!
//! # Buffer objects
//!
//! [`gem`] provides the buffer object type of accel drivers: system memory, device memory
//! behind a BAR, and PRIME imports, all of one Rust type.
//!
//! # Execution
//!
//! [`sched`] provides DMA fences, a job queue and syncobj helpers; [`vm`] builds device page
//! tables.

pub mod gem;
pub mod sched;
#[cfg(CONFIG_RUST_DRM_ACCEL_VM)]
pub mod vm;

use crate::bindings;

/// Builds the file operations of an accel driver owned by the module `owner`.
///
/// These are the operations of `DRM_ACCEL_FOPS` in `drm_accel.h`: `accel_open()` looks up the
/// accel minor, mmap goes through the GEM fake offset, and offsets are unsigned.
pub(crate) const fn create_fops(owner: *mut bindings::module) -> bindings::file_operations {
    let mut fops: bindings::file_operations = pin_init::zeroed();

    fops.owner = owner;
    fops.open = Some(bindings::accel_open);
    fops.release = Some(bindings::drm_release);
    fops.unlocked_ioctl = Some(bindings::drm_ioctl);
    #[cfg(CONFIG_COMPAT)]
    {
        fops.compat_ioctl = Some(bindings::drm_compat_ioctl);
    }
    fops.poll = Some(bindings::drm_poll);
    fops.read = Some(bindings::drm_read);
    fops.llseek = Some(bindings::noop_llseek);
    fops.mmap = Some(bindings::drm_gem_mmap);
    fops.fop_flags = bindings::FOP_UNSIGNED_OFFSET;

    fops
}

#[macros::kunit_tests(rust_drm_accel)]
mod tests {
    use super::*;
    use crate::ffi;

    type OpenFn = unsafe extern "C" fn(*mut bindings::inode, *mut bindings::file) -> ffi::c_int;
    type IoctlFn =
        unsafe extern "C" fn(*mut bindings::file, ffi::c_uint, ffi::c_ulong) -> ffi::c_long;

    #[test]
    fn fops_are_accel_fops() {
        let fops = create_fops(core::ptr::null_mut());
        let open: OpenFn = bindings::accel_open;
        let ioctl: IoctlFn = bindings::drm_ioctl;
        assert!(matches!(fops.open, Some(f) if core::ptr::fn_addr_eq(f, open)));
        assert!(matches!(fops.unlocked_ioctl, Some(f) if core::ptr::fn_addr_eq(f, ioctl)));
        assert!(fops.mmap.is_some());
        assert_eq!(
            fops.fop_flags & bindings::FOP_UNSIGNED_OFFSET,
            bindings::FOP_UNSIGNED_OFFSET
        );
    }
}
