// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Error handling and recovery: every fault the device can have, injected on purpose through
//! the driver's debugfs (`/sys/kernel/debug/gaudi-<PCI>/inject`), which asks the device.
//!
//! Each subtest checks what the guilty context sees (fence error, ban, `CTX_QUERY`), what the
//! driver's counters (`ras`) and coredumps say, and that innocent work completes with correct
//! data meanwhile: a context on another hardware queue of the same device and a client of the
//! other device. The wedge subtests follow the documented recovery: a listener sees the
//! `WEDGED=rebind` uevent, the driver is unbound and bound again, and the new device works.
//!
//! `GAUDI_RECOVERY_CYCLES` and `GAUDI_REBIND_CYCLES` set how many hang and rebind cycles the
//! `*-cycles` subtests run (`make soak` runs long ones).

use std::{
    collections::BTreeMap,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use accel_igt::{
    errno,
    exec::{filled, Syncobj, UserFence, DONE},
    expect, ok, open_device, other_device_path,
};
use gaudi::{
    cmdbuf::CommandBuffer,
    syncobj,
    uapi::{self, DRM_GAUDI_BO_DEVICE},
    Buffer, Context, Device, Priority,
};

const P: u64 = uapi::DRM_GAUDI_VM_PAGE_SIZE;
/// The job timeout the hang subtests set (the default is 10 s).
const TIMEOUT_MS: u32 = 3000;
/// sysfs directory of the gaudi PCI driver.
const PCI_DRIVER: &str = "/sys/bus/pci/drivers/gaudi";

/// The driver's debugfs directory of `dev`.
fn debugfs(dev: &Device) -> igt::Result<PathBuf> {
    let pci = ok!(dev.pci_address());
    let dir = PathBuf::from(format!("/sys/kernel/debug/gaudi-{pci}"));
    igt::assert!(dir.is_dir(), "no debugfs directory {}", dir.display());
    Ok(dir)
}

/// Injects `fault` (`NAME [QUEUE [ARG]]`) into `dev`.
fn inject(dev: &Device, fault: &str) -> igt::Result {
    let file = debugfs(dev)?.join("inject");
    ok!(std::fs::write(&file, fault), "inject {fault}");
    Ok(())
}

/// The driver's error-handling counters of `dev`.
fn ras(dev: &Device) -> igt::Result<BTreeMap<String, String>> {
    let text = ok!(std::fs::read_to_string(debugfs(dev)?.join("ras")));
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// Counter `name` of `dev`.
fn counter(dev: &Device, name: &str) -> igt::Result<u64> {
    let r = ras(dev)?;
    let v = r
        .get(name)
        .ok_or_else(|| igt::fail!("no counter {name} in {r:?}"))?;
    Ok(ok!(v.parse::<u64>()))
}

/// Waits up to `secs` for `cond`.
fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> igt::Result<bool>) -> igt::Result {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(igt::fail!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sets the job timeout of `dev` while it lives, restoring the default after.
struct JobTimeout(PathBuf);

impl JobTimeout {
    fn set(dev: &Device, ms: u32) -> igt::Result<Self> {
        let file = debugfs(dev)?.join("job_timeout_ms");
        let old = ok!(std::fs::read_to_string(&file));
        igt::assert_eq!(old.trim(), "10000", "default job timeout");
        ok!(std::fs::write(&file, ms.to_string()));
        Ok(Self(file))
    }
}

impl Drop for JobTimeout {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, "10000");
    }
}

/// A context of `dev` on hardware queue `queue`, or on any other queue than `not`.
fn context_on<'d>(dev: &'d Device, pick: impl Fn(u32) -> bool) -> igt::Result<Context<'d>> {
    for _ in 0..16 {
        let ctx = ok!(Context::new(dev, Priority::Normal));
        if pick(ok!(ctx.query()).queue) {
            return Ok(ctx);
        }
    }
    Err(igt::fail!("no context on the wanted queue after 16 tries"))
}

/// Fills `buf` with `value` on `ctx` and checks it; returns the fence status.
fn fill_and_check(ctx: &Context<'_>, buf: &Buffer<'_>, value: u32) -> igt::Result {
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_fill(buf.va(), buf.size(), value));
    accel_igt::exec::run_ok(ctx, &cb, &[(buf.handle(), true)])?;
    expect(
        buf.map(),
        &filled(value, buf.size() as usize),
        "innocent data",
    )
}

/// [`fill_and_check`] with everything in device memory, command buffer included: what runs
/// shortly before an unbind leaves nothing DMA-mapped from system memory behind (the job
/// queue releases a finished job's objects asynchronously, see Documentation/recovery.rst).
fn fill_and_check_dev(ctx: &Context<'_>, buf: &Buffer<'_>, value: u32) -> igt::Result {
    let dev = ctx.device();
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_fill(buf.va(), buf.size(), value));
    let bytes = cb.to_bytes();
    let cbb = ok!(Buffer::with_data(dev, &bytes, DRM_GAUDI_BO_DEVICE, true));
    let sync = Syncobj::new(dev)?;
    let job = cbb
        .job_of_len(ctx, bytes.len() as u32)
        .write(buf.handle())
        .signal(sync.handle, 0);
    ok!(dev.submit(&job));
    sync.wait(0)?;
    igt::assert_eq!(sync.status()?, DONE);
    expect(buf.map(), &filled(value, buf.size() as usize), "data")
}

/// Innocent work on another client of the other device, in a thread, until `stop`.
fn innocent_other_device(stop: &AtomicBool) -> igt::Result<u32> {
    let dev = ok!(Device::open(other_device_path()?));
    let ctx = ok!(Context::new(&dev, Priority::Normal));
    let buf = ok!(Buffer::new(&dev, 4 * P, DRM_GAUDI_BO_DEVICE));
    let mut rounds = 0;
    while !stop.load(Ordering::Relaxed) || rounds == 0 {
        fill_and_check(&ctx, &buf, 0x1000_0000 + rounds)?;
        rounds += 1;
    }
    Ok(rounds)
}

/// Runs `body` while a client of the other device works; fails if its work failed.
fn with_other_device(body: impl FnOnce() -> igt::Result) -> igt::Result {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let other = s.spawn(|| innocent_other_device(&stop));
        let res = body();
        stop.store(true, Ordering::Relaxed);
        let other = other
            .join()
            .map_err(|_| igt::fail!("the other device's client panicked"))?;
        res?;
        let rounds = other?;
        igt::assert!(rounds > 0, "the other device's client did no work");
        Ok(())
    })
}

/// A job held on the device by a WAIT on a user fence, all of it in device memory (command
/// buffer, fence, target), so that nothing of it is DMA-mapped from system memory; its
/// completion as a sync_file, which stays readable after an unbind.
struct Held<'d> {
    _cb: Buffer<'d>,
    _fence: Buffer<'d>,
    _target: Buffer<'d>,
    _sync: Syncobj<'d>,
    done: OwnedFd,
}

impl<'d> Held<'d> {
    fn new(ctx: &Context<'d>) -> igt::Result<Self> {
        let dev = ctx.device();
        let fence = ok!(Buffer::new(dev, P, DRM_GAUDI_BO_DEVICE));
        let target = ok!(Buffer::new(dev, 4 * P, DRM_GAUDI_BO_DEVICE));
        let mut cb = CommandBuffer::new();
        ok!(cb.wait(fence.va(), 1));
        ok!(cb.dma_fill(target.va(), target.size(), 0x4e1d));
        let bytes = cb.to_bytes();
        let cbb = ok!(Buffer::with_data(dev, &bytes, DRM_GAUDI_BO_DEVICE, true));
        let sync = Syncobj::new(dev)?;
        let job = cbb
            .job_of_len(ctx, bytes.len() as u32)
            .write(target.handle())
            .signal(sync.handle, 0);
        ok!(dev.submit(&job), "SUBMIT");
        let done = ok!(syncobj::export_sync_file(dev.as_fd(), sync.handle, None));
        Ok(Self {
            _cb: cbb,
            _fence: fence,
            _target: target,
            _sync: sync,
            done,
        })
    }

    /// Waits up to `secs` for the job to end; returns its fence status.
    fn wait(&self, secs: u64) -> igt::Result<i32> {
        let mut pfd = libc::pollfd {
            fd: self.done.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: One valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, (secs * 1000) as i32) };
        igt::assert_eq!(n, 1, "the held job did not end in {secs} s");
        Ok(ok!(syncobj::sync_file_status(self.done.as_fd())))
    }
}

/// The device coredumps of the PCI function `pci`: their `data` files.
fn coredumps(pci: &str) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir("/sys/class/devcoredump") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            std::fs::read_link(p.join("failing_device"))
                .ok()
                .and_then(|l| l.file_name().map(|n| n.to_string_lossy() == pci))
                .unwrap_or(false)
        })
        .map(|p| p.join("data"))
        .collect()
}

/// Waits for a coredump of `dev` that contains `what`, and frees it.
fn take_coredump(dev: &Device, what: &str) -> igt::Result {
    let pci = ok!(dev.pci_address());
    let mut found = String::new();
    wait_for(5, "a device coredump", || {
        for data in coredumps(&pci) {
            if let Ok(text) = std::fs::read_to_string(&data) {
                // Writing anything frees the dump.
                let _ = std::fs::write(&data, "1");
                if text.contains(what) {
                    found = text;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    })?;
    igt::assert!(
        found.contains("gaudi device coredump") && found.contains("counters:"),
        "coredump:\n{found}"
    );
    Ok(())
}

/// Drops coredumps a previous subtest left.
fn clear_coredumps(dev: &Device) -> igt::Result {
    for data in coredumps(&ok!(dev.pci_address())) {
        let _ = std::fs::write(data, "1");
    }
    Ok(())
}

/// A hang of the queue (`hard`: of its engine) of a context: its job times out and fails with
/// `ETIME`, the context is banned with `DRM_GAUDI_ERR_TIMEOUT`, the queue is reset (or
/// the engine), a coredump is written; a context behind it on the same queue, one on another
/// queue and a client of the other device complete their work.
fn hang(hard: bool) -> igt::Result {
    let dev = ok!(open_device());
    clear_coredumps(&dev)?;
    let _timeout = JobTimeout::set(&dev, TIMEOUT_MS)?;
    with_other_device(|| hang_once(&dev, hard))
}

fn hang_once(dev: &Device, hard: bool) -> igt::Result {
    let (resets, fault, what) = if hard {
        (
            "engine_resets",
            "hang-engine",
            "engine reset after a timeout",
        )
    } else {
        ("queue_resets", "hang-queue", "queue reset after a timeout")
    };
    let before = counter(dev, resets)?;
    let guilty = ok!(Context::new(dev, Priority::Normal));
    let q = ok!(guilty.query()).queue;
    let behind = context_on(dev, |x| x == q)?;
    // Another client (its own VM) on another queue.
    let dev2 = ok!(Device::open(dev.path()));
    let other = context_on(&dev2, |x| x != q)?;
    let (x, y, z) = (
        ok!(Buffer::new(dev, 4 * P, 0)),
        ok!(Buffer::new(dev, 4 * P, DRM_GAUDI_BO_DEVICE)),
        ok!(Buffer::new(&dev2, 4 * P, 0)),
    );
    inject(dev, &format!("{fault} {q} 0"))?;
    let t0 = Instant::now();
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_fill(x.va(), x.size(), 0xbad0_0001));
    let up = ok!(cb.upload(dev));
    let s_guilty = Syncobj::new(dev)?;
    ok!(dev.submit(&up.job(&guilty).write(x.handle()).signal(s_guilty.handle, 0)));
    // Behind it on the same hardware queue: runs once the queue resumes.
    let mut cb2 = CommandBuffer::new();
    ok!(cb2.dma_fill(y.va(), y.size(), 0x600d_0002));
    let up2 = ok!(cb2.upload(dev));
    let s_behind = Syncobj::new(dev)?;
    ok!(dev.submit(
        &up2.job(&behind)
            .write(y.handle())
            .signal(s_behind.handle, 0)
    ));
    // On another queue: not held up at all.
    fill_and_check(&other, &z, 0x600d_0003)?;
    igt::assert!(
        !s_guilty.signalled_soon(0)?,
        "the hung job ended before another queue's job ({:?})",
        t0.elapsed()
    );
    s_guilty.wait(0)?;
    // The job queue's timeout signals ETIME, as drm_sched's does.
    igt::assert_eq!(s_guilty.status()?, -libc::ETIME, "the hung job");
    s_behind.wait(0)?;
    igt::assert_eq!(s_behind.status()?, DONE, "the job behind the hung one");
    expect(y.map(), &filled(0x600d_0002, y.size() as usize), "its data")?;
    let s = ok!(guilty.query());
    igt::assert!(s.banned, "{s:?}");
    igt::assert_eq!(s.error, uapi::DRM_GAUDI_ERR_TIMEOUT, "{s:?}");
    igt::assert_eq!(s.error_seqno, 1, "{s:?}");
    igt::assert_eq!(errno(dev.submit(&up.job(&guilty))), libc::ECANCELED);
    igt::assert_eq!(counter(dev, resets)?, before + 1, "{resets}");
    take_coredump(dev, what)?;
    // The queue works again, for a new context too.
    let fresh = context_on(dev, |x| x == q)?;
    fill_and_check(&fresh, &x, 0x600d_0004)?;
    fill_and_check(&behind, &y, 0x600d_0005)?;
    igt::assert_eq!(ras(dev)?.get("wedged").map(String::as_str), Some("no"));
    Ok(())
}

/// Repeated hang and recovery with live clients.
fn hang_cycles() -> igt::Result {
    let n = std::env::var("GAUDI_RECOVERY_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3u32);
    let dev = ok!(open_device());
    clear_coredumps(&dev)?;
    let _timeout = JobTimeout::set(&dev, TIMEOUT_MS)?;
    with_other_device(|| {
        for i in 0..n {
            hang_once(&dev, i % 2 == 1).map_err(|e| igt::fail!("cycle {i}: {e:?}"))?;
        }
        Ok(())
    })
}

/// Completion interrupts the device did not deliver: the heartbeat finds the finished jobs and
/// signals them, without a reset.
fn lost_irq() -> igt::Result {
    let dev = ok!(open_device());
    with_other_device(|| {
        let ctx = ok!(Context::new(&dev, Priority::Normal));
        let q = ok!(ctx.query()).queue;
        let (lost, resets) = (counter(&dev, "lost_irqs")?, counter(&dev, "queue_resets")?);
        let buf = ok!(Buffer::new(&dev, 4 * P, 0));
        inject(&dev, &format!("drop-irq {q} 2"))?;
        for v in [0x1057_0001, 0x1057_0002, 0x1057_0003] {
            fill_and_check(&ctx, &buf, v)?;
        }
        igt::assert!(
            counter(&dev, "lost_irqs")? > lost,
            "lost interrupts not counted"
        );
        igt::assert_eq!(counter(&dev, "queue_resets")?, resets, "a reset happened");
        igt::assert!(!ok!(ctx.query()).banned);
        Ok(())
    })
}

/// A completion fence with a wrong value signals nothing early: jobs complete when the device
/// passed them, and the corruption is counted.
fn corrupt_completion() -> igt::Result {
    let dev = ok!(open_device());
    with_other_device(|| {
        let ctx = ok!(Context::new(&dev, Priority::Normal));
        let q = ok!(ctx.query()).queue;
        let before = counter(&dev, "corrupt_completions")?;
        let fence = UserFence::new(&dev)?;
        let buf = ok!(Buffer::new(&dev, 4 * P, 0));
        inject(&dev, &format!("corrupt-completion {q}"))?;
        // A job completes with a corrupted fence value far ahead; a job behind it waits for
        // the CPU and must not be signalled by that value.
        fill_and_check(&ctx, &buf, 0xc0_0001)?;
        let mut cb = CommandBuffer::new();
        fence.wait(&mut cb, 1)?;
        ok!(cb.dma_fill(buf.va(), buf.size(), 0xc0_0002));
        let up = ok!(cb.upload(&dev));
        let s = Syncobj::new(&dev)?;
        ok!(dev.submit(&up.job(&ctx).write(buf.handle()).signal(s.handle, 0)));
        igt::assert!(!s.signalled_soon(0)?, "a held job was signalled");
        fence.release(1)?;
        s.wait(0)?;
        igt::assert_eq!(s.status()?, DONE);
        expect(buf.map(), &filled(0xc0_0002, buf.size() as usize), "data")?;
        igt::assert!(
            counter(&dev, "corrupt_completions")? > before,
            "corruption not counted"
        );
        Ok(())
    })
}

/// Interrupts with nothing to report are counted and harm nothing.
fn spurious_irq() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = ok!(Context::new(&dev, Priority::Normal));
    let q = ok!(ctx.query()).queue;
    let before = counter(&dev, "spurious_irqs")?;
    inject(&dev, &format!("spurious-irq {q}"))?;
    wait_for(2, "the spurious interrupt counted", || {
        Ok(counter(&dev, "spurious_irqs")? > before)
    })?;
    let buf = ok!(Buffer::new(&dev, 4 * P, DRM_GAUDI_BO_DEVICE));
    fill_and_check(&ctx, &buf, 0x5b_0001)
}

/// A correctable memory error is counted; nothing else happens.
fn ecc_correctable() -> igt::Result {
    let dev = ok!(open_device());
    with_other_device(|| {
        let before = counter(&dev, "ecc_correctable")?;
        inject(&dev, "ecc-correctable 0x2000")?;
        wait_for(2, "the correctable error counted", || {
            Ok(counter(&dev, "ecc_correctable")? == before + 1)
        })?;
        let ctx = ok!(Context::new(&dev, Priority::Normal));
        let buf = ok!(Buffer::new(&dev, 4 * P, DRM_GAUDI_BO_DEVICE));
        fill_and_check(&ctx, &buf, 0xecc_0001)?;
        igt::assert_eq!(ras(&dev)?.get("wedged").map(String::as_str), Some("no"));
        Ok(())
    })
}

/// A listener of kernel uevents (`NETLINK_KOBJECT_UEVENT`).
struct Uevents(OwnedFd);

impl Uevents {
    fn new() -> igt::Result<Self> {
        // SAFETY: Plain system calls with valid arguments.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_KOBJECT_UEVENT,
            )
        };
        igt::assert!(
            fd >= 0,
            "netlink socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `fd` is a new socket we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: All-zero is a valid `sockaddr_nl`.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = 1;
        // SAFETY: `addr` is a valid `sockaddr_nl` of the given size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        igt::assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        Ok(Self(fd))
    }

    /// Waits up to `secs` for a uevent whose properties include every one of `want`; returns
    /// its properties.
    fn wait(&self, secs: u64, want: &[&str]) -> igt::Result<Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut buf = vec![0u8; 8192];
        while Instant::now() < deadline {
            let mut pfd = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
                continue;
            }
            // SAFETY: Reading into a buffer we own.
            let n =
                unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                continue;
            }
            let props: Vec<String> = buf[..n as usize]
                .split(|b| *b == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            if want.iter().all(|w| props.iter().any(|p| p == w)) {
                return Ok(props);
            }
        }
        Err(igt::fail!("no uevent with {want:?} in {secs} s"))
    }
}

/// Binds the driver to `pci` again and waits for node `path`.
fn rebind(pci: &str, path: &Path) -> igt::Result<Device> {
    if !Path::new(PCI_DRIVER).join(pci).exists() {
        ok!(
            std::fs::write(format!("{PCI_DRIVER}/bind"), pci),
            "bind {pci}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Device::open(path) {
            Ok(d) => return Ok(d),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(igt::fail!("{} after the bind: {e}", path.display())),
        }
    }
}

/// Unbinds the driver from `pci` if it is bound.
fn unbind(pci: &str) -> igt::Result {
    if Path::new(PCI_DRIVER).join(pci).exists() {
        ok!(
            std::fs::write(format!("{PCI_DRIVER}/unbind"), pci),
            "unbind {pci}"
        );
    }
    Ok(())
}

/// A fault that wedges the device (`fault`, its reason in the driver's `ras` file): a job in
/// flight fails with `EIO`, a `WEDGED=rebind` uevent names the node, the ioctls that need the
/// device fail with `EIO`, a coredump is written; then the documented recovery (unbind, bind)
/// gives a working device, while the other device's client never notices.
fn wedge(fault: &str, reason: &str, settle: Duration) -> igt::Result {
    let path = accel_igt::device_path();
    let dev = ok!(open_device());
    clear_coredumps(&dev)?;
    let pci = ok!(dev.pci_address());
    let minor = ok!(dev.minor());
    let events = Uevents::new()?;
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        let other = s.spawn(|| innocent_other_device(&stop));
        let res = (|| -> igt::Result {
            let ctx = ok!(Context::new(&dev, Priority::Normal));
            let held = Held::new(&ctx)?;
            inject(&dev, fault)?;
            let devname = format!("DEVNAME=accel/accel{minor}");
            let props = events.wait(10, &["WEDGED=rebind", &devname])?;
            igt::assert!(props.iter().any(|p| p == "ACTION=change"), "{props:?}");
            igt::assert_eq!(held.wait(10)?, -libc::EIO, "the job in flight");
            igt::assert_eq!(ras(&dev)?.get("wedged").map(String::as_str), Some(reason));
            let st = ok!(ctx.query());
            igt::assert!(st.wedged, "{st:?}");
            igt::assert_eq!(
                errno(dev.submit(&gaudi::exec::Submit::new(ctx.id(), 0x10_0000, 8))),
                libc::EIO,
                "SUBMIT while wedged"
            );
            igt::assert_eq!(
                errno(Context::new(&dev, Priority::Normal)),
                libc::EIO,
                "CTX_CREATE while wedged"
            );
            // What does not need the device still works.
            ok!(dev.device_info(), "QUERY while wedged");
            take_coredump(&dev, "wedge")
        })();
        stop.store(true, Ordering::Relaxed);
        let other = other
            .join()
            .map_err(|_| igt::fail!("the other device's client panicked"))?;
        // The documented recovery, whatever happened: unbind with the client's file open,
        // (the device comes back,) bind. The old device goes before the bind, so that its node
        // number is free again.
        let unbound = unbind(&pci);
        if let Some(rest) = settle.checked_sub(t0.elapsed()) {
            std::thread::sleep(rest);
        }
        drop(dev);
        let dev = rebind(&pci, &path);
        res?;
        other?;
        unbound?;
        let dev = dev?;
        igt::assert_eq!(ok!(dev.minor()), minor, "node number after the bind");
        igt::assert_eq!(ras(&dev)?.get("wedged").map(String::as_str), Some("no"));
        let ctx = ok!(Context::new(&dev, Priority::Normal));
        let buf = ok!(Buffer::new(&dev, 4 * P, DRM_GAUDI_BO_DEVICE));
        fill_and_check_dev(&ctx, &buf, 0xa11_0001)
    })
}

/// Unbinds and binds the driver with a client in the middle of work: its jobs end with
/// `ENODEV` (or `ECANCELED` if they never started), nothing waits forever, ioctls fail with
/// `ENODEV`; the new device works.
fn rebind_cycles() -> igt::Result {
    let n = std::env::var("GAUDI_REBIND_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2u32);
    let path = accel_igt::device_path();
    for i in 0..n {
        let dev = ok!(open_device());
        let pci = ok!(dev.pci_address());
        let res = (|| -> igt::Result {
            let ctx = ok!(Context::new(&dev, Priority::Normal));
            let mut held = Vec::new();
            for _ in 0..4 {
                held.push(Held::new(&ctx)?);
            }
            unbind(&pci)?;
            for h in &held {
                let st = h.wait(10)?;
                igt::assert!(
                    st == -libc::ENODEV || st == -libc::ECANCELED,
                    "job after the unbind ended with {st}"
                );
            }
            igt::assert_eq!(
                errno(Context::new(&dev, Priority::Normal)),
                libc::ENODEV,
                "CTX_CREATE after the unbind"
            );
            Ok(())
        })();
        let unbound = unbind(&pci);
        drop(dev);
        let dev = rebind(&pci, &path);
        res.map_err(|e| igt::fail!("cycle {i}: {e:?}"))?;
        unbound?;
        let dev = dev?;
        let ctx = ok!(Context::new(&dev, Priority::Normal));
        let buf = ok!(Buffer::new(&dev, 4 * P, DRM_GAUDI_BO_DEVICE));
        fill_and_check_dev(&ctx, &buf, 0x2b1d_0000 + i)?;
    }
    Ok(())
}

/// Hostile writes to the debugfs files are refused.
fn debugfs_hostile() -> igt::Result {
    let dev = ok!(open_device());
    let dir = debugfs(&dev)?;
    for bad in [
        "melt",
        "hang-queue 99",
        "hang-queue x",
        "hang-queue 1 2 3",
        "drop-irq 0 0x",
        "hang-queue 4294967296",
    ] {
        let e = std::fs::write(dir.join("inject"), bad)
            .err()
            .and_then(|e| e.raw_os_error());
        igt::assert_eq!(e, Some(libc::EINVAL), "inject {bad:?}");
    }
    for bad in ["0", "3600001", "x"] {
        let e = std::fs::write(dir.join("job_timeout_ms"), bad)
            .err()
            .and_then(|e| e.raw_os_error());
        igt::assert_eq!(e, Some(libc::EINVAL), "job_timeout_ms {bad:?}");
    }
    let t = ok!(std::fs::read_to_string(dir.join("job_timeout_ms")));
    igt::assert_eq!(t.trim(), "10000");
    Ok(())
}

fn main() {
    igt::main(|t| {
        t.subtest("hang-queue", || hang(false));
        t.subtest("hang-engine", || hang(true));
        t.subtest("hang-cycles", hang_cycles);
        t.subtest("lost-irq", lost_irq);
        t.subtest("corrupt-completion", corrupt_completion);
        t.subtest("spurious-irq", spurious_irq);
        t.subtest("ecc-correctable", ecc_correctable);
        t.subtest("ecc-uncorrectable-wedge", || {
            wedge(
                "ecc-uncorrectable 0x3000",
                "uncorrectable memory error",
                Duration::ZERO,
            )
        });
        t.subtest("device-lost-wedge", || {
            wedge(
                "device-lost 3000",
                "device lost",
                Duration::from_millis(4500),
            )
        });
        t.subtest("rebind-cycles", rebind_cycles);
        t.subtest("debugfs-hostile", debugfs_hostile);
    });
}
