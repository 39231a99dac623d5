// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Assembler and disassembler of TPC kernels (`Documentation/userspace.rst` has the syntax).
//!
//! Usage:
//!
//! ```text
//! gaudi-as [-o OUT] SOURCE        assemble SOURCE (- for stdin) into OUT (default: SOURCE
//!                                 with the extension .bin, or stdout for stdin)
//! gaudi-as -d BINARY              disassemble BINARY (- for stdin) to stdout
//! ```
//!
//! A kernel binary is the little-endian 64-bit instruction words, as `TPC_LAUNCH` reads them.

use std::{
    io::{self, Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use gaudi::{cmdbuf::code_bytes, tpc};

const USAGE: &str = "usage: gaudi-as [-o OUT] SOURCE | gaudi-as -d BINARY";

fn read_input(path: &str) -> io::Result<Vec<u8>> {
    if path == "-" {
        let mut v = Vec::new();
        io::stdin().read_to_end(&mut v)?;
        Ok(v)
    } else {
        std::fs::read(path)
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut disassemble = false;
    let mut out: Option<PathBuf> = None;
    let mut input: Option<&str> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-d" => disassemble = true,
            "-o" => out = Some(it.next().ok_or(USAGE)?.into()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            s if input.is_none() && (s == "-" || !s.starts_with('-')) => input = Some(s),
            _ => return Err(USAGE.into()),
        }
    }
    let input = input.ok_or(USAGE)?;
    let data = read_input(input).map_err(|e| format!("{input}: {e}"))?;
    if disassemble {
        if data.len() % 8 != 0 {
            return Err(format!(
                "{input}: {} bytes, not whole instructions",
                data.len()
            ));
        }
        let code: Vec<u64> = data
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        print!("{}", tpc::disassemble(&code));
        return Ok(());
    }
    let source = String::from_utf8(data).map_err(|_| format!("{input}: not UTF-8"))?;
    let code = tpc::assemble(&source).map_err(|e| format!("{input}:{e}"))?;
    let bytes = code_bytes(&code);
    let out = out.or_else(|| (input != "-").then(|| Path::new(input).with_extension("bin")));
    match out {
        Some(p) => std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display())),
        None => io::stdout()
            .write_all(&bytes)
            .map_err(|e| format!("stdout: {e}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gaudi-as: {e}");
            ExitCode::FAILURE
        }
    }
}
