// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The transport of the device: QEMU's ivshmem-doorbell PCI function.
//!
//! The device's own registers, packets and page-table format are defined once, in
//! `hwspec/src/hw.rs` (the driver's `hw` module), shared with the emulator and userspace.
//! What is here belongs to the PCI function that carries the device.

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
