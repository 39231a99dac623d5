// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Execution support for accel drivers: DMA fences and the job queue.
//!
//! [`fence`] is a safe `dma_fence`: a timeline of sequence numbers, a producer that alone can
//! signal, and a reference-counted consumer fence that other drivers and userspace (through
//! `dma_resv`, sync files and syncobjs) can wait on. [`resv`] attaches fences to buffers for
//! implicit synchronisation. [`queue`] schedules jobs of many clients onto an engine.
//! [`syncobj`] takes a job's in-fences from DRM sync objects and installs its out-fence.

pub mod fence;
pub mod queue;
pub mod resv;
pub mod syncobj;

/// Converts a timeout to jiffies for the C wait functions, clamped to `0..=LONG_MAX`
/// (`MAX_SCHEDULE_TIMEOUT`).
fn timeout_jiffies(timeout: crate::time::Delta) -> crate::ffi::c_long {
    let ms = u32::try_from(timeout.as_millis().max(0)).unwrap_or(u32::MAX);
    crate::ffi::c_long::try_from(crate::time::msecs_to_jiffies(ms))
        .unwrap_or(crate::ffi::c_long::MAX)
}
