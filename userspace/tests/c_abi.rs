// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The C interface as C sees it: `include/gaudi/gaudi.h` against the library's declarations
//! (sizes, offsets, constants), and a C program built with the flags of `gaudi.pc` and linked
//! against `libgaudi.so`, which builds command buffers and kernels through the C functions.

use std::{
    mem::{offset_of, size_of},
    path::PathBuf,
    process::Command,
};

use gaudi::{capi::*, uapi};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory of the `libgaudi.so` built with this test: its `deps/` (cargo copies the
/// library up to the profile directory only for `cargo build`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().to_path_buf()
}

fn out_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn header_matches_the_library() {
    let dir = out_dir("abi-probe");
    let exe = dir.join("abi_probe");
    run(Command::new(cc())
        .args(["-std=c11", "-Wall", "-Werror", "-I"])
        .arg(manifest().join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(manifest().join("tests/c/abi_probe.c")));
    let c = run(&mut Command::new(&exe));
    use gaudi_hw::packet as p;
    let rust: Vec<(&str, u64)> = vec![
        ("sizeof gaudi_buffer", size_of::<gaudi_buffer>() as u64),
        (
            "offsetof gaudi_buffer.size",
            offset_of!(gaudi_buffer, size) as u64,
        ),
        (
            "offsetof gaudi_buffer.va",
            offset_of!(gaudi_buffer, va) as u64,
        ),
        (
            "offsetof gaudi_buffer.cpu",
            offset_of!(gaudi_buffer, cpu) as u64,
        ),
        (
            "sizeof gaudi_ctx_state",
            size_of::<gaudi_ctx_state>() as u64,
        ),
        (
            "offsetof gaudi_ctx_state.error",
            offset_of!(gaudi_ctx_state, error) as u64,
        ),
        (
            "offsetof gaudi_ctx_state.error_seqno",
            offset_of!(gaudi_ctx_state, error_seqno) as u64,
        ),
        (
            "offsetof gaudi_ctx_state.fault_addr",
            offset_of!(gaudi_ctx_state, fault_addr) as u64,
        ),
        (
            "offsetof gaudi_ctx_state.error_packet",
            offset_of!(gaudi_ctx_state, error_packet) as u64,
        ),
        (
            "offsetof gaudi_ctx_state.fault_access",
            offset_of!(gaudi_ctx_state, fault_access) as u64,
        ),
        (
            "offsetof gaudi_ctx_state.completed",
            offset_of!(gaudi_ctx_state, completed) as u64,
        ),
        ("sizeof gaudi_bo_use", size_of::<gaudi_bo_use>() as u64),
        (
            "offsetof gaudi_bo_use.flags",
            offset_of!(gaudi_bo_use, flags) as u64,
        ),
        ("sizeof gaudi_sync", size_of::<gaudi_sync>() as u64),
        (
            "offsetof gaudi_sync.flags",
            offset_of!(gaudi_sync, flags) as u64,
        ),
        (
            "offsetof gaudi_sync.point",
            offset_of!(gaudi_sync, point) as u64,
        ),
        ("sizeof gaudi_submit", size_of::<gaudi_submit>() as u64),
        (
            "offsetof gaudi_submit.cb_size",
            offset_of!(gaudi_submit, cb_size) as u64,
        ),
        (
            "offsetof gaudi_submit.cb_addr",
            offset_of!(gaudi_submit, cb_addr) as u64,
        ),
        (
            "offsetof gaudi_submit.bos",
            offset_of!(gaudi_submit, bos) as u64,
        ),
        (
            "offsetof gaudi_submit.bo_count",
            offset_of!(gaudi_submit, bo_count) as u64,
        ),
        (
            "offsetof gaudi_submit.in_sync_count",
            offset_of!(gaudi_submit, in_sync_count) as u64,
        ),
        (
            "offsetof gaudi_submit.in_syncs",
            offset_of!(gaudi_submit, in_syncs) as u64,
        ),
        (
            "offsetof gaudi_submit.out_sync_count",
            offset_of!(gaudi_submit, out_sync_count) as u64,
        ),
        (
            "offsetof gaudi_submit.out_syncs",
            offset_of!(gaudi_submit, out_syncs) as u64,
        ),
        ("sizeof gaudi_gemm", size_of::<gaudi_gemm>() as u64),
        ("offsetof gaudi_gemm.b", offset_of!(gaudi_gemm, b) as u64),
        ("offsetof gaudi_gemm.c", offset_of!(gaudi_gemm, c) as u64),
        (
            "offsetof gaudi_gemm.bias",
            offset_of!(gaudi_gemm, bias) as u64,
        ),
        ("offsetof gaudi_gemm.m", offset_of!(gaudi_gemm, m) as u64),
        ("offsetof gaudi_gemm.n", offset_of!(gaudi_gemm, n) as u64),
        ("offsetof gaudi_gemm.k", offset_of!(gaudi_gemm, k) as u64),
        (
            "offsetof gaudi_gemm.lda",
            offset_of!(gaudi_gemm, lda) as u64,
        ),
        (
            "offsetof gaudi_gemm.ldb",
            offset_of!(gaudi_gemm, ldb) as u64,
        ),
        (
            "offsetof gaudi_gemm.ldc",
            offset_of!(gaudi_gemm, ldc) as u64,
        ),
        (
            "offsetof gaudi_gemm.alpha",
            offset_of!(gaudi_gemm, alpha) as u64,
        ),
        (
            "offsetof gaudi_gemm.beta",
            offset_of!(gaudi_gemm, beta) as u64,
        ),
        (
            "offsetof gaudi_gemm.flags",
            offset_of!(gaudi_gemm, flags) as u64,
        ),
        (
            "sizeof gaudi_tpc_launch",
            size_of::<gaudi_tpc_launch>() as u64,
        ),
        (
            "offsetof gaudi_tpc_launch.code_size",
            offset_of!(gaudi_tpc_launch, code_size) as u64,
        ),
        (
            "offsetof gaudi_tpc_launch.grid",
            offset_of!(gaudi_tpc_launch, grid) as u64,
        ),
        (
            "offsetof gaudi_tpc_launch.args",
            offset_of!(gaudi_tpc_launch, args) as u64,
        ),
        ("const GAUDI_BO_WC", uapi::DRM_GAUDI_BO_WC.into()),
        ("const GAUDI_BO_DEVICE", uapi::DRM_GAUDI_BO_DEVICE.into()),
        (
            "const GAUDI_BO_IMPORTED",
            uapi::DRM_GAUDI_BO_IMPORTED.into(),
        ),
        ("const GAUDI_VA_START", uapi::DRM_GAUDI_VA_START),
        ("const GAUDI_VA_END", uapi::DRM_GAUDI_VA_END),
        ("const GAUDI_VM_PAGE_SIZE", uapi::DRM_GAUDI_VM_PAGE_SIZE),
        (
            "const GAUDI_VM_READONLY",
            uapi::DRM_GAUDI_VM_BIND_READONLY.into(),
        ),
        (
            "const GAUDI_BO_USE_READ",
            uapi::DRM_GAUDI_SUBMIT_BO_READ.into(),
        ),
        (
            "const GAUDI_BO_USE_WRITE",
            uapi::DRM_GAUDI_SUBMIT_BO_WRITE.into(),
        ),
        ("const GAUDI_ERR_NONE", uapi::DRM_GAUDI_ERR_NONE.into()),
        (
            "const GAUDI_ERR_BAD_OPCODE",
            uapi::DRM_GAUDI_ERR_BAD_OPCODE.into(),
        ),
        (
            "const GAUDI_ERR_BAD_PACKET",
            uapi::DRM_GAUDI_ERR_BAD_PACKET.into(),
        ),
        (
            "const GAUDI_ERR_MMU_FAULT",
            uapi::DRM_GAUDI_ERR_MMU_FAULT.into(),
        ),
        (
            "const GAUDI_ERR_NESTED_INDIRECT",
            uapi::DRM_GAUDI_ERR_NESTED_INDIRECT.into(),
        ),
        ("const GAUDI_ERR_BUS", uapi::DRM_GAUDI_ERR_BUS.into()),
        ("const GAUDI_ERR_TPC", uapi::DRM_GAUDI_ERR_TPC.into()),
        (
            "const GAUDI_ERR_TIMEOUT",
            uapi::DRM_GAUDI_ERR_TIMEOUT.into(),
        ),
        (
            "const GAUDI_ACCESS_READ",
            gaudi_hw::queue::ACCESS_READ.into(),
        ),
        (
            "const GAUDI_ACCESS_WRITE",
            gaudi_hw::queue::ACCESS_WRITE.into(),
        ),
        (
            "const GAUDI_SYNCOBJ_CREATE_SIGNALED",
            gaudi::syncobj::DRM_SYNCOBJ_CREATE_SIGNALED.into(),
        ),
        (
            "const GAUDI_SYNCOBJ_WAIT_ALL",
            gaudi::syncobj::DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL.into(),
        ),
        (
            "const GAUDI_SYNCOBJ_WAIT_FOR_SUBMIT",
            gaudi::syncobj::DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT.into(),
        ),
        ("const GAUDI_GEMM_TRANS_A", p::MME_TRANS_A.into()),
        ("const GAUDI_GEMM_TRANS_B", p::MME_TRANS_B.into()),
        ("const GAUDI_GEMM_BF16", p::MME_BF16.into()),
        ("const GAUDI_GEMM_BIAS", p::MME_BIAS.into()),
        ("const GAUDI_GEMM_RELU", p::MME_RELU.into()),
        ("const GAUDI_TPC_ARGS", p::TPC_ARGS as u64),
        (
            "const GAUDI_PRIORITY_LOW",
            uapi::DRM_GAUDI_PRIORITY_LOW.into(),
        ),
        (
            "const GAUDI_PRIORITY_NORMAL",
            uapi::DRM_GAUDI_PRIORITY_NORMAL.into(),
        ),
        (
            "const GAUDI_PRIORITY_HIGH",
            uapi::DRM_GAUDI_PRIORITY_HIGH.into(),
        ),
        ("const GAUDI_RT_TRANS_A", GAUDI_RT_TRANS_A.into()),
        ("const GAUDI_RT_TRANS_B", GAUDI_RT_TRANS_B.into()),
        ("const GAUDI_RT_RELU", GAUDI_RT_RELU.into()),
    ];
    let seen: Vec<(String, u64)> = c
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    assert_eq!(seen.len(), rust.len(), "the probe and the test list differ");
    for ((ck, cv), (rk, rv)) in seen.iter().zip(&rust) {
        assert_eq!(ck, rk);
        assert_eq!(cv, rv, "{ck}: C says {cv}, the library {rv}");
    }
}

/// Writes `gaudi.pc` for the build location the way the Makefile does.
fn pkg_config_dir() -> PathBuf {
    let dir = out_dir("pkgconfig");
    let pc = std::fs::read_to_string(manifest().join("gaudi.pc.in"))
        .unwrap()
        .replace("@libdir@", lib_dir().to_str().unwrap())
        .replace("@includedir@", manifest().join("include").to_str().unwrap())
        .replace("@version@", env!("CARGO_PKG_VERSION"));
    std::fs::write(dir.join("gaudi.pc"), pc).unwrap();
    dir
}

#[test]
fn c_program_links_through_pkg_config() {
    let so = lib_dir().join("libgaudi.so");
    assert!(so.exists(), "{} not built", so.display());
    let flags = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", pkg_config_dir())
        .args(["--cflags", "--libs", "gaudi"]));
    let exe = out_dir("abi-smoke").join("abi_smoke");
    run(Command::new(cc())
        .args(["-std=c11", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(manifest().join("tests/c/abi_smoke.c"))
        .args(flags.split_whitespace()));
    // The soname is libgaudi.so.0, as installed next to libgaudi.so by the Makefile.
    let soname = lib_dir().join("libgaudi.so.0");
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink("libgaudi.so", &soname).unwrap();
    assert_eq!(run(&mut Command::new(&exe)), "ok\n");
}
