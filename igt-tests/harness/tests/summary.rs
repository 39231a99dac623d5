// SPDX-License-Identifier: GPL-2.0 OR MIT

//! `igt-summary` on results in the format `igt_runner` 2.x writes. The samples are cut down
//! from real runs of the example binaries and of IGT's own `meta_test` under `igt_runner`.

use std::{path::PathBuf, process::Command};

/// Writes `body` to a file of its own and returns its path.
fn write(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("igt-summary-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn run(args: &[String]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_igt-summary"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn arg(label: &str, path: &std::path::Path) -> String {
    format!("{label}={}", path.display())
}

/// A run of `examples/selftest.rs` and `examples/simple.rs`: the parents of dynamic
/// subtests are kept next to their dynamic subtests.
const SELFTEST: &str = r#"{
 "__type__": "TestrunResult", "results_version": 10, "name": "accel0",
 "uname": "Linux vm 6.18.44 #1 SMP PREEMPT_DYNAMIC x86_64",
 "tests": {
  "igt@selftest@pass-a": {"out": "IGT-Version: 0.1.0-rust (x86_64) (Linux: 6.18.44 x86_64)\nStarting subtest: pass-a\nSubtest pass-a: SUCCESS (0.000s)\n",
   "err": "Starting subtest: pass-a\nSubtest pass-a: SUCCESS (0.000s)\n",
   "dmesg": "<6> [6357.558978] [IGT] selftest: starting subtest pass-a\n<6> [6357.559011] [IGT] selftest: finished subtest pass-a, SUCCESS\n",
   "result": "pass", "igt-version": "IGT-Version: 0.1.0-rust (x86_64) (Linux: 6.18.44 x86_64)",
   "time": {"__type__": "TimeAttribute", "start": 0.0, "end": 0.0}},
  "igt@selftest@skip": {"out": "Starting subtest: skip\nTest requirement not met in function selftest::main, file harness/examples/selftest.rs:28:\nTest requirement: 1 + 1 == 3\nSubtest skip: SKIP (0.000s)\n",
   "err": "Starting subtest: skip\nSubtest skip: SKIP (0.000s)\n", "dmesg": "", "result": "skip"},
  "igt@selftest@fail": {"out": "Starting subtest: fail\nSubtest fail: FAIL (0.000s)\n",
   "err": "Starting subtest: fail\n[6357.419191] (selftest:27806) CRITICAL: Test assertion failure function selftest::main, file harness/examples/selftest.rs:33:\n[6357.419194] (selftest:27806) CRITICAL: Failed assertion: 1 + 1 == 3\nSubtest fail failed.\n**** DEBUG ****\n[6357.419182] (selftest:27806) DEBUG: context for the failure\n****  END  ****\nSubtest fail: FAIL (0.000s)\n",
   "dmesg": "<6> [6357.565679] [IGT] selftest: starting subtest fail\n<6> [6357.565742] [IGT] selftest: finished subtest fail, FAIL\n",
   "result": "fail"},
  "igt@selftest@warn": {"out": "Starting subtest: warn\nSubtest warn: SUCCESS (0.000s)\n",
   "err": "Starting subtest: warn\n[6357.425669] (selftest:27809) WARNING: a warning\nSubtest warn: SUCCESS (0.000s)\n",
   "dmesg": "", "result": "warn"},
  "igt@selftest@dyn": {"out": "", "err": "", "dmesg": "", "result": "fail"},
  "igt@selftest@dyn@one": {"out": "Dynamic subtest one: SUCCESS (0.000s)\n", "err": "", "dmesg": "", "result": "pass"},
  "igt@selftest@dyn@two": {"out": "not here\nDynamic subtest two: SKIP (0.000s)\n", "err": "", "dmesg": "", "result": "skip"},
  "igt@selftest@dyn@three": {"out": "Dynamic subtest three: FAIL (0.000s)\n",
   "err": "Starting dynamic subtest: three\n[6357.428022] (selftest:27810) CRITICAL: bad\nDynamic subtest three failed.\n",
   "dmesg": "", "result": "fail"},
  "igt@selftest@dyn-pass": {"out": "", "err": "", "dmesg": "", "result": "pass"},
  "igt@selftest@dyn-pass@size-4096": {"out": "", "err": "", "dmesg": "", "result": "pass"},
  "igt@simple": {"out": "IGT-Version: 0.1.0-rust (x86_64) (Linux: 6.18.44 x86_64)\nSUCCESS (0.000s)\n",
   "err": "", "dmesg": "<6> [6357.585208] [IGT] simple: executing\n<6> [6357.585827] [IGT] simple: exiting, ret=0\n",
   "result": "pass", "time": {"__type__": "TimeAttribute", "start": 0.0, "end": 0.002}}
 },
 "totals": {"root": {"crash": 0, "pass": 5, "dmesg-fail": 0, "dmesg-warn": 0, "skip": 2, "incomplete": 0,
   "abort": 0, "timeout": 0, "notrun": 0, "fail": 3, "warn": 1}},
 "runtimes": {}
}"#;

/// A run of IGT's `meta_test` that aborted: the kernel warning, the abort, the runner's own
/// `igt@runner@aborted` entry and the tests it then did not run.
const ABORTED: &str = r#"{
 "__type__": "TestrunResult", "results_version": 10, "name": "accel1",
 "tests": {
  "igt@meta_test@dmesg-warn": {"out": "Starting subtest: dmesg-warn\nSubtest dmesg-warn: SUCCESS (0.000s)\n",
   "err": "Starting subtest: dmesg-warn\nSubtest dmesg-warn: SUCCESS (0.000s)\n",
   "dmesg": "<6> [6038.034738] [IGT] meta_test: starting subtest dmesg-warn\n<4> [6038.034804] [drm: IGT inserted string.\n<6> [6038.034820] [IGT] meta_test: finished subtest dmesg-warn, SUCCESS\n",
   "dmesg-warnings": "<4> [6038.034804] [drm: IGT inserted string.\n", "result": "dmesg-warn"},
  "igt@meta_test@abort": {"out": "Starting subtest: abort\n\nThis test caused an abort condition: Test exited with IGT_EXIT_ABORT",
   "err": "Starting subtest: abort\n[6037.898346] (meta_test:26803) CRITICAL: Test abort in function main, file ../tests/meta_test.c:153:\n[6037.898368] (meta_test:26803) CRITICAL: ojoj\n",
   "dmesg": "", "result": "abort"},
  "igt@core_setmaster_vs_auth": {"out": "", "err": "", "dmesg": "", "result": "notrun"},
  "igt@runner@aborted": {"out": "Aborting.\nPrevious test: meta_test (abort)\nNext test: core_setmaster_vs_auth\n\nTest exited with IGT_EXIT_ABORT",
   "err": "", "dmesg": "", "result": "fail"}
 },
 "totals": {}
}"#;

#[test]
fn counts_and_table() {
    let r = write("selftest.json", SELFTEST);
    let (code, out) = run(&[arg("accel0", &r)]);
    assert_eq!(code, 1, "{out}");
    // pass: pass-a, dyn@one, dyn-pass@size-4096, simple; skip: skip, dyn@two;
    // fail: fail, warn, dyn@three (dyn itself is counted through its dynamic subtests).
    assert!(out.ends_with("\n4 passed, 3 failed, 2 skipped\n"), "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 9, "{out}");
    assert!(rows.contains(&vec!["accel0", "igt@selftest@dyn@three", "fail"]));
    assert!(rows.contains(&vec!["accel0", "igt@selftest@warn", "warn"]));
    assert!(rows.contains(&vec!["accel0", "igt@simple", "pass"]));
    assert!(!rows
        .iter()
        .any(|r| r[1] == "igt@selftest@dyn" || r[1] == "igt@selftest@dyn-pass"));
    // The output of what did not pass, and only of that.
    let details = out
        .split("=== not passed ===")
        .nth(1)
        .expect("details section");
    assert!(details.contains("accel0 igt@selftest@fail: fail\n"));
    assert!(details.contains("CRITICAL: Failed assertion: 1 + 1 == 3"));
    assert!(details.contains("WARNING: a warning"));
    assert!(!details.contains("igt@selftest@pass-a") && !details.contains("igt@selftest@skip:"));
}

#[test]
fn all_kinds_of_not_passing_fail() {
    let r = write("aborted.json", ABORTED);
    let (code, out) = run(&[arg("accel1", &r)]);
    assert_eq!(code, 1);
    // dmesg-warn, abort, notrun and the runner's aborted entry all count as failures.
    assert!(out.ends_with("\n0 passed, 4 failed, 0 skipped\n"), "{out}");
    // For a kernel warning, the warning is shown.
    assert!(
        out.contains("--- dmesg-warnings:\n<4> [6038.034804] [drm: IGT inserted string."),
        "{out}"
    );
}

#[test]
fn several_labelled_files() {
    let a = write("a.json", SELFTEST);
    let b = write("b.json", ABORTED);
    let (code, out) = run(&[arg("accel0", &a), arg("accel1", &b)]);
    assert_eq!(code, 1);
    assert!(out.ends_with("\n4 passed, 7 failed, 2 skipped\n"), "{out}");
    assert!(out
        .lines()
        .any(|l| l.starts_with("accel1 ") && l.contains("igt@runner@aborted")));
}

#[test]
fn a_clean_run_passes() {
    let clean = r#"{"__type__": "TestrunResult", "results_version": 10, "name": "ok", "tests": {
      "igt@core_getversion@basic-test": {"out": "", "err": "", "dmesg": "", "result": "pass"},
      "igt@core_getversion@all-cards": {"out": "", "err": "", "dmesg": "", "result": "skip"},
      "igt@gaudi_query@sizes@size-4096": {"out": "", "err": "", "dmesg": "", "result": "pass"}}}"#;
    let r = write("clean.json", clean);
    let (code, out) = run(&[arg("accel0", &r)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("2 passed, 0 failed, 1 skipped\n"), "{out}");
    assert!(!out.contains("not passed"));
}

#[test]
fn a_parent_that_fails_on_its_own_counts() {
    let json = r#"{"tests": {
      "igt@t@sizes": {"out": "", "err": "Subtest sizes failed.\n", "dmesg": "", "result": "timeout"},
      "igt@t@sizes@a": {"result": "pass"}}}"#;
    let r = write("parent.json", json);
    let (code, out) = run(&[arg("x", &r)]);
    assert_eq!(code, 1);
    assert!(out.ends_with("1 passed, 1 failed, 0 skipped\n"), "{out}");
}

#[test]
fn missing_or_empty_results_fail() {
    let (code, out) = run(&["accel1=/nonexistent/results.json".into()]);
    assert_eq!(code, 1);
    assert!(out.ends_with("0 passed, 1 failed, 0 skipped\n"), "{out}");
    let empty = write("empty.json", r#"{"tests": {}}"#);
    let (code, _) = run(&[arg("accel0", &empty)]);
    assert_eq!(code, 1);
    let bad = write("bad.json", "{not json");
    let (code, _) = run(&[arg("accel0", &bad)]);
    assert_eq!(code, 1);
}

/// KUnit output as the kernel prints it, with a parameterised case and a skip.
const KUNIT: &str = "\
[    8.301000] KTAP version 1
[    8.301001] 1..2
[    8.301002]     KTAP version 1
[    8.301003]     # Subtest: gaudi_mmu
[    8.301004]     # module: gaudi
[    8.301005]     1..3
[    8.301006]     ok 1 map_unmap
[    8.301007]     ok 2 huge_pages # SKIP no huge pages
[    8.301008]         KTAP version 1
[    8.301009]         # Subtest: page_sizes
[    8.301010]         ok 1 4096
[    8.301011]         ok 2 65536
[    8.301012]     # page_sizes: pass:2 fail:0 skip:0 total:2
[    8.301013]     ok 3 page_sizes
[    8.301014] # gaudi_mmu: pass:2 fail:0 skip:1 total:3
[    8.301015] ok 1 gaudi_mmu
[    8.301016] random driver message ok 1 not a test
[    8.301017]     KTAP version 1
[    8.301018]     # Subtest: accel_fence
[    8.301019]     1..1
[    8.301020]     ok 1 signal_order
[    8.301021] ok 2 accel_fence
";

#[test]
fn kunit_cases() {
    let k = write("kunit.txt", KUNIT);
    let (code, out) = run(&["--kunit".into(), k.display().to_string()]);
    assert_eq!(code, 0, "{out}");
    // map_unmap, page_sizes.4096, page_sizes.65536, signal_order; huge_pages skipped.
    assert!(out.ends_with("\n4 passed, 0 failed, 1 skipped\n"), "{out}");
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
        == ["kunit", "gaudi_mmu.page_sizes.65536", "pass"]));
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
        == ["kunit", "accel_fence.signal_order", "pass"]));

    let failing = KUNIT
        .replace("    ok 2 65536", "    not ok 2 65536")
        .replace("] ok 2 accel_fence", "] not ok 2 accel_fence");
    let k = write("kunit-bad.txt", &failing);
    let (code, out) = run(&["--kunit".into(), k.display().to_string()]);
    assert_eq!(code, 1);
    // The failing parameter counts; its case and the suite result do not count again, but
    // a suite that failed with all its cases passing does.
    assert!(out.ends_with("\n3 passed, 2 failed, 1 skipped\n"), "{out}");

    let none = write("no-kunit.txt", "[    1.0] Linux version 7.3\n");
    let (code, _) = run(&["--kunit".into(), none.display().to_string()]);
    assert_eq!(code, 1, "a log without KUnit results fails");
}

#[test]
fn everything_together() {
    let r = write(
        "all-ok.json",
        r#"{"tests": {"igt@a@b": {"result": "pass"}}}"#,
    );
    let k = write("kunit-ok.txt", KUNIT);
    let cargo = write(
        "cargo.log",
        "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out\n",
    );
    let leaks = write("kmemleak.txt", "");
    let (code, out) = run(&[
        arg("accel0", &r),
        "--kunit".into(),
        k.display().to_string(),
        "--cargo".into(),
        cargo.display().to_string(),
        "--kernel-log".into(),
        k.display().to_string(),
        "--kmemleak".into(),
        leaks.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}");
    // IGT 1 + KUnit 4 + cargo 3 passed; KUnit 1 + cargo 1 skipped.
    assert!(out.ends_with("\n8 passed, 0 failed, 2 skipped\n"), "{out}");
}

#[test]
fn kernel_trouble_fails() {
    let log = write(
        "warn.txt",
        "[ 1.0] ok\n[ 2.0] WARNING: CPU: 0 PID: 1 at drivers/accel/x.c:1 f+0x1/0x2\n",
    );
    let (code, out) = run(&["--kernel-log".into(), log.display().to_string()]);
    assert_eq!(code, 1);
    assert!(out.contains("WARNING: CPU: 0 PID: 1"));
    let leak = write(
        "leak.txt",
        "unreferenced object 0xffff888003a0c000 (size 64):\n",
    );
    assert_eq!(run(&["--kmemleak".into(), leak.display().to_string()]).0, 1);
    // A guest failure file fails the run; its absence is clean.
    let failure = write("failure", "accel-guest: rmmod failed\n");
    let (code, out) = run(&["--guest-failure".into(), failure.display().to_string()]);
    assert_eq!(code, 1);
    assert!(out.contains("accel-guest: rmmod failed"), "{out}");
    let absent = failure.with_file_name("no-such-failure");
    assert_eq!(
        run(&["--guest-failure".into(), absent.display().to_string()]).0,
        0
    );
    let cargo = write(
        "cargo-bad.log",
        "test result: FAILED. 1 passed; 2 failed; 0 ignored\n",
    );
    let (code, out) = run(&["--cargo".into(), cargo.display().to_string()]);
    assert_eq!(code, 1);
    assert!(out.ends_with("1 passed, 2 failed, 0 skipped\n"), "{out}");
}

#[test]
fn bad_command_lines() {
    assert_eq!(run(&[]).0, 2);
    assert_eq!(run(&["results.json".into()]).0, 2);
    assert_eq!(run(&["--kunit".into()]).0, 2);
}
