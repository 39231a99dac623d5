// SPDX-License-Identifier: GPL-2.0 OR MIT

//! `DRM_IOCTL_GAUDI_VM_BIND`: mapping buffer objects of every kind (system, WC, device
//! memory, imports from vgem and from the other gaudi device) into the client's device VM and
//! unmapping them, checked by the device itself (DMA through the mappings); overlaps, partial
//! unmaps and the holes they leave; hostile arguments; read-only mappings, which the device
//! cannot write; and an unmap that must wait for a running job that uses the range.
//!
//! Fixed addresses are taken from [`FIXED`] up, away from the library's VA allocator (which
//! places command buffers from the bottom of the window).

use std::{
    os::fd::AsFd,
    sync::atomic::{AtomicBool, Ordering},
};

use accel_igt::{
    errno,
    exec::{filled, run, run_ok, UserFence, DONE, SHORT},
    expect, ioctl_errno, ok, open_device, open_vgem, other_device_path, pattern, Baseline, Kind,
};
use gaudi::{
    cmdbuf::CommandBuffer,
    drm::{self, DRM_CLOEXEC, DRM_RDWR},
    hw::queue::{ACCESS_READ, ACCESS_WRITE},
    uapi::{
        self, drm_gaudi_vm_bind, DRM_GAUDI_ERR_MMU_FAULT, DRM_GAUDI_VA_END, DRM_GAUDI_VA_START,
        DRM_GAUDI_VM_BIND_OP_MAP, DRM_GAUDI_VM_BIND_OP_UNMAP, DRM_GAUDI_VM_BIND_READONLY,
    },
    Bo, Context, Device, Priority,
};

/// The VM page.
const P: u64 = uapi::DRM_GAUDI_VM_PAGE_SIZE;
/// Where the tests place mappings at fixed addresses.
const FIXED: u64 = 1 << 40;
const BIND: u32 = uapi::DRM_IOCTL_GAUDI_VM_BIND;

/// `DRM_IOCTL_GAUDI_VM_BIND` with `b` as given; the errno or 0.
fn bind_errno(dev: &Device, mut b: drm_gaudi_vm_bind) -> i32 {
    ioctl_errno(dev.as_fd(), BIND, &mut b)
}

fn map_arg(handle: u32, bo_offset: u64, va: u64, size: u64) -> drm_gaudi_vm_bind {
    drm_gaudi_vm_bind {
        op: DRM_GAUDI_VM_BIND_OP_MAP,
        handle,
        bo_offset,
        va,
        size,
        ..Default::default()
    }
}

fn unmap_arg(va: u64, size: u64) -> drm_gaudi_vm_bind {
    drm_gaudi_vm_bind {
        op: DRM_GAUDI_VM_BIND_OP_UNMAP,
        va,
        size,
        ..Default::default()
    }
}

/// Fills [`va`, `va + size`) with `value` by DMA on a new context of `dev`; returns the job's
/// fence status.
fn device_fill(dev: &Device, va: u64, size: u64, value: u32) -> igt::Result<i32> {
    let ctx = ok!(Context::new(dev, Priority::Normal));
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_fill(va, size, value));
    run(&ctx, &cb, &[])
}

/// Creates an object of `kind` holding `seed`'s pattern.
fn object(dev: &Device, kind: Kind, pages: u64, seed: u32) -> igt::Result<(Bo, Vec<u8>)> {
    let bo = ok!(dev.gem_create(pages * P, kind.flags()), "create {kind:?}");
    let want = pattern(seed, bo.len());
    ok!(ok!(dev.map_bo(&bo)).write(0, &want));
    Ok((bo, want))
}

/// Maps pages 1..3 of a 4-page object of `kind` at [`FIXED`], fills them by DMA, and checks
/// that exactly those pages changed; then the range is free again after the unmap.
fn bind_kind(kind: Kind) -> igt::Result {
    let base = Baseline::of_device_under_test()?;
    let dev = ok!(open_device());
    let (bo, mut want) = object(&dev, kind, 4, 1)?;
    ok!(dev.vm_bind_map(bo.handle, P, FIXED, 2 * P, false));
    igt::assert_eq!(
        errno(dev.vm_bind_map(bo.handle, P, FIXED, 2 * P, false)),
        libc::EEXIST,
        "the same range twice"
    );
    igt::assert_eq!(device_fill(&dev, FIXED, 2 * P, 0x5a5a_0001)?, DONE);
    want[P as usize..3 * P as usize].copy_from_slice(&filled(0x5a5a_0001, 2 * P as usize));
    expect(&ok!(dev.map_bo(&bo)), &want, "object after the DMA")?;
    ok!(dev.vm_bind_unmap(FIXED, 2 * P));
    // Mapped elsewhere from another offset, with the whole object, and past its end.
    ok!(dev.vm_bind_map(bo.handle, 0, FIXED, 4 * P, false));
    ok!(dev.vm_bind_unmap(FIXED, 4 * P));
    igt::assert_eq!(
        errno(dev.vm_bind_map(bo.handle, P, FIXED, 4 * P, false)),
        libc::EINVAL,
        "range past the end of the object"
    );
    igt::assert_eq!(
        errno(dev.vm_bind_map(bo.handle, 4 * P, FIXED, P, false)),
        libc::EINVAL,
        "offset at the end of the object"
    );
    // The mapping keeps the object: close the handle, the device still writes it.
    let map = ok!(dev.map_bo(&bo));
    ok!(dev.vm_bind_map(bo.handle, 0, FIXED + 8 * P, 4 * P, false));
    ok!(dev.gem_close(bo.handle));
    igt::assert_eq!(device_fill(&dev, FIXED + 8 * P, P, 0x5a5a_0002)?, DONE);
    want[..P as usize].copy_from_slice(&filled(0x5a5a_0002, P as usize));
    expect(
        &map,
        &want,
        "object written through a mapping that outlived its handle",
    )?;
    ok!(dev.vm_bind_unmap(FIXED + 8 * P, 4 * P));
    drop((map, dev));
    base.check()
}

/// Imports `fd` (a dma-buf of `size` bytes whose exporter maps it as `exporter_map`), binds
/// it and fills its second page by DMA; the exporter sees the data.
fn bind_import(
    dev: &Device,
    fd: std::os::fd::BorrowedFd<'_>,
    exporter_map: &gaudi::Mapping,
) -> igt::Result {
    let size = exporter_map.len() as u64;
    let h = ok!(dev.prime_fd_to_handle(fd), "import");
    let info = ok!(dev.gem_info(h));
    igt::assert!(
        info.flags & uapi::DRM_GAUDI_BO_IMPORTED != 0,
        "flags {:#x}",
        info.flags
    );
    let mut want = ok!(exporter_map.to_vec());
    ok!(dev.vm_bind_map(h, 0, FIXED, size, false));
    igt::assert_eq!(device_fill(dev, FIXED + P, P, 0x1e1e_0003)?, DONE);
    want[P as usize..2 * P as usize].copy_from_slice(&filled(0x1e1e_0003, P as usize));
    expect(exporter_map, &want, "exporter's mapping after the DMA")?;
    ok!(dev.vm_bind_unmap(FIXED, size));
    ok!(dev.gem_close(h));
    Ok(())
}

fn main() {
    igt::main(|t| {
        for kind in Kind::ALL {
            t.subtest(&format!("bind-{}", kind.name()), move || bind_kind(kind));
        }

        t.subtest("bind-vgem-import", || {
            let vgem = open_vgem()?;
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let dumb = ok!(drm::create_dumb_bytes(vgem.as_fd(), 3 * P));
            let offset = ok!(drm::map_dumb(vgem.as_fd(), dumb.handle));
            let vmap = ok!(gaudi::Mapping::shared(
                vgem.as_fd(),
                offset,
                dumb.size as usize
            ));
            ok!(vmap.write(0, &pattern(4, vmap.len())));
            let fd = ok!(drm::prime_handle_to_fd(
                vgem.as_fd(),
                dumb.handle,
                DRM_CLOEXEC | DRM_RDWR
            ));
            bind_import(&dev, fd.as_fd(), &vmap)?;
            drop((fd, vmap));
            ok!(drm::gem_close(vgem.as_fd(), dumb.handle));
            drop(dev);
            base.check()
        });

        t.subtest("bind-other-device-import", || {
            let other_path = other_device_path()?;
            let base = Baseline::of_device_under_test()?;
            let other_base = Baseline::new(&other_path)?;
            let dev = ok!(open_device());
            let other = ok!(Device::open(&other_path));
            for (i, kind) in [Kind::System, Kind::Wc].into_iter().enumerate() {
                let (bo, _) = object(&other, kind, 3, 5 + i as u32)?;
                let omap = ok!(other.map_bo(&bo));
                let fd = ok!(other.prime_handle_to_fd(bo.handle, DRM_CLOEXEC | DRM_RDWR));
                bind_import(&dev, fd.as_fd(), &omap)?;
                ok!(other.gem_close(bo.handle));
            }
            drop((dev, other));
            base.check()?;
            other_base.check()
        });

        t.subtest("overlaps", || {
            let dev = ok!(open_device());
            let a = ok!(dev.gem_create(8 * P, 0));
            ok!(dev.vm_bind_map(a.handle, 0, FIXED + 2 * P, 4 * P, false));
            for (what, va, size) in [
                ("same range", FIXED + 2 * P, 4 * P),
                ("overlapping the start", FIXED, 3 * P),
                ("overlapping the end", FIXED + 5 * P, 2 * P),
                ("inside", FIXED + 3 * P, P),
                ("around", FIXED, 8 * P),
            ] {
                igt::assert_eq!(
                    errno(dev.vm_bind_map(a.handle, 0, va, size, false)),
                    libc::EEXIST,
                    "{what}"
                );
            }
            // Adjacent ranges are free.
            ok!(dev.vm_bind_map(a.handle, 0, FIXED, 2 * P, false));
            ok!(dev.vm_bind_map(a.handle, 0, FIXED + 6 * P, 2 * P, true));
            // An unmap of a range without mappings succeeds.
            ok!(dev.vm_bind_unmap(FIXED + 64 * P, 4 * P));
            ok!(dev.vm_bind_unmap(FIXED, 8 * P));
            ok!(dev.vm_bind_map(a.handle, 0, FIXED, 8 * P, false));
            ok!(dev.vm_bind_unmap(FIXED, 8 * P));
            Ok(())
        });

        t.subtest("partial-unmap", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let (a, mut want_a) = object(&dev, Kind::System, 4, 6)?;
            let (b, mut want_b) = object(&dev, Kind::Device, 2, 7)?;
            ok!(dev.vm_bind_map(a.handle, 0, FIXED, 4 * P, false));
            // Punch a hole in the middle: the two ends stay mapped.
            ok!(dev.vm_bind_unmap(FIXED + P, 2 * P));
            igt::assert_eq!(
                errno(dev.vm_bind_map(b.handle, 0, FIXED, 2 * P, false)),
                libc::EEXIST,
                "the first page is still mapped"
            );
            igt::assert_eq!(
                errno(dev.vm_bind_map(b.handle, 0, FIXED + 2 * P, 2 * P, false)),
                libc::EEXIST,
                "the last page is still mapped"
            );
            ok!(
                dev.vm_bind_map(b.handle, 0, FIXED + P, 2 * P, false),
                "map the hole"
            );
            // One DMA over the four pages: a's ends, b in the middle.
            igt::assert_eq!(device_fill(&dev, FIXED, 4 * P, 0x0bad_cafe)?, DONE);
            let one = filled(0x0bad_cafe, P as usize);
            want_a[..P as usize].copy_from_slice(&one);
            want_a[3 * P as usize..].copy_from_slice(&one);
            want_b.copy_from_slice(&filled(0x0bad_cafe, 2 * P as usize));
            expect(&ok!(dev.map_bo(&a)), &want_a, "a")?;
            expect(&ok!(dev.map_bo(&b)), &want_b, "b")?;
            // Unmapping across mapping boundaries splits and removes them all.
            ok!(dev.vm_bind_unmap(FIXED + P, 2 * P));
            ok!(dev.vm_bind_map(b.handle, 0, FIXED + P, 2 * P, false));
            ok!(dev.vm_bind_unmap(FIXED, 4 * P));
            ok!(dev.vm_bind_map(a.handle, 0, FIXED, 4 * P, false));
            ok!(dev.vm_bind_unmap(FIXED, 4 * P));
            drop(dev);
            base.check()
        });

        t.subtest("invalid-ranges", || {
            let dev = ok!(open_device());
            let bo = ok!(dev.gem_create(4 * P, 0));
            let h = bo.handle;
            let start = DRM_GAUDI_VA_START;
            let end = DRM_GAUDI_VA_END;
            for (what, off, va, size) in [
                ("misaligned va", 0, FIXED + 8, P),
                ("misaligned offset", 8, FIXED, P),
                ("misaligned size", 0, FIXED, P + 8),
                ("size 0", 0, FIXED, 0),
                ("below the window", 0, start - P, P),
                ("address 0", 0, 0, P),
                ("straddling the start", 0, start - P, 2 * P),
                ("past the window", 0, end, P),
                ("straddling the end", 0, end - P, 2 * P),
                ("wrapping", 0, end - P, 0u64.wrapping_sub(end - 2 * P)),
                ("huge size", 0, FIXED, !(P - 1)),
            ] {
                igt::assert_eq!(
                    bind_errno(&dev, map_arg(h, off, va, size)),
                    libc::EINVAL,
                    "map: {what}"
                );
                if off == 0 {
                    igt::assert_eq!(
                        bind_errno(&dev, unmap_arg(va, size)),
                        libc::EINVAL,
                        "unmap: {what}"
                    );
                }
            }
            // The edges of the window themselves are fine.
            ok!(
                dev.vm_bind_map(h, 0, start, P, false),
                "first page of the window"
            );
            ok!(
                dev.vm_bind_map(h, 0, end - P, P, false),
                "last page of the window"
            );
            ok!(dev.vm_bind_unmap(start, P));
            ok!(dev.vm_bind_unmap(end - P, P));
            Ok(())
        });

        t.subtest("invalid-op-flags-pad", || {
            let dev = ok!(open_device());
            let bo = ok!(dev.gem_create(P, 0));
            let good = map_arg(bo.handle, 0, FIXED, P);
            for op in [2, 3, 0x100, u32::MAX] {
                let e = bind_errno(&dev, drm_gaudi_vm_bind { op, ..good });
                igt::assert_eq!(e, libc::EINVAL, "op {op}");
            }
            for bit in 1..32 {
                let e = bind_errno(
                    &dev,
                    drm_gaudi_vm_bind {
                        flags: 1 << bit,
                        ..good
                    },
                );
                igt::assert_eq!(e, libc::EINVAL, "map flag bit {bit}");
            }
            igt::assert_eq!(
                bind_errno(&dev, drm_gaudi_vm_bind { pad: 1, ..good }),
                libc::EINVAL,
                "map with padding"
            );
            let unmap = unmap_arg(FIXED, P);
            for (what, arg) in [
                (
                    "READONLY",
                    drm_gaudi_vm_bind {
                        flags: DRM_GAUDI_VM_BIND_READONLY,
                        ..unmap
                    },
                ),
                (
                    "a handle",
                    drm_gaudi_vm_bind {
                        handle: bo.handle,
                        ..unmap
                    },
                ),
                (
                    "an offset",
                    drm_gaudi_vm_bind {
                        bo_offset: P,
                        ..unmap
                    },
                ),
                ("padding", drm_gaudi_vm_bind { pad: 1, ..unmap }),
            ] {
                igt::assert_eq!(bind_errno(&dev, arg), libc::EINVAL, "unmap with {what}");
            }
            // Nothing was mapped by the failures.
            ok!(dev.vm_bind_map(bo.handle, 0, FIXED, P, false));
            ok!(dev.vm_bind_unmap(FIXED, P));
            Ok(())
        });

        t.subtest("invalid-handles", || {
            let dev = ok!(open_device());
            let closed = ok!(dev.gem_create(P, 0));
            ok!(dev.gem_close(closed.handle));
            for h in [0, closed.handle, closed.handle + 100, u32::MAX] {
                igt::assert_eq!(
                    errno(dev.vm_bind_map(h, 0, FIXED, P, false)),
                    libc::ENOENT,
                    "handle {h}"
                );
            }
            // Another client's handle means nothing here, even when the number exists in
            // neither or both files.
            let other = ok!(open_device());
            let theirs = ok!(other.gem_create(2 * P, 0));
            let mine = ok!(dev.gem_create(P, 0));
            if theirs.handle != mine.handle {
                igt::assert_eq!(
                    errno(dev.vm_bind_map(theirs.handle, 0, FIXED, 2 * P, false)),
                    libc::ENOENT,
                    "the other client's handle"
                );
            }
            // Their VM is theirs too: the same address is free in both.
            ok!(other.vm_bind_map(theirs.handle, 0, FIXED, 2 * P, false));
            ok!(dev.vm_bind_map(mine.handle, 0, FIXED, P, false));
            Ok(())
        });

        t.subtest("read-only", || {
            let dev = ok!(open_device());
            let (ro, want) = object(&dev, Kind::System, 2, 8)?;
            let rw = ok!(dev.gem_create(2 * P, 0));
            ok!(dev.vm_bind_map(ro.handle, 0, FIXED, 2 * P, true));
            ok!(dev.vm_bind_map(rw.handle, 0, FIXED + 4 * P, 2 * P, false));
            // The device reads a read-only mapping.
            let ctx = ok!(Context::new(&dev, Priority::Normal));
            let mut cb = CommandBuffer::new();
            ok!(cb.dma_copy(FIXED, FIXED + 4 * P, 2 * P));
            run_ok(&ctx, &cb, &[(ro.handle, false), (rw.handle, true)])?;
            expect(&ok!(dev.map_bo(&rw)), &want, "copy of the read-only object")?;
            // It cannot write it: the job fails, the context is banned and says why.
            let bad = ok!(Context::new(&dev, Priority::Normal));
            let target = FIXED + P + 0x100;
            let mut cb = CommandBuffer::new();
            ok!(cb.dma_fill(target, 64, 0xffff_ffff));
            let status = run(&bad, &cb, &[(ro.handle, true)])?;
            igt::assert_eq!(
                status,
                -libc::EIO,
                "fence status of a write to a read-only page"
            );
            let s = ok!(bad.query());
            igt::assert!(s.banned, "{s:?}");
            igt::assert_eq!(s.error, DRM_GAUDI_ERR_MMU_FAULT, "{s:?}");
            igt::assert!(
                (FIXED + P..FIXED + 2 * P).contains(&s.fault_addr),
                "fault address {:#x}, wrote at {target:#x}",
                s.fault_addr
            );
            igt::assert_eq!(s.fault_access, ACCESS_WRITE, "{s:?}");
            igt::assert_ne!(s.error_seqno, 0, "{s:?}");
            expect(
                &ok!(dev.map_bo(&ro)),
                &want,
                "read-only object after the write",
            )?;
            // The first context was not affected.
            igt::assert!(!ok!(ctx.query()).banned);
            run_ok(&ctx, &cb_fill(FIXED + 4 * P, P)?, &[(rw.handle, true)])?;
            Ok(())
        });

        t.subtest("unmapped-access", || {
            let dev = ok!(open_device());
            let ctx = ok!(Context::new(&dev, Priority::Normal));
            let bo = ok!(dev.gem_create(P, 0));
            ok!(dev.vm_bind_map(bo.handle, 0, FIXED, P, false));
            // A read of the page after the mapping.
            let mut cb = CommandBuffer::new();
            ok!(cb.dma_copy(FIXED + P, FIXED, 16));
            igt::assert_eq!(run(&ctx, &cb, &[])?, -libc::EIO);
            let s = ok!(ctx.query());
            igt::assert_eq!(s.error, DRM_GAUDI_ERR_MMU_FAULT, "{s:?}");
            igt::assert_eq!(s.fault_addr, FIXED + P, "{s:?}");
            igt::assert_eq!(s.fault_access, ACCESS_READ, "{s:?}");
            // After an unmap the range faults too.
            ok!(dev.vm_bind_unmap(FIXED, P));
            let ctx = ok!(Context::new(&dev, Priority::Normal));
            igt::assert_eq!(
                device_fill(&dev, FIXED, P, 1)?,
                -libc::EIO,
                "fill after unmap"
            );
            igt::assert_eq!(run(&ctx, &cb_fill(FIXED, 4)?, &[])?, -libc::EIO);
            let s = ok!(ctx.query());
            igt::assert_eq!(
                (s.fault_addr, s.fault_access),
                (FIXED, ACCESS_WRITE),
                "{s:?}"
            );
            Ok(())
        });

        t.subtest("unmap-waits-for-job", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let fence = UserFence::new(&dev)?;
            let target = ok!(dev.gem_create(2 * P, Kind::Device.flags()));
            let map = ok!(dev.map_bo(&target));
            ok!(dev.vm_bind_map(target.handle, 0, FIXED, 2 * P, false));
            let ctx = ok!(Context::new(&dev, Priority::Normal));
            let mut cb = CommandBuffer::new();
            fence.wait(&mut cb, 1)?;
            ok!(cb.dma_fill(FIXED, 2 * P, 0x600d_f00d));
            let up = ok!(cb.upload(&dev));
            let done = accel_igt::exec::Syncobj::new(&dev)?;
            let job = up.job(&ctx).write(target.handle).signal(done.handle, 0);
            ok!(dev.submit(&job));
            let unmapped = AtomicBool::new(false);
            std::thread::scope(|s| -> igt::Result {
                let t = s.spawn(|| {
                    let r = dev.vm_bind_unmap(FIXED, 2 * P);
                    unmapped.store(true, Ordering::SeqCst);
                    r
                });
                std::thread::sleep(SHORT);
                let early = unmapped.load(Ordering::SeqCst);
                // Release the job whatever happened, so that nothing hangs.
                fence.release(1)?;
                let r = t.join().map_err(|_| igt::fail!("unmap thread panicked"))?;
                ok!(r, "unmap");
                igt::assert!(!early, "the unmap returned while the job was waiting");
                Ok(())
            })?;
            done.wait(0)?;
            igt::assert_eq!(done.status()?, DONE, "the job");
            expect(
                &map,
                &filled(0x600d_f00d, 2 * P as usize),
                "data of the job",
            )?;
            ok!(dev.gem_close(target.handle));
            drop((map, up, done, fence, ctx));
            drop(dev);
            base.check()
        });

        t.subtest("file-close-releases", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            for (i, kind) in Kind::ALL.into_iter().enumerate() {
                let bo = ok!(dev.gem_create(2 * P, kind.flags()));
                ok!(dev.vm_bind_map(bo.handle, 0, FIXED + 4 * i as u64 * P, 2 * P, i == 1));
                ok!(dev.gem_close(bo.handle));
            }
            igt::assert_eq!(
                base.now()?.bo_count,
                base.start().bo_count + 3,
                "mapped objects freed while mapped"
            );
            drop(dev);
            base.check()
        });
    })
}

/// A command buffer that fills `size` bytes at `va` with ones.
fn cb_fill(va: u64, size: u64) -> igt::Result<CommandBuffer> {
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_fill(va, size, 1));
    Ok(cb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills() {
        assert_eq!(filled(0x0403_0201, 6), [1, 2, 3, 4, 1, 2]);
        assert_eq!(map_arg(1, 2, 3, 4).op, DRM_GAUDI_VM_BIND_OP_MAP);
        assert_eq!(unmap_arg(3, 4).handle, 0);
    }
}
