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
/// `DRM_GAUDI_VM_BIND` of `enum drm_gaudi_ioctl_id`.
pub const DRM_GAUDI_VM_BIND: u32 = 4;
/// `DRM_GAUDI_CTX_CREATE` of `enum drm_gaudi_ioctl_id`.
pub const DRM_GAUDI_CTX_CREATE: u32 = 5;
/// `DRM_GAUDI_CTX_DESTROY` of `enum drm_gaudi_ioctl_id`.
pub const DRM_GAUDI_CTX_DESTROY: u32 = 6;
/// `DRM_GAUDI_SUBMIT` of `enum drm_gaudi_ioctl_id`.
pub const DRM_GAUDI_SUBMIT: u32 = 7;
/// `DRM_GAUDI_CTX_QUERY` of `enum drm_gaudi_ioctl_id`.
pub const DRM_GAUDI_CTX_QUERY: u32 = 8;

/// `enum drm_gaudi_query_type`.
pub const DRM_GAUDI_QUERY_DEVICE_INFO: u32 = 0;
/// `DRM_GAUDI_QUERY_MEMORY` of `enum drm_gaudi_query_type`: [`drm_gaudi_memory_info`].
pub const DRM_GAUDI_QUERY_MEMORY: u32 = 1;
/// `DRM_GAUDI_QUERY_HEALTH` of `enum drm_gaudi_query_type`: [`drm_gaudi_health`].
pub const DRM_GAUDI_QUERY_HEALTH: u32 = 2;
/// `DRM_GAUDI_DEVICE_OK`: the device works.
pub const DRM_GAUDI_DEVICE_OK: u32 = 0;
/// `DRM_GAUDI_DEVICE_WEDGED`: the device is wedged.
pub const DRM_GAUDI_DEVICE_WEDGED: u32 = 1;
/// `DRM_GAUDI_HEALTH_QUEUES`: queues that [`drm_gaudi_health`] describes at most.
pub const DRM_GAUDI_HEALTH_QUEUES: u32 = 8;

/// `DRM_GAUDI_BO_WC`: CPU mappings of a system-memory object are write-combined.
pub const DRM_GAUDI_BO_WC: u32 = 1 << 0;
/// `DRM_GAUDI_BO_DEVICE`: the object lives in device-local memory.
pub const DRM_GAUDI_BO_DEVICE: u32 = 1 << 1;
/// `DRM_GAUDI_BO_PEER`: reported by `DRM_IOCTL_GAUDI_GEM_INFO` for peer-to-peer imports of
/// another device's memory.
pub const DRM_GAUDI_BO_PEER: u32 = 1 << 8;
/// `DRM_GAUDI_BO_INVALIDATED`: a peer-to-peer import whose mapping the exporter invalidated.
pub const DRM_GAUDI_BO_INVALIDATED: u32 = 1 << 9;
/// `DRM_GAUDI_BO_IMPORTED`: reported by `DRM_IOCTL_GAUDI_GEM_INFO` for foreign imports.
pub const DRM_GAUDI_BO_IMPORTED: u32 = 1 << 31;
/// `DRM_GAUDI_BO_CREATE_FLAGS`: the flags `DRM_IOCTL_GAUDI_GEM_CREATE` accepts.
pub const DRM_GAUDI_BO_CREATE_FLAGS: u32 = DRM_GAUDI_BO_WC | DRM_GAUDI_BO_DEVICE;

/// `DRM_GAUDI_VA_START`: lowest address of a client VM.
pub const DRM_GAUDI_VA_START: u64 = 0x100000;
/// `DRM_GAUDI_VA_END`: end (exclusive) of a client VM.
pub const DRM_GAUDI_VA_END: u64 = 1 << 47;
/// `DRM_GAUDI_VM_PAGE_SIZE`: alignment of VM_BIND addresses, offsets and sizes.
pub const DRM_GAUDI_VM_PAGE_SIZE: u64 = 4096;
/// `DRM_GAUDI_VM_BIND_OP_MAP`.
pub const DRM_GAUDI_VM_BIND_OP_MAP: u32 = 0;
/// `DRM_GAUDI_VM_BIND_OP_UNMAP`.
pub const DRM_GAUDI_VM_BIND_OP_UNMAP: u32 = 1;
/// `DRM_GAUDI_VM_BIND_READONLY`: the device may only read the mapping.
pub const DRM_GAUDI_VM_BIND_READONLY: u32 = 1 << 0;
/// `enum drm_gaudi_priority`: background work.
pub const DRM_GAUDI_PRIORITY_LOW: u32 = 0;
/// `DRM_GAUDI_PRIORITY_NORMAL`: the default.
pub const DRM_GAUDI_PRIORITY_NORMAL: u32 = 1;
/// `DRM_GAUDI_PRIORITY_HIGH`: latency-sensitive work.
pub const DRM_GAUDI_PRIORITY_HIGH: u32 = 2;
/// `DRM_GAUDI_SUBMIT_BO_READ`.
pub const DRM_GAUDI_SUBMIT_BO_READ: u32 = 1 << 0;
/// `DRM_GAUDI_SUBMIT_BO_WRITE`.
pub const DRM_GAUDI_SUBMIT_BO_WRITE: u32 = 1 << 1;
/// `DRM_GAUDI_SUBMIT_MAX_BOS`.
pub const DRM_GAUDI_SUBMIT_MAX_BOS: u32 = 4096;
/// `DRM_GAUDI_SUBMIT_MAX_SYNCS`.
pub const DRM_GAUDI_SUBMIT_MAX_SYNCS: u32 = 256;
/// `enum drm_gaudi_ctx_state`: the context accepts jobs.
pub const DRM_GAUDI_CTX_STATE_OK: u32 = 0;
/// `DRM_GAUDI_CTX_STATE_BANNED`: a job failed; submits are refused.
pub const DRM_GAUDI_CTX_STATE_BANNED: u32 = 1;
/// `DRM_GAUDI_CTX_STATE_WEDGED`: the device is wedged; nothing runs until it is rebound.
pub const DRM_GAUDI_CTX_STATE_WEDGED: u32 = 2;
/// `DRM_GAUDI_ERR_NONE`.
pub const DRM_GAUDI_ERR_NONE: u32 = 0;
/// `DRM_GAUDI_ERR_BAD_OPCODE`.
pub const DRM_GAUDI_ERR_BAD_OPCODE: u32 = 1;
/// `DRM_GAUDI_ERR_BAD_PACKET`.
pub const DRM_GAUDI_ERR_BAD_PACKET: u32 = 2;
/// `DRM_GAUDI_ERR_MMU_FAULT`.
pub const DRM_GAUDI_ERR_MMU_FAULT: u32 = 3;
/// `DRM_GAUDI_ERR_NESTED_INDIRECT`.
pub const DRM_GAUDI_ERR_NESTED_INDIRECT: u32 = 4;
/// `DRM_GAUDI_ERR_BUS`.
pub const DRM_GAUDI_ERR_BUS: u32 = 6;
/// `DRM_GAUDI_ERR_TPC`.
pub const DRM_GAUDI_ERR_TPC: u32 = 7;
/// `DRM_GAUDI_ERR_TIMEOUT`: the job exceeded its time.
pub const DRM_GAUDI_ERR_TIMEOUT: u32 = 256;
/// `DRM_GAUDI_ERR_WEDGED`: the job was failed when the device was wedged.
pub const DRM_GAUDI_ERR_WEDGED: u32 = 257;

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

/// `struct drm_gaudi_health`: health of the device.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_health {
    pub temp_mc: u32,
    pub temp_crit_mc: u32,
    pub power_uw: u32,
    pub power_avg_uw: u32,
    pub power_cap_uw: u32,
    pub clock_mhz: u32,
    pub voltage_mv: u32,
    pub current_ma: u32,
    pub energy_uj: u64,
    pub busy_ns: u64,
    pub ecc_ce_count: u32,
    pub ecc_ue_count: u32,
    pub ecc_last_addr: u64,
    pub reset_count: u32,
    pub state: u32,
    pub num_queues: u32,
    pub engine_busy: u32,
    pub queue_status: [u32; DRM_GAUDI_HEALTH_QUEUES as usize],
    pub queue_busy_ns: [u64; DRM_GAUDI_HEALTH_QUEUES as usize],
    pub jobs_completed: u64,
    pub jobs_failed: u64,
    pub last_fault_code: u32,
    pub last_fault_queue: u32,
    pub last_fault_addr: u64,
    pub last_fault_packet: u64,
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

/// `struct drm_gaudi_vm_bind`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_vm_bind {
    pub op: u32,
    pub flags: u32,
    pub handle: u32,
    pub pad: u32,
    pub bo_offset: u64,
    pub va: u64,
    pub size: u64,
}

/// `struct drm_gaudi_ctx_create`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_ctx_create {
    pub flags: u32,
    pub priority: u32,
    pub ctx_id: u32,
    pub pad: u32,
}

/// `struct drm_gaudi_ctx_destroy`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_ctx_destroy {
    pub ctx_id: u32,
    pub pad: u32,
}

/// `struct drm_gaudi_submit_bo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_submit_bo {
    pub handle: u32,
    pub flags: u32,
}

/// `struct drm_gaudi_sync`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_sync {
    pub handle: u32,
    pub flags: u32,
    pub point: u64,
}

/// `struct drm_gaudi_submit`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_submit {
    pub ctx_id: u32,
    pub flags: u32,
    pub cb_addr: u64,
    pub cb_size: u32,
    pub bo_count: u32,
    pub bos: u64,
    pub in_sync_count: u32,
    pub out_sync_count: u32,
    pub in_syncs: u64,
    pub out_syncs: u64,
    pub seqno: u64,
}

/// `struct drm_gaudi_ctx_query`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drm_gaudi_ctx_query {
    pub ctx_id: u32,
    pub flags: u32,
    pub state: u32,
    pub error: u32,
    pub error_seqno: u64,
    pub fault_addr: u64,
    pub error_packet: u64,
    pub fault_access: u32,
    pub queue: u32,
    pub completed: u64,
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
/// `DRM_IOCTL_GAUDI_VM_BIND`.
pub const DRM_IOCTL_GAUDI_VM_BIND: u32 =
    drm_iowr::<drm_gaudi_vm_bind>(DRM_COMMAND_BASE + DRM_GAUDI_VM_BIND);
/// `DRM_IOCTL_GAUDI_CTX_CREATE`.
pub const DRM_IOCTL_GAUDI_CTX_CREATE: u32 =
    drm_iowr::<drm_gaudi_ctx_create>(DRM_COMMAND_BASE + DRM_GAUDI_CTX_CREATE);
/// `DRM_IOCTL_GAUDI_CTX_DESTROY`.
pub const DRM_IOCTL_GAUDI_CTX_DESTROY: u32 =
    drm_iowr::<drm_gaudi_ctx_destroy>(DRM_COMMAND_BASE + DRM_GAUDI_CTX_DESTROY);
/// `DRM_IOCTL_GAUDI_SUBMIT`.
pub const DRM_IOCTL_GAUDI_SUBMIT: u32 =
    drm_iowr::<drm_gaudi_submit>(DRM_COMMAND_BASE + DRM_GAUDI_SUBMIT);
/// `DRM_IOCTL_GAUDI_CTX_QUERY`.
pub const DRM_IOCTL_GAUDI_CTX_QUERY: u32 =
    drm_iowr::<drm_gaudi_ctx_query>(DRM_COMMAND_BASE + DRM_GAUDI_CTX_QUERY);

/// `GAUDI_FWCTL_CMD_DIAG` of `gaudi_fwctl.h`: firmware diagnostics.
pub const GAUDI_FWCTL_CMD_DIAG: u32 = 1;
/// `GAUDI_FWCTL_CMD_GET_CONFIG`: read a configuration value.
pub const GAUDI_FWCTL_CMD_GET_CONFIG: u32 = 2;
/// `GAUDI_FWCTL_CMD_SET_CONFIG`: change a configuration value.
pub const GAUDI_FWCTL_CMD_SET_CONFIG: u32 = 3;
/// `GAUDI_FWCTL_CFG_POWER_CAP`: power cap, mW.
pub const GAUDI_FWCTL_CFG_POWER_CAP: u32 = 0;
/// `GAUDI_FWCTL_CFG_CLOCK_MAX`: highest core clock, MHz.
pub const GAUDI_FWCTL_CFG_CLOCK_MAX: u32 = 1;
/// `GAUDI_FWCTL_STATUS_OK`: the firmware did it.
pub const GAUDI_FWCTL_STATUS_OK: u32 = 0;
/// `GAUDI_FWCTL_STATUS_BAD_CMD`: unknown command.
pub const GAUDI_FWCTL_STATUS_BAD_CMD: u32 = 1;
/// `GAUDI_FWCTL_STATUS_BAD_KEY`: unknown configuration value.
pub const GAUDI_FWCTL_STATUS_BAD_KEY: u32 = 2;
/// `GAUDI_FWCTL_STATUS_BAD_VALUE`: value out of range.
pub const GAUDI_FWCTL_STATUS_BAD_VALUE: u32 = 3;
/// `GAUDI_FWCTL_DATA_WORDS`: words of [`gaudi_fwctl_rpc_out::data`].
pub const GAUDI_FWCTL_DATA_WORDS: u32 = 16;

/// `struct fwctl_info_gaudi`: device data of `FWCTL_INFO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct fwctl_info_gaudi {
    pub instance: u32,
    pub num_config: u32,
}

/// `struct gaudi_fwctl_rpc_in`: an RPC request.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct gaudi_fwctl_rpc_in {
    pub cmd: u32,
    pub key: u32,
    pub value: u32,
    pub flags: u32,
}

/// `struct gaudi_fwctl_rpc_out`: the firmware's answer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct gaudi_fwctl_rpc_out {
    pub status: u32,
    pub len: u32,
    pub data: [u32; GAUDI_FWCTL_DATA_WORDS as usize],
}
