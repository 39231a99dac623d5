// SPDX-License-Identifier: GPL-2.0 OR MIT

//! DRM syncobjs on accel nodes, where IGT's own syncobj suites do not reach: the node itself
//! rather than a `/dev/dri/card0` alias, hostile arguments with the exact errnos of
//! `drivers/gpu/drm/drm_syncobj.c` (Linux 7.3), syncobj fds and sync_files shared between the
//! two gaudi devices, a real foreign fence (vgem's, through a dma-buf), `WAIT_FOR_SUBMIT`
//! against a second thread, and many objects and sync_files created and freed (kmemleak, run
//! after the suite, catches what is not freed).

use std::{
    fs::File,
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd},
    os::unix::fs::MetadataExt,
    time::{Duration, Instant},
};

use accel_igt::{
    device_path, errno, ioctl_errno, ok, open_device, open_vgem, other_device_path, page_size,
    unmapped_address,
    vgem::{
        dma_buf_export_sync_file, sync_file_signaled, VgemFenceAttach, VgemFenceSignal,
        DMA_BUF_SYNC_READ, VGEM_FENCE_ATTACH, VGEM_FENCE_SIGNAL, VGEM_FENCE_WRITE,
    },
    Mapping,
};
use gaudi::{
    drm::{self, DRM_CLOEXEC, DRM_RDWR},
    syncobj::{
        self, drm_syncobj_array, drm_syncobj_create, drm_syncobj_destroy, drm_syncobj_handle,
        drm_syncobj_wait, timeout_after, DRM_CAP_SYNCOBJ, DRM_CAP_SYNCOBJ_TIMELINE,
        DRM_IOCTL_SYNCOBJ_CREATE, DRM_IOCTL_SYNCOBJ_DESTROY, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
        DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL,
        DRM_IOCTL_SYNCOBJ_WAIT, DRM_SYNCOBJ_CREATE_SIGNALED, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
        DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
    },
    Device,
};

/// Long enough for anything that should succeed, even under TCG with KASAN.
const LONG: Duration = Duration::from_secs(10);
/// How long a wait that must time out waits.
const SHORT: Duration = Duration::from_millis(100);
/// How long the helper thread of `wait-for-submit` sleeps before it signals.
const DELAY: Duration = Duration::from_millis(300);

/// The second gaudi device; fails without one.
fn other_device() -> igt::Result<Device> {
    let path = other_device_path()?;
    Ok(ok!(Device::open(&path), "open {}", path.display()))
}

/// Waits (up to [`LONG`]) for `handles` of `fd`, every one of them.
fn wait_all(fd: BorrowedFd<'_>, handles: &[u32], what: &str) -> igt::Result {
    ok!(
        syncobj::wait(
            fd,
            handles,
            timeout_after(LONG),
            DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL
        ),
        "{what}"
    );
    Ok(())
}

/// `DRM_IOCTL_SYNCOBJ_WAIT` with `count` handles read from `handles`; the errno or 0.
fn raw_wait(fd: BorrowedFd<'_>, handles: u64, count: u32, flags: u32) -> i32 {
    let mut w = drm_syncobj_wait {
        handles,
        count_handles: count,
        flags,
        ..Default::default()
    };
    ioctl_errno(fd, DRM_IOCTL_SYNCOBJ_WAIT, &mut w)
}

/// `DRM_IOCTL_SYNCOBJ_RESET` or `SIGNAL` with `count` handles read from `handles`.
fn raw_array(fd: BorrowedFd<'_>, request: u32, handles: u64, count: u32, pad: u32) -> i32 {
    let mut a = drm_syncobj_array {
        handles,
        count_handles: count,
        pad,
    };
    ioctl_errno(fd, request, &mut a)
}

/// The number of open file descriptors of this process.
fn open_fds() -> igt::Result<usize> {
    Ok(ok!(std::fs::read_dir("/proc/self/fd")).count())
}

fn create_destroy() -> igt::Result {
    let path = device_path();
    igt::assert!(
        path.to_string_lossy().starts_with("/dev/accel/accel"),
        "{} is not an accel node",
        path.display()
    );
    let rdev = ok!(std::fs::metadata(&path), "stat {}", path.display()).rdev();
    igt::assert_eq!(libc::major(rdev), gaudi::ACCEL_MAJOR);
    let dev = ok!(open_device());
    let fd = dev.as_fd();
    igt::assert_eq!(ok!(dev.get_cap(DRM_CAP_SYNCOBJ)), 1, "DRM_CAP_SYNCOBJ");
    igt::assert_eq!(
        ok!(dev.get_cap(DRM_CAP_SYNCOBJ_TIMELINE)),
        1,
        "DRM_CAP_SYNCOBJ_TIMELINE"
    );

    let h = ok!(syncobj::create(fd, 0));
    igt::assert_ne!(h, 0, "handle 0 is never valid");
    // Without a fence a wait is refused rather than blocking.
    igt::assert_eq!(errno(syncobj::wait(fd, &[h], 0, 0)), libc::EINVAL);
    ok!(syncobj::signal(fd, &[h]));
    igt::assert_eq!(ok!(syncobj::wait(fd, &[h], timeout_after(LONG), 0)), 0);
    // A poll (timeout 0) sees the signalled fence too.
    igt::assert_eq!(ok!(syncobj::wait(fd, &[h], 0, 0)), 0);

    let s = ok!(syncobj::create(fd, DRM_SYNCOBJ_CREATE_SIGNALED));
    igt::assert_ne!(s, h);
    wait_all(fd, &[h, s], "both signalled")?;
    ok!(syncobj::reset(fd, &[h]));
    igt::assert_eq!(
        errno(syncobj::wait(fd, &[h], 0, 0)),
        libc::EINVAL,
        "wait after reset"
    );
    // Without WAIT_ALL the first signalled one is reported (WAIT_FOR_SUBMIT: the one
    // without fence is no error).
    igt::assert_eq!(
        ok!(syncobj::wait(
            fd,
            &[h, s],
            timeout_after(LONG),
            DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT
        )),
        1,
        "first_signaled"
    );

    ok!(syncobj::destroy(fd, h));
    ok!(syncobj::destroy(fd, s));
    // drm_syncobj_destroy(): an unknown handle is EINVAL (not ENOENT).
    igt::assert_eq!(
        errno(syncobj::destroy(fd, h)),
        libc::EINVAL,
        "second destroy"
    );
    igt::assert_eq!(
        errno(syncobj::wait(fd, &[s], 0, 0)),
        libc::ENOENT,
        "wait on a destroyed syncobj"
    );

    // Syncobjs still held when the file closes are freed with it.
    for flags in [0, DRM_SYNCOBJ_CREATE_SIGNALED] {
        ok!(syncobj::create(fd, flags));
    }
    let s = ok!(syncobj::create(fd, DRM_SYNCOBJ_CREATE_SIGNALED));
    let _fd_outlives_file = ok!(syncobj::handle_to_fd(fd, s));
    drop(dev);
    Ok(())
}

fn hostile_arguments() -> igt::Result {
    let dev = ok!(open_device());
    let fd = dev.as_fd();

    // CREATE: only DRM_SYNCOBJ_CREATE_SIGNALED is a flag.
    for bit in 1..32 {
        let mut c = drm_syncobj_create {
            handle: 0,
            flags: 1 << bit,
        };
        let e = ioctl_errno(fd, DRM_IOCTL_SYNCOBJ_CREATE, &mut c);
        igt::assert_eq!(e, libc::EINVAL, "create flag bit {bit}");
    }

    let h = ok!(syncobj::create(fd, 0));
    let sig = ok!(syncobj::create(fd, DRM_SYNCOBJ_CREATE_SIGNALED));
    let closed = ok!(syncobj::create(fd, 0));
    ok!(syncobj::destroy(fd, closed));

    // Non-zero padding.
    let mut d = drm_syncobj_destroy { handle: h, pad: 1 };
    igt::assert_eq!(
        ioctl_errno(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &mut d),
        libc::EINVAL,
        "destroy with pad"
    );
    let mut p = drm_syncobj_handle {
        handle: sig,
        fd: -1,
        pad: 1,
        ..Default::default()
    };
    igt::assert_eq!(
        ioctl_errno(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &mut p),
        libc::EINVAL,
        "HANDLE_TO_FD with pad"
    );
    igt::assert_eq!(p.fd, -1, "fd written back on failure");
    let sig_fd = ok!(syncobj::handle_to_fd(fd, sig));
    let mut p = drm_syncobj_handle {
        fd: sig_fd.as_raw_fd(),
        pad: 1,
        ..Default::default()
    };
    igt::assert_eq!(
        ioctl_errno(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &mut p),
        libc::EINVAL,
        "FD_TO_HANDLE with pad"
    );
    for request in [DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL] {
        let handles = [sig];
        let e = raw_array(fd, request, handles.as_ptr() as u64, 1, 1);
        igt::assert_eq!(e, libc::EINVAL, "RESET/SIGNAL with pad ({request:#x})");
    }
    // None of them touched the syncobjs.
    igt::assert_eq!(errno(syncobj::wait(fd, &[h], 0, 0)), libc::EINVAL);
    wait_all(fd, &[sig], "after the rejected requests")?;

    // Unknown flags of the handle requests (bit 0: sync_file, bit 1: timeline point).
    for bit in 2..32 {
        let mut p = drm_syncobj_handle {
            handle: sig,
            flags: 1 << bit,
            fd: -1,
            ..Default::default()
        };
        let e = ioctl_errno(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &mut p);
        igt::assert_eq!(e, libc::EINVAL, "HANDLE_TO_FD flag bit {bit}");
        let mut p = drm_syncobj_handle {
            flags: 1 << bit,
            fd: sig_fd.as_raw_fd(),
            ..Default::default()
        };
        let e = ioctl_errno(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &mut p);
        igt::assert_eq!(e, libc::EINVAL, "FD_TO_HANDLE flag bit {bit}");
    }
    // WAIT knows WAIT_ALL, WAIT_FOR_SUBMIT and WAIT_DEADLINE; WAIT_AVAILABLE is for timeline
    // waits only.
    let handles = [sig];
    for flags in [DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE, 1 << 4, 1 << 31] {
        let e = raw_wait(fd, handles.as_ptr() as u64, 1, flags);
        igt::assert_eq!(e, libc::EINVAL, "WAIT flags {flags:#x}");
    }

    // Handles this file does not hold.
    let sync_file = ok!(syncobj::export_sync_file(fd, sig, None));
    for bad in [0, closed, u32::MAX] {
        igt::assert_eq!(
            errno(syncobj::wait(fd, &[bad], 0, 0)),
            libc::ENOENT,
            "wait {bad}"
        );
        igt::assert_eq!(
            errno(syncobj::wait(fd, &[sig, bad], 0, 0)),
            libc::ENOENT,
            "wait on {sig} and {bad}"
        );
        igt::assert_eq!(
            errno(syncobj::reset(fd, &[bad])),
            libc::ENOENT,
            "reset {bad}"
        );
        igt::assert_eq!(
            errno(syncobj::signal(fd, &[sig, bad])),
            libc::ENOENT,
            "signal {sig} and {bad}"
        );
        // drm_syncobj_export_sync_file() looks the handle up with drm_syncobj_find_fence()
        // (ENOENT), drm_syncobj_handle_to_fd() with drm_syncobj_find() (EINVAL).
        igt::assert_eq!(
            errno(syncobj::export_sync_file(fd, bad, None)),
            libc::ENOENT,
            "export sync_file of {bad}"
        );
        igt::assert_eq!(
            errno(syncobj::handle_to_fd(fd, bad)),
            libc::EINVAL,
            "export {bad}"
        );
        igt::assert_eq!(
            errno(syncobj::import_sync_file(fd, bad, sync_file.as_fd(), None)),
            libc::ENOENT,
            "import sync_file into {bad}"
        );
        igt::assert_eq!(
            errno(syncobj::destroy(fd, bad)),
            libc::EINVAL,
            "destroy {bad}"
        );
    }

    // Descriptors of the wrong kind.
    let null = ok!(File::open("/dev/null"));
    igt::assert_eq!(
        errno(syncobj::import_sync_file(fd, h, null.as_fd(), None)),
        libc::EINVAL,
        "/dev/null as a sync_file"
    );
    igt::assert_eq!(
        errno(syncobj::import_sync_file(fd, h, sig_fd.as_fd(), None)),
        libc::EINVAL,
        "a syncobj fd as a sync_file"
    );
    for (what, f) in [
        ("/dev/null", null.as_fd()),
        ("a sync_file", sync_file.as_fd()),
        ("the accel node", fd),
    ] {
        igt::assert_eq!(
            errno(syncobj::fd_to_handle(fd, f)),
            libc::EINVAL,
            "{what} as a syncobj fd"
        );
    }
    let mut p = drm_syncobj_handle {
        fd: -1,
        ..Default::default()
    };
    igt::assert_eq!(
        ioctl_errno(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &mut p),
        libc::EINVAL,
        "fd -1"
    );
    // Still untouched: the failed sync_file imports did not replace the fence.
    igt::assert_eq!(errno(syncobj::wait(fd, &[h], 0, 0)), libc::EINVAL);

    // Bad handle arrays.
    let gone = ok!(unmapped_address(page_size()));
    for (what, ptr) in [("NULL", 0u64), ("an unmapped page", gone as u64)] {
        igt::assert_eq!(raw_wait(fd, ptr, 1, 0), libc::EFAULT, "WAIT on {what}");
        for request in [DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL] {
            let e = raw_array(fd, request, ptr, 1, 0);
            igt::assert_eq!(e, libc::EFAULT, "{request:#x} on {what}");
        }
    }
    // No handles: WAIT has nothing to wait for and succeeds (drm_syncobj_wait_ioctl() returns
    // 0 for count_handles 0 in Linux 7.3); RESET and SIGNAL refuse.
    let e = raw_wait(fd, handles.as_ptr() as u64, 0, 0);
    igt::assert_eq!(e, 0, "WAIT with count_handles 0");
    for request in [DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL] {
        let e = raw_array(fd, request, handles.as_ptr() as u64, 0, 0);
        igt::assert_eq!(e, libc::EINVAL, "{request:#x} with count_handles 0");
    }
    // A count far beyond the array: one valid handle at the end of a page followed by an
    // inaccessible page. drm_syncobj_array_find() allocates the count (kmalloc_array) and
    // then faults copying the handles in: EFAULT. The count stays well below 1 << 20: above
    // 4 MiB the allocation exceeds MAX_PAGE_ORDER and the page allocator warns
    // (WARN_ON_ONCE_GFP) before failing with ENOMEM, which fails the run's kernel-log check.
    let page = page_size();
    let guard = ok!(Mapping::anonymous(
        2 * page,
        libc::PROT_READ | libc::PROT_WRITE
    ));
    // SAFETY: The second page belongs to `guard`; it only becomes inaccessible.
    let r = unsafe { libc::mprotect(guard.as_ptr().add(page).cast(), page, libc::PROT_NONE) };
    igt::assert_eq!(r, 0, "mprotect: {}", io::Error::last_os_error());
    ok!(guard.write(page - 4, &sig.to_ne_bytes()));
    let last = guard.as_ptr() as u64 + page as u64 - 4;
    igt::assert_eq!(raw_wait(fd, last, 1, 0), 0, "the handle before the guard");
    for count in [2, 1 << 16] {
        igt::assert_eq!(
            raw_wait(fd, last, count, 0),
            libc::EFAULT,
            "WAIT with count {count}"
        );
        let e = raw_array(fd, DRM_IOCTL_SYNCOBJ_SIGNAL, last, count, 0);
        igt::assert_eq!(e, libc::EFAULT, "SIGNAL with count {count}");
    }

    // Another client's handles mean nothing here: a second open of the node.
    let other = ok!(open_device());
    let theirs = ok!(syncobj::create(other.as_fd(), DRM_SYNCOBJ_CREATE_SIGNALED));
    let mine = ok!(open_device());
    igt::assert_eq!(
        errno(syncobj::wait(mine.as_fd(), &[theirs], 0, 0)),
        libc::ENOENT,
        "wait on another file's handle"
    );
    igt::assert_eq!(
        errno(syncobj::destroy(mine.as_fd(), theirs)),
        libc::EINVAL,
        "destroy another file's handle"
    );
    igt::assert_eq!(
        errno(syncobj::export_sync_file(mine.as_fd(), theirs, None)),
        libc::ENOENT
    );
    // The same number in this file is this file's syncobj (without fence), not theirs.
    let own = ok!(syncobj::create(mine.as_fd(), 0));
    let want = if own == theirs {
        libc::EINVAL
    } else {
        libc::ENOENT
    };
    igt::assert_eq!(errno(syncobj::wait(mine.as_fd(), &[theirs], 0, 0)), want);
    // Theirs is intact.
    wait_all(other.as_fd(), &[theirs], "the other file's syncobj")?;
    ok!(syncobj::destroy(other.as_fd(), theirs));
    ok!(syncobj::destroy(mine.as_fd(), own));

    for x in [h, sig] {
        ok!(syncobj::destroy(fd, x));
    }
    Ok(())
}

fn fd_across_devices() -> igt::Result {
    let dev = ok!(open_device());
    let other = other_device()?;
    let (a, b) = (dev.as_fd(), other.as_fd());
    for (from, to, name) in [
        (a, b, "to the other device"),
        (b, a, "from the other device"),
    ] {
        let h = ok!(syncobj::create(from, 0));
        let sfd = ok!(syncobj::handle_to_fd(from, h));
        let h2 = ok!(syncobj::fd_to_handle(to, sfd.as_fd()), "import {name}");
        // Every import is a handle of its own.
        let h3 = ok!(syncobj::fd_to_handle(to, sfd.as_fd()));
        igt::assert_ne!(h2, h3, "{name}: second import, same handle");
        // One syncobj: no fence on either side.
        igt::assert_eq!(
            errno(syncobj::wait(to, &[h2], 0, 0)),
            libc::EINVAL,
            "{name}"
        );
        ok!(syncobj::signal(from, &[h]));
        wait_all(to, &[h2, h3], name)?;
        ok!(syncobj::reset(to, &[h3]));
        igt::assert_eq!(
            errno(syncobj::wait(from, &[h], 0, 0)),
            libc::EINVAL,
            "{name}: the importer's reset, seen by the exporter"
        );
        // A waiter on one device is woken by a signal on the other.
        std::thread::scope(|s| -> igt::Result {
            let t = s.spawn(|| {
                std::thread::sleep(SHORT);
                syncobj::signal(to, &[h2])
            });
            let r = syncobj::wait(
                from,
                &[h],
                timeout_after(LONG),
                DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
            );
            let signalled = t.join().map_err(|_| igt::fail!("signalling thread"))?;
            ok!(signalled, "{name}: signal on the importer");
            ok!(r, "{name}: wait on the exporter");
            Ok(())
        })?;
        // The syncobj lives while any handle or fd refers to it.
        ok!(syncobj::destroy(from, h));
        ok!(syncobj::destroy(to, h2));
        wait_all(to, &[h3], "after the other handles went")?;
        let h4 = ok!(syncobj::fd_to_handle(from, sfd.as_fd()));
        ok!(syncobj::destroy(to, h3));
        wait_all(from, &[h4], "re-import from the fd")?;
        drop(sfd);
        wait_all(from, &[h4], "after closing the fd")?;
        ok!(syncobj::destroy(from, h4));
    }
    Ok(())
}

fn sync_file_round_trip() -> igt::Result {
    let dev = ok!(open_device());
    let fd = dev.as_fd();
    let o = other_device()?;

    // Binary: the fence of a signalled syncobj, as a sync_file, into fresh syncobjs.
    let h = ok!(syncobj::create(fd, 0));
    igt::assert_eq!(
        errno(syncobj::export_sync_file(fd, h, None)),
        libc::EINVAL,
        "export of a syncobj without fence"
    );
    ok!(syncobj::signal(fd, &[h]));
    let sf = ok!(syncobj::export_sync_file(fd, h, None));
    igt::assert!(sync_file_signaled(sf.as_fd())?, "sync_file not signalled");
    // The sync_file keeps the fence of the export: a reset does not reach it.
    ok!(syncobj::reset(fd, &[h]));
    let fresh = ok!(syncobj::create(fd, 0));
    ok!(syncobj::import_sync_file(fd, fresh, sf.as_fd(), None));
    wait_all(fd, &[fresh], "sync_file imported on the same device")?;
    igt::assert_eq!(errno(syncobj::wait(fd, &[h], 0, 0)), libc::EINVAL);
    let oh = ok!(syncobj::create(o.as_fd(), 0));
    ok!(syncobj::import_sync_file(o.as_fd(), oh, sf.as_fd(), None));
    wait_all(o.as_fd(), &[oh], "sync_file imported on the other device")?;
    // And as a timeline point there.
    let ot = ok!(syncobj::create(o.as_fd(), 0));
    ok!(syncobj::import_sync_file(
        o.as_fd(),
        ot,
        sf.as_fd(),
        Some(3)
    ));
    ok!(
        syncobj::timeline_wait(o.as_fd(), &[ot], &[3], timeout_after(LONG), 0),
        "point 3 on the other device"
    );
    igt::assert_eq!(ok!(syncobj::query(o.as_fd(), &[ot], 0)), [3]);
    for x in [oh, ot] {
        ok!(syncobj::destroy(o.as_fd(), x));
    }

    // Timeline: point 5 as a sync_file, into a binary syncobj.
    let t = ok!(syncobj::create(fd, 0));
    ok!(syncobj::timeline_signal(fd, &[t], &[5]));
    igt::assert_eq!(
        ok!(syncobj::query(fd, &[t], 0)),
        [5],
        "last signalled point"
    );
    let sf5 = ok!(syncobj::export_sync_file(fd, t, Some(5)), "export point 5");
    igt::assert!(sync_file_signaled(sf5.as_fd())?, "point 5 not signalled");
    // A point not submitted yet has no fence to export.
    igt::assert_eq!(
        errno(syncobj::export_sync_file(fd, t, Some(6))),
        libc::EINVAL,
        "export of point 6"
    );
    let b = ok!(syncobj::create(fd, 0));
    ok!(syncobj::import_sync_file(fd, b, sf5.as_fd(), None));
    wait_all(fd, &[b], "point 5 imported into a binary syncobj")?;
    // A plain fence goes into a timeline at a point; later points are not there. (Not the
    // fence of point 5: it is a dma_fence_chain, and dma_fence_chain_init() warns when a chain
    // would contain a chain.)
    let t2 = ok!(syncobj::create(fd, 0));
    ok!(syncobj::import_sync_file(fd, t2, sf.as_fd(), Some(2)));
    ok!(syncobj::timeline_wait(
        fd,
        &[t2],
        &[2],
        timeout_after(LONG),
        0
    ));
    igt::assert_eq!(
        errno(syncobj::timeline_wait(fd, &[t2], &[3], 0, 0)),
        libc::EINVAL,
        "wait for point 3, not submitted"
    );
    igt::assert_eq!(
        errno(syncobj::timeline_wait(
            fd,
            &[t2],
            &[3],
            0,
            DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT
        )),
        libc::ETIME,
        "wait for the submission of point 3"
    );
    let ob = ok!(syncobj::create(o.as_fd(), 0));
    ok!(syncobj::import_sync_file(o.as_fd(), ob, sf5.as_fd(), None));
    wait_all(o.as_fd(), &[ob], "point 5 imported on the other device")?;
    ok!(syncobj::destroy(o.as_fd(), ob));
    for x in [h, fresh, t, b, t2] {
        ok!(syncobj::destroy(fd, x));
    }
    Ok(())
}

fn foreign_fence_from_vgem() -> igt::Result {
    let vgem = open_vgem()?;
    let dev = ok!(open_device());
    let fd = dev.as_fd();
    let dumb = ok!(drm::create_dumb_bytes(vgem.as_fd(), page_size() as u64));
    let dma_buf = ok!(drm::prime_handle_to_fd(
        vgem.as_fd(),
        dumb.handle,
        DRM_CLOEXEC | DRM_RDWR
    ));
    // Without fences the dma-buf's sync_file is signalled.
    let idle = ok!(dma_buf_export_sync_file(dma_buf.as_fd(), DMA_BUF_SYNC_READ));
    igt::assert!(sync_file_signaled(idle.as_fd())?, "idle dma-buf");
    let h = ok!(syncobj::create(fd, 0));
    ok!(syncobj::import_sync_file(fd, h, idle.as_fd(), None));
    wait_all(fd, &[h], "idle dma-buf")?;

    // vgem signals its fences by itself after 10 s (VGEM_FENCE_TIMEOUT); all that happens
    // between attach and signal must take much less.
    let mut attach = VgemFenceAttach {
        handle: dumb.handle,
        flags: VGEM_FENCE_WRITE,
        ..Default::default()
    };
    ok!(gaudi::ioctl(vgem.as_fd(), VGEM_FENCE_ATTACH, &mut attach));
    let attached = Instant::now();
    let busy = ok!(dma_buf_export_sync_file(dma_buf.as_fd(), DMA_BUF_SYNC_READ));
    igt::assert!(!sync_file_signaled(busy.as_fd())?, "vgem's fence signalled");
    ok!(syncobj::import_sync_file(fd, h, busy.as_fd(), None));
    igt::assert_eq!(
        errno(syncobj::wait(fd, &[h], 0, 0)),
        libc::ETIME,
        "poll on vgem's fence"
    );
    igt::assert_eq!(
        errno(syncobj::wait(fd, &[h], timeout_after(SHORT), 0)),
        libc::ETIME,
        "wait on vgem's fence"
    );
    // The foreign fence moves on within the accel file: to a timeline point, and out again
    // as a sync_file.
    let t = ok!(syncobj::create(fd, 0));
    ok!(syncobj::transfer(fd, t, 1, h, 0, 0));
    igt::assert_eq!(
        errno(syncobj::timeline_wait(
            fd,
            &[t],
            &[1],
            timeout_after(SHORT),
            0
        )),
        libc::ETIME,
        "wait on the transferred point"
    );
    let out = ok!(syncobj::export_sync_file(fd, h, None));
    igt::assert!(!sync_file_signaled(out.as_fd())?, "re-exported fence");

    let mut sig = VgemFenceSignal {
        fence: attach.out_fence,
        flags: 0,
    };
    let e = ioctl_errno(vgem.as_fd(), VGEM_FENCE_SIGNAL, &mut sig);
    igt::assert!(
        e != libc::ETIMEDOUT,
        "vgem's fence expired by itself {:?} after attach: too slow",
        attached.elapsed()
    );
    igt::assert_eq!(e, 0, "DRM_IOCTL_VGEM_FENCE_SIGNAL");
    wait_all(fd, &[h], "after vgem signalled")?;
    ok!(
        syncobj::timeline_wait(fd, &[t], &[1], timeout_after(LONG), 0),
        "transferred point after vgem signalled"
    );
    igt::assert!(sync_file_signaled(out.as_fd())?, "re-exported fence");
    igt::assert!(sync_file_signaled(busy.as_fd())?, "vgem's sync_file");

    for x in [h, t] {
        ok!(syncobj::destroy(fd, x));
    }
    drop(dma_buf);
    ok!(drm::gem_close(vgem.as_fd(), dumb.handle));
    Ok(())
}

fn wait_for_submit() -> igt::Result {
    let dev = ok!(open_device());
    let fd = dev.as_fd();
    let h = ok!(syncobj::create(fd, 0));
    igt::assert_eq!(
        errno(syncobj::wait(fd, &[h], timeout_after(SHORT), 0)),
        libc::EINVAL,
        "wait without WAIT_FOR_SUBMIT on a syncobj without fence"
    );
    igt::assert_eq!(
        errno(syncobj::wait(
            fd,
            &[h],
            0,
            DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT
        )),
        libc::ETIME,
        "poll with WAIT_FOR_SUBMIT"
    );

    // A second thread signals through the same file.
    let start = Instant::now();
    let (r, t) = std::thread::scope(|s| {
        let t = s.spawn(|| {
            std::thread::sleep(DELAY);
            syncobj::signal(fd, &[h])
        });
        let r = syncobj::wait(
            fd,
            &[h],
            timeout_after(LONG),
            DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
        );
        (r, t.join())
    });
    let elapsed = start.elapsed();
    ok!(t.map_err(|_| igt::fail!("signalling thread"))?, "signal");
    igt::assert_eq!(ok!(r, "WAIT_FOR_SUBMIT"), 0);
    igt::assert!(
        elapsed >= DELAY,
        "returned after {elapsed:?}, before the signal"
    );

    // Two syncobjs, the second signalled by another client that imported it: its index is
    // reported.
    let a = ok!(syncobj::create(fd, 0));
    let b = ok!(syncobj::create(fd, 0));
    let client = ok!(open_device());
    let bfd = ok!(syncobj::handle_to_fd(fd, b));
    let theirs = ok!(syncobj::fd_to_handle(client.as_fd(), bfd.as_fd()));
    let (r, t) = std::thread::scope(|s| {
        let t = s.spawn(|| {
            std::thread::sleep(DELAY);
            syncobj::signal(client.as_fd(), &[theirs])
        });
        let r = syncobj::wait(
            fd,
            &[a, b],
            timeout_after(LONG),
            DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
        );
        (r, t.join())
    });
    ok!(t.map_err(|_| igt::fail!("signalling thread"))?, "signal");
    igt::assert_eq!(ok!(r, "WAIT_FOR_SUBMIT on two"), 1, "first_signaled");
    // WAIT_ALL still waits for the first, which nobody signals.
    igt::assert_eq!(
        errno(syncobj::wait(
            fd,
            &[a, b],
            timeout_after(SHORT),
            DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL
        )),
        libc::ETIME
    );
    ok!(syncobj::destroy(client.as_fd(), theirs));
    for x in [h, a, b] {
        ok!(syncobj::destroy(fd, x));
    }
    Ok(())
}

fn no_leak() -> igt::Result {
    let fds = open_fds()?;
    // A fresh file: its handles are allocated from 1 up, lowest free first, so batches that
    // are destroyed completely reuse the same numbers.
    let dev = ok!(open_device());
    let fd = dev.as_fd();
    const BATCH: u32 = 100;
    let mut handles = Vec::with_capacity(BATCH as usize);
    for round in 0..10_000 / BATCH {
        for i in 0..BATCH {
            let flags = if i % 2 == 0 {
                0
            } else {
                DRM_SYNCOBJ_CREATE_SIGNALED
            };
            handles.push(ok!(syncobj::create(fd, flags), "round {round}, create {i}"));
        }
        let max = handles.iter().copied().max().unwrap_or(0);
        igt::assert!(
            max <= BATCH,
            "round {round}: handle {max} with {BATCH} live syncobjs"
        );
        for h in handles.drain(..) {
            ok!(syncobj::destroy(fd, h), "round {round}, destroy {h}");
        }
    }

    // Sync_files: a new fence each time, exported, imported elsewhere and closed.
    let src = ok!(syncobj::create(fd, 0));
    let dst = ok!(syncobj::create(fd, 0));
    for i in 0..1000 {
        ok!(syncobj::signal(fd, &[src]), "signal {i}");
        let sf = ok!(syncobj::export_sync_file(fd, src, None), "export {i}");
        ok!(
            syncobj::import_sync_file(fd, dst, sf.as_fd(), None),
            "import {i}"
        );
        drop(sf);
        if i % 2 == 1 {
            ok!(syncobj::reset(fd, &[src, dst]), "reset {i}");
        }
    }
    // And syncobj fds.
    for i in 0..100 {
        let sfd = ok!(syncobj::handle_to_fd(fd, src), "export {i}");
        let h = ok!(syncobj::fd_to_handle(fd, sfd.as_fd()), "import {i}");
        ok!(syncobj::destroy(fd, h));
    }
    ok!(syncobj::destroy(fd, src));
    ok!(syncobj::destroy(fd, dst));
    drop(dev);
    igt::assert_eq!(open_fds()?, fds, "descriptors left open");
    Ok(())
}

/// Every array request with a count of handles the kernel cannot allocate for: `ENOMEM`, and
/// nothing in the kernel log. Before `kernel/patches/0003-*.patch` the page allocator warned
/// (`WARN_ON_ONCE_GFP`, order above `MAX_PAGE_ORDER`), which the run's kernel-log check fails.
fn huge_count_handles() -> igt::Result {
    let dev = ok!(open_device());
    let fd = dev.as_fd();
    // 1 << 20 handles fit the first array (4 MiB) and are read from a real buffer of invalid
    // handle 0; the syncobj pointers (8 MiB) no longer fit. The larger counts fail at the first.
    let zeros = ok!(Mapping::anonymous(
        4 << 20,
        libc::PROT_READ | libc::PROT_WRITE
    ));
    let points = ok!(Mapping::anonymous(
        8 << 20,
        libc::PROT_READ | libc::PROT_WRITE
    ));
    let handles = zeros.as_ptr() as u64;
    let points = points.as_ptr() as u64;
    for count in [1u32 << 20, 1 << 30, u32::MAX] {
        igt::assert_eq!(
            raw_wait(fd, handles, count, 0),
            libc::ENOMEM,
            "WAIT, {count} handles"
        );
        let mut w = gaudi::syncobj::drm_syncobj_timeline_wait {
            handles,
            points,
            count_handles: count,
            ..Default::default()
        };
        igt::assert_eq!(
            ioctl_errno(fd, gaudi::syncobj::DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &mut w),
            libc::ENOMEM,
            "TIMELINE_WAIT, {count} handles"
        );
        for request in [DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL] {
            igt::assert_eq!(
                raw_array(fd, request, handles, count, 0),
                libc::ENOMEM,
                "{request:#x}, {count} handles"
            );
        }
        for request in [
            gaudi::syncobj::DRM_IOCTL_SYNCOBJ_QUERY,
            gaudi::syncobj::DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
        ] {
            let mut a = gaudi::syncobj::drm_syncobj_timeline_array {
                handles,
                points,
                count_handles: count,
                flags: 0,
            };
            igt::assert_eq!(
                ioctl_errno(fd, request, &mut a),
                libc::ENOMEM,
                "{request:#x}, {count} handles"
            );
        }
    }
    Ok(())
}

/// A sync_file exported from a timeline point holds a `dma_fence_chain`; imported at a point
/// of another timeline it is flattened first (`kernel/patches/0004-*.patch`). Before the fix
/// `dma_fence_chain_init()` warned about a chain inside a chain, which the run's kernel-log
/// check fails.
fn import_point_at_point() -> igt::Result {
    let dev = ok!(open_device());
    let fd = dev.as_fd();
    let o = other_device()?;
    let t = ok!(syncobj::create(fd, 0));
    ok!(syncobj::timeline_signal(fd, &[t], &[3]));
    ok!(syncobj::timeline_signal(fd, &[t], &[5]));
    let sf = ok!(syncobj::export_sync_file(fd, t, Some(5)), "export point 5");
    // On the same file, on another file of the device and on the other device.
    let other_file = ok!(open_device());
    for (what, dst) in [
        ("this file", fd),
        ("a second file", other_file.as_fd()),
        ("the other device", o.as_fd()),
    ] {
        let d = ok!(syncobj::create(dst, 0));
        for point in [7u64, 8] {
            ok!(
                syncobj::import_sync_file(dst, d, sf.as_fd(), Some(point)),
                "point 5 at point {point} on {what}"
            );
        }
        ok!(
            syncobj::timeline_wait(dst, &[d], &[8], timeout_after(LONG), 0),
            "point 8 on {what}"
        );
        igt::assert_eq!(
            ok!(syncobj::query(dst, &[d], 0)),
            [8],
            "last point on {what}"
        );
        // And back out as a sync_file of the new point.
        let again = ok!(syncobj::export_sync_file(dst, d, Some(8)));
        igt::assert!(sync_file_signaled(again.as_fd())?, "point 8 on {what}");
        ok!(syncobj::destroy(dst, d));
    }
    ok!(syncobj::destroy(fd, t));
    Ok(())
}

fn main() {
    igt::main(|t| {
        t.subtest("create-destroy-on-accel-node", create_destroy);
        t.subtest("hostile-arguments", hostile_arguments);
        t.subtest("fd-across-devices", fd_across_devices);
        t.subtest("sync-file-round-trip", sync_file_round_trip);
        t.subtest("foreign-fence-from-vgem", foreign_fence_from_vgem);
        t.subtest("wait-for-submit", wait_for_submit);
        t.subtest("no-leak", no_leak);
        t.subtest("huge-count-handles", huge_count_handles);
        t.subtest("import-point-at-point", import_point_at_point);
    })
}
