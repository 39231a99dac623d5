// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Without a device, every subtest of every test binary fails: none skips and none passes
//! without testing. A test that cannot set up (no node, no second node, no vgem, no
//! udmabuf, too little free device memory) must turn the run red, not shrink it.

use std::process::Command;

/// The test binaries of this crate.
const BINARIES: &[(&str, &str)] = &[
    ("accel_core", env!("CARGO_BIN_EXE_accel_core")),
    ("accel_syncobj", env!("CARGO_BIN_EXE_accel_syncobj")),
    ("gaudi_exec", env!("CARGO_BIN_EXE_gaudi_exec")),
    ("gaudi_gem", env!("CARGO_BIN_EXE_gaudi_gem")),
    ("gaudi_prime", env!("CARGO_BIN_EXE_gaudi_prime")),
    ("gaudi_query", env!("CARGO_BIN_EXE_gaudi_query")),
    ("gaudi_vm", env!("CARGO_BIN_EXE_gaudi_vm")),
    ("gaudi_fuzz", env!("CARGO_BIN_EXE_gaudi_fuzz")),
    ("gaudi_faults", env!("CARGO_BIN_EXE_gaudi_faults")),
    ("gaudi_races", env!("CARGO_BIN_EXE_gaudi_races")),
];

#[test]
fn every_subtest_fails_without_a_device() {
    for (name, path) in BINARIES {
        let out = Command::new(path)
            .env("ACCEL_DEVICE", "/nonexistent/accel0")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let results: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("Subtest ") || l.starts_with("Dynamic subtest "))
            .collect();
        assert!(!results.is_empty(), "{name}: no subtest ran\n{stdout}");
        let not_failed: Vec<&&str> = results.iter().filter(|l| !l.contains(": FAIL (")).collect();
        assert!(
            not_failed.is_empty(),
            "{name}: subtests that did not fail without a device: {not_failed:?}"
        );
        assert_eq!(out.status.code(), Some(98), "{name}: {}", out.status);
    }
}
