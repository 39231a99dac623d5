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
//! Accel files have no `drm_master`: `drm_file::master` stays NULL for their whole life. A few
//! legacy core ioctls carry no permission flag and dereference the master unconditionally
//! (`DRM_IOCTL_GET_UNIQUE` in `drm_getunique()` and `DRM_IOCTL_GET_MAGIC` in `drm_getmagic()`),
//! so any unprivileged client of an accel node could oops the kernel with them. The accel file
//! operations filter these requests before they reach `drm_ioctl()` and fail them with
//! `EOPNOTSUPP`: an accel node has no bus id and no authentication. The other master ioctls are
//! safe on accel files (`SET_MASTER` fails with `EINVAL` or `EACCES`, `DROP_MASTER` with
//! `EINVAL`, `AUTH_MAGIC` with `EACCES`) and are passed through.
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
//! # Usage statistics
//!
//! [`fdinfo`] prints a client's engine and memory usage in its fdinfo, for drivers that
//! implement [`Driver::show_fdinfo`](crate::drm::Driver::show_fdinfo).
//!
//! # Execution
//!
//! [`sched`] provides DMA fences, a job queue and syncobj helpers; [`vm`] builds device page
//! tables.

pub mod fdinfo;
pub mod gem;
pub mod sched;
#[cfg(CONFIG_RUST_DRM_ACCEL_VM)]
pub mod vm;

use crate::{bindings, ffi, ioctl, prelude::*, uapi};

/// `_IOC_NR` of `DRM_IOCTL_GET_UNIQUE` (`include/uapi/drm/drm.h`).
const DRM_NR_GET_UNIQUE: u32 = 0x01;
/// `_IOC_NR` of `DRM_IOCTL_GET_MAGIC` (`include/uapi/drm/drm.h`).
const DRM_NR_GET_MAGIC: u32 = 0x02;
/// `_IOC_TYPE` of the core DRM ioctls.
const DRM_IOCTL_BASE: u32 = uapi::DRM_IOCTL_BASE as u32;

/// Returns whether `cmd` is a core DRM ioctl that needs the file's master.
///
/// Only the number and type of the request are compared, so both the native and the 32-bit
/// compat encodings of the request match.
pub const fn needs_master(cmd: u32) -> bool {
    ioctl::_IOC_TYPE(cmd) == DRM_IOCTL_BASE
        && matches!(ioctl::_IOC_NR(cmd), DRM_NR_GET_UNIQUE | DRM_NR_GET_MAGIC)
}

/// `file_operations::unlocked_ioctl` of accel nodes.
///
/// # Safety
///
/// Called by the VFS only, with a `filp` of an open accel node.
unsafe extern "C" fn accel_ioctl(
    filp: *mut bindings::file,
    cmd: ffi::c_uint,
    arg: ffi::c_ulong,
) -> ffi::c_long {
    if needs_master(cmd) {
        return EOPNOTSUPP.to_errno() as ffi::c_long;
    }

    // SAFETY: The arguments are the ones the VFS passed to us for an open DRM file, which is
    // what `drm_ioctl()` expects.
    unsafe { bindings::drm_ioctl(filp, cmd, arg) }
}

/// `file_operations::compat_ioctl` of accel nodes.
///
/// # Safety
///
/// Called by the VFS only, with a `filp` of an open accel node.
#[cfg(CONFIG_COMPAT)]
unsafe extern "C" fn accel_compat_ioctl(
    filp: *mut bindings::file,
    cmd: ffi::c_uint,
    arg: ffi::c_ulong,
) -> ffi::c_long {
    if needs_master(cmd) {
        return EOPNOTSUPP.to_errno() as ffi::c_long;
    }

    // SAFETY: As for `accel_ioctl()`.
    unsafe { bindings::drm_compat_ioctl(filp, cmd, arg) }
}

/// Builds the file operations of an accel driver owned by the module `owner`.
///
/// These are the operations of `DRM_ACCEL_FOPS` in `drm_accel.h`: `accel_open()` looks up the
/// accel minor, mmap goes through the GEM fake offset, and offsets are unsigned; fdinfo shows
/// the DRM core's keys and the driver's ([`fdinfo`]), as C accel drivers add with
/// `.show_fdinfo = drm_show_fdinfo`. The ioctl entry points filter the requests described in
/// the [module documentation](self).
pub(crate) const fn create_fops(owner: *mut bindings::module) -> bindings::file_operations {
    let mut fops: bindings::file_operations = pin_init::zeroed();

    fops.owner = owner;
    fops.open = Some(bindings::accel_open);
    fops.release = Some(bindings::drm_release);
    fops.unlocked_ioctl = Some(accel_ioctl);
    #[cfg(CONFIG_COMPAT)]
    {
        fops.compat_ioctl = Some(accel_compat_ioctl);
    }
    fops.poll = Some(bindings::drm_poll);
    fops.read = Some(bindings::drm_read);
    fops.llseek = Some(bindings::noop_llseek);
    fops.mmap = Some(bindings::drm_gem_mmap);
    fops.show_fdinfo = Some(bindings::drm_show_fdinfo);
    fops.fop_flags = bindings::FOP_UNSIGNED_OFFSET;

    fops
}

#[kunit_tests(rust_drm_accel)]
mod tests {
    use super::*;

    /// `_IOWR('d', nr, size)` the way `include/uapi/asm-generic/ioctl.h` encodes it.
    const fn drm_iowr(nr: u32, size: u32) -> u32 {
        (3 << 30) | (size << 16) | (DRM_IOCTL_BASE << 8) | nr
    }

    #[test]
    fn master_ioctls_are_filtered() {
        // struct drm_unique is 16 bytes natively and 8 bytes for 32-bit callers.
        assert!(needs_master(drm_iowr(DRM_NR_GET_UNIQUE, 16)));
        assert!(needs_master(drm_iowr(DRM_NR_GET_UNIQUE, 8)));
        // DRM_IOCTL_GET_MAGIC is _IOR('d', 0x02, struct drm_auth).
        assert!(needs_master(
            (2 << 30) | (4 << 16) | (DRM_IOCTL_BASE << 8) | 0x02
        ));
    }

    #[test]
    fn other_ioctls_pass() {
        // DRM_IOCTL_VERSION, DRM_IOCTL_GET_CLIENT, DRM_IOCTL_SET_MASTER.
        assert!(!needs_master(drm_iowr(0x00, 64)));
        assert!(!needs_master(drm_iowr(0x05, 40)));
        assert!(!needs_master(0x641e));
        // A driver ioctl with the same number as GET_UNIQUE but another type.
        assert!(!needs_master(
            (3 << 30) | (16 << 16) | (u32::from(b'x') << 8) | DRM_NR_GET_UNIQUE
        ));
        // The first driver ioctl.
        assert!(!needs_master(drm_iowr(uapi::DRM_COMMAND_BASE, 24)));
    }

    type OpenFn = unsafe extern "C" fn(*mut bindings::inode, *mut bindings::file) -> ffi::c_int;
    type IoctlFn =
        unsafe extern "C" fn(*mut bindings::file, ffi::c_uint, ffi::c_ulong) -> ffi::c_long;

    #[test]
    fn fops_are_accel_fops() {
        let fops = create_fops(core::ptr::null_mut());
        let open: OpenFn = bindings::accel_open;
        let ioctl: IoctlFn = accel_ioctl;
        assert!(matches!(fops.open, Some(f) if core::ptr::fn_addr_eq(f, open)));
        assert!(matches!(fops.unlocked_ioctl, Some(f) if core::ptr::fn_addr_eq(f, ioctl)));
        assert!(fops.mmap.is_some());
        assert!(fops.show_fdinfo.is_some());
        assert_eq!(
            fops.fop_flags & bindings::FOP_UNSIGNED_OFFSET,
            bindings::FOP_UNSIGNED_OFFSET
        );
    }
}
