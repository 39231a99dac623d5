// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Driver for Gaudi-class compute accelerators.
//!
//! The device is described in `Documentation/device-spec.rst`: an ivshmem-doorbell PCI
//! function whose shared region holds the register file and the device memory. The driver
//! registers each device as a DRM compute accelerator (`/dev/accel/accelN`) through
//! `kernel::drm::accel`.

mod driver;
mod file;
mod gem;
mod regs;

kernel::module_pci_driver! {
    type: driver::GaudiPciDriver,
    name: "gaudi",
    authors: ["The rust-accel developers"],
    description: "Gaudi-class compute accelerator driver",
    license: "GPL",
}
