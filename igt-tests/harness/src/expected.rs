// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The expected-results manifest: what a test run must show.
//!
//! A line format, one entry a line; lines starting with `#` are comments, blank lines are
//! ignored (there are no comments at the end of a line: a message may hold a `#`). Keywords
//! start in the first column; the lines of a test are indented:
//!
//! ```text
//! nodes accel0 accel1                    the nodes igt_runner runs on; every test is
//!                                        expected on each of them
//! test BINARY upstream|ours              a test binary; the indented lines after it are:
//!   SUBTEST                              a subtest, as `--list-subtests` prints it
//!   SUBTEST@DYNAMIC                      a dynamic subtest of SUBTEST
//!   exclude GLOB -- REASON               subtests that igt_runner does not run (`-x`)
//! kunit SUITE CASES                      a KUnit suite and its number of cases
//! skip LABEL NAME -- REASON              a test that may skip: LABEL is a node, `*` (every
//!                                        node) or `kunit`; NAME is as the summary prints it
//!                                        (`igt@BINARY@SUBTEST`, `SUITE.CASE`) and may be a glob
//! kernel-error GLOB -- REASON            a kernel message at error level or worse that a
//!                                        run may show (GLOB matches the text after the level
//!                                        and time)
//! emulator GLOB -- REASON                a line the emulator's log may hold
//! ```
//!
//! A test without subtests runs as one test (`igt@BINARY`). Every allowance needs a reason.
//! Globs know `*` (any run of characters) and `?` (one character), nothing else, so that
//! kernel messages need no escaping.

use std::collections::BTreeSet;

/// Where a test binary comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// IGT's own tests, in the guest's `igt-gpu-tools-tests`.
    Upstream,
    /// This project's tests (Rust and C), built with it.
    Ours,
}

/// A pattern with the reason it is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    /// What it matches (a glob).
    pub pattern: String,
    /// Why.
    pub reason: String,
    /// Line of the manifest, for messages.
    pub line: usize,
}

/// A test binary and its subtests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binary {
    /// File name of the binary.
    pub name: String,
    /// Upstream or ours.
    pub origin: Origin,
    /// Subtests and dynamic subtests (`SUBTEST@DYNAMIC`), in the manifest's order.
    pub subtests: Vec<String>,
    /// Subtests that the runner does not run.
    pub excludes: Vec<Allowance>,
    /// Line of the manifest.
    pub line: usize,
}

impl Binary {
    /// The subtests proper, without dynamic subtests, as `--list-subtests` would print them
    /// (less the excluded ones).
    pub fn listed_subtests(&self) -> BTreeSet<&str> {
        self.subtests
            .iter()
            .map(|s| s.split_once('@').map_or(s.as_str(), |(p, _)| p))
            .collect()
    }

    /// Whether the runner skips `subtest` because of an `exclude`.
    pub fn excluded(&self, subtest: &str) -> Option<&Allowance> {
        self.excludes.iter().find(|e| glob(subtest, &e.pattern))
    }

    /// The names `igt_runner` records for this binary: `igt@BINARY` for a binary without
    /// subtests, else `igt@BINARY@SUBTEST` for every subtest and every dynamic subtest.
    pub fn result_names(&self) -> BTreeSet<String> {
        if self.subtests.is_empty() {
            return [format!("igt@{}", self.name)].into();
        }
        let mut names: BTreeSet<String> = self
            .subtests
            .iter()
            .map(|s| format!("igt@{}@{s}", self.name))
            .collect();
        names.extend(
            self.listed_subtests()
                .into_iter()
                .map(|s| format!("igt@{}@{s}", self.name)),
        );
        names
    }
}

/// A parsed manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// The nodes every test runs on.
    pub nodes: Vec<String>,
    /// The test binaries, in the manifest's order.
    pub binaries: Vec<Binary>,
    /// KUnit suites and their case counts, in the manifest's order.
    pub kunit: Vec<(String, usize)>,
    /// Allowed skips: (label pattern, allowance for the name).
    pub skips: Vec<(String, Allowance)>,
    /// Kernel messages at error level or worse that may occur.
    pub kernel_errors: Vec<Allowance>,
    /// Lines the emulator's log may hold.
    pub emulator: Vec<Allowance>,
}

/// Splits `PATTERN -- REASON`; both must be non-empty.
fn with_reason(rest: &str) -> Result<(String, String), String> {
    let (pattern, reason) = rest
        .split_once(" -- ")
        .ok_or("needs a reason: PATTERN -- REASON")?;
    let (pattern, reason) = (pattern.trim(), reason.trim());
    if pattern.is_empty() || reason.is_empty() {
        return Err("needs a pattern and a reason: PATTERN -- REASON".into());
    }
    Ok((pattern.to_string(), reason.to_string()))
}

/// A name of a binary, subtest, node or suite: no blanks, no `#`, not empty.
fn is_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '#')
}

impl Expected {
    /// Reads and parses the manifest at `path`.
    pub fn load(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        Self::parse(&text).map_err(|e| format!("{path}:{e}"))
    }

    /// Parses a manifest; an error says `LINE: what`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut m = Expected::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            m.parse_line(raw, line)
                .map_err(|e| format!("{line}: {e}"))?;
        }
        if m.nodes.is_empty() {
            return Err("0: no `nodes` line".into());
        }
        Ok(m)
    }

    fn parse_line(&mut self, raw: &str, line: usize) -> Result<(), String> {
        // Only whole lines are comments: kernel messages may hold a `#`.
        let text = raw.trim_end();
        if text.trim_start().is_empty() || text.trim_start().starts_with('#') {
            return Ok(());
        }
        let indented = text.starts_with(char::is_whitespace);
        let text = text.trim();
        let (keyword, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let rest = rest.trim();
        if indented {
            let Some(bin) = self.binaries.last_mut() else {
                return Err("an indented line outside a `test`".into());
            };
            if keyword == "exclude" && !rest.is_empty() {
                let (pattern, reason) = with_reason(rest)?;
                bin.excludes.push(Allowance {
                    pattern,
                    reason,
                    line,
                });
                return Ok(());
            }
            if !rest.is_empty() || !is_name(keyword) || keyword.matches('@').count() > 1 {
                return Err(format!("bad subtest `{text}`"));
            }
            if keyword.starts_with('@') || keyword.ends_with('@') {
                return Err(format!("bad dynamic subtest `{text}`"));
            }
            if bin.subtests.iter().any(|s| s == keyword) {
                return Err(format!("{} lists `{keyword}` twice", bin.name));
            }
            bin.subtests.push(keyword.to_string());
            return Ok(());
        }
        match keyword {
            "nodes" => {
                if !self.nodes.is_empty() {
                    return Err("a second `nodes` line".into());
                }
                self.nodes = rest.split_whitespace().map(str::to_string).collect();
                if self.nodes.is_empty() {
                    return Err("`nodes` needs at least one node".into());
                }
            }
            "test" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let origin = match words.as_slice() {
                    [_, "upstream"] => Origin::Upstream,
                    [_, "ours"] => Origin::Ours,
                    _ => return Err("usage: test BINARY upstream|ours".into()),
                };
                if !is_name(words[0]) || words[0].contains('@') {
                    return Err(format!("bad binary name `{}`", words[0]));
                }
                if self.binary(words[0]).is_some() {
                    return Err(format!("test {} listed twice", words[0]));
                }
                self.binaries.push(Binary {
                    name: words[0].to_string(),
                    origin,
                    subtests: Vec::new(),
                    excludes: Vec::new(),
                    line,
                });
            }
            "kunit" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let [suite, cases] = words.as_slice() else {
                    return Err("usage: kunit SUITE CASES".into());
                };
                let cases: usize = cases
                    .parse()
                    .map_err(|_| format!("bad case count `{cases}`"))?;
                if self.kunit.iter().any(|(s, _)| s == suite) {
                    return Err(format!("kunit suite {suite} listed twice"));
                }
                self.kunit.push((suite.to_string(), cases));
            }
            "skip" => {
                let (label, rest) = rest
                    .split_once(char::is_whitespace)
                    .ok_or("usage: skip LABEL NAME -- REASON")?;
                let (pattern, reason) = with_reason(rest)?;
                self.skips.push((
                    label.to_string(),
                    Allowance {
                        pattern,
                        reason,
                        line,
                    },
                ));
            }
            "kernel-error" | "emulator" => {
                let (pattern, reason) = with_reason(rest)?;
                let list = if keyword == "emulator" {
                    &mut self.emulator
                } else {
                    &mut self.kernel_errors
                };
                list.push(Allowance {
                    pattern,
                    reason,
                    line,
                });
            }
            _ => return Err(format!("unknown keyword `{keyword}`")),
        }
        Ok(())
    }

    /// The binary called `name`.
    pub fn binary(&self, name: &str) -> Option<&Binary> {
        self.binaries.iter().find(|b| b.name == name)
    }

    /// The allowance for a skip of `name` under `label` (a node or `kunit`).
    pub fn allowed_skip(&self, label: &str, name: &str) -> Option<&Allowance> {
        self.skips
            .iter()
            .find(|(l, a)| {
                (l == label || (l == "*" && self.nodes.iter().any(|n| n == label)))
                    && glob(name, &a.pattern)
            })
            .map(|(_, a)| a)
    }

    /// The allowance for a kernel message at error level or worse.
    pub fn allowed_kernel_error(&self, message: &str) -> Option<&Allowance> {
        self.kernel_errors
            .iter()
            .find(|a| glob(message, &a.pattern))
    }

    /// The allowance for a line of the emulator's log.
    pub fn allowed_emulator_line(&self, line: &str) -> Option<&Allowance> {
        self.emulator.iter().find(|a| glob(line, &a.pattern))
    }

    /// Every result name expected on a node.
    pub fn result_names(&self) -> BTreeSet<String> {
        self.binaries
            .iter()
            .flat_map(Binary::result_names)
            .collect()
    }
}

/// Whether `pattern` matches all of `text`: `*` matches any run of characters, `?` one
/// character, everything else itself.
pub fn glob(text: &str, pattern: &str) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = (text.chars().collect(), pattern.chars().collect());
    let (mut ti, mut pi) = (0, 0);
    // Where the last `*` was and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("abc", "abc"));
        assert!(!glob("abc", "ab"));
        assert!(glob("abc", "a*"));
        assert!(glob("abc", "*c"));
        assert!(glob("abc", "a?c"));
        assert!(glob("", "*"));
        assert!(!glob("", "?"));
        assert!(glob("wait-any-snapshot", "*snapshot"));
        assert!(!glob("snapshot-wait", "*snapshot"));
        assert!(glob("a [x] b, c", "a [x]*, c"));
        assert!(glob("aaab", "*a*b"));
        assert!(!glob("aaac", "*a*b"));
    }

    const SAMPLE: &str = "\
# a comment
nodes accel0 accel1

test core_getversion upstream
  basic
  all-cards
test syncobj_wait upstream
  wait-any
  exclude *snapshot -- races a helper thread
test gaudi_exec ours
  # a comment in a test
  dma-copy
  dma-copy@system-to-wc
test simple ours

kunit rust_drm_accel 3
skip * igt@gaudi_exec@dma-* -- no device memory
skip kunit rust_drm_accel.* -- kunit reason
kernel-error gaudi 0000:00:1?.0: self-test # 3 -- the reason
emulator gaudi-emu?: client attached * -- lifecycle
";

    #[test]
    fn parses() {
        let m = Expected::parse(SAMPLE).unwrap();
        assert_eq!(m.nodes, ["accel0", "accel1"]);
        assert_eq!(m.binaries.len(), 4);
        let w = m.binary("syncobj_wait").unwrap();
        assert_eq!(w.origin, Origin::Upstream);
        assert_eq!(w.subtests, ["wait-any"]);
        assert!(w.excluded("wait-all-snapshot").is_some());
        assert!(w.excluded("wait-any").is_none());
        let e = m.binary("gaudi_exec").unwrap();
        assert_eq!(e.origin, Origin::Ours);
        assert_eq!(e.listed_subtests(), ["dma-copy"].into());
        assert_eq!(
            e.result_names(),
            [
                "igt@gaudi_exec@dma-copy".to_string(),
                "igt@gaudi_exec@dma-copy@system-to-wc".to_string()
            ]
            .into()
        );
        assert_eq!(
            m.binary("simple").unwrap().result_names(),
            ["igt@simple".to_string()].into()
        );
        assert_eq!(m.kunit, [("rust_drm_accel".to_string(), 3)]);
        assert!(m
            .allowed_skip("accel1", "igt@gaudi_exec@dma-copy")
            .is_some());
        assert!(m.allowed_skip("kunit", "igt@gaudi_exec@dma-copy").is_none());
        assert!(m.allowed_skip("kunit", "rust_drm_accel.x").is_some());
        assert!(m.allowed_skip("accel0", "rust_drm_accel.x").is_none());
        assert_eq!(
            m.allowed_kernel_error("gaudi 0000:00:11.0: self-test # 3")
                .map(|a| a.reason.as_str()),
            Some("the reason")
        );
        assert!(m
            .allowed_emulator_line("gaudi-emu1: client attached (8 vectors)")
            .is_some());
        assert!(m.allowed_emulator_line("gaudi-emu1: accept: x").is_none());
    }

    #[test]
    fn rejects() {
        for (text, what) in [
            ("test a upstream\n", "no `nodes`"),
            ("nodes a\nnodes b\n", "a second `nodes`"),
            ("nodes a\n  sub\n", "indented line outside"),
            ("nodes a\ntest a\n", "usage: test"),
            ("nodes a\ntest a both\n", "usage: test"),
            ("nodes a\ntest a ours\ntest a ours\n", "listed twice"),
            ("nodes a\ntest a ours\n  s\n  s\n", "twice"),
            ("nodes a\ntest a ours\n  s t\n", "bad subtest"),
            ("nodes a\ntest a ours\n  s@\n", "bad dynamic"),
            ("nodes a\ntest a ours\n  exclude x\n", "needs a reason"),
            ("nodes a\nkunit s\n", "usage: kunit"),
            ("nodes a\nkunit s x\n", "bad case count"),
            ("nodes a\nskip a b\n", "needs a reason"),
            ("nodes a\nskip a b --  \n", "needs a reason"),
            ("nodes a\nkernel-error  -- why\n", "needs a"),
            ("nodes a\nemulator x -- \n", "needs a"),
            ("nodes a\nemulator  --  x\n", "needs a"),
            ("nodes a\nfrobnicate\n", "unknown keyword"),
        ] {
            let e = Expected::parse(text).unwrap_err();
            assert!(e.contains(what), "{text:?}: {e}");
        }
    }
}
