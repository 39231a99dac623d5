// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Command line of `gaudi-emu`.
//!
//! ```text
//! gaudi-emu --guest-ram PATH --device SOCKET [--device SOCKET ...]
//!           [--shm-size BYTES] [--vectors N] [--ram-size BYTES] [--control SOCKET]
//! gaudi-emu inject SOCKET DEVICE FAULT [QUEUE [ARG]]
//! gaudi-emu --bench-memcpy BYTES[,BYTES...]
//! gaudi-emu --tsc-mhz
//! ```
//!
//! Prints `gaudi-emu: ready` on stdout once every socket listens, logs to stderr, and exits
//! with status 0 on SIGINT or SIGTERM after removing its sockets.
//!
//! `inject` sends a fault-injection request to a running emulator's control socket and prints
//! its answer; it exits with status 0 if the fault was injected.
//!
//! `--bench-memcpy` measures the host's `memcpy` bandwidth at each size instead, the
//! reference of the device's DMA figures in `make bench`. `--tsc-mhz` measures the host's TSC
//! frequency, which the benchmark VM's guest is given as its own (under TCG the guest's TSC
//! is the host's).

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::PathBuf,
    process::ExitCode,
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use gaudi_emu::{
    device::VECTORS,
    server::{Config, Server},
};

const USAGE: &str = "\
usage: gaudi-emu --guest-ram PATH --device SOCKET [--device SOCKET ...]
                 [--shm-size BYTES] [--vectors N] [--ram-size BYTES]
                 [--control SOCKET]
       gaudi-emu inject SOCKET DEVICE FAULT [QUEUE [ARG]]
       gaudi-emu --bench-memcpy BYTES[,BYTES...]
       gaudi-emu --tsc-mhz

Serves one QEMU ivshmem-doorbell device per --device socket (the n-th socket is
device instance n) and emulates a Gaudi-class accelerator behind each.

  --guest-ram PATH   QEMU's guest RAM file (memory-backend-file,share=on); it
                     may appear later; DMA addresses are offsets in it
  --device SOCKET    unix socket to listen on, for -chardev socket,path=SOCKET
  --shm-size BYTES   shared region (BAR2) per device, a power of two above
                     1 MiB (default 64M; suffixes K, M, G)
  --vectors N        doorbell/MSI-X vectors per device, 6..256 (default 8;
                     the driver needs 6: control, error and one per queue);
                     QEMU's vectors= property must be at least N
  --ram-size BYTES   bound DMA to this much guest RAM (default: file size)
  --control SOCKET   unix socket taking fault-injection requests (below)
  inject SOCKET DEVICE FAULT [QUEUE [ARG]]
                     inject FAULT into device instance DEVICE of the emulator
                     whose control socket is SOCKET: hang-queue Q [N],
                     hang-engine Q [N], corrupt-completion Q, drop-irq Q [N],
                     spurious-irq Q, ecc-correctable [ADDR],
                     ecc-uncorrectable [ADDR], device-lost [MS]
                     (Documentation/device-spec.rst, Fault injection)
  --bench-memcpy BYTES[,BYTES...]
                     measure the host's memcpy bandwidth at each size (the
                     median of 9 copies after one to warm up) and print a line
                     `host-bench memcpy GB/s MEDIAN MIN MAX bytes=BYTES` for each
  --tsc-mhz          measure the host's TSC frequency against the monotonic
                     clock over half a second and print it in MHz";

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn parse_size(s: &str) -> Option<usize> {
    let (num, mul) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>().ok()?.checked_mul(mul)
}

/// What the command line asks for.
#[derive(Debug)]
enum Cmd {
    Run(Config),
    BenchMemcpy(Vec<usize>),
    TscMhz,
    Inject(PathBuf, String),
    Help,
}

/// Copies of each size that `--bench-memcpy` times, after one to warm up.
const MEMCPY_REPS: usize = 9;

/// Times `memcpy` of `size` bytes between two buffers of this process, every page of both
/// touched first; returns GB/s of each copy.
fn memcpy_rates(size: usize) -> Vec<f64> {
    let src: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let mut dst = vec![1u8; size];
    let mut rates = Vec::with_capacity(MEMCPY_REPS);
    for rep in 0..=MEMCPY_REPS {
        let t = Instant::now();
        dst.copy_from_slice(&src);
        let secs = t.elapsed().as_secs_f64();
        std::hint::black_box(&mut dst);
        if rep > 0 {
            rates.push(size as f64 / secs.max(1e-9) / 1e9);
        }
    }
    rates
}

/// `--tsc-mhz`: the TSC's ticks over half a second of the monotonic clock.
fn tsc_mhz() -> ExitCode {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` has no preconditions on x86_64.
        let tsc = || unsafe { core::arch::x86_64::_rdtsc() };
        let (t0, c0) = (Instant::now(), tsc());
        std::thread::sleep(std::time::Duration::from_millis(500));
        let (c1, t1) = (tsc(), Instant::now());
        let ns = t1.duration_since(t0).as_nanos() as f64;
        println!("{:.3}", (c1.wrapping_sub(c0)) as f64 * 1000.0 / ns);
        ExitCode::SUCCESS
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        eprintln!("gaudi-emu: --tsc-mhz needs an x86_64 host");
        ExitCode::FAILURE
    }
}

/// `inject`: one request to the control socket.
fn inject(sock: &std::path::Path, request: &str) -> ExitCode {
    let answer = UnixStream::connect(sock).and_then(|mut s| {
        s.write_all(format!("{request}\n").as_bytes())?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        Ok(answer)
    });
    match answer {
        Ok(a) if a.trim_end() == "ok" => ExitCode::SUCCESS,
        Ok(a) => {
            eprintln!("gaudi-emu inject: {}", a.trim_end());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("gaudi-emu inject: {}: {e}", sock.display());
            ExitCode::FAILURE
        }
    }
}

/// `--bench-memcpy`: one line per size.
fn bench_memcpy(sizes: &[usize]) {
    for &size in sizes {
        let mut r = memcpy_rates(size);
        r.sort_by(f64::total_cmp);
        println!(
            "host-bench memcpy GB/s {:.2} {:.2} {:.2} bytes={size}",
            r[r.len() / 2],
            r[0],
            r[r.len() - 1]
        );
    }
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Cmd, String> {
    let mut cfg = Config {
        guest_ram: PathBuf::new(),
        ram_size: None,
        sockets: Vec::new(),
        shm_size: 64 << 20,
        vectors: 8,
        control: None,
    };
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("inject") {
        args.next();
        let sock = args.next().ok_or("inject needs a control socket")?;
        let request: Vec<String> = args.collect();
        if request.len() < 2 {
            return Err("inject needs a device and a fault".into());
        }
        return Ok(Cmd::Inject(PathBuf::from(sock), request.join(" ")));
    }
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--guest-ram" => cfg.guest_ram = PathBuf::from(val()?),
            "--device" => cfg.sockets.push(PathBuf::from(val()?)),
            "--control" => cfg.control = Some(PathBuf::from(val()?)),
            "--shm-size" => cfg.shm_size = parse_size(&val()?).ok_or("bad --shm-size")?,
            "--vectors" => cfg.vectors = val()?.parse().map_err(|_| "bad --vectors")?,
            "--ram-size" => {
                let size = parse_size(&val()?).ok_or("bad --ram-size")?;
                cfg.ram_size = Some(size as u64);
            }
            "--bench-memcpy" => {
                let sizes = val()?
                    .split(',')
                    .map(|s| parse_size(s).filter(|&n| n > 0))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("bad --bench-memcpy size")?;
                return Ok(Cmd::BenchMemcpy(sizes));
            }
            "--tsc-mhz" => return Ok(Cmd::TscMhz),
            "-h" | "--help" => return Ok(Cmd::Help),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if cfg.guest_ram.as_os_str().is_empty() {
        return Err("--guest-ram is required".into());
    }
    if cfg.sockets.is_empty() {
        return Err("at least one --device is required".into());
    }
    // QEMU maps the region as a PCI BAR, whose size must be a power of two.
    if cfg.shm_size <= 1 << 20 || !cfg.shm_size.is_power_of_two() {
        return Err("--shm-size must be a power of two above 1 MiB".into());
    }
    // The driver needs NUM_VECTORS_MIN; QEMU's Doorbell register carries an 8-bit vector.
    if !VECTORS.contains(&cfg.vectors) {
        return Err(format!(
            "--vectors must be {}..{}",
            VECTORS.start(),
            VECTORS.end()
        ));
    }
    if cfg.ram_size == Some(0) {
        return Err("--ram-size must not be 0".into());
    }
    Ok(Cmd::Run(cfg))
}

fn main() -> ExitCode {
    let cfg = match parse_args(std::env::args().skip(1)) {
        Ok(Cmd::Run(c)) => c,
        Ok(Cmd::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Cmd::BenchMemcpy(sizes)) => {
            bench_memcpy(&sizes);
            return ExitCode::SUCCESS;
        }
        Ok(Cmd::TscMhz) => return tsc_mhz(),
        Ok(Cmd::Inject(sock, request)) => return inject(&sock, &request),
        Err(e) => {
            eprintln!("gaudi-emu: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // libc, not rustix: rustix has signal handlers only in its hidden `runtime` module,
        // which is for libc replacements and unsound next to libc.
        // SAFETY: An all-zero sigaction is valid; the handler only stores to an atomic,
        // which is async-signal-safe. No SA_RESTART: poll() returns EINTR at once.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    let mut server = match Server::new(&cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gaudi-emu: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "gaudi-emu: {} device(s), {} MiB shared each, {} vectors, guest RAM {}",
        cfg.sockets.len(),
        cfg.shm_size >> 20,
        cfg.vectors,
        cfg.guest_ram.display()
    );
    println!("gaudi-emu: ready");
    let _ = std::io::stdout().flush();
    let res = server.run(&STOP);
    drop(server);
    match res {
        Ok(()) => {
            eprintln!("gaudi-emu: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gaudi-emu: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cmd, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }

    #[test]
    fn command_line() {
        let Ok(Cmd::Run(c)) = parse(&["--guest-ram", "r", "--device", "a", "--device", "b"]) else {
            panic!("valid command line refused");
        };
        assert_eq!(c.sockets, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!((c.shm_size, c.vectors, c.ram_size), (64 << 20, 8, None));

        let Ok(Cmd::Run(c)) = parse(&[
            "--guest-ram",
            "r",
            "--device",
            "a",
            "--shm-size",
            "4M",
            "--vectors",
            "6",
            "--ram-size",
            "2G",
        ]) else {
            panic!("valid command line refused");
        };
        assert_eq!(
            (c.shm_size, c.vectors, c.ram_size),
            (4 << 20, 6, Some(2 << 30))
        );

        assert!(matches!(parse(&["--help"]), Ok(Cmd::Help)));
        let Ok(Cmd::BenchMemcpy(sizes)) = parse(&["--bench-memcpy", "64M,4096"]) else {
            panic!("--bench-memcpy refused");
        };
        assert_eq!(sizes, [64 << 20, 4096]);
        assert!(memcpy_rates(1 << 16).iter().all(|&r| r > 0.0));
        for bad in [
            &["--device", "a"][..],
            &["--guest-ram", "r"],
            &["--guest-ram", "r", "--device"],
            &["--guest-ram", "r", "--device", "a", "--shm-size", "3M"],
            &["--guest-ram", "r", "--device", "a", "--shm-size", "1M"],
            &["--guest-ram", "r", "--device", "a", "--vectors", "0"],
            &["--guest-ram", "r", "--device", "a", "--vectors", "5"],
            &["--guest-ram", "r", "--device", "a", "--vectors", "257"],
            &["--guest-ram", "r", "--device", "a", "--ram-size", "0"],
            &["--guest-ram", "r", "--device", "a", "--bogus"],
            &["--bench-memcpy", "0"],
            &["--bench-memcpy", "1M,"],
            &["--bench-memcpy"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
