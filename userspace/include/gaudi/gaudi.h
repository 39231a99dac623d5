/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * libgaudi: the C interface of the userspace library of the gaudi accel driver.
 *
 * The library opens /dev/accel/accelN nodes, manages buffer objects and the
 * client's device virtual address space, creates contexts, builds command
 * buffers of the device's packets, assembles TPC kernels and submits jobs with
 * syncobjs. It is the Rust crate "gaudi" built as libgaudi.so and libgaudi.a;
 * compile and link with `pkg-config --cflags --libs gaudi`.
 *
 * Conventions: functions that can fail return 0 or a negative errno (as
 * -EINVAL), and write their outputs only on success. Addresses called "va"
 * are device virtual addresses in the client's VM, within
 * [GAUDI_VA_START, GAUDI_VA_END). Objects returned by *_create() or
 * *_open*() are released by the matching *_destroy() or *_close().
 *
 * The library is thread-safe for distinct objects; a struct gaudi_device may
 * be shared between threads, a struct gaudi_cb may not.
 */
#ifndef GAUDI_GAUDI_H
#define GAUDI_GAUDI_H

#include <stddef.h>
#include <stdint.h>

#if defined(__cplusplus)
extern "C" {
#endif

/* Buffer object flags of gaudi_bo_create(); GAUDI_BO_IMPORTED is reported only. */
#define GAUDI_BO_WC			(1u << 0)
#define GAUDI_BO_DEVICE			(1u << 1)
#define GAUDI_BO_IMPORTED		(1u << 31)
/* Reported with GAUDI_BO_IMPORTED: another device's memory imported peer-to-peer
 * (no copy through system memory); INVALIDATED while its exporter has taken the
 * mapping away (the next submit that lists it maps it again, or fails). */
#define GAUDI_BO_PEER			(1u << 8)
#define GAUDI_BO_INVALIDATED		(1u << 9)

/* The client's device VA window and its granule. */
#define GAUDI_VA_START			0x100000ull
#define GAUDI_VA_END			(1ull << 47)
#define GAUDI_VM_PAGE_SIZE		4096ull

/* gaudi_vm_bind() flags: the device may only read the mapping. */
#define GAUDI_VM_READONLY		(1u << 0)

/* struct gaudi_bo_use flags. */
#define GAUDI_BO_USE_READ		(1u << 0)
#define GAUDI_BO_USE_WRITE		(1u << 1)

/* struct gaudi_ctx_state error codes: the device's queue error codes. */
#define GAUDI_ERR_NONE			0
#define GAUDI_ERR_BAD_OPCODE		1
#define GAUDI_ERR_BAD_PACKET		2
#define GAUDI_ERR_MMU_FAULT		3
#define GAUDI_ERR_NESTED_INDIRECT	4
#define GAUDI_ERR_BUS			6
#define GAUDI_ERR_TPC			7
#define GAUDI_ERR_TIMEOUT		256

/* struct gaudi_ctx_state fault_access values. */
#define GAUDI_ACCESS_READ		1
#define GAUDI_ACCESS_WRITE		2

/* gaudi_syncobj_create() flags. */
#define GAUDI_SYNCOBJ_CREATE_SIGNALED	(1u << 0)
/* gaudi_syncobj_wait() flags. */
#define GAUDI_SYNCOBJ_WAIT_ALL		(1u << 0)
#define GAUDI_SYNCOBJ_WAIT_FOR_SUBMIT	(1u << 1)

/* struct gaudi_gemm flags: the MME packet's flags. */
#define GAUDI_GEMM_TRANS_A		(1u << 0)
#define GAUDI_GEMM_TRANS_B		(1u << 1)
#define GAUDI_GEMM_BF16			(1u << 2)
#define GAUDI_GEMM_BIAS			(1u << 3)
#define GAUDI_GEMM_RELU			(1u << 4)

/* Number of 64-bit arguments of a TPC kernel. */
#define GAUDI_TPC_ARGS			8

/**
 * enum gaudi_priority - scheduling priority of a context.
 * @GAUDI_PRIORITY_LOW: background work.
 * @GAUDI_PRIORITY_NORMAL: the default.
 * @GAUDI_PRIORITY_HIGH: latency-sensitive work.
 */
enum gaudi_priority {
	GAUDI_PRIORITY_LOW = 0,
	GAUDI_PRIORITY_NORMAL = 1,
	GAUDI_PRIORITY_HIGH = 2,
};

/* An open accel node: one client of the device, with its own VM. */
struct gaudi_device;
/* A command buffer under construction. */
struct gaudi_cb;
/* An assembled TPC kernel. */
struct gaudi_tpc_program;

/**
 * struct gaudi_buffer - a buffer object mapped for the CPU and bound in the VM.
 * @handle: GEM handle of the object.
 * @pad: zero.
 * @size: size in bytes, a page multiple.
 * @va: device virtual address of the first byte.
 * @cpu: CPU address of the first byte (a shared mapping).
 *
 * Filled by gaudi_buffer_create() and gaudi_buffer_create_from(), released by
 * gaudi_buffer_destroy(). The fields are for reading.
 */
struct gaudi_buffer {
	uint32_t handle;
	uint32_t pad;
	uint64_t size;
	uint64_t va;
	void *cpu;
};

/**
 * struct gaudi_ctx_state - what gaudi_ctx_query() reports about a context.
 * @banned: 1 if a job of the context failed and it refuses new jobs.
 * @error: GAUDI_ERR_* of the job that failed, or 0.
 * @error_seqno: sequence number of that job, or 0.
 * @fault_addr: faulting device address of an MMU fault, or 0.
 * @error_packet: device address of the packet that failed, or 0.
 * @fault_access: GAUDI_ACCESS_READ or GAUDI_ACCESS_WRITE for an MMU fault.
 * @pad: zero.
 * @completed: sequence number of the last job of the context that ended.
 */
struct gaudi_ctx_state {
	uint32_t banned;
	uint32_t error;
	uint64_t error_seqno;
	uint64_t fault_addr;
	uint64_t error_packet;
	uint32_t fault_access;
	uint32_t pad;
	uint64_t completed;
};

/**
 * struct gaudi_bo_use - an object a job uses, for implicit synchronisation.
 * @handle: GEM handle.
 * @flags: GAUDI_BO_USE_READ and/or GAUDI_BO_USE_WRITE.
 *
 * A reader waits for the object's writers; a writer for its readers too.
 */
struct gaudi_bo_use {
	uint32_t handle;
	uint32_t flags;
};

/**
 * struct gaudi_sync - a syncobj a job waits for or signals.
 * @handle: syncobj handle.
 * @flags: zero.
 * @point: timeline point, or 0 for a binary syncobj.
 */
struct gaudi_sync {
	uint32_t handle;
	uint32_t flags;
	uint64_t point;
};

/**
 * struct gaudi_submit - a job for gaudi_submit().
 * @ctx_id: the context.
 * @cb_size: bytes of the command buffer: a non-zero multiple of 8, at most 4 MiB.
 * @cb_addr: device address of the command buffer, 8-byte aligned.
 * @bos: @bo_count objects the job uses (may be NULL when @bo_count is 0).
 * @bo_count: entries at @bos.
 * @in_sync_count: entries at @in_syncs.
 * @in_syncs: syncobjs (points) the job waits for.
 * @out_sync_count: entries at @out_syncs.
 * @pad: zero.
 * @out_syncs: syncobjs (points) that receive the job's completion.
 */
struct gaudi_submit {
	uint32_t ctx_id;
	uint32_t cb_size;
	uint64_t cb_addr;
	const struct gaudi_bo_use *bos;
	uint32_t bo_count;
	uint32_t in_sync_count;
	const struct gaudi_sync *in_syncs;
	uint32_t out_sync_count;
	uint32_t pad;
	const struct gaudi_sync *out_syncs;
};

/**
 * struct gaudi_gemm - a matrix multiplication on the MME.
 * @a: address of A: m x k, or k x m with GAUDI_GEMM_TRANS_A.
 * @b: address of B: k x n, or n x k with GAUDI_GEMM_TRANS_B.
 * @c: address of C, m x n fp32 (read when @beta is not zero).
 * @bias: address of an n-element fp32 row added to every row
 *        (GAUDI_GEMM_BIAS), else 0.
 * @m: rows of C.
 * @n: columns of C.
 * @k: the inner dimension.
 * @lda: elements between two rows of A as stored.
 * @ldb: elements between two rows of B as stored.
 * @ldc: elements between two rows of C.
 * @alpha: factor of the product.
 * @beta: factor of the previous C.
 * @flags: GAUDI_GEMM_* (BF16: A and B are bfloat16).
 * @pad: zero.
 *
 * C = alpha * op(A) * op(B) + beta * C + bias, clamped at zero with
 * GAUDI_GEMM_RELU. Row-major; m, n, k in 1..16384.
 */
struct gaudi_gemm {
	uint64_t a;
	uint64_t b;
	uint64_t c;
	uint64_t bias;
	uint32_t m;
	uint32_t n;
	uint32_t k;
	uint32_t lda;
	uint32_t ldb;
	uint32_t ldc;
	float alpha;
	float beta;
	uint32_t flags;
	uint32_t pad;
};

/**
 * struct gaudi_tpc_launch - a TPC kernel over a grid.
 * @code: address of the kernel, 8-byte aligned.
 * @code_size: bytes of code, a multiple of 8 up to 64 KiB.
 * @grid: grid size in x, y, z; each at least 1, at most 2^24 points.
 * @args: the kernel's arguments (`arg sN, i`).
 */
struct gaudi_tpc_launch {
	uint64_t code;
	uint32_t code_size;
	uint32_t grid[3];
	uint64_t args[GAUDI_TPC_ARGS];
};

/* Devices */

/**
 * gaudi_device_open() - open an accel node.
 * @path: the node, as "/dev/accel/accel0".
 * @dev: out: the device.
 *
 * Return: 0, -ENODEV if the gaudi driver is not behind the node, or the
 * error of open().
 */
int gaudi_device_open(const char *path, struct gaudi_device **dev);

/**
 * gaudi_device_open_index() - open /dev/accel/accel@index.
 * @index: the minor of the node.
 * @dev: out: the device.
 *
 * Return: as gaudi_device_open().
 */
int gaudi_device_open_index(unsigned int index, struct gaudi_device **dev);

/**
 * gaudi_device_close() - close a device (its objects, contexts and syncobjs go).
 * @dev: the device, or NULL.
 */
void gaudi_device_close(struct gaudi_device *dev);

/**
 * gaudi_device_fd() - the file descriptor of the node, for libdrm calls.
 * @dev: the device.
 *
 * Return: the descriptor; it stays owned by @dev.
 */
int gaudi_device_fd(const struct gaudi_device *dev);

/* Buffer objects */

/**
 * gaudi_bo_create() - create a buffer object.
 * @dev: the device.
 * @size: bytes, rounded up to the page size.
 * @flags: GAUDI_BO_WC, GAUDI_BO_DEVICE or 0.
 * @handle: out: GEM handle.
 * @allocated: out: the rounded size (may be NULL).
 *
 * Return: 0, -EINVAL, -ENOMEM, or -ENOSPC when device memory is full.
 */
int gaudi_bo_create(struct gaudi_device *dev, uint64_t size, uint32_t flags,
		    uint32_t *handle, uint64_t *allocated);

/**
 * gaudi_bo_close() - close a GEM handle.
 * @dev: the device.
 * @handle: the handle.
 *
 * Return: 0 or -EINVAL for an unknown handle.
 */
int gaudi_bo_close(struct gaudi_device *dev, uint32_t handle);

/**
 * gaudi_bo_mmap() - map the first @size bytes of an object, shared, read-write.
 * @dev: the device.
 * @handle: the object.
 * @size: bytes to map.
 * @ptr: out: the mapping; release it with gaudi_bo_munmap().
 *
 * Return: 0, -ENOENT, or the error of mmap().
 */
int gaudi_bo_mmap(struct gaudi_device *dev, uint32_t handle, uint64_t size, void **ptr);

/**
 * gaudi_bo_munmap() - release a mapping of gaudi_bo_mmap().
 * @ptr: the mapping.
 * @size: its size.
 *
 * Return: 0 or the error of munmap().
 */
int gaudi_bo_munmap(void *ptr, uint64_t size);

/**
 * gaudi_bo_export() - export an object as a dma-buf (close-on-exec, read-write).
 * @dev: the device.
 * @handle: the object.
 * @fd: out: the dma-buf file descriptor.
 *
 * Return: 0 or a negative errno.
 */
int gaudi_bo_export(struct gaudi_device *dev, uint32_t handle, int *fd);

/**
 * gaudi_bo_import() - import a dma-buf.
 * @dev: the device.
 * @fd: the dma-buf.
 * @handle: out: the handle (the existing one if @dev holds the object).
 *
 * Return: 0 or a negative errno.
 */
int gaudi_bo_import(struct gaudi_device *dev, int fd, uint32_t *handle);

/* Device virtual memory */

/**
 * gaudi_vm_bind() - map @size bytes of an object, from @bo_offset, at @va.
 * @dev: the device.
 * @handle: the object.
 * @bo_offset: offset in the object, a page multiple.
 * @va: device address, a page multiple.
 * @size: bytes, a non-zero page multiple.
 * @flags: GAUDI_VM_READONLY or 0.
 *
 * Return: 0, -EEXIST if part of the range is mapped, -EINVAL for bad
 * ranges, -ENOENT for an unknown handle.
 */
int gaudi_vm_bind(struct gaudi_device *dev, uint32_t handle, uint64_t bo_offset,
		  uint64_t va, uint64_t size, uint32_t flags);

/**
 * gaudi_vm_unbind() - remove the mappings in [@va, @va + @size).
 * @dev: the device.
 * @va: start, a page multiple.
 * @size: bytes, a non-zero page multiple.
 *
 * Waits until the jobs the client submitted before are done.
 *
 * Return: 0 or -EINVAL.
 */
int gaudi_vm_unbind(struct gaudi_device *dev, uint64_t va, uint64_t size);

/**
 * gaudi_va_alloc() - allocate a free range of the client's VA window.
 * @dev: the device.
 * @size: bytes, rounded up to pages.
 * @va: out: start of the range.
 *
 * Only ranges handed out here are tracked: a client that also picks addresses
 * itself should keep them away from the bottom of the window.
 *
 * Return: 0, -EINVAL for size 0, -ENOSPC.
 */
int gaudi_va_alloc(struct gaudi_device *dev, uint64_t size, uint64_t *va);

/**
 * gaudi_va_free() - return a range of gaudi_va_alloc().
 * @dev: the device.
 * @va: start of the range.
 * @size: its size.
 */
void gaudi_va_free(struct gaudi_device *dev, uint64_t va, uint64_t size);

/**
 * gaudi_buffer_create() - create, map and bind an object.
 * @dev: the device.
 * @size: bytes.
 * @bo_flags: GAUDI_BO_* creation flags.
 * @vm_flags: GAUDI_VM_READONLY or 0.
 * @buf: out: the buffer.
 *
 * Return: 0 or a negative errno.
 */
int gaudi_buffer_create(struct gaudi_device *dev, uint64_t size, uint32_t bo_flags,
			uint32_t vm_flags, struct gaudi_buffer *buf);

/**
 * gaudi_buffer_create_from() - gaudi_buffer_create() holding a copy of @data.
 * @dev: the device.
 * @data: @size bytes to copy in (a command buffer, a kernel, input data).
 * @size: bytes.
 * @bo_flags: GAUDI_BO_* creation flags.
 * @vm_flags: GAUDI_VM_READONLY or 0.
 * @buf: out: the buffer.
 *
 * Return: 0 or a negative errno.
 */
int gaudi_buffer_create_from(struct gaudi_device *dev, const void *data, size_t size,
			     uint32_t bo_flags, uint32_t vm_flags, struct gaudi_buffer *buf);

/**
 * gaudi_buffer_destroy() - unbind (waiting for the client's jobs), unmap and
 * close a buffer, and free its VA range.
 * @dev: the device.
 * @buf: the buffer; zeroed.
 */
void gaudi_buffer_destroy(struct gaudi_device *dev, struct gaudi_buffer *buf);

/* Contexts and jobs */

/**
 * gaudi_ctx_create() - create a context.
 * @dev: the device.
 * @priority: an enum gaudi_priority.
 * @ctx_id: out: the context's id.
 *
 * Return: 0, -EINVAL, or -ENOSPC when the device has no address space left.
 */
int gaudi_ctx_create(struct gaudi_device *dev, uint32_t priority, uint32_t *ctx_id);

/**
 * gaudi_ctx_destroy() - destroy a context; its jobs that did not start are cancelled.
 * @dev: the device.
 * @ctx_id: the context.
 *
 * Return: 0 or -ENOENT.
 */
int gaudi_ctx_destroy(struct gaudi_device *dev, uint32_t ctx_id);

/**
 * gaudi_ctx_query() - the state of a context.
 * @dev: the device.
 * @ctx_id: the context.
 * @state: out: the state.
 *
 * Return: 0 or -ENOENT.
 */
int gaudi_ctx_query(struct gaudi_device *dev, uint32_t ctx_id, struct gaudi_ctx_state *state);

/**
 * gaudi_submit() - queue a job.
 * @dev: the device.
 * @submit: the job.
 * @seqno: out: the job's sequence number on its context (may be NULL).
 *
 * Return: 0, -EINVAL, -ENOENT, -EFAULT, or -ECANCELED once the context is banned.
 */
int gaudi_submit(struct gaudi_device *dev, const struct gaudi_submit *submit, uint64_t *seqno);

/* Syncobjs */

/**
 * gaudi_syncobj_create() - create a syncobj.
 * @dev: the device.
 * @flags: GAUDI_SYNCOBJ_CREATE_SIGNALED or 0.
 * @handle: out: its handle.
 *
 * Return: 0 or a negative errno.
 */
int gaudi_syncobj_create(struct gaudi_device *dev, uint32_t flags, uint32_t *handle);

/**
 * gaudi_syncobj_destroy() - destroy a syncobj.
 * @dev: the device.
 * @handle: the syncobj.
 *
 * Return: 0 or -EINVAL.
 */
int gaudi_syncobj_destroy(struct gaudi_device *dev, uint32_t handle);

/**
 * gaudi_syncobj_wait() - wait for syncobjs or timeline points.
 * @dev: the device.
 * @handles: @count syncobjs.
 * @points: @count timeline points, or NULL for binary syncobjs.
 * @count: entries.
 * @timeout_ns: relative timeout in nanoseconds; 0 polls, negative waits forever.
 * @flags: GAUDI_SYNCOBJ_WAIT_*.
 *
 * A fence that signalled with an error counts as signalled: see
 * gaudi_syncobj_status().
 *
 * Return: 0, -ETIME on timeout, -EINVAL for a syncobj without fence (unless
 * GAUDI_SYNCOBJ_WAIT_FOR_SUBMIT).
 */
int gaudi_syncobj_wait(struct gaudi_device *dev, const uint32_t *handles, const uint64_t *points,
		       uint32_t count, int64_t timeout_ns, uint32_t flags);

/**
 * gaudi_syncobj_status() - the state of a binary syncobj's fence.
 * @dev: the device.
 * @handle: the syncobj.
 * @status: out: 1 signalled, 0 pending, or the negative errno the fence
 *          signalled with (-EIO for a job that faulted, -ECANCELED...).
 *
 * Return: 0, or -EINVAL if the syncobj has no fence.
 */
int gaudi_syncobj_status(struct gaudi_device *dev, uint32_t handle, int *status);

/* Command buffers */

/**
 * gaudi_cb_create() - an empty command buffer.
 *
 * Return: the command buffer, or NULL without memory.
 */
struct gaudi_cb *gaudi_cb_create(void);

/**
 * gaudi_cb_destroy() - free a command buffer.
 * @cb: the command buffer, or NULL.
 */
void gaudi_cb_destroy(struct gaudi_cb *cb);

/**
 * gaudi_cb_reset() - remove every packet.
 * @cb: the command buffer.
 */
void gaudi_cb_reset(struct gaudi_cb *cb);

/*
 * Packet builders. Each returns 0, or -EINVAL (and appends nothing) for
 * arguments the device would refuse; gaudi_cb_error() says why.
 */

/**
 * gaudi_cb_nop() - append a NOP.
 * @cb: the command buffer.
 * @len_words: length in 32-bit words, even, at least 2.
 *
 * Return: 0 or -EINVAL.
 */
int gaudi_cb_nop(struct gaudi_cb *cb, uint32_t len_words);

/**
 * gaudi_cb_fence() - append a FENCE: write @value (u64) to @addr once
 * everything before it is done.
 * @cb: the command buffer.
 * @addr: device address, 8-byte aligned.
 * @value: the value.
 * @irq: non-zero to raise the completion interrupt after the write.
 *
 * Return: 0 or -EINVAL.
 */
int gaudi_cb_fence(struct gaudi_cb *cb, uint64_t addr, uint64_t value, int irq);

/**
 * gaudi_cb_wait() - append a WAIT until the u64 at @addr is at least @target.
 * @cb: the command buffer.
 * @addr: device address, 8-byte aligned.
 * @target: the value to reach.
 *
 * Return: 0 or -EINVAL.
 */
int gaudi_cb_wait(struct gaudi_cb *cb, uint64_t addr, uint64_t target);

/**
 * gaudi_cb_dma_copy() - append a DMA copy.
 * @cb: the command buffer.
 * @src: source address.
 * @dst: destination address.
 * @size: bytes, at least 1.
 *
 * Return: 0 or -EINVAL.
 */
int gaudi_cb_dma_copy(struct gaudi_cb *cb, uint64_t src, uint64_t dst, uint64_t size);

/**
 * gaudi_cb_dma_fill() - append a DMA fill with a 32-bit pattern.
 * @cb: the command buffer.
 * @dst: destination address.
 * @size: bytes, at least 1.
 * @pattern: the pattern: byte i of the range gets byte i % 4 of its
 *           little-endian representation.
 *
 * Return: 0 or -EINVAL.
 */
int gaudi_cb_dma_fill(struct gaudi_cb *cb, uint64_t dst, uint64_t size, uint32_t pattern);

/**
 * gaudi_cb_gemm() - append an MME packet.
 * @cb: the command buffer.
 * @gemm: the multiplication.
 *
 * Return: 0 or -EINVAL (shapes, leading dimensions, alignment, flags).
 */
int gaudi_cb_gemm(struct gaudi_cb *cb, const struct gaudi_gemm *gemm);

/**
 * gaudi_cb_tpc_launch() - append a TPC_LAUNCH packet.
 * @cb: the command buffer.
 * @launch: the launch.
 *
 * Return: 0 or -EINVAL (code alignment and size, grid).
 */
int gaudi_cb_tpc_launch(struct gaudi_cb *cb, const struct gaudi_tpc_launch *launch);

/**
 * gaudi_cb_words() - the words built so far.
 * @cb: the command buffer.
 * @count: out: number of 32-bit words (may be NULL).
 *
 * Return: the words, valid until @cb changes.
 */
const uint32_t *gaudi_cb_words(const struct gaudi_cb *cb, size_t *count);

/**
 * gaudi_cb_size() - bytes of the command buffer.
 * @cb: the command buffer.
 *
 * Return: the size, the cb_size of struct gaudi_submit.
 */
size_t gaudi_cb_size(const struct gaudi_cb *cb);

/**
 * gaudi_cb_error() - why the last packet builder failed.
 * @cb: the command buffer.
 *
 * Return: a message valid until @cb changes, or "" after a success.
 */
const char *gaudi_cb_error(const struct gaudi_cb *cb);

/* TPC kernels */

/**
 * gaudi_tpc_assemble() - assemble a TPC kernel (syntax: Documentation/userspace.rst).
 * @source: NUL-terminated assembly text.
 * @error: buffer for "line N: message" on failure (may be NULL).
 * @error_size: bytes at @error.
 *
 * Return: the kernel, or NULL on an error.
 */
struct gaudi_tpc_program *gaudi_tpc_assemble(const char *source, char *error, size_t error_size);

/**
 * gaudi_tpc_code() - the instructions of a kernel.
 * @prog: the kernel.
 * @count: out: number of 64-bit instructions (may be NULL).
 *
 * Return: the instruction words; code_size of a launch is 8 * count.
 */
const uint64_t *gaudi_tpc_code(const struct gaudi_tpc_program *prog, size_t *count);

/**
 * gaudi_tpc_destroy() - free a kernel.
 * @prog: the kernel, or NULL.
 */
void gaudi_tpc_destroy(struct gaudi_tpc_program *prog);

/**
 * gaudi_tpc_disassemble() - a kernel as assembly text that assembles back to it.
 * @code: instruction words.
 * @count: their number.
 *
 * Return: a NUL-terminated string to free with gaudi_string_free(), or NULL.
 */
char *gaudi_tpc_disassemble(const uint64_t *code, size_t count);

/**
 * gaudi_string_free() - free a string returned by the library.
 * @s: the string, or NULL.
 */
void gaudi_string_free(char *s);

/*
 * The tensor runtime: fp32 matrices in device memory and operations on the
 * device's engines (MME for products, TPC kernels for the rest), queued as
 * command buffers that depend on each other through syncobjs. Operations
 * return once queued; gaudi_tensor_download() and gaudi_rt_sync() wait.
 * See Documentation/userspace.rst.
 */

/* A tensor runtime on one device. */
struct gaudi_rt;
/* A rows x cols fp32 matrix (row-major, dense) in device memory. */
struct gaudi_tensor;

/* Flags of gaudi_rt_matmul(). */
#define GAUDI_RT_TRANS_A	(1u << 0)	/* use the transpose of a */
#define GAUDI_RT_TRANS_B	(1u << 1)	/* use the transpose of b */
#define GAUDI_RT_RELU		(1u << 2)	/* clamp the result at zero */

/**
 * gaudi_rt_create() - a tensor runtime on a device.
 * @dev: the device; it must stay open until the runtime and its tensors are
 *	destroyed.
 * @rt: out: the runtime.
 *
 * Return: 0 or a negative errno.
 */
int gaudi_rt_create(struct gaudi_device *dev, struct gaudi_rt **rt);

/**
 * gaudi_rt_destroy() - wait for the runtime's work and free it.
 * @rt: the runtime, or NULL.
 */
void gaudi_rt_destroy(struct gaudi_rt *rt);

/**
 * gaudi_tensor_create() - a rows x cols tensor in device memory.
 * @rt: the runtime.
 * @rows: rows (at least 1).
 * @cols: columns (at least 1).
 * @t: out: the tensor (contents undefined until written).
 *
 * Return: 0 or a negative errno.
 */
int gaudi_tensor_create(struct gaudi_rt *rt, uint32_t rows, uint32_t cols,
			struct gaudi_tensor **t);

/**
 * gaudi_tensor_destroy() - free a tensor (waits for the jobs that use it).
 * @t: the tensor, or NULL.
 */
void gaudi_tensor_destroy(struct gaudi_tensor *t);

/**
 * gaudi_tensor_upload() - queue the copy of host values into a tensor.
 * @rt: the runtime.
 * @t: the tensor.
 * @values: rows * cols values, row-major.
 * @count: rows * cols (-EINVAL otherwise).
 *
 * Return: 0 or a negative errno.
 */
int gaudi_tensor_upload(struct gaudi_rt *rt, const struct gaudi_tensor *t,
			const float *values, size_t count);

/**
 * gaudi_tensor_download() - copy a tensor to the host once the work queued
 * before is done.
 * @rt: the runtime.
 * @t: the tensor.
 * @values: room for rows * cols values.
 * @count: rows * cols (-EINVAL otherwise).
 *
 * Return: 0 or a negative errno (-EIO with a failed job).
 */
int gaudi_tensor_download(struct gaudi_rt *rt, const struct gaudi_tensor *t,
			  float *values, size_t count);

/**
 * gaudi_rt_matmul() - queue c = op(a) * op(b) (+ bias) on the matrix engine.
 * @rt: the runtime.
 * @a: op(a) is m x k.
 * @b: op(b) is k x n.
 * @c: m x n result.
 * @bias: NULL or n values added to every row.
 * @flags: GAUDI_RT_TRANS_A, GAUDI_RT_TRANS_B, GAUDI_RT_RELU.
 *
 * Return: 0 or a negative errno (-EINVAL for shapes that do not agree).
 */
int gaudi_rt_matmul(struct gaudi_rt *rt, const struct gaudi_tensor *a,
		    const struct gaudi_tensor *b, const struct gaudi_tensor *c,
		    const struct gaudi_tensor *bias, uint32_t flags);

/**
 * gaudi_rt_softmax() - queue p = softmax(z) row by row (a TPC kernel).
 * @rt: the runtime.
 * @z: input.
 * @p: output, the shape of @z.
 *
 * Return: 0 or a negative errno.
 */
int gaudi_rt_softmax(struct gaudi_rt *rt, const struct gaudi_tensor *z,
		     const struct gaudi_tensor *p);

/**
 * gaudi_rt_argmax() - queue out[i] = index of the largest value of row i of z
 * (the first on ties), as a float (a TPC kernel).
 * @rt: the runtime.
 * @z: input.
 * @out: one value per row of @z.
 *
 * Return: 0 or a negative errno.
 */
int gaudi_rt_argmax(struct gaudi_rt *rt, const struct gaudi_tensor *z,
		    const struct gaudi_tensor *out);

/**
 * gaudi_rt_sync() - submit what is queued and wait until it is done.
 * @rt: the runtime.
 *
 * Return: 0 or a negative errno (-EIO with a failed job).
 */
int gaudi_rt_sync(struct gaudi_rt *rt);

#if defined(__cplusplus)
}
#endif

#endif /* GAUDI_GAUDI_H */
