// SPDX-License-Identifier: GPL-2.0 OR MIT

//! DRM sync objects (`DRM_IOCTL_SYNCOBJ_*`) on any DRM file, accel nodes included.
//!
//! A syncobj is a per-file handle to a container of one DMA fence (binary syncobj) or of a
//! timeline of fence points (timeline syncobj). The requests are the DRM core's; a driver only
//! enables them (`DRIVER_SYNCOBJ`, `DRIVER_SYNCOBJ_TIMELINE`, reported by [`DRM_CAP_SYNCOBJ`]
//! and [`DRM_CAP_SYNCOBJ_TIMELINE`]). The functions are thin wrappers in the manner of libdrm's
//! `drmSyncobj*()` over `drm-ffi`'s, which take the handles as the kernel numbers them (drm-rs's
//! `drm::control::Device` has the same requests for non-zero handles; [`crate::Device`]
//! implements it). The flags and timeline points that drm-ffi's functions have no argument
//! for (create flags, deadlines, timeline sync_file export and import, transfer flags, and the
//! sync_file import into a given syncobj) are passed in the `drm-sys` structure, issued with
//! [`crate::ioctl`]. drm-sys's structures are re-exported, with the request numbers, for tests
//! that issue the requests themselves.
//!
//! A syncobj travels between files, processes and devices as a syncobj file descriptor
//! ([`handle_to_fd`], [`fd_to_handle`]); its current fence travels as a sync_file
//! ([`export_sync_file`], [`import_sync_file`]), which any driver can produce or consume.
//!
//! Wait timeouts are absolute `CLOCK_MONOTONIC` times in nanoseconds, 0 for a poll; see
//! [`timeout_after`].
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use gaudi::syncobj;
//! use std::os::fd::AsFd;
//!
//! let dev = gaudi::Device::open("/dev/accel/accel0")?;
//! let h = syncobj::create(dev.as_fd(), 0)?;
//! syncobj::signal(dev.as_fd(), &[h])?;
//! let deadline = syncobj::timeout_after(std::time::Duration::from_secs(1));
//! assert_eq!(syncobj::wait(dev.as_fd(), &[h], deadline, 0)?, 0);
//! let sync_file = syncobj::export_sync_file(dev.as_fd(), h, None)?;
//! syncobj::destroy(dev.as_fd(), h)?;
//! // `sync_file` still holds the (signalled) fence.
//! # drop(sync_file);
//! # Ok(())
//! # }
//! ```

use std::{
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd},
    time::Duration,
};

use crate::{drm::drm_iowr, drm::owned, ioctl, restart, uapi};

pub use drm_ffi::{
    drm_syncobj_array, drm_syncobj_create, drm_syncobj_destroy, drm_syncobj_handle,
    drm_syncobj_timeline_array, drm_syncobj_timeline_wait, drm_syncobj_transfer, drm_syncobj_wait,
    DRM_SYNCOBJ_CREATE_SIGNALED, DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
    DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
    DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE, DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED,
    DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
    DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
};

/// `DRM_IOCTL_SYNCOBJ_CREATE`.
pub const DRM_IOCTL_SYNCOBJ_CREATE: u32 = drm_iowr::<drm_syncobj_create>(0xbf);
/// `DRM_IOCTL_SYNCOBJ_DESTROY`.
pub const DRM_IOCTL_SYNCOBJ_DESTROY: u32 = drm_iowr::<drm_syncobj_destroy>(0xc0);
/// `DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD`.
pub const DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD: u32 = drm_iowr::<drm_syncobj_handle>(0xc1);
/// `DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE`.
pub const DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE: u32 = drm_iowr::<drm_syncobj_handle>(0xc2);
/// `DRM_IOCTL_SYNCOBJ_WAIT`.
pub const DRM_IOCTL_SYNCOBJ_WAIT: u32 = drm_iowr::<drm_syncobj_wait>(0xc3);
/// `DRM_IOCTL_SYNCOBJ_RESET`.
pub const DRM_IOCTL_SYNCOBJ_RESET: u32 = drm_iowr::<drm_syncobj_array>(0xc4);
/// `DRM_IOCTL_SYNCOBJ_SIGNAL`.
pub const DRM_IOCTL_SYNCOBJ_SIGNAL: u32 = drm_iowr::<drm_syncobj_array>(0xc5);
/// `DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT`.
pub const DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT: u32 = drm_iowr::<drm_syncobj_timeline_wait>(0xca);
/// `DRM_IOCTL_SYNCOBJ_QUERY`.
pub const DRM_IOCTL_SYNCOBJ_QUERY: u32 = drm_iowr::<drm_syncobj_timeline_array>(0xcb);
/// `DRM_IOCTL_SYNCOBJ_TRANSFER`.
pub const DRM_IOCTL_SYNCOBJ_TRANSFER: u32 = drm_iowr::<drm_syncobj_transfer>(0xcc);
/// `DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL`.
pub const DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL: u32 = drm_iowr::<drm_syncobj_timeline_array>(0xcd);

/// `DRM_CAP_SYNCOBJ`: 1 if the driver has syncobjs.
pub const DRM_CAP_SYNCOBJ: u64 = drm_ffi::DRM_CAP_SYNCOBJ as u64;
/// `DRM_CAP_SYNCOBJ_TIMELINE`: 1 if the driver has timeline syncobjs.
pub const DRM_CAP_SYNCOBJ_TIMELINE: u64 = drm_ffi::DRM_CAP_SYNCOBJ_TIMELINE as u64;

/// The current `CLOCK_MONOTONIC` time in nanoseconds, the clock of the wait timeouts.
pub fn monotonic_ns() -> i64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec)
}

/// The absolute wait timeout `d` from now.
pub fn timeout_after(d: Duration) -> i64 {
    let d = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    monotonic_ns().saturating_add(d)
}

/// `count_handles` for a slice, `EINVAL` if it does not fit.
fn count(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `EINVAL` unless the handle and point slices have the same length.
fn same_len(handles: &[u32], points: &[u64]) -> io::Result<u32> {
    if handles.len() != points.len() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    count(handles.len())
}

/// `DRM_IOCTL_SYNCOBJ_CREATE`: a new syncobj, without fence or, with
/// [`DRM_SYNCOBJ_CREATE_SIGNALED`], with a signalled one.
pub fn create(fd: BorrowedFd<'_>, flags: u32) -> io::Result<u32> {
    if flags & !DRM_SYNCOBJ_CREATE_SIGNALED != 0 {
        // Flags drm-ffi cannot pass: the kernel judges them.
        let mut c = drm_syncobj_create { handle: 0, flags };
        ioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &mut c)?;
        return Ok(c.handle);
    }
    restart(|| drm_ffi::syncobj::create(fd, flags != 0)).map(|c| c.handle)
}

/// `DRM_IOCTL_SYNCOBJ_DESTROY`: closes `handle`; `EINVAL` for a handle the file does not hold.
pub fn destroy(fd: BorrowedFd<'_>, handle: u32) -> io::Result<()> {
    restart(|| drm_ffi::syncobj::destroy(fd, handle)).map(drop)
}

/// `DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD`: the syncobj itself as a (close-on-exec) file descriptor,
/// which [`fd_to_handle`] imports on any DRM file with syncobjs.
pub fn handle_to_fd(fd: BorrowedFd<'_>, handle: u32) -> io::Result<OwnedFd> {
    owned(restart(|| drm_ffi::syncobj::handle_to_fd(fd, handle, false))?.fd)
}

/// `DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE`: imports a syncobj fd; every import is a new handle.
pub fn fd_to_handle(fd: BorrowedFd<'_>, syncobj_fd: BorrowedFd<'_>) -> io::Result<u32> {
    restart(|| drm_ffi::syncobj::fd_to_handle(fd, syncobj_fd, false)).map(|h| h.handle)
}

/// `DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD` with `EXPORT_SYNC_FILE`: a sync_file of the syncobj's
/// current fence, or with `point` of the fence of that timeline point. `EINVAL` if there is
/// no such fence (yet).
pub fn export_sync_file(
    fd: BorrowedFd<'_>,
    handle: u32,
    point: Option<u64>,
) -> io::Result<OwnedFd> {
    let Some(point) = point else {
        return owned(restart(|| drm_ffi::syncobj::handle_to_fd(fd, handle, true))?.fd);
    };
    // drm-ffi exports no timeline point.
    let mut h = drm_syncobj_handle {
        handle,
        flags: DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE
            | DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE,
        fd: -1,
        point,
        ..Default::default()
    };
    ioctl(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &mut h)?;
    owned(h.fd)
}

/// `DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE` with `IMPORT_SYNC_FILE`: replaces the fence of `handle`
/// with the sync_file's, or with `point` adds it as that timeline point.
///
/// Issued here: drm-ffi's import of a sync_file names no target syncobj (handle 0).
pub fn import_sync_file(
    fd: BorrowedFd<'_>,
    handle: u32,
    sync_file: BorrowedFd<'_>,
    point: Option<u64>,
) -> io::Result<()> {
    let mut h = drm_syncobj_handle {
        handle,
        flags: DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
        fd: sync_file.as_raw_fd(),
        ..Default::default()
    };
    if let Some(point) = point {
        h.flags |= DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE;
        h.point = point;
    }
    ioctl(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &mut h)
}

/// `DRM_IOCTL_SYNCOBJ_WAIT` until the absolute `timeout_nsec` (0 polls) with
/// `DRM_SYNCOBJ_WAIT_FLAGS_*`; returns the index of the first signalled syncobj (meaningless
/// with `WAIT_ALL`). `ETIME` on timeout; `EINVAL` for a syncobj without fence unless
/// `WAIT_FOR_SUBMIT`.
pub fn wait(fd: BorrowedFd<'_>, handles: &[u32], timeout_nsec: i64, flags: u32) -> io::Result<u32> {
    let count_handles = count(handles.len())?;
    let all = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
    let submit = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
    if flags & !(all | submit) == 0 {
        let (all, submit) = (flags & all != 0, flags & submit != 0);
        let w = restart(|| drm_ffi::syncobj::wait(fd, handles, timeout_nsec, all, submit))?;
        return Ok(w.first_signaled);
    }
    // Flags drm-ffi has no argument for (deadline, unknown ones).
    let mut w = drm_syncobj_wait {
        handles: handles.as_ptr() as u64,
        timeout_nsec,
        count_handles,
        flags,
        ..Default::default()
    };
    ioctl(fd, DRM_IOCTL_SYNCOBJ_WAIT, &mut w)?;
    Ok(w.first_signaled)
}

/// `DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT` for `points[i]` of `handles[i]`; as [`wait`].
pub fn timeline_wait(
    fd: BorrowedFd<'_>,
    handles: &[u32],
    points: &[u64],
    timeout_nsec: i64,
    flags: u32,
) -> io::Result<u32> {
    let count_handles = same_len(handles, points)?;
    let all = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
    let submit = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
    let available = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;
    if flags & !(all | submit | available) == 0 {
        let (all, submit, available) = (
            flags & all != 0,
            flags & submit != 0,
            flags & available != 0,
        );
        let w = restart(|| {
            drm_ffi::syncobj::timeline_wait(
                fd,
                handles,
                points,
                timeout_nsec,
                all,
                submit,
                available,
            )
        })?;
        return Ok(w.first_signaled);
    }
    let mut w = drm_syncobj_timeline_wait {
        handles: handles.as_ptr() as u64,
        points: points.as_ptr() as u64,
        timeout_nsec,
        count_handles,
        flags,
        ..Default::default()
    };
    ioctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &mut w)?;
    Ok(w.first_signaled)
}

/// `DRM_IOCTL_SYNCOBJ_RESET`: removes the fence of every syncobj in `handles`.
pub fn reset(fd: BorrowedFd<'_>, handles: &[u32]) -> io::Result<()> {
    count(handles.len())?;
    restart(|| drm_ffi::syncobj::reset(fd, handles)).map(drop)
}

/// `DRM_IOCTL_SYNCOBJ_SIGNAL`: gives every syncobj in `handles` a new signalled fence.
pub fn signal(fd: BorrowedFd<'_>, handles: &[u32]) -> io::Result<()> {
    count(handles.len())?;
    restart(|| drm_ffi::syncobj::signal(fd, handles)).map(drop)
}

/// `DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL`: adds the signalled point `points[i]` to `handles[i]`.
pub fn timeline_signal(fd: BorrowedFd<'_>, handles: &[u32], points: &[u64]) -> io::Result<()> {
    same_len(handles, points)?;
    restart(|| drm_ffi::syncobj::timeline_signal(fd, handles, points)).map(drop)
}

/// `DRM_IOCTL_SYNCOBJ_QUERY`: the last signalled point of each syncobj, or with
/// [`DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED`] the last submitted one (0 for a binary syncobj).
pub fn query(fd: BorrowedFd<'_>, handles: &[u32], flags: u32) -> io::Result<Vec<u64>> {
    let count_handles = count(handles.len())?;
    let mut points = vec![0u64; handles.len()];
    let last = DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED;
    if flags & !last == 0 {
        restart(|| drm_ffi::syncobj::query(fd, handles, &mut points, flags != 0))?;
        return Ok(points);
    }
    let mut a = drm_syncobj_timeline_array {
        handles: handles.as_ptr() as u64,
        points: points.as_mut_ptr() as u64,
        count_handles,
        flags,
    };
    ioctl(fd, DRM_IOCTL_SYNCOBJ_QUERY, &mut a)?;
    Ok(points)
}

/// `DRM_IOCTL_SYNCOBJ_TRANSFER`: makes the fence of `src` at `src_point` (0: its fence) the
/// fence of `dst` at `dst_point` (0: replaces its fence); `flags` may hold
/// [`DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT`].
pub fn transfer(
    fd: BorrowedFd<'_>,
    dst: u32,
    dst_point: u64,
    src: u32,
    src_point: u64,
    flags: u32,
) -> io::Result<()> {
    if flags == 0 {
        return restart(|| drm_ffi::syncobj::transfer(fd, src, dst, src_point, dst_point))
            .map(drop);
    }
    // drm-ffi transfers without flags.
    let mut t = drm_syncobj_transfer {
        src_handle: src,
        dst_handle: dst,
        src_point,
        dst_point,
        flags,
        pad: 0,
    };
    ioctl(fd, DRM_IOCTL_SYNCOBJ_TRANSFER, &mut t)
}

/// `struct sync_file_info` (`linux/sync_file.h`), without the per-fence array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sync_file_info {
    /// Name of the sync_file.
    pub name: [u8; 32],
    /// Out: 1 signalled, 0 active, a negative errno for a fence that signalled an error.
    pub status: i32,
    /// Must be zero.
    pub flags: u32,
    /// In: room at `sync_fence_info` (0 here); out: number of fences.
    pub num_fences: u32,
    /// Padding, zero.
    pub pad: u32,
    /// User pointer to `struct sync_fence_info` entries, 0 here.
    pub sync_fence_info: u64,
}

/// `SYNC_IOC_FILE_INFO`: `_IOWR('>', 4, struct sync_file_info)`.
pub const SYNC_IOC_FILE_INFO: u32 = uapi::ioc(
    uapi::IOC_READ_WRITE,
    b'>' as u32,
    4,
    std::mem::size_of::<sync_file_info>(),
);

/// The status of the fence of the sync_file `fd`: 1 signalled without error, 0 not signalled
/// yet, a negative errno if it signalled with that error (`SYNC_IOC_FILE_INFO`).
pub fn sync_file_status(fd: BorrowedFd<'_>) -> io::Result<i32> {
    let mut info = sync_file_info::default();
    ioctl(fd, SYNC_IOC_FILE_INFO, &mut info)?;
    Ok(info.status)
}

/// `struct sync_fence_info` (`linux/sync_file.h`): one fence of a sync_file.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sync_fence_info {
    /// Name of the fence's timeline.
    pub obj_name: [u8; 32],
    /// Name of the driver that signals it.
    pub driver_name: [u8; 32],
    /// 1 signalled, 0 active, a negative errno for an error.
    pub status: i32,
    /// Zero.
    pub flags: u32,
    /// `CLOCK_MONOTONIC` time of the signal in nanoseconds, once signalled.
    pub timestamp_ns: u64,
}

/// When the single fence of the sync_file `fd` signalled (`CLOCK_MONOTONIC` nanoseconds, the
/// clock of [`monotonic_ns`]), or `None` while it has not; `EINVAL` for a sync_file of several
/// fences.
pub fn sync_file_timestamp(fd: BorrowedFd<'_>) -> io::Result<Option<u64>> {
    let mut fence = sync_fence_info::default();
    let mut info = sync_file_info {
        num_fences: 1,
        sync_fence_info: &mut fence as *mut sync_fence_info as u64,
        ..Default::default()
    };
    ioctl(fd, SYNC_IOC_FILE_INFO, &mut info)?;
    if info.num_fences != 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok((fence.status == 1).then_some(fence.timestamp_ns))
}

/// The status of the fence of syncobj `handle` (or of its timeline `point`), as
/// [`sync_file_status`]: how a client learns that a job failed, since waits succeed on fences
/// that signalled with an error. A timeline point does not carry its fence's error (it is a
/// `dma_fence_chain` node): ask a binary syncobj. `EINVAL` if there is no fence.
pub fn fence_status(fd: BorrowedFd<'_>, handle: u32, point: Option<u64>) -> io::Result<i32> {
    let sync_file = export_sync_file(fd, handle, point)?;
    sync_file_status(sync_file.as_fd())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layouts_match_drm_h() {
        assert_eq!(size_of::<drm_syncobj_create>(), 8);
        assert_eq!(size_of::<drm_syncobj_destroy>(), 8);
        assert_eq!(size_of::<drm_syncobj_handle>(), 24);
        assert_eq!(offset_of!(drm_syncobj_handle, fd), 8);
        assert_eq!(offset_of!(drm_syncobj_handle, pad), 12);
        assert_eq!(offset_of!(drm_syncobj_handle, point), 16);
        assert_eq!(size_of::<drm_syncobj_transfer>(), 32);
        assert_eq!(offset_of!(drm_syncobj_transfer, src_point), 8);
        assert_eq!(offset_of!(drm_syncobj_transfer, dst_point), 16);
        assert_eq!(offset_of!(drm_syncobj_transfer, flags), 24);
        assert_eq!(size_of::<drm_syncobj_wait>(), 40);
        assert_eq!(offset_of!(drm_syncobj_wait, timeout_nsec), 8);
        assert_eq!(offset_of!(drm_syncobj_wait, count_handles), 16);
        assert_eq!(offset_of!(drm_syncobj_wait, flags), 20);
        assert_eq!(offset_of!(drm_syncobj_wait, first_signaled), 24);
        assert_eq!(offset_of!(drm_syncobj_wait, deadline_nsec), 32);
        assert_eq!(size_of::<drm_syncobj_timeline_wait>(), 48);
        assert_eq!(offset_of!(drm_syncobj_timeline_wait, points), 8);
        assert_eq!(offset_of!(drm_syncobj_timeline_wait, timeout_nsec), 16);
        assert_eq!(offset_of!(drm_syncobj_timeline_wait, count_handles), 24);
        assert_eq!(offset_of!(drm_syncobj_timeline_wait, first_signaled), 32);
        assert_eq!(offset_of!(drm_syncobj_timeline_wait, deadline_nsec), 40);
        assert_eq!(size_of::<drm_syncobj_array>(), 16);
        assert_eq!(offset_of!(drm_syncobj_array, count_handles), 8);
        assert_eq!(size_of::<drm_syncobj_timeline_array>(), 24);
        assert_eq!(offset_of!(drm_syncobj_timeline_array, count_handles), 16);
        assert_eq!(offset_of!(drm_syncobj_timeline_array, flags), 20);
    }

    #[test]
    fn request_numbers_match_drm_h() {
        // DRM_IOWR(nr, struct): 0xc0000000 | size << 16 | 'd' << 8 | nr.
        assert_eq!(DRM_IOCTL_SYNCOBJ_CREATE, 0xc008_64bf);
        assert_eq!(DRM_IOCTL_SYNCOBJ_DESTROY, 0xc008_64c0);
        assert_eq!(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, 0xc018_64c1);
        assert_eq!(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, 0xc018_64c2);
        assert_eq!(DRM_IOCTL_SYNCOBJ_WAIT, 0xc028_64c3);
        assert_eq!(DRM_IOCTL_SYNCOBJ_RESET, 0xc010_64c4);
        assert_eq!(DRM_IOCTL_SYNCOBJ_SIGNAL, 0xc010_64c5);
        assert_eq!(DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, 0xc030_64ca);
        assert_eq!(DRM_IOCTL_SYNCOBJ_QUERY, 0xc018_64cb);
        assert_eq!(DRM_IOCTL_SYNCOBJ_TRANSFER, 0xc020_64cc);
        assert_eq!(DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, 0xc018_64cd);
        assert_eq!(size_of::<sync_file_info>(), 56);
        assert_eq!(offset_of!(sync_file_info, status), 32);
        assert_eq!(offset_of!(sync_file_info, sync_fence_info), 48);
        assert_eq!(SYNC_IOC_FILE_INFO, 0xc038_3e04);
        assert_eq!(size_of::<sync_fence_info>(), 80);
        assert_eq!(offset_of!(sync_fence_info, timestamp_ns), 72);
    }

    #[test]
    fn mismatched_points_are_refused() {
        // Only the argument checks; no DRM device on the host.
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsFd::as_fd(&f);
        let e = timeline_wait(fd, &[1, 2], &[1], 0, 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let e = timeline_signal(fd, &[1], &[]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn timeouts_are_monotonic_and_absolute() {
        let now = monotonic_ns();
        assert!(now > 0);
        let t = timeout_after(Duration::from_secs(1));
        assert!(t >= now + 1_000_000_000);
        assert!(t < monotonic_ns() + 2_000_000_000);
        assert_eq!(timeout_after(Duration::MAX), i64::MAX);
    }
}
