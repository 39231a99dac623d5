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
};

/**
 * enum drm_gaudi_query_type - what &struct drm_gaudi_query returns.
 */
enum drm_gaudi_query_type {
	/** @DRM_GAUDI_QUERY_DEVICE_INFO: &struct drm_gaudi_device_info. */
	DRM_GAUDI_QUERY_DEVICE_INFO = 0,
	/** @DRM_GAUDI_QUERY_MEMORY: &struct drm_gaudi_memory_info. */
	DRM_GAUDI_QUERY_MEMORY = 1,
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
 */
#define DRM_GAUDI_BO_WC			(1u << 0)
#define DRM_GAUDI_BO_DEVICE		(1u << 1)
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
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_GAUDI_ACCEL_H_ */
