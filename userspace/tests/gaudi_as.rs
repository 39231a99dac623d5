// SPDX-License-Identifier: GPL-2.0 OR MIT

//! `gaudi-as`: assembling a file to the binary `TPC_LAUNCH` reads, disassembling it back, and
//! reporting errors with their file and line.

use std::{io::Write, process::Command};

fn gaudi_as() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gaudi-as"))
}

#[test]
fn assemble_disassemble_and_errors() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gaudi-as");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("k.s");
    std::fs::write(&src, "loop: addi s1, s1, 1\n  blt s1, s2, loop\n  halt\n").unwrap();

    let out = gaudi_as().arg(&src).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let bin = std::fs::read(dir.join("k.bin")).unwrap();
    let words: Vec<u64> = bin
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(
        words,
        gaudi::tpc::assemble(&std::fs::read_to_string(&src).unwrap()).unwrap()
    );

    let out = gaudi_as()
        .arg("-d")
        .arg(dir.join("k.bin"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("blt s1, s2, L0"), "{text}");
    assert_eq!(gaudi::tpc::assemble(&text).unwrap(), words);

    // Standard input to standard output, and an error with its line.
    let mut child = gaudi_as()
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"halt\nli s99, 1\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("-:line 2: "), "{err}");

    let out = gaudi_as().arg("-d").arg(&src).output().unwrap();
    assert!(
        !out.status.success(),
        "a text file is not whole instructions"
    );
    let out = gaudi_as().output().unwrap();
    assert!(!out.status.success(), "no input");
}
