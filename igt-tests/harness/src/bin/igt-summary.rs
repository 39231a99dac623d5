// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Summarises a test run: `igt_runner` results, KUnit, host cargo tests and kernel logs.
//!
//! ```text
//! igt-summary [LABEL=results.json ...] [--kunit DMESG] [--cargo LOG]
//!             [--kernel-log DMESG] [--kmemleak FILE] [--guest-failure FILE]
//! ```
//!
//! Every option may be repeated. The output is a table with one line per test (label, name,
//! result), then the output of every test that did not pass, then a last line
//! `N passed, N failed, N skipped`. The exit status is 1 if anything failed, 2 for a bad
//! command line.
//!
//! * `LABEL=results.json`: a `results.json` of `igt_runner`/`igt_resume`, whose `tests` map
//!   names (`igt@binary`, `igt@binary@subtest`, `igt@binary@subtest@dynamic`) to objects with
//!   `result`, `out`, `err`, `dmesg`. `pass` passes and `skip` skips; every other result
//!   fails: `fail`, `crash`, `timeout`, `abort`, `incomplete`, `warn` (the test wrote to
//!   stderr), `dmesg-warn`/`dmesg-fail` (the kernel warned during the test), and also
//!   `notrun`, which the runner records for tests it never started (after an abort, or when
//!   the run was cut short), since a test that silently did not run is lost coverage. A
//!   subtest with dynamic subtests in the map counts through them, plus itself if it failed
//!   while none of them did. A missing, unreadable or empty results file is a failure.
//! * `--kunit DMESG`: KTAP output in a kernel log (printk timestamps allowed). Each test case
//!   (`ok N name`, `not ok N name`, `# SKIP`), or parameter of a parameterised case, counts
//!   under the label `kunit`; a suite or case that failed without a failing case inside counts
//!   as one failure. A log without KUnit results is a failure.
//! * `--cargo LOG`: the output of `cargo test`, added up from its `test result:` lines (ignored
//!   tests count as skipped). A log without such a line, or with a failure, fails.
//! * `--kernel-log DMESG`: fails if the kernel log has a warning, BUG, oops, KASAN, UBSAN,
//!   lockdep or hung-task report.
//! * `--kmemleak FILE`: fails if the kmemleak report lists an unreferenced object.
//! * `--guest-failure FILE`: fails if FILE exists; the guest writes it when a step outside the
//!   tests fails (loading or unloading the driver).

use std::{collections::BTreeMap, fs, process::ExitCode};

use serde_json::Value;

/// One line of the table.
struct Row {
    label: String,
    name: String,
    result: String,
}

#[derive(Default)]
struct Summary {
    rows: Vec<Row>,
    passed: usize,
    failed: usize,
    skipped: usize,
    /// What to show for everything that did not pass.
    details: Vec<String>,
}

impl Summary {
    /// Counts a test with `result` (`pass`, `skip` or anything else, a failure).
    fn record(&mut self, label: &str, name: &str, result: &str, detail: impl FnOnce() -> String) {
        self.rows.push(Row {
            label: label.into(),
            name: name.into(),
            result: result.into(),
        });
        match result {
            "pass" => self.passed += 1,
            "skip" => self.skipped += 1,
            _ => {
                self.failed += 1;
                let d = detail();
                let sep = if d.is_empty() { "" } else { "\n" };
                self.details
                    .push(format!("{label} {name}: {result}{sep}{d}"));
            }
        }
    }

    /// Counts a failure that is not a test (a missing file, a bad log).
    fn problem(&mut self, label: &str, what: String) {
        self.record(label, "-", "error", || what);
    }

    fn print(&self) {
        let lw = self
            .rows
            .iter()
            .map(|r| r.label.len())
            .max()
            .unwrap_or(0)
            .max(6);
        let nw = self
            .rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0)
            .max(4);
        for r in &self.rows {
            println!("{:lw$}  {:nw$}  {}", r.label, r.name, r.result);
        }
        if !self.details.is_empty() {
            println!("\n=== not passed ===");
            for d in &self.details {
                println!("{d}\n");
            }
        }
        println!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        );
    }
}

/// The last `n` lines of `s`.
fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let cut = lines.len().saturating_sub(n);
    let mut t = lines[cut..].join("\n");
    if cut > 0 {
        t = format!("[... {cut} lines]\n{t}");
    }
    t
}

/// The output sections of a test that did not pass.
fn igt_detail(entry: &Value) -> String {
    let field = |f: &str| {
        entry
            .get(f)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim_end()
            .to_string()
    };
    let mut parts = Vec::new();
    for (name, text, lines) in [
        ("out", field("out"), 20),
        ("err", field("err"), 40),
        // The warnings that changed the result, if the runner listed them.
        ("dmesg-warnings", field("dmesg-warnings"), 30),
    ] {
        if !text.is_empty() {
            parts.push(format!("--- {name}:\n{}", tail(&text, lines)));
        }
    }
    if field("dmesg-warnings").is_empty() && !field("dmesg").is_empty() {
        parts.push(format!("--- dmesg:\n{}", tail(&field("dmesg"), 30)));
    }
    parts.join("\n")
}

fn igt_results(s: &mut Summary, label: &str, path: &str) {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return s.problem(label, format!("cannot read {path}: {e}")),
    };
    let json: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return s.problem(label, format!("{path}: {e}")),
    };
    let tests: BTreeMap<&String, &Value> = match json.get("tests").and_then(Value::as_object) {
        Some(t) if !t.is_empty() => t.iter().collect(),
        _ => return s.problem(label, format!("{path} has no tests")),
    };
    let result_of = |v: &Value| {
        v.get("result")
            .and_then(Value::as_str)
            .unwrap_or("(none)")
            .to_string()
    };
    let failing = |r: &str| !matches!(r, "pass" | "skip");
    for (name, entry) in &tests {
        let result = result_of(entry);
        let prefix = format!("{name}@");
        let children: Vec<&&Value> = tests
            .range::<String, _>(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v)
            .collect();
        if !children.is_empty() {
            // Counted through its dynamic subtests, unless it failed on its own.
            if !failing(&result) || children.iter().any(|c| failing(&result_of(c))) {
                continue;
            }
        }
        s.record(label, name, &result, || igt_detail(entry));
    }
}

/// Strips the `<6>` level and `[    1.234567]` time of a kernel log line, keeping the
/// indentation of the message.
fn strip_printk(line: &str) -> &str {
    let mut l = line;
    if let Some(rest) = l.strip_prefix('<') {
        if let Some((level, rest)) = rest.split_once('>') {
            if !level.is_empty() && level.bytes().all(|b| b.is_ascii_digit()) {
                l = rest.strip_prefix(' ').unwrap_or(rest);
            }
        }
    }
    if let Some(rest) = l.strip_prefix('[') {
        if let Some((time, rest)) = rest.split_once(']') {
            if time.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                l = rest.strip_prefix(' ').unwrap_or(rest);
            }
        }
    }
    l
}

/// An open `# Subtest:` block of KTAP output.
struct Block {
    indent: usize,
    name: String,
    leaves: usize,
    failed_leaves: usize,
}

/// A KTAP result line: (ok, name, directive).
fn ktap_result(line: &str) -> Option<(bool, &str, &str)> {
    let (ok, rest) = if let Some(r) = line.strip_prefix("not ok ") {
        (false, r)
    } else if let Some(r) = line.strip_prefix("ok ") {
        (true, r)
    } else {
        return None;
    };
    let (number, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.strip_prefix("- ").unwrap_or(rest);
    Some(match rest.split_once(" # ") {
        Some((name, directive)) => (ok, name.trim(), directive.trim()),
        None => match rest.strip_prefix("# ") {
            Some(directive) => (ok, "", directive.trim()),
            None => (ok, rest.trim(), ""),
        },
    })
}

fn kunit(s: &mut Summary, path: &str) {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return s.problem("kunit", format!("cannot read {path}: {e}")),
    };
    let mut stack: Vec<Block> = Vec::new();
    let mut in_ktap = false;
    let mut counted = 0;
    for raw in text.lines() {
        let line = strip_printk(raw);
        let body = line.trim_start();
        let indent = line.len() - body.len();
        if indent == 0 && (body.starts_with("KTAP version ") || body.starts_with("TAP version ")) {
            in_ktap = true;
            stack.clear();
            continue;
        }
        if !in_ktap {
            continue;
        }
        if let Some(name) = body.strip_prefix("# Subtest: ") {
            stack.retain(|b| b.indent < indent);
            stack.push(Block {
                indent,
                name: name.trim().to_string(),
                leaves: 0,
                failed_leaves: 0,
            });
            continue;
        }
        let Some((ok, name, directive)) = ktap_result(body) else {
            continue;
        };
        let skip = directive.to_ascii_uppercase().starts_with("SKIP");
        let result = if skip {
            "skip"
        } else if ok {
            "pass"
        } else {
            "fail"
        };
        if stack.last().is_some_and(|b| b.indent > indent) {
            // The result of a block: counted through its cases, unless none failed.
            let block = stack.pop().unwrap_or_else(|| unreachable!());
            let path: Vec<&str> = stack
                .iter()
                .map(|b| b.name.as_str())
                .chain([block.name.as_str()])
                .collect();
            let full = path.join(".");
            if (result == "fail" && block.failed_leaves == 0)
                || (block.leaves == 0 && result == "skip")
            {
                counted += 1;
                s.record("kunit", &full, result, || directive.to_string());
                add_leaf(&mut stack, result == "fail");
            } else if block.failed_leaves > 0 {
                add_leaf(&mut stack, true);
            }
            continue;
        }
        let mut full: Vec<&str> = stack.iter().map(|b| b.name.as_str()).collect();
        full.push(name);
        counted += 1;
        s.record("kunit", &full.join("."), result, || directive.to_string());
        add_leaf(&mut stack, result == "fail");
    }
    if counted == 0 {
        s.problem("kunit", format!("no KUnit results in {path}"));
    }
}

/// Counts a case in the innermost open block.
fn add_leaf(stack: &mut [Block], failed: bool) {
    if let Some(b) = stack.last_mut() {
        b.leaves += 1;
        if failed {
            b.failed_leaves += 1;
        }
    }
}

/// Adds up the `test result:` lines of `cargo test`.
fn cargo(s: &mut Summary, path: &str) {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return s.problem("cargo", format!("cannot read {path}: {e}")),
    };
    let (mut passed, mut failed, mut ignored, mut suites) = (0, 0, 0, 0);
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("test result: ") else {
            continue;
        };
        suites += 1;
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let n: usize = n.parse().unwrap_or(0);
            match what {
                "passed" => passed += n,
                "failed" => failed += n,
                "ignored" => ignored += n,
                _ => {}
            }
        }
    }
    let name = format!("{suites} suites");
    let result = if failed > 0
        || suites == 0
        || text.contains("error: test failed")
        || text.contains("error[E")
    {
        "fail"
    } else {
        "pass"
    };
    s.rows.push(Row {
        label: "cargo".into(),
        name,
        result: format!("{passed} passed, {failed} failed, {ignored} ignored"),
    });
    s.passed += passed;
    s.skipped += ignored;
    if result == "fail" {
        s.failed += failed.max(1);
        s.details.push(format!(
            "cargo test: {failed} failed, {suites} suites\n{}",
            tail(&text, 40)
        ));
    }
}

/// Kernel log lines that fail the run wherever they appear.
const KERNEL_BAD: &[&str] = &[
    "WARNING:",
    "BUG:",
    "kernel BUG",
    "Oops",
    "general protection fault",
    "KASAN",
    "UBSAN",
    "possible circular locking",
    "possible recursive locking",
    "inconsistent lock state",
    "suspicious RCU usage",
    "sleeping function called from invalid context",
    "lockdep is turned off",
    "Kernel panic",
    "blocked for more than",
    "refcount_t:",
    "list_add corruption",
    "list_del corruption",
];

fn kernel_log(s: &mut Summary, path: &str) {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return s.problem("kernel", format!("cannot read {path}: {e}")),
    };
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| KERNEL_BAD.iter().any(|p| l.contains(p)))
        .collect();
    let name = format!("log ({} lines)", text.lines().count());
    if bad.is_empty() {
        s.rows.push(Row {
            label: "kernel".into(),
            name,
            result: "clean".into(),
        });
    } else {
        s.record("kernel", &name, "fail", || {
            format!("{} bad lines:\n{}", bad.len(), tail(&bad.join("\n"), 40))
        });
    }
}

fn kmemleak(s: &mut Summary, path: &str) {
    match fs::read_to_string(path) {
        Ok(t) if t.contains("unreferenced object") => {
            s.record("kmemleak", "report", "fail", || tail(&t, 40))
        }
        Ok(_) => s.rows.push(Row {
            label: "kmemleak".into(),
            name: "report".into(),
            result: "clean".into(),
        }),
        Err(e) => s.problem("kmemleak", format!("cannot read {path}: {e}")),
    }
}

fn guest_failure(s: &mut Summary, path: &str) {
    match fs::read_to_string(path) {
        Ok(t) => s.record("guest", "driver load and unload", "fail", || {
            t.trim().to_string()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => s.rows.push(Row {
            label: "guest".into(),
            name: "driver load and unload".into(),
            result: "clean".into(),
        }),
        Err(e) => s.problem("guest", format!("cannot read {path}: {e}")),
    }
}

const USAGE: &str = "usage: igt-summary [LABEL=results.json ...] [--kunit DMESG] [--cargo LOG] \
                     [--kernel-log DMESG] [--kmemleak FILE] [--guest-failure FILE]";

fn main() -> ExitCode {
    let mut s = Summary::default();
    let mut args = std::env::args().skip(1);
    let mut any = false;
    while let Some(a) = args.next() {
        any = true;
        let handler: Option<fn(&mut Summary, &str)> = match a.as_str() {
            "--kunit" => Some(kunit),
            "--cargo" => Some(cargo),
            "--kernel-log" => Some(kernel_log),
            "--kmemleak" => Some(kmemleak),
            "--guest-failure" => Some(guest_failure),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => None,
        };
        match (handler, a.split_once('=')) {
            (Some(h), _) => match args.next() {
                Some(path) => h(&mut s, &path),
                None => {
                    eprintln!("igt-summary: {a} needs a file\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            (None, Some((label, path))) if !label.is_empty() && !label.starts_with('-') => {
                igt_results(&mut s, label, path)
            }
            _ => {
                eprintln!("igt-summary: bad argument {a}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if !any {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    s.print();
    if s.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printk_prefixes() {
        assert_eq!(strip_printk("[    8.376398]     ok 1 a"), "    ok 1 a");
        assert_eq!(strip_printk("<6> [6038.006182] [IGT] x"), "[IGT] x");
        assert_eq!(
            strip_printk("<6>[    1.0] KTAP version 1"),
            "KTAP version 1"
        );
        assert_eq!(strip_printk("plain"), "plain");
        assert_eq!(strip_printk("[not a time] x"), "[not a time] x");
    }

    #[test]
    fn ktap_lines() {
        assert_eq!(ktap_result("ok 1 a"), Some((true, "a", "")));
        assert_eq!(ktap_result("not ok 12 b c"), Some((false, "b c", "")));
        assert_eq!(
            ktap_result("ok 2 d # SKIP no hw"),
            Some((true, "d", "SKIP no hw"))
        );
        assert_eq!(ktap_result("ok 3 - e"), Some((true, "e", "")));
        assert_eq!(ktap_result("ok then"), None);
        assert_eq!(ktap_result("okay 1 x"), None);
    }

    #[test]
    fn tails() {
        assert_eq!(tail("a\nb\nc", 2), "[... 1 lines]\nb\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
