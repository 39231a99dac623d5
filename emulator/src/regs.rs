// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Register file layout, as in `Documentation/device-spec.rst`.
//!
//! The register file sits at offset 0 of the shared region (the guest's BAR2). All registers
//! are little-endian; 64-bit registers are naturally aligned. [`REGISTERS`] lists them all;
//! a unit test checks it against the table in the spec.

/// `"GAUDIEMU"` as a little-endian `u64`.
pub const SIGNATURE_VALUE: u64 = u64::from_le_bytes(*b"GAUDIEMU");
/// Interface version 1.0 (`major << 16 | minor`).
pub const VERSION_VALUE: u32 = 1 << 16;
/// Device id of the Gaudi-class compute device.
pub const DEVICE_ID_VALUE: u32 = 1;
/// Silicon revision.
pub const REVISION_VALUE: u32 = 1;
/// Number of command queues.
pub const NUM_QUEUES_VALUE: u32 = 4;
/// Offset of device memory in the shared region.
pub const DRAM_OFFSET_VALUE: u64 = 1 << 20;

/// `"GAUDIEMU"`, RO, u64.
pub const SIGNATURE: usize = 0x000;
/// `major << 16 | minor`, RO, u32.
pub const VERSION: usize = 0x008;
/// ivshmem peer id of the device, the target of doorbells, RO, u32.
pub const DOORBELL_PEER: usize = 0x00c;
/// Device id, RO, u32.
pub const DEVICE_ID: usize = 0x010;
/// Silicon revision, RO, u32.
pub const REVISION: usize = 0x014;
/// Number of command queues, RO, u32.
pub const NUM_QUEUES: usize = 0x018;
/// Number of doorbell/MSI-X vectors, RO, u32.
pub const NUM_VECTORS: usize = 0x01c;
/// Offset of device memory in BAR2, RO, u64.
pub const DRAM_OFFSET: usize = 0x020;
/// Size of device memory, RO, u64.
pub const DRAM_SIZE: usize = 0x028;
/// Device status ([`STATUS_READY`], [`STATUS_ERROR`]), RO, u32.
pub const STATUS: usize = 0x030;
/// Index of the device in its emulator, RO, u32.
pub const INSTANCE: usize = 0x034;
/// Control doorbells handled (wraps), RO, u32.
pub const DOORBELL_COUNT: usize = 0x038;

/// `STATUS`: the device is ready.
pub const STATUS_READY: u32 = 1 << 0;
/// `STATUS`: the device is in error.
pub const STATUS_ERROR: u32 = 1 << 1;

/// DMA address of the self-test's 8-byte buffer, RW, u64.
pub const SELFTEST_ADDR: usize = 0x100;
/// Self-test pattern, RW, u64.
pub const SELFTEST_PATTERN: usize = 0x108;
/// Self-test control ([`SELFTEST_CTRL_START`]), RW, u32.
pub const SELFTEST_CTRL: usize = 0x110;
/// Self-test status (`SELFTEST_STATUS_*`), RW, u32.
pub const SELFTEST_STATUS: usize = 0x114;

/// `SELFTEST_CTRL`: the driver requests a self-test.
pub const SELFTEST_CTRL_START: u32 = 1;
/// `SELFTEST_STATUS`: no self-test ran.
pub const SELFTEST_STATUS_IDLE: u32 = 0;
/// `SELFTEST_STATUS`: the device took the request.
pub const SELFTEST_STATUS_BUSY: u32 = 1;
/// `SELFTEST_STATUS`: the device wrote the complement.
pub const SELFTEST_STATUS_DONE: u32 = 2;
/// `SELFTEST_STATUS`: the address is outside guest RAM.
pub const SELFTEST_STATUS_ERR_DMA: u32 = 3;

/// Size of the register file; device memory starts at [`DRAM_OFFSET_VALUE`].
pub const REGS_SIZE: usize = 0x1000;

/// Control doorbell and control-event interrupt vector.
pub const VECTOR_CONTROL: usize = 0;
/// Device-error interrupt vector (reserved).
pub const VECTOR_ERROR: usize = 1;

/// Every register: name as in the spec, offset, size in bytes.
pub const REGISTERS: &[(&str, usize, usize)] = &[
    ("SIGNATURE", SIGNATURE, 8),
    ("VERSION", VERSION, 4),
    ("DOORBELL_PEER", DOORBELL_PEER, 4),
    ("DEVICE_ID", DEVICE_ID, 4),
    ("REVISION", REVISION, 4),
    ("NUM_QUEUES", NUM_QUEUES, 4),
    ("NUM_VECTORS", NUM_VECTORS, 4),
    ("DRAM_OFFSET", DRAM_OFFSET, 8),
    ("DRAM_SIZE", DRAM_SIZE, 8),
    ("STATUS", STATUS, 4),
    ("INSTANCE", INSTANCE, 4),
    ("DOORBELL_COUNT", DOORBELL_COUNT, 4),
    ("SELFTEST_ADDR", SELFTEST_ADDR, 8),
    ("SELFTEST_PATTERN", SELFTEST_PATTERN, 8),
    ("SELFTEST_CTRL", SELFTEST_CTRL, 4),
    ("SELFTEST_STATUS", SELFTEST_STATUS, 4),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The register table of `Documentation/device-spec.rst`: rows such as
    /// `0x000   SIGNATURE           u64   RO. ...`.
    fn spec_registers() -> Vec<(String, usize, usize)> {
        let spec = include_str!("../../Documentation/device-spec.rst");
        let mut regs = Vec::new();
        for line in spec.lines() {
            let mut words = line.split_whitespace();
            let (Some(off), Some(name), Some(size)) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let Some(off) = off.strip_prefix("0x") else {
                continue;
            };
            let size = match size {
                "u32" => 4,
                "u64" => 8,
                _ => continue,
            };
            regs.push((
                name.to_string(),
                usize::from_str_radix(off, 16).unwrap(),
                size,
            ));
        }
        regs
    }

    #[test]
    fn layout_matches_spec() {
        let spec = spec_registers();
        assert!(spec.len() >= 16, "spec table not found: {spec:?}");
        let ours: Vec<_> = REGISTERS
            .iter()
            .map(|&(n, o, s)| (n.to_string(), o, s))
            .collect();
        assert_eq!(ours, spec);
    }

    #[test]
    fn layout_is_aligned_and_disjoint() {
        let mut end = 0;
        for &(name, off, size) in REGISTERS {
            assert_eq!(off % size, 0, "{name} is not naturally aligned");
            assert!(off >= end, "{name} overlaps the previous register");
            end = off + size;
        }
        assert!(end <= REGS_SIZE);
        assert!(REGS_SIZE as u64 <= DRAM_OFFSET_VALUE);
    }

    #[test]
    fn constants() {
        assert_eq!(SIGNATURE_VALUE, 0x554d_4549_4455_4147);
        assert_eq!(VERSION_VALUE >> 16, 1);
        assert_eq!(VERSION_VALUE & 0xffff, 0);
        assert_eq!(
            (STATUS_READY, STATUS_ERROR),
            (1, 2),
            "STATUS bit 0 is READY, bit 1 ERROR"
        );
        assert_eq!(
            [
                SELFTEST_STATUS_IDLE,
                SELFTEST_STATUS_BUSY,
                SELFTEST_STATUS_DONE,
                SELFTEST_STATUS_ERR_DMA
            ],
            [0, 1, 2, 3]
        );
    }
}
