// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the accel job queue on the mock engine of `bench_engine.ko`.
//!
//! Runs the workloads of `drm_sched_bench` on [`kernel::drm::accel::sched::queue`]: the same
//! engine (ring depth = credits, in-order service, completion from an hrtimer in softirq
//! context), the same credits, the same entity depth, the same job counts. Loading the module
//! runs the benchmark and prints its figures (or why they were rejected) to the kernel log.

use core::{
    mem::ManuallyDrop,
    ptr::NonNull,
    sync::atomic::{AtomicU64, Ordering},
};

use kernel::{
    drm::accel::sched::{
        fence::{Callback, CallbackRegistration, Fence, FenceCallback},
        queue::{Backend, Config, JobFences, JobQueue, Priority},
    },
    error::from_err_ptr,
    prelude::*,
    sync::{aref::ARef, Arc},
    time::{Delta, Instant, Monotonic},
};

module! {
    type: SchedBench,
    name: "accel_sched_bench",
    authors: ["Rust accel framework developers"],
    description: "Benchmark of the accel job queue on the mock engine",
    license: "GPL",
    params: {
        jobs: u32 {
            default: 20000,
            description: "jobs per throughput run",
        },
        entities: u32 {
            default: 16,
            description: "entities of the many-entity and chain runs",
        },
        chain_jobs: u32 {
            default: 5000,
            description: "jobs of the dependent-chain run",
        },
        latency_iters: u32 {
            default: 2000,
            description: "sequential jobs of the latency run",
        },
        entity_depth: u32 {
            default: 64,
            description: "jobs an entity holds queued (the queue's entity_depth)",
        },
    },
}

/// The C interface of `bench_engine.ko`, declared by hand from `bench_engine.h` (the module is
/// built next to this one, outside the kernel's bindings). Keep the two in sync.
mod ffi {
    use kernel::bindings;

    /// `struct bench_engine`, opaque.
    #[repr(C)]
    pub(crate) struct BenchEngine {
        _opaque: [u8; 0],
    }

    /// `struct bench_fence`, opaque.
    #[repr(C)]
    pub(crate) struct BenchFence {
        _opaque: [u8; 0],
    }

    /// `struct bench_engine_stats`.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    // Mirrors the C struct: not every field is read here.
    #[allow(dead_code)]
    pub(crate) struct Stats {
        pub(crate) submitted: u64,
        pub(crate) completed: u64,
        pub(crate) overflows: u64,
        pub(crate) idle: u64,
        pub(crate) max_ring: u32,
        pub(crate) depth: u32,
        pub(crate) service_ns: u32,
    }

    unsafe extern "C" {
        pub(crate) fn bench_engine_depth() -> u32;
        pub(crate) fn bench_engine_create() -> *mut BenchEngine;
        pub(crate) fn bench_engine_destroy(engine: *mut BenchEngine) -> u64;
        pub(crate) fn bench_engine_stats(engine: *mut BenchEngine, stats: *mut Stats);
        pub(crate) fn bench_engine_fence_alloc() -> *mut BenchFence;
        pub(crate) fn bench_engine_fence_free(fence: *mut BenchFence);
        pub(crate) fn bench_engine_submit(
            engine: *mut BenchEngine,
            fence: *mut BenchFence,
        ) -> *mut bindings::dma_fence;
    }
}

/// The ring depth of the engine, used as the queue's credits.
fn engine_depth() -> u32 {
    // SAFETY: Reads a module parameter of `bench_engine`; no precondition.
    unsafe { ffi::bench_engine_depth() }
}

/// An engine of `bench_engine.ko`, destroyed on drop.
///
/// # Invariants
///
/// `self.0` is an engine from `bench_engine_create()`, not destroyed yet.
struct Engine(NonNull<ffi::BenchEngine>);

// SAFETY: The engine's functions take its lock: any thread may call them.
unsafe impl Send for Engine {}
// SAFETY: See `Send`.
unsafe impl Sync for Engine {}

impl Engine {
    fn new() -> Result<Self> {
        // SAFETY: No precondition; we are in process context, where it may sleep.
        let raw = unsafe { ffi::bench_engine_create() };
        NonNull::new(raw).map(Self).ok_or(ENOMEM)
    }

    fn stats(&self) -> ffi::Stats {
        let mut stats = ffi::Stats::default();
        // SAFETY: The engine is live (type invariant); `stats` is valid for writes.
        unsafe { ffi::bench_engine_stats(self.0.as_ptr(), &mut stats) };
        stats
    }

    /// Puts the job of `fence` on the ring; returns its hardware fence. Does not allocate.
    fn submit(&self, fence: HwFence) -> Result<ARef<Fence>> {
        let fence = ManuallyDrop::new(fence);
        // SAFETY: The engine is live (type invariant); `fence.0` was never submitted and the
        // engine takes it over (`fence` is not dropped), on failure too.
        let raw = unsafe { ffi::bench_engine_submit(self.0.as_ptr(), fence.0.as_ptr()) };
        let raw = NonNull::new(from_err_ptr(raw)?).ok_or(EINVAL)?;
        // SAFETY: On success the engine returns an initialised fence with a reference for us.
        Ok(unsafe { Fence::from_owned_raw(raw) })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: The engine is live and not used after this (type invariant).
        let cancelled = unsafe { ffi::bench_engine_destroy(self.0.as_ptr()) };
        if cancelled != 0 {
            pr_err!("accel_sched_bench: {} jobs left on the engine\n", cancelled);
        }
    }
}

/// The hardware fence of a job, allocated with the job, before it is published.
///
/// # Invariants
///
/// `self.0` is from `bench_engine_fence_alloc()` and was not submitted.
struct HwFence(NonNull<ffi::BenchFence>);

// SAFETY: An unsubmitted fence is memory that only its owner uses.
unsafe impl Send for HwFence {}

impl HwFence {
    fn new() -> Result<Self> {
        // SAFETY: No precondition; process context.
        NonNull::new(unsafe { ffi::bench_engine_fence_alloc() })
            .map(Self)
            .ok_or(ENOMEM)
    }
}

impl Drop for HwFence {
    fn drop(&mut self) {
        // SAFETY: Not submitted (type invariant), so still ours to free.
        unsafe { ffi::bench_engine_fence_free(self.0.as_ptr()) };
    }
}

/// The backend: hands each job to the engine and records its submit-to-run latency.
struct Bench {
    engine: Engine,
    /// Jobs run, to check that every job ran once.
    runs: AtomicU64,
    /// Submit-to-run latency per job, in ns.
    latency: KVec<AtomicU64>,
}

/// A job: its index in the run, when it was pushed and its hardware fence.
struct BenchJob {
    index: usize,
    pushed: Option<Instant<Monotonic>>,
    hw: Option<HwFence>,
}

impl Backend for Bench {
    type Job = BenchJob;

    fn run(&self, job: &mut BenchJob) -> Result<ARef<Fence>> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        if let (Some(t), Some(slot)) = (job.pushed, self.latency.get(job.index)) {
            slot.store(t.elapsed().as_nanos().max(0) as u64, Ordering::Relaxed);
        }
        self.engine.submit(job.hw.take().ok_or(EINVAL)?)
    }

    fn timed_out(&self, _job: &mut BenchJob) {}

    fn stop(&self) {}
}

/// Checks that the finished fences of each entity signal in order.
struct OrderState {
    /// The highest sequence number signalled, per entity.
    last: KVec<AtomicU64>,
    errors: AtomicU64,
}

impl OrderState {
    fn check(&self, entity: usize, seqno: u64) {
        let Some(last) = self.last.get(entity) else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut old = last.load(Ordering::Relaxed);
        loop {
            if seqno <= old {
                self.errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
            match last.compare_exchange_weak(old, seqno, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(o) => old = o,
            }
        }
    }
}

struct Order {
    state: Arc<OrderState>,
    entity: usize,
}

impl FenceCallback for Order {
    fn signalled(&self, fence: &Fence) {
        self.state.check(self.entity, fence.seqno());
    }
}

/// The workloads, as in `drm_sched_bench`.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Independent jobs, round robin over the entities.
    Throughput,
    /// Each job depends on the finished fence of the one before.
    Chain,
    /// One job at a time: each waits for the one before to finish.
    Latency,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Throughput => "throughput",
            Mode::Chain => "chain",
            Mode::Latency => "latency",
        }
    }
}

const WAIT: Delta = Delta::from_secs(60);

/// `jobs` per `ns`, per second.
fn rate(jobs: usize, ns: i64) -> u64 {
    (jobs as u64 * 1_000_000_000)
        .checked_div(ns.max(1) as u64)
        .unwrap_or(0)
}

fn reject(mode: Mode, entities: usize, why: &str, value: i64) {
    pr_err!(
        "sched-bench accel_queue REJECTED {} entities={} {}={}\n",
        mode.name(),
        entities,
        why,
        value
    );
}

/// Submits `jobs` jobs round robin over `entities` entities the way `mode` says, waits for all
/// of them and prints the figures, or why they are rejected.
fn run(mode: Mode, entities: usize, jobs: usize) -> Result {
    let depth = module_parameters::entity_depth.value();
    let mut latency = KVec::with_capacity(jobs, GFP_KERNEL)?;
    for _ in 0..jobs {
        latency.push(AtomicU64::new(0), GFP_KERNEL)?;
    }
    let queue = JobQueue::new(
        Bench {
            engine: Engine::new()?,
            runs: AtomicU64::new(0),
            latency,
        },
        Config {
            name: c"accel-sched-bench",
            credits: engine_depth(),
            entity_depth: depth,
            timeout: WAIT,
        },
    )?;
    let mut ents = KVec::with_capacity(entities, GFP_KERNEL)?;
    for _ in 0..entities {
        ents.push(queue.new_entity(Priority::Normal)?, GFP_KERNEL)?;
    }
    let mut last = KVec::with_capacity(entities, GFP_KERNEL)?;
    for _ in 0..entities {
        last.push(AtomicU64::new(0), GFP_KERNEL)?;
    }
    let order = Arc::new(
        OrderState {
            last,
            errors: AtomicU64::new(0),
        },
        GFP_KERNEL,
    )?;
    // Allocated before the clock starts, as drm_sched_bench's; taken from the back.
    let mut nodes = KVec::with_capacity(jobs, GFP_KERNEL)?;
    for i in (0..jobs).rev() {
        nodes.push(
            Callback::new(Order {
                state: order.clone(),
                entity: i % entities,
            })?,
            GFP_KERNEL,
        )?;
    }
    let mut regs: KVec<CallbackRegistration<Order>> = KVec::with_capacity(jobs, GFP_KERNEL)?;
    let mut fences: KVec<JobFences> = KVec::with_capacity(jobs, GFP_KERNEL)?;
    let mut late_checks = 0u64;
    let window = depth as usize * entities;

    let start = Instant::<Monotonic>::now();
    let submitted: Result = (|| {
        for i in 0..jobs {
            // The entity holds at most `depth` jobs that have not started: wait for the oldest
            // to start, as drm_sched_bench does, so that `prepare` finds a free slot.
            if i >= window {
                fences[i - window].scheduled.wait(false, WAIT)?;
            }
            let mut deps = KVec::new();
            if mode == Mode::Chain && i > 0 {
                deps.push(fences[i - 1].finished.clone(), GFP_KERNEL)?;
            }
            let data = BenchJob {
                index: i,
                pushed: None,
                hw: Some(HwFence::new()?),
            };
            let mut job = ents[i % entities].prepare(data, 1, deps)?;
            job.data_mut().pushed = Some(Instant::now());
            let f = job.push();
            let node = nodes.pop().ok_or(EINVAL)?;
            match f.finished.add_callback(node) {
                Ok(reg) => regs.push_within_capacity(reg).map_err(|_| ENOMEM)?,
                Err(node) => {
                    // Signalled already: checked in push order.
                    late_checks += 1;
                    order.check(i % entities, f.finished.seqno());
                    drop(node);
                }
            }
            if mode == Mode::Latency {
                f.finished.wait(false, WAIT)?;
            }
            fences.push_within_capacity(f).map_err(|_| ENOMEM)?;
        }
        Ok(())
    })();
    let pushed = start.elapsed();
    let mut waited = Ok(());
    for f in &fences {
        if let Err(e) = f.finished.wait(false, WAIT) {
            waited = Err(e);
        }
    }
    let elapsed = start.elapsed();

    // Figures count only if every job ran once and completed, in order.
    let failed = fences
        .iter()
        .filter(|f| f.finished.status() != Some(Ok(())))
        .count();
    let runs = queue.backend().runs.load(Ordering::Relaxed);
    let stats = queue.backend().engine.stats();
    let errors = order.errors.load(Ordering::Relaxed);
    if let Err(e) = submitted.and(waited) {
        reject(mode, entities, "error", e.to_errno().into());
    } else if failed != 0 {
        reject(mode, entities, "failed_jobs", failed as i64);
    } else if runs != jobs as u64 {
        reject(mode, entities, "runs", runs as i64);
    } else if stats.submitted != jobs as u64 || stats.completed != jobs as u64 {
        reject(mode, entities, "engine_completed", stats.completed as i64);
    } else if stats.overflows != 0 {
        reject(mode, entities, "ring_overflows", stats.overflows as i64);
    } else if errors != 0 {
        reject(mode, entities, "order_errors", errors as i64);
    } else if mode == Mode::Latency {
        let mut lat = KVec::with_capacity(jobs, GFP_KERNEL)?;
        for l in queue.backend().latency.iter() {
            lat.push(l.load(Ordering::Relaxed), GFP_KERNEL)?;
        }
        let mean = lat.iter().sum::<u64>() / jobs as u64;
        lat.sort_unstable();
        pr_info!(
            "sched-bench accel_queue latency entities={} jobs={} submit_to_run_ns={} p50_ns={} p99_ns={} late_checks={}\n",
            entities,
            jobs,
            mean,
            lat[jobs / 2],
            lat[jobs * 99 / 100],
            late_checks
        );
    } else {
        pr_info!(
            "sched-bench accel_queue {} entities={} jobs={} jobs_per_s={} pushed_per_s={} max_ring={} engine_idle={} late_checks={}\n",
            mode.name(),
            entities,
            jobs,
            rate(jobs, elapsed.as_nanos()),
            rate(jobs, pushed.as_nanos()),
            stats.max_ring,
            stats.idle,
            late_checks
        );
    }
    // Every callback has run (or the run failed): removing them removes nothing.
    drop(regs);
    drop(ents);
    drop(queue);
    Ok(())
}

struct SchedBench;

impl Drop for SchedBench {
    fn drop(&mut self) {
        // The fences of the runs are freed after an RCU grace period; wait for that before the
        // module goes.
        kernel::sync::rcu::rcu_barrier();
    }
}

impl kernel::Module for SchedBench {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let jobs = module_parameters::jobs.value() as usize;
        let entities = module_parameters::entities.value() as usize;
        let chain = module_parameters::chain_jobs.value() as usize;
        let iters = module_parameters::latency_iters.value() as usize;
        let depth = module_parameters::entity_depth.value();
        if jobs == 0 || entities == 0 || chain == 0 || iters == 0 || depth == 0 {
            return Err(EINVAL);
        }

        pr_info!(
            "sched-bench accel_queue config credits={} entity_depth={}\n",
            engine_depth(),
            depth
        );
        for (mode, entities, jobs) in [
            (Mode::Throughput, 1, jobs),
            (Mode::Throughput, entities, jobs),
            (Mode::Chain, entities, chain),
            (Mode::Latency, 1, iters),
        ] {
            if let Err(e) = run(mode, entities, jobs) {
                reject(mode, entities, "setup", e.to_errno().into());
            }
        }
        Ok(SchedBench)
    }
}
