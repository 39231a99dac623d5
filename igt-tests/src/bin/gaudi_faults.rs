// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Fault injection on the error paths of every driver ioctl and of the DRM core ioctls an
//! accel file serves.
//!
//! The kernel is built with `failslab` and `fail_page_alloc`; both are set up through debugfs
//! to include the allocations that may sleep, of every order, and to stay quiet when they
//! fire (`verbose` 0). Each subtest sweeps one request: it fails the first allocation of the
//! call, then the second, and so on, until the call succeeds without an injected failure.
//! The failure is aimed with `/proc/thread-self/fail-nth`, which counts the allocations of
//! the calling thread only (the task filter of the fault attributes, with its global interval
//! counter, could not aim at the N-th allocation of one call). Every call must fail cleanly
//! (`ENOMEM` or another errno of allocation failure) or succeed; after the sweep the device's
//! object and memory counters and the process's descriptors are back at their start. The
//! run's kernel-log check and kmemleak judge what the failures left in the kernel.

use std::{
    collections::BTreeMap,
    fs::File,
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
    os::unix::fs::FileExt,
};

use accel_igt::{
    device_path, fuzz::errno_name, ioc, ioctl_errno, open_device, open_vgem, other_device_path,
    uapi, Baseline,
};
use gaudi::{
    cmdbuf::CommandBuffer,
    drm::{
        drm_gem_close, drm_get_cap, drm_mode_create_dumb, drm_prime_handle, drm_version,
        DRM_CLOEXEC, DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_GET_CAP, DRM_IOCTL_MODE_CREATE_DUMB,
        DRM_IOCTL_PRIME_FD_TO_HANDLE, DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_IOCTL_VERSION, DRM_RDWR,
    },
    syncobj::{
        self, drm_syncobj_array, drm_syncobj_create, drm_syncobj_destroy, drm_syncobj_handle,
        drm_syncobj_timeline_array, drm_syncobj_timeline_wait, drm_syncobj_transfer,
        drm_syncobj_wait, DRM_IOCTL_SYNCOBJ_CREATE, DRM_IOCTL_SYNCOBJ_DESTROY,
        DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, DRM_IOCTL_SYNCOBJ_QUERY,
        DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
        DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, DRM_IOCTL_SYNCOBJ_TRANSFER, DRM_IOCTL_SYNCOBJ_WAIT,
        DRM_SYNCOBJ_CREATE_SIGNALED,
    },
    Device,
};

/// More allocations than this in one call means the sweep does not end.
const MAX_ALLOCATIONS: u32 = 2000;
/// Errnos a call may fail with when one of its allocations fails.
const ALLOC_ERRNOS: &[i32] = &[libc::ENOMEM, libc::ENOSPC, libc::EAGAIN];

/// The debugfs settings of both fault types.
fn configure() -> igt::Result {
    let set = |path: &str, value: &str| {
        std::fs::write(path, value).map_err(|e| igt::fail!("{path} = {value}: {e}"))
    };
    for f in ["failslab", "fail_page_alloc"] {
        let d = format!("/sys/kernel/debug/{f}");
        // Quiet: no "FAULT_INJECTION: forcing a failure" record and stack per failure.
        set(&format!("{d}/verbose"), "0")?;
        // GFP_KERNEL allocations too, not only the atomic ones.
        set(&format!("{d}/ignore-gfp-wait"), "N")?;
        // Only the failures aimed with fail-nth: no random ones.
        set(&format!("{d}/probability"), "0")?;
    }
    set("/sys/kernel/debug/failslab/cache-filter", "N")?;
    set("/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N")?;
    set("/sys/kernel/debug/fail_page_alloc/min-order", "0")?;
    Ok(())
}

/// `/proc/thread-self/fail-nth` of the calling thread, opened before any failure is aimed.
struct FailNth(File);

impl FailNth {
    fn open() -> igt::Result<Self> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/thread-self/fail-nth")
            .map_err(|e| igt::fail!("/proc/thread-self/fail-nth: {e}"))?;
        Ok(Self(f))
    }

    /// Fails the `n`-th fault-injection point this thread reaches from now on.
    fn arm(&self, n: u32) -> io::Result<()> {
        self.0.write_at(format!("{n}").as_bytes(), 0).map(|_| ())
    }

    /// Disarms; returns whether the failure was injected.
    fn disarm(&self) -> io::Result<bool> {
        let mut buf = [0u8; 16];
        let len = self.0.read_at(&mut buf, 0)?;
        let left: u32 = std::str::from_utf8(&buf[..len])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u32::MAX);
        self.0.write_at(b"0", 0)?;
        Ok(left == 0)
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Sweeps one call: `setup` makes what it needs (no failure injected), `call` makes the
/// request (its result: 0 or an errno), `cleanup` releases what `setup` and a successful
/// call made.
fn sweep<S>(
    name: &str,
    mut setup: impl FnMut() -> igt::Result<S>,
    mut call: impl FnMut(&mut S) -> i32,
    mut cleanup: impl FnMut(S) -> igt::Result,
) -> igt::Result {
    // The devices first: without them nothing is set up (not even debugfs).
    let base = Baseline::of_device_under_test()?;
    let other = Baseline::new(other_device_path()?)?;
    configure()?;
    let nth = FailNth::open()?;
    let fds = open_fds();
    // Only the call may meet the failure, not a page fault of this process between the arming
    // and the disarming (a code page read in, the stack growing): everything mapped now and
    // later is locked in memory, and one round without a failure runs every path first.
    // SAFETY: mlockall has no memory-safety requirements.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
        return Err(igt::fail!("mlockall: {}", io::Error::last_os_error()));
    }
    let r = sweep_locked(name, &nth, &mut setup, &mut call, &mut cleanup);
    // SAFETY: munlockall has no memory-safety requirements.
    unsafe { libc::munlockall() };
    r?;
    base.check()?;
    other.check()?;
    drop(nth);
    igt::assert_eq!(open_fds() + 1, fds, "{name}: descriptors left open");
    Ok(())
}

fn sweep_locked<S>(
    name: &str,
    nth: &FailNth,
    setup: &mut impl FnMut() -> igt::Result<S>,
    call: &mut impl FnMut(&mut S) -> i32,
    cleanup: &mut impl FnMut(S) -> igt::Result,
) -> igt::Result {
    let mut s = setup()?;
    nth.arm(u32::MAX).map_err(|e| igt::fail!("fail-nth: {e}"))?;
    let e = call(&mut s);
    let _ = nth.disarm();
    cleanup(s)?;
    igt::assert_eq!(
        e,
        0,
        "{name} fails ({}) without fault injection",
        errno_name(e)
    );
    let mut results = BTreeMap::<i32, u32>::new();
    for n in 1..=MAX_ALLOCATIONS {
        let mut s = setup()?;
        nth.arm(n).map_err(|e| igt::fail!("fail-nth {n}: {e}"))?;
        let e = call(&mut s);
        let injected = nth.disarm().map_err(|e| igt::fail!("fail-nth: {e}"))?;
        cleanup(s)?;
        if !injected {
            igt::assert_eq!(
                e,
                0,
                "{name} fails ({}) without an injected failure",
                errno_name(e)
            );
            let summary: Vec<String> = results
                .iter()
                .map(|(e, c)| format!("{} {c}", errno_name(*e)))
                .collect();
            println!(
                "gaudi_faults: {name}: {} allocations failed in turn: {}",
                n - 1,
                if summary.is_empty() {
                    "none".into()
                } else {
                    summary.join(", ")
                }
            );
            return Ok(());
        }
        igt::assert!(
            e == 0 || ALLOC_ERRNOS.contains(&e),
            "{name}: with allocation {n} failed the call returned {}",
            errno_name(e)
        );
        *results.entry(e).or_default() += 1;
    }
    Err(igt::fail!(
        "{name}: more than {MAX_ALLOCATIONS} allocations"
    ))
}

fn raw(f: &impl AsFd) -> BorrowedFd<'_> {
    f.as_fd()
}

fn gem_create(dev: &Device, size: u64, flags: u32) -> igt::Result<u32> {
    dev.gem_create(size, flags)
        .map(|b| b.handle)
        .map_err(|e| igt::fail!("GEM_CREATE: {e}"))
}

fn gem_close(fd: BorrowedFd<'_>, handle: u32) {
    let mut c = drm_gem_close { handle, pad: 0 };
    ioctl_errno(fd, DRM_IOCTL_GEM_CLOSE, &mut c);
}

fn syncobj_create(fd: BorrowedFd<'_>, flags: u32) -> igt::Result<u32> {
    syncobj::create(fd, flags).map_err(|e| igt::fail!("SYNCOBJ_CREATE: {e}"))
}

/// Sweeps a request on a fresh file of the node under test with no other setup.
fn simple<T: Default>(name: &str, request: u32, mut arg: impl FnMut() -> T) -> igt::Result {
    sweep(
        name,
        || open_device().map_err(|e| igt::fail!("open: {e}")),
        |dev| {
            let mut a = arg();
            ioctl_errno(dev.as_fd(), request, &mut a)
        },
        |_| Ok(()),
    )
}

/// A fresh file with one system-memory object.
fn with_bo() -> igt::Result<(Device, u32)> {
    let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
    let h = gem_create(&dev, 4096, 0)?;
    Ok((dev, h))
}

/// The prepared objects of a submit: a context, a command buffer bound in the VM, an out
/// syncobj.
struct Job {
    dev: Device,
    ctx: u32,
    cb: u32,
    va: u64,
    size: u32,
    out: u32,
}

fn job() -> igt::Result<Job> {
    let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
    let ctx = dev
        .ctx_create(gaudi::Priority::Normal)
        .map_err(|e| igt::fail!("CTX_CREATE: {e}"))?;
    let mut cb = CommandBuffer::new();
    cb.nop(2).map_err(|e| igt::fail!("{e}"))?;
    let bytes = cb.to_bytes();
    let h = gem_create(&dev, 4096, 0)?;
    let map = dev.map(h, 4096).map_err(|e| igt::fail!("mmap: {e}"))?;
    map.write(0, &bytes).map_err(|e| igt::fail!("write: {e}"))?;
    drop(map);
    let va = uapi::DRM_GAUDI_VA_START;
    dev.vm_bind_map(h, 0, va, 4096, false)
        .map_err(|e| igt::fail!("VM_BIND: {e}"))?;
    let out = syncobj_create(dev.as_fd(), 0)?;
    Ok(Job {
        dev,
        ctx,
        cb: h,
        va,
        size: bytes.len() as u32,
        out,
    })
}

fn main() {
    igt::main(|t| {
        // ---- driver ioctls ----
        t.subtest("query-device-info", || {
            let mut buf = [0u8; 256];
            let p = buf.as_mut_ptr() as u64;
            simple("QUERY device info", uapi::DRM_IOCTL_GAUDI_QUERY, || {
                uapi::drm_gaudi_query {
                    type_: uapi::DRM_GAUDI_QUERY_DEVICE_INFO,
                    size: 256,
                    pointer: p,
                    ..Default::default()
                }
            })
        });
        t.subtest("query-memory", || {
            let mut buf = [0u8; 256];
            let p = buf.as_mut_ptr() as u64;
            simple("QUERY memory", uapi::DRM_IOCTL_GAUDI_QUERY, || {
                uapi::drm_gaudi_query {
                    type_: uapi::DRM_GAUDI_QUERY_MEMORY,
                    size: 256,
                    pointer: p,
                    ..Default::default()
                }
            })
        });
        for (name, flags, size) in [
            ("gem-create-system", 0, 64 << 10),
            ("gem-create-wc", uapi::DRM_GAUDI_BO_WC, 64 << 10),
            ("gem-create-device", uapi::DRM_GAUDI_BO_DEVICE, 64 << 10),
        ] {
            t.subtest(name, || {
                sweep(
                    name,
                    || open_device().map_err(|e| igt::fail!("open: {e}")),
                    |dev| {
                        let mut c = uapi::drm_gaudi_gem_create {
                            size,
                            flags,
                            handle: 0,
                        };
                        let e = ioctl_errno(dev.as_fd(), uapi::DRM_IOCTL_GAUDI_GEM_CREATE, &mut c);
                        if e == 0 {
                            gem_close(dev.as_fd(), c.handle);
                        }
                        e
                    },
                    |_| Ok(()),
                )
            });
        }
        // Requests on one object.
        t.subtest("gem-info", || {
            sweep(
                "GEM_INFO",
                with_bo,
                |(dev, h)| {
                    let mut i = uapi::drm_gaudi_gem_info {
                        handle: *h,
                        ..Default::default()
                    };
                    ioctl_errno(dev.as_fd(), uapi::DRM_IOCTL_GAUDI_GEM_INFO, &mut i)
                },
                |_| Ok(()),
            )
        });
        t.subtest("gem-mmap-offset", || {
            sweep(
                "GEM_MMAP_OFFSET",
                with_bo,
                |(dev, h)| {
                    let mut o = uapi::drm_gaudi_gem_mmap_offset {
                        handle: *h,
                        ..Default::default()
                    };
                    ioctl_errno(dev.as_fd(), uapi::DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET, &mut o)
                },
                |_| Ok(()),
            )
        });
        for (name, flags) in [
            ("vm-bind-map-system", 0),
            ("vm-bind-map-device", uapi::DRM_GAUDI_BO_DEVICE),
        ] {
            t.subtest(name, || {
                sweep(
                    name,
                    || {
                        let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
                        let h = gem_create(&dev, 16 << 10, flags)?;
                        Ok((dev, h))
                    },
                    |(dev, h)| {
                        let mut b = uapi::drm_gaudi_vm_bind {
                            op: uapi::DRM_GAUDI_VM_BIND_OP_MAP,
                            handle: *h,
                            va: uapi::DRM_GAUDI_VA_START,
                            size: 16 << 10,
                            ..Default::default()
                        };
                        ioctl_errno(dev.as_fd(), uapi::DRM_IOCTL_GAUDI_VM_BIND, &mut b)
                    },
                    |_| Ok(()),
                )
            });
        }
        t.subtest("vm-bind-unmap-split", || {
            sweep(
                "VM_BIND unmap (split)",
                || {
                    let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
                    let h = gem_create(&dev, 16 << 10, 0)?;
                    dev.vm_bind_map(h, 0, uapi::DRM_GAUDI_VA_START, 16 << 10, false)
                        .map_err(|e| igt::fail!("VM_BIND: {e}"))?;
                    Ok(dev)
                },
                |dev| {
                    // The middle page: the mapping splits in two.
                    let mut b = uapi::drm_gaudi_vm_bind {
                        op: uapi::DRM_GAUDI_VM_BIND_OP_UNMAP,
                        va: uapi::DRM_GAUDI_VA_START + 4096,
                        size: 4096,
                        ..Default::default()
                    };
                    ioctl_errno(dev.as_fd(), uapi::DRM_IOCTL_GAUDI_VM_BIND, &mut b)
                },
                |_| Ok(()),
            )
        });
        t.subtest("ctx-create", || {
            sweep(
                "CTX_CREATE",
                || open_device().map_err(|e| igt::fail!("open: {e}")),
                |dev| {
                    let mut c = uapi::drm_gaudi_ctx_create {
                        priority: uapi::DRM_GAUDI_PRIORITY_NORMAL,
                        ..Default::default()
                    };
                    ioctl_errno(dev.as_fd(), uapi::DRM_IOCTL_GAUDI_CTX_CREATE, &mut c)
                },
                |_| Ok(()),
            )
        });
        t.subtest("ctx-destroy", || {
            sweep(
                "CTX_DESTROY",
                job,
                |j| {
                    let mut d = uapi::drm_gaudi_ctx_destroy {
                        ctx_id: j.ctx,
                        pad: 0,
                    };
                    ioctl_errno(j.dev.as_fd(), uapi::DRM_IOCTL_GAUDI_CTX_DESTROY, &mut d)
                },
                |_| Ok(()),
            )
        });
        t.subtest("ctx-query", || {
            sweep(
                "CTX_QUERY",
                job,
                |j| {
                    let mut q = uapi::drm_gaudi_ctx_query {
                        ctx_id: j.ctx,
                        ..Default::default()
                    };
                    ioctl_errno(j.dev.as_fd(), uapi::DRM_IOCTL_GAUDI_CTX_QUERY, &mut q)
                },
                |_| Ok(()),
            )
        });
        t.subtest("submit", || {
            let bos = [uapi::drm_gaudi_submit_bo {
                handle: 0,
                flags: uapi::DRM_GAUDI_SUBMIT_BO_READ,
            }];
            sweep(
                "SUBMIT",
                job,
                |j| {
                    let mut bos = bos;
                    bos[0].handle = j.cb;
                    let outs = [uapi::drm_gaudi_sync {
                        handle: j.out,
                        flags: 0,
                        point: 0,
                    }];
                    let mut s = uapi::drm_gaudi_submit {
                        ctx_id: j.ctx,
                        cb_addr: j.va,
                        cb_size: j.size,
                        bo_count: 1,
                        bos: bos.as_ptr() as u64,
                        out_sync_count: 1,
                        out_syncs: outs.as_ptr() as u64,
                        ..Default::default()
                    };
                    ioctl_errno(j.dev.as_fd(), uapi::DRM_IOCTL_GAUDI_SUBMIT, &mut s)
                },
                |j| {
                    // A job that was queued ends before the next round.
                    let _ = syncobj::wait(
                        j.dev.as_fd(),
                        &[j.out],
                        syncobj::timeout_after(std::time::Duration::from_secs(10)),
                        syncobj::DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
                    );
                    Ok(())
                },
            )
        });

        // ---- core ioctls ----
        t.subtest("open-close", || {
            sweep(
                "open and release",
                || Ok(()),
                |_| {
                    let path =
                        std::ffi::CString::new(device_path().into_os_string().into_encoded_bytes())
                            .unwrap_or_default();
                    // SAFETY: A valid NUL-terminated path; the descriptor is closed at once.
                    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
                    if fd < 0 {
                        return io::Error::last_os_error().raw_os_error().unwrap_or(-1);
                    }
                    // SAFETY: `fd` is the descriptor just opened.
                    drop(unsafe { OwnedFd::from_raw_fd(fd) });
                    0
                },
                |_| Ok(()),
            )
        });
        t.subtest("version", || {
            let mut name = [0u8; 64];
            let mut date = [0u8; 64];
            let mut desc = [0u8; 64];
            let (n, d, s) = (
                name.as_mut_ptr().cast(),
                date.as_mut_ptr().cast(),
                desc.as_mut_ptr().cast(),
            );
            simple("VERSION", DRM_IOCTL_VERSION, || drm_version {
                name_len: 64,
                name: n,
                date_len: 64,
                date: d,
                desc_len: 64,
                desc: s,
                ..Default::default()
            })
        });
        t.subtest("get-cap", || {
            simple("GET_CAP", DRM_IOCTL_GET_CAP, || drm_get_cap {
                capability: gaudi::drm::DRM_CAP_PRIME,
                value: 0,
            })
        });
        t.subtest("set-client-name", || {
            let name = b"fault-injection";
            let p = name.as_ptr() as u64;
            simple(
                "SET_CLIENT_NAME",
                ioc(uapi::IOC_READ_WRITE, uapi::DRM_IOCTL_BASE, 0xd1, 16),
                || [name.len() as u64, p],
            )
        });
        t.subtest("gem-close", || {
            sweep(
                "GEM_CLOSE",
                with_bo,
                |(dev, h)| {
                    let mut c = drm_gem_close { handle: *h, pad: 0 };
                    ioctl_errno(dev.as_fd(), DRM_IOCTL_GEM_CLOSE, &mut c)
                },
                |_| Ok(()),
            )
        });
        for (name, flags) in [
            ("prime-export-system", 0),
            ("prime-export-device", uapi::DRM_GAUDI_BO_DEVICE),
        ] {
            t.subtest(name, || {
                sweep(
                    name,
                    || {
                        let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
                        let h = gem_create(&dev, 16 << 10, flags)?;
                        Ok((dev, h, None::<OwnedFd>))
                    },
                    |(dev, h, out)| {
                        let mut p = drm_prime_handle {
                            handle: *h,
                            flags: DRM_CLOEXEC | DRM_RDWR,
                            fd: -1,
                        };
                        let e = ioctl_errno(dev.as_fd(), DRM_IOCTL_PRIME_HANDLE_TO_FD, &mut p);
                        if e == 0 {
                            // SAFETY: The kernel gave us this new descriptor.
                            *out = Some(unsafe { OwnedFd::from_raw_fd(p.fd) });
                        }
                        e
                    },
                    |_| Ok(()),
                )
            });
        }
        // Imports: from a second file of the device, from the other device, from vgem.
        for (name, from) in [
            ("prime-import-same-device", 0),
            ("prime-import-other-device", 1),
            ("prime-import-vgem", 2),
        ] {
            t.subtest(name, || {
                sweep(
                    name,
                    || {
                        let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
                        let dmabuf = match from {
                            0 | 1 => {
                                let exporter = if from == 0 {
                                    open_device().map_err(|e| igt::fail!("open: {e}"))?
                                } else {
                                    Device::open(other_device_path()?)
                                        .map_err(|e| igt::fail!("open: {e}"))?
                                };
                                let h = gem_create(&exporter, 16 << 10, 0)?;
                                exporter
                                    .prime_handle_to_fd(h, DRM_CLOEXEC | DRM_RDWR)
                                    .map_err(|e| igt::fail!("export: {e}"))?
                            }
                            _ => {
                                let vgem = open_vgem()?;
                                let mut d = drm_mode_create_dumb {
                                    width: 1024,
                                    height: 4,
                                    bpp: 32,
                                    ..Default::default()
                                };
                                let e = ioctl_errno(raw(&vgem), DRM_IOCTL_MODE_CREATE_DUMB, &mut d);
                                igt::assert_eq!(e, 0, "vgem CREATE_DUMB");
                                gaudi::drm::prime_handle_to_fd(
                                    raw(&vgem),
                                    d.handle,
                                    DRM_CLOEXEC | DRM_RDWR,
                                )
                                .map_err(|e| igt::fail!("vgem export: {e}"))?
                            }
                        };
                        Ok((dev, dmabuf))
                    },
                    |(dev, dmabuf)| {
                        let mut p = drm_prime_handle {
                            handle: 0,
                            flags: 0,
                            fd: dmabuf.as_raw_fd(),
                        };
                        ioctl_errno(dev.as_fd(), DRM_IOCTL_PRIME_FD_TO_HANDLE, &mut p)
                    },
                    |_| Ok(()),
                )
            });
        }
        t.subtest("syncobj-create", || {
            for flags in [0, DRM_SYNCOBJ_CREATE_SIGNALED] {
                simple("SYNCOBJ_CREATE", DRM_IOCTL_SYNCOBJ_CREATE, || {
                    drm_syncobj_create { handle: 0, flags }
                })?;
            }
            Ok(())
        });
        t.subtest("syncobj-destroy", || {
            sweep(
                "SYNCOBJ_DESTROY",
                || {
                    let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
                    let h = syncobj_create(dev.as_fd(), DRM_SYNCOBJ_CREATE_SIGNALED)?;
                    Ok((dev, h))
                },
                |(dev, h)| {
                    let mut d = drm_syncobj_destroy { handle: *h, pad: 0 };
                    ioctl_errno(dev.as_fd(), DRM_IOCTL_SYNCOBJ_DESTROY, &mut d)
                },
                |_| Ok(()),
            )
        });
        // HANDLE_TO_FD: the syncobj as an fd, its fence as a sync_file, a timeline point as a
        // sync_file.
        for (name, flags, point) in [
            ("syncobj-handle-to-fd", 0u32, 0u64),
            ("syncobj-export-sync-file", 1, 0),
            ("syncobj-export-sync-file-point", 3, 2),
        ] {
            t.subtest(name, || {
                sweep(
                    name,
                    || {
                        let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
                        let h = syncobj_create(dev.as_fd(), DRM_SYNCOBJ_CREATE_SIGNALED)?;
                        if point != 0 {
                            syncobj::timeline_signal(dev.as_fd(), &[h], &[point])
                                .map_err(|e| igt::fail!("TIMELINE_SIGNAL: {e}"))?;
                        }
                        Ok((dev, h, None::<OwnedFd>))
                    },
                    |(dev, h, out)| {
                        let mut a = drm_syncobj_handle {
                            handle: *h,
                            flags,
                            fd: -1,
                            point,
                            ..Default::default()
                        };
                        let e = ioctl_errno(dev.as_fd(), DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &mut a);
                        if e == 0 {
                            // SAFETY: The kernel gave us this new descriptor.
                            *out = Some(unsafe { OwnedFd::from_raw_fd(a.fd) });
                        }
                        e
                    },
                    |_| Ok(()),
                )
            });
        }
        // FD_TO_HANDLE: a syncobj fd, a sync_file replacing the fence, a sync_file as a point
        // (the sync_file of a timeline point: a chain, flattened first).
        for (name, flags, point) in [
            ("syncobj-fd-to-handle", 0u32, 0u64),
            ("syncobj-import-sync-file", 1, 0),
            ("syncobj-import-sync-file-point", 3, 5),
        ] {
            t.subtest(name, || {
                sweep(
                    name,
                    || {
                        let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
                        let src = syncobj_create(dev.as_fd(), DRM_SYNCOBJ_CREATE_SIGNALED)?;
                        let fd = if flags == 0 {
                            syncobj::handle_to_fd(dev.as_fd(), src)
                        } else {
                            syncobj::timeline_signal(dev.as_fd(), &[src], &[2])
                                .map_err(|e| igt::fail!("TIMELINE_SIGNAL: {e}"))?;
                            syncobj::export_sync_file(dev.as_fd(), src, Some(2))
                        }
                        .map_err(|e| igt::fail!("export: {e}"))?;
                        let dst = syncobj_create(dev.as_fd(), 0)?;
                        Ok((dev, fd, dst))
                    },
                    |(dev, fd, dst)| {
                        let mut a = drm_syncobj_handle {
                            handle: if flags == 0 { 0 } else { *dst },
                            flags,
                            fd: fd.as_raw_fd(),
                            point,
                            ..Default::default()
                        };
                        ioctl_errno(dev.as_fd(), DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &mut a)
                    },
                    |_| Ok(()),
                )
            });
        }
        // The array requests, on three syncobjs (timeline points 1 and 2 signalled).
        let three = || -> igt::Result<(Device, [u32; 3])> {
            let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
            let mut h = [0u32; 3];
            for x in &mut h {
                *x = syncobj_create(dev.as_fd(), DRM_SYNCOBJ_CREATE_SIGNALED)?;
                syncobj::timeline_signal(dev.as_fd(), &[*x], &[1])
                    .map_err(|e| igt::fail!("TIMELINE_SIGNAL: {e}"))?;
                syncobj::timeline_signal(dev.as_fd(), &[*x], &[2])
                    .map_err(|e| igt::fail!("TIMELINE_SIGNAL: {e}"))?;
            }
            Ok((dev, h))
        };
        t.subtest("syncobj-wait", || {
            sweep(
                "SYNCOBJ_WAIT",
                three,
                |(dev, h)| {
                    let mut w = drm_syncobj_wait {
                        handles: h.as_ptr() as u64,
                        count_handles: 3,
                        flags: syncobj::DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
                        ..Default::default()
                    };
                    ioctl_errno(dev.as_fd(), DRM_IOCTL_SYNCOBJ_WAIT, &mut w)
                },
                |_| Ok(()),
            )
        });
        t.subtest("syncobj-timeline-wait", || {
            let points = [1u64, 2, 2];
            sweep(
                "SYNCOBJ_TIMELINE_WAIT",
                three,
                |(dev, h)| {
                    let mut w = drm_syncobj_timeline_wait {
                        handles: h.as_ptr() as u64,
                        points: points.as_ptr() as u64,
                        count_handles: 3,
                        flags: syncobj::DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
                        ..Default::default()
                    };
                    ioctl_errno(dev.as_fd(), DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &mut w)
                },
                |_| Ok(()),
            )
        });
        for (name, request) in [
            ("syncobj-reset", DRM_IOCTL_SYNCOBJ_RESET),
            ("syncobj-signal", DRM_IOCTL_SYNCOBJ_SIGNAL),
        ] {
            t.subtest(name, || {
                sweep(
                    name,
                    three,
                    |(dev, h)| {
                        let mut a = drm_syncobj_array {
                            handles: h.as_ptr() as u64,
                            count_handles: 3,
                            pad: 0,
                        };
                        ioctl_errno(dev.as_fd(), request, &mut a)
                    },
                    |_| Ok(()),
                )
            });
        }
        for (name, request) in [
            ("syncobj-timeline-signal", DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL),
            ("syncobj-query", DRM_IOCTL_SYNCOBJ_QUERY),
        ] {
            t.subtest(name, || {
                let mut points = [3u64, 4, 5];
                let p = points.as_mut_ptr() as u64;
                sweep(
                    name,
                    three,
                    |(dev, h)| {
                        let mut a = drm_syncobj_timeline_array {
                            handles: h.as_ptr() as u64,
                            points: p,
                            count_handles: 3,
                            flags: 0,
                        };
                        ioctl_errno(dev.as_fd(), request, &mut a)
                    },
                    |_| Ok(()),
                )
            });
        }
        for (name, dst_point) in [
            ("syncobj-transfer-binary", 0u64),
            ("syncobj-transfer-timeline", 7),
        ] {
            t.subtest(name, || {
                sweep(
                    name,
                    three,
                    |(dev, h)| {
                        let mut a = drm_syncobj_transfer {
                            src_handle: h[0],
                            dst_handle: h[1],
                            src_point: 2,
                            dst_point,
                            ..Default::default()
                        };
                        ioctl_errno(dev.as_fd(), DRM_IOCTL_SYNCOBJ_TRANSFER, &mut a)
                    },
                    |_| Ok(()),
                )
            });
        }
        t.subtest("syncobj-eventfd", || {
            sweep(
                "SYNCOBJ_EVENTFD",
                || {
                    let dev = open_device().map_err(|e| igt::fail!("open: {e}"))?;
                    // Unsignalled, so that the eventfd stays registered until the destroy.
                    let h = syncobj_create(dev.as_fd(), 0)?;
                    // SAFETY: eventfd has no memory-safety requirements.
                    let e = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
                    igt::assert!(e >= 0, "eventfd: {}", io::Error::last_os_error());
                    // SAFETY: A new descriptor that nothing else owns.
                    let e = unsafe { OwnedFd::from_raw_fd(e) };
                    Ok((dev, h, e))
                },
                |(dev, h, e)| {
                    // struct drm_syncobj_eventfd: handle, flags, point, fd, pad.
                    let mut a = [u64::from(*h), 1, e.as_raw_fd() as u32 as u64];
                    ioctl_errno(
                        dev.as_fd(),
                        ioc(uapi::IOC_READ_WRITE, uapi::DRM_IOCTL_BASE, 0xcf, 24),
                        &mut a,
                    )
                },
                |_| Ok(()),
            )
        });
    })
}
