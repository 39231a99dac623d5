// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Driver for Gaudi-class compute accelerators.
//!
//! The device is described in `Documentation/device-spec.rst`: an ivshmem-doorbell PCI
//! function whose shared region holds the register file and the device memory. The driver
//! registers each device as a DRM compute accelerator (`/dev/accel/accelN`) through
//! `kernel::drm::accel`.

mod debugfs;
mod driver;
mod engine;
mod file;
mod fwctl;
mod gem;
mod health;
mod recovery;
mod regs;
mod submit;
mod usage;
mod vm;

/// The device's programming interface, shared with the emulator and userspace.
#[allow(dead_code, unreachable_pub)]
#[path = "../../hwspec/src/hw.rs"]
mod hw;

/// The driver's uapi, `uapi/gaudi_accel.h`, as Rust types and constants.
///
/// The header belongs to the driver, not to the kernel crate's uapi bindings. This is the
/// mirror that userspace uses too (the `gaudi-uapi` crate), whose build checks every size,
/// offset and ioctl number against the C compiler's view of the header; the ioctl table checks
/// the argument sizes against the ioctl numbers once more at compile time.
#[allow(dead_code, unreachable_pub, non_camel_case_types)]
#[path = "../../uapi/src/mirror.rs"]
mod uapi;

kernel::module_pci_driver! {
    type: driver::GaudiPciDriver,
    name: "gaudi",
    authors: ["The rust-accel developers"],
    description: "Gaudi-class compute accelerator driver",
    license: "GPL",
    imports_ns: ["FWCTL"],
}
