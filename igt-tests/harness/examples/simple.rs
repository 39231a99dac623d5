// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A test binary without subtests, for the harness's own tests: `SIMPLE_RESULT=skip|fail|panic`
//! chooses how it ends (it passes by default).

fn main() {
    igt::simple_main(|| {
        match std::env::var("SIMPLE_RESULT").as_deref() {
            Ok("skip") => igt::skip!("simple skip"),
            Ok("fail") => igt::assert_ne!(1, 1),
            Ok("panic") => panic!("simple panic"),
            _ => {}
        }
        Ok(())
    })
}
