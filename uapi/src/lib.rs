// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Rust mirror of `gaudi_accel.h`, the uapi of the gaudi accel driver.
//!
//! The types follow the header field by field; `build.rs` checks every size, offset and
//! constant against the C compiler's view of the header, so this crate does not build if the
//! two drift apart.

#![no_std]
#![allow(non_camel_case_types)]

/// `DRM_COMMAND_BASE` from `drm.h`.
pub const DRM_COMMAND_BASE: u32 = 0x40;
/// `DRM_IOCTL_BASE` from `drm.h`.
pub const DRM_IOCTL_BASE: u32 = b'd' as u32;

/// `enum drm_gaudi_ioctl_id`: ioctl numbers relative to `DRM_COMMAND_BASE`.
pub const DRM_GAUDI_QUERY: u32 = 0;

/// `enum drm_gaudi_query_type`.
pub const DRM_GAUDI_QUERY_DEVICE_INFO: u32 = 0;

/// Encodes an ioctl request number the way `asm-generic/ioctl.h` does.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

/// `_IOC_WRITE | _IOC_READ`.
pub const IOC_READ_WRITE: u32 = 3;

/// `DRM_IOWR(nr, T)`.
pub const fn drm_iowr<T>(nr: u32) -> u32 {
    ioc(IOC_READ_WRITE, DRM_IOCTL_BASE, nr, core::mem::size_of::<T>())
}

/// `struct drm_gaudi_device_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_device_info {
    pub device_id: u32,
    pub revision: u32,
    pub hw_version: u32,
    pub num_queues: u32,
    pub dram_size: u64,
    pub pci_vendor: u16,
    pub pci_device: u16,
    pub pci_bdf: u16,
    pub pad: u16,
    pub instance: u32,
    pub selftest_passed: u32,
}

/// `struct drm_gaudi_query`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_query {
    pub type_: u32,
    pub size: u32,
    pub pointer: u64,
    pub flags: u32,
    pub pad: u32,
}

/// `DRM_IOCTL_GAUDI_QUERY`.
pub const DRM_IOCTL_GAUDI_QUERY: u32 = drm_iowr::<drm_gaudi_query>(DRM_COMMAND_BASE + DRM_GAUDI_QUERY);

include!(concat!(env!("OUT_DIR"), "/layout.rs"));
