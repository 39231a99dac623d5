// SPDX-License-Identifier: GPL-2.0

//! Null-engine benchmark of the accel job queue.
//!
//! Runs the workloads of `drm_sched_bench` on [`kernel::drm::accel::sched::queue`]: the same
//! null engine (the backend returns the signalled stub fence), the same credit limit, the same
//! job counts. Loading the module runs the benchmark and prints its figures to the kernel log.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::{
    drm::accel::sched::{
        fence::Fence,
        queue::{Backend, Config, JobQueue, Priority},
    },
    prelude::*,
    sync::aref::ARef,
    time::{Delta, Instant, Monotonic},
};

module! {
    type: SchedBench,
    name: "accel_sched_bench",
    authors: ["Rust accel framework developers"],
    description: "Null-engine benchmark of the accel job queue",
    license: "GPL",
    params: {
        jobs: u32 {
            default: 20000,
            description: "jobs per throughput run",
        },
        entities: u32 {
            default: 16,
            description: "entities of the many-entity throughput run",
        },
        latency_iters: u32 {
            default: 2000,
            description: "sequential jobs of the latency run",
        },
    },
}

/// Same credit limit as `drm_sched_bench`.
const CREDITS: u32 = 64;

/// The null engine: every job completes as it starts.
struct NullEngine {
    latency_ns: AtomicU64,
    /// Jobs run, to check that every job ran.
    runs: AtomicU64,
}

impl Backend for NullEngine {
    /// When the job was pushed.
    type Job = Option<Instant<Monotonic>>;

    fn run(&self, submitted: &mut Option<Instant<Monotonic>>) -> Result<ARef<Fence>> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = submitted {
            let ns = t.elapsed().as_nanos().max(0) as u64;
            self.latency_ns.fetch_add(ns, Ordering::Relaxed);
        }
        Ok(Fence::signalled_stub())
    }

    fn timed_out(&self, _job: &mut Option<Instant<Monotonic>>) {}

    fn stop(&self) {}
}

/// Figures of one run.
struct Figures {
    /// From the first prepare to the last finished fence.
    elapsed: Delta,
    /// From the first prepare to the last push.
    submitted: Delta,
    /// Summed submit-to-run latency.
    latency_ns: u64,
}

/// Submits `jobs` jobs round robin over `entities` entities and waits for all of them; with
/// `serial`, waits for each before submitting the next.
fn run(entities: u32, jobs: u32, serial: bool) -> Result<Figures> {
    let queue = JobQueue::new(
        NullEngine {
            latency_ns: AtomicU64::new(0),
            runs: AtomicU64::new(0),
        },
        Config {
            name: c"accel-sched-bench",
            credits: CREDITS,
            entity_depth: jobs,
            timeout: Delta::from_secs(60),
        },
    )?;
    let mut ents = KVec::with_capacity(entities as usize, GFP_KERNEL)?;
    for _ in 0..entities {
        ents.push(queue.new_entity(Priority::Normal)?, GFP_KERNEL)?;
    }
    let mut finished = KVec::with_capacity(jobs as usize, GFP_KERNEL)?;
    let start = Instant::<Monotonic>::now();
    for entity in ents.iter().cycle().take(jobs as usize) {
        let mut job = entity.prepare(None, 1, KVec::new())?;
        // Like drm_sched_bench, latency counts from the push.
        *job.data_mut() = Some(Instant::now());
        let fence = job.push().finished;
        if serial {
            fence.wait(false, Delta::from_secs(10))?;
        }
        finished.push(fence, GFP_KERNEL)?;
    }
    let submitted = start.elapsed();
    for f in &finished {
        f.wait(false, Delta::from_secs(10))?;
    }
    let elapsed = start.elapsed();
    // Figures count only if every job ran and completed.
    let runs = queue.backend().runs.load(Ordering::Relaxed);
    if runs != u64::from(jobs) || finished.iter().any(|f| f.status() != Some(Ok(()))) {
        pr_err!(
            "accel_sched_bench: {} of {} jobs ran, or a job failed\n",
            runs,
            jobs
        );
        return Err(EIO);
    }
    Ok(Figures {
        elapsed,
        submitted,
        latency_ns: queue.backend().latency_ns.load(Ordering::Relaxed),
    })
}

/// `jobs` per `time`, per second.
fn rate(jobs: u32, time: Delta) -> u64 {
    (u64::from(jobs) * 1_000_000_000)
        .checked_div(time.as_nanos().max(1) as u64)
        .unwrap_or(0)
}

fn throughput(entities: u32, jobs: u32) {
    match run(entities, jobs, false) {
        Ok(f) => pr_info!(
            "sched-bench accel_queue throughput entities={} jobs={} jobs_per_s={} pushed_per_s={}\n",
            entities,
            jobs,
            rate(jobs, f.elapsed),
            rate(jobs, f.submitted)
        ),
        Err(e) => pr_err!("accel_sched_bench: throughput run failed: {:?}\n", e),
    }
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
        let jobs = module_parameters::jobs.value();
        let entities = module_parameters::entities.value();
        let iters = module_parameters::latency_iters.value();
        if jobs == 0 || entities == 0 || iters == 0 {
            return Err(EINVAL);
        }

        throughput(1, jobs);
        throughput(entities, jobs);
        match run(1, iters, true) {
            Ok(Figures { latency_ns, .. }) => pr_info!(
                "sched-bench accel_queue latency jobs={} submit_to_run_ns={}\n",
                iters,
                latency_ns.checked_div(u64::from(iters)).unwrap_or(0)
            ),
            Err(e) => pr_err!("accel_sched_bench: latency run failed: {:?}\n", e),
        }
        Ok(SchedBench)
    }
}
