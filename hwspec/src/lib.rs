// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Userspace crate of the device's programming interface.
//!
//! The interface itself is `hw.rs`, a dependency-free source file that the kernel driver
//! (`hw/gaudi/`), the emulator and the userspace library all compile, so that there is one
//! definition of every register, packet and instruction. `Documentation/device-spec.rst`
//! describes it; the tests of this crate check the two against each other.

#![no_std]

#[path = "hw.rs"]
mod hw;

pub use hw::*;
