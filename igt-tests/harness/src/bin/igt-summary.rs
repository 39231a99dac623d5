// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Summarises a test run: `igt_runner` results, KUnit, host cargo tests, the guest's record of
//! its steps, kernel and emulator logs, against the expected-results manifest.
//!
//! ```text
//! igt-summary [--expected MANIFEST] [LABEL=results.json ...] [--kunit DMESG] [--cargo LOG]
//!             [--kernel-log DMESG] [--kmemleak FILE] [--guest-failure FILE]
//!             [--guest-status FILE] [--emulator-log FILE]
//! ```
//!
//! Every option but `--expected` may be repeated. The output is a table with one line per test
//! (label, name, result), then the output of every test that did not pass, then a last line
//! `N passed, N failed, N skipped`. The exit status is 1 if anything failed, 2 for a bad
//! command line.
//!
//! * `--expected MANIFEST`: the expected-results manifest (see [`igt::expected`]). With it,
//!   every node, test binary, subtest and dynamic subtest it lists must be in the results of
//!   each node (`missing` otherwise; a binary that did not run at all is one `missing` line),
//!   and every result must be in it (`unexpected`); every KUnit suite it lists must be in the
//!   KUnit log with its number of cases (`missing`, `wrong-count`, `unexpected`); a skip fails
//!   (`skip-not-allowed`) unless the manifest allows it, with its reason; kernel messages at
//!   error level and emulator log lines are allowed only as it lists them. Without it, skips
//!   pass and nothing is allowed in the kernel and emulator logs.
//! * `LABEL=results.json`: a `results.json` of `igt_runner`/`igt_resume`, whose `tests` map
//!   names (`igt@binary`, `igt@binary@subtest`, `igt@binary@subtest@dynamic`) to objects with
//!   `result`, `out`, `err`, `dmesg`. `pass` passes and `skip` skips; every other result
//!   fails: `fail`, `crash`, `timeout`, `abort`, `incomplete`, `warn` (the test wrote to
//!   stderr), `dmesg-warn`/`dmesg-fail` (the kernel warned during the test), and also
//!   `notrun`, which the runner records for tests it never started (after an abort, or when
//!   the run was cut short), since a test that silently did not run is lost coverage. A
//!   subtest with dynamic subtests in the map counts through them, plus itself if it failed
//!   while none of them did. A missing, unreadable or empty results file is a failure.
//! * `--kunit DMESG`: KTAP output in a kernel log (printk levels and timestamps allowed). Each
//!   test case (`ok N name`, `not ok N name`, `# SKIP`), or parameter of a parameterised case,
//!   counts under the label `kunit`; a suite or case that failed without a failing case inside
//!   counts as one failure. A log without KUnit results is a failure.
//! * `--cargo LOG`: the output of `cargo test`, added up from its `test result:` lines (ignored
//!   tests count as skipped). A log without such a line, or with a failure, fails.
//! * `--kernel-log DMESG`: a kernel log as `dmesg -r` prints it, with the `<N>` level of each
//!   record. Fails if it has a warning, BUG, oops, KASAN, UBSAN, lockdep or hung-task report,
//!   a message at error level or worse (`<3>` and below) that the manifest does not allow, or
//!   no levels at all (then errors could not be told).
//! * `--kmemleak FILE`: fails if the kmemleak report lists an unreferenced object. An empty
//!   report means nothing unless `--guest-status` says that the scans ran.
//! * `--guest-failure FILE`: fails if FILE exists; the guest writes it when a step outside the
//!   tests fails (loading or unloading the driver, a missing node, the kmemleak scan).
//! * `--guest-status FILE`: the guest's record of its steps, `STEP RESULT` lines; fails unless
//!   it says `insmod ok`, `nodes` with the manifest's nodes (or `nodes-expected` of them
//!   without a manifest), `rmmod ok` and `kmemleak scanned` (kmemleak was active and both
//!   scans and the read of the report succeeded).
//! * `--emulator-log FILE`: the emulator's standard error. Fails on any line that the manifest
//!   does not allow, and unless the emulator said `gaudi-emu: stopped` (it stopped cleanly
//!   when asked to, rather than dying during the run).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    process::ExitCode,
};

use igt::expected::Expected;
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
    /// The manifest, if one was given.
    expected: Option<Expected>,
    /// The names in each results file, by label; `None` if the file could not be read.
    seen: BTreeMap<String, Option<BTreeSet<String>>>,
    /// The KUnit suites and their numbers of cases, once a KUnit log was read.
    kunit_suites: Option<BTreeMap<String, usize>>,
}

impl Summary {
    /// Counts a test with `result` (`pass`, `skip` or anything else, a failure).
    fn record(&mut self, label: &str, name: &str, result: &str, detail: impl FnOnce() -> String) {
        self.note(label, name, result);
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

    /// Counts the result of a test, under the manifest's rule for skips: with a manifest, a
    /// skip that it does not allow fails (`skip-not-allowed`).
    fn record_test(
        &mut self,
        label: &str,
        name: &str,
        result: &str,
        detail: impl FnOnce() -> String,
    ) {
        let allowed = match &self.expected {
            Some(m) if result == "skip" => m.allowed_skip(label, name).is_some(),
            _ => true,
        };
        if allowed {
            self.record(label, name, result, detail);
        } else {
            self.record(label, name, "skip-not-allowed", || {
                let d = detail();
                let sep = if d.is_empty() { "" } else { "\n" };
                format!("the manifest does not allow this test to skip{sep}{d}")
            });
        }
    }

    /// Counts a failure that is not a test (a missing file, a bad log).
    fn problem(&mut self, label: &str, what: String) {
        self.record(label, "-", "error", || what);
    }

    /// A line of the table that is not counted (a log that was clean).
    fn note(&mut self, label: &str, name: &str, result: &str) {
        self.rows.push(Row {
            label: label.into(),
            name: name.into(),
            result: result.into(),
        });
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
    s.seen.entry(label.to_string()).or_insert(None);
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
    s.seen
        .entry(label.to_string())
        .or_insert(None)
        .get_or_insert_with(BTreeSet::new)
        .extend(tests.keys().map(|k| k.to_string()));
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
        s.record_test(label, name, &result, || igt_detail(entry));
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
    /// Its results one level down: the cases of a suite, the parameters of a case.
    cases: usize,
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
    let mut suites = BTreeMap::new();
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
            if stack.is_empty() {
                suites.insert(name.trim().to_string(), 0);
            }
            stack.push(Block {
                indent,
                name: name.trim().to_string(),
                leaves: 0,
                failed_leaves: 0,
                cases: 0,
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
                s.record_test("kunit", &full, result, || directive.to_string());
                add_leaf(&mut stack, result == "fail");
            } else if block.failed_leaves > 0 {
                add_leaf(&mut stack, true);
            }
            count_case(&mut stack, &mut suites);
            continue;
        }
        let mut full: Vec<&str> = stack.iter().map(|b| b.name.as_str()).collect();
        full.push(name);
        counted += 1;
        s.record_test("kunit", &full.join("."), result, || directive.to_string());
        add_leaf(&mut stack, result == "fail");
        count_case(&mut stack, &mut suites);
    }
    if counted == 0 {
        s.problem("kunit", format!("no KUnit results in {path}"));
    }
    s.kunit_suites
        .get_or_insert_with(BTreeMap::new)
        .extend(suites);
}

/// Counts a result one level down in the innermost open block, and keeps the case count of
/// its suite.
fn count_case(stack: &mut [Block], suites: &mut BTreeMap<String, usize>) {
    if let Some(b) = stack.last_mut() {
        b.cases += 1;
    }
    if let [suite] = stack {
        suites.insert(suite.name.clone(), suite.cases);
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

/// The level of a kernel log line in `dmesg -r` form (`<N>` is the facility times 8 plus the
/// level), if it has one.
fn printk_level(line: &str) -> Option<u8> {
    let (n, _) = line.strip_prefix('<')?.split_once('>')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse::<u32>().ok().map(|n| (n & 7) as u8)
}

/// `KERN_ERR`: messages at this level or worse (lower) are judged.
const LEVEL_ERR: u8 = 3;

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
        s.note("kernel", &name, "clean");
    } else {
        s.record("kernel", &name, "fail", || {
            format!("{} bad lines:\n{}", bad.len(), tail(&bad.join("\n"), 40))
        });
    }

    // Messages at error level or worse. A line without a level continues the record before.
    let mut level = None;
    let mut leveled = 0;
    let mut errors = Vec::new();
    let mut allowed = BTreeMap::<usize, usize>::new();
    for line in text.lines() {
        if let Some(l) = printk_level(line) {
            level = Some(l);
            leveled += 1;
        }
        if !level.is_some_and(|l| l <= LEVEL_ERR) {
            continue;
        }
        let message = strip_printk(line);
        match s
            .expected
            .as_ref()
            .and_then(|m| m.allowed_kernel_error(message))
        {
            Some(a) => *allowed.entry(a.line).or_default() += 1,
            None => errors.push(line),
        }
    }
    let name = "messages at error level";
    if leveled == 0 {
        s.record("kernel", name, "fail", || {
            format!("{path} has no printk levels (save it with dmesg -r)")
        });
    } else if errors.is_empty() {
        let n: usize = allowed.values().sum();
        s.note("kernel", name, &format!("clean ({n} allowed)"));
    } else {
        s.record("kernel", name, "fail", || {
            format!(
                "{} lines at level <{LEVEL_ERR}> or worse that the manifest does not allow:\n{}",
                errors.len(),
                tail(&errors.join("\n"), 40)
            )
        });
    }
}

fn kmemleak(s: &mut Summary, path: &str) {
    match fs::read_to_string(path) {
        Ok(t) if t.contains("unreferenced object") => {
            s.record("kmemleak", "report", "fail", || tail(&t, 40))
        }
        Ok(_) => s.note("kmemleak", "report", "clean"),
        Err(e) => s.problem("kmemleak", format!("cannot read {path}: {e}")),
    }
}

fn guest_failure(s: &mut Summary, path: &str) {
    match fs::read_to_string(path) {
        Ok(t) => s.record("guest", "driver load and unload", "fail", || {
            t.trim().to_string()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            s.note("guest", "driver load and unload", "clean")
        }
        Err(e) => s.problem("guest", format!("cannot read {path}: {e}")),
    }
}

/// The guest's record of its steps: each step must have happened, with the right result.
fn guest_status(s: &mut Summary, path: &str) {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return s.problem("guest", format!("cannot read {path}: {e}")),
    };
    // What the guest recorded for each step (the last record of a step counts).
    let steps: BTreeMap<&str, &str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once(' ').map_or((l, ""), |(k, v)| (k, v.trim())))
        .collect();
    let sorted = |words: &str| {
        let mut v: Vec<&str> = words.split_whitespace().collect();
        v.sort_unstable();
        v.join(" ")
    };
    let want_nodes = match &s.expected {
        Some(m) => sorted(&m.nodes.join(" ")),
        None => match steps.get("nodes-expected").and_then(|n| n.parse().ok()) {
            Some(n) => sorted(
                &(0..n)
                    .map(|i: usize| format!("accel{i} "))
                    .collect::<String>(),
            ),
            None => "(nodes-expected missing)".into(),
        },
    };
    let checks = [
        ("insmod", "ok".to_string()),
        ("nodes", want_nodes),
        ("rmmod", "ok".to_string()),
        ("kmemleak", "scanned".to_string()),
    ];
    for (step, want) in checks {
        let got = steps.get(step).map(|v| sorted(v));
        let name = format!("{step} {want}");
        match got {
            Some(g) if g == want => s.note("guest", &name, "ok"),
            Some(g) => s.record("guest", &name, "fail", || {
                format!("the guest recorded `{step} {g}`")
            }),
            None => s.record("guest", &name, "fail", || {
                format!("the guest recorded no `{step}` step in {path}")
            }),
        }
    }
}

/// The emulator's log: only lines the manifest allows, and a clean stop at the end.
fn emulator_log(s: &mut Summary, path: &str) {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return s.problem("emulator", format!("cannot read {path}: {e}")),
    };
    let mut bad = Vec::new();
    let mut allowed = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match s
            .expected
            .as_ref()
            .and_then(|m| m.allowed_emulator_line(line))
        {
            Some(_) => allowed += 1,
            None => bad.push(line),
        }
    }
    let name = format!("log ({} lines)", text.lines().count());
    if !bad.is_empty() {
        s.record("emulator", &name, "fail", || {
            format!(
                "{} lines that the manifest does not allow:\n{}",
                bad.len(),
                tail(&bad.join("\n"), 40)
            )
        });
    } else {
        s.note("emulator", &name, &format!("clean ({allowed} allowed)"));
    }
    if text.lines().any(|l| l.trim() == "gaudi-emu: stopped") {
        s.note("emulator", "stopped cleanly", "ok");
    } else {
        s.record("emulator", "stopped cleanly", "fail", || {
            format!("no `gaudi-emu: stopped` in {path}: the emulator died or was killed")
        });
    }
}

/// Compares what the run showed with the manifest.
fn check_expected(s: &mut Summary) {
    let Some(m) = s.expected.take() else {
        return;
    };
    let all = m.result_names();
    let labels: Vec<String> = s.seen.keys().cloned().collect();
    for label in &labels {
        if !m.nodes.contains(label) {
            s.record(label, "-", "unexpected", || {
                format!("{label} is not a node of the manifest")
            });
        }
    }
    for node in &m.nodes {
        let seen = match s.seen.get(node) {
            Some(Some(seen)) => seen.clone(),
            got => {
                let why = if got.is_some() {
                    "its results could not be read"
                } else {
                    "no results were given for it"
                };
                s.record(node, "-", "missing", || {
                    format!("{} expected tests did not run: {why}", all.len())
                });
                continue;
            }
        };
        for b in &m.binaries {
            let want = b.result_names();
            let missing: Vec<&String> = want.difference(&seen).collect();
            if missing.len() == want.len() {
                s.record(node, &format!("igt@{}", b.name), "missing", || {
                    format!("the binary did not run: {} tests missing", want.len())
                });
                continue;
            }
            for name in missing {
                s.record(node, name, "missing", String::new);
            }
        }
        for name in seen.difference(&all) {
            if name == "igt@runner@aborted" {
                // Already a failure of its own.
                continue;
            }
            s.record(node, name, "unexpected", || {
                "not in the manifest: add it there".into()
            });
        }
    }
    match s.kunit_suites.take() {
        None if !m.kunit.is_empty() => s.problem(
            "kunit",
            "the manifest lists KUnit suites, but no KUnit log was given".into(),
        ),
        None => {}
        Some(suites) => {
            for (suite, want) in &m.kunit {
                match suites.get(suite) {
                    None => s.record("kunit", suite, "missing", String::new),
                    Some(got) if got != want => s.record("kunit", suite, "wrong-count", || {
                        format!("{got} cases, the manifest says {want}")
                    }),
                    Some(_) => {}
                }
            }
            for (suite, got) in &suites {
                if !m.kunit.iter().any(|(name, _)| name == suite) {
                    s.record("kunit", suite, "unexpected", || {
                        format!("{got} cases, not in the manifest: add it there")
                    });
                }
            }
        }
    }
    s.expected = Some(m);
}

const USAGE: &str = "usage: igt-summary [--expected MANIFEST] [LABEL=results.json ...] \
                     [--kunit DMESG] [--cargo LOG] [--kernel-log DMESG] [--kmemleak FILE] \
                     [--guest-failure FILE] [--guest-status FILE] [--emulator-log FILE]";

/// A file of the command line.
enum Input {
    /// `LABEL=results.json`.
    Results(String, String),
    /// A file for the handler of its option.
    File(fn(&mut Summary, &str), String),
}

fn main() -> ExitCode {
    let mut s = Summary::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    // The inputs, in order, read once the command line is known to be good.
    let mut inputs = Vec::new();
    let mut expected = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let handler: Option<fn(&mut Summary, &str)> = match a.as_str() {
            "--kunit" => Some(kunit),
            "--cargo" => Some(cargo),
            "--kernel-log" => Some(kernel_log),
            "--kmemleak" => Some(kmemleak),
            "--guest-failure" => Some(guest_failure),
            "--guest-status" => Some(guest_status),
            "--emulator-log" => Some(emulator_log),
            "--expected" => None,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => match a.split_once('=') {
                Some((label, path)) if !label.is_empty() && !label.starts_with('-') => {
                    inputs.push(Input::Results(label.to_string(), path.to_string()));
                    continue;
                }
                _ => {
                    eprintln!("igt-summary: bad argument {a}\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
        };
        let Some(path) = it.next() else {
            eprintln!("igt-summary: {a} needs a file\n{USAGE}");
            return ExitCode::from(2);
        };
        match handler {
            Some(h) => inputs.push(Input::File(h, path)),
            None if expected.is_some() => {
                eprintln!("igt-summary: --expected given twice\n{USAGE}");
                return ExitCode::from(2);
            }
            None => expected = Some(path),
        }
    }
    if let Some(path) = expected {
        match Expected::load(&path) {
            Ok(m) => s.expected = Some(m),
            Err(e) => s.problem("manifest", format!("bad manifest {e}")),
        }
    }
    for input in inputs {
        match input {
            Input::Results(label, path) => igt_results(&mut s, &label, &path),
            Input::File(handler, path) => handler(&mut s, &path),
        }
    }
    check_expected(&mut s);
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
