// SPDX-License-Identifier: GPL-2.0 OR MIT

//! PRIME: exporting buffer objects as dma-bufs and importing dma-bufs, within one file, between
//! files and processes of the same device, between the two gaudi devices, and with vgem and
//! udmabuf; CPU access through dma-buf mappings; device-memory objects, which only the other
//! gaudi device imports (peer-to-peer, see gaudi_p2p); and hostile arguments.
//!
//! Every subtest checks that the memory counters of the devices it used are back where they
//! started once it has closed everything.

use std::{
    fs::{File, OpenOptions},
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
};

use accel_igt::{
    device_path, errno, expect, first_mismatch, in_child, ioctl_errno, ok, open_device, open_vgem,
    other_device_path, page_size, pattern, Baseline, Kind, Mapping,
};
use gaudi::{
    drm::{self, drm_prime_handle, DRM_CLOEXEC, DRM_RDWR},
    mapping::{
        dma_buf_sync, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_RW, DMA_BUF_SYNC_START,
        DMA_BUF_SYNC_WRITE,
    },
    uapi::{drm_gaudi_memory_info, DRM_GAUDI_BO_DEVICE, DRM_GAUDI_BO_IMPORTED, DRM_GAUDI_BO_PEER},
    Bo, Device,
};

/// Errors an importer may return for a device-memory dma-buf it cannot reach (no peer-to-peer
/// DMA between the devices).
const NO_P2P: [i32; 4] = [libc::EPERM, libc::EOPNOTSUPP, libc::EINVAL, libc::EREMOTEIO];

fn page() -> u64 {
    page_size() as u64
}

/// Exports `handle` with `DRM_CLOEXEC | DRM_RDWR`.
fn export(dev: &Device, handle: u32) -> igt::Result<OwnedFd> {
    Ok(ok!(
        dev.prime_handle_to_fd(handle, DRM_CLOEXEC | DRM_RDWR),
        "export handle {handle}"
    ))
}

/// Creates an object of `kind` and `size` bytes and fills it with `seed`'s pattern.
fn filled(dev: &Device, kind: Kind, size: u64, seed: u32) -> igt::Result<(Bo, Vec<u8>)> {
    let bo = ok!(dev.gem_create(size, kind.flags()), "create {kind:?}");
    let want = pattern(seed, bo.len());
    ok!(ok!(dev.map_bo(&bo)).write(0, &want));
    Ok((bo, want))
}

/// Writes `data` through a dma-buf mapping, bracketed by `DMA_BUF_IOCTL_SYNC`.
fn write_synced(fd: BorrowedFd<'_>, map: &Mapping, data: &[u8]) -> igt::Result {
    ok!(dma_buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE));
    ok!(map.write(0, data));
    ok!(dma_buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE));
    Ok(())
}

/// Checks through a dma-buf mapping, bracketed by `DMA_BUF_IOCTL_SYNC`, that it holds `want`.
fn expect_synced(fd: BorrowedFd<'_>, map: &Mapping, want: &[u8], what: &str) -> igt::Result {
    ok!(dma_buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
    let r = expect(map, want, what);
    ok!(dma_buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
    r
}

/// The other gaudi device; fails without one.
fn other_device() -> igt::Result<std::path::PathBuf> {
    other_device_path()
}

/// Calls `f` with a message of one data byte and room for one descriptor, for `sendmsg()` and
/// `recvmsg()`.
fn with_fd_message<R>(f: impl FnOnce(&mut libc::msghdr) -> R) -> R {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: An all-zero msghdr is valid; the pointers set below outlive `f`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;
    f(&mut msg)
}

/// Sends `fd` over the unix socket `sock` (SCM_RIGHTS).
fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    with_fd_message(|msg| {
        // SAFETY: The control buffer has room for one header with one descriptor.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>(), fd.as_raw_fd());
        }
        // SAFETY: `msg` describes valid buffers.
        if unsafe { libc::sendmsg(sock.as_raw_fd(), msg, 0) } != 1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    })
}

/// Receives a descriptor sent with [`send_fd`].
fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    with_fd_message(|msg| {
        // SAFETY: `msg` describes valid buffers.
        if unsafe { libc::recvmsg(sock.as_raw_fd(), msg, libc::MSG_CMSG_CLOEXEC) } != 1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `msg` was filled in by recvmsg; the header, if any, lies within the control
        // buffer.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(msg);
            if cmsg.is_null()
                || (*cmsg).cmsg_level != libc::SOL_SOCKET
                || (*cmsg).cmsg_type != libc::SCM_RIGHTS
            {
                return Err(io::Error::from_raw_os_error(libc::EPROTO));
            }
            let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>());
            Ok(OwnedFd::from_raw_fd(fd))
        }
    })
}

/// In a child process: opens the node under test anew, imports `fd`, checks that the object
/// holds `want` and writes `seed`'s pattern to its second half.
fn child_import(fd: BorrowedFd<'_>, kind: Kind, want: &[u8], seed: u32) -> Result<(), String> {
    let dev = Device::open(device_path()).map_err(|e| format!("open: {e}"))?;
    let h = dev
        .prime_fd_to_handle(fd)
        .map_err(|e| format!("import: {e}"))?;
    let info = dev.gem_info(h).map_err(|e| format!("GEM_INFO: {e}"))?;
    if info.flags != kind.flags() || info.size != want.len() as u64 {
        return Err(format!("imported object is {info:?}"));
    }
    let map = dev.map(h, want.len()).map_err(|e| format!("map: {e}"))?;
    let got = map.to_vec().map_err(|e| e.to_string())?;
    if got != want {
        return Err(format!("data differs at {:?}", first_mismatch(&got, want)));
    }
    let half = want.len() / 2;
    map.write(half, &pattern(seed, want.len() - half))
        .map_err(|e| e.to_string())?;
    dev.gem_close(h).map_err(|e| format!("close: {e}"))
}

/// `want` with its second half replaced by `seed`'s pattern, as [`child_import`] leaves it.
fn with_second_half(want: &[u8], seed: u32) -> Vec<u8> {
    let half = want.len() / 2;
    let mut v = want.to_vec();
    v[half..].copy_from_slice(&pattern(seed, want.len() - half));
    v
}

/// A unix socket pair.
fn socketpair() -> igt::Result<(OwnedFd, OwnedFd)> {
    let mut sv = [0i32; 2];
    // SAFETY: `sv` is a valid array of two ints for socketpair to fill.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    };
    igt::assert_eq!(r, 0, "socketpair");
    // SAFETY: socketpair returned two new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) })
}

/// Objects of every kind imported by a child process on a file of its own, which checks the
/// data and writes to the object. The child inherits the dma-buf fd across `fork()`, or, with
/// `via_socket`, receives it over a unix socket, never having had it.
fn import_in_child(via_socket: bool) -> igt::Result {
    let base = Baseline::of_device_under_test()?;
    let dev = ok!(open_device());
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let seed = 10 + 10 * u32::from(via_socket) + 2 * i as u32;
        let (bo, want) = filled(&dev, kind, (2 + i as u64) * page(), seed)?;
        let fd = export(&dev, bo.handle)?;
        let r = if via_socket {
            let (tx, rx) = socketpair()?;
            ok!(send_fd(tx.as_fd(), fd.as_fd()));
            drop(fd);
            in_child(|| {
                let fd = recv_fd(rx.as_fd()).map_err(|e| format!("recvmsg: {e}"))?;
                child_import(fd.as_fd(), kind, &want, seed + 1)
            })
        } else {
            in_child(|| child_import(fd.as_fd(), kind, &want, seed + 1))
        };
        r.map_err(|e| igt::fail!("{kind:?}: {e}"))?;
        let map = ok!(dev.map_bo(&bo));
        expect(&map, &with_second_half(&want, seed + 1), "after the child")?;
        ok!(dev.gem_close(bo.handle));
    }
    drop(dev);
    base.check()
}

fn self_import(kind: Kind) -> igt::Result {
    let base = Baseline::of_device_under_test()?;
    let dev = ok!(open_device());
    let (bo, want) = filled(&dev, kind, 3 * page(), 1)?;
    let counters = ok!(dev.memory_info());
    let fd = export(&dev, bo.handle)?;
    igt::assert_eq!(
        ok!(dev.prime_fd_to_handle(fd.as_fd())),
        bo.handle,
        "self-import"
    );
    // A second export is the same dma-buf, and imports as the same handle too.
    let fd2 = export(&dev, bo.handle)?;
    igt::assert_eq!(ok!(dev.prime_fd_to_handle(fd2.as_fd())), bo.handle);
    let info = ok!(dev.gem_info(bo.handle));
    igt::assert_eq!(info.flags, kind.flags(), "self-import changed the flags");
    igt::assert_eq!(info.size, bo.size);
    igt::assert_eq!(
        ok!(dev.memory_info()),
        counters,
        "self-import created an object"
    );
    let map = ok!(dev.map_bo(&bo));
    expect(&map, &want, "object after self-import")?;
    // One close ends the handle, however often it was imported.
    ok!(dev.gem_close(bo.handle));
    igt::assert_eq!(errno(dev.gem_info(bo.handle)), libc::ENOENT);
    drop((map, fd, fd2, dev));
    base.check()
}

fn second_file_import(kind: Kind) -> igt::Result {
    let base = Baseline::of_device_under_test()?;
    let a = ok!(open_device());
    let b = ok!(open_device());
    let (bo, want) = filled(&a, kind, 4 * page(), 2)?;
    let counters = ok!(a.memory_info());
    let fd = export(&a, bo.handle)?;
    let hb = ok!(b.prime_fd_to_handle(fd.as_fd()));
    igt::assert_eq!(
        ok!(b.prime_fd_to_handle(fd.as_fd())),
        hb,
        "second import, other handle"
    );
    // The same device: the import is the original object, not a new one.
    let info = ok!(b.gem_info(hb));
    igt::assert_eq!(
        info.flags,
        kind.flags(),
        "import of an object of the same device"
    );
    igt::assert_eq!(info.size, bo.size);
    igt::assert_eq!(ok!(a.memory_info()), counters, "import created an object");
    let mb = ok!(b.map(hb, bo.len()));
    expect(&mb, &want, "importer's mapping")?;
    let back = pattern(3, bo.len());
    ok!(mb.write(0, &back));
    expect(&ok!(a.map_bo(&bo)), &back, "exporter's mapping")?;
    // The exporter's handle goes, the importer's stays.
    ok!(a.gem_close(bo.handle));
    expect(
        &ok!(b.map(hb, bo.len())),
        &back,
        "importer's mapping after the exporter closed",
    )?;
    igt::assert_eq!(ok!(b.gem_info(hb)).size, bo.size);
    ok!(b.gem_close(hb));
    igt::assert_eq!(errno(b.gem_info(hb)), libc::ENOENT);
    // The dma-buf still holds the object: importing it again works.
    let hb2 = ok!(b.prime_fd_to_handle(fd.as_fd()));
    expect(&ok!(b.map(hb2, bo.len())), &back, "re-import")?;
    drop((mb, fd, a, b));
    base.check()
}

fn dma_buf_mmap(kind: Kind) -> igt::Result {
    let base = Baseline::of_device_under_test()?;
    let dev = ok!(open_device());
    let (bo, want) = filled(&dev, kind, 5 * page(), 4)?;
    let fd = export(&dev, bo.handle)?;
    let dmap = ok!(Mapping::shared(fd.as_fd(), 0, bo.len()));
    expect_synced(fd.as_fd(), &dmap, &want, "dma-buf mapping")?;
    let next = pattern(5, bo.len());
    write_synced(fd.as_fd(), &dmap, &next)?;
    let gmap = ok!(dev.map_bo(&bo));
    expect(&gmap, &next, "GEM mapping after a dma-buf write")?;
    let last = pattern(6, bo.len());
    ok!(gmap.write(0, &last));
    expect_synced(
        fd.as_fd(),
        &dmap,
        &last,
        "dma-buf mapping after a GEM write",
    )?;
    ok!(dma_buf_sync(
        fd.as_fd(),
        DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW
    ));
    ok!(dma_buf_sync(fd.as_fd(), DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW));
    // Part of the dma-buf, at a page offset. Only for device memory: the DRM core's shmem
    // helper maps system-memory objects from their first page whatever the offset.
    let tail = if kind == Kind::Device {
        let tail = ok!(Mapping::shared(
            fd.as_fd(),
            page(),
            bo.len() - page() as usize
        ));
        expect(
            &tail,
            &last[page() as usize..],
            "dma-buf mapping at an offset",
        )?;
        Some(tail)
    } else {
        None
    };
    // Not past its end.
    let e = errno(Mapping::shared(fd.as_fd(), 0, bo.len() + page() as usize));
    igt::assert_eq!(e, libc::EINVAL, "dma-buf mapping past the end");
    let e = errno(Mapping::shared(fd.as_fd(), bo.size, page() as usize));
    igt::assert_eq!(e, libc::EINVAL, "dma-buf mapping after the end");
    // Invalid sync requests.
    for flags in [
        0,
        DMA_BUF_SYNC_END,
        1 << 3,
        DMA_BUF_SYNC_RW | 1 << 3,
        u64::MAX,
    ] {
        let mut s = gaudi::mapping::dma_buf_sync { flags };
        let e = ioctl_errno(fd.as_fd(), gaudi::mapping::DMA_BUF_IOCTL_SYNC, &mut s);
        igt::assert_eq!(e, libc::EINVAL, "DMA_BUF_IOCTL_SYNC flags {flags:#x}");
    }
    // The dma-buf mapping outlives the handle, the GEM mapping and the dma-buf fd.
    ok!(dev.gem_close(bo.handle));
    drop((gmap, fd));
    expect(&dmap, &last, "dma-buf mapping after every close")?;
    let counters = base.now()?;
    igt::assert_eq!(
        counters.bo_count,
        base.start().bo_count + 1,
        "mapped object freed"
    );
    drop((dmap, tail, dev));
    base.check()
}

/// Creates a vgem dumb buffer of `size` bytes filled with `seed`'s pattern; returns it with
/// its mapping.
fn vgem_filled(vgem: &File, size: u64, seed: u32) -> igt::Result<(drm::Dumb, Mapping, Vec<u8>)> {
    let dumb = ok!(drm::create_dumb_bytes(vgem.as_fd(), size));
    igt::assert!(dumb.size >= size);
    let offset = ok!(drm::map_dumb(vgem.as_fd(), dumb.handle));
    let map = ok!(Mapping::shared(vgem.as_fd(), offset, dumb.size as usize));
    let want = pattern(seed, map.len());
    ok!(map.write(0, &want));
    Ok((dumb, map, want))
}

/// Imports `fd` of a foreign exporter into `dev` and checks the import: flags, size, the
/// exporter's data, and writes through it seen by `exporter_map`.
fn check_foreign_import(
    dev: &Device,
    fd: BorrowedFd<'_>,
    size: u64,
    exporter_map: &Mapping,
    want: &[u8],
    seed: u32,
) -> igt::Result<u32> {
    let before = ok!(dev.memory_info());
    let h = ok!(dev.prime_fd_to_handle(fd), "import");
    igt::assert_eq!(
        ok!(dev.prime_fd_to_handle(fd)),
        h,
        "second import, other handle"
    );
    let info = ok!(dev.gem_info(h));
    igt::assert_eq!(
        info.flags & DRM_GAUDI_BO_IMPORTED,
        DRM_GAUDI_BO_IMPORTED,
        "flags {:#x}",
        info.flags
    );
    igt::assert_eq!(info.flags & DRM_GAUDI_BO_DEVICE, 0);
    igt::assert_eq!(info.size, size);
    let after = ok!(dev.memory_info());
    igt::assert_eq!(after.bo_count, before.bo_count + 1, "import not counted");
    igt::assert_eq!(after.bo_bytes, before.bo_bytes + size);
    igt::assert_eq!(after.dram_free, before.dram_free);
    let map = ok!(dev.map(h, size as usize));
    expect(&map, want, "importer's mapping")?;
    let back = pattern(seed, size as usize);
    ok!(map.write(0, &back));
    expect(
        exporter_map,
        &back,
        "exporter's mapping after the importer wrote",
    )?;
    // Not past the end of the import.
    let offset = ok!(dev.gem_mmap_offset(h));
    let e = errno(Mapping::shared(
        dev.as_fd(),
        offset,
        size as usize + page() as usize,
    ));
    igt::assert_eq!(e, libc::EINVAL, "mapping past the end of an import");
    Ok(h)
}

/// System-memory objects of one gaudi device imported into the other: our objects into the
/// other device (`to_other`) or the other way round. The import is foreign, data flows both
/// ways, a re-export of the import is the exporter's dma-buf, and the import keeps the object
/// alive after the exporter closed everything.
fn cross_device(to_other: bool) -> igt::Result {
    let other_path = other_device()?;
    let bases = [
        Baseline::of_device_under_test()?,
        Baseline::new(&other_path)?,
    ];
    let dev = ok!(open_device());
    let other = ok!(Device::open(&other_path));
    let (exporter, importer, exporter_base) = if to_other {
        (&dev, &other, &bases[0])
    } else {
        (&other, &dev, &bases[1])
    };
    for (i, kind) in [Kind::System, Kind::Wc].into_iter().enumerate() {
        let seed = 120 + 10 * u32::from(to_other) + 2 * i as u32;
        let (bo, want) = filled(exporter, kind, (3 + i as u64) * page(), seed)?;
        let map = ok!(exporter.map_bo(&bo));
        let fd = export(exporter, bo.handle)?;
        let h = check_foreign_import(importer, fd.as_fd(), bo.size, &map, &want, seed + 1)?;
        let written = pattern(seed + 1, bo.len());
        // A re-export of the import is the exporter's dma-buf: the exporter's handle.
        let back = export(importer, h)?;
        igt::assert_eq!(
            ok!(exporter.prime_fd_to_handle(back.as_fd())),
            bo.handle,
            "round trip"
        );
        let dmap = ok!(Mapping::shared(back.as_fd(), 0, bo.len()));
        expect_synced(back.as_fd(), &dmap, &written, "dma-buf of the import")?;
        // The import keeps the object after the exporter closed everything.
        ok!(exporter.gem_close(bo.handle));
        drop((dmap, map, fd, back));
        expect(
            &ok!(importer.map(h, bo.len())),
            &written,
            "import after the exporter closed",
        )?;
        let count = exporter_base.now()?.bo_count;
        igt::assert_eq!(
            count,
            exporter_base.start().bo_count + 1,
            "object freed under an import"
        );
        ok!(importer.gem_close(h));
        for b in &bases {
            b.check()?;
        }
    }
    drop((dev, other));
    for b in &bases {
        b.check()?;
    }
    Ok(())
}

/// Checks, after another device or driver failed to import the device-memory object `bo` of
/// `dev` (exported as `fd`), that the exporter is unaffected: its counters are still
/// `counters`, self-import gives the handle, the GEM and dma-buf mappings hold `want`, and a
/// write of `seed`'s pattern through the dma-buf reaches the object.
fn exporter_unaffected(
    dev: &Device,
    bo: &Bo,
    fd: BorrowedFd<'_>,
    counters: drm_gaudi_memory_info,
    want: &[u8],
    seed: u32,
) -> igt::Result {
    igt::assert_eq!(
        ok!(dev.memory_info()),
        counters,
        "the failed import changed the exporter"
    );
    igt::assert_eq!(ok!(dev.prime_fd_to_handle(fd)), bo.handle);
    let map = ok!(dev.map_bo(bo));
    expect(&map, want, "exporter after the failed import")?;
    let dmap = ok!(Mapping::shared(fd, 0, bo.len()));
    expect_synced(fd, &dmap, want, "dma-buf after the failed import")?;
    let next = pattern(seed, bo.len());
    write_synced(fd, &dmap, &next)?;
    expect(&map, &next, "exporter after a dma-buf write")
}

fn main() {
    igt::main(|t| {
        for kind in Kind::ALL {
            t.subtest(&format!("self-import-{}", kind.name()), move || {
                self_import(kind)
            });
        }

        for kind in Kind::ALL {
            t.subtest(&format!("second-file-import-{}", kind.name()), move || {
                second_file_import(kind)
            });
        }

        t.subtest("fork-import", || import_in_child(false));

        t.subtest("scm-rights-import", || import_in_child(true));

        for kind in Kind::ALL {
            t.subtest(&format!("dma-buf-mmap-{}", kind.name()), move || {
                dma_buf_mmap(kind)
            });
        }

        t.subtest("dma-buf-outlives-handle", || {
            let base = Baseline::of_device_under_test()?;
            for (i, kind) in Kind::ALL.into_iter().enumerate() {
                let dev = ok!(open_device());
                let (bo, want) = filled(&dev, kind, 3 * page(), 50 + i as u32)?;
                let fd = export(&dev, bo.handle)?;
                ok!(dev.gem_close(bo.handle));
                igt::assert_eq!(errno(dev.gem_info(bo.handle)), libc::ENOENT);
                igt::assert_eq!(
                    base.now()?.bo_count,
                    base.start().bo_count + 1,
                    "{kind:?}: freed with a dma-buf"
                );
                // The dma-buf maps and holds the data.
                let dmap = ok!(Mapping::shared(fd.as_fd(), 0, bo.len()));
                expect_synced(fd.as_fd(), &dmap, &want, "dma-buf mapping")?;
                drop(dmap);
                // Importing it again gives a valid handle to the same object.
                let h = ok!(dev.prime_fd_to_handle(fd.as_fd()));
                let info = ok!(dev.gem_info(h));
                igt::assert_eq!((info.flags, info.size), (kind.flags(), bo.size));
                expect(&ok!(dev.map(h, bo.len())), &want, "re-imported object")?;
                ok!(dev.gem_close(h));
                // Even after the exporting file is gone.
                drop(dev);
                let other = ok!(open_device());
                let h = ok!(other.prime_fd_to_handle(fd.as_fd()));
                expect(
                    &ok!(other.map(h, bo.len())),
                    &want,
                    "import after the exporter closed",
                )?;
                drop((other, fd));
            }
            base.check()
        });

        t.subtest("export-flags", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let valid = DRM_CLOEXEC | DRM_RDWR;
            let bo = ok!(dev.gem_create(page(), 0));
            for bit in 0..32 {
                let flag = 1u32 << bit;
                if flag & valid != 0 {
                    continue;
                }
                let mut p = drm_prime_handle {
                    handle: bo.handle,
                    flags: flag,
                    fd: -1,
                };
                let e = ioctl_errno(dev.as_fd(), drm::DRM_IOCTL_PRIME_HANDLE_TO_FD, &mut p);
                igt::assert_eq!(e, libc::EINVAL, "flag bit {bit}");
                igt::assert_eq!(p.fd, -1, "fd written back on failure");
            }
            // DRM_CLOEXEC sets close-on-exec on the new descriptor, and only it.
            for (flags, cloexec) in [(DRM_CLOEXEC | DRM_RDWR, true), (DRM_RDWR, false)] {
                let fd = ok!(dev.prime_handle_to_fd(bo.handle, flags));
                // SAFETY: F_GETFD on a descriptor this test owns.
                let fdflags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
                igt::assert_eq!(fdflags & libc::FD_CLOEXEC != 0, cloexec, "flags {flags:#x}");
            }
            // Without DRM_RDWR the dma-buf is read-only (on a fresh object: the dma-buf of an
            // object is made once, by its first export).
            let ro = ok!(dev.gem_create(page(), 0));
            let want = pattern(60, page() as usize);
            ok!(ok!(dev.map_bo(&ro)).write(0, &want));
            let fd = ok!(dev.prime_handle_to_fd(ro.handle, DRM_CLOEXEC));
            let e = errno(Mapping::shared(fd.as_fd(), 0, page() as usize));
            igt::assert_eq!(e, libc::EACCES, "writable mapping of a read-only dma-buf");
            let m = ok!(Mapping::new(
                fd.as_fd(),
                0,
                page() as usize,
                libc::PROT_READ,
                libc::MAP_SHARED
            ));
            expect(&m, &want, "read-only dma-buf mapping")?;
            drop((m, fd, dev));
            base.check()
        });

        t.subtest("export-invalid-handle", || {
            let dev = ok!(open_device());
            let closed = ok!(dev.gem_create(page(), 0));
            ok!(dev.gem_close(closed.handle));
            for h in [0, closed.handle, closed.handle + 1, u32::MAX] {
                let mut p = drm_prime_handle {
                    handle: h,
                    flags: DRM_CLOEXEC,
                    fd: -1,
                };
                let e = ioctl_errno(dev.as_fd(), drm::DRM_IOCTL_PRIME_HANDLE_TO_FD, &mut p);
                igt::assert_eq!(e, libc::ENOENT, "handle {h}");
                igt::assert_eq!(p.fd, -1, "fd written back on failure");
            }
            // Another client's handle means nothing here.
            let other = ok!(open_device());
            let bo = ok!(other.gem_create(page(), 0));
            igt::assert_eq!(
                errno(dev.prime_handle_to_fd(bo.handle, DRM_CLOEXEC)),
                libc::ENOENT
            );
            Ok(())
        });

        t.subtest("import-invalid-fd", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let mut pipe = [0i32; 2];
            // SAFETY: `pipe` is a valid array of two ints for pipe2 to fill.
            igt::assert_eq!(
                unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) },
                0
            );
            // SAFETY: pipe2 returned two new descriptors that nothing else owns.
            let (pr, pw) =
                unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
            let null = ok!(File::open("/dev/null"));
            let node = ok!(accel_igt::open_raw());
            for (what, fd) in [
                ("pipe (read end)", pr.as_fd()),
                ("pipe (write end)", pw.as_fd()),
                ("/dev/null", null.as_fd()),
                ("the accel node", node.as_fd()),
                ("its own file", dev.as_fd()),
            ] {
                igt::assert_eq!(errno(dev.prime_fd_to_handle(fd)), libc::EINVAL, "{what}");
            }
            let closed = {
                let f = ok!(File::open("/dev/null"));
                f.as_raw_fd()
            };
            // SAFETY: F_GETFD only probes the descriptor number.
            igt::assert!(
                unsafe { libc::fcntl(closed, libc::F_GETFD) } == -1,
                "descriptor {closed} reused"
            );
            for (what, fd) in [
                ("a closed descriptor", closed),
                ("-1", -1),
                ("INT_MAX", i32::MAX),
            ] {
                igt::assert_eq!(
                    errno(drm::prime_raw_fd_to_handle(dev.as_fd(), fd)),
                    libc::EBADF,
                    "{what}"
                );
            }
            drop(dev);
            base.check()
        });

        t.subtest("vgem-to-gaudi", || {
            let vgem = open_vgem()?;
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let (dumb, vmap, want) = vgem_filled(&vgem, 5 * page() + 1, 70)?;
            let fd = ok!(drm::prime_handle_to_fd(
                vgem.as_fd(),
                dumb.handle,
                DRM_CLOEXEC | DRM_RDWR
            ));
            let h = check_foreign_import(&dev, fd.as_fd(), dumb.size, &vmap, &want, 71)?;
            // Re-exporting the import hands out vgem's dma-buf, which vgem knows as its own.
            let again = export(&dev, h)?;
            let vh = ok!(drm::prime_fd_to_handle(vgem.as_fd(), again.as_fd()));
            igt::assert_eq!(
                vh,
                dumb.handle,
                "re-export of an import is not the original dma-buf"
            );
            // The import lives on without the dma-buf fds and the exporter's handle.
            drop((fd, again));
            ok!(drm::gem_close(vgem.as_fd(), dumb.handle));
            expect(
                &ok!(dev.map(h, dumb.size as usize)),
                &pattern(71, dumb.size as usize),
                "import after vgem closed",
            )?;
            ok!(dev.gem_close(h));
            drop((vmap, dev));
            base.check()
        });

        t.subtest("vgem-import-per-device", || {
            let vgem = open_vgem()?;
            let base = Baseline::of_device_under_test()?;
            let (dumb, vmap, want) = vgem_filled(&vgem, 3 * page(), 72)?;
            let size = dumb.size as usize;
            let fd = ok!(drm::prime_handle_to_fd(
                vgem.as_fd(),
                dumb.handle,
                DRM_CLOEXEC | DRM_RDWR
            ));
            let before = base.now()?;
            // More files than DMA-API debugging takes mappings of the same pages at once (7):
            // the device imports the dma-buf once and every file gets a handle to that object.
            let mut files = Vec::new();
            for i in 0..12 {
                let dev = ok!(open_device());
                let h = ok!(dev.prime_fd_to_handle(fd.as_fd()), "import in file {i}");
                files.push((dev, h));
            }
            let after = base.now()?;
            igt::assert_eq!(
                after.bo_count,
                before.bo_count + 1,
                "12 files importing one dma-buf"
            );
            igt::assert_eq!(after.bo_bytes, before.bo_bytes + dumb.size);
            for (i, (dev, h)) in files.iter().enumerate() {
                expect(&ok!(dev.map(*h, size)), &want, &format!("file {i}"))?;
            }
            // A write through one file is what the others and the exporter see.
            let back = pattern(73, size);
            ok!(ok!(files[0].0.map(files[0].1, size)).write(0, &back));
            expect(&vmap, &back, "exporter after file 0 wrote")?;
            expect(&ok!(files[11].0.map(files[11].1, size)), &back, "file 11")?;
            // Closing the other files leaves the last one's import whole; a new file then
            // shares it too.
            let (last, lh) = files.pop().ok_or_else(|| igt::fail!("no file"))?;
            drop(files);
            expect(&ok!(last.map(lh, size)), &back, "last file")?;
            let late = ok!(open_device());
            let h = ok!(late.prime_fd_to_handle(fd.as_fd()), "late import");
            igt::assert_eq!(base.now()?.bo_count, before.bo_count + 1, "late import");
            expect(&ok!(late.map(h, size)), &back, "late file")?;
            drop((late, last, fd));
            ok!(drm::gem_close(vgem.as_fd(), dumb.handle));
            drop(vmap);
            base.check()
        });

        t.subtest("gaudi-to-vgem", || {
            let vgem = open_vgem()?;
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            for (i, kind) in [Kind::System, Kind::Wc].into_iter().enumerate() {
                let (bo, want) = filled(&dev, kind, 4 * page(), 80 + i as u32)?;
                let counters = ok!(dev.memory_info());
                let fd = export(&dev, bo.handle)?;
                let vh = ok!(
                    drm::prime_fd_to_handle(vgem.as_fd(), fd.as_fd()),
                    "vgem import of {kind:?}"
                );
                igt::assert_eq!(ok!(drm::prime_fd_to_handle(vgem.as_fd(), fd.as_fd())), vh);
                igt::assert_eq!(
                    ok!(dev.memory_info()),
                    counters,
                    "an export created an object"
                );
                // vgem's re-export is our dma-buf: it imports as our handle.
                let back = ok!(drm::prime_handle_to_fd(
                    vgem.as_fd(),
                    vh,
                    DRM_CLOEXEC | DRM_RDWR
                ));
                igt::assert_eq!(ok!(dev.prime_fd_to_handle(back.as_fd())), bo.handle);
                // The DRM core does not map imports through MAP_DUMB; where it does, the data
                // must be ours.
                match drm::map_dumb(vgem.as_fd(), vh) {
                    Ok(offset) => {
                        let vmap = ok!(Mapping::shared(vgem.as_fd(), offset, bo.len()));
                        expect(&vmap, &want, "vgem's mapping of the import")?;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                    Err(e) => return Err(igt::fail!("MAP_DUMB of an import: {e}")),
                }
                let dmap = ok!(Mapping::shared(back.as_fd(), 0, bo.len()));
                expect_synced(back.as_fd(), &dmap, &want, "vgem's dma-buf")?;
                let next = pattern(90 + i as u32, bo.len());
                write_synced(back.as_fd(), &dmap, &next)?;
                expect(
                    &ok!(dev.map_bo(&bo)),
                    &next,
                    "our mapping after a write through vgem's dma-buf",
                )?;
                // vgem's import keeps the object after our handle is gone.
                ok!(dev.gem_close(bo.handle));
                drop((fd, back));
                expect(&dmap, &next, "mapping after our close")?;
                drop(dmap);
                igt::assert_eq!(
                    base.now()?.bo_count,
                    base.start().bo_count + 1,
                    "freed under vgem's import"
                );
                ok!(drm::gem_close(vgem.as_fd(), vh));
                base.check()?;
            }
            drop(dev);
            base.check()
        });

        t.subtest("gaudi-to-vgem-device", || {
            let vgem = open_vgem()?;
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let (bo, want) = filled(&dev, Kind::Device, 2 * page(), 100)?;
            let counters = ok!(dev.memory_info());
            let fd = export(&dev, bo.handle)?;
            let e = errno(drm::prime_fd_to_handle(vgem.as_fd(), fd.as_fd()));
            igt::assert!(
                NO_P2P.contains(&e),
                "vgem import of device memory: errno {e}"
            );
            exporter_unaffected(&dev, &bo, fd.as_fd(), counters, &want, 101)?;
            // Failing again changes nothing either.
            let e = errno(drm::prime_fd_to_handle(vgem.as_fd(), fd.as_fd()));
            igt::assert!(NO_P2P.contains(&e), "second vgem import: errno {e}");
            ok!(dev.gem_close(bo.handle));
            drop((fd, dev));
            base.check()
        });

        t.subtest("udmabuf-to-gaudi", || {
            let udmabuf = match OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/udmabuf")
            {
                Ok(f) => f,
                // The test kernel has CONFIG_UDMABUF.
                Err(e) => return Err(igt::fail!("/dev/udmabuf: {e}")),
            };
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let size = 4 * page();
            // SAFETY: The name is a valid C string.
            let memfd = unsafe {
                libc::memfd_create(
                    c"gaudi-prime".as_ptr(),
                    libc::MFD_ALLOW_SEALING | libc::MFD_CLOEXEC,
                )
            };
            igt::assert!(memfd >= 0, "memfd_create");
            // SAFETY: memfd_create returned a new descriptor that nothing else owns.
            let memfd = unsafe { OwnedFd::from_raw_fd(memfd) };
            // SAFETY: Plain calls on a descriptor this test owns.
            unsafe {
                igt::assert_eq!(libc::ftruncate(memfd.as_raw_fd(), size as libc::off_t), 0);
                igt::assert_eq!(
                    libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK),
                    0
                );
            }
            let mmap = ok!(Mapping::shared(memfd.as_fd(), 0, size as usize));
            let want = pattern(110, size as usize);
            ok!(mmap.write(0, &want));
            /// `struct udmabuf_create`.
            #[repr(C)]
            struct UdmabufCreate {
                memfd: u32,
                flags: u32,
                offset: u64,
                size: u64,
            }
            const UDMABUF_FLAGS_CLOEXEC: u32 = 1;
            let mut create = UdmabufCreate {
                memfd: memfd.as_raw_fd() as u32,
                flags: UDMABUF_FLAGS_CLOEXEC,
                offset: 0,
                size,
            };
            let req = accel_igt::ioc(
                1,
                u32::from(b'u'),
                0x42,
                std::mem::size_of::<UdmabufCreate>(),
            );
            // SAFETY: `create` is a valid `struct udmabuf_create`; UDMABUF_CREATE only reads it.
            let fd = unsafe { libc::ioctl(udmabuf.as_raw_fd(), req as libc::c_ulong, &mut create) };
            igt::assert!(fd >= 0, "UDMABUF_CREATE: {}", io::Error::last_os_error());
            // SAFETY: UDMABUF_CREATE returned a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let h = check_foreign_import(&dev, fd.as_fd(), size, &mmap, &want, 111)?;
            drop(fd);
            ok!(dev.gem_close(h));
            drop((mmap, dev));
            base.check()
        });

        t.subtest("accel-to-accel", || cross_device(true));

        t.subtest("accel-from-accel", || cross_device(false));

        t.subtest("accel-to-accel-device", || {
            // The two devices share a PCI bridge (scripts/vm.sh): device memory is imported
            // peer-to-peer, and the import reads what the exporter wrote (gaudi_p2p tests the
            // devices' access and the topologies that refuse it).
            let other_path = other_device()?;
            let base = Baseline::of_device_under_test()?;
            let other_base = Baseline::new(&other_path)?;
            let dev = ok!(open_device());
            let other = ok!(Device::open(&other_path));
            let (bo, want) = filled(&dev, Kind::Device, 2 * page(), 160)?;
            let counters = ok!(dev.memory_info());
            let fd = export(&dev, bo.handle)?;
            let h = ok!(other.prime_fd_to_handle(fd.as_fd()), "peer-to-peer import");
            igt::assert_eq!(
                ok!(other.gem_info(h)).flags,
                DRM_GAUDI_BO_IMPORTED | DRM_GAUDI_BO_PEER,
                "flags of the import"
            );
            let imap = ok!(other.map_bo(&Bo {
                handle: h,
                size: 2 * page()
            }));
            expect(&imap, &want, "the import's mapping")?;
            drop(imap);
            ok!(other.gem_close(h));
            exporter_unaffected(&dev, &bo, fd.as_fd(), counters, &want, 163)?;
            ok!(dev.gem_close(bo.handle));
            drop((fd, dev, other));
            base.check()?;
            other_base.check()
        });
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_travel_over_sockets() {
        let (tx, rx) = socketpair().unwrap();
        let f = File::open("/dev/null").unwrap();
        send_fd(tx.as_fd(), f.as_fd()).unwrap();
        let got = recv_fd(rx.as_fd()).unwrap();
        assert_ne!(got.as_raw_fd(), f.as_raw_fd());
        let (a, b) = (
            std::fs::metadata("/proc/self/fd/".to_string() + &f.as_raw_fd().to_string()),
            std::fs::metadata("/proc/self/fd/".to_string() + &got.as_raw_fd().to_string()),
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(a.unwrap().rdev(), b.unwrap().rdev());
        // SAFETY: F_GETFD on a descriptor this test owns.
        assert_ne!(
            unsafe { libc::fcntl(got.as_raw_fd(), libc::F_GETFD) } & libc::FD_CLOEXEC,
            0
        );
    }

    #[test]
    fn halves() {
        let want = pattern(1, 10);
        let v = with_second_half(&want, 2);
        assert_eq!(v[..5], want[..5]);
        assert_eq!(v[5..], pattern(2, 5)[..]);
    }
}
