// SPDX-License-Identifier: GPL-2.0 OR MIT

//! `gaudi-emu`: the Gaudi-class accelerator behind QEMU's `ivshmem-doorbell` devices.
//!
//! The emulator is the ivshmem server of every device it serves: it hands QEMU the shared
//! region (register file and device memory) and the doorbell and interrupt eventfds, then
//! acts on doorbells by reading the register file and DMAing to guest RAM, which QEMU shares
//! with it through a file-backed memory backend. See `Documentation/device-spec.rst`.

pub mod device;
pub mod ivshmem;
pub mod mem;
pub mod regs;
pub mod server;
