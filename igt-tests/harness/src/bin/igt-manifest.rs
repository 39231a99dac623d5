// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Checks the expected-results manifest against the test binaries' own `--list-subtests`.
//!
//! ```text
//! igt-manifest MANIFEST --ours DIR [--upstream DIR [--chroot ROOT]]
//! ```
//!
//! * `--ours DIR`: the directory of this project's test binaries. Every file there must be a
//!   `test NAME ours` of the manifest and every such test must be there.
//! * `--upstream DIR`: the directory of IGT's test binaries; with `--chroot ROOT`, a path in
//!   the root filesystem ROOT (the guest's), where each binary runs under `chroot(8)`.
//!   Without `--upstream`, upstream tests are not checked.
//!
//! For each binary checked, the subtests it lists, less those its `exclude` lines match, must
//! be the subtests of the manifest (dynamic subtests are not listed by binaries and are
//! judged by the run). A binary that lists no subtests and exits 79 runs as one test and
//! must have none in the manifest. Every `exclude` must match a listed subtest. Prints one
//! line per binary and the differences; exits 1 if there is any, 2 for a bad command line.

use std::{
    collections::BTreeSet,
    path::Path,
    process::{Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

use igt::expected::{Binary, Expected, Origin};

/// How long a binary may take to list its subtests.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);

const USAGE: &str = "usage: igt-manifest MANIFEST --ours DIR [--upstream DIR [--chroot ROOT]]";

/// What a binary lists: `None` for a binary without subtests.
fn list_subtests(mut cmd: Command) -> Result<Option<BTreeSet<String>>, String> {
    let mut child = cmd
        .arg("--list-subtests")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run: {e}"))?;
    let start = Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if start.elapsed() > LIST_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("--list-subtests took more than {LIST_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let names: BTreeSet<String> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    match out.status.code() {
        Some(0) if !names.is_empty() => Ok(Some(names)),
        Some(79) if names.is_empty() => Ok(None),
        _ => Err(format!(
            "--list-subtests: {}, {} names; stderr: {}",
            out.status,
            names.len(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The differences between a binary's list and the manifest, as lines, and how many listed
/// subtests are excluded.
fn compare(b: &Binary, listed: Option<BTreeSet<String>>) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let listed = listed.unwrap_or_default();
    let want: BTreeSet<&str> = b.listed_subtests();
    for e in &b.excludes {
        if !listed.iter().any(|s| igt::expected::glob(s, &e.pattern)) {
            problems.push(format!(
                "exclude {} (line {}) matches no subtest of the binary",
                e.pattern, e.line
            ));
        }
    }
    for s in &want {
        if let Some(e) = b.excluded(s) {
            problems.push(format!(
                "{s} is in the manifest and excluded by {} (line {})",
                e.pattern, e.line
            ));
        }
    }
    let run: BTreeSet<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|s| b.excluded(s).is_none())
        .collect();
    for s in run.difference(&want) {
        problems.push(format!("{s}: listed by the binary, not in the manifest"));
    }
    for s in want.difference(&run) {
        if b.excluded(s).is_none() {
            problems.push(format!("{s}: in the manifest, not listed by the binary"));
        }
    }
    (problems, listed.len() - run.len())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut manifest, mut ours, mut upstream, mut chroot) = (None, None, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let slot = match a.as_str() {
            "--ours" => &mut ours,
            "--upstream" => &mut upstream,
            "--chroot" => &mut chroot,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if !a.starts_with('-') && manifest.is_none() => {
                manifest = Some(a.clone());
                continue;
            }
            _ => {
                eprintln!("igt-manifest: bad argument {a}\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        match it.next() {
            Some(v) => *slot = Some(v.clone()),
            None => {
                eprintln!("igt-manifest: {a} needs a value\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(manifest), Some(ours)) = (manifest, ours) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if chroot.is_some() && upstream.is_none() {
        eprintln!("igt-manifest: --chroot needs --upstream\n{USAGE}");
        return ExitCode::from(2);
    }
    let m = match Expected::load(&manifest) {
        Ok(m) => m,
        Err(e) => {
            println!("manifest: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut problems = 0;
    let mut report = |name: &str, lines: Vec<String>, ok: String| {
        if lines.is_empty() {
            println!("ok    {name}: {ok}");
        } else {
            problems += lines.len();
            for l in lines {
                println!("FAIL  {name}: {l}");
            }
        }
    };

    // The binaries in the directory of ours and those of the manifest.
    let present: BTreeSet<String> = match std::fs::read_dir(&ours) {
        Ok(d) => d
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => {
            println!("FAIL  {ours}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for name in &present {
        if !m
            .binaries
            .iter()
            .any(|b| &b.name == name && b.origin == Origin::Ours)
        {
            report(
                name,
                vec![format!(
                    "in {ours}, not a `test {name} ours` of the manifest"
                )],
                String::new(),
            );
        }
    }
    let mut checked = 0;
    for b in &m.binaries {
        let cmd = match (b.origin, &upstream, &chroot) {
            (Origin::Ours, _, _) => {
                if !present.contains(&b.name) {
                    report(&b.name, vec![format!("not in {ours}")], String::new());
                    continue;
                }
                Command::new(Path::new(&ours).join(&b.name))
            }
            (Origin::Upstream, None, _) => continue,
            (Origin::Upstream, Some(dir), None) => Command::new(Path::new(dir).join(&b.name)),
            (Origin::Upstream, Some(dir), Some(root)) => {
                let mut c = Command::new("chroot");
                c.arg(root).arg(Path::new(dir).join(&b.name));
                c
            }
        };
        checked += 1;
        let (lines, excluded) = match list_subtests(cmd) {
            Ok(listed) => compare(b, listed),
            Err(e) => (vec![e], 0),
        };
        let ok = format!(
            "{} subtests, {excluded} excluded",
            b.listed_subtests().len()
        );
        report(&b.name, lines, ok);
    }
    println!(
        "manifest: {checked} binaries checked against --list-subtests, {problems} differences"
    );
    if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
