// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A fuzzing campaign against the node under test (see [`accel_igt::fuzz`]): several threads
//! and forked processes on shared files, forks with live mappings, every resource closed at
//! the end and the driver's accounting of both devices back at its start.
//!
//! `campaign` runs `GAUDI_FUZZ_CALLS` calls (default 12000, `make check`) from
//! `GAUDI_FUZZ_SEED` (default 0x5eed); `make fuzz` runs a long campaign. It prints the calls,
//! the distinct requests, the errnos and the rate, and fails on an errno no request documents,
//! a worker that died, or objects, memory or descriptors not returned. The kernel's own
//! reports (WARN, KASAN, lockdep, leaks) are judged by the run's kernel-log check.

use std::{
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::Arc,
    time::{Duration, Instant},
};

use accel_igt::{
    device_path,
    fuzz::{errno_name, shared_files, Stats, Worker},
    other_device_path, Baseline,
};

/// Threads of the parent process.
const THREADS: u64 = 3;
/// Forked processes that fuzz alongside, each with two threads.
const CHILDREN: u64 = 2;
/// Forks with live mappings at the end, each running a few calls in the child.
const LATE_FORKS: u64 = 8;
/// How long the counters may take to come back (jobs of closed files finish first).
const SETTLE: Duration = Duration::from_secs(60);

fn env_u64(name: &str, default: u64) -> igt::Result<u64> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => {
            let v = v.trim();
            let r = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => v.parse(),
            };
            r.map_err(|e| igt::fail!("{name}={v}: {e}"))
        }
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Runs `calls` calls (at least) on a worker.
fn run(w: &mut Worker, calls: u64) {
    let start = w.stats.total();
    while w.stats.total() - start < calls {
        w.step();
    }
}

/// Runs `workers` on threads of their own; returns them when all are done.
fn run_threads(workers: Vec<Worker>, calls: u64) -> Result<Vec<Worker>, String> {
    let handles: Vec<_> = workers
        .into_iter()
        .map(|mut w| {
            std::thread::spawn(move || {
                run(&mut w, calls);
                w
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(
            h.join()
                .map_err(|_| "a fuzzing thread panicked".to_string())?,
        );
    }
    Ok(out)
}

/// Forks a child that runs `f` and reports its statistics through a pipe; returns the pid
/// and the reading end. Call only while the process has a single thread.
fn fork_child(f: impl FnOnce() -> Stats) -> igt::Result<(libc::pid_t, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(igt::fail!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: The process is single-threaded here; the child runs `f` and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(igt::fail!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(rx);
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(stats) => {
                let mut tx = std::fs::File::from(tx);
                if tx.write_all(stats.serialize().as_bytes()).is_ok() {
                    0
                } else {
                    2
                }
            }
            Err(_) => 1,
        };
        // SAFETY: Leaves the child at once, without the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    drop(tx);
    Ok((pid, rx))
}

/// Waits for a child of [`fork_child`] and returns its statistics.
fn reap(pid: libc::pid_t, rx: OwnedFd) -> igt::Result<Stats> {
    use std::io::Read;
    let mut text = String::new();
    let _ = std::fs::File::from(rx).read_to_string(&mut text);
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is valid for writes.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return Err(igt::fail!("waitpid: {}", std::io::Error::last_os_error()));
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(igt::fail!(
            "fuzzing child {pid} failed (wait status {status:#x})"
        ));
    }
    Ok(Stats::parse(&text))
}

fn campaign() -> igt::Result {
    let calls = env_u64("GAUDI_FUZZ_CALLS", 12_000)?;
    let seed = env_u64("GAUDI_FUZZ_SEED", 0x5eed)?;
    let other = other_device_path()?;
    let base0 = Baseline::new(device_path())?;
    let base1 = Baseline::new(&other)?;
    let fds0 = open_fds();
    let t0 = Instant::now();
    let shared = Arc::new(shared_files().map_err(|e| igt::fail!("open: {e}"))?);
    igt::assert!(
        shared.iter().any(|s| s.node == 2),
        "no vgem device (CONFIG_DRM_VGEM)"
    );
    // Shares of per_worker calls: a full one for each parent thread and each child's new
    // worker, half of one for each child's inherited worker, one for the late forks (half in
    // the parent, half in the children).
    let shares = 2 * THREADS + 3 * CHILDREN + 2;
    let per_worker = (2 * calls).div_ceil(shares).max(1);
    let new_worker =
        |id: u64| Worker::new(seed, id, shared.clone()).map_err(|e| igt::fail!("worker {id}: {e}"));

    // A first worker builds resources, mappings among them, that the forked processes
    // inherit and use.
    let mut first = new_worker(0)?;
    run(&mut first, per_worker / 4);
    let mut children = Vec::new();
    for c in 0..CHILDREN {
        let shared = shared.clone();
        let inherited = &mut first;
        children.push(fork_child(move || {
            // Only what the child does counts here: the parent counts the rest.
            inherited.stats = Stats::default();
            inherited.touch_maps();
            let mut mine = vec![];
            if let Ok(w) = Worker::new(seed, 100 + c, shared) {
                mine.push(w);
            }
            let mut stats = Stats::default();
            if let Ok(ws) = run_threads(mine, per_worker) {
                for mut w in ws {
                    w.close_all();
                    stats.merge(&w.stats);
                }
            } else {
                // SAFETY: Leaves the child at once.
                unsafe { libc::_exit(3) };
            }
            run(inherited, per_worker / 2);
            inherited.touch_maps();
            stats.merge(&inherited.stats);
            stats
        })?);
    }

    // The parent's threads, on the same files.
    let mut workers = vec![first];
    for id in 1..THREADS {
        workers.push(new_worker(id)?);
    }
    let mut workers = run_threads(workers, per_worker).map_err(|e| igt::fail!("{e}"))?;
    let mut stats = Stats::default();
    for (pid, rx) in children {
        stats.merge(&reap(pid, rx)?);
    }

    // Single-threaded again: forks with live mappings, the child calling on for a while.
    let mut late = workers.remove(0);
    for _ in 0..LATE_FORKS {
        run(&mut late, per_worker / (2 * LATE_FORKS));
        let w = &mut late;
        let (pid, rx) = fork_child(move || {
            w.stats = Stats::default();
            w.touch_maps();
            run(w, per_worker / (2 * LATE_FORKS));
            w.touch_maps();
            w.stats.clone()
        })?;
        let mut child = reap(pid, rx)?;
        child.record("fork", 0);
        stats.merge(&child);
    }
    workers.push(late);

    // Everything closed: the handles and contexts explicitly, then the files.
    for mut w in workers {
        w.close_all();
        stats.merge(&w.stats);
    }
    drop(shared);
    let elapsed = t0.elapsed();

    let total = stats.total();
    let errnos = stats.errnos();
    println!(
        "gaudi_fuzz: seed {seed:#x}: {total} calls in {:.1} s ({:.0} calls/s), {} distinct requests",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64().max(1e-9),
        stats.calls.len()
    );
    let summary: Vec<String> = errnos
        .iter()
        .map(|(e, n)| format!("{} {n}", errno_name(*e)))
        .collect();
    println!("gaudi_fuzz: results: {}", summary.join(", "));
    for (name, m) in &stats.calls {
        let per: Vec<String> = m
            .iter()
            .map(|(e, n)| format!("{} {n}", errno_name(*e)))
            .collect();
        println!("gaudi_fuzz:   {name}: {}", per.join(", "));
    }
    let bad = stats.unexpected();
    igt::assert!(
        bad.is_empty(),
        "errnos no request documents: {:?}",
        bad.iter()
            .map(|(n, e, c)| format!("{n} {} x{c}", errno_name(*e)))
            .collect::<Vec<_>>()
    );
    igt::assert!(total >= calls, "only {total} of {calls} calls");

    // The accounting of both devices back at its start, and no descriptor left.
    let deadline = Instant::now() + SETTLE;
    for (what, base) in [("this device", &base0), ("the other device", &base1)] {
        loop {
            let now = base.now()?;
            if now == base.start() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(igt::fail!(
                    "{what}: memory not returned: started with {:?}, now {:?}",
                    base.start(),
                    now
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    igt::assert_eq!(open_fds(), fds0, "descriptors left open");
    let _ = std::io::stdout().as_raw_fd();
    Ok(())
}

fn main() {
    igt::main(|t| {
        t.subtest("campaign", campaign);
    })
}
