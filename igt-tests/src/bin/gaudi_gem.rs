// SPDX-License-Identifier: GPL-2.0 OR MIT

//! `DRM_IOCTL_GAUDI_GEM_*`: creating, describing, mapping and closing buffer objects in system
//! and device memory, their lifetimes (mappings, `fork()`, closed files), the accounting of
//! `DRM_GAUDI_QUERY_MEMORY`, device-memory exhaustion and hostile arguments.
//!
//! Every subtest opens its own files and checks at its end that the memory counters of the
//! device are back where they started.

use std::os::fd::AsFd;

use accel_igt::{
    errno, expect, first_mismatch, in_child, ioctl_errno, ioctl_ptr_errno, ok, open_device,
    page_size, pattern, unmapped_address, Baseline, Kind, Mapping,
};
use gaudi::{
    uapi::{
        self, drm_gaudi_gem_create, drm_gaudi_gem_info, drm_gaudi_gem_mmap_offset,
        DRM_GAUDI_BO_DEVICE, DRM_GAUDI_BO_IMPORTED, DRM_GAUDI_BO_WC,
    },
    Bo, Device,
};

const MIB: u64 = 1 << 20;
const CREATE: u32 = uapi::DRM_IOCTL_GAUDI_GEM_CREATE;
const INFO: u32 = uapi::DRM_IOCTL_GAUDI_GEM_INFO;
const MMAP_OFFSET: u32 = uapi::DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET;

fn page() -> u64 {
    page_size() as u64
}

/// The largest page multiple: the largest size whose rounding does not overflow.
fn largest_aligned() -> u64 {
    u64::MAX - (page() - 1)
}

/// Writes `seed`'s pattern over the whole mapping and checks that it reads back.
fn fill_and_check(map: &Mapping, seed: u32) -> igt::Result<Vec<u8>> {
    let want = pattern(seed, map.len());
    ok!(map.write(0, &want));
    expect(map, &want, "read back")?;
    Ok(want)
}

/// A read-only page holding `arg`: the kernel can read the argument but not write it back.
fn read_only_arg<T: Copy>(arg: T) -> igt::Result<Mapping> {
    let len = page_size();
    igt::assert!(std::mem::size_of::<T>() <= len);
    let m = ok!(Mapping::anonymous(len, libc::PROT_READ | libc::PROT_WRITE));
    // SAFETY: The mapping is writable and larger than `T`.
    unsafe { std::ptr::write_unaligned(m.as_ptr().cast::<T>(), arg) };
    // SAFETY: Changes the protection of a mapping this function owns; nothing writes to it
    // afterwards.
    let r = unsafe { libc::mprotect(m.as_ptr().cast(), len, libc::PROT_READ) };
    igt::assert_eq!(r, 0, "mprotect");
    Ok(m)
}

/// Device memory free at the start of a test; fails if there is less than `need` (every test
/// returns what it takes: less free memory at the start is a leak of an earlier test).
fn require_device_memory(dev: &Device, need: u64) -> igt::Result<u64> {
    let mem = ok!(dev.memory_info());
    igt::assert!(
        mem.dram_free >= need,
        "{} bytes of device memory free, {need} needed",
        mem.dram_free
    );
    Ok(mem.dram_free)
}

/// Create, describe, map, write, read back and close objects of several sizes.
fn basic(kind: Kind) -> igt::Result {
    let base = Baseline::of_device_under_test()?;
    let dev = ok!(open_device());
    let page = page();
    let sizes = [page, 1, page + 1, 3 * page + 5, 2 * page, 17 * page - 1];
    let mut bos = Vec::new();
    for size in sizes {
        let bo = ok!(dev.gem_create(size, kind.flags()), "create {size} bytes");
        igt::assert_ne!(bo.handle, 0);
        igt::assert_eq!(
            bo.size,
            size.div_ceil(page) * page,
            "rounded size of {size}"
        );
        bos.push(bo);
    }
    let mut offsets = Vec::new();
    for (i, bo) in bos.iter().enumerate() {
        let info = ok!(dev.gem_info(bo.handle));
        igt::assert_eq!(info.size, bo.size);
        igt::assert_eq!(info.flags, kind.flags());
        let offset = ok!(dev.gem_mmap_offset(bo.handle));
        igt::assert_eq!(offset % page, 0);
        igt::assert_eq!(
            ok!(dev.gem_mmap_offset(bo.handle)),
            offset,
            "offset changed"
        );
        offsets.push(offset);
        let map = ok!(dev.map_bo(bo));
        let fresh = ok!(map.to_vec());
        igt::assert!(fresh.iter().all(|b| *b == 0), "new object not zeroed");
        let want = fill_and_check(&map, i as u32 + 1)?;
        // A second mapping shows the same memory.
        let again = ok!(dev.map_bo(bo));
        expect(&again, &want, "second mapping")?;
        // So does a mapping of the first page only.
        let first = ok!(dev.map(bo.handle, page as usize));
        expect(&first, &want[..page as usize], "mapping of the first page")?;
    }
    let mut handles: Vec<u32> = bos.iter().map(|b| b.handle).collect();
    handles.sort_unstable();
    handles.dedup();
    igt::assert_eq!(handles.len(), bos.len(), "handles are not distinct");
    offsets.sort_unstable();
    offsets.dedup();
    igt::assert_eq!(offsets.len(), bos.len(), "mmap offsets are not distinct");
    for bo in &bos {
        ok!(dev.gem_close(bo.handle));
        igt::assert_eq!(errno(dev.gem_info(bo.handle)), libc::ENOENT);
    }
    if kind == Kind::Device {
        // WC is implied for device memory; asking for it as well is allowed.
        let bo = ok!(dev.gem_create(page, DRM_GAUDI_BO_WC | DRM_GAUDI_BO_DEVICE));
        let info = ok!(dev.gem_info(bo.handle));
        igt::assert!(
            info.flags & DRM_GAUDI_BO_DEVICE != 0,
            "flags {:#x}",
            info.flags
        );
        igt::assert_eq!(info.flags & DRM_GAUDI_BO_IMPORTED, 0);
        ok!(dev.gem_close(bo.handle));
    }
    drop(dev);
    base.check()
}

/// One large object, written and read back in full.
fn large(kind: Kind, size: u64) -> igt::Result {
    let base = Baseline::of_device_under_test()?;
    let dev = ok!(open_device());
    let bo = ok!(dev.gem_create(size, kind.flags()));
    igt::assert_eq!(bo.size, size);
    let map = ok!(dev.map_bo(&bo));
    let want = fill_and_check(&map, 0x1a26e)?;
    drop(map);
    // A new mapping after the first is gone still sees the data.
    let map = ok!(dev.map_bo(&bo));
    expect(&map, &want, "new mapping")?;
    drop(map);
    ok!(dev.gem_close(bo.handle));
    drop(dev);
    base.check()
}

/// `n` one-page objects with `flags(i)`, alive together: distinct handles, counted, each with
/// its own memory; all freed when closed.
fn many_objects(n: u64, flags: impl Fn(u64) -> u32) -> igt::Result {
    let base = Baseline::of_device_under_test()?;
    let start = base.start();
    let dev = ok!(open_device());
    let page = page();
    let mut bos: Vec<Bo> = Vec::new();
    let mut device = 0;
    for i in 0..n {
        bos.push(ok!(dev.gem_create(page, flags(i)), "object {i}"));
        if flags(i) & DRM_GAUDI_BO_DEVICE != 0 {
            device += 1;
        }
    }
    let mem = ok!(dev.memory_info());
    igt::assert_eq!(mem.bo_count, start.bo_count + n);
    igt::assert_eq!(mem.bo_bytes, start.bo_bytes + n * page);
    igt::assert_eq!(mem.dram_free, start.dram_free - device * page);
    let mut handles: Vec<u32> = bos.iter().map(|b| b.handle).collect();
    handles.sort_unstable();
    handles.dedup();
    igt::assert_eq!(handles.len() as u64, n, "duplicate handles");
    for (i, bo) in bos.iter().enumerate() {
        ok!(ok!(dev.map_bo(bo)).write(0, &(i as u32).to_le_bytes()));
    }
    for (i, bo) in bos.iter().enumerate() {
        let mut got = [0u8; 4];
        ok!(ok!(dev.map_bo(bo)).read(0, &mut got));
        let h = bo.handle;
        igt::assert_eq!(u32::from_le_bytes(got), i as u32, "object {i} (handle {h})");
    }
    for bo in &bos {
        ok!(dev.gem_close(bo.handle));
    }
    drop(dev);
    base.check()
}

/// GEM_CREATE that must fail with `want` and write nothing back.
fn create_fails(dev: &Device, size: u64, flags: u32, want: i32) -> igt::Result {
    let mut c = drm_gaudi_gem_create {
        size,
        flags,
        handle: 0xdead_beef,
    };
    let e = ioctl_errno(dev.as_fd(), CREATE, &mut c);
    igt::assert_eq!(e, want, "size {size:#x} flags {flags:#x}");
    igt::assert_eq!(c.size, size, "size written back on failure");
    igt::assert_eq!(c.handle, 0xdead_beef, "handle written back on failure");
    Ok(())
}

/// sysfs directory of the gaudi PCI driver, whose `bind` and `unbind` files (re)attach a
/// function.
const PCI_DRIVER: &str = "/sys/bus/pci/drivers/gaudi";

/// Attaches (`bind`) or detaches (`unbind`) the PCI function `pci` to or from the driver.
fn pci_driver_op(op: &str, pci: &str) -> std::io::Result<()> {
    std::fs::write(format!("{PCI_DRIVER}/{op}"), pci)
}

/// Reads the first byte of `map` in a child process and returns the signal that killed the
/// child, or `None` if the read succeeded.
fn touch_in_child(map: &Mapping) -> igt::Result<Option<i32>> {
    let ptr = map.as_ptr();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: The test process is single-threaded; the child only reads and exits.
    let pid = unsafe { libc::fork() };
    igt::assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: Plain system calls on memory this child owns; the mapping is shared with the
        // parent and valid (the kernel decides whether the read faults).
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            std::hint::black_box(ptr.read_volatile());
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is valid for writes.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    igt::assert_eq!(r, pid, "waitpid: {}", std::io::Error::last_os_error());
    if libc::WIFSIGNALED(status) {
        Ok(Some(libc::WTERMSIG(status)))
    } else {
        igt::assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child wait status {status:#x}"
        );
        Ok(None)
    }
}

/// Makes objects, mappings and a dma-buf of device memory on `dev`, unbinds its PCI function
/// `pci`, and checks what must fail and what must still work while it is unbound.
fn while_unbound(dev: &Device, pci: &str) -> igt::Result {
    let page = page();
    let len = 4 * page;
    let vram = ok!(dev.gem_create(len, DRM_GAUDI_BO_DEVICE));
    let vram_offset = ok!(dev.gem_mmap_offset(vram.handle));
    let vram_map = ok!(dev.map_bo(&vram));
    let vram_data = fill_and_check(&vram_map, 0x0b1d)?;
    let dma_buf =
        ok!(dev.prime_handle_to_fd(vram.handle, gaudi::drm::DRM_CLOEXEC | gaudi::drm::DRM_RDWR));
    let dma_buf_map = ok!(Mapping::shared(dma_buf.as_fd(), 0, len as usize));
    expect(
        &dma_buf_map,
        &vram_data,
        "dma-buf mapping before the unbind",
    )?;
    let sys = ok!(dev.gem_create(len, 0));
    let sys_map = ok!(dev.map_bo(&sys));
    let sys_data = fill_and_check(&sys_map, 0x5575)?;
    // Before the unbind, a child process reaches device memory through both mappings.
    igt::assert_eq!(
        touch_in_child(&vram_map)?,
        None,
        "device mapping before the unbind"
    );
    igt::assert_eq!(
        touch_in_child(&dma_buf_map)?,
        None,
        "dma-buf mapping before the unbind"
    );

    ok!(pci_driver_op("unbind", pci), "unbind {pci}");

    // The driver's ioctls and the DRM core's fail: the device is gone.
    igt::assert_eq!(
        errno(dev.memory_info()),
        libc::ENODEV,
        "QUERY after the unbind"
    );
    igt::assert_eq!(
        errno(dev.gem_create(page, DRM_GAUDI_BO_DEVICE)),
        libc::ENODEV,
        "GEM_CREATE after the unbind"
    );
    igt::assert_eq!(
        errno(dev.gem_mmap_offset(vram.handle)),
        libc::ENODEV,
        "GEM_MMAP_OFFSET after the unbind"
    );
    igt::assert_eq!(
        errno(dev.prime_handle_to_fd(vram.handle, gaudi::drm::DRM_CLOEXEC)),
        libc::ENODEV,
        "PRIME export after the unbind"
    );
    // No new CPU mapping of device memory: neither through the fake offset nor the dma-buf.
    igt::assert_eq!(
        errno(Mapping::shared(dev.as_fd(), vram_offset, len as usize)),
        libc::ENODEV,
        "mmap of the fake offset after the unbind"
    );
    igt::assert_eq!(
        errno(Mapping::shared(dma_buf.as_fd(), 0, len as usize)),
        libc::ENODEV,
        "mmap of the dma-buf after the unbind"
    );
    // No new importer: attaching fails with ENODEV rather than with the usual lack of
    // peer-to-peer support.
    let others = accel_igt::other_device_paths();
    igt::assert!(
        !others.is_empty(),
        "no second gaudi device: the suite runs with two"
    );
    for other in others {
        let importer = ok!(Device::open(&other));
        igt::assert_eq!(
            errno(importer.prime_fd_to_handle(dma_buf.as_fd())),
            libc::ENODEV,
            "import into {} after the unbind",
            other.display()
        );
    }
    let vgem = accel_igt::open_vgem()?;
    igt::assert_eq!(
        errno(gaudi::drm::prime_fd_to_handle(
            vgem.as_fd(),
            dma_buf.as_fd()
        )),
        libc::ENODEV,
        "import into vgem after the unbind"
    );
    // The old mappings of device memory are gone: touching them raises SIGBUS instead of
    // reaching the BAR of a device the driver no longer owns.
    igt::assert_eq!(
        touch_in_child(&vram_map)?,
        Some(libc::SIGBUS),
        "device-memory mapping after the unbind"
    );
    igt::assert_eq!(
        touch_in_child(&dma_buf_map)?,
        Some(libc::SIGBUS),
        "dma-buf mapping of device memory after the unbind"
    );
    // System memory does not depend on the device: its mapping keeps its data.
    expect(
        &sys_map,
        &sys_data,
        "system-memory mapping after the unbind",
    )?;
    Ok(())
}

/// Unbinds the PCI function of the device under test with objects, mappings and a dma-buf of
/// device memory alive, checks that nothing reaches the device any more, then binds it again
/// and checks that the new device works, under the same node.
fn unbind_rebind() -> igt::Result {
    igt::assert!(
        std::path::Path::new(PCI_DRIVER).join("unbind").exists(),
        "no gaudi PCI driver in sysfs ({PCI_DRIVER})"
    );
    let path = accel_igt::device_path();
    let dev = ok!(open_device());
    let minor = ok!(dev.minor());
    let pci = ok!(dev.pci_address());
    let checked = while_unbound(&dev, &pci);
    // Everything of the old device goes before the bind, so that its node number is free
    // again for the new device and the tests after this one find it where they expect it.
    drop(dev);
    if !std::path::Path::new(PCI_DRIVER).join(&pci).exists() {
        ok!(pci_driver_op("bind", &pci), "bind {pci}");
    }
    checked?;
    // The probe runs the device's self-test; give it time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let dev = loop {
        match Device::open(&path) {
            Ok(d) => break d,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(igt::fail!("{} after the bind: {e}", path.display())),
        }
    };
    igt::assert_eq!(ok!(dev.minor()), minor, "node number after the bind");
    igt::assert_eq!(ok!(dev.pci_address()), pci);
    // A new device: no objects, all of its memory free, and device memory works.
    let mem = ok!(dev.memory_info());
    igt::assert_eq!(mem.bo_count, 0, "objects of the new device");
    igt::assert_eq!(
        mem.dram_free,
        mem.dram_size,
        "free memory of the new device"
    );
    let bo = ok!(dev.gem_create(4 * page(), DRM_GAUDI_BO_DEVICE));
    let map = ok!(dev.map_bo(&bo));
    igt::assert!(
        ok!(map.to_vec()).iter().all(|b| *b == 0),
        "new object not zeroed"
    );
    fill_and_check(&map, 0x2eb1)?;
    drop(map);
    ok!(dev.gem_close(bo.handle));
    igt::assert_eq!(ok!(dev.memory_info()), mem);
    Ok(())
}

fn main() {
    igt::main(|t| {
        for kind in Kind::ALL {
            t.subtest(&format!("basic-{}", kind.name()), move || basic(kind));
        }

        t.subtest("large-system", || large(Kind::System, 64 * MIB));

        t.subtest("large-wc", || large(Kind::Wc, 16 * MIB));

        t.subtest("large-device", || {
            let dev = ok!(open_device());
            let free = require_device_memory(&dev, 2 * MIB)?;
            drop(dev);
            large(Kind::Device, (free / 2).min(32 * MIB) / MIB * MIB)
        });

        t.subtest("device-memory-cleared", || {
            // Device memory that one client filled and freed reaches the next client (the
            // allocator hands the same range out again) cleared.
            let base = Baseline::of_device_under_test()?;
            let size = 256 * page();
            require_device_memory(&ok!(open_device()), size)?;
            for round in 0..4u32 {
                let dirty = ok!(open_device());
                let bo = ok!(dirty.gem_create(size, DRM_GAUDI_BO_DEVICE));
                let map = ok!(dirty.map_bo(&bo));
                let fresh = ok!(map.to_vec());
                if let Some(at) = fresh.iter().position(|b| *b != 0) {
                    return Err(igt::fail!(
                        "round {round}: byte {at} of a new object is {:#x}",
                        fresh[at]
                    ));
                }
                fill_and_check(&map, 0xd1e7 + round)?;
                drop(map);
                drop(dirty);
            }
            base.check()
        });
        t.subtest("invalid-sizes", || {
            // Zero, and every size whose rounding up to the page size overflows.
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let top = largest_aligned();
            for kind in Kind::ALL {
                for size in [0, top + 1, top + page() / 2, u64::MAX] {
                    create_fails(&dev, size, kind.flags(), libc::EINVAL)?;
                }
            }
            drop(dev);
            base.check()
        });

        t.subtest("huge-sizes", || {
            // Valid sizes that memory cannot back: ENOMEM for system memory, ENOSPC for
            // device memory.
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let dram = ok!(dev.memory_info()).dram_size;
            for size in [largest_aligned(), 1 << 62, 1 << 48] {
                create_fails(&dev, size, 0, libc::ENOMEM)?;
                create_fails(&dev, size, DRM_GAUDI_BO_WC, libc::ENOMEM)?;
                create_fails(&dev, size, DRM_GAUDI_BO_DEVICE, libc::ENOSPC)?;
            }
            create_fails(&dev, dram + page(), DRM_GAUDI_BO_DEVICE, libc::ENOSPC)?;
            drop(dev);
            base.check()
        });

        t.subtest("invalid-flags", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let valid = DRM_GAUDI_BO_WC | DRM_GAUDI_BO_DEVICE;
            for bit in 0..32 {
                let flag = 1u32 << bit;
                if flag & valid != 0 {
                    continue;
                }
                for with in [0, DRM_GAUDI_BO_WC, DRM_GAUDI_BO_DEVICE, valid] {
                    create_fails(&dev, page(), flag | with, libc::EINVAL)?;
                }
            }
            // IMPORTED is reported, never requested.
            create_fails(&dev, page(), DRM_GAUDI_BO_IMPORTED, libc::EINVAL)?;
            create_fails(&dev, page(), u32::MAX, libc::EINVAL)?;
            create_fails(&dev, page(), !valid, libc::EINVAL)?;
            drop(dev);
            base.check()
        });

        t.subtest("invalid-handles", || {
            let dev = ok!(open_device());
            // A fresh file holds no handle at all.
            for h in [0, 1, 2, 0x7fff_ffff, u32::MAX] {
                igt::assert_eq!(errno(dev.gem_info(h)), libc::ENOENT, "info of handle {h}");
                igt::assert_eq!(errno(dev.gem_mmap_offset(h)), libc::ENOENT, "offset of {h}");
                igt::assert_eq!(errno(dev.gem_close(h)), libc::EINVAL, "close of handle {h}");
            }
            // Nor does one with an object hold its neighbours.
            let bo = ok!(dev.gem_create(page(), 0));
            for h in [0, bo.handle + 1, bo.handle + 1000, u32::MAX] {
                igt::assert_eq!(errno(dev.gem_info(h)), libc::ENOENT, "info of handle {h}");
                igt::assert_eq!(errno(dev.gem_mmap_offset(h)), libc::ENOENT, "offset of {h}");
            }
            // Failed lookups leave the real handle alone.
            igt::assert_eq!(ok!(dev.gem_info(bo.handle)).size, page());
            // The argument is not written back on failure.
            let mut i = drm_gaudi_gem_info {
                handle: u32::MAX,
                flags: 0x5a5a,
                size: 0x5a5a,
                pad: 0,
            };
            igt::assert_eq!(ioctl_errno(dev.as_fd(), INFO, &mut i), libc::ENOENT);
            igt::assert_eq!((i.flags, i.size), (0x5a5a, 0x5a5a));
            let mut m = drm_gaudi_gem_mmap_offset {
                handle: u32::MAX,
                flags: 0,
                offset: 0x5a5a,
            };
            igt::assert_eq!(ioctl_errno(dev.as_fd(), MMAP_OFFSET, &mut m), libc::ENOENT);
            igt::assert_eq!(m.offset, 0x5a5a);
            Ok(())
        });

        t.subtest("closed-handle", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            for kind in Kind::ALL {
                let bo = ok!(dev.gem_create(page(), kind.flags()));
                ok!(dev.gem_close(bo.handle));
                igt::assert_eq!(errno(dev.gem_info(bo.handle)), libc::ENOENT, "{kind:?}");
                igt::assert_eq!(errno(dev.gem_mmap_offset(bo.handle)), libc::ENOENT);
                // Double close.
                igt::assert_eq!(errno(dev.gem_close(bo.handle)), libc::EINVAL, "{kind:?}");
            }
            drop(dev);
            base.check()
        });

        t.subtest("other-client-handle", || {
            let base = Baseline::of_device_under_test()?;
            let a = ok!(open_device());
            let b = ok!(open_device());
            let bo = ok!(a.gem_create(2 * page(), 0));
            let map = ok!(a.map_bo(&bo));
            let want = fill_and_check(&map, 7)?;
            // b holds no handles: a's handle means nothing there.
            igt::assert_eq!(errno(b.gem_info(bo.handle)), libc::ENOENT);
            igt::assert_eq!(errno(b.gem_mmap_offset(bo.handle)), libc::ENOENT);
            igt::assert_eq!(errno(b.gem_close(bo.handle)), libc::EINVAL);
            // Nor may b map a's object through a's offset.
            let offset = ok!(a.gem_mmap_offset(bo.handle));
            let r = Mapping::shared(b.as_fd(), offset, bo.len());
            igt::assert_eq!(errno(r), libc::EACCES, "mapping another client's object");
            // b's own objects are independent of a's, whatever their handle numbers.
            let mine = ok!(b.gem_create(3 * page(), 0));
            igt::assert_eq!(ok!(b.gem_info(mine.handle)).size, 3 * page());
            igt::assert_eq!(ok!(a.gem_info(bo.handle)).size, 2 * page());
            let bmap = ok!(b.map_bo(&mine));
            fill_and_check(&bmap, 8)?;
            expect(&map, &want, "a's mapping after b's object was written")?;
            ok!(b.gem_close(mine.handle));
            igt::assert_eq!(ok!(a.gem_info(bo.handle)).size, 2 * page());
            drop((map, bmap));
            ok!(a.gem_close(bo.handle));
            drop((a, b));
            base.check()
        });

        t.subtest("info-nonzero-pad", || {
            let dev = ok!(open_device());
            let bo = ok!(dev.gem_create(page(), 0));
            for pad in [1, 1 << 32, 1 << 63, u64::MAX] {
                let mut i = drm_gaudi_gem_info {
                    handle: bo.handle,
                    flags: 0x5a5a,
                    size: 0x5a5a,
                    pad,
                };
                igt::assert_eq!(
                    ioctl_errno(dev.as_fd(), INFO, &mut i),
                    libc::EINVAL,
                    "pad {pad:#x}"
                );
                igt::assert_eq!(
                    (i.flags, i.size),
                    (0x5a5a, 0x5a5a),
                    "written back on failure"
                );
            }
            igt::assert_eq!(ok!(dev.gem_info(bo.handle)).size, page());
            Ok(())
        });

        t.subtest("mmap-offset-nonzero-flags", || {
            let dev = ok!(open_device());
            let bo = ok!(dev.gem_create(page(), 0));
            for bit in 0..32 {
                let mut m = drm_gaudi_gem_mmap_offset {
                    handle: bo.handle,
                    flags: 1 << bit,
                    offset: 0x5a5a,
                };
                let e = ioctl_errno(dev.as_fd(), MMAP_OFFSET, &mut m);
                igt::assert_eq!(e, libc::EINVAL, "flag bit {bit}");
                igt::assert_eq!(m.offset, 0x5a5a, "written back on failure");
            }
            ok!(dev.gem_mmap_offset(bo.handle));
            Ok(())
        });

        t.subtest("mmap-beyond-object", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let page = page();
            for kind in Kind::ALL {
                let bo = ok!(dev.gem_create(2 * page, kind.flags()));
                let offset = ok!(dev.gem_mmap_offset(bo.handle));
                for (what, off, len) in [
                    ("one page too long", offset, 3 * page),
                    ("far too long", offset, 64 * MIB),
                    ("starting in the object", offset + page, page),
                    ("straddling the end", offset + page, 2 * page),
                ] {
                    let r = Mapping::shared(dev.as_fd(), off, len as usize);
                    igt::assert_eq!(errno(r), libc::EINVAL, "{kind:?}: {what}");
                }
                // The object is intact and maps normally.
                let map = ok!(dev.map_bo(&bo));
                fill_and_check(&map, 3)?;
                drop(map);
                ok!(dev.gem_close(bo.handle));
            }
            drop(dev);
            base.check()
        });

        t.subtest("mmap-private", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            for kind in Kind::ALL {
                let bo = ok!(dev.gem_create(page(), kind.flags()));
                let offset = ok!(dev.gem_mmap_offset(bo.handle));
                for prot in [libc::PROT_READ | libc::PROT_WRITE, libc::PROT_READ] {
                    let r = Mapping::new(dev.as_fd(), offset, bo.len(), prot, libc::MAP_PRIVATE);
                    igt::assert_eq!(errno(r), libc::EINVAL, "{kind:?} MAP_PRIVATE prot {prot}");
                }
                // Shared read-only mappings are fine.
                let _ro = ok!(Mapping::new(
                    dev.as_fd(),
                    offset,
                    bo.len(),
                    libc::PROT_READ,
                    libc::MAP_SHARED
                ));
                ok!(dev.gem_close(bo.handle));
            }
            drop(dev);
            base.check()
        });

        t.subtest("mmap-bad-offsets", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let bo = ok!(dev.gem_create(page(), 0));
            let stale = ok!(dev.gem_create(page(), 0));
            let stale_offset = ok!(dev.gem_mmap_offset(stale.handle));
            ok!(dev.gem_close(stale.handle));
            for (what, offset) in [
                ("offset 0", 0),
                ("1 TiB", 1 << 40),
                ("64 TiB", 1 << 46),
                ("a closed object's offset", stale_offset),
            ] {
                // No object at the offset (the closed one was freed at its close): EINVAL
                // from drm_gem_object_lookup_at_offset(). EACCES is for an object that is
                // there but not this file's.
                let e = errno(Mapping::shared(dev.as_fd(), offset, page() as usize));
                igt::assert_eq!(e, libc::EINVAL, "{what}");
            }
            ok!(dev.map_bo(&bo));
            drop(dev);
            base.check()
        });

        t.subtest("mmap-after-close", || {
            // A mapping keeps its object alive after the handle is closed.
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            for kind in Kind::ALL {
                let before = ok!(dev.memory_info());
                let bo = ok!(dev.gem_create(4 * page(), kind.flags()));
                let map = ok!(dev.map_bo(&bo));
                let want = fill_and_check(&map, 11)?;
                ok!(dev.gem_close(bo.handle));
                igt::assert_eq!(errno(dev.gem_info(bo.handle)), libc::ENOENT);
                let during = ok!(dev.memory_info());
                igt::assert_eq!(
                    during.bo_count,
                    before.bo_count + 1,
                    "{kind:?}: object freed while mapped"
                );
                igt::assert_eq!(during.bo_bytes, before.bo_bytes + bo.size);
                expect(&map, &want, "mapping after GEM_CLOSE")?;
                fill_and_check(&map, 12)?;
                // New objects do not reuse the memory of the mapped one.
                let other = ok!(dev.gem_create(4 * page(), kind.flags()));
                let omap = ok!(dev.map_bo(&other));
                fill_and_check(&omap, 13)?;
                expect(&map, &pattern(12, map.len()), "mapping after a new object")?;
                drop(omap);
                ok!(dev.gem_close(other.handle));
                drop(map);
                igt::assert_eq!(
                    ok!(dev.memory_info()),
                    before,
                    "{kind:?}: not freed with the mapping"
                );
            }
            drop(dev);
            base.check()
        });

        t.subtest("mmap-after-file-close", || {
            let base = Baseline::of_device_under_test()?;
            let mut maps = Vec::new();
            {
                let dev = ok!(open_device());
                for (i, kind) in Kind::ALL.into_iter().enumerate() {
                    let bo = ok!(dev.gem_create(3 * page(), kind.flags()));
                    let map = ok!(dev.map_bo(&bo));
                    let want = fill_and_check(&map, 20 + i as u32)?;
                    maps.push((kind, map, want));
                }
            }
            // The descriptor is closed; the mappings keep the objects (and the DRM file, which
            // they reference) alive until they go.
            let now = base.now()?;
            igt::assert_eq!(now.bo_count, base.start().bo_count + 3);
            for (kind, map, want) in &maps {
                igt::assert!(
                    first_mismatch(&ok!(map.to_vec()), want).is_none(),
                    "{kind:?}"
                );
                fill_and_check(map, 30)?;
            }
            drop(maps);
            base.check()
        });

        t.subtest("fork-shared-mapping", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            for kind in Kind::ALL {
                let bo = ok!(dev.gem_create(4 * page(), kind.flags()));
                let map = ok!(dev.map_bo(&bo));
                let half = map.len() / 2;
                let parent = fill_and_check(&map, 40)?;
                let child = pattern(41, half);
                in_child(|| {
                    let got = map.to_vec().map_err(|e| e.to_string())?;
                    if got != parent {
                        return Err(format!(
                            "parent's data differs at {:?}",
                            first_mismatch(&got, &parent)
                        ));
                    }
                    map.write(half, &child).map_err(|e| e.to_string())
                })
                .map_err(|e| igt::fail!("{kind:?}: {e}"))?;
                let mut want = parent.clone();
                want[half..].copy_from_slice(&child);
                expect(&map, &want, "parent after the child wrote")?;
                // The object is still usable through its handle in the parent.
                let again = ok!(dev.map_bo(&bo));
                expect(&again, &want, "new mapping in the parent")?;
                drop((map, again));
                ok!(dev.gem_close(bo.handle));
            }
            drop(dev);
            base.check()
        });

        t.subtest("fork-child-closes", || {
            // The child inherits the file and closes the handle there: the file is shared,
            // so the handle is gone for the parent too, but the parent's mapping lives on.
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let bo = ok!(dev.gem_create(page(), 0));
            let map = ok!(dev.map_bo(&bo));
            let want = fill_and_check(&map, 50)?;
            in_child(|| {
                dev.gem_close(bo.handle)
                    .map_err(|e| format!("GEM_CLOSE: {e}"))
            })
            .map_err(|e| igt::fail!("{e}"))?;
            igt::assert_eq!(errno(dev.gem_info(bo.handle)), libc::ENOENT);
            expect(&map, &want, "mapping after the child closed the handle")?;
            drop(map);
            drop(dev);
            base.check()
        });

        t.subtest("many-objects", || {
            many_objects(4096, |i| if i % 2 == 0 { 0 } else { DRM_GAUDI_BO_WC })
        });

        t.subtest("many-objects-device", || {
            let dev = ok!(open_device());
            let free = require_device_memory(&dev, 2 * MIB)?;
            drop(dev);
            many_objects((free / page() / 2).min(1024), |_| DRM_GAUDI_BO_DEVICE)
        });

        t.subtest("memory-accounting", || {
            let base = Baseline::of_device_under_test()?;
            let start = base.start();
            let page = page();
            let dev = ok!(open_device());
            require_device_memory(&dev, 8 * page)?;
            let sys = ok!(dev.gem_create(3 * page, 0));
            let m = ok!(dev.memory_info());
            igt::assert_eq!(m.bo_count, start.bo_count + 1);
            igt::assert_eq!(m.bo_bytes, start.bo_bytes + 3 * page);
            igt::assert_eq!(
                m.dram_free,
                start.dram_free,
                "system memory taken from the device"
            );
            igt::assert_eq!(m.dram_size, start.dram_size);
            let wc = ok!(dev.gem_create(page + 1, DRM_GAUDI_BO_WC));
            let vram = ok!(dev.gem_create(5 * page, DRM_GAUDI_BO_DEVICE));
            let m = ok!(dev.memory_info());
            igt::assert_eq!(m.bo_count, start.bo_count + 3);
            igt::assert_eq!(m.bo_bytes, start.bo_bytes + 10 * page);
            igt::assert_eq!(m.dram_free, start.dram_free - 5 * page);
            // Another client sees the same device-wide counters.
            let other = ok!(open_device());
            igt::assert_eq!(ok!(other.memory_info()), m);
            ok!(dev.gem_close(vram.handle));
            let m = ok!(dev.memory_info());
            igt::assert_eq!(m.dram_free, start.dram_free);
            igt::assert_eq!(m.bo_count, start.bo_count + 2);
            ok!(dev.gem_close(sys.handle));
            ok!(dev.gem_close(wc.handle));
            igt::assert_eq!(ok!(dev.memory_info()), start);
            drop((dev, other));
            base.check()
        });

        t.subtest("memory-file-close", || {
            // Closing the file without GEM_CLOSE frees everything it held.
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            require_device_memory(&dev, 4 * MIB)?;
            for (i, kind) in Kind::ALL.into_iter().enumerate() {
                for size in [page(), MIB, 3 * page() + 1] {
                    let bo = ok!(dev.gem_create(size, kind.flags()));
                    // Touch the memory so that system objects have pages.
                    fill_and_check(&ok!(dev.map_bo(&bo)), i as u32)?;
                }
            }
            let m = ok!(dev.memory_info());
            igt::assert_eq!(m.bo_count, base.start().bo_count + 9);
            drop(dev);
            base.check()
        });

        t.subtest("device-exhaustion", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let page = page();
            let free = require_device_memory(&dev, 4 * MIB)?;
            let limit = free / page + 1;
            let mut chunks = Vec::new();
            let mut pages = Vec::new();
            loop {
                match dev.gem_create(MIB, DRM_GAUDI_BO_DEVICE) {
                    Ok(bo) => chunks.push(bo),
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                    Err(e) => {
                        return Err(igt::fail!("creating 1 MiB object {}: {e}", chunks.len()))
                    }
                }
                igt::assert!(
                    (chunks.len() as u64) < limit,
                    "more device objects than memory"
                );
            }
            igt::assert!(
                chunks.len() as u64 >= free / MIB / 2,
                "ENOSPC after {} MiB of {free} bytes",
                chunks.len()
            );
            // Fill what is left with pages: a single page fails only when nothing is free.
            loop {
                match dev.gem_create(page, DRM_GAUDI_BO_DEVICE) {
                    Ok(bo) => pages.push(bo),
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                    Err(e) => return Err(igt::fail!("creating page {}: {e}", pages.len())),
                }
                igt::assert!(
                    ((chunks.len() + pages.len()) as u64) < limit,
                    "more device objects than memory"
                );
            }
            let full = ok!(dev.memory_info());
            igt::assert_eq!(full.dram_free, 0, "ENOSPC for one page with memory free");
            igt::assert_eq!(
                full.bo_count,
                base.start().bo_count + (chunks.len() + pages.len()) as u64
            );
            igt::assert_eq!(full.bo_bytes, base.start().bo_bytes + free);
            // A failed creation changes nothing, and system memory is unaffected.
            create_fails(&dev, page, DRM_GAUDI_BO_DEVICE, libc::ENOSPC)?;
            igt::assert_eq!(ok!(dev.memory_info()), full);
            let sys = ok!(dev.gem_create(page, 0));
            fill_and_check(&ok!(dev.map_bo(&sys)), 60)?;
            ok!(dev.gem_close(sys.handle));
            // Freeing one object makes room for one of the same size, and only for that.
            let freed = chunks.swap_remove(chunks.len() / 2);
            ok!(dev.gem_close(freed.handle));
            igt::assert_eq!(ok!(dev.memory_info()).dram_free, MIB);
            create_fails(&dev, 2 * MIB, DRM_GAUDI_BO_DEVICE, libc::ENOSPC)?;
            let again = ok!(dev.gem_create(MIB, DRM_GAUDI_BO_DEVICE));
            fill_and_check(&ok!(dev.map_bo(&again)), 61)?;
            chunks.push(again);
            for bo in chunks.iter().chain(&pages) {
                ok!(dev.gem_close(bo.handle));
            }
            igt::assert_eq!(ok!(dev.memory_info()).dram_free, free);
            // Everything is usable again: the largest power of two up to half of it fits.
            let big = 1u64 << (63 - (free / 2).leading_zeros());
            let bo = ok!(dev.gem_create(big, DRM_GAUDI_BO_DEVICE));
            ok!(dev.gem_close(bo.handle));
            drop(dev);
            base.check()
        });

        t.subtest("bad-pointers", || {
            let base = Baseline::of_device_under_test()?;
            let dev = ok!(open_device());
            let unmapped = ok!(unmapped_address(4096));
            for (name, req) in [
                ("GEM_CREATE", CREATE),
                ("GEM_INFO", INFO),
                ("GEM_MMAP_OFFSET", MMAP_OFFSET),
            ] {
                igt::assert_eq!(
                    ioctl_ptr_errno(dev.as_fd(), req, 0),
                    libc::EFAULT,
                    "{name} NULL"
                );
                igt::assert_eq!(
                    ioctl_ptr_errno(dev.as_fd(), req, unmapped),
                    libc::EFAULT,
                    "{name} unmapped"
                );
                igt::assert_eq!(
                    ioctl_ptr_errno(dev.as_fd(), req, usize::MAX - 7),
                    libc::EFAULT,
                    "{name} top"
                );
            }
            // Readable but not writable arguments: the result cannot be copied back.
            let bo = ok!(dev.gem_create(page(), 0));
            let info = read_only_arg(drm_gaudi_gem_info {
                handle: bo.handle,
                ..Default::default()
            })?;
            igt::assert_eq!(
                ioctl_ptr_errno(dev.as_fd(), INFO, info.as_ptr() as usize),
                libc::EFAULT
            );
            let offset = read_only_arg(drm_gaudi_gem_mmap_offset {
                handle: bo.handle,
                ..Default::default()
            })?;
            igt::assert_eq!(
                ioctl_ptr_errno(dev.as_fd(), MMAP_OFFSET, offset.as_ptr() as usize),
                libc::EFAULT
            );
            // GEM_CREATE creates the object before failing to return its handle; the handle
            // belongs to the file and goes with it.
            {
                let other = ok!(open_device());
                let create = read_only_arg(drm_gaudi_gem_create {
                    size: page(),
                    ..Default::default()
                })?;
                igt::assert_eq!(
                    ioctl_ptr_errno(other.as_fd(), CREATE, create.as_ptr() as usize),
                    libc::EFAULT
                );
            }
            ok!(dev.gem_close(bo.handle));
            drop(dev);
            base.check()
        });

        t.subtest("threads", || {
            let base = Baseline::of_device_under_test()?;
            let path = accel_igt::device_path();
            let threads: Vec<_> = Kind::ALL
                .into_iter()
                .chain([Kind::System])
                .enumerate()
                .map(|(t, kind)| {
                    let path = path.clone();
                    std::thread::spawn(move || -> Result<(), String> {
                        let dev = Device::open(&path).map_err(|e| e.to_string())?;
                        for i in 0..64u32 {
                            let size = (1 + u64::from(i % 4)) * page();
                            let bo = dev
                                .gem_create(size, kind.flags())
                                .map_err(|e| format!("create: {e}"))?;
                            let map = dev.map_bo(&bo).map_err(|e| format!("map: {e}"))?;
                            let want = pattern(t as u32 * 1000 + i, map.len());
                            map.write(0, &want).map_err(|e| e.to_string())?;
                            if map.to_vec().map_err(|e| e.to_string())? != want {
                                return Err(format!("{kind:?}: data of object {i} changed"));
                            }
                            drop(map);
                            dev.gem_close(bo.handle)
                                .map_err(|e| format!("close: {e}"))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for th in threads {
                let r = th.join().map_err(|_| igt::fail!("thread panicked"))?;
                r.map_err(|e| igt::fail!("{e}"))?;
            }
            base.check()
        });

        // Last, although the device works again after it.
        t.subtest("unbind-rebind", unbind_rebind);
    })
}
