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
};

/**
 * enum drm_gaudi_query_type - what &struct drm_gaudi_query returns.
 */
enum drm_gaudi_query_type {
	/** @DRM_GAUDI_QUERY_DEVICE_INFO: &struct drm_gaudi_device_info. */
	DRM_GAUDI_QUERY_DEVICE_INFO = 0,
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

/*
 * The driver's ioctl request numbers, in an anonymous enum rather than macros
 * so that bindgen resolves the values.
 */
enum {
	/** @DRM_IOCTL_GAUDI_QUERY: see &struct drm_gaudi_query. */
	DRM_IOCTL_GAUDI_QUERY =
		DRM_IOWR(DRM_COMMAND_BASE + DRM_GAUDI_QUERY, struct drm_gaudi_query),
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_GAUDI_ACCEL_H_ */
