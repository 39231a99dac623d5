/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Userspace interface of the gaudi accel driver.
 *
 * The driver exposes /dev/accel/accelN. Accel nodes have no master, so every
 * ioctl here is available to any client that can open the node.
 *
 * Conventions: fixed-size types only, 64-bit fields naturally aligned,
 * explicit padding that must be zero, user pointers passed as __u64.
 * Unknown flags and non-zero padding are rejected with -EINVAL so that they
 * can be given a meaning later.
 */
#ifndef _UAPI_GAUDI_ACCEL_H_
#define _UAPI_GAUDI_ACCEL_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

/**
 * enum drm_gaudi_ioctl_id - ioctl numbers, relative to DRM_COMMAND_BASE.
 *
 * Kept as an enum so that bindgen resolves the ioctl numbers.
 */
enum drm_gaudi_ioctl_id {
	/** @DRM_GAUDI_QUERY: query device information, see &struct drm_gaudi_query. */
	DRM_GAUDI_QUERY = 0,
	/** @DRM_GAUDI_GEM_CREATE: create a buffer object, see &struct drm_gaudi_gem_create. */
	DRM_GAUDI_GEM_CREATE = 1,
	/** @DRM_GAUDI_GEM_INFO: describe a buffer object, see &struct drm_gaudi_gem_info. */
	DRM_GAUDI_GEM_INFO = 2,
	/**
	 * @DRM_GAUDI_GEM_MMAP_OFFSET: fake offset for mmap, see
	 * &struct drm_gaudi_gem_mmap_offset.
	 */
	DRM_GAUDI_GEM_MMAP_OFFSET = 3,
	/** @DRM_GAUDI_VM_BIND: map or unmap in the client's VM, see &struct drm_gaudi_vm_bind. */
	DRM_GAUDI_VM_BIND = 4,
	/** @DRM_GAUDI_CTX_CREATE: create a context, see &struct drm_gaudi_ctx_create. */
	DRM_GAUDI_CTX_CREATE = 5,
	/** @DRM_GAUDI_CTX_DESTROY: destroy a context, see &struct drm_gaudi_ctx_destroy. */
	DRM_GAUDI_CTX_DESTROY = 6,
	/** @DRM_GAUDI_SUBMIT: queue a command buffer, see &struct drm_gaudi_submit. */
	DRM_GAUDI_SUBMIT = 7,
	/** @DRM_GAUDI_CTX_QUERY: state of a context, see &struct drm_gaudi_ctx_query. */
	DRM_GAUDI_CTX_QUERY = 8,
};

/**
 * enum drm_gaudi_query_type - what &struct drm_gaudi_query returns.
 */
enum drm_gaudi_query_type {
	/** @DRM_GAUDI_QUERY_DEVICE_INFO: &struct drm_gaudi_device_info. */
	DRM_GAUDI_QUERY_DEVICE_INFO = 0,
	/** @DRM_GAUDI_QUERY_MEMORY: &struct drm_gaudi_memory_info. */
	DRM_GAUDI_QUERY_MEMORY = 1,
	/** @DRM_GAUDI_QUERY_HEALTH: &struct drm_gaudi_health. */
	DRM_GAUDI_QUERY_HEALTH = 2,
};

/**
 * struct drm_gaudi_device_info - device identification and resources.
 *
 * Returned by %DRM_GAUDI_QUERY_DEVICE_INFO. New fields are only ever
 * appended; the kernel copies min(size, sizeof) bytes.
 */
struct drm_gaudi_device_info {
	/** @device_id: DEVICE_ID register of the device. */
	__u32 device_id;
	/** @revision: silicon revision. */
	__u32 revision;
	/** @hw_version: interface version, major << 16 | minor. */
	__u32 hw_version;
	/** @num_queues: number of command queues. */
	__u32 num_queues;
	/** @dram_size: bytes of device-local memory. */
	__u64 dram_size;
	/** @pci_vendor: PCI vendor id of the function. */
	__u16 pci_vendor;
	/** @pci_device: PCI device id of the function. */
	__u16 pci_device;
	/** @pci_bdf: PCI bus << 8 | devfn of the function. */
	__u16 pci_bdf;
	/** @pad: zero. */
	__u16 pad;
	/** @instance: index of the device within its emulator. */
	__u32 instance;
	/** @selftest_passed: 1 if the probe-time DMA/interrupt self-test passed. */
	__u32 selftest_passed;
};

/**
 * struct drm_gaudi_memory_info - memory accounting of the device.
 *
 * Returned by %DRM_GAUDI_QUERY_MEMORY. The counters cover every buffer
 * object of the device, of every client, including imported ones, from
 * creation until the last reference (handle, mapping, dma-buf) is gone.
 */
struct drm_gaudi_memory_info {
	/** @dram_size: bytes of device-local memory managed by the driver. */
	__u64 dram_size;
	/** @dram_free: bytes of device-local memory not backing an object. */
	__u64 dram_free;
	/** @bo_count: live buffer objects. */
	__u64 bo_count;
	/** @bo_bytes: total size of the live buffer objects. */
	__u64 bo_bytes;
};

/* The device's state in &struct drm_gaudi_health. */
/* The device works. */
#define DRM_GAUDI_DEVICE_OK		0
/* The device is wedged: see Documentation/health.rst. */
#define DRM_GAUDI_DEVICE_WEDGED		1

/* Maximum number of hardware queues &struct drm_gaudi_health describes. */
#define DRM_GAUDI_HEALTH_QUEUES		8

/**
 * struct drm_gaudi_health - health of the device.
 *
 * Returned by %DRM_GAUDI_QUERY_HEALTH: the device's sensors and error
 * counters as it reports them (see Documentation/health.rst for units and
 * update rates), and what the driver knows of its queues. New fields are
 * only ever appended; the kernel copies min(size, sizeof) bytes.
 */
struct drm_gaudi_health {
	/** @temp_mc: die temperature, millidegrees Celsius. */
	__u32 temp_mc;
	/** @temp_crit_mc: highest specified temperature, millidegrees Celsius. */
	__u32 temp_crit_mc;
	/** @power_uw: board power, microwatts. */
	__u32 power_uw;
	/** @power_avg_uw: board power over the last second, microwatts. */
	__u32 power_avg_uw;
	/** @power_cap_uw: power cap, microwatts. */
	__u32 power_cap_uw;
	/** @clock_mhz: core clock, MHz. */
	__u32 clock_mhz;
	/** @voltage_mv: core voltage, millivolts. */
	__u32 voltage_mv;
	/** @current_ma: core current, milliamperes. */
	__u32 current_ma;
	/** @energy_uj: energy used since the device's reset, microjoules. */
	__u64 energy_uj;
	/** @busy_ns: busy time of all queues since the device's reset, ns. */
	__u64 busy_ns;
	/** @ecc_ce_count: correctable memory errors since the device's reset. */
	__u32 ecc_ce_count;
	/** @ecc_ue_count: uncorrectable memory errors since the device's reset. */
	__u32 ecc_ue_count;
	/** @ecc_last_addr: device address of the last memory error, 0 if none. */
	__u64 ecc_last_addr;
	/** @reset_count: queue resets that dropped work since the device's reset. */
	__u32 reset_count;
	/** @state: %DRM_GAUDI_DEVICE_OK or %DRM_GAUDI_DEVICE_WEDGED. */
	__u32 state;
	/** @num_queues: queues described in @queue_status and @queue_busy_ns. */
	__u32 num_queues;
	/** @engine_busy: bit q: queue q is executing packets. */
	__u32 engine_busy;
	/**
	 * @queue_status: Q_STATUS of each queue: 0 disabled, 1 idle, 2 busy,
	 * 3 waiting, 4 error.
	 */
	__u32 queue_status[DRM_GAUDI_HEALTH_QUEUES];
	/** @queue_busy_ns: time each queue had jobs at its head since the driver bound, ns. */
	__u64 queue_busy_ns[DRM_GAUDI_HEALTH_QUEUES];
	/** @jobs_completed: jobs that completed since the driver bound. */
	__u64 jobs_completed;
	/** @jobs_failed: jobs that failed (error, timeout, unbind) since the driver bound. */
	__u64 jobs_failed;
	/** @last_fault_code: DRM_GAUDI_ERR_* of the last failed job, 0 if none. */
	__u32 last_fault_code;
	/** @last_fault_queue: hardware queue of the last failed job. */
	__u32 last_fault_queue;
	/** @last_fault_addr: faulting address of the last failed job (MMU faults). */
	__u64 last_fault_addr;
	/** @last_fault_packet: address of the packet that failed last. */
	__u64 last_fault_packet;
};

/**
 * struct drm_gaudi_query - argument of %DRM_IOCTL_GAUDI_QUERY.
 *
 * With @size == 0 the kernel only writes the size of the result to @size.
 * Otherwise it copies min(@size, result size) bytes to @pointer and writes
 * the number of bytes copied to @size.
 */
struct drm_gaudi_query {
	/** @type: one of &enum drm_gaudi_query_type. */
	__u32 type;
	/** @size: in: size of the buffer at @pointer; out: see above. */
	__u32 size;
	/** @pointer: user pointer to the result buffer. */
	__u64 pointer;
	/** @flags: must be zero. */
	__u32 flags;
	/** @pad: must be zero. */
	__u32 pad;
};

/**
 * DOC: buffer object flags
 *
 * %DRM_GAUDI_BO_WC: CPU mappings of a system-memory object are
 * write-combined instead of cached.
 *
 * %DRM_GAUDI_BO_DEVICE: the object lives in device-local memory (the
 * device's BAR); CPU mappings go through the BAR and are write-combined.
 * Such objects are physically contiguous in device memory.
 *
 * %DRM_GAUDI_BO_IMPORTED: reported by %DRM_IOCTL_GAUDI_GEM_INFO only, for
 * objects imported from a dma-buf of another device or driver.
 *
 * %DRM_GAUDI_BO_PEER: reported by %DRM_IOCTL_GAUDI_GEM_INFO only, with
 * %DRM_GAUDI_BO_IMPORTED, for device memory of another device imported
 * peer-to-peer: the device reaches it directly through the PCI fabric, without
 * a copy in system memory. Importing another device's memory fails with
 * -EXDEV when the PCI topology does not allow peer-to-peer DMA between the two
 * devices; userspace then copies through a system-memory object (see
 * Documentation/memory.rst).
 *
 * %DRM_GAUDI_BO_INVALIDATED: reported with %DRM_GAUDI_BO_PEER while the
 * exporter has invalidated the mapping and it was not mapped again yet; the
 * next %DRM_IOCTL_GAUDI_SUBMIT that lists the object maps it again, or fails
 * with -ENODEV if the exporter's device is gone.
 */
#define DRM_GAUDI_BO_WC			(1u << 0)
#define DRM_GAUDI_BO_DEVICE		(1u << 1)
#define DRM_GAUDI_BO_PEER		(1u << 8)
#define DRM_GAUDI_BO_INVALIDATED	(1u << 9)
#define DRM_GAUDI_BO_IMPORTED		(1u << 31)
/* The flags %DRM_IOCTL_GAUDI_GEM_CREATE accepts. */
#define DRM_GAUDI_BO_CREATE_FLAGS	(DRM_GAUDI_BO_WC | DRM_GAUDI_BO_DEVICE)

/**
 * struct drm_gaudi_gem_create - argument of %DRM_IOCTL_GAUDI_GEM_CREATE.
 *
 * Creates a buffer object and returns a handle to it. The size is rounded
 * up to the page size; the rounded size is written back. Zero sizes,
 * sizes that overflow when rounded and unknown flags fail with -EINVAL;
 * a size that memory cannot back fails with -ENOMEM (-ENOSPC for device
 * memory).
 */
struct drm_gaudi_gem_create {
	/** @size: in: requested bytes; out: allocated bytes. */
	__u64 size;
	/** @flags: %DRM_GAUDI_BO_WC or %DRM_GAUDI_BO_DEVICE. */
	__u32 flags;
	/** @handle: out: handle of the new object. */
	__u32 handle;
};

/**
 * struct drm_gaudi_gem_info - argument of %DRM_IOCTL_GAUDI_GEM_INFO.
 */
struct drm_gaudi_gem_info {
	/** @handle: in: handle of the object. */
	__u32 handle;
	/** @flags: out: DRM_GAUDI_BO_* flags of the object. */
	__u32 flags;
	/** @size: out: size of the object in bytes. */
	__u64 size;
	/** @pad: must be zero. */
	__u64 pad;
};

/**
 * struct drm_gaudi_gem_mmap_offset - argument of %DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET.
 *
 * Returns the offset to pass to mmap() on the accel file to map the object.
 * Mappings must be shared (MAP_SHARED) and lie within the object.
 */
struct drm_gaudi_gem_mmap_offset {
	/** @handle: in: handle of the object. */
	__u32 handle;
	/** @flags: must be zero. */
	__u32 flags;
	/** @offset: out: fake offset for mmap(). */
	__u64 offset;
};

/**
 * DOC: device virtual memory
 *
 * Every client (open file) has its own device virtual address space, its
 * VM, in which the device executes the client's command buffers and
 * accesses its buffers. Clients place buffer objects in it with
 * %DRM_IOCTL_GAUDI_VM_BIND at addresses of their choice within
 * [%DRM_GAUDI_VA_START, %DRM_GAUDI_VA_END). Addresses, offsets and sizes
 * are multiples of %DRM_GAUDI_VM_PAGE_SIZE.
 */
#define DRM_GAUDI_VA_START		0x100000ull
#define DRM_GAUDI_VA_END		(1ull << 47)
#define DRM_GAUDI_VM_PAGE_SIZE		4096ull

/* &struct drm_gaudi_vm_bind operations. */
#define DRM_GAUDI_VM_BIND_OP_MAP	0
#define DRM_GAUDI_VM_BIND_OP_UNMAP	1
/* &struct drm_gaudi_vm_bind flags: the device may only read the mapping. */
#define DRM_GAUDI_VM_BIND_READONLY	(1u << 0)

/**
 * struct drm_gaudi_vm_bind - argument of %DRM_IOCTL_GAUDI_VM_BIND.
 *
 * %DRM_GAUDI_VM_BIND_OP_MAP maps @size bytes of the object @handle, from
 * @bo_offset, at @va. The range must be free (-EEXIST otherwise) and lie
 * within the object (-EINVAL). The mapping holds a reference to the object.
 *
 * %DRM_GAUDI_VM_BIND_OP_UNMAP removes every mapping in [@va, @va + @size),
 * splitting mappings that straddle its ends; @handle, @bo_offset and @flags
 * must be zero. Unmapping waits until the jobs the client submitted before
 * are done, so memory a running job uses stays valid until it ends. An
 * unmap of a range that holds no mapping succeeds.
 *
 * Misaligned or empty ranges, ranges outside the VA window, unknown
 * operations or flags and non-zero padding fail with -EINVAL; an unknown
 * handle with -ENOENT. The client's VM is created on its first VM_BIND or
 * CTX_CREATE; if the device has no free address-space id for it, that
 * call fails with -ENOSPC.
 */
struct drm_gaudi_vm_bind {
	/** @op: %DRM_GAUDI_VM_BIND_OP_MAP or %DRM_GAUDI_VM_BIND_OP_UNMAP. */
	__u32 op;
	/** @flags: %DRM_GAUDI_VM_BIND_READONLY (map only). */
	__u32 flags;
	/** @handle: the object to map. */
	__u32 handle;
	/** @pad: must be zero. */
	__u32 pad;
	/** @bo_offset: offset in the object of the first mapped byte. */
	__u64 bo_offset;
	/** @va: device virtual address of the range. */
	__u64 va;
	/** @size: length of the range in bytes. */
	__u64 size;
};

/**
 * enum drm_gaudi_priority - scheduling priority of a context.
 */
enum drm_gaudi_priority {
	/** @DRM_GAUDI_PRIORITY_LOW: background work. */
	DRM_GAUDI_PRIORITY_LOW = 0,
	/** @DRM_GAUDI_PRIORITY_NORMAL: the default. */
	DRM_GAUDI_PRIORITY_NORMAL = 1,
	/** @DRM_GAUDI_PRIORITY_HIGH: latency-sensitive work. */
	DRM_GAUDI_PRIORITY_HIGH = 2,
};

/**
 * struct drm_gaudi_ctx_create - argument of %DRM_IOCTL_GAUDI_CTX_CREATE.
 *
 * A context executes command buffers in the client's VM, in submission
 * order, on one of the device's hardware queues. Fails with -ENOSPC when
 * the device has no free address-space id for the client's VM.
 */
struct drm_gaudi_ctx_create {
	/** @flags: must be zero. */
	__u32 flags;
	/** @priority: one of &enum drm_gaudi_priority. */
	__u32 priority;
	/** @ctx_id: out: id of the new context, never zero. */
	__u32 ctx_id;
	/** @pad: must be zero. */
	__u32 pad;
};

/**
 * struct drm_gaudi_ctx_destroy - argument of %DRM_IOCTL_GAUDI_CTX_DESTROY.
 *
 * Jobs of the context that did not start are cancelled (their fences
 * signal -ECANCELED); running ones complete.
 */
struct drm_gaudi_ctx_destroy {
	/** @ctx_id: the context. */
	__u32 ctx_id;
	/** @pad: must be zero. */
	__u32 pad;
};

/* &struct drm_gaudi_submit_bo flags. */
#define DRM_GAUDI_SUBMIT_BO_READ	(1u << 0)
#define DRM_GAUDI_SUBMIT_BO_WRITE	(1u << 1)

/**
 * struct drm_gaudi_submit_bo - an object a job uses, for implicit sync.
 *
 * The job waits for the object's writers (and, with
 * %DRM_GAUDI_SUBMIT_BO_WRITE, its readers too) and is added to the
 * object's reservation object as a reader or writer.
 */
struct drm_gaudi_submit_bo {
	/** @handle: the object. */
	__u32 handle;
	/** @flags: %DRM_GAUDI_SUBMIT_BO_READ and/or %DRM_GAUDI_SUBMIT_BO_WRITE. */
	__u32 flags;
};

/**
 * struct drm_gaudi_sync - a syncobj a job waits for or signals.
 *
 * A zero @point names a binary syncobj; otherwise the timeline point.
 */
struct drm_gaudi_sync {
	/** @handle: syncobj handle. */
	__u32 handle;
	/** @flags: must be zero. */
	__u32 flags;
	/** @point: timeline point, or 0. */
	__u64 point;
};

#define DRM_GAUDI_SUBMIT_MAX_BOS	4096
#define DRM_GAUDI_SUBMIT_MAX_SYNCS	256

/**
 * struct drm_gaudi_submit - argument of %DRM_IOCTL_GAUDI_SUBMIT.
 *
 * Queues the command buffer of @cb_size bytes at @cb_addr in the client's
 * VM on context @ctx_id. The job runs once every in-syncobj fence and every
 * implicit fence of @bos has signalled; its completion fence is installed
 * in every out-syncobj (replacing a binary syncobj's fence, adding a
 * timeline point) and in the objects' reservation objects.
 *
 * @cb_addr must be 8-byte aligned and @cb_size a non-zero multiple of 8 of
 * at most 4 MiB. A job whose command buffer faults or holds a bad packet
 * completes with an error on its fence (-EIO) and bans its context: later
 * submits fail with -ECANCELED, %DRM_IOCTL_GAUDI_CTX_QUERY reports why.
 *
 * Errors: -EINVAL for bad alignment, sizes, counts, flags or padding, and
 * for an in-syncobj without a fence or a timeline point not submitted yet;
 * -ENOENT for an unknown context, object or syncobj; -EFAULT for bad
 * array pointers; -ECANCELED for a banned context; -EBUSY when the context
 * has 256 jobs that did not reach the hardware yet; -EINTR/-ERESTARTSYS
 * when a signal interrupts the locking of the objects.
 */
struct drm_gaudi_submit {
	/** @ctx_id: the context. */
	__u32 ctx_id;
	/** @flags: must be zero. */
	__u32 flags;
	/** @cb_addr: device virtual address of the command buffer. */
	__u64 cb_addr;
	/** @cb_size: size of the command buffer in bytes. */
	__u32 cb_size;
	/** @bo_count: entries at @bos, at most %DRM_GAUDI_SUBMIT_MAX_BOS. */
	__u32 bo_count;
	/** @bos: user pointer to &struct drm_gaudi_submit_bo entries. */
	__u64 bos;
	/** @in_sync_count: entries at @in_syncs, at most %DRM_GAUDI_SUBMIT_MAX_SYNCS. */
	__u32 in_sync_count;
	/** @out_sync_count: entries at @out_syncs, at most %DRM_GAUDI_SUBMIT_MAX_SYNCS. */
	__u32 out_sync_count;
	/** @in_syncs: user pointer to &struct drm_gaudi_sync entries to wait for. */
	__u64 in_syncs;
	/** @out_syncs: user pointer to &struct drm_gaudi_sync entries to signal. */
	__u64 out_syncs;
	/** @seqno: out: sequence number of the job on its context, from 1. */
	__u64 seqno;
};

/**
 * enum drm_gaudi_ctx_state - state of a context.
 */
enum drm_gaudi_ctx_state {
	/** @DRM_GAUDI_CTX_STATE_OK: the context accepts jobs. */
	DRM_GAUDI_CTX_STATE_OK = 0,
	/** @DRM_GAUDI_CTX_STATE_BANNED: a job failed; submits are refused. */
	DRM_GAUDI_CTX_STATE_BANNED = 1,
	/**
	 * @DRM_GAUDI_CTX_STATE_WEDGED: the device is wedged: nothing runs
	 * until the driver is rebound (see Documentation/recovery.rst).
	 */
	DRM_GAUDI_CTX_STATE_WEDGED = 2,
};

/*
 * &struct drm_gaudi_ctx_query error codes: the device's queue error codes
 * (see the device specification).
 */
#define DRM_GAUDI_ERR_NONE		0
#define DRM_GAUDI_ERR_BAD_OPCODE	1
#define DRM_GAUDI_ERR_BAD_PACKET	2
#define DRM_GAUDI_ERR_MMU_FAULT		3
#define DRM_GAUDI_ERR_NESTED_INDIRECT	4
#define DRM_GAUDI_ERR_BUS		6
#define DRM_GAUDI_ERR_TPC		7
#define DRM_GAUDI_ERR_TIMEOUT		256
#define DRM_GAUDI_ERR_WEDGED		257

/**
 * struct drm_gaudi_ctx_query - argument of %DRM_IOCTL_GAUDI_CTX_QUERY.
 */
struct drm_gaudi_ctx_query {
	/** @ctx_id: in: the context. */
	__u32 ctx_id;
	/** @flags: must be zero. */
	__u32 flags;
	/** @state: out: one of &enum drm_gaudi_ctx_state. */
	__u32 state;
	/** @error: out: DRM_GAUDI_ERR_* of the job that failed, or 0. */
	__u32 error;
	/** @error_seqno: out: sequence number of that job, or 0. */
	__u64 error_seqno;
	/** @fault_addr: out: faulting address of an MMU fault, or 0. */
	__u64 fault_addr;
	/** @error_packet: out: device address of the packet that failed, or 0. */
	__u64 error_packet;
	/** @fault_access: out: 1 read, 2 write, for an MMU fault; else 0. */
	__u32 fault_access;
	/**
	 * @queue: in: must be zero; out: the hardware queue the context
	 * runs on (the queue a fault injected for tests must name).
	 */
	__u32 queue;
	/** @completed: out: sequence number of the last job that ended. */
	__u64 completed;
};

/*
 * The driver's ioctl request numbers, in an anonymous enum rather than macros
 * so that bindgen resolves the values.
 */
enum {
	/** @DRM_IOCTL_GAUDI_QUERY: see &struct drm_gaudi_query. */
	DRM_IOCTL_GAUDI_QUERY =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_QUERY, struct drm_gaudi_query),
	/** @DRM_IOCTL_GAUDI_GEM_CREATE: see &struct drm_gaudi_gem_create. */
	DRM_IOCTL_GAUDI_GEM_CREATE =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_GEM_CREATE, struct drm_gaudi_gem_create),
	/** @DRM_IOCTL_GAUDI_GEM_INFO: see &struct drm_gaudi_gem_info. */
	DRM_IOCTL_GAUDI_GEM_INFO =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_GEM_INFO, struct drm_gaudi_gem_info),
	/** @DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET: see &struct drm_gaudi_gem_mmap_offset. */
	DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_GEM_MMAP_OFFSET,
			 struct drm_gaudi_gem_mmap_offset),
	/** @DRM_IOCTL_GAUDI_VM_BIND: see &struct drm_gaudi_vm_bind. */
	DRM_IOCTL_GAUDI_VM_BIND =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_VM_BIND, struct drm_gaudi_vm_bind),
	/** @DRM_IOCTL_GAUDI_CTX_CREATE: see &struct drm_gaudi_ctx_create. */
	DRM_IOCTL_GAUDI_CTX_CREATE =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_CTX_CREATE, struct drm_gaudi_ctx_create),
	/** @DRM_IOCTL_GAUDI_CTX_DESTROY: see &struct drm_gaudi_ctx_destroy. */
	DRM_IOCTL_GAUDI_CTX_DESTROY =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_CTX_DESTROY, struct drm_gaudi_ctx_destroy),
	/** @DRM_IOCTL_GAUDI_SUBMIT: see &struct drm_gaudi_submit. */
	DRM_IOCTL_GAUDI_SUBMIT =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_SUBMIT, struct drm_gaudi_submit),
	/** @DRM_IOCTL_GAUDI_CTX_QUERY: see &struct drm_gaudi_ctx_query. */
	DRM_IOCTL_GAUDI_CTX_QUERY =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_CTX_QUERY, struct drm_gaudi_ctx_query),
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_GAUDI_ACCEL_H_ */
