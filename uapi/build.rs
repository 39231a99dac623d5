// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Checks the Rust mirror against the C header at build time.
//!
//! Compiles and runs a small C program that prints `sizeof` and `offsetof` of every uapi
//! struct and field and the value of every ioctl number, as seen by the C compiler through
//! `gaudi_accel.h`, and turns them into `const` assertions included by `src/lib.rs`. A mirror
//! that drifts from the header fails to compile.

use std::{env, fs, path::PathBuf, process::Command};

/// (struct, fields) pairs to check.
const STRUCTS: &[(&str, &[&str])] = &[
    (
        "drm_gaudi_device_info",
        &[
            "device_id",
            "revision",
            "hw_version",
            "num_queues",
            "dram_size",
            "pci_vendor",
            "pci_device",
            "pci_bdf",
            "pad",
            "instance",
            "selftest_passed",
        ],
    ),
    (
        "drm_gaudi_memory_info",
        &["dram_size", "dram_free", "bo_count", "bo_bytes"],
    ),
    (
        "drm_gaudi_health",
        &[
            "temp_mc",
            "temp_crit_mc",
            "power_uw",
            "power_avg_uw",
            "power_cap_uw",
            "clock_mhz",
            "voltage_mv",
            "current_ma",
            "energy_uj",
            "busy_ns",
            "ecc_ce_count",
            "ecc_ue_count",
            "ecc_last_addr",
            "reset_count",
            "state",
            "num_queues",
            "engine_busy",
            "queue_status",
            "queue_busy_ns",
            "jobs_completed",
            "jobs_failed",
            "last_fault_code",
            "last_fault_queue",
            "last_fault_addr",
            "last_fault_packet",
        ],
    ),
    ("fwctl_info_gaudi", &["instance", "num_config"]),
    ("gaudi_fwctl_rpc_in", &["cmd", "key", "value", "flags"]),
    ("gaudi_fwctl_rpc_out", &["status", "len", "data"]),
    (
        "drm_gaudi_query",
        &["type", "size", "pointer", "flags", "pad"],
    ),
    ("drm_gaudi_gem_create", &["size", "flags", "handle"]),
    ("drm_gaudi_gem_info", &["handle", "flags", "size", "pad"]),
    ("drm_gaudi_gem_mmap_offset", &["handle", "flags", "offset"]),
    (
        "drm_gaudi_vm_bind",
        &["op", "flags", "handle", "pad", "bo_offset", "va", "size"],
    ),
    (
        "drm_gaudi_ctx_create",
        &["flags", "priority", "ctx_id", "pad"],
    ),
    ("drm_gaudi_ctx_destroy", &["ctx_id", "pad"]),
    ("drm_gaudi_submit_bo", &["handle", "flags"]),
    ("drm_gaudi_sync", &["handle", "flags", "point"]),
    (
        "drm_gaudi_submit",
        &[
            "ctx_id",
            "flags",
            "cb_addr",
            "cb_size",
            "bo_count",
            "bos",
            "in_sync_count",
            "out_sync_count",
            "in_syncs",
            "out_syncs",
            "seqno",
        ],
    ),
    (
        "drm_gaudi_ctx_query",
        &[
            "ctx_id",
            "flags",
            "state",
            "error",
            "error_seqno",
            "fault_addr",
            "error_packet",
            "fault_access",
            "queue",
            "completed",
        ],
    ),
];

/// Constants to check.
const CONSTS: &[&str] = &[
    "DRM_GAUDI_QUERY",
    "DRM_GAUDI_GEM_CREATE",
    "DRM_GAUDI_GEM_INFO",
    "DRM_GAUDI_GEM_MMAP_OFFSET",
    "DRM_GAUDI_VM_BIND",
    "DRM_GAUDI_CTX_CREATE",
    "DRM_GAUDI_CTX_DESTROY",
    "DRM_GAUDI_SUBMIT",
    "DRM_GAUDI_CTX_QUERY",
    "DRM_GAUDI_VA_START",
    "DRM_GAUDI_VA_END",
    "DRM_GAUDI_VM_PAGE_SIZE",
    "DRM_GAUDI_VM_BIND_OP_MAP",
    "DRM_GAUDI_VM_BIND_OP_UNMAP",
    "DRM_GAUDI_VM_BIND_READONLY",
    "DRM_GAUDI_PRIORITY_LOW",
    "DRM_GAUDI_PRIORITY_NORMAL",
    "DRM_GAUDI_PRIORITY_HIGH",
    "DRM_GAUDI_SUBMIT_BO_READ",
    "DRM_GAUDI_SUBMIT_BO_WRITE",
    "DRM_GAUDI_SUBMIT_MAX_BOS",
    "DRM_GAUDI_SUBMIT_MAX_SYNCS",
    "DRM_GAUDI_CTX_STATE_OK",
    "DRM_GAUDI_CTX_STATE_BANNED",
    "DRM_GAUDI_CTX_STATE_WEDGED",
    "DRM_GAUDI_ERR_NONE",
    "DRM_GAUDI_ERR_BAD_OPCODE",
    "DRM_GAUDI_ERR_BAD_PACKET",
    "DRM_GAUDI_ERR_MMU_FAULT",
    "DRM_GAUDI_ERR_NESTED_INDIRECT",
    "DRM_GAUDI_ERR_BUS",
    "DRM_GAUDI_ERR_TPC",
    "DRM_GAUDI_ERR_TIMEOUT",
    "DRM_GAUDI_ERR_WEDGED",
    "DRM_GAUDI_QUERY_DEVICE_INFO",
    "DRM_GAUDI_QUERY_MEMORY",
    "DRM_GAUDI_QUERY_HEALTH",
    "DRM_GAUDI_DEVICE_OK",
    "DRM_GAUDI_DEVICE_WEDGED",
    "DRM_GAUDI_HEALTH_QUEUES",
    "GAUDI_FWCTL_CMD_DIAG",
    "GAUDI_FWCTL_CMD_GET_CONFIG",
    "GAUDI_FWCTL_CMD_SET_CONFIG",
    "GAUDI_FWCTL_CFG_POWER_CAP",
    "GAUDI_FWCTL_CFG_CLOCK_MAX",
    "GAUDI_FWCTL_STATUS_OK",
    "GAUDI_FWCTL_STATUS_BAD_CMD",
    "GAUDI_FWCTL_STATUS_BAD_KEY",
    "GAUDI_FWCTL_STATUS_BAD_VALUE",
    "GAUDI_FWCTL_DATA_WORDS",
    "DRM_GAUDI_BO_WC",
    "DRM_GAUDI_BO_DEVICE",
    "DRM_GAUDI_BO_PEER",
    "DRM_GAUDI_BO_INVALIDATED",
    "DRM_GAUDI_BO_IMPORTED",
    "DRM_GAUDI_BO_CREATE_FLAGS",
    "DRM_COMMAND_BASE",
    "DRM_IOCTL_BASE",
    "DRM_IOCTL_GAUDI_QUERY",
    "DRM_IOCTL_GAUDI_GEM_CREATE",
    "DRM_IOCTL_GAUDI_GEM_INFO",
    "DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET",
    "DRM_IOCTL_GAUDI_VM_BIND",
    "DRM_IOCTL_GAUDI_CTX_CREATE",
    "DRM_IOCTL_GAUDI_CTX_DESTROY",
    "DRM_IOCTL_GAUDI_SUBMIT",
    "DRM_IOCTL_GAUDI_CTX_QUERY",
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let header = manifest.join("gaudi_accel.h");
    println!("cargo:rerun-if-changed={}", header.display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("gaudi_fwctl.h").display()
    );
    println!("cargo:rerun-if-changed=build.rs");

    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"gaudi_accel.h\"\n#include \"gaudi_fwctl.h\"\nint main(void)\n{\n",
    );
    for (s, fields) in STRUCTS {
        c += &format!("\tprintf(\"size {s} %zu\\n\", sizeof(struct {s}));\n");
        for f in *fields {
            c += &format!("\tprintf(\"offset {s} {f} %zu\\n\", offsetof(struct {s}, {f}));\n");
        }
    }
    for k in CONSTS {
        c += &format!("\tprintf(\"const {k} %llu\\n\", (unsigned long long){k});\n");
    }
    c += "\treturn 0;\n}\n";

    let src = out.join("layout.c");
    let exe = out.join("layout");
    fs::write(&src, c).unwrap();
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .arg("-I")
        .arg(&manifest)
        .args(["-I", "/usr/include/libdrm", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(status.success(), "compiling the layout probe failed");
    let output = Command::new(&exe)
        .output()
        .expect("running the layout probe");
    assert!(output.status.success());

    let mut rs = String::from("// Generated by build.rs from gaudi_accel.h.\n");
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w.as_slice() {
            ["size", s, n] => {
                rs += &format!("const _: () = assert!(core::mem::size_of::<{s}>() == {n});\n")
            }
            ["offset", s, f, n] => {
                let f = if *f == "type" { "type_" } else { f };
                rs += &format!("const _: () = assert!(core::mem::offset_of!({s}, {f}) == {n});\n")
            }
            ["const", k, v] => rs += &format!("const _: () = assert!({k} as u128 == {v});\n"),
            _ => panic!("unexpected probe output {line}"),
        }
    }
    fs::write(out.join("layout.rs"), rs).unwrap();
}
