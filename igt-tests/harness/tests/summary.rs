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

/// A kernel log as `dmesg -r` prints it: every line at level 6 (info).
fn leveled(log: &str) -> String {
    log.lines().map(|l| format!("<6>{l}\n")).collect()
}

#[test]
fn everything_together() {
    let r = write(
        "all-ok.json",
        r#"{"tests": {"igt@a@b": {"result": "pass"}}}"#,
    );
    let k = write("kunit-ok.txt", &leveled(KUNIT));
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

/// A manifest for the run of [`Run`]: two nodes, three binaries (one with a dynamic subtest
/// and an exclusion, one without subtests), the two KUnit suites of [`KUNIT`] and an
/// allowance of each kind.
const MANIFEST: &str = "\
nodes accel0 accel1
test core_getversion upstream
  basic
test gaudi_exec ours
  exclude *snapshot -- races
  nop
  dma-copy
  dma-copy@system-to-wc
test simple ours
kunit gaudi_mmu 3
kunit accel_fence 1
skip kunit gaudi_mmu.huge_pages -- no huge pages in the guest
skip accel1 igt@gaudi_exec@nop -- a reason
kernel-error gaudi 0000:00:1?.0: provoked * -- a test provokes it
emulator gaudi-emu: stopped -- the end
emulator gaudi-emu?: queue ?: error * -- faults that tests provoke
";

/// The results every node must show under [`MANIFEST`].
const NAMES: &[&str] = &[
    "igt@core_getversion@basic",
    "igt@gaudi_exec@nop",
    "igt@gaudi_exec@dma-copy",
    "igt@gaudi_exec@dma-copy@system-to-wc",
    "igt@simple",
];

/// `results.json` with `names` passing, but for `(name, result)` in `other`.
fn results(names: &[&str], other: &[(&str, &str)]) -> String {
    let mut tests = serde_json::Map::new();
    for n in names {
        tests.insert(n.to_string(), serde_json::json!({"result": "pass"}));
    }
    for (n, r) in other {
        tests.insert(
            n.to_string(),
            serde_json::json!({"result": r, "out": "why"}),
        );
    }
    serde_json::json!({ "tests": tests }).to_string()
}

/// Every input of a `make check` summary; [`Run::default`] is a clean run, which each test
/// of a failure signal breaks in one place.
struct Run {
    manifest: String,
    accel0: Option<String>,
    accel1: Option<String>,
    kunit: String,
    kernel: String,
    kmemleak: String,
    status: Option<String>,
    failure: Option<String>,
    emulator: String,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            manifest: MANIFEST.into(),
            accel0: Some(results(NAMES, &[])),
            accel1: Some(results(NAMES, &[])),
            kunit: leveled(KUNIT),
            kernel: "<6>[    1.0] Linux version 7.3\n\
                     <3>[    2.0] gaudi 0000:00:10.0: provoked error 5\n\
                     <4>[    3.0] gaudi 0000:00:10.0: a warning level message\n\
                     <14>[    4.0] [IGT] gaudi_exec: executing\n"
                .into(),
            kmemleak: String::new(),
            status: Some(
                "nodes-expected 2\ninsmod ok\nnodes accel0 accel1\nrmmod ok\nkmemleak scanned\n"
                    .into(),
            ),
            failure: None,
            emulator: "gaudi-emu0: queue 1: error 3 at 0x0 (packet 0x0)\ngaudi-emu: stopped\n"
                .into(),
        }
    }
}

impl Run {
    /// Runs igt-summary on the inputs, as `make check` does; each run gets a directory.
    fn summary(&self, name: &str) -> (i32, String) {
        let dir =
            std::env::temp_dir().join(format!("igt-summary-run-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = |f: &str, body: &str| {
            let p = dir.join(f);
            std::fs::write(&p, body).unwrap();
            p.display().to_string()
        };
        let mut args = vec![
            "--expected".to_string(),
            file("expected.txt", &self.manifest),
        ];
        for (node, r) in [("accel0", &self.accel0), ("accel1", &self.accel1)] {
            if let Some(r) = r {
                args.push(format!("{node}={}", file(&format!("{node}.json"), r)));
            }
        }
        let status = match &self.status {
            Some(s) => file("guest-status", s),
            None => dir.join("guest-status").display().to_string(),
        };
        let failure = match &self.failure {
            Some(f) => file("failure", f),
            None => dir.join("failure").display().to_string(),
        };
        args.extend([
            "--kunit".into(),
            file("kunit.txt", &self.kunit),
            "--kernel-log".into(),
            file("dmesg.txt", &self.kernel),
            "--kmemleak".into(),
            file("kmemleak.txt", &self.kmemleak),
            "--guest-status".into(),
            status,
            "--guest-failure".into(),
            failure,
            "--emulator-log".into(),
            file("emulator.log", &self.emulator),
        ]);
        run(&args)
    }

    /// Fails unless the run is red and shows a table row of `words`.
    fn red(&self, name: &str, words: &[&str]) -> String {
        let (code, out) = self.summary(name);
        assert_eq!(code, 1, "{name}: not red\n{out}");
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == words),
            "{name}: no row {words:?}\n{out}"
        );
        out
    }
}

#[test]
fn a_clean_run_against_the_manifest_passes() {
    let (code, out) = Run::default().summary("clean");
    assert_eq!(code, 0, "{out}");
    // IGT 2 × 4 (a parent of dynamic subtests counts through them), KUnit 4; the allowed
    // KUnit skip.
    assert!(out.ends_with("\n12 passed, 0 failed, 1 skipped\n"), "{out}");
    assert!(out.contains("clean (1 allowed)"), "{out}");
}

#[test]
fn a_missing_binary_subtest_or_dynamic_subtest_fails() {
    let without = |drop: &[&str]| {
        let names: Vec<&str> = NAMES
            .iter()
            .copied()
            .filter(|n| !drop.contains(n))
            .collect();
        Some(results(&names, &[]))
    };
    let r = Run {
        accel1: without(&["igt@simple"]),
        ..Run::default()
    };
    r.red("binary", &["accel1", "igt@simple", "missing"]);
    // A binary that did not run at all is one line, whatever its number of subtests.
    let r = Run {
        accel0: without(&[
            "igt@gaudi_exec@nop",
            "igt@gaudi_exec@dma-copy",
            "igt@gaudi_exec@dma-copy@system-to-wc",
        ]),
        ..Run::default()
    };
    let out = r.red("whole-binary", &["accel0", "igt@gaudi_exec", "missing"]);
    assert!(
        out.contains("the binary did not run: 3 tests missing"),
        "{out}"
    );
    assert!(out.ends_with("\n10 passed, 1 failed, 1 skipped\n"), "{out}");
    let r = Run {
        accel0: without(&["igt@core_getversion@basic"]),
        ..Run::default()
    };
    r.red("upstream", &["accel0", "igt@core_getversion", "missing"]);
    let r = Run {
        accel1: without(&["igt@gaudi_exec@nop"]),
        ..Run::default()
    };
    r.red("subtest", &["accel1", "igt@gaudi_exec@nop", "missing"]);
    let r = Run {
        accel1: without(&["igt@gaudi_exec@dma-copy@system-to-wc"]),
        ..Run::default()
    };
    r.red(
        "dynamic",
        &["accel1", "igt@gaudi_exec@dma-copy@system-to-wc", "missing"],
    );
}

#[test]
fn a_missing_node_fails() {
    let r = Run {
        accel1: None,
        ..Run::default()
    };
    let out = r.red("node", &["accel1", "-", "missing"]);
    assert!(out.contains("5 expected tests did not run"), "{out}");
    let r = Run {
        accel1: Some("{not json".into()),
        ..Run::default()
    };
    r.red("unreadable", &["accel1", "-", "missing"]);
}

#[test]
fn a_test_that_is_not_in_the_manifest_fails() {
    let r = Run {
        accel0: Some(results(NAMES, &[("igt@gaudi_exec@new-one", "pass")])),
        ..Run::default()
    };
    r.red(
        "unexpected",
        &["accel0", "igt@gaudi_exec@new-one", "unexpected"],
    );
    // An excluded subtest that ran anyway.
    let r = Run {
        accel0: Some(results(NAMES, &[("igt@gaudi_exec@wait-snapshot", "pass")])),
        ..Run::default()
    };
    r.red(
        "excluded",
        &["accel0", "igt@gaudi_exec@wait-snapshot", "unexpected"],
    );
}

#[test]
fn only_allowed_skips_pass() {
    // Allowed on accel1 only.
    let skip = [("igt@gaudi_exec@nop", "skip")];
    let r = Run {
        accel1: Some(results(NAMES, &skip)),
        ..Run::default()
    };
    let (code, out) = r.summary("allowed-skip");
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("\n11 passed, 0 failed, 2 skipped\n"), "{out}");
    let r = Run {
        accel0: Some(results(NAMES, &skip)),
        ..Run::default()
    };
    let out = r.red(
        "skip",
        &["accel0", "igt@gaudi_exec@nop", "skip-not-allowed"],
    );
    assert!(out.ends_with("\n11 passed, 1 failed, 1 skipped\n"), "{out}");
    // An upstream test that skips, as all of them would if the /dev/dri/card0 alias broke.
    let r = Run {
        accel1: Some(results(NAMES, &[("igt@core_getversion@basic", "skip")])),
        ..Run::default()
    };
    r.red(
        "upstream-skip",
        &["accel1", "igt@core_getversion@basic", "skip-not-allowed"],
    );
    // A KUnit skip that is not allowed.
    let r = Run {
        kunit: leveled(&KUNIT.replace("ok 1 signal_order", "ok 1 signal_order # SKIP no")),
        ..Run::default()
    };
    r.red(
        "kunit-skip",
        &["kunit", "accel_fence.signal_order", "skip-not-allowed"],
    );
}

#[test]
fn kunit_suites_and_case_counts_are_checked() {
    let r = Run {
        manifest: MANIFEST.replace("kunit accel_fence 1\n", "kunit accel_fence 2\n"),
        ..Run::default()
    };
    let out = r.red("count", &["kunit", "accel_fence", "wrong-count"]);
    assert!(out.contains("1 cases, the manifest says 2"), "{out}");
    // A parameterised case counts once.
    let r = Run {
        manifest: MANIFEST.replace("kunit gaudi_mmu 3\n", "kunit gaudi_mmu 4\n"),
        ..Run::default()
    };
    r.red("params", &["kunit", "gaudi_mmu", "wrong-count"]);
    let r = Run {
        manifest: MANIFEST.replace(
            "kunit accel_fence 1\n",
            "kunit accel_fence 1\nkunit gone 1\n",
        ),
        ..Run::default()
    };
    r.red("missing-suite", &["kunit", "gone", "missing"]);
    let r = Run {
        manifest: MANIFEST.replace("kunit accel_fence 1\n", ""),
        ..Run::default()
    };
    r.red("unexpected-suite", &["kunit", "accel_fence", "unexpected"]);
    // A suite cut short (the kernel crashed in it) has fewer cases.
    let cut = KUNIT
        .lines()
        .take_while(|l| !l.contains("ok 3 page_sizes"))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let r = Run {
        kunit: leveled(&cut),
        ..Run::default()
    };
    r.red("cut", &["kunit", "gaudi_mmu", "wrong-count"]);
}

#[test]
fn kernel_errors_fail_unless_allowed() {
    let base = Run::default().kernel;
    for (name, line) in [
        (
            "err",
            "<3>[    5.0] gaudi 0000:00:10.0: queues did not come up: EIO",
        ),
        ("crit", "<2>[    5.0] something critical"),
        ("emerg", "<0>[    5.0] something fatal"),
        // A userspace record (facility 1) at level 3.
        ("user", "<11>[    5.0] a daemon: an error"),
    ] {
        let r = Run {
            kernel: format!("{base}{line}\n"),
            ..Run::default()
        };
        let out = r.red(
            name,
            &["kernel", "messages", "at", "error", "level", "fail"],
        );
        assert!(out.contains(line), "{out}");
    }
    // A continuation line belongs to the record before it.
    let r = Run {
        kernel: format!("{base}<3>[    5.0] first line\n  more of it\n"),
        ..Run::default()
    };
    let out = r.red(
        "continued",
        &["kernel", "messages", "at", "error", "level", "fail"],
    );
    assert!(out.contains("2 lines at level <3>"), "{out}");
    // A log saved without levels cannot be judged.
    let r = Run {
        kernel: "[    1.0] Linux version 7.3\n".into(),
        ..Run::default()
    };
    let out = r.red(
        "no-levels",
        &["kernel", "messages", "at", "error", "level", "fail"],
    );
    assert!(out.contains("dmesg -r"), "{out}");
    // Reports at any level.
    let r = Run {
        kernel: format!("{base}<4>[    6.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2\n"),
        ..Run::default()
    };
    r.red("warning", &["kernel", "log", "(5", "lines)", "fail"]);
}

#[test]
fn rmmod_insmod_and_probe_failures_fail() {
    let status = Run::default().status.unwrap();
    for (name, from, to, words) in [
        (
            "rmmod",
            "rmmod ok",
            "rmmod failed",
            &["guest", "rmmod", "ok", "fail"][..],
        ),
        (
            "insmod",
            "insmod ok",
            "insmod failed",
            &["guest", "insmod", "ok", "fail"],
        ),
        // The probe of one device failed: one node.
        (
            "probe",
            "nodes accel0 accel1",
            "nodes accel0",
            &["guest", "nodes", "accel0", "accel1", "fail"],
        ),
        // The guest stopped before unloading the driver.
        (
            "no-rmmod",
            "rmmod ok\n",
            "",
            &["guest", "rmmod", "ok", "fail"],
        ),
    ] {
        let r = Run {
            status: Some(status.replace(from, to)),
            ..Run::default()
        };
        r.red(name, words);
    }
    let r = Run {
        failure: Some("accel-guest: rmmod failed\n".into()),
        ..Run::default()
    };
    let out = r.red(
        "failure-file",
        &["guest", "driver", "load", "and", "unload", "fail"],
    );
    assert!(out.contains("accel-guest: rmmod failed"), "{out}");
}

#[test]
fn kmemleak_must_have_scanned() {
    let status = Run::default().status.unwrap();
    for (name, to) in [
        ("absent", "kmemleak absent"),
        ("off", "kmemleak scan-failed"),
        ("no-step", ""),
    ] {
        let r = Run {
            status: Some(status.replace("kmemleak scanned", to)),
            ..Run::default()
        };
        r.red(name, &["guest", "kmemleak", "scanned", "fail"]);
    }
    // No record at all: nothing says that the empty report means anything.
    let r = Run {
        status: None,
        ..Run::default()
    };
    r.red("no-status", &["guest", "-", "error"]);
    let r = Run {
        kmemleak: "unreferenced object 0xffff888003a0c000 (size 64):\n".into(),
        ..Run::default()
    };
    r.red("leak", &["kmemleak", "report", "fail"]);
}

#[test]
fn emulator_errors_fail() {
    let base = Run::default().emulator;
    for (name, line) in [
        ("handshake", "gaudi-emu1: handshake failed: Broken pipe"),
        (
            "doorbell",
            "gaudi-emu0: doorbell 3 names no queue (ignored, logged once)",
        ),
        (
            "panic",
            "thread 'queue-2' panicked at emulator/src/queue.rs:1:1:",
        ),
    ] {
        let r = Run {
            emulator: format!("{line}\n{base}"),
            ..Run::default()
        };
        let out = r.red(name, &["emulator", "log", "(3", "lines)", "fail"]);
        assert!(out.contains(line), "{out}");
    }
    // It died (or was killed) rather than stopping when asked to.
    let r = Run {
        emulator: base.replace("gaudi-emu: stopped\n", ""),
        ..Run::default()
    };
    r.red("died", &["emulator", "stopped", "cleanly", "fail"]);
}

#[test]
fn a_bad_manifest_fails() {
    let r = Run {
        manifest: MANIFEST.replace("-- a reason", ""),
        ..Run::default()
    };
    let out = r.red("manifest", &["manifest", "-", "error"]);
    assert!(out.contains("needs a reason"), "{out}");
}

#[test]
fn guest_status_without_a_manifest() {
    let ok = write(
        "status-ok",
        "nodes-expected 2\ninsmod ok\nnodes accel1 accel0\nrmmod ok\nkmemleak scanned\n",
    );
    let (code, out) = run(&["--guest-status".into(), ok.display().to_string()]);
    assert_eq!(code, 0, "{out}");
    // One node of two: the probe of the other device failed.
    let one = write(
        "status-one",
        "nodes-expected 2\ninsmod ok\nnodes accel0\nrmmod ok\nkmemleak scanned\n",
    );
    let (code, out) = run(&["--guest-status".into(), one.display().to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the guest recorded `nodes accel0`"), "{out}");
}
