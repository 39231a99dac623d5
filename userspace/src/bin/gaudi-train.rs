// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Trains the digits classifier of [`gaudi::mlp`] on one device, on two devices
//! (data-parallel) and on the CPU, and compares them.
//!
//! ```text
//! gaudi-train [--data digits.csv] [--epochs N] [--hidden N] [--batch N] [--lr X] [--seed N]
//!             [--out DIR] [--bench] [--cpu-only]
//! ```
//!
//! Prints per-epoch loss, test accuracy, time per epoch and the devices' busy share for each
//! run, a progress line while training, whether the device loss curves equal the CPU's within
//! the tolerance, and the confusion matrix of the two-device network on the test images. With
//! `--out` it writes `train.csv` (every epoch of every run) and `mlp-params.txt` (the trained
//! parameters, for the C example). `--bench` prints only the figures (`bench.csv` with
//! `--out`). Exits non-zero if a run fails, a loss curve leaves the tolerance or the test
//! accuracy stays below 95 %.

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
};

use gaudi::{
    mlp::{self, Config, CpuTrainer, Dataset, DeviceTrainer, EpochResult},
    Device,
};

/// Relative tolerance of the device loss curves against the CPU reference (per epoch).
const LOSS_RTOL: f32 = 1e-3;
/// The test accuracy the runs must reach.
const MIN_ACCURACY: f32 = 0.95;

struct Args {
    data: PathBuf,
    cfg: Config,
    out: Option<PathBuf>,
    bench: bool,
    cpu_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        data: PathBuf::from("/project/data/digits.csv"),
        cfg: Config::default(),
        out: None,
        bench: false,
        cpu_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{arg}: {e}"));
        match arg.as_str() {
            "--data" => a.data = PathBuf::from(value()?),
            "--out" => a.out = Some(PathBuf::from(value()?)),
            "--epochs" => a.cfg.epochs = num(value()?)?,
            "--hidden" => a.cfg.hidden = num(value()?)?,
            "--batch" => a.cfg.batch = num(value()?)?,
            "--seed" => a.cfg.seed = num(value()?)? as u64,
            "--lr" => a.cfg.lr = value()?.parse().map_err(|e| format!("--lr: {e}"))?,
            "--bench" => a.bench = true,
            "--cpu-only" => a.cpu_only = true,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(a)
}

/// One training run: its name and its epochs.
struct Run {
    name: &'static str,
    epochs: Vec<EpochResult>,
}

fn progress(name: &str, epoch: usize, epochs: usize, step: usize, steps: usize) {
    let width = 30;
    let done = step * width / steps.max(1);
    eprint!(
        "\r  {name:<9} epoch {:>2}/{epochs} [{}{}] {step:>3}/{steps}",
        epoch + 1,
        "#".repeat(done),
        ".".repeat(width - done)
    );
    if step == steps {
        eprint!("\r{}\r", " ".repeat(70));
    }
    let _ = io::stderr().flush();
}

fn print_epoch(name: &str, e: usize, r: &EpochResult) {
    println!(
        "  {name:<9} epoch {:>2}  loss {:.5}  test accuracy {:6.2} %  {:7.3} s/epoch  busy {:5.1} %",
        e + 1,
        r.loss,
        100.0 * r.accuracy,
        r.seconds,
        100.0 * r.busy
    );
}

fn device_run(
    name: &'static str,
    devices: &[&'static Device],
    train: &Dataset,
    test: &Dataset,
    cfg: Config,
    quiet: bool,
) -> io::Result<(Run, DeviceTrainer<'static>)> {
    let mut t = DeviceTrainer::new(devices, train, test, cfg)?;
    let mut run = Run {
        name,
        epochs: Vec::new(),
    };
    for e in 0..cfg.epochs {
        let r = t.epoch(train, test, e, &mut |s, n| {
            progress(name, e, cfg.epochs, s, n)
        })?;
        if !quiet {
            print_epoch(name, e, &r);
        }
        run.epochs.push(r);
    }
    Ok((run, t))
}

fn cpu_run(train: &Dataset, test: &Dataset, cfg: Config, quiet: bool) -> (Run, CpuTrainer) {
    let mut t = CpuTrainer::new(train.inputs, train.classes, cfg);
    let mut run = Run {
        name: "cpu",
        epochs: Vec::new(),
    };
    for e in 0..cfg.epochs {
        progress("cpu", e, cfg.epochs, 0, 1);
        let r = t.epoch(train, test, e);
        progress("cpu", e, cfg.epochs, 1, 1);
        if !quiet {
            print_epoch("cpu", e, &r);
        }
        run.epochs.push(r);
    }
    (run, t)
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gaudi-train: {e}");
            return ExitCode::from(2);
        }
    };
    match real_main(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("gaudi-train: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(args: Args) -> io::Result<bool> {
    let cfg = args.cfg;
    let data = Dataset::load_digits(&args.data)?;
    let (train, test) = data.split();
    println!(
        "digits: {} samples of {} pixels ({}), {} training, {} test (every fifth held out)",
        data.len(),
        data.inputs,
        args.data.display(),
        train.len(),
        test.len()
    );
    println!(
        "network {}-{}-{} (ReLU, softmax cross-entropy), SGD lr {} batch {}, {} epochs, seed {}",
        data.inputs, cfg.hidden, data.classes, cfg.lr, cfg.batch, cfg.epochs, cfg.seed
    );
    let mut runs = Vec::new();
    let mut ok = true;
    let mut confusion_of = None;
    if !args.cpu_only {
        let devices: Vec<&'static Device> = Device::enumerate()?
            .into_iter()
            .map(|d| &*Box::leak(Box::new(d)))
            .collect();
        for d in &devices {
            let info = d.device_info()?;
            println!(
                "device {}: pci {} interface {}.{}, {} MiB device memory",
                d.path().display(),
                d.pci_address().unwrap_or_else(|_| "?".into()),
                info.hw_version >> 16,
                info.hw_version & 0xffff,
                info.dram_size >> 20
            );
        }
        if devices.is_empty() {
            return Err(io::Error::other("no gaudi device"));
        }
        println!("training on {} (1 device)", devices[0].path().display());
        let (run, _) = device_run("1 device", &devices[..1], &train, &test, cfg, args.bench)?;
        runs.push(run);
        if devices.len() >= 2 {
            println!(
                "training on {} and {} (data-parallel: half of each batch per device; the \
                 gradients are exchanged through system memory, PRIME-shared buffers with \
                 implicit synchronisation)",
                devices[0].path().display(),
                devices[1].path().display()
            );
            let (run, mut t) =
                device_run("2 devices", &devices[..2], &train, &test, cfg, args.bench)?;
            runs.push(run);
            let (p0, p1) = (t.params(0)?, t.params(1)?);
            if p0 != p1 {
                println!("FAIL: the two devices' parameters differ");
                ok = false;
            }
            confusion_of = Some((t.predict_test()?, "2 devices"));
            if let Some(dir) = &args.out {
                mlp::write_params(dir.join("mlp-params.txt"), &t.layout(), &p0)?;
            }
        }
    }
    println!("training on the CPU (reference, plain Rust f32)");
    let (cpu, cpu_t) = cpu_run(&train, &test, cfg, args.bench);
    if confusion_of.is_none() {
        confusion_of = Some((cpu_t.predict(&test.x, test.len()), "cpu"));
        if let Some(dir) = &args.out {
            mlp::write_params(dir.join("mlp-params.txt"), &cpu_t.layout, &cpu_t.params)?;
        }
    }
    runs.push(cpu);

    // Loss curves against the reference.
    let cpu = &runs[runs.len() - 1];
    for run in &runs[..runs.len() - 1] {
        let worst = run
            .epochs
            .iter()
            .zip(&cpu.epochs)
            .map(|(d, c)| (d.loss - c.loss).abs() / c.loss.abs().max(1e-3))
            .fold(0.0f32, f32::max);
        let within = worst <= LOSS_RTOL;
        println!(
            "{}: loss curve vs CPU: largest relative difference {:.2e} (tolerance {:.0e}): {}",
            run.name,
            worst,
            LOSS_RTOL,
            if within { "equal" } else { "DIFFERENT" }
        );
        ok &= within;
    }
    println!();
    println!(
        "{:<10} {:>12} {:>10} {:>14} {:>8}",
        "run", "final loss", "accuracy", "s/epoch", "busy"
    );
    for run in &runs {
        let last = run.epochs.last().copied().unwrap_or_default();
        println!(
            "{:<10} {:>12.5} {:>9.2}% {:>14.3} {:>7.1}%",
            run.name,
            last.loss,
            100.0 * last.accuracy,
            mean(run.epochs.iter().map(|e| e.seconds)),
            100.0 * mean(run.epochs.iter().map(|e| e.busy)),
        );
        if last.accuracy < MIN_ACCURACY {
            println!(
                "FAIL: {} reaches {:.2} % test accuracy, below {:.0} %",
                run.name,
                100.0 * last.accuracy,
                100.0 * MIN_ACCURACY
            );
            ok = false;
        }
    }
    if let Some((predicted, name)) = &confusion_of {
        if !args.bench {
            println!();
            println!("confusion matrix of the {name} network on the {} test images (row: true digit, column: predicted)", test.len());
            let m = mlp::confusion(predicted, &test.labels, test.classes);
            print!("     ");
            for c in 0..test.classes {
                print!("{c:>4}");
            }
            println!();
            for (r, row) in m.iter().enumerate() {
                print!("  {r}: ");
                for v in row {
                    print!("{v:>4}");
                }
                println!();
            }
        }
    }
    if let Some(dir) = &args.out {
        let name = if args.bench { "bench.csv" } else { "train.csv" };
        let mut csv = String::from("run,epoch,loss,accuracy,seconds,busy\n");
        for run in &runs {
            for (e, r) in run.epochs.iter().enumerate() {
                csv.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    run.name,
                    e + 1,
                    r.loss,
                    r.accuracy,
                    r.seconds,
                    r.busy
                ));
            }
        }
        std::fs::write(dir.join(name), csv)?;
    }
    println!("gaudi-train: {}", if ok { "ok" } else { "FAILED" });
    Ok(ok)
}
