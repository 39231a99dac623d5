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
//! # Usage statistics
//!
//! [`fdinfo`] prints a client's engine and memory usage in its fdinfo, for drivers that
//! implement [`Driver::show_fdinfo`](crate::drm::Driver::show_fdinfo).
//!
//! # Execution
//!
//! [`sched`] provides DMA fences, a job queue and syncobj helpers; [`vm`] builds device page
//! tables.
//!
//! # Failure
//!
//! A device that cannot recover by itself is declared wedged with [`wedged_event`], which sends
//! the `WEDGED=` uevent of `Documentation/gpu/drm-uapi.rst` naming the recovery userspace must
//! carry out ([`wedge`]) and, where known, the guilty task ([`WedgeTask`]). [`dev_coredump`]
//! publishes the state of a device after a reset through the device coredump class
//! (`/sys/class/devcoredump`).

pub mod fdinfo;
pub mod gem;
pub mod sched;
#[cfg(CONFIG_RUST_DRM_ACCEL_VM)]
pub mod vm;

use crate::{alloc::VVec, bindings, device, drm, error::to_result, ffi, prelude::*, task::Task};

/// Recovery methods of a wedged device, `DRM_WEDGE_RECOVERY_*` in `include/drm/drm_device.h`.
pub mod wedge {
    /// No recovery is needed; the event only asks for telemetry to be collected.
    pub const NONE: u64 = 1 << 0;
    /// Unbind and bind the driver.
    pub const REBIND: u64 = 1 << 1;
    /// Unbind the driver, reset the bus device, bind the driver.
    pub const BUS_RESET: u64 = 1 << 2;
    /// A vendor-specific method.
    pub const VENDOR: u64 = 1 << 3;
}

/// Length of a task's command name, `TASK_COMM_LEN`.
const COMM_LEN: usize = 16;

/// The task a wedge is blamed on, as `struct drm_wedge_task_info` reports it.
#[derive(Clone, Copy)]
pub struct WedgeTask {
    pid: i32,
    comm: [u8; COMM_LEN],
}

impl WedgeTask {
    /// The calling task.
    pub fn current() -> Self {
        let task = Task::current_raw();
        let mut comm = [0u8; COMM_LEN];
        // SAFETY: `current` is a valid task for the duration of this call, and its `pid` does
        // not change.
        let pid = unsafe { (*task).pid };
        for (i, d) in comm.iter_mut().enumerate() {
            // SAFETY: `comm` is a `TASK_COMM_LEN` array of the valid task; a concurrent rename
            // rewrites it in place, so each byte is read once, as `READ_ONCE()` would (the copy
            // may mix two names, as any reader of `comm` may see).
            *d = unsafe { core::ptr::read_volatile((&raw const (*task).comm).cast::<u8>().add(i)) };
        }
        if let Some(last) = comm.last_mut() {
            *last = 0;
        }
        Self { pid, comm }
    }

    /// The task's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The task's command name, without the terminating NUL.
    pub fn comm(&self) -> &[u8] {
        let len = self.comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
        &self.comm[..len]
    }
}

/// Tells userspace that `dev` is wedged and how to recover it: `method` is a mask of
/// [`wedge`] methods, in order of preference; `task` the guilty task, if known.
///
/// Sends a `WEDGED=<method>` uevent (with `PID=` and `TASK=` for a guilty task) on the device's
/// node. The driver must already have stopped the device and signalled every fence; what
/// userspace does next is documented by the driver.
pub fn wedged_event<T: drm::Driver>(
    dev: &drm::Device<T>,
    method: u64,
    task: Option<&WedgeTask>,
) -> Result {
    let mut info = task.map(|t| {
        // SAFETY: `drm_wedge_task_info` is made of integers and a byte array: all zeroes is a
        // valid value.
        let mut info: bindings::drm_wedge_task_info = unsafe { core::mem::zeroed() };
        info.pid = t.pid;
        for (d, s) in info.comm.iter_mut().zip(t.comm.iter()) {
            *d = *s as ffi::c_char;
        }
        info
    });
    let info_ptr = info
        .as_mut()
        .map_or(core::ptr::null_mut(), core::ptr::from_mut);
    // SAFETY: `dev` is a valid DRM device; `info_ptr` is NULL or points to a valid
    // `drm_wedge_task_info` that outlives the call, which only reads it.
    to_result(unsafe {
        bindings::drm_dev_wedged_event(dev.as_raw(), method as ffi::c_ulong, info_ptr)
    })
}

/// Publishes `data` as a device coredump of `dev` (`/sys/class/devcoredump/devcdN/data`).
///
/// The dump stays until userspace reads and frees it (by writing to the `data` file), or for
/// five minutes. While a dump of `dev` is pending, a new one is dropped, as the devcoredump
/// class does. Drivers drop a pending dump with [`dev_coredump_put`] before their device
/// goes.
pub fn dev_coredump(dev: &device::Device, data: VVec<u8>) {
    if data.is_empty() {
        return;
    }
    let (ptr, len, _cap) = data.into_raw_parts();
    // SAFETY: `dev` is a valid device. `ptr` is a `vmalloc()` allocation of at least `len`
    // initialized bytes whose ownership passes to the devcoredump class, which frees it with
    // `vfree()` in every case.
    unsafe { bindings::dev_coredumpv(dev.as_raw(), ptr.cast(), len, bindings::GFP_KERNEL) };
}

/// Drops a pending device coredump of `dev`, if any.
pub fn dev_coredump_put(dev: &device::Device) {
    // SAFETY: `dev` is a valid device.
    unsafe { bindings::dev_coredump_put(dev.as_raw()) };
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
    fops.unlocked_ioctl = Some(bindings::drm_ioctl);
    #[cfg(CONFIG_COMPAT)]
    {
        fops.compat_ioctl = Some(bindings::drm_compat_ioctl);
    }
    fops.poll = Some(bindings::drm_poll);
    fops.read = Some(bindings::drm_read);
    fops.llseek = Some(bindings::noop_llseek);
    fops.mmap = Some(bindings::drm_gem_mmap);
    fops.show_fdinfo = Some(bindings::drm_show_fdinfo);
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
        assert!(fops.show_fdinfo.is_some());
        assert_eq!(
            fops.fop_flags & bindings::FOP_UNSIGNED_OFFSET,
            bindings::FOP_UNSIGNED_OFFSET
        );
    }
}
