// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Output of a test binary, as IGT's `igt_vlog()`, `igt_kmsg()` and the subtest messages of
//! `lib/igt_core.c` produce it.
//!
//! Every log message is kept, formatted as `[sec.usec] (binary:pid) DOMAIN-LEVEL: text` with
//! the `CLOCK_MONOTONIC_RAW` time of IGT 2.5, in a ring of the last 255 messages; the ring is
//! emptied when a (dynamic) subtest starts and printed on stderr when one fails. Messages at
//! or above the log level are also printed: info on stdout as plain text, debug on stdout and
//! warnings and critical messages on stderr in the formatted form.

use std::{
    collections::VecDeque,
    fs::OpenOptions,
    io::{IsTerminal, Write},
    sync::{Mutex, MutexGuard, OnceLock},
};

/// Log domain of the messages of the harness itself, as `IGT_LOG_DOMAIN` in `igt_core.c`.
pub(crate) const CORE: Option<&str> = Some("igt_core");

/// Number of messages the ring keeps (IGT's 256 slots hold 255).
const RING: usize = 255;

/// Severity of a log message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Printed only with `--debug` or `IGT_LOG_LEVEL=debug`.
    Debug,
    /// Printed on stdout by default.
    Info,
    /// Printed on stderr: a passing (sub)test that warns is reported as "warn".
    Warn,
    /// Printed on stderr; failure messages.
    Critical,
    /// Only as a log level: print nothing.
    None,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARNING",
            Level::Critical => "CRITICAL",
            Level::None => "NONE",
        }
    }
}

/// Process-wide output state.
pub(crate) struct Log {
    /// Base name of the binary, `command_str` in IGT.
    pub command: String,
    /// Messages below this level are not printed.
    pub level: Level,
    /// `--debug=domain`: print only messages of this domain (`application` for the test's).
    pub domain: Option<String>,
    /// Only listing subtests: messages up to warnings are dropped.
    pub listing: bool,
    /// `IGT_SENTINEL_ON_STDERR`: subtest start and result lines also go to stderr.
    pub sentinel: bool,
    /// Result lines are not in bold (stdout is not a terminal, or `IGT_PLAIN_OUTPUT`).
    pub plain: bool,
    ring: VecDeque<String>,
}

fn state() -> MutexGuard<'static, Log> {
    static LOG: OnceLock<Mutex<Log>> = OnceLock::new();
    let m = LOG.get_or_init(|| Mutex::new(Log::from_env()));
    // A panic while logging leaves the state usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on the output state.
pub(crate) fn with<R>(f: impl FnOnce(&mut Log) -> R) -> R {
    f(&mut state())
}

impl Log {
    fn from_env() -> Self {
        let command = std::env::args_os()
            .next()
            .map(|a| {
                let a = a.to_string_lossy().into_owned();
                match a.rsplit_once('/') {
                    Some((_, base)) => base.to_string(),
                    None => a,
                }
            })
            .unwrap_or_default();
        let level = match std::env::var("IGT_LOG_LEVEL").as_deref() {
            Ok("debug") => Level::Debug,
            Ok("warn") => Level::Warn,
            Ok("none") => Level::None,
            _ => Level::Info,
        };
        Self {
            command,
            level,
            domain: None,
            listing: false,
            sentinel: std::env::var_os("IGT_SENTINEL_ON_STDERR").is_some(),
            plain: !std::io::stdout().is_terminal()
                || std::env::var_os("IGT_PLAIN_OUTPUT").is_some(),
            ring: VecDeque::new(),
        }
    }

    /// Logs `text` (which should end in a newline) at `level` in `domain` (`None` for the
    /// test's own messages).
    pub fn log(&mut self, domain: Option<&str>, level: Level, text: &str) {
        if self.listing && level <= Level::Warn {
            return;
        }
        let tid = gettid();
        let thread = if tid == std::process::id() as i32 {
            String::new()
        } else {
            format!("[thread:{tid}] ")
        };
        let (sec, usec) = monotonic_raw();
        let formatted = format!(
            "[{sec}.{usec:06}] ({}:{}) {thread}{}{}{}: {text}",
            self.command,
            std::process::id(),
            domain.unwrap_or(""),
            if domain.is_some() { "-" } else { "" },
            level.name()
        );
        if self.ring.len() == RING {
            self.ring.pop_front();
        }
        self.ring.push_back(formatted.clone());
        if level < self.level {
            return;
        }
        if let Some(filter) = &self.domain {
            match domain {
                None if filter != "application" => return,
                Some(d) if d != filter => return,
                _ => {}
            }
        }
        if level >= Level::Warn {
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().write_all(formatted.as_bytes());
        } else {
            let mut out = std::io::stdout().lock();
            let _ = if level == Level::Info {
                out.write_all(format!("{thread}{text}").as_bytes())
            } else {
                out.write_all(formatted.as_bytes())
            };
            let _ = out.flush();
        }
    }

    /// Empties the ring.
    pub fn reset(&mut self) {
        self.ring.clear();
    }

    /// Prints the ring on stderr after `header` (`Subtest X failed.` and so on) and empties
    /// it, as `_igt_log_buffer_dump()`.
    pub fn dump(&mut self, header: &str) {
        let mut s = format!("{header}\n");
        if self.ring.is_empty() {
            s.push_str("No log.\n");
        } else {
            s.push_str("**** DEBUG ****\n");
            for line in self.ring.drain(..) {
                s.push_str(&line);
            }
            s.push_str("****  END  ****\n");
        }
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(s.as_bytes());
    }

    /// Prints `Starting subtest: NAME` or `Starting dynamic subtest: NAME`.
    pub fn starting(&mut self, kind: &str, name: &str) {
        self.log(CORE, Level::Info, &format!("Starting {kind}: {name}\n"));
        if self.sentinel {
            let _ = std::io::stderr().write_all(format!("Starting {kind}: {name}\n").as_bytes());
        }
    }

    /// Prints `Subtest NAME: RESULT (1.234s)` or `Dynamic subtest NAME: RESULT (1.234s)`.
    pub fn result(&mut self, kind: &str, name: &str, result: &str, secs: f64) {
        let line = format!("{kind} {name}: {result} ({secs:.3}s)");
        {
            let mut out = std::io::stdout().lock();
            let _ = if self.plain {
                writeln!(out, "{line}")
            } else {
                writeln!(out, "\x1b[1m{line}\x1b[0m")
            };
            let _ = out.flush();
        }
        if self.sentinel {
            let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// Writes `text` on stdout, the way IGT prints skip reasons and plain lines.
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// `CLOCK_MONOTONIC_RAW` as seconds and microseconds, IGT's log clock.
fn monotonic_raw() -> (i64, i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the kernel to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut ts) };
    (ts.tv_sec, ts.tv_nsec / 1000)
}

fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// Writes `record` (with its `<level>` prefix) to `/dev/kmsg`, if that can be opened.
pub(crate) fn kmsg_raw(record: &str) {
    if let Ok(mut f) = OpenOptions::new().write(true).open("/dev/kmsg") {
        // One write is one kernel log record.
        let _ = f.write(record.as_bytes());
    }
}

/// Writes one line to the kernel log at info level, as IGT's `igt_kmsg(KMSG_INFO ...)`:
/// `<6>[IGT] ` followed by `msg` (a newline is added if missing). Nothing happens if
/// `/dev/kmsg` cannot be opened for writing.
///
/// IGT's own messages there start with the binary name (see [`crate::test_name`]).
///
/// ```no_run
/// igt::kmsg(&format!("{}: about to wedge queue 3", igt::test_name()));
/// ```
pub fn kmsg(msg: &str) {
    let nl = if msg.ends_with('\n') { "" } else { "\n" };
    kmsg_raw(&format!("<6>[IGT] {msg}{nl}"));
}

/// Asks `igt_runner` not to count kernel warnings matching the regular expression `regex`
/// against the test, as IGT's `igt_emit_ignore_dmesg_regex()`: writes
/// `<6>[IGT] add ignored dmesg regex: REGEX` to the kernel log.
pub fn ignore_dmesg_regex(regex: &str) {
    kmsg_raw(&format!("<6>[IGT] add ignored dmesg regex: {regex}\n"));
}

/// Logs a message of the test at `level`; used by [`crate::info!`] and friends.
#[doc(hidden)]
pub fn __log(level: Level, args: std::fmt::Arguments<'_>) {
    let mut text = args.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    with(|l| l.log(None, level, &text));
}

/// Logs an informational message (`igt_info()`): printed on stdout.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::__log($crate::Level::Info, ::core::format_args!($($arg)*)) };
}

/// Logs a debug message (`igt_debug()`): printed on stdout with `--debug`, otherwise only
/// kept for the log printed when the subtest fails.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::__log($crate::Level::Debug, ::core::format_args!($($arg)*)) };
}

/// Logs a warning (`igt_warn()`): printed on stderr, which turns a pass into "warn" in
/// `igt_runner`'s results.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::__log($crate::Level::Warn, ::core::format_args!($($arg)*)) };
}

/// Logs a critical message (`igt_critical()`): printed on stderr.
#[macro_export]
macro_rules! critical {
    ($($arg:tt)*) => { $crate::__log($crate::Level::Critical, ::core::format_args!($($arg)*)) };
}
