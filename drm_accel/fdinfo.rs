// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Usage statistics of accel clients in fdinfo.
//!
//! C header: [`include/drm/drm_file.h`](srctree/include/drm/drm_file.h)
//!
//! Reading `/proc/<pid>/fdinfo/<fd>` of an accel file shows the DRM core's keys (`drm-driver`,
//! `drm-client-id`, `drm-pdev`), then what the driver's
//! [`Driver::show_fdinfo`](crate::drm::Driver::show_fdinfo) prints with a [`Printer`]. The
//! format is the one of `Documentation/gpu/drm-usage-stats.rst`, which tools such as `gputop`
//! parse: [`Printer::engine`] prints the `drm-engine-<name>` busy time of an engine, and
//! [`Printer::memory_stats`] the `drm-total-`, `drm-shared-`, `drm-active-` and
//! `drm-resident-memory` keys of the client's buffer objects, as the DRM core counts them
//! (`drm_show_memory_stats()`, with the status that [`gem`](super::gem) objects report).

use crate::{bindings, drm, ffi, fmt, prelude::*};
use core::marker::PhantomData;

/// Where a driver prints its fdinfo keys: a `struct drm_printer` of the core.
///
/// # Invariants
///
/// `ptr` is a valid `struct drm_printer` for `'a`.
pub struct Printer<'a> {
    ptr: *mut bindings::drm_printer,
    _p: PhantomData<&'a mut bindings::drm_printer>,
}

impl Printer<'_> {
    /// Prints `args` as they are.
    pub fn print(&mut self, args: fmt::Arguments<'_>) {
        // SAFETY: `ptr` is valid by the type invariants. `%pA` formats the `fmt::Arguments`
        // that its argument points at (`rust_fmt_argument()`), which outlive the call.
        unsafe {
            bindings::drm_printf(
                self.ptr,
                c"%pA".as_char_ptr(),
                core::ptr::from_ref(&args).cast::<ffi::c_void>(),
            )
        };
    }

    /// Prints `drm-engine-<name>`: the time in nanoseconds that the client's work kept engine
    /// `name` busy since the client opened the file.
    pub fn engine(&mut self, name: &str, busy_ns: u64) {
        self.print(fmt!("drm-engine-{name}:\t{busy_ns} ns\n"));
    }

    /// Prints `drm-engine-capacity-<name>`: how many engines `name` stands for, when more than
    /// one (the busy time is then their sum).
    pub fn engine_capacity(&mut self, name: &str, capacity: u32) {
        self.print(fmt!("drm-engine-capacity-{name}:\t{capacity}\n"));
    }

    /// Prints the memory keys of the buffer objects that `file` holds handles to, as
    /// `drm_show_memory_stats()` counts them: region `memory`, objects shared with other
    /// clients counted as shared, active ones (busy fences) as active, and resident ones as
    /// their GEM object's `status` callback reports them.
    pub fn memory_stats<T: drm::file::DriverFile>(&mut self, file: &drm::File<T>) {
        // SAFETY: `ptr` is valid by the type invariants, `file` is an open DRM file. The core
        // walks the file's handles under its table lock.
        unsafe { bindings::drm_show_memory_stats(self.ptr, file.as_raw()) };
    }
}

/// `drm_driver::show_fdinfo` of drivers that implement
/// [`Driver::show_fdinfo`](crate::drm::Driver::show_fdinfo).
///
/// # Safety
///
/// Called by the DRM core only (`drm_show_fdinfo()`), with a valid printer and an open file of
/// a device of driver `T`.
pub(crate) unsafe extern "C" fn show_fdinfo_callback<T: drm::Driver>(
    printer: *mut bindings::drm_printer,
    raw_file: *mut bindings::drm_file,
) {
    // SAFETY: The core passes an open file of a device of driver `T`; its minor and device live
    // as long as the file.
    let raw_dev = unsafe { (*(*raw_file).minor).dev };
    // SAFETY: `raw_dev` is the device of the file, a device of driver `T`.
    let device = unsafe { drm::Device::<T>::from_raw(raw_dev) };
    // SAFETY: The file is open, and it was opened through `T::File::open`.
    let file = unsafe { drm::File::<T::File>::from_raw(raw_file) };
    // INVARIANT: The core's printer is valid for the duration of the callback.
    let mut printer = Printer {
        ptr: printer,
        _p: PhantomData,
    };
    T::show_fdinfo(device, file, &mut printer);
}
