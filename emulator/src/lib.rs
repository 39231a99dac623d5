// SPDX-License-Identifier: GPL-2.0 OR MIT

//! `gaudi-emu`: the Gaudi-class accelerator behind QEMU's `ivshmem-doorbell` devices.
//!
//! The emulator is the ivshmem server of every device it serves: it hands QEMU the shared
//! region (register file and device memory) and the doorbell and interrupt eventfds, then
//! acts on doorbells: the control doorbell on the server's thread, each hardware queue on a
//! thread of its own that fetches packets and runs the engines (DMA, MME, TPC) on guest RAM,
//! which QEMU shares through a file-backed memory backend, and on device memory. The
//! programming interface is the `gaudi-hw` crate; `Documentation/device-spec.rst` specifies
//! it.

pub mod device;
pub mod engine;
pub mod fault;
pub mod health;
pub mod ivshmem;
pub mod mem;
pub mod mme;
pub mod mmu;
pub mod pgtable;
pub mod queue;
pub mod server;
pub mod tpc;

/// The device's programming interface (registers, packets, page tables, TPC ISA).
pub use gaudi_hw as hw;
