/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * fwctl interface of the gaudi accel driver: RPCs to the device's management
 * firmware through /dev/fwctl/fwctlN (include/uapi/fwctl/fwctl.h), device
 * type FWCTL_DEVICE_TYPE_GAUDI.
 *
 * FWCTL_INFO returns &struct fwctl_info_gaudi. FWCTL_RPC takes a
 * &struct gaudi_fwctl_rpc_in and returns a &struct gaudi_fwctl_rpc_out.
 * The scope an RPC needs is given with each command below; the driver fails
 * an RPC whose scope is below it with -EPERM. Malformed requests (wrong
 * length, unknown command, non-zero flags) fail with -EINVAL; a firmware that
 * does not answer within a second fails the RPC with -ETIMEDOUT. What the
 * firmware thinks of a well-formed request is in @status of the answer.
 */
#ifndef _UAPI_GAUDI_FWCTL_H_
#define _UAPI_GAUDI_FWCTL_H_

#include <linux/types.h>

#if defined(__cplusplus)
extern "C" {
#endif

/**
 * enum gaudi_fwctl_cmd - firmware commands.
 */
enum gaudi_fwctl_cmd {
	/**
	 * @GAUDI_FWCTL_CMD_DIAG: diagnostics (FWCTL_RPC_CONFIGURATION and up):
	 * @data holds the firmware version, its uptime in ms, temperature
	 * (m°C), power (µW), clock (MHz), correctable and uncorrectable
	 * memory errors, queue resets, control doorbells and packets handled.
	 */
	GAUDI_FWCTL_CMD_DIAG = 1,
	/**
	 * @GAUDI_FWCTL_CMD_GET_CONFIG: read configuration value @key
	 * (FWCTL_RPC_CONFIGURATION and up) into @data[0].
	 */
	GAUDI_FWCTL_CMD_GET_CONFIG = 2,
	/**
	 * @GAUDI_FWCTL_CMD_SET_CONFIG: set configuration value @key to @value
	 * (FWCTL_RPC_DEBUG_WRITE and up, which taints the kernel). The value
	 * lasts until the device is reset.
	 */
	GAUDI_FWCTL_CMD_SET_CONFIG = 3,
};

/**
 * enum gaudi_fwctl_config - configuration values of the firmware.
 */
enum gaudi_fwctl_config {
	/** @GAUDI_FWCTL_CFG_POWER_CAP: power cap, mW, 50000..350000. */
	GAUDI_FWCTL_CFG_POWER_CAP = 0,
	/** @GAUDI_FWCTL_CFG_CLOCK_MAX: highest core clock, MHz, 400..1800. */
	GAUDI_FWCTL_CFG_CLOCK_MAX = 1,
};

/**
 * enum gaudi_fwctl_status - the firmware's answer in &struct gaudi_fwctl_rpc_out.
 */
enum gaudi_fwctl_status {
	/** @GAUDI_FWCTL_STATUS_OK: done. */
	GAUDI_FWCTL_STATUS_OK = 0,
	/** @GAUDI_FWCTL_STATUS_BAD_CMD: the firmware does not know the command. */
	GAUDI_FWCTL_STATUS_BAD_CMD = 1,
	/** @GAUDI_FWCTL_STATUS_BAD_KEY: no such configuration value. */
	GAUDI_FWCTL_STATUS_BAD_KEY = 2,
	/** @GAUDI_FWCTL_STATUS_BAD_VALUE: value out of range; nothing changed. */
	GAUDI_FWCTL_STATUS_BAD_VALUE = 3,
};

/* Words of &struct gaudi_fwctl_rpc_out.data. */
#define GAUDI_FWCTL_DATA_WORDS	16

/**
 * struct fwctl_info_gaudi - device data of FWCTL_INFO.
 */
struct fwctl_info_gaudi {
	/** @instance: index of the device in its emulator. */
	__u32 instance;
	/** @num_config: number of configuration values. */
	__u32 num_config;
};

/**
 * struct gaudi_fwctl_rpc_in - an RPC request.
 */
struct gaudi_fwctl_rpc_in {
	/** @cmd: one of &enum gaudi_fwctl_cmd. */
	__u32 cmd;
	/** @key: configuration value, &enum gaudi_fwctl_config (GET/SET_CONFIG). */
	__u32 key;
	/** @value: new value (SET_CONFIG), else 0. */
	__u32 value;
	/** @flags: must be 0. */
	__u32 flags;
};

/**
 * struct gaudi_fwctl_rpc_out - the firmware's answer.
 */
struct gaudi_fwctl_rpc_out {
	/** @status: one of &enum gaudi_fwctl_status. */
	__u32 status;
	/** @len: words of @data that the command fills. */
	__u32 len;
	/** @data: the answer. */
	__u32 data[GAUDI_FWCTL_DATA_WORDS];
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_GAUDI_FWCTL_H_ */
