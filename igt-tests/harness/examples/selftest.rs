// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A test binary whose subtests pass, fail, skip, warn, panic and abort, for the harness's own
//! tests. `SELFTEST_FIXTURE=skip|fail|panic` makes the first fixture skip, fail or panic.

fn main() {
    igt::main(|t| {
        let fixture = std::env::var("SELFTEST_FIXTURE").unwrap_or_default();
        let value = t.fixture(|| {
            match fixture.as_str() {
                "skip" => igt::skip!("fixture skipped"),
                "fail" => igt::assert!(fixture.is_empty(), "fixture failed"),
                "panic" => panic!("fixture panicked"),
                _ => {}
            }
            Ok(42)
        });
        t.subtest("pass-a", || {
            igt::assert_eq!(value, Some(42));
            igt::debug!("only in the log");
            Ok(())
        });
        t.subtest("pass-b", || {
            igt::info!("informational");
            Ok(())
        });
        t.subtest("skip", || {
            igt::require!(1 + 1 == 3, "arithmetic works");
            Ok(())
        });
        t.subtest("fail", || {
            igt::debug!("context for the failure");
            igt::assert!(1 + 1 == 3, "arithmetic");
            Ok(())
        });
        t.subtest("fail-eq", || {
            igt::assert_eq!(2 + 2, 5);
            Ok(())
        });
        t.subtest("panic", || panic!("boom"));
        t.subtest("warn", || {
            igt::warn!("a warning");
            Ok(())
        });
        t.subtest("abort", || {
            igt::abort_on!(value.is_some(), "device wedged");
            Ok(())
        });
        t.subtest_with_dynamic("dyn", |d| {
            d.dynamic("one", || Ok(()));
            d.dynamic("two", || igt::skip!("not here"));
            d.dynamic("three", || Err(igt::fail!("bad")));
            d.dynamic("four", || panic!("dynamic boom"));
            Ok(())
        });
        t.subtest_with_dynamic("dyn-pass", |d| {
            for size in [4096, 8192] {
                d.dynamic(&format!("size-{size}"), || {
                    igt::assert!(size % 4096 == 0);
                    Ok(())
                });
            }
            d.dynamic("size-0", || igt::skip!("zero"));
            Ok(())
        });
        t.subtest_with_dynamic("dyn-skip", |d| {
            igt::require!(value.is_none());
            d.dynamic("never", || Ok(()));
            Ok(())
        });
        t.group(|t| {
            t.fixture(|| -> igt::Result { igt::skip!("group fixture skipped") });
            t.subtest("grouped", || Ok(()));
        });
        t.subtest("after-group", || Ok(()));
    })
}
