// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Execution: `DRM_IOCTL_GAUDI_SUBMIT` on the device.
//!
//! * null submit latency: a job of one NOP with one out-syncobj, submitted and waited for, one
//!   at a time, against a `DRM_IOCTL_VERSION` on the same file;
//! * submit throughput: NOP jobs submitted back to back from 1 and from 8 threads (a context
//!   each), completing asynchronously; the clock stops when the last one has completed;
//! * dependent chain: NOP jobs on four contexts, each waiting for the timeline point of the one
//!   before and signalling the next; the chain is submitted behind a gate and timed from the
//!   gate's release to its last point;
//! * DMA bandwidth: one job copying a large buffer between system and device memory, from
//!   submission to completion; and a job of eight such copies, where the job's fixed costs
//!   weigh less.
//!
//! Every figure is the median of the rounds, with their range. The lines start with
//! `exec-bench` and give a name, a unit, the median, the minimum and the maximum, then details
//! as `key=value`; `scripts/bench-report.sh` turns them into ratios (the DMA rows against the
//! host's `memcpy`, which the host measures in the same run).

use std::{
    cell::Cell,
    io,
    os::fd::AsFd,
    sync::Barrier,
    thread,
    time::{Duration, Instant},
};

use gaudi::{
    cmdbuf::{CommandBuffer, UploadedCb},
    syncobj::{self, timeout_after},
    uapi::DRM_GAUDI_BO_DEVICE,
    Buffer, Context, Device, Priority,
};

use crate::median;

const MIB: u64 = 1 << 20;
/// How long any wait of the benchmark may take before it counts as a failure.
const LONG: Duration = Duration::from_secs(60);
/// Threads of the parallel throughput figure.
const THREADS: usize = 8;
/// Contexts the dependent chain goes round.
const CHAIN_CONTEXTS: usize = 4;
/// In the throughput runs, every `SIGNAL_EVERY`-th job signals the thread's timeline.
const SIGNAL_EVERY: u64 = 32;
/// When a context is full (`EBUSY`), the submitter waits until it has at most about this many
/// jobs left; the driver's limit is 256.
const BACKLOG: u64 = 128;

/// An error that says what failed.
fn failed(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A syncobj, destroyed on drop.
struct Syncobj<'d> {
    dev: &'d Device,
    handle: u32,
}

impl<'d> Syncobj<'d> {
    fn new(dev: &'d Device) -> io::Result<Self> {
        let handle = syncobj::create(dev.as_fd(), 0).map_err(|e| failed("syncobj create", e))?;
        Ok(Self { dev, handle })
    }

    /// Waits for the fence (`point` 0) or for timeline point `point`.
    fn wait(&self, point: u64) -> io::Result<()> {
        let (fd, deadline) = (self.dev.as_fd(), timeout_after(LONG));
        if point == 0 {
            syncobj::wait(fd, &[self.handle], deadline, 0)
        } else {
            syncobj::timeline_wait(fd, &[self.handle], &[point], deadline, 0)
        }
        .map(|_| ())
        .map_err(|e| failed(&format!("wait for point {point}"), e))
    }
}

impl Drop for Syncobj<'_> {
    fn drop(&mut self) {
        let _ = syncobj::destroy(self.dev.as_fd(), self.handle);
    }
}

/// The median, the minimum and the maximum of `v`.
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(v: &[f64]) -> Self {
        Self {
            median: median(v.to_vec()),
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// Prints one figure: `exec-bench NAME UNIT MEDIAN MIN MAX DETAILS`.
fn figure(name: &str, unit: &str, v: &[f64], details: &str) {
    let s = Spread::of(v);
    println!(
        "exec-bench {name} {unit} {:.2} {:.2} {:.2} {details}",
        s.median, s.min, s.max
    );
}

/// Fails if a job of `ctx` failed.
fn check_context(ctx: &Context<'_>) -> io::Result<()> {
    let s = ctx.query().map_err(|e| failed("context query", e))?;
    if s.banned || s.error != 0 {
        return Err(io::Error::other(format!(
            "context {} failed: {s:?}",
            ctx.id()
        )));
    }
    Ok(())
}

/// A command buffer of one NOP (8 bytes), the smallest job there is.
fn nop_cb(dev: &Device) -> io::Result<UploadedCb<'_>> {
    let mut cb = CommandBuffer::new();
    cb.nop(2).map_err(io::Error::other)?;
    cb.upload(dev)
        .map_err(|e| failed("upload the command buffer", e))
}

/// A job of `ctx` running `cb` and naming no objects: nothing for implicit synchronisation.
fn bare_job(ctx: &Context<'_>, cb: &UploadedCb<'_>) -> gaudi::Submit {
    ctx.job(cb.va(), cb.size())
}

/// Mean time of `iters` calls of `op` after a tenth as many to warm up, in microseconds;
/// `samples` receives every call's time.
fn mean_us(
    iters: u32,
    samples: &mut Vec<f64>,
    op: &mut dyn FnMut() -> io::Result<()>,
) -> io::Result<f64> {
    for _ in 0..iters.div_ceil(10) {
        op()?;
    }
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let t = Instant::now();
        op()?;
        let d = t.elapsed();
        samples.push(d.as_secs_f64() * 1e6);
        total += d;
    }
    Ok(total.as_secs_f64() * 1e6 / f64::from(iters))
}

/// The 99th percentile of `v`.
fn p99(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get((v.len() * 99 / 100).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// Null submit latency against `DRM_IOCTL_VERSION`, alternating in each round.
fn latency(dev: &Device, n: u32, rounds: u32) -> io::Result<()> {
    let ctx = Context::new(dev, Priority::Normal).map_err(|e| failed("context", e))?;
    let cb = nop_cb(dev)?;
    let done = Syncobj::new(dev)?;
    let job = bare_job(&ctx, &cb).signal(done.handle, 0);
    let mut version = || {
        // The first half of what drmGetVersion() does: no strings asked for.
        drm_ffi::get_version(dev.as_fd(), None, None, None)
            .map(drop)
            .map_err(|e| failed("VERSION", e))
    };
    // The time in the SUBMIT ioctl alone, of the round trips of a round.
    let in_submit = Cell::new(Duration::ZERO);
    let mut null = || {
        let t = Instant::now();
        dev.submit(&job).map_err(|e| failed("submit", e))?;
        in_submit.set(in_submit.get() + t.elapsed());
        done.wait(0)
    };
    let (mut v, mut s, mut sub) = (Vec::new(), Vec::new(), Vec::new());
    let (mut v_all, mut s_all) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        v.push(mean_us(n, &mut v_all, &mut version)?);
        in_submit.set(Duration::ZERO);
        s.push(mean_us(n, &mut s_all, &mut null)?);
        // The warm-up's submits count too.
        let calls = n + n.div_ceil(10);
        sub.push(in_submit.get().as_secs_f64() * 1e6 / f64::from(calls));
    }
    check_context(&ctx)?;
    let detail = |all: Vec<f64>| format!("p99_us={:.1} ops={n}", p99(all));
    figure("version_ioctl", "us", &v, &detail(v_all));
    figure(
        "null_submit_wait",
        "us",
        &s,
        &format!(
            "{} submit_ioctl_us={:.1}",
            detail(s_all),
            Spread::of(&sub).median
        ),
    );
    Ok(())
}

/// What a submitting thread reports.
#[derive(Default)]
struct Submitted {
    /// How often the context was full (`EBUSY`).
    full: u64,
    /// Time spent in successful SUBMIT ioctls.
    in_submit: Duration,
}

/// Submits `jobs` NOP jobs on a new context of `dev` once `start` opens, without waiting for
/// them except when the context is full; returns when the last one has completed.
fn submitter(
    dev: &Device,
    cb: &UploadedCb<'_>,
    jobs: u64,
    start: &Barrier,
) -> io::Result<Submitted> {
    let ctx = Context::new(dev, Priority::Normal).map_err(|e| failed("context", e))?;
    let timeline = Syncobj::new(dev)?;
    let job = bare_job(&ctx, cb);
    let mut out = Submitted::default();
    start.wait();
    let mut i = 0;
    while i < jobs {
        let point = i + 1;
        let signals = point % SIGNAL_EVERY == 0 || point == jobs;
        let t = Instant::now();
        let r = if signals {
            dev.submit(&job.clone().signal(timeline.handle, point))
        } else {
            dev.submit(&job)
        };
        match r {
            Ok(_) => {
                out.in_submit += t.elapsed();
                i += 1;
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                // As a client would: wait for an earlier job, then try again.
                out.full += 1;
                let back = i.saturating_sub(BACKLOG) / SIGNAL_EVERY * SIGNAL_EVERY;
                if back == 0 {
                    thread::sleep(Duration::from_micros(100));
                } else {
                    timeline.wait(back)?;
                }
            }
            Err(e) => return Err(failed("submit", e)),
        }
    }
    timeline.wait(jobs)?;
    check_context(&ctx)?;
    Ok(out)
}

/// A throughput run: jobs per second, how often a context was full, and the mean time of a
/// SUBMIT in microseconds.
struct Throughput {
    rate: f64,
    full: u64,
    submit_us: f64,
}

/// `threads` threads submitting `jobs` jobs in all, each thread on a context of its own.
fn throughput(
    dev: &Device,
    cb: &UploadedCb<'_>,
    threads: usize,
    jobs: u64,
) -> io::Result<Throughput> {
    let per_thread = jobs / threads as u64;
    let start = Barrier::new(threads + 1);
    let (elapsed, results) = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| submitter(dev, cb, per_thread, &start)))
            .collect();
        start.wait();
        let t = Instant::now();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("thread panicked")))
            })
            .collect();
        (t.elapsed(), results)
    });
    let total = per_thread * threads as u64;
    let mut sum = Submitted::default();
    for r in results {
        let r = r?;
        sum.full += r.full;
        sum.in_submit += r.in_submit;
    }
    Ok(Throughput {
        rate: total as f64 / elapsed.as_secs_f64().max(1e-9),
        full: sum.full,
        submit_us: sum.in_submit.as_secs_f64() * 1e6 / total as f64,
    })
}

/// Submit throughput from 1 and from [`THREADS`] threads, alternating in each round.
fn submit_rates(dev: &Device, n: u32, rounds: u32) -> io::Result<()> {
    let cb = nop_cb(dev)?;
    let jobs = 4 * u64::from(n);
    throughput(dev, &cb, 1, jobs.div_ceil(10))?;
    let mut runs: [Vec<Throughput>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        runs[0].push(throughput(dev, &cb, 1, jobs)?);
        runs[1].push(throughput(dev, &cb, THREADS, jobs)?);
    }
    for (name, runs) in [
        ("submit_1_thread".to_string(), &runs[0]),
        (format!("submit_{THREADS}_threads"), &runs[1]),
    ] {
        let rates: Vec<f64> = runs.iter().map(|r| r.rate).collect();
        let submit_us = median(runs.iter().map(|r| r.submit_us).collect());
        let full: u64 = runs.iter().map(|r| r.full).sum();
        figure(
            &name,
            "jobs/s",
            &rates,
            &format!("jobs={jobs} context_full={full} submit_ioctl_us={submit_us:.1}"),
        );
    }
    Ok(())
}

/// One dependent chain of `n` jobs: the first waits on the device for `gate` to reach `key`,
/// then every job waits for the point of the one before. Returns the microseconds per job
/// from the gate's release to the last point.
fn chain_once(
    ctxs: &[Context<'_>],
    timeline: &Syncobj<'_>,
    gate: &Buffer<'_>,
    nop: &UploadedCb<'_>,
    base: u64,
    n: u64,
    key: u64,
) -> io::Result<f64> {
    let dev = gate.device();
    let mut cb = CommandBuffer::new();
    cb.wait(gate.va(), key).map_err(io::Error::other)?;
    let first = cb.upload(dev).map_err(|e| failed("upload the gate", e))?;
    dev.submit(&bare_job(&ctxs[0], &first).signal(timeline.handle, base + 1))
        .map_err(|e| failed("submit the gate", e))?;
    for i in 1..n {
        let ctx = &ctxs[i as usize % ctxs.len()];
        let job = bare_job(ctx, nop)
            .wait(timeline.handle, base + i)
            .signal(timeline.handle, base + i + 1);
        dev.submit(&job)
            .map_err(|e| failed(&format!("submit chain job {i}"), e))?;
    }
    let t = Instant::now();
    gate.write_u64(0, key)?;
    timeline.wait(base + n)?;
    Ok(t.elapsed().as_secs_f64() * 1e6 / n as f64)
}

/// The dependent chain, `n` jobs per round.
fn chain(dev: &Device, n: u32, rounds: u32) -> io::Result<()> {
    let ctxs = (0..CHAIN_CONTEXTS)
        .map(|_| Context::new(dev, Priority::Normal))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| failed("context", e))?;
    let timeline = Syncobj::new(dev)?;
    let gate = Buffer::new(dev, 4096, 0).map_err(|e| failed("gate buffer", e))?;
    let nop = nop_cb(dev)?;
    let n = u64::from(n);
    let mut per_job = Vec::new();
    let mut base = 0;
    for round in 0..=rounds {
        let us = chain_once(&ctxs, &timeline, &gate, &nop, base, n, u64::from(round) + 1)?;
        base += n;
        // Round 0 warms up.
        if round > 0 {
            per_job.push(us);
        }
    }
    for ctx in &ctxs {
        check_context(ctx)?;
    }
    figure(
        "chain_timeline",
        "us/job",
        &per_job,
        &format!("jobs={n} contexts={CHAIN_CONTEXTS}"),
    );
    Ok(())
}

/// The markers a DMA round writes: offsets in the source and their values.
fn markers(size: u64, round: u32) -> [(usize, u64); 3] {
    let v = 0x6a75_6d70_0000_0000 | u64::from(round) << 8;
    let size = size as usize;
    [(0, v | 1), (size / 2, v | 2), (size - 8, v | 3)]
}

/// A job of `copies` copies of `size` bytes from `src + src_off` to `dst + dst_off`, from
/// submission to completion; returns GB/s (of all the copies).
fn copy_once(
    ctx: &Context<'_>,
    done: &Syncobj<'_>,
    (src, src_off): (&Buffer<'_>, u64),
    (dst, dst_off): (&Buffer<'_>, u64),
    (size, copies): (u64, u32),
    round: u32,
) -> io::Result<f64> {
    let dev = ctx.device();
    let mut cb = CommandBuffer::new();
    for _ in 0..copies {
        cb.dma_copy(src.va() + src_off, dst.va() + dst_off, size)
            .map_err(io::Error::other)?;
    }
    let cb = cb.upload(dev).map_err(|e| failed("upload the copy", e))?;
    let mut job = bare_job(ctx, &cb);
    if src.handle() != dst.handle() {
        job = job.read(src.handle());
    }
    let job = job.write(dst.handle()).signal(done.handle, 0);
    let marks = markers(size, round);
    for (at, v) in marks {
        src.write_u64(src_off as usize + at, v)?;
    }
    let t = Instant::now();
    dev.submit(&job).map_err(|e| failed("submit the copy", e))?;
    done.wait(0)?;
    let elapsed = t.elapsed();
    for (at, v) in marks {
        let got = dst.read_u64(dst_off as usize + at)?;
        if got != v {
            return Err(io::Error::other(format!(
                "copy of {size} bytes: {got:#x} at {at}, not {v:#x}"
            )));
        }
    }
    let bytes = size * u64::from(copies);
    Ok(bytes as f64 / elapsed.as_secs_f64().max(1e-9) / 1e9)
}

/// DMA bandwidth of large copies between system and device memory.
fn dma(dev: &Device, rounds: u32) -> io::Result<()> {
    let ctx = Context::new(dev, Priority::Normal).map_err(|e| failed("context", e))?;
    let done = Syncobj::new(dev)?;
    let (sys_size, dev_size) = (64 * MIB, 32 * MIB);
    let buffer = |size, flags, what| {
        Buffer::new(dev, size, flags).map_err(|e| failed(&format!("{what} buffer"), e))
    };
    let src = buffer(sys_size, 0, "source")?;
    let dst = buffer(sys_size, 0, "destination")?;
    let dmem = if dev.memory_info()?.dram_free >= dev_size {
        Some(buffer(dev_size, DRM_GAUDI_BO_DEVICE, "device-memory")?)
    } else {
        println!(
            "exec-bench: less than {} MiB of device memory free: no device-memory copies",
            dev_size / MIB
        );
        None
    };
    // The last case repeats the first with the same copy eight times in one job: what the
    // engine moves once the job's fixed costs are spread over more bytes.
    let mut cases = vec![("dma_system_to_system", (&src, 0), (&dst, 0), (sys_size, 1))];
    if let Some(d) = &dmem {
        let half = dev_size / 2;
        cases.push(("dma_system_to_device", (&src, 0), (d, 0), (dev_size, 1)));
        cases.push(("dma_device_to_system", (d, 0), (&dst, 0), (dev_size, 1)));
        cases.push(("dma_device_to_device", (d, 0), (d, half), (half, 1)));
    }
    cases.push((
        "dma_system_to_system_x8",
        (&src, 0),
        (&dst, 0),
        (sys_size, 8),
    ));
    for (name, from, to, (size, copies)) in cases {
        let mut rates = Vec::new();
        for round in 0..=rounds {
            let r = copy_once(&ctx, &done, from, to, (size, copies), round)?;
            // Round 0 warms up.
            if round > 0 {
                rates.push(r);
            }
        }
        figure(
            name,
            "GB/s",
            &rates,
            &format!("bytes={size} copies={copies}"),
        );
    }
    check_context(&ctx)
}

/// The execution figures: `n` operations per measurement, median of `rounds`.
pub(crate) fn run(dev: &Device, n: u32, rounds: u32) -> io::Result<()> {
    println!("exec-bench: {rounds} rounds of {n} operations; figures: name unit median min max");
    latency(dev, n, rounds)?;
    submit_rates(dev, n, rounds)?;
    chain(dev, n, rounds)?;
    dma(dev, rounds)?;
    p2p(dev, rounds)
}

/// The gaudi node whose PCI function is behind the same bridge as `dev`'s: the peer that
/// `dev` can reach peer-to-peer (see Documentation/memory.rst).
fn pair_of(dev: &Device) -> Option<Device> {
    let pci = |p: &std::path::Path| {
        let name = p.file_name()?.to_str()?.to_string();
        std::fs::canonicalize(format!("/sys/class/accel/{name}/device")).ok()
    };
    let mine = pci(dev.path())?;
    gaudi::accel_nodes()
        .ok()?
        .into_iter()
        .filter(|p| pci(p).is_some_and(|t| t != mine && t.parent() == mine.parent()))
        .find_map(|p| Device::open(p).ok())
}

/// Device-to-device copy bandwidth: `dev` copies device memory of its peer into its own
/// through a peer-to-peer import, against the same copy bounced through system memory (the
/// peer's DMA engine copies into a system-memory object that `dev` imports and copies from,
/// the fallback when peer-to-peer is refused). Each copy is timed from the first SUBMIT until
/// the last wait returns.
pub(crate) fn p2p(dev: &Device, rounds: u32) -> io::Result<()> {
    let Some(peer) = pair_of(dev) else {
        println!("exec-bench: no gaudi device behind the same PCI bridge: no peer-to-peer copies");
        return Ok(());
    };
    let size = 16 * MIB;
    fn buffer<'d>(d: &'d Device, size: u64, flags: u32, what: &str) -> io::Result<Buffer<'d>> {
        Buffer::new(d, size, flags).map_err(|e| failed(&format!("{what} buffer"), e))
    }
    fn upload<'d>(d: &'d Device, from: u64, to: u64, size: u64) -> io::Result<UploadedCb<'d>> {
        let mut cb = CommandBuffer::new();
        cb.dma_copy(from, to, size).map_err(io::Error::other)?;
        cb.upload(d).map_err(|e| failed("upload the copy", e))
    }
    let src = buffer(&peer, size, DRM_GAUDI_BO_DEVICE, "peer's device-memory")?;
    let bounce = buffer(&peer, size, 0, "peer's system-memory")?;
    let dst = buffer(dev, size, DRM_GAUDI_BO_DEVICE, "device-memory")?;
    let import = |b: &Buffer<'_>| -> io::Result<Buffer<'_>> {
        let fd = peer.prime_handle_to_fd(b.handle(), gaudi::drm::DRM_CLOEXEC)?;
        let handle = dev.prime_fd_to_handle(fd.as_fd())?;
        Buffer::adopt(dev, gaudi::Bo { handle, size }, true)
    };
    let direct = import(&src).map_err(|e| failed("peer-to-peer import", e))?;
    let bounced = import(&bounce).map_err(|e| failed("import of system memory", e))?;
    let (ctx, pctx) = (
        Context::new(dev, Priority::Normal).map_err(|e| failed("context", e))?,
        Context::new(&peer, Priority::Normal).map_err(|e| failed("peer context", e))?,
    );
    let (done, pdone) = (Syncobj::new(dev)?, Syncobj::new(&peer)?);
    let cb_direct = upload(dev, direct.va(), dst.va(), size)?;
    let cb_out = upload(&peer, src.va(), bounce.va(), size)?;
    let cb_in = upload(dev, bounced.va(), dst.va(), size)?;
    let (mut direct_rates, mut bounce_rates) = (Vec::new(), Vec::new());
    let gbps = |t: Instant| size as f64 / t.elapsed().as_secs_f64().max(1e-9) / 1e9;
    for round in 0..=rounds {
        for bounced_copy in [false, true] {
            let marks = markers(size, 2 * round + u32::from(bounced_copy));
            for (at, v) in marks {
                src.write_u64(at, v)?;
            }
            let t = Instant::now();
            if bounced_copy {
                let job = bare_job(&pctx, &cb_out)
                    .read(src.handle())
                    .write(bounce.handle())
                    .signal(pdone.handle, 0);
                peer.submit(&job)
                    .map_err(|e| failed("submit the copy out", e))?;
                pdone.wait(0)?;
            }
            let (cb, from) = if bounced_copy {
                (&cb_in, &bounced)
            } else {
                (&cb_direct, &direct)
            };
            let job = bare_job(&ctx, cb)
                .read(from.handle())
                .write(dst.handle())
                .signal(done.handle, 0);
            dev.submit(&job).map_err(|e| failed("submit the copy", e))?;
            done.wait(0)?;
            let rate = gbps(t);
            for (at, v) in marks {
                let got = dst.read_u64(at)?;
                if got != v {
                    return Err(io::Error::other(format!(
                        "peer copy (bounced: {bounced_copy}): {got:#x} at {at}, not {v:#x}"
                    )));
                }
            }
            // Round 0 warms up.
            if round > 0 {
                if bounced_copy {
                    bounce_rates.push(rate);
                } else {
                    direct_rates.push(rate);
                }
            }
        }
    }
    check_context(&ctx)?;
    check_context(&pctx)?;
    figure(
        "p2p_copy",
        "GB/s",
        &direct_rates,
        &format!("bytes={size} path=peer-to-peer"),
    );
    figure(
        "bounce_copy",
        "GB/s",
        &bounce_rates,
        &format!("bytes={size} path=through-system-memory"),
    );
    Ok(())
}
