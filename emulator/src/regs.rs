// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Register file layout, as in `Documentation/device-spec.rst`.

/// `"GAUDIEMU"` as a little-endian `u64`.
pub const SIGNATURE_VALUE: u64 = u64::from_le_bytes(*b"GAUDIEMU");
/// Interface version 1.0.
pub const VERSION_VALUE: u32 = 1 << 16;
/// Device id of the Gaudi-class compute device.
pub const DEVICE_ID_VALUE: u32 = 1;
/// Silicon revision.
pub const REVISION_VALUE: u32 = 1;
/// Number of command queues.
pub const NUM_QUEUES_VALUE: u32 = 4;
/// Offset of device memory in the shared region.
pub const DRAM_OFFSET_VALUE: u64 = 1 << 20;

pub const SIGNATURE: usize = 0x000;
pub const VERSION: usize = 0x008;
pub const DOORBELL_PEER: usize = 0x00c;
pub const DEVICE_ID: usize = 0x010;
pub const REVISION: usize = 0x014;
pub const NUM_QUEUES: usize = 0x018;
pub const NUM_VECTORS: usize = 0x01c;
pub const DRAM_OFFSET: usize = 0x020;
pub const DRAM_SIZE: usize = 0x028;
pub const STATUS: usize = 0x030;
pub const INSTANCE: usize = 0x034;
pub const DOORBELL_COUNT: usize = 0x038;

pub const STATUS_READY: u32 = 1 << 0;

pub const SELFTEST_ADDR: usize = 0x100;
pub const SELFTEST_PATTERN: usize = 0x108;
pub const SELFTEST_CTRL: usize = 0x110;
pub const SELFTEST_STATUS: usize = 0x114;

pub const SELFTEST_CTRL_START: u32 = 1;
pub const SELFTEST_STATUS_BUSY: u32 = 1;
pub const SELFTEST_STATUS_DONE: u32 = 2;
pub const SELFTEST_STATUS_ERR_DMA: u32 = 3;

/// Size of the register file.
pub const REGS_SIZE: usize = 0x1000;

/// Control doorbell / interrupt vector.
pub const VECTOR_CONTROL: usize = 0;
