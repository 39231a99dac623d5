// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Benchmarks of the gaudi accel node.
//!
//! * Buffer objects ([`bo`]): the life of an object as a CPU client sees it, creation alone,
//!   and PRIME export and import, each against vgem's dumb buffers as the reference; the ratio
//!   is gaudi's rate over vgem's, so above 1 is faster. In each round gaudi and vgem run one
//!   after the other, so that drift in the machine affects both alike.
//! * Execution ([`exec`]): the round trip of a null job against a `DRM_IOCTL_VERSION`, submit
//!   throughput from 1 and 8 threads, a chain of dependent jobs and DMA bandwidth. These print
//!   `exec-bench` lines that `scripts/bench-report.sh` turns into ratios.
//!
//! Each figure is the median of several rounds.
//!
//! Usage: `gaudi-bench [-n ITERATIONS] [-r ROUNDS] [-s bo|exec|p2p] [DEVICE]`; `DEVICE` defaults
//! to `ACCEL_DEVICE` or the first gaudi node; `-s` runs one part only.
//! `Documentation/benchmarks.rst` explains the figures.

use std::{
    io,
    path::{Path, PathBuf},
    process::ExitCode,
};

use gaudi::Device;

mod bo;
mod exec;

/// The median of `v`.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The parts of the benchmark.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Bo,
    Exec,
    /// The peer-to-peer copy of the execution part alone.
    P2p,
}

struct Options {
    iters: u32,
    rounds: u32,
    parts: Vec<Part>,
    device: Option<PathBuf>,
}

const USAGE: &str = "usage: gaudi-bench [-n ITERATIONS] [-r ROUNDS] [-s bo|exec|p2p] [DEVICE]";

fn positive(opt: &str, v: Option<String>) -> Result<u32, String> {
    let v = v.ok_or(format!("{opt} needs a number"))?;
    match v.parse() {
        Ok(0) => Err(format!("{opt} must be positive")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("bad number {v} for {opt}")),
    }
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        iters: 200,
        rounds: 5,
        parts: vec![Part::Bo, Part::Exec],
        device: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-n" => opts.iters = positive("-n", args.next())?,
            "-r" => opts.rounds = positive("-r", args.next())?,
            "-s" => {
                opts.parts = match args.next().as_deref() {
                    Some("bo") => vec![Part::Bo],
                    Some("exec") => vec![Part::Exec],
                    Some("p2p") => vec![Part::P2p],
                    _ => return Err("-s needs bo, exec or p2p".into()),
                }
            }
            "-h" | "--help" => return Err(String::new()),
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ => opts.device = Some(PathBuf::from(a)),
        }
    }
    Ok(opts)
}

fn open_device(path: Option<&Path>) -> io::Result<Device> {
    if let Some(p) = path {
        return Device::open(p);
    }
    if let Some(p) = std::env::var_os("ACCEL_DEVICE") {
        return Device::open(p);
    }
    Device::enumerate()?
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
}

fn run(opts: &Options) -> io::Result<()> {
    let dev = open_device(opts.device.as_deref())?;
    let version = dev.version()?;
    println!(
        "gaudi-bench: {} ({} {}.{}.{})",
        dev.path().display(),
        version.name,
        version.major,
        version.minor,
        version.patchlevel,
    );
    for (i, part) in opts.parts.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match part {
            Part::Bo => bo::run(&dev, opts.iters, opts.rounds)?,
            Part::Exec => exec::run(&dev, opts.iters, opts.rounds)?,
            Part::P2p => exec::p2p(&dev, opts.rounds)?,
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gaudi-bench: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gaudi-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
