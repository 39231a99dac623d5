// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Command line of `gaudi-emu`.
//!
//! ```text
//! gaudi-emu --guest-ram PATH --device SOCKET [--device SOCKET ...]
//!           [--shm-size BYTES] [--vectors N]
//! ```
//!
//! Prints `gaudi-emu: ready` on stdout once every socket listens; exits on SIGINT or SIGTERM.

use std::{
    io::Write,
    path::PathBuf,
    process::ExitCode,
    sync::atomic::{AtomicBool, Ordering},
};

use gaudi_emu::server::{Config, Server};

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

fn parse_args() -> Result<Config, String> {
    let mut cfg = Config { guest_ram: PathBuf::new(), sockets: Vec::new(), shm_size: 64 << 20, vectors: 4 };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--guest-ram" => cfg.guest_ram = PathBuf::from(val()?),
            "--device" => cfg.sockets.push(PathBuf::from(val()?)),
            "--shm-size" => cfg.shm_size = parse_size(&val()?).ok_or("bad --shm-size")?,
            "--vectors" => cfg.vectors = val()?.parse().map_err(|_| "bad --vectors")?,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if cfg.guest_ram.as_os_str().is_empty() || cfg.sockets.is_empty() {
        return Err("usage: gaudi-emu --guest-ram PATH --device SOCKET [--device SOCKET ...] [--shm-size BYTES] [--vectors N]".into());
    }
    if cfg.shm_size <= 1 << 20 || !cfg.shm_size.is_power_of_two() {
        return Err("--shm-size must be a power of two above 1 MiB".into());
    }
    if cfg.vectors == 0 || cfg.vectors > 64 {
        return Err("--vectors must be 1..64".into());
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gaudi-emu: {e}");
            return ExitCode::from(2);
        }
    };
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: The handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
    let mut server = match Server::new(&cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gaudi-emu: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("gaudi-emu: ready");
    let _ = std::io::stdout().flush();
    match server.run(&STOP) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gaudi-emu: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }
}
