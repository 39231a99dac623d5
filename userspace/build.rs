// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Gives the C library (`libgaudi.so`) its soname, so that programs linked against it look
//! for `libgaudi.so.0` at run time.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgaudi.so.0");
    println!("cargo:rerun-if-changed=build.rs");
}
