// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Runs the example test binaries (`examples/selftest.rs`, `examples/simple.rs`) the way
//! `igt_runner` does and checks what they print, write to the kernel log and exit with.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Command, Output},
    sync::OnceLock,
};

/// Builds the examples once and returns their paths by name.
fn examples() -> &'static HashMap<String, PathBuf> {
    static EXAMPLES: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let out = Command::new(cargo)
            .args([
                "build",
                "--examples",
                "--message-format=json",
                "--manifest-path",
                manifest,
            ])
            .output()
            .expect("run cargo build --examples");
        assert!(
            out.status.success(),
            "cargo build --examples: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut found = HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let kinds = msg
                .pointer("/target/kind")
                .and_then(|k| k.as_array())
                .cloned()
                .unwrap_or_default();
            if !kinds.iter().any(|k| k == "example") {
                continue;
            }
            if let (Some(name), Some(exe)) = (
                msg.pointer("/target/name").and_then(|n| n.as_str()),
                msg["executable"].as_str(),
            ) {
                found.insert(name.to_string(), PathBuf::from(exe));
            }
        }
        assert!(
            found.contains_key("selftest") && found.contains_key("simple"),
            "examples not built: {found:?}"
        );
        found
    })
}

/// Runs example `name` with `args` and `envs`, in a clean environment for the harness.
fn run(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(&examples()[name]);
    cmd.args(args);
    for var in [
        "IGT_SENTINEL_ON_STDERR",
        "IGT_LOG_LEVEL",
        "IGT_PLAIN_OUTPUT",
        "SELFTEST_FIXTURE",
        "SIMPLE_RESULT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    cmd.output().expect("run example")
}

fn selftest(args: &[&str]) -> Output {
    run("selftest", args, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether `line` is `PREFIX NAME: RESULT (S.SSSs)` exactly.
fn is_result(line: &str, prefix: &str, name: &str, result: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("{prefix} {name}: {result} (")) else {
        return false;
    };
    let Some(time) = rest.strip_suffix("s)") else {
        return false;
    };
    let (secs, frac) = time.split_once('.').unwrap_or(("", ""));
    !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 3
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn has_result(out: &str, name: &str, result: &str) -> bool {
    out.lines().any(|l| is_result(l, "Subtest", name, result))
}

fn has_dynamic_result(out: &str, name: &str, result: &str) -> bool {
    out.lines()
        .any(|l| is_result(l, "Dynamic subtest", name, result))
}

const ALL: &str = "pass-a\npass-b\nskip\nfail\nfail-eq\npanic\nwarn\nabort\ndyn\ndyn-pass\ndyn-skip\ngrouped\nafter-group\n";

#[test]
fn list_subtests() {
    let o = selftest(&["--list-subtests"]);
    assert_eq!(o.status.code(), Some(0));
    // Nothing but the names: no version line, and the fixtures do not run.
    assert_eq!(stdout(&o), ALL);
    assert_eq!(stderr(&o), "");
    // --run-subtest after --list-subtests is ignored, before it wins.
    assert_eq!(
        stdout(&selftest(&["--list-subtests", "--run-subtest", "pass-a"])),
        ALL
    );
    let o = selftest(&["--list", "x"]);
    assert_eq!(
        stdout(&o),
        ALL,
        "unique abbreviations and stray arguments are accepted"
    );
    let o = selftest(&["--show-testlist"]);
    assert!(
        stdout(&o).starts_with("igt@selftest@pass-a\nigt@selftest@pass-b\n"),
        "{}",
        stdout(&o)
    );
    let o = selftest(&["--describe=pass-b"]);
    let out = stdout(&o);
    assert!(
        out.starts_with("SUB pass-b ") && out.ends_with(":\n  NO DOCUMENTATION!\n\n"),
        "{out}"
    );
}

#[test]
fn pass_prints_the_protocol_and_nothing_on_stderr() {
    let o = selftest(&["--run-subtest", "pass-a"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("IGT-Version: ") && lines[0].contains(") (Linux: "),
        "{out}"
    );
    assert_eq!(lines[1], "Starting subtest: pass-a");
    assert!(is_result(lines[2], "Subtest", "pass-a", "SUCCESS"), "{out}");
    // The skipping fixture of the group runs even though its subtest is not selected.
    assert_eq!(lines[3..], ["group fixture skipped"]);
    assert_eq!(stderr(&o), "");
}

#[test]
fn sentinels_on_stderr() {
    let o = run(
        "selftest",
        &["--run-subtest", "pass-a,dyn-pass"],
        &[("IGT_SENTINEL_ON_STDERR", "1")],
    );
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 10, "{err}");
    assert_eq!(lines[0], "Starting subtest: pass-a");
    assert!(is_result(lines[1], "Subtest", "pass-a", "SUCCESS"));
    assert_eq!(lines[2], "Starting subtest: dyn-pass");
    assert_eq!(lines[3], "Starting dynamic subtest: size-4096");
    assert!(is_result(
        lines[4],
        "Dynamic subtest",
        "size-4096",
        "SUCCESS"
    ));
    assert!(is_result(lines[8], "Dynamic subtest", "size-0", "SKIP"));
    assert!(is_result(lines[9], "Subtest", "dyn-pass", "SUCCESS"));
    // The skip reason stays on stdout.
    assert!(!err.contains("zero"));
    assert!(stdout(&o).contains("\nzero\n"));
}

#[test]
fn wildcards_and_negation() {
    let o = selftest(&["--run-subtest", "pass-*,!pass-b"]);
    let out = stdout(&o);
    assert!(has_result(&out, "pass-a", "SUCCESS"));
    assert!(!out.contains("pass-b"));
    assert_eq!(o.status.code(), Some(0));
    let o = selftest(&["--run-subtest", "pass-?,after-*"]);
    let out = stdout(&o);
    assert!(has_result(&out, "pass-a", "SUCCESS") && has_result(&out, "pass-b", "SUCCESS"));
    assert!(has_result(&out, "after-group", "SUCCESS"));
    assert!(!out.contains("Starting subtest: skip"));
    // A negation on its own selects nothing, as in IGT.
    let o = selftest(&["--run-subtest", "!pass-b"]);
    assert_eq!(o.status.code(), Some(79));
    assert!(
        stderr(&o).contains(") igt_core-CRITICAL: Unknown subtest: !pass-b\n"),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("Starting subtest"));
}

#[test]
fn exit_codes() {
    let code = |args: &[&str]| selftest(args).status.code();
    assert_eq!(code(&["--run-subtest", "pass-a"]), Some(0));
    assert_eq!(code(&["--run-subtest", "skip"]), Some(77));
    assert_eq!(code(&["--run-subtest", "fail"]), Some(98));
    assert_eq!(
        code(&["--run-subtest", "pass-a,skip"]),
        Some(0),
        "pass and skip pass"
    );
    assert_eq!(
        code(&["--run-subtest", "pass-a,skip,fail-eq"]),
        Some(98),
        "a failure wins"
    );
    assert_eq!(code(&["--run-subtest", "no-such"]), Some(79));
    assert_eq!(
        code(&["--run-subtest", "grouped"]),
        Some(77),
        "skipped by its fixture"
    );
    assert_eq!(code(&["--run-subtest", "*,!abort"]), Some(98));
    assert_eq!(code(&["--help"]), Some(0));

    let o = selftest(&["--bogus"]);
    assert_eq!(o.status.code(), Some(79));
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(
        err.contains(
            ": unrecognized option '--bogus'\nUsage: selftest [OPTIONS]\n  --list-subtests\n"
        ),
        "{err}"
    );
    let o = selftest(&["--run-subtest"]);
    assert_eq!(o.status.code(), Some(79));
    assert!(stderr(&o).contains("option '--run-subtest' requires an argument"));
}

#[test]
fn abort_stops_at_once() {
    let o = selftest(&["--run-subtest", "abort,after-group"]);
    assert_eq!(o.status.code(), Some(112));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(
        out.ends_with("Starting subtest: abort\n"),
        "no result line after an abort: {out}"
    );
    assert!(!out.contains("after-group"));
    assert!(
        err.contains(") CRITICAL: Test abort in function selftest::main, file "),
        "{err}"
    );
    assert!(err.contains(") CRITICAL: abort condition: value.is_some()\n"));
    assert!(err.contains(") CRITICAL: device wedged\nSubtest abort failed.\n**** DEBUG ****\n"));
}

#[test]
fn failure_messages() {
    let o = selftest(&["--run-subtest", "fail"]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(has_result(&out, "fail", "FAIL"));
    let source = include_str!("../examples/selftest.rs");
    let line = 1 + source
        .lines()
        .position(|l| l.contains("igt::assert!(1 + 1 == 3"))
        .unwrap();
    let lines: Vec<&str> = err.lines().collect();
    let tagged = |l: &str, tail: &str| {
        // [sec.usec] (selftest:pid) TAIL
        l.starts_with('[') && l.contains("] (selftest:") && l.ends_with(tail)
    };
    // The path is as rustc saw it, relative to the workspace.
    assert!(
        tagged(lines[0], &format!("examples/selftest.rs:{line}:")),
        "{err}"
    );
    assert!(
        lines[0].contains(") CRITICAL: Test assertion failure function selftest::main, file "),
        "{err}"
    );
    assert!(
        tagged(lines[1], ") CRITICAL: Failed assertion: 1 + 1 == 3"),
        "{err}"
    );
    assert!(tagged(lines[2], ") CRITICAL: arithmetic"), "{err}");
    assert_eq!(lines[3], "Subtest fail failed.");
    assert_eq!(lines[4], "**** DEBUG ****");
    assert!(
        tagged(lines[5], ") DEBUG: context for the failure"),
        "{err}"
    );
    assert_eq!(
        &lines[6][lines[6].find(" (").unwrap()..],
        &lines[0][lines[0].find(" (").unwrap()..]
    );
    assert_eq!(lines.last(), Some(&"****  END  ****"));
    // Failure text goes to stderr only; debug output only into the dump.
    assert!(!out.contains("arithmetic") && !out.contains("context for the failure"));

    let o = selftest(&["--run-subtest", "fail-eq"]);
    let err = stderr(&o);
    assert!(
        err.contains(") CRITICAL: Failed assertion: 2 + 2 == 5\n"),
        "{err}"
    );
    assert!(err.contains(") CRITICAL: error: 4 != 5\n"), "{err}");
}

#[test]
fn skip_reason_goes_to_stdout() {
    let o = selftest(&["--run-subtest", "skip"]);
    let out = stdout(&o);
    assert!(
        out.contains("Test requirement not met in function selftest::main, file "),
        "{out}"
    );
    assert!(
        out.contains("\nTest requirement: 1 + 1 == 3\narithmetic works\n"),
        "{out}"
    );
    assert!(has_result(&out, "skip", "SKIP"));
    assert_eq!(stderr(&o), "");
}

#[test]
fn panic_fails_only_its_subtest() {
    let o = selftest(&["--run-subtest", "panic,pass-b"]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(has_result(&out, "panic", "FAIL"));
    assert!(has_result(&out, "pass-b", "SUCCESS"));
    assert_eq!(o.status.code(), Some(98));
    assert!(err.contains(") CRITICAL: Panicked: boom\n"), "{err}");
    // Not Rust's own panic message.
    assert!(!err.contains("panicked at"), "{err}");
}

#[test]
fn warnings_go_to_stderr() {
    let o = selftest(&["--run-subtest", "warn"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(has_result(&stdout(&o), "warn", "SUCCESS"));
    let err = stderr(&o);
    assert!(
        err.starts_with('[') && err.ends_with(") WARNING: a warning\n"),
        "{err}"
    );
}

#[test]
fn debug_and_log_level() {
    let o = selftest(&["--run-subtest", "pass-a,pass-b"]);
    assert!(!stdout(&o).contains("only in the log"));
    assert!(stdout(&o).contains("\ninformational\n"));
    let o = selftest(&["--run-subtest", "pass-a", "--debug"]);
    let out = stdout(&o);
    assert!(out.contains(") DEBUG: only in the log\n"), "{out}");
    assert!(
        out.contains(") igt_core-DEBUG: Exiting with status code 0\n"),
        "{out}"
    );
    // A domain filter shows only that domain's messages; result lines are not log messages.
    let o = selftest(&["--run-subtest", "pass-a", "--debug=igt_core"]);
    let out = stdout(&o);
    assert!(
        !out.contains("only in the log") && out.contains("Starting subtest: pass-a\n"),
        "{out}"
    );
    let o = selftest(&["--run-subtest", "pass-a", "--debug=application"]);
    let out = stdout(&o);
    assert!(
        out.contains("only in the log")
            && !out.contains("Starting subtest")
            && !out.contains("IGT-Version"),
        "{out}"
    );
    assert!(has_result(&out, "pass-a", "SUCCESS"));
    let o = run(
        "selftest",
        &["--run-subtest", "pass-b"],
        &[("IGT_LOG_LEVEL", "warn")],
    );
    assert!(!stdout(&o).contains("informational"));
}

#[test]
fn dynamic_subtests() {
    let o = selftest(&["--run-subtest", "dyn"]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(
        out.contains("Starting subtest: dyn\nStarting dynamic subtest: one\n"),
        "{out}"
    );
    assert!(has_dynamic_result(&out, "one", "SUCCESS"));
    assert!(has_dynamic_result(&out, "two", "SKIP"));
    assert!(has_dynamic_result(&out, "three", "FAIL"));
    assert!(has_dynamic_result(&out, "four", "FAIL"));
    assert!(has_result(&out, "dyn", "FAIL"));
    assert!(out.contains("\nnot here\n"));
    assert!(
        err.contains("Dynamic subtest three failed.\n**** DEBUG ****\n"),
        "{err}"
    );
    assert!(
        err.contains(") CRITICAL: Panicked: dynamic boom\nDynamic subtest four failed.\n"),
        "{err}"
    );
    assert!(
        !err.contains("Subtest dyn failed."),
        "the container's log is not dumped: {err}"
    );
    assert_eq!(o.status.code(), Some(98));

    let o = selftest(&["--run-subtest", "dyn", "--dynamic-subtest", "one"]);
    let out = stdout(&o);
    assert!(has_dynamic_result(&out, "one", "SUCCESS"));
    assert!(!out.contains("Dynamic subtest two"));
    assert!(has_result(&out, "dyn", "SUCCESS"));
    assert_eq!(o.status.code(), Some(0));

    // Only skipped dynamic subtests: the subtest skips.
    let o = selftest(&["--run-subtest", "dyn", "--dynamic-subtest", "two"]);
    assert!(stdout(&o).contains("not here\n"));
    assert!(stdout(&o).contains("\nNo dynamic tests executed.\n"));
    assert!(has_result(&stdout(&o), "dyn", "SKIP"));
    assert_eq!(o.status.code(), Some(77));

    let o = selftest(&[
        "--run-subtest",
        "dyn-pass",
        "--dynamic-subtest",
        "size-*,!size-0",
    ]);
    let out = stdout(&o);
    assert!(
        has_dynamic_result(&out, "size-4096", "SUCCESS")
            && has_dynamic_result(&out, "size-8192", "SUCCESS")
    );
    assert!(!out.contains("size-0"));
    assert_eq!(o.status.code(), Some(0));

    // A requirement in the body skips the subtest.
    let o = selftest(&["--run-subtest", "dyn-skip"]);
    assert!(has_result(&stdout(&o), "dyn-skip", "SKIP"));
    assert!(!stdout(&o).contains("never"));
    assert_eq!(o.status.code(), Some(77));
}

#[test]
fn fixtures_skip_or_fail_what_follows() {
    let o = run(
        "selftest",
        &["--run-subtest", "pass-a,pass-b,fail"],
        &[("SELFTEST_FIXTURE", "skip")],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(77));
    assert!(out.contains("\nfixture skipped\n"));
    for name in ["pass-a", "pass-b", "fail"] {
        assert!(
            out.lines()
                .any(|l| l == format!("Subtest {name}: SKIP (0.000s)")),
            "{out}"
        );
    }
    assert!(!out.contains("Starting subtest"));
    assert_eq!(stderr(&o), "");

    for how in ["fail", "panic"] {
        let o = run(
            "selftest",
            &["--run-subtest", "pass-a,after-group"],
            &[("SELFTEST_FIXTURE", how)],
        );
        let (out, err) = (stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(98));
        assert!(
            out.lines().any(|l| l == "Subtest pass-a: FAIL (0.000s)"),
            "{out}"
        );
        assert!(
            out.lines()
                .any(|l| l == "Subtest after-group: FAIL (0.000s)"),
            "{out}"
        );
        assert!(
            err.contains("\nTest selftest failed.\n**** DEBUG ****\n"),
            "{err}"
        );
    }
}

#[test]
fn groups_contain_their_fixtures() {
    let o = selftest(&["--run-subtest", "grouped,after-group"]);
    let out = stdout(&o);
    assert!(
        out.lines().any(|l| l == "Subtest grouped: SKIP (0.000s)"),
        "{out}"
    );
    assert!(has_result(&out, "after-group", "SUCCESS"));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn simple_test() {
    let o = run("simple", &[], &[]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.starts_with("IGT-Version: "));
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("SUCCESS (") && last.ends_with("s)"),
        "{out}"
    );
    assert_eq!(stderr(&o), "");

    let o = run("simple", &[], &[("SIMPLE_RESULT", "skip")]);
    assert_eq!(o.status.code(), Some(77));
    assert!(stdout(&o).contains("\nsimple skip\nSKIP ("));

    for how in ["fail", "panic"] {
        let o = run("simple", &[], &[("SIMPLE_RESULT", how)]);
        assert_eq!(o.status.code(), Some(98), "{how}");
        assert!(stdout(&o)
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("FAIL ("));
        assert!(
            stderr(&o).contains("\nTest simple failed.\n**** DEBUG ****\n"),
            "{}",
            stderr(&o)
        );
    }
    let err = stderr(&run("simple", &[], &[("SIMPLE_RESULT", "fail")]));
    assert!(
        err.contains(") CRITICAL: Failed assertion: 1 != 1\n")
            && err.contains(") CRITICAL: error: 1 == 1\n"),
        "{err}"
    );

    // igt_runner treats exit 79 on --list-subtests as "no subtests".
    let o = run("simple", &["--list-subtests"], &[]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(79), ""));
    let o = run("simple", &["--run-subtest", "x"], &[]);
    assert_eq!(o.status.code(), Some(79));
    assert!(
        stderr(&o).ends_with(") igt_core-WARNING: Unknown subtest: x\n"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        stdout(&run("simple", &["--show-testlist"], &[])),
        "igt@simple\n"
    );
}

/// Reads the kernel log records written since `fd` was opened at its end.
fn read_kmsg(fd: i32) -> Vec<String> {
    let mut records = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            let e = std::io::Error::last_os_error().raw_os_error();
            // EPIPE: records were overwritten; keep reading.
            if n < 0 && e == Some(libc::EPIPE) {
                continue;
            }
            break;
        }
        let rec = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
        // "LEVEL,SEQ,TIME,FLAGS;MESSAGE\n"
        if let Some((_, msg)) = rec.split_once(';') {
            records.push(msg.lines().next().unwrap_or_default().to_string());
        }
    }
    records
}

#[test]
fn kernel_log_markers() {
    let path = c"/dev/kmsg";
    // SAFETY: A valid C string and flags.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .is_ok();
    // The test runs as root on the host of make check (and in the guest's tests), where
    // /dev/kmsg is readable and writable: without it the markers are not checked, which fails.
    assert!(
        fd >= 0 && writable,
        "/dev/kmsg is not readable and writable here: the markers cannot be checked"
    );
    // SAFETY: `fd` is an open /dev/kmsg.
    unsafe { libc::lseek(fd, 0, libc::SEEK_END) };
    // A name of its own, so that the other tests' records do not mix in.
    let dir = std::env::temp_dir().join(format!("igt-harness-kmsg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("kmsgcheck");
    // A symbolic link: a copy could be busy (ETXTBSY) while other tests fork.
    let _ = std::fs::remove_file(&exe);
    std::os::unix::fs::symlink(&examples()["selftest"], &exe).unwrap();
    let o = Command::new(&exe)
        .args([
            "--run-subtest",
            "pass-a,fail,dyn-pass",
            "--dynamic-subtest",
            "size-4096",
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(o.status.code(), Some(98));
    let ours: Vec<String> = read_kmsg(fd)
        .into_iter()
        .filter(|r| r.starts_with("[IGT] kmsgcheck: "))
        .map(|r| r[6..].to_string())
        .collect();
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    assert_eq!(
        ours,
        [
            "kmsgcheck: executing",
            "kmsgcheck: starting subtest pass-a",
            "kmsgcheck: finished subtest pass-a, SUCCESS",
            "kmsgcheck: starting subtest fail",
            "kmsgcheck: finished subtest fail, FAIL",
            "kmsgcheck: starting subtest dyn-pass",
            "kmsgcheck: starting dynamic subtest size-4096",
            "kmsgcheck: finished subtest size-4096, SUCCESS",
            "kmsgcheck: finished subtest dyn-pass, SUCCESS",
            "kmsgcheck: exiting, ret=98",
        ]
    );
}
