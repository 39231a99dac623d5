// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Rust mirror of `gaudi_accel.h`, the uapi of the gaudi accel driver.
//!
//! The types follow the header field by field; `build.rs` checks every size, offset and
//! constant against the C compiler's view of the header, so this crate does not build if the
//! two drift apart. The kernel driver compiles the same mirror (`src/mirror.rs`), so this check
//! covers it too.

#![no_std]
#![allow(non_camel_case_types)]

include!("mirror.rs");

include!(concat!(env!("OUT_DIR"), "/layout.rs"));
