// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The command line of an IGT test binary, parsed as `common_init()` in IGT's
//! `lib/igt_core.c` parses it with glibc's `getopt_long()`: long options may be abbreviated
//! to a unique prefix, values are given as `--opt=value` or as the next argument (optional
//! values only with `=`), arguments that are not options are ignored, and errors are reported
//! in glibc's words followed by the usage text on stderr.

use std::io::Write;

/// Whether an option takes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

/// IGT's standard long options, in the order of its option table (the order matters for the
/// list printed on an ambiguous abbreviation).
const LONG: &[(&str, Arg)] = &[
    ("list-subtests", Arg::None),
    ("show-testlist", Arg::None),
    ("describe", Arg::Optional),
    ("run-subtest", Arg::Required),
    ("dynamic-subtest", Arg::Required),
    ("help-description", Arg::None),
    ("debug", Arg::Optional),
    ("interactive-debug", Arg::Optional),
    ("skip-crc-compare", Arg::None),
    ("trace-on-oops", Arg::None),
    ("hook", Arg::Required),
    ("help-hook", Arg::None),
    ("device", Arg::Required),
    ("connector", Arg::Required),
    ("version", Arg::None),
    ("help", Arg::None),
];

/// The usage text of IGT 2.5, which `--help` prints on stdout and errors on stderr.
const USAGE_OPTIONS: &str = "  --list-subtests
  --show-testlist
  --run-subtest <pattern>
  --dynamic-subtest <pattern>
  --debug[=log-domain]
  --interactive-debug[=domain]
  --skip-crc-compare
  --trace-on-oops
  --hook [<events>:]<cmd>
  --help-hook
  --help-description
  --describe
  --device filters
  --connector <name>
  --version
  --help|-h
";

/// The usage text for the binary `command`.
pub(crate) fn usage(command: &str) -> String {
    format!("Usage: {command} [OPTIONS]\n{USAGE_OPTIONS}")
}

/// What the command line asks for.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// `--list-subtests` (ignored after `--run-subtest`).
    pub list: bool,
    /// `--show-testlist`.
    pub show_testlist: bool,
    /// `--describe[=pattern]`.
    pub describe: bool,
    /// `--run-subtest` pattern (ignored while listing).
    pub run: Option<String>,
    /// `--dynamic-subtest` pattern (ignored while listing).
    pub dynamic: Option<String>,
    /// `--debug`: print debug messages.
    pub debug: bool,
    /// `--debug=domain`: only print messages of that log domain.
    pub debug_domain: Option<String>,
    /// `--device` filter.
    pub device: Option<String>,
    /// `--connector` name.
    pub connector: Option<String>,
    /// `--hook` commands (accepted and not run).
    pub hooks: Vec<String>,
}

impl Options {
    /// `igt_only_list_subtests()`: nothing may run, only names are printed.
    pub fn listing(&self) -> bool {
        self.list || self.show_testlist
    }
}

/// An option that stops the binary once parsing ends, as `common_init()`'s `ret < 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `--help`, `--version`, `--help-description`, `--help-hook`: exit 0.
    Done,
    /// A command-line error: exit 79.
    Invalid,
}

/// Parses `args` (without the program name); `argv0` is the program name as invoked and
/// `command` its base name. Messages go to `out` and `err`. `version` prints the version
/// line for `--version`.
pub(crate) fn parse(
    argv0: &str,
    command: &str,
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
    version: &mut dyn FnMut(&Options),
) -> (Options, Option<Stop>) {
    let mut o = Options::default();
    let mut i = 0;
    let error = |err: &mut dyn Write, msg: String| {
        let _ = write!(err, "{argv0}: {msg}\n{}", usage(command));
        Some(Stop::Invalid)
    };
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if a == "--" {
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let found = match lookup(name) {
                Ok(f) => f,
                Err(candidates) if candidates.is_empty() => {
                    return (o, error(err, format!("unrecognized option '{a}'")));
                }
                Err(candidates) => {
                    let list: String = candidates.iter().map(|c| format!(" '--{c}'")).collect();
                    return (
                        o,
                        error(
                            err,
                            format!("option '{a}' is ambiguous; possibilities:{list}"),
                        ),
                    );
                }
            };
            let (long, kind) = LONG[found];
            let value = match (kind, inline) {
                (Arg::None, Some(_)) => {
                    return (
                        o,
                        error(err, format!("option '--{long}' doesn't allow an argument")),
                    );
                }
                (Arg::None, None) => None,
                (Arg::Optional, v) => v.map(str::to_string),
                (Arg::Required, Some(v)) => Some(v.to_string()),
                (Arg::Required, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.clone())
                    }
                    None => {
                        return (
                            o,
                            error(err, format!("option '--{long}' requires an argument")),
                        );
                    }
                },
            };
            if let Some(stop) = apply(&mut o, long, value, command, out, version) {
                return (o, Some(stop));
            }
        } else if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            // The only short option is -h, and it ends parsing.
            let c = shorts.chars().next().unwrap_or('h');
            if c != 'h' {
                return (o, error(err, format!("invalid option -- '{c}'")));
            }
            let _ = write!(out, "{}", usage(command));
            return (o, Some(Stop::Done));
        }
        // Anything else is left to the test, which ignores it.
    }
    (o, None)
}

/// Finds a long option by name or unique prefix; on failure, the candidates (none if the
/// name is unknown).
fn lookup(name: &str) -> Result<usize, Vec<&'static str>> {
    if let Some(i) = LONG.iter().position(|(l, _)| *l == name) {
        return Ok(i);
    }
    let candidates: Vec<usize> = if name.is_empty() {
        Vec::new()
    } else {
        (0..LONG.len())
            .filter(|i| LONG[*i].0.starts_with(name))
            .collect()
    };
    match candidates.as_slice() {
        [one] => Ok(*one),
        _ => Err(candidates.iter().map(|i| LONG[*i].0).collect()),
    }
}

/// Applies one option.
fn apply(
    o: &mut Options,
    long: &str,
    value: Option<String>,
    command: &str,
    out: &mut dyn Write,
    version: &mut dyn FnMut(&Options),
) -> Option<Stop> {
    match long {
        "list-subtests" => {
            if o.run.is_none() {
                o.list = true;
            }
        }
        "show-testlist" => o.show_testlist = true,
        "describe" => {
            if value.is_some() {
                o.run = value;
            }
            o.list = true;
            o.describe = true;
        }
        "run-subtest" => {
            if !o.listing() {
                o.run = value;
            }
        }
        "dynamic-subtest" => {
            if !o.listing() {
                o.dynamic = value;
            }
        }
        "debug" => {
            o.debug = true;
            if let Some(d) = value.filter(|d| !d.is_empty()) {
                o.debug_domain = Some(d);
            }
        }
        "device" => o.device = value,
        "connector" => o.connector = value,
        "hook" => o.hooks.extend(value),
        "interactive-debug" | "skip-crc-compare" | "trace-on-oops" => {}
        // These binaries have no description.
        "help-description" => return Some(Stop::Done),
        "help-hook" => {
            let _ = writeln!(
                out,
                "Hooks are not supported by this test binary; --hook is ignored."
            );
            return Some(Stop::Done);
        }
        "version" => {
            version(o);
            return Some(Stop::Done);
        }
        "help" => {
            let _ = write!(out, "{}", usage(command));
            return Some(Stop::Done);
        }
        _ => unreachable!("option table and handler disagree on --{long}"),
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (Options, Option<Stop>, String, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (o, stop) = parse("./t", "t", &args, &mut out, &mut err, &mut |_| {});
        (
            o,
            stop,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn values() {
        let (o, stop, _, _) = run(&["--run-subtest", "x", "--dynamic-subtest=y", "stray"]);
        assert_eq!(stop, None);
        assert_eq!(
            (o.run.as_deref(), o.dynamic.as_deref()),
            (Some("x"), Some("y"))
        );
        // A required value may look like an option.
        let (o, _, _, _) = run(&["--run-subtest", "--list-subtests"]);
        assert_eq!(o.run.as_deref(), Some("--list-subtests"));
        assert!(!o.list);
        let (o, _, _, _) = run(&["--debug", "x"]);
        assert!(o.debug && o.debug_domain.is_none());
        let (o, _, _, _) = run(&["--debug=core"]);
        assert_eq!(o.debug_domain.as_deref(), Some("core"));
        // Everything after `--` is left alone.
        let (o, stop, _, _) = run(&["--", "--bogus"]);
        assert!(stop.is_none() && o == Options::default());
    }

    #[test]
    fn order_of_list_and_run() {
        let (o, _, _, _) = run(&["--list-subtests", "--run-subtest", "x"]);
        assert!(o.list && o.run.is_none());
        let (o, _, _, _) = run(&["--run-subtest", "x", "--list-subtests"]);
        assert!(!o.list && o.run.is_some());
        let (o, _, _, _) = run(&["--describe=b*"]);
        assert!(o.list && o.describe && o.run.as_deref() == Some("b*"));
    }

    #[test]
    fn abbreviations() {
        assert!(run(&["--list"]).0.list);
        assert!(run(&["--run", "a"]).0.run.is_some());
        let (_, stop, _, err) = run(&["--d"]);
        assert_eq!(stop, Some(Stop::Invalid));
        assert!(err.starts_with(
            "./t: option '--d' is ambiguous; possibilities: '--describe' '--dynamic-subtest' '--debug' '--device'\nUsage: t [OPTIONS]\n"
        ));
        // An exact name wins over longer ones.
        assert_eq!(run(&["--help"]).1, Some(Stop::Done));
    }

    #[test]
    fn errors() {
        let (_, stop, out, err) = run(&["--bogus"]);
        assert_eq!(stop, Some(Stop::Invalid));
        assert!(out.is_empty());
        assert_eq!(
            err,
            format!("./t: unrecognized option '--bogus'\n{}", usage("t"))
        );
        let (_, _, _, err) = run(&["--run-subtest"]);
        assert!(err.starts_with("./t: option '--run-subtest' requires an argument\n"));
        let (_, _, _, err) = run(&["--list-subtests=3"]);
        assert!(err.starts_with("./t: option '--list-subtests' doesn't allow an argument\n"));
        let (_, stop, _, err) = run(&["-x"]);
        assert_eq!(stop, Some(Stop::Invalid));
        assert!(err.starts_with("./t: invalid option -- 'x'\n"));
    }

    #[test]
    fn help() {
        let (_, stop, out, err) = run(&["-h"]);
        assert_eq!(stop, Some(Stop::Done));
        assert!(out.starts_with("Usage: t [OPTIONS]\n  --list-subtests\n"));
        assert!(out.ends_with("  --version\n  --help|-h\n"));
        assert!(err.is_empty());
    }
}
