// SPDX-License-Identifier: GPL-2.0 OR MIT

//! IGT's test-binary protocol for Rust tests.
//!
//! A binary built with this crate behaves towards `igt_runner` like a C test built on IGT's
//! `lib/igt_core.c` (IGT 2.x), so both kinds run side by side in one run:
//!
//! * `--list-subtests` prints the subtest names, one per line (a binary without subtests
//!   exits 79 there, which tells the runner to run it as one test); `--show-testlist` and
//!   `--describe` work too;
//! * `--run-subtest EXPR` and `--dynamic-subtest EXPR` select what runs; `EXPR` is a
//!   comma-separated list of glob patterns where `!` excludes and the last matching pattern
//!   decides (see [`uwildmat`]). An expression that selects no subtest exits 79;
//! * each subtest prints `Starting subtest: NAME` and `Subtest NAME: SUCCESS|FAIL|SKIP
//!   (1.234s)` on stdout, dynamic subtests `Starting dynamic subtest: NAME` and `Dynamic
//!   subtest NAME: RESULT (1.234s)`; with `IGT_SENTINEL_ON_STDERR` set (as the runner sets it)
//!   these lines are repeated on stderr. Skip reasons go to stdout; stderr gets only failures,
//!   warnings and the log of a failed subtest, since anything there turns a pass into "warn";
//! * `<6>[IGT] BINARY: executing`, `starting subtest NAME`, `starting dynamic subtest NAME`,
//!   `finished subtest NAME, RESULT` and `exiting, ret=N` go to `/dev/kmsg`, which lets the
//!   runner charge kernel messages to the subtest that caused them;
//! * the exit status is 0 if a subtest passed and none failed, 77 ([`EXIT_SKIP`]) if all were
//!   skipped, 98 ([`EXIT_FAILURE`]) if one failed, 112 ([`EXIT_ABORT`]) after
//!   [`abort_on!`] and 79 ([`EXIT_INVALID`]) for a bad command line.
//!
//! Test bodies return [`Result`]: `Ok(())` passes, [`Outcome::Skip`] skips and
//! [`Outcome::Fail`] fails, usually through the macros [`assert!`], [`assert_eq!`],
//! [`assert_ne!`], [`require!`], [`skip!`] and [`fail!`], which produce IGT's messages
//! (`Test assertion failure function F, file X:Y:` ...). A panic fails only its own subtest.
//!
//! Log messages ([`info!`], [`debug!`], [`warn!`], [`critical!`]) follow `igt_log()`:
//! `--debug[=domain]` and `IGT_LOG_LEVEL` choose what is printed, and the last 255 messages
//! of a subtest are printed on stderr after `Subtest NAME failed.` when it fails.
//!
//! # Differences from IGT
//!
//! * IGT 2.x sends its output through the socket that `igt_runner` passes in
//!   `IGT_RUNNER_SOCKET_FD` when there is one. These binaries always print it, as IGT did
//!   before; the runner then parses `out.txt` and `err.txt`, as it does for any test that
//!   sends nothing on the socket, and records the same results.
//! * No `Stack trace:` after a failure and no `Using IGT_SRANDOM=...` line; log lines carry the
//!   `[sec.usec]` prefix of IGT 2.5 (`CLOCK_MONOTONIC_RAW`).
//! * A failure in the body of a subtest with dynamic subtests (outside them) fails the
//!   subtest; IGT aborts the binary there unless a dynamic subtest already failed.
//! * `--hook` is accepted and ignored, `--interactive-debug`, `--skip-crc-compare` and
//!   `--trace-on-oops` have no effect, and `--describe` knows no descriptions.
//! * A panic in a subtest fails it (IGT has no equivalent; a crash there kills the binary).
//!
//! # Examples
//!
//! The `main` of a test binary:
//!
//! ```no_run
//! igt::main(|t| {
//!     // Runs unless only listing; if it skips or fails, so do the subtests after it.
//!     let page = t.fixture(|| {
//!         // SAFETY: sysconf has no memory-safety requirements.
//!         let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
//!         igt::require!(page > 0, "no page size");
//!         Ok(page as usize)
//!     });
//!
//!     t.subtest("basic", || {
//!         igt::assert_eq!(1 + 1, 2);
//!         Ok(())
//!     });
//!
//!     t.subtest_with_dynamic("per-size", |d| {
//!         for pages in [1, 2, 4] {
//!             d.dynamic(&format!("pages-{pages}"), || {
//!                 let size = pages * page.unwrap();
//!                 igt::debug!("size {size}");
//!                 igt::assert!(size % 4096 == 0, "odd size {size}");
//!                 Ok(())
//!             });
//!         }
//!         Ok(())
//!     });
//! })
//! ```

use std::{
    cell::{Cell, RefCell},
    panic::{self, AssertUnwindSafe, Location},
    time::Instant,
};

pub mod expected;
mod log;
mod options;
mod wildmat;

#[doc(hidden)]
pub use log::__log;
pub use log::{ignore_dmesg_regex, kmsg, Level};
pub use wildmat::uwildmat;

use log::CORE;
use options::{Options, Stop};

/// Exit status: every subtest that ran passed (skips allowed).
pub const EXIT_SUCCESS: i32 = 0;
/// Exit status: everything was skipped.
pub const EXIT_SKIP: i32 = 77;
/// Exit status: invalid command line or no subtest matches `--run-subtest`.
pub const EXIT_INVALID: i32 = 79;
/// Exit status: a (sub)test failed.
pub const EXIT_FAILURE: i32 = 98;
/// Exit status: the test aborted; `igt_runner` stops the whole run.
pub const EXIT_ABORT: i32 = 112;

/// Why a test body did not pass.
///
/// The messages are complete IGT messages, possibly of several lines, without a final
/// newline. The macros of this crate build them; [`Outcome::fail`] and [`Outcome::skip`] do
/// it by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The test failed. Each line is logged at critical level on stderr.
    Fail(String),
    /// A requirement of the test is not met. The message is printed on stdout.
    Skip(String),
    /// The test hit a condition that makes further testing pointless (say, a wedged
    /// device): the binary exits at once with [`EXIT_ABORT`], and `igt_runner` stops.
    Abort {
        /// The kernel-log summary, `Abort in function F, file X:Y, CONDITION`.
        summary: String,
        /// The message, logged at critical level.
        message: String,
    },
}

impl Outcome {
    /// A failure with `message`, attributed to the caller's file and line.
    #[track_caller]
    pub fn fail(message: impl std::fmt::Display) -> Self {
        let loc = Location::caller();
        Outcome::Fail(format!(
            "Test assertion failure function ?, file {}:{}:\n{message}",
            loc.file(),
            loc.line()
        ))
    }

    /// A skip with `reason`.
    pub fn skip(reason: impl std::fmt::Display) -> Self {
        Outcome::Skip(reason.to_string())
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Fail(m) => write!(f, "FAIL: {m}"),
            Outcome::Skip(m) => write!(f, "SKIP: {m}"),
            Outcome::Abort { message, .. } => write!(f, "ABORT: {message}"),
        }
    }
}

impl std::error::Error for Outcome {}

/// What a test body returns; `T` is for fixtures that produce a value.
pub type Result<T = ()> = core::result::Result<T, Outcome>;

// ---------------------------------------------------------------------------------------
// Macros and their helpers.

/// Where a failure happened; built by the macros.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Here {
    pub file: &'static str,
    pub line: u32,
    pub function: &'static str,
}

/// The enclosing function's path without closures, from the type name of a nested item.
#[doc(hidden)]
pub fn __function_name(nested: &'static str) -> &'static str {
    let mut s = nested.strip_suffix("::__f").unwrap_or(nested);
    while let Some(t) = s.strip_suffix("::{{closure}}") {
        s = t;
    }
    s
}

#[doc(hidden)]
#[macro_export]
macro_rules! __here {
    () => {{
        fn __f() {}
        $crate::Here {
            file: ::core::file!(),
            line: ::core::line!(),
            function: $crate::__function_name(::core::any::type_name_of_val(&__f)),
        }
    }};
}

/// The current `errno`.
#[doc(hidden)]
pub fn __errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn clear_errno() {
    // SAFETY: __errno_location returns this thread's errno, valid for writes.
    unsafe { *libc::__errno_location() = 0 };
}

/// `Last errno: N, text` as IGT prints it, if `errno` is set.
fn errno_line(errno: i32) -> Option<String> {
    (errno != 0).then(|| {
        let text = std::io::Error::from_raw_os_error(errno).to_string();
        let text = match text.rfind(" (os error ") {
            Some(i) => &text[..i],
            None => &text,
        };
        format!("Last errno: {errno}, {text}")
    })
}

fn join(lines: impl IntoIterator<Item = Option<String>>) -> String {
    lines.into_iter().flatten().collect::<Vec<_>>().join("\n")
}

/// A failure as `__igt_fail_assert()` reports it.
#[doc(hidden)]
pub fn __failure(
    errno: i32,
    here: Here,
    assertion: Option<&str>,
    detail: Option<String>,
) -> Outcome {
    Outcome::Fail(join([
        Some(format!(
            "Test assertion failure function {}, file {}:{}:",
            here.function, here.file, here.line
        )),
        assertion.map(|a| format!("Failed assertion: {a}")),
        errno_line(errno),
        detail,
    ]))
}

/// A skip as `__igt_skip_check()` reports it.
#[doc(hidden)]
pub fn __requirement(errno: i32, here: Here, requirement: &str, detail: Option<String>) -> Outcome {
    Outcome::Skip(join([
        Some(format!(
            "Test requirement not met in function {}, file {}:{}:",
            here.function, here.file, here.line
        )),
        Some(format!("Test requirement: {requirement}")),
        detail,
        errno_line(errno),
    ]))
}

/// An abort as `__igt_abort()` reports it.
#[doc(hidden)]
pub fn __abort(errno: i32, here: Here, condition: &str, detail: Option<String>) -> Outcome {
    Outcome::Abort {
        summary: format!(
            "Abort in function {}, file {}:{}, {condition}",
            here.function, here.file, here.line
        ),
        message: join([
            Some(format!(
                "Test abort in function {}, file {}:{}:",
                here.function, here.file, here.line
            )),
            Some(format!("abort condition: {condition}")),
            errno_line(errno),
            detail,
        ]),
    }
}

/// A failure [`Outcome`] with a formatted message and the caller's location, for `?`:
///
/// ```
/// fn open() -> igt::Result<std::fs::File> {
///     std::fs::File::open("/nonexistent").map_err(|e| igt::fail!("open: {e}"))
/// }
/// assert!(matches!(open(), Err(igt::Outcome::Fail(_))));
/// ```
#[macro_export]
macro_rules! fail {
    ($($arg:tt)+) => {{
        let __errno = $crate::__errno();
        $crate::__failure(__errno, $crate::__here!(), ::core::option::Option::None,
            ::core::option::Option::Some(::std::format!($($arg)+)))
    }};
}

/// Fails the test (returns [`Outcome::Fail`]) unless the condition holds, as `igt_assert()`
/// and `igt_assert_f()`.
///
/// ```
/// fn check(n: u32) -> igt::Result {
///     igt::assert!(n % 2 == 0, "{n} is odd");
///     Ok(())
/// }
/// assert!(check(2).is_ok());
/// let igt::Outcome::Fail(msg) = check(3).unwrap_err() else { panic!() };
/// assert!(msg.contains("Failed assertion: n % 2 == 0"));
/// assert!(msg.ends_with("3 is odd"));
/// ```
#[macro_export]
macro_rules! assert {
    ($cond:expr $(,)?) => {
        if !$cond {
            let __errno = $crate::__errno();
            return ::core::result::Result::Err(::core::convert::From::from($crate::__failure(
                __errno, $crate::__here!(), ::core::option::Option::Some(::core::stringify!($cond)),
                ::core::option::Option::None,
            )));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            let __errno = $crate::__errno();
            return ::core::result::Result::Err(::core::convert::From::from($crate::__failure(
                __errno, $crate::__here!(), ::core::option::Option::Some(::core::stringify!($cond)),
                ::core::option::Option::Some(::std::format!($($arg)+)),
            )));
        }
    };
}

/// Fails the test unless both values are equal, as `igt_assert_eq()`; the message shows both
/// values with `{:?}`.
///
/// ```
/// fn check() -> igt::Result {
///     igt::assert_eq!(2 + 2, 5, "arithmetic");
///     Ok(())
/// }
/// let igt::Outcome::Fail(msg) = check().unwrap_err() else { panic!() };
/// assert!(msg.contains("Failed assertion: 2 + 2 == 5\n"));
/// assert!(msg.ends_with("error: 4 != 5\narithmetic"));
/// ```
#[macro_export]
macro_rules! assert_eq {
    ($a:expr, $b:expr $(,)?) => {
        $crate::__assert_cmp!(==, "!=", $a, $b, ::core::option::Option::None)
    };
    ($a:expr, $b:expr, $($arg:tt)+) => {
        $crate::__assert_cmp!(==, "!=", $a, $b, ::core::option::Option::Some(::std::format!($($arg)+)))
    };
}

/// Fails the test if both values are equal, as `igt_assert_neq()`.
#[macro_export]
macro_rules! assert_ne {
    ($a:expr, $b:expr $(,)?) => {
        $crate::__assert_cmp!(!=, "==", $a, $b, ::core::option::Option::None)
    };
    ($a:expr, $b:expr, $($arg:tt)+) => {
        $crate::__assert_cmp!(!=, "==", $a, $b, ::core::option::Option::Some(::std::format!($($arg)+)))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __assert_cmp {
    ($op:tt, $neg:literal, $a:expr, $b:expr, $detail:expr) => {
        match (&$a, &$b) {
            (__a, __b) => {
                if !(*__a $op *__b) {
                    let __errno = $crate::__errno();
                    let __values = ::std::format!("error: {:?} {} {:?}", __a, $neg, __b);
                    let __detail: ::core::option::Option<::std::string::String> = $detail;
                    return ::core::result::Result::Err(::core::convert::From::from($crate::__failure(
                        __errno,
                        $crate::__here!(),
                        ::core::option::Option::Some(::core::concat!(
                            ::core::stringify!($a), " ", ::core::stringify!($op), " ", ::core::stringify!($b)
                        )),
                        ::core::option::Option::Some(match __detail {
                            ::core::option::Option::Some(d) => ::std::format!("{}\n{}", __values, d),
                            ::core::option::Option::None => __values,
                        }),
                    )));
                }
            }
        }
    };
}

/// Skips the test (returns [`Outcome::Skip`]) with a formatted reason, as `igt_skip()`.
#[macro_export]
macro_rules! skip {
    ($($arg:tt)+) => {
        return ::core::result::Result::Err(::core::convert::From::from(
            $crate::Outcome::Skip(::std::format!($($arg)+))
        ))
    };
}

/// Skips the test unless the condition holds, as `igt_require()` and `igt_require_f()`.
///
/// ```
/// fn check(have: bool) -> igt::Result {
///     igt::require!(have, "feature missing");
///     Ok(())
/// }
/// let igt::Outcome::Skip(msg) = check(false).unwrap_err() else { panic!() };
/// assert!(msg.starts_with("Test requirement not met in function "));
/// assert!(msg.contains("\nTest requirement: have\nfeature missing"));
/// ```
#[macro_export]
macro_rules! require {
    ($cond:expr $(,)?) => {
        if !$cond {
            let __errno = $crate::__errno();
            return ::core::result::Result::Err(::core::convert::From::from($crate::__requirement(
                __errno, $crate::__here!(), ::core::stringify!($cond), ::core::option::Option::None,
            )));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            let __errno = $crate::__errno();
            return ::core::result::Result::Err(::core::convert::From::from($crate::__requirement(
                __errno, $crate::__here!(), ::core::stringify!($cond),
                ::core::option::Option::Some(::std::format!($($arg)+)),
            )));
        }
    };
}

/// Aborts the whole run if the condition holds, as `igt_abort_on_f()`: the binary exits with
/// [`EXIT_ABORT`] at once, and `igt_runner` runs no further test.
#[macro_export]
macro_rules! abort_on {
    ($cond:expr $(,)?) => {
        if $cond {
            let __errno = $crate::__errno();
            return ::core::result::Result::Err(::core::convert::From::from($crate::__abort(
                __errno, $crate::__here!(), ::core::stringify!($cond), ::core::option::Option::None,
            )));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if $cond {
            let __errno = $crate::__errno();
            return ::core::result::Result::Err(::core::convert::From::from($crate::__abort(
                __errno, $crate::__here!(), ::core::stringify!($cond),
                ::core::option::Option::Some(::std::format!($($arg)+)),
            )));
        }
    };
}

// ---------------------------------------------------------------------------------------
// Panics.

thread_local! {
    /// Set while a test body runs on this thread: its panics are reported as failures.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    /// File, line and message of the last guarded panic.
    static PANIC: RefCell<Option<(String, u32, String)>> = const { RefCell::new(None) };
}

fn install_panic_hook() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !GUARDED.with(Cell::get) {
            return default(info);
        }
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".into());
        let (file, line) = info
            .location()
            .map_or(("?".into(), 0), |l| (l.file().to_string(), l.line()));
        PANIC.with(|p| *p.borrow_mut() = Some((file, line, msg)));
    }));
}

/// Runs a test body; a panic becomes a failure.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let was = GUARDED.with(|g| g.replace(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    r.unwrap_or_else(|_| {
        let (file, line, msg) =
            PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or(("?".into(), 0, String::new()));
        Err(Outcome::Fail(format!(
            "Test assertion failure function <panic>, file {file}:{line}:\nPanicked: {msg}"
        )))
    })
}

// ---------------------------------------------------------------------------------------
// The protocol.

/// Whose log a failure prints: `_igt_log_buffer_dump()`'s header.
enum Scope<'a> {
    /// Fixture or test without subtests: `Test BINARY failed.`
    Test,
    Subtest(&'a str),
    Dynamic(&'a str),
    /// The body of a subtest with dynamic subtests: the log is dropped, not printed.
    Container,
}

/// `skip_subtests_henceforth`: what happens to subtests after a fixture skipped or failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Henceforth {
    Run,
    Skip,
    Fail,
}

/// A test binary with subtests, in progress; see [`main`].
pub struct Test {
    opts: Options,
    henceforth: Henceforth,
    found: bool,
    skipped_one: bool,
    succeeded_one: bool,
    failed_one: bool,
    exitcode: i32,
}

/// The dynamic subtests of one subtest; see [`Test::subtest_with_dynamic`].
pub struct Dynamic<'a> {
    test: &'a mut Test,
    executed: i32,
    failed: bool,
}

/// Base name of the running binary, as IGT's `igt_test_name()`.
pub fn test_name() -> String {
    log::with(|l| l.command.clone())
}

fn print_skip(msg: &str) {
    if msg.ends_with('\n') {
        log::print(msg);
    } else {
        log::print(&format!("{msg}\n"));
    }
}

fn log_critical(domain: Option<&str>, message: &str) {
    log::with(|l| {
        for line in message.lines() {
            l.log(domain, Level::Critical, &format!("{line}\n"));
        }
    });
}

/// `igt_fail()`'s log dump for `scope`.
fn dump(scope: &Scope<'_>) {
    log::with(|l| match scope {
        Scope::Container => l.reset(),
        Scope::Dynamic(name) => l.dump(&format!("Dynamic subtest {name} failed.")),
        Scope::Subtest(name) => l.dump(&format!("Subtest {name} failed.")),
        Scope::Test => {
            let header = format!("Test {} failed.", l.command);
            l.dump(&header)
        }
    });
}

/// Exits as `__igt_abort()`: kernel log, critical messages, log dump, status 112.
fn abort(scope: &Scope<'_>, summary: &str, message: &str) -> ! {
    let command = test_name();
    log::kmsg_raw(&format!(
        "<3>[IGT] {command}[{}]: {summary}\n",
        std::process::id()
    ));
    log_critical(None, message);
    dump(scope);
    exit(EXIT_ABORT)
}

fn exit(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// Subtest names may only have letters, digits, `-` and `_`.
fn valid_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Parses the command line and prepares the output, as IGT's `common_init()`; exits for
/// options that stop the binary.
fn init(with_subtests: bool) -> Options {
    let mut args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let argv0 = args.next().unwrap_or_default();
    let args: Vec<String> = args.collect();
    let command = test_name();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let (opts, stop) = options::parse(&argv0, &command, &args, &mut out, &mut err, &mut |o| {
        if !o.listing() {
            log::with(|l| l.log(CORE, Level::Info, &version_line()));
        }
    });
    log::with(|l| {
        if opts.debug {
            l.level = Level::Debug;
        }
        l.domain.clone_from(&opts.debug_domain);
        l.listing = opts.listing();
    });
    if opts.describe {
        // The test description, of which these binaries have none.
    }
    if !with_subtests {
        if let Some(run) = &opts.run {
            log::with(|l| l.log(CORE, Level::Warn, &format!("Unknown subtest: {run}\n")));
            exit(EXIT_INVALID);
        }
        if opts.show_testlist {
            log::print(&format!("igt@{command}\n"));
            exit(EXIT_SUCCESS);
        }
        if opts.list {
            exit(EXIT_INVALID);
        }
    }
    match stop {
        Some(Stop::Done) => exit(EXIT_SUCCESS),
        Some(Stop::Invalid) => exit(EXIT_INVALID),
        None => {}
    }
    if !opts.listing() {
        log::kmsg_raw(&format!("<6>[IGT] {command}: executing\n"));
        log::with(|l| l.log(CORE, Level::Info, &version_line()));
        // SAFETY: sync() has no arguments and cannot fail.
        unsafe { libc::sync() };
        // Let the OOM killer pick the test rather than the runner.
        let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    }
    install_panic_hook();
    opts
}

/// The `IGT-Version:` line: `IGT-Version: VERSION-rust (ARCH) (SYSNAME: RELEASE MACHINE)`.
fn version_line() -> String {
    // SAFETY: An all-zero utsname is a valid buffer for uname() to fill.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "IGT-Version: {}-rust ({}) ({}: {} {})\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

/// Runs a test binary with subtests, as IGT's `igt_main`: parses the command line, calls
/// `body` to declare (and, unless listing, run) the subtests, and exits with IGT's status.
///
/// Code in `body` outside [`Test::fixture`] and the subtests also runs when the binary only
/// lists its subtests, so it must not print, fail or touch the device.
pub fn main(body: impl FnOnce(&mut Test)) -> ! {
    let opts = init(true);
    let mut t = Test {
        opts,
        henceforth: Henceforth::Run,
        found: false,
        skipped_one: false,
        succeeded_one: false,
        failed_one: false,
        exitcode: EXIT_SUCCESS,
    };
    body(&mut t);
    t.exit()
}

/// Runs a test binary without subtests, as IGT's `igt_simple_main`: prints `SUCCESS (1.234s)`,
/// `SKIP (...)` or `FAIL (...)` at the end and exits 0, 77 or 98. `--list-subtests` exits 79,
/// which tells `igt_runner` that the binary is a single test.
pub fn simple_main(body: impl FnOnce() -> Result) -> ! {
    init(false);
    let start = Instant::now();
    clear_errno();
    let code = match guarded(body) {
        Ok(()) => EXIT_SUCCESS,
        Err(Outcome::Skip(msg)) => {
            print_skip(&msg);
            EXIT_SKIP
        }
        Err(Outcome::Fail(msg)) => {
            log_critical(None, &msg);
            dump(&Scope::Test);
            EXIT_FAILURE
        }
        Err(Outcome::Abort { summary, message }) => abort(&Scope::Test, &summary, &message),
    };
    let command = test_name();
    log::kmsg_raw(&format!("<6>[IGT] {command}: exiting, ret={code}\n"));
    log::with(|l| {
        l.log(
            CORE,
            Level::Debug,
            &format!("Exiting with status code {code}\n"),
        )
    });
    let result = match code {
        EXIT_SUCCESS => "SUCCESS",
        EXIT_SKIP => "SKIP",
        _ => "FAIL",
    };
    log::print(&format!(
        "{result} ({:.3}s)\n",
        start.elapsed().as_secs_f64()
    ));
    exit(code)
}

impl Test {
    /// Whether the binary only lists its subtests (`--list-subtests`, `--show-testlist`,
    /// `--describe`), as IGT's `igt_only_list_subtests()`.
    pub fn listing(&self) -> bool {
        self.opts.listing()
    }

    /// The `--device` filter, or `IGT_DEVICE` from the environment.
    pub fn device_filter(&self) -> Option<String> {
        self.opts
            .device
            .clone()
            .or_else(|| std::env::var("IGT_DEVICE").ok())
    }

    /// Runs fixture code, as IGT's `igt_fixture`, and returns its value.
    ///
    /// Nothing runs (and `None` is returned) while listing, or after an earlier fixture of
    /// the same [`group`](Self::group) skipped or failed. If `f` skips, the subtests after it
    /// in the group are reported as SKIP without running; if it fails (or panics), they are
    /// reported as FAIL. So a subtest after a fixture may unwrap the fixture's value.
    pub fn fixture<T>(&mut self, f: impl FnOnce() -> Result<T>) -> Option<T> {
        if self.listing() || self.henceforth != Henceforth::Run {
            return None;
        }
        match guarded(f) {
            Ok(v) => Some(v),
            Err(Outcome::Skip(msg)) => {
                print_skip(&msg);
                self.skipped_one = true;
                self.henceforth = Henceforth::Skip;
                None
            }
            Err(Outcome::Fail(msg)) => {
                log_critical(None, &msg);
                self.record_failure();
                dump(&Scope::Test);
                self.henceforth = Henceforth::Fail;
                None
            }
            Err(Outcome::Abort { summary, message }) => abort(&Scope::Test, &summary, &message),
        }
    }

    /// Runs `f` as a group of fixtures and subtests, as IGT's `igt_subtest_group`: a fixture
    /// that skips or fails inside the group affects only the subtests of the group.
    pub fn group(&mut self, f: impl FnOnce(&mut Test)) {
        let saved = self.henceforth;
        f(self);
        self.henceforth = saved;
    }

    /// Declares subtest `name` and runs `f` if the command line selects it.
    ///
    /// Names may only contain letters, digits, `-` and `_`; the binary exits on another one,
    /// as IGT does.
    #[track_caller]
    pub fn subtest(&mut self, name: &str, f: impl FnOnce() -> Result) {
        if !self.enter(name, Location::caller()) {
            return;
        }
        let start = Instant::now();
        let result = match guarded(f) {
            Ok(()) => {
                self.succeeded_one = true;
                "SUCCESS"
            }
            Err(e) => self.settle(e, &Scope::Subtest(name)),
        };
        self.leave("Subtest", name, result, start);
    }

    /// Declares subtest `name` whose body declares dynamic subtests through [`Dynamic`], as
    /// IGT's `igt_subtest_with_dynamic`.
    ///
    /// The subtest fails if a dynamic subtest failed, is skipped if none ran (or all were
    /// skipped), and passes otherwise. The body itself should only skip: a failure outside
    /// the dynamic subtests fails the subtest (where IGT would abort the binary).
    #[track_caller]
    pub fn subtest_with_dynamic(&mut self, name: &str, f: impl FnOnce(&mut Dynamic<'_>) -> Result) {
        if !self.enter(name, Location::caller()) {
            return;
        }
        let start = Instant::now();
        let mut d = Dynamic {
            test: self,
            executed: 0,
            failed: false,
        };
        let body = guarded(|| f(&mut d));
        let (executed, failed) = (d.executed, d.failed);
        let result = match body {
            Ok(()) if failed => {
                self.record_failure();
                dump(&Scope::Container);
                "FAIL"
            }
            Ok(()) if executed == 0 => {
                print_skip("No dynamic tests executed.\n");
                self.skipped_one = true;
                "SKIP"
            }
            Ok(()) => {
                self.succeeded_one = true;
                "SUCCESS"
            }
            Err(e) => self.settle(e, &Scope::Container),
        };
        self.leave("Subtest", name, result, start);
    }

    /// Records a failure: the first one sets the exit status.
    fn record_failure(&mut self) {
        if !self.failed_one {
            self.exitcode = EXIT_FAILURE;
        }
        self.failed_one = true;
    }

    /// Reports a skip or failure of a subtest body; returns the result word.
    fn settle(&mut self, outcome: Outcome, scope: &Scope<'_>) -> &'static str {
        match outcome {
            Outcome::Skip(msg) => {
                print_skip(&msg);
                self.skipped_one = true;
                "SKIP"
            }
            Outcome::Fail(msg) => {
                log_critical(None, &msg);
                self.record_failure();
                dump(scope);
                "FAIL"
            }
            Outcome::Abort { summary, message } => abort(scope, &summary, &message),
        }
    }

    /// `__igt_run_subtest()`: whether subtest `name` runs now; prints its start if so.
    fn enter(&mut self, name: &str, caller: &Location<'_>) -> bool {
        if !valid_name(name) {
            log::with(|l| {
                l.log(
                    CORE,
                    Level::Critical,
                    &format!("Invalid subtest name \"{name}\".\n"),
                )
            });
            self.exit();
        }
        if let Some(run) = &self.opts.run {
            if !uwildmat(name, run) {
                return false;
            }
            self.found = true;
        }
        if self.opts.describe {
            log::print(&format!(
                "SUB {name} {}:{}:\n  NO DOCUMENTATION!\n\n",
                caller.file(),
                caller.line()
            ));
            return false;
        }
        if self.opts.show_testlist {
            log::print(&format!("igt@{}@{name}\n", test_name()));
            return false;
        }
        if self.opts.list {
            log::print(&format!("{name}\n"));
            return false;
        }
        if self.henceforth != Henceforth::Run {
            let result = if self.henceforth == Henceforth::Skip {
                "SKIP"
            } else {
                "FAIL"
            };
            log::with(|l| l.result("Subtest", name, result, 0.0));
            return false;
        }
        log::kmsg_raw(&format!(
            "<6>[IGT] {}: starting subtest {name}\n",
            test_name()
        ));
        log::with(|l| {
            l.starting("subtest", name);
            l.reset();
        });
        clear_errno();
        true
    }

    /// `exit_subtest()`: prints the result of a (dynamic) subtest.
    fn leave(&mut self, kind: &str, name: &str, result: &str, start: Instant) {
        let secs = start.elapsed().as_secs_f64();
        log::with(|l| l.result(kind, name, result, secs));
        log::kmsg_raw(&format!(
            "<6>[IGT] {}: finished subtest {name}, {result}\n",
            test_name()
        ));
        if kind != "Subtest" {
            log::with(log::Log::reset);
        }
    }

    /// `igt_exit()` of a binary with subtests.
    fn exit(&mut self) -> ! {
        if let Some(run) = &self.opts.run {
            if !self.found {
                log::with(|l| l.log(CORE, Level::Critical, &format!("Unknown subtest: {run}\n")));
                exit(EXIT_INVALID);
            }
        }
        if self.listing() {
            exit(EXIT_SUCCESS);
        }
        if !(self.skipped_one || self.succeeded_one || self.failed_one) {
            // IGT asserts here: a binary with subtests must run one.
            eprintln!(
                "{}: igt_exit: Assertion `no subtest ran' failed.",
                test_name()
            );
            std::process::abort();
        }
        if !self.failed_one {
            self.exitcode = if self.succeeded_one {
                EXIT_SUCCESS
            } else {
                EXIT_SKIP
            };
        }
        let code = self.exitcode;
        log::kmsg_raw(&format!("<6>[IGT] {}: exiting, ret={code}\n", test_name()));
        log::with(|l| {
            l.log(
                CORE,
                Level::Debug,
                &format!("Exiting with status code {code}\n"),
            )
        });
        exit(code)
    }
}

impl Dynamic<'_> {
    /// Declares dynamic subtest `name` and runs `f` if `--dynamic-subtest` selects it, as
    /// IGT's `igt_dynamic`.
    pub fn dynamic(&mut self, name: &str, f: impl FnOnce() -> Result) {
        if !valid_name(name) {
            log::with(|l| {
                l.log(
                    CORE,
                    Level::Critical,
                    &format!("Invalid dynamic subtest name \"{name}\".\n"),
                )
            });
            self.test.exit();
        }
        if let Some(list) = &self.test.opts.dynamic {
            if !uwildmat(name, list) {
                return;
            }
        }
        log::kmsg_raw(&format!(
            "<6>[IGT] {}: starting dynamic subtest {name}\n",
            test_name()
        ));
        log::with(|l| {
            l.starting("dynamic subtest", name);
            l.reset();
        });
        self.executed += 1;
        clear_errno();
        let start = Instant::now();
        let result = match guarded(f) {
            Ok(()) => "SUCCESS",
            Err(Outcome::Skip(msg)) => {
                print_skip(&msg);
                // A skipped dynamic subtest does not count as run; but it is a skip.
                self.test.skipped_one = true;
                self.executed -= 1;
                "SKIP"
            }
            Err(Outcome::Fail(msg)) => {
                log_critical(None, &msg);
                self.failed = true;
                dump(&Scope::Dynamic(name));
                "FAIL"
            }
            Err(Outcome::Abort { summary, message }) => {
                abort(&Scope::Dynamic(name), &summary, &message)
            }
        };
        self.test.leave("Dynamic subtest", name, result, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        std::assert_eq!(
            __function_name("a::main::{{closure}}::{{closure}}::__f"),
            "a::main"
        );
        std::assert_eq!(__function_name("a::b::__f"), "a::b");
        let here = __here!();
        std::assert_eq!(here.function, "igt::tests::function_names");
        std::assert_eq!(here.file, file!());
    }

    #[test]
    fn errno_lines() {
        std::assert_eq!(errno_line(0), None);
        std::assert_eq!(
            errno_line(2).as_deref(),
            Some("Last errno: 2, No such file or directory")
        );
    }

    #[test]
    fn names() {
        std::assert!(valid_name("basic-test_2"));
        std::assert!(!valid_name("bad name"));
        std::assert!(!valid_name("bad@name"));
    }

    #[test]
    fn panics_become_failures() {
        install_panic_hook();
        let r: Result = guarded(|| panic!("boom {}", 1));
        let Err(Outcome::Fail(msg)) = r else {
            panic!("not a failure: {r:?}")
        };
        std::assert!(
            msg.starts_with("Test assertion failure function <panic>, file "),
            "{msg}"
        );
        std::assert!(msg.ends_with("\nPanicked: boom 1"), "{msg}");
    }
}
