// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Register layout of the Gaudi-class device.
//!
//! See `Documentation/device-spec.rst` for the meaning of every register.

/// ivshmem register BAR (BAR0): interrupt mask/status, peer id, doorbell.
pub(crate) const BAR_IVSHMEM: u32 = 0;
/// Size of the ivshmem register BAR.
pub(crate) const BAR_IVSHMEM_SIZE: usize = 0x100;
/// Guest's own ivshmem peer id (read-only).
pub(crate) const IVSHMEM_IVPOSITION: usize = 0x8;
/// Doorbell register: write `peer << 16 | vector`.
pub(crate) const IVSHMEM_DOORBELL: usize = 0xc;

/// Shared region (BAR2): register file followed by device memory.
pub(crate) const BAR_SHARED: u32 = 2;
/// Size of the register file; the device memory starts at or after it.
pub(crate) const REGS_SIZE: usize = 0x1000;

/// `"GAUDIEMU"` read as a little-endian `u64`.
pub(crate) const SIGNATURE_VALUE: u64 = u64::from_le_bytes(*b"GAUDIEMU");
/// Interface major version the driver implements.
pub(crate) const VERSION_MAJOR: u32 = 1;

pub(crate) const SIGNATURE: usize = 0x000;
pub(crate) const VERSION: usize = 0x008;
pub(crate) const DOORBELL_PEER: usize = 0x00c;
pub(crate) const DEVICE_ID: usize = 0x010;
pub(crate) const REVISION: usize = 0x014;
pub(crate) const NUM_QUEUES: usize = 0x018;
pub(crate) const NUM_VECTORS: usize = 0x01c;
pub(crate) const DRAM_OFFSET: usize = 0x020;
pub(crate) const DRAM_SIZE: usize = 0x028;
pub(crate) const STATUS: usize = 0x030;
pub(crate) const INSTANCE: usize = 0x034;

/// `STATUS`: the device is ready.
pub(crate) const STATUS_READY: u32 = 1 << 0;
/// `STATUS`: the device hit an error.
pub(crate) const STATUS_ERROR: u32 = 1 << 1;

pub(crate) const SELFTEST_ADDR: usize = 0x100;
pub(crate) const SELFTEST_PATTERN: usize = 0x108;
pub(crate) const SELFTEST_CTRL: usize = 0x110;
pub(crate) const SELFTEST_STATUS: usize = 0x114;

/// `SELFTEST_CTRL`: start the self-test.
pub(crate) const SELFTEST_CTRL_START: u32 = 1;
/// `SELFTEST_STATUS` values.
pub(crate) const SELFTEST_STATUS_IDLE: u32 = 0;
pub(crate) const SELFTEST_STATUS_DONE: u32 = 2;

/// Doorbell vector of the control blocks.
pub(crate) const DOORBELL_CONTROL: u32 = 0;
/// MSI-X vector of control events.
pub(crate) const MSIX_CONTROL: u32 = 0;
/// Number of MSI-X vectors the driver needs.
pub(crate) const MSIX_MIN_VECTORS: u32 = 1;
