// SPDX-License-Identifier: GPL-2.0 OR MIT

//! `igt-manifest` on stand-in test binaries: shell scripts that answer `--list-subtests` as
//! IGT binaries do.

use std::{os::unix::fs::PermissionsExt, path::PathBuf, process::Command};

/// A directory of its own for each case, with `ours/` and `upstream/`.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("igt-manifest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for sub in ["ours", "upstream"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    d
}

/// A binary that lists `subtests` (exit 0), or none with exit 79 if there are none; `exit`
/// overrides the exit status.
fn binary(path: PathBuf, subtests: &[&str], exit: Option<i32>) {
    let code = exit.unwrap_or(if subtests.is_empty() { 79 } else { 0 });
    let body = format!(
        "#!/bin/sh\n[ \"$1\" = --list-subtests ] || exit 79\nprintf '{}'\nexit {code}\n",
        subtests
            .iter()
            .map(|s| format!("{s}\\n"))
            .collect::<String>()
    );
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const MANIFEST: &str = "\
nodes accel0
test up upstream
  a
  exclude *-snapshot -- races
test mine ours
  x
  y
  y@dynamic-ones-are-not-listed
test whole ours
";

/// Sets up the binaries that match [`MANIFEST`], lets `change` alter the case, runs the
/// check and returns its exit status and output.
fn check(name: &str, change: impl FnOnce(&PathBuf) -> String) -> (i32, String) {
    let d = dir(name);
    binary(d.join("upstream/up"), &["a", "b-snapshot"], None);
    binary(d.join("ours/mine"), &["x", "y"], None);
    binary(d.join("ours/whole"), &[], None);
    let manifest = change(&d);
    std::fs::write(d.join("expected.txt"), manifest).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_igt-manifest"))
        .arg(d.join("expected.txt"))
        .arg("--ours")
        .arg(d.join("ours"))
        .arg("--upstream")
        .arg(d.join("upstream"))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn matching_lists_pass() {
    let (code, out) = check("match", |_| MANIFEST.into());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok    up: 1 subtests, 1 excluded"), "{out}");
    assert!(out.contains("ok    whole: 0 subtests"), "{out}");
    assert!(out.ends_with("3 binaries checked against --list-subtests, 0 differences\n"));
}

#[test]
fn drift_fails() {
    for (name, change, want) in [
        (
            "new-subtest",
            Box::new(|d: &PathBuf| {
                binary(d.join("ours/mine"), &["x", "y", "z"], None);
                MANIFEST.to_string()
            }) as Box<dyn FnOnce(&PathBuf) -> String>,
            "FAIL  mine: z: listed by the binary, not in the manifest",
        ),
        (
            "gone-subtest",
            Box::new(|d: &PathBuf| {
                binary(d.join("ours/mine"), &["x"], None);
                MANIFEST.to_string()
            }),
            "FAIL  mine: y: in the manifest, not listed by the binary",
        ),
        (
            "upstream-subtest",
            Box::new(|d: &PathBuf| {
                binary(d.join("upstream/up"), &["a", "c", "b-snapshot"], None);
                MANIFEST.to_string()
            }),
            "FAIL  up: c: listed by the binary, not in the manifest",
        ),
        (
            "new-binary",
            Box::new(|d: &PathBuf| {
                binary(d.join("ours/extra"), &["x"], None);
                MANIFEST.to_string()
            }),
            "FAIL  extra: in ",
        ),
        (
            "gone-binary",
            Box::new(|d: &PathBuf| {
                std::fs::remove_file(d.join("ours/whole")).unwrap();
                MANIFEST.to_string()
            }),
            "FAIL  whole: not in ",
        ),
        (
            "upstream-gone",
            Box::new(|d: &PathBuf| {
                std::fs::remove_file(d.join("upstream/up")).unwrap();
                MANIFEST.to_string()
            }),
            "FAIL  up: cannot run",
        ),
        (
            "crash",
            Box::new(|d: &PathBuf| {
                binary(d.join("ours/mine"), &["x", "y"], Some(134));
                MANIFEST.to_string()
            }),
            "FAIL  mine: --list-subtests:",
        ),
        (
            "stale-exclude",
            Box::new(|_: &PathBuf| MANIFEST.replace("*-snapshot", "*-gone")),
            "FAIL  up: exclude *-gone (line 4) matches no subtest",
        ),
        (
            "listed-and-excluded",
            Box::new(|_: &PathBuf| MANIFEST.replace("  a\n", "  a\n  b-snapshot\n")),
            "FAIL  up: b-snapshot is in the manifest and excluded",
        ),
        (
            "subtests-of-a-whole-binary",
            Box::new(|_: &PathBuf| format!("{MANIFEST}  w\n")),
            "FAIL  whole: w: in the manifest, not listed by the binary",
        ),
        (
            "bad-manifest",
            Box::new(|_: &PathBuf| MANIFEST.replace(" -- races", "")),
            "manifest: ",
        ),
    ] {
        let (code, out) = check(name, change);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains(want), "{name}: {out}");
    }
}

#[test]
fn bad_command_lines() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_igt-manifest"))
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(run(&[]), Some(2));
    assert_eq!(run(&["m.txt"]), Some(2));
    assert_eq!(run(&["m.txt", "--ours"]), Some(2));
    assert_eq!(run(&["m.txt", "--ours", "d", "--chroot", "r"]), Some(2));
}
