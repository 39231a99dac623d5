// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Races between clients and threads on the objects of an accel file: a close against a page
//! fault of a mapping, against an export and against an import of the exported dma-buf,
//! concurrent creation and closing of the same handle numbers, a syncobj destroyed while a
//! thread waits on it, and a file released with everything in it alive. Each subtest runs
//! many rounds and ends with the device's counters back at their start; the run's kernel-log
//! check and kmemleak judge the kernel side.

use std::{
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Barrier,
    },
    time::Duration,
};

use accel_igt::{
    fuzz::errno_name, ioctl_errno, open_device, other_device_path, uapi, Baseline, Mapping,
};
use gaudi::{
    cmdbuf::CommandBuffer,
    drm::{drm_gem_close, drm_prime_handle, DRM_CLOEXEC, DRM_IOCTL_GEM_CLOSE, DRM_RDWR},
    syncobj::{self, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT},
    Device,
};

/// Rounds of each race.
const ROUNDS: u32 = 60;
/// Size of the objects that race.
const SIZE: u64 = 64 << 10;

fn open() -> igt::Result<Device> {
    open_device().map_err(|e| igt::fail!("open: {e}"))
}

fn create(dev: &Device, flags: u32) -> igt::Result<u32> {
    dev.gem_create(SIZE, flags)
        .map(|b| b.handle)
        .map_err(|e| igt::fail!("GEM_CREATE: {e}"))
}

fn gem_close(dev: &Device, handle: u32) -> i32 {
    let mut c = drm_gem_close { handle, pad: 0 };
    ioctl_errno(dev.as_fd(), DRM_IOCTL_GEM_CLOSE, &mut c)
}

fn export(dev: &Device, handle: u32) -> Result<OwnedFd, i32> {
    let mut p = drm_prime_handle {
        handle,
        flags: DRM_CLOEXEC | DRM_RDWR,
        fd: -1,
    };
    match ioctl_errno(
        dev.as_fd(),
        gaudi::drm::DRM_IOCTL_PRIME_HANDLE_TO_FD,
        &mut p,
    ) {
        // SAFETY: The kernel gave us this new descriptor.
        0 => Ok(unsafe { OwnedFd::from_raw_fd(p.fd) }),
        e => Err(e),
    }
}

/// Touches every page of `m`: a write, then a read of what was written.
fn touch(m: &Mapping, value: u8) -> igt::Result {
    for off in (0..m.len()).step_by(4096) {
        m.write(off, &[value])
            .map_err(|e| igt::fail!("write at {off}: {e}"))?;
        let mut b = [0u8];
        m.read(off, &mut b)
            .map_err(|e| igt::fail!("read at {off}: {e}"))?;
        igt::assert_eq!(b[0], value, "page at {off}");
    }
    Ok(())
}

/// Runs `a` and `b` at the same time (released by a barrier); both results must be fine.
fn race<A, B>(a: A, b: B) -> igt::Result
where
    A: FnOnce() -> igt::Result + Send,
    B: FnOnce() -> igt::Result + Send,
{
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let ta = s.spawn(|| {
            barrier.wait();
            a()
        });
        barrier.wait();
        let rb = b();
        let ra = ta
            .join()
            .map_err(|_| igt::fail!("racing thread panicked"))?;
        ra.and(rb)
    })
}

/// Rounds of `f` with the counters of both devices checked at the end.
fn rounds(mut f: impl FnMut(u32) -> igt::Result) -> igt::Result {
    let base = Baseline::of_device_under_test()?;
    let other = Baseline::new(other_device_path()?)?;
    for i in 0..ROUNDS {
        f(i)?;
    }
    base.check()?;
    other.check()
}

fn main() {
    igt::main(|t| {
        t.subtest("close-vs-mmap-fault", || {
            rounds(|i| {
                let flags = [0, uapi::DRM_GAUDI_BO_WC, uapi::DRM_GAUDI_BO_DEVICE][i as usize % 3];
                let dev = open()?;
                let h = create(&dev, flags)?;
                let m = dev
                    .map(h, SIZE as usize)
                    .map_err(|e| igt::fail!("mmap: {e}"))?;
                // The first touch of each page faults while the handle and then the file
                // go away; the mapping keeps the object.
                race(
                    || touch(&m, i as u8),
                    || {
                        igt::assert_eq!(gem_close(&dev, h), 0);
                        drop(dev);
                        Ok(())
                    },
                )?;
                touch(&m, !(i as u8))
            })
        });

        t.subtest("close-vs-export", || {
            rounds(|i| {
                let dev = open()?;
                let h = create(
                    &dev,
                    if i % 2 == 0 {
                        0
                    } else {
                        uapi::DRM_GAUDI_BO_DEVICE
                    },
                )?;
                let exported = std::sync::Mutex::new(None);
                race(
                    || {
                        match export(&dev, h) {
                            Ok(fd) => *exported.lock().map_err(|_| igt::fail!("lock"))? = Some(fd),
                            Err(e) => igt::assert_eq!(e, libc::ENOENT, "{}", errno_name(e)),
                        }
                        Ok(())
                    },
                    || {
                        igt::assert_eq!(gem_close(&dev, h), 0);
                        Ok(())
                    },
                )?;
                // A dma-buf exported before the close still maps the object.
                if let Some(fd) = exported.into_inner().map_err(|_| igt::fail!("lock"))? {
                    let m = Mapping::shared(fd.as_fd(), 0, 4096)
                        .map_err(|e| igt::fail!("dma-buf mmap: {e}"))?;
                    touch(&m, 1)?;
                }
                Ok(())
            })
        });

        t.subtest("import-vs-exporter-close", || {
            let other = Device::open(other_device_path()?).map_err(|e| igt::fail!("open: {e}"))?;
            rounds(|i| {
                let exporter = open()?;
                let h = create(&exporter, 0)?;
                let fd =
                    export(&exporter, h).map_err(|e| igt::fail!("export: {}", errno_name(e)))?;
                let importer = if i % 2 == 0 {
                    open()?
                } else {
                    Device::open(other.path()).map_err(|e| igt::fail!("open: {e}"))?
                };
                let imported = AtomicU32::new(0);
                race(
                    || {
                        let h = importer
                            .prime_fd_to_handle(fd.as_fd())
                            .map_err(|e| igt::fail!("import while the exporter closes: {e}"))?;
                        imported.store(h, Ordering::Relaxed);
                        Ok(())
                    },
                    || {
                        igt::assert_eq!(gem_close(&exporter, h), 0);
                        drop(exporter);
                        Ok(())
                    },
                )?;
                drop(fd);
                // The import holds the object on: it maps and closes normally.
                let h = imported.load(Ordering::Relaxed);
                let m = importer
                    .map(h, 4096)
                    .map_err(|e| igt::fail!("mmap of the import: {e}"))?;
                touch(&m, 2)?;
                igt::assert_eq!(gem_close(&importer, h), 0);
                Ok(())
            })
        });

        t.subtest("same-handles-create-close", || {
            let base = Baseline::of_device_under_test()?;
            let dev = open()?;
            let stop = AtomicBool::new(false);
            let odd = AtomicU32::new(0);
            std::thread::scope(|s| {
                // Creators close what they made; closers close whatever the next small
                // handle numbers are, which the creators reuse at once.
                let mut threads = Vec::new();
                for k in 0..2u32 {
                    let (dev, odd) = (&dev, &odd);
                    threads.push(s.spawn(move || {
                        for i in 0..ROUNDS * 4 {
                            let flags = if (i + k) % 4 == 0 {
                                uapi::DRM_GAUDI_BO_DEVICE
                            } else {
                                0
                            };
                            match dev.gem_create(4096, flags) {
                                Ok(b) => {
                                    // EINVAL: the closer took the handle first.
                                    let e = gem_close(dev, b.handle);
                                    if e != 0 && e != libc::EINVAL {
                                        odd.store(e as u32, Ordering::Relaxed);
                                    }
                                }
                                Err(e) => odd.store(
                                    e.raw_os_error().unwrap_or(-1) as u32,
                                    Ordering::Relaxed,
                                ),
                            }
                        }
                    }));
                }
                let (dev, stop, odd) = (&dev, &stop, &odd);
                let closer = s.spawn(move || {
                    let mut n = 1u32;
                    while !stop.load(Ordering::Relaxed) {
                        // GEM_CLOSE of a handle that is not there: EINVAL.
                        let e = gem_close(dev, n);
                        if e != 0 && e != libc::EINVAL {
                            odd.store(e as u32, Ordering::Relaxed);
                        }
                        let mut i = uapi::drm_gaudi_gem_info {
                            handle: n % 4 + 1,
                            ..Default::default()
                        };
                        let e = ioctl_errno(dev.as_fd(), uapi::DRM_IOCTL_GAUDI_GEM_INFO, &mut i);
                        if e != 0 && e != libc::ENOENT {
                            odd.store(e as u32, Ordering::Relaxed);
                        }
                        n = n % 8 + 1;
                    }
                });
                for t in threads {
                    let _ = t.join();
                }
                stop.store(true, Ordering::Relaxed);
                let _ = closer.join();
            });
            let e = odd.load(Ordering::Relaxed);
            igt::assert_eq!(
                e,
                0,
                "a create or close failed with {}",
                errno_name(e as i32)
            );
            drop(dev);
            base.check()
        });

        t.subtest("syncobj-destroy-during-wait", || {
            rounds(|i| {
                let dev = open()?;
                let h = syncobj::create(dev.as_fd(), 0).map_err(|e| igt::fail!("create: {e}"))?;
                race(
                    || {
                        // Waits for a submission that never comes, until its short timeout.
                        let r = if i % 2 == 0 {
                            syncobj::wait(
                                dev.as_fd(),
                                &[h],
                                syncobj::timeout_after(Duration::from_millis(50)),
                                DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
                            )
                            .map(|_| ())
                        } else {
                            syncobj::timeline_wait(
                                dev.as_fd(),
                                &[h],
                                &[3],
                                syncobj::timeout_after(Duration::from_millis(50)),
                                DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
                            )
                            .map(|_| ())
                        };
                        // Either the wait found the syncobj and timed out, or the destroy came
                        // first.
                        let e = r.err().and_then(|e| e.raw_os_error()).unwrap_or(0);
                        igt::assert!(
                            e == libc::ETIME || e == libc::ENOENT,
                            "wait: {}",
                            errno_name(e)
                        );
                        Ok(())
                    },
                    || {
                        std::thread::sleep(Duration::from_millis(5));
                        syncobj::destroy(dev.as_fd(), h).map_err(|e| igt::fail!("destroy: {e}"))
                    },
                )
            })
        });

        t.subtest("release-with-everything-live", || {
            let other = Device::open(other_device_path()?).map_err(|e| igt::fail!("open: {e}"))?;
            rounds(|i| {
                let dev = open()?;
                let sys = create(&dev, 0)?;
                let vram = create(&dev, uapi::DRM_GAUDI_BO_DEVICE)?;
                let maps = [
                    dev.map(sys, SIZE as usize)
                        .map_err(|e| igt::fail!("mmap: {e}"))?,
                    dev.map(vram, SIZE as usize)
                        .map_err(|e| igt::fail!("mmap: {e}"))?,
                ];
                let dmabuf =
                    export(&dev, sys).map_err(|e| igt::fail!("export: {}", errno_name(e)))?;
                let imported = other
                    .prime_fd_to_handle(dmabuf.as_fd())
                    .map_err(|e| igt::fail!("import: {e}"))?;
                // A context with jobs in flight, VM mappings, syncobjs, a sync_file and an
                // eventfd waiting on a point that never comes.
                let ctx = dev
                    .ctx_create(gaudi::Priority::Normal)
                    .map_err(|e| igt::fail!("CTX_CREATE: {e}"))?;
                let mut cb = CommandBuffer::new();
                cb.nop(2).map_err(|e| igt::fail!("{e}"))?;
                cb.dma_fill(uapi::DRM_GAUDI_VA_START + 0x10000, 4096, i)
                    .map_err(|e| igt::fail!("{e}"))?;
                let bytes = cb.to_bytes();
                maps[0]
                    .write(0, &bytes)
                    .map_err(|e| igt::fail!("write: {e}"))?;
                dev.vm_bind_map(sys, 0, uapi::DRM_GAUDI_VA_START, SIZE, false)
                    .map_err(|e| igt::fail!("VM_BIND: {e}"))?;
                dev.vm_bind_map(vram, 0, uapi::DRM_GAUDI_VA_START + SIZE, SIZE, false)
                    .map_err(|e| igt::fail!("VM_BIND: {e}"))?;
                let out = syncobj::create(dev.as_fd(), 0).map_err(|e| igt::fail!("create: {e}"))?;
                for _ in 0..4 {
                    let job = gaudi::Submit::new(ctx, uapi::DRM_GAUDI_VA_START, bytes.len() as u32)
                        .write(vram)
                        .signal(out, 0);
                    dev.submit(&job).map_err(|e| igt::fail!("SUBMIT: {e}"))?;
                }
                let sync_file = syncobj::export_sync_file(dev.as_fd(), out, None)
                    .map_err(|e| igt::fail!("export sync_file: {e}"))?;
                let never =
                    syncobj::create(dev.as_fd(), 0).map_err(|e| igt::fail!("create: {e}"))?;
                // SAFETY: eventfd has no memory-safety requirements.
                let ev = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
                igt::assert!(ev >= 0);
                // SAFETY: A new descriptor that nothing else owns.
                let ev = unsafe { OwnedFd::from_raw_fd(ev) };
                let mut e = [u64::from(never), 9, ev.as_raw_fd() as u32 as u64];
                let r = ioctl_errno(
                    dev.as_fd(),
                    accel_igt::ioc(uapi::IOC_READ_WRITE, uapi::DRM_IOCTL_BASE, 0xcf, 24),
                    &mut e,
                );
                igt::assert_eq!(r, 0, "SYNCOBJ_EVENTFD");
                // The file goes; everything outside it stays usable.
                drop(dev);
                for m in &maps {
                    touch(m, 3)?;
                }
                let mut p = libc::pollfd {
                    fd: sync_file.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: One valid pollfd.
                let n = unsafe { libc::poll(&mut p, 1, 10_000) };
                igt::assert_eq!(n, 1, "the jobs' fence did not signal after the release");
                let m = other
                    .map(imported, 4096)
                    .map_err(|e| igt::fail!("mmap of the import: {e}"))?;
                touch(&m, 4)?;
                drop(m);
                igt::assert_eq!(gem_close(&other, imported), 0);
                Ok(())
            })
        });
    })
}
