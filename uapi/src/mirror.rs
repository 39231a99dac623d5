// SPDX-License-Identifier: GPL-2.0 OR MIT

// The Rust mirror of `gaudi_accel.h`, the uapi of the gaudi accel driver: the types and
// constants, field by field. Shared by the userspace crate (`lib.rs`) and the kernel driver
// (`hw/gaudi/gaudi.rs`), so there is one mirror of the one header; `build.rs` checks every
// size, offset and constant of it against the C compiler's view of the header.
//
// Only `core` may be used here: the file is compiled in the kernel as well.

/// `DRM_COMMAND_BASE` from `drm.h`.
pub const DRM_COMMAND_BASE: u32 = 0x40;
/// `DRM_IOCTL_BASE` from `drm.h`.
pub const DRM_IOCTL_BASE: u32 = b'd' as u32;

/// `enum drm_gaudi_ioctl_id`: ioctl numbers relative to `DRM_COMMAND_BASE`.
pub const DRM_GAUDI_QUERY: u32 = 0;
/// `DRM_GAUDI_GEM_CREATE` of `enum drm_gaudi_ioctl_id`.
pub const DRM_GAUDI_GEM_CREATE: u32 = 1;
/// `DRM_GAUDI_GEM_INFO` of `enum drm_gaudi_ioctl_id`.
pub const DRM_GAUDI_GEM_INFO: u32 = 2;
/// `DRM_GAUDI_GEM_MMAP_OFFSET` of `enum drm_gaudi_ioctl_id`.
pub const DRM_GAUDI_GEM_MMAP_OFFSET: u32 = 3;

/// `enum drm_gaudi_query_type`.
pub const DRM_GAUDI_QUERY_DEVICE_INFO: u32 = 0;
/// `DRM_GAUDI_QUERY_MEMORY` of `enum drm_gaudi_query_type`: [`drm_gaudi_memory_info`].
pub const DRM_GAUDI_QUERY_MEMORY: u32 = 1;

/// `DRM_GAUDI_BO_WC`: CPU mappings of a system-memory object are write-combined.
pub const DRM_GAUDI_BO_WC: u32 = 1 << 0;
/// `DRM_GAUDI_BO_DEVICE`: the object lives in device-local memory.
pub const DRM_GAUDI_BO_DEVICE: u32 = 1 << 1;
/// `DRM_GAUDI_BO_IMPORTED`: reported by `DRM_IOCTL_GAUDI_GEM_INFO` for foreign imports.
pub const DRM_GAUDI_BO_IMPORTED: u32 = 1 << 31;
/// `DRM_GAUDI_BO_CREATE_FLAGS`: the flags `DRM_IOCTL_GAUDI_GEM_CREATE` accepts.
pub const DRM_GAUDI_BO_CREATE_FLAGS: u32 = DRM_GAUDI_BO_WC | DRM_GAUDI_BO_DEVICE;

/// Encodes an ioctl request number the way `asm-generic/ioctl.h` does.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

/// `_IOC_WRITE | _IOC_READ`.
pub const IOC_READ_WRITE: u32 = 3;

/// `DRM_IOWR(nr, T)`.
pub const fn drm_iowr<T>(nr: u32) -> u32 {
    ioc(
        IOC_READ_WRITE,
        DRM_IOCTL_BASE,
        nr,
        core::mem::size_of::<T>(),
    )
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

/// `struct drm_gaudi_memory_info`: memory accounting of the device.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_memory_info {
    pub dram_size: u64,
    pub dram_free: u64,
    pub bo_count: u64,
    pub bo_bytes: u64,
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

/// `struct drm_gaudi_gem_create`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_gem_create {
    pub size: u64,
    pub flags: u32,
    pub handle: u32,
}

/// `struct drm_gaudi_gem_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_gem_info {
    pub handle: u32,
    pub flags: u32,
    pub size: u64,
    pub pad: u64,
}

/// `struct drm_gaudi_gem_mmap_offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_gem_mmap_offset {
    pub handle: u32,
    pub flags: u32,
    pub offset: u64,
}

/// `DRM_IOCTL_GAUDI_QUERY`.
pub const DRM_IOCTL_GAUDI_QUERY: u32 =
    drm_iowr::<drm_gaudi_query>(DRM_COMMAND_BASE + DRM_GAUDI_QUERY);
/// `DRM_IOCTL_GAUDI_GEM_CREATE`.
pub const DRM_IOCTL_GAUDI_GEM_CREATE: u32 =
    drm_iowr::<drm_gaudi_gem_create>(DRM_COMMAND_BASE + DRM_GAUDI_GEM_CREATE);
/// `DRM_IOCTL_GAUDI_GEM_INFO`.
pub const DRM_IOCTL_GAUDI_GEM_INFO: u32 =
    drm_iowr::<drm_gaudi_gem_info>(DRM_COMMAND_BASE + DRM_GAUDI_GEM_INFO);
/// `DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET`.
pub const DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET: u32 =
    drm_iowr::<drm_gaudi_gem_mmap_offset>(DRM_COMMAND_BASE + DRM_GAUDI_GEM_MMAP_OFFSET);
