// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gaudi_compat32: a 32-bit process on the accel node, through the kernel's compat ioctl path
 * (drm_compat_ioctl(): translated layouts for the core requests that hold pointers or longs,
 * the driver's requests passed through unchanged).
 *
 * Built static with gcc -m32 against uapi/gaudi_accel.h and raw ioctls only. The uapi structs
 * are compat-clean if every __u64 member sits at a multiple of 8 and every size is a multiple
 * of 8: then i386, which aligns __u64 to 4, lays them out exactly as x86-64 does. That is
 * checked at compile time below; the subtests then run a subset of the suite: version, the
 * master requests, capabilities, objects with mappings, PRIME, the VM, a context with a job
 * and syncobjs, and the memory counters back at their start.
 *
 * The node under test comes from ACCEL_DEVICE (default /dev/accel/accel0).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "gaudi_accel.h"
#include "igt_c.h"

_Static_assert(sizeof(void *) == 4, "gaudi_compat32 is a 32-bit program");

#define U64_AT(type, member) \
	_Static_assert(offsetof(struct type, member) % 8 == 0, #type "." #member " misaligned")
#define SIZE8(type) _Static_assert(sizeof(struct type) % 8 == 0, #type " size not 8-aligned")

SIZE8(drm_gaudi_device_info);
SIZE8(drm_gaudi_memory_info);
U64_AT(drm_gaudi_memory_info, dram_size);
U64_AT(drm_gaudi_memory_info, dram_free);
U64_AT(drm_gaudi_memory_info, bo_count);
U64_AT(drm_gaudi_memory_info, bo_bytes);
SIZE8(drm_gaudi_query);
U64_AT(drm_gaudi_query, pointer);
SIZE8(drm_gaudi_gem_create);
U64_AT(drm_gaudi_gem_create, size);
SIZE8(drm_gaudi_gem_info);
U64_AT(drm_gaudi_gem_info, size);
U64_AT(drm_gaudi_gem_info, pad);
SIZE8(drm_gaudi_gem_mmap_offset);
U64_AT(drm_gaudi_gem_mmap_offset, offset);
SIZE8(drm_gaudi_vm_bind);
U64_AT(drm_gaudi_vm_bind, bo_offset);
U64_AT(drm_gaudi_vm_bind, va);
U64_AT(drm_gaudi_vm_bind, size);
SIZE8(drm_gaudi_ctx_create);
SIZE8(drm_gaudi_ctx_destroy);
SIZE8(drm_gaudi_submit_bo);
SIZE8(drm_gaudi_sync);
U64_AT(drm_gaudi_sync, point);
SIZE8(drm_gaudi_submit);
U64_AT(drm_gaudi_submit, cb_addr);
U64_AT(drm_gaudi_submit, bos);
U64_AT(drm_gaudi_submit, in_syncs);
U64_AT(drm_gaudi_submit, out_syncs);
U64_AT(drm_gaudi_submit, seqno);
SIZE8(drm_gaudi_ctx_query);
U64_AT(drm_gaudi_ctx_query, error_seqno);
U64_AT(drm_gaudi_ctx_query, fault_addr);
U64_AT(drm_gaudi_ctx_query, error_packet);
U64_AT(drm_gaudi_ctx_query, completed);

/* Packet encoding of the device (Documentation/device-spec.rst): a NOP of two words. */
#define OP_NOP 0x00u
#define NOP_HEADER(len) (OP_NOP | ((uint32_t)(len) << 16))

static int open_node(void)
{
	const char *path = getenv("ACCEL_DEVICE");

	return open(path ? path : "/dev/accel/accel0", O_RDWR | O_CLOEXEC);
}

static int xioctl(int fd, unsigned long request, void *arg)
{
	int r;

	do {
		r = ioctl(fd, request, arg);
	} while (r == -1 && (errno == EINTR || errno == EAGAIN));
	return r ? -errno : 0;
}

static int memory_info(int fd, struct drm_gaudi_memory_info *mem)
{
	struct drm_gaudi_query q = {
		.type = DRM_GAUDI_QUERY_MEMORY,
		.size = sizeof(*mem),
		.pointer = (uintptr_t)mem,
	};

	memset(mem, 0, sizeof(*mem));
	return xioctl(fd, DRM_IOCTL_GAUDI_QUERY, &q);
}

static int gem_create(int fd, uint64_t size, uint32_t flags, uint32_t *handle)
{
	struct drm_gaudi_gem_create c = { .size = size, .flags = flags };
	int r = xioctl(fd, DRM_IOCTL_GAUDI_GEM_CREATE, &c);

	*handle = c.handle;
	return r;
}

static void gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	xioctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

static enum result test_version(void)
{
	enum result ret = SUCCESS;
	char name[32] = "", date[32] = "", desc[128] = "";
	/* struct drm_version holds size_t lengths and pointers: translated by the compat path. */
	struct drm_version v = {
		.name_len = sizeof(name) - 1, .name = name,
		.date_len = sizeof(date) - 1, .date = date,
		.desc_len = sizeof(desc) - 1, .desc = desc,
	};
	int fd = open_node();

	check(fd >= 0, "cannot open the accel node");
	check(xioctl(fd, DRM_IOCTL_VERSION, &v) == 0, "DRM_IOCTL_VERSION");
	check(strcmp(name, "gaudi") == 0, "driver name %s", name);
	check(desc[0] && date[0], "no description or date");
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static enum result test_master_requests(void)
{
	enum result ret = SUCCESS;
	char buf[64];
	struct drm_unique u = { .unique_len = sizeof(buf), .unique = buf };
	struct drm_auth auth = { 0 };
	int fd = open_node();

	check(fd >= 0, "cannot open the accel node");
	/* compat_drm_getunique() reaches drm_getunique(): no master, EOPNOTSUPP. */
	check(xioctl(fd, DRM_IOCTL_GET_UNIQUE, &u) == -EOPNOTSUPP, "GET_UNIQUE");
	check(xioctl(fd, DRM_IOCTL_GET_MAGIC, &auth) == -EOPNOTSUPP, "GET_MAGIC");
	check(xioctl(fd, DRM_IOCTL_AUTH_MAGIC, &auth) == -EACCES, "AUTH_MAGIC");
	check(xioctl(fd, DRM_IOCTL_SET_MASTER, NULL) == -EINVAL, "SET_MASTER");
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static enum result test_get_cap(void)
{
	enum result ret = SUCCESS;
	struct drm_get_cap cap = { .capability = DRM_CAP_PRIME };
	int fd = open_node();

	check(fd >= 0, "cannot open the accel node");
	check(xioctl(fd, DRM_IOCTL_GET_CAP, &cap) == 0, "GET_CAP");
	check(cap.value == (DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT), "PRIME %llu",
	      (unsigned long long)cap.value);
	cap.capability = DRM_CAP_SYNCOBJ_TIMELINE;
	check(xioctl(fd, DRM_IOCTL_GET_CAP, &cap) == 0 && cap.value == 1, "timeline syncobjs");
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Objects of each kind: info, a 32-bit mapping written and read back, PRIME round trip. */
static enum result test_objects(void)
{
	static const uint32_t kinds[] = { 0, DRM_GAUDI_BO_WC, DRM_GAUDI_BO_DEVICE };
	enum result ret = SUCCESS;
	struct drm_gaudi_memory_info before, after;
	uint32_t handle = 0, imported = 0;
	void *map = MAP_FAILED;
	const size_t size = 256 << 10;
	int fd = open_node(), fd2 = -1;

	check(fd >= 0, "cannot open the accel node");
	fd2 = open_node();
	check(fd2 >= 0, "cannot open the accel node again");
	check(memory_info(fd, &before) == 0, "QUERY memory");
	for (unsigned int k = 0; k < 3; k++) {
		struct drm_gaudi_gem_info info = { 0 };
		struct drm_gaudi_gem_mmap_offset m = { 0 };
		struct drm_prime_handle p = { .flags = DRM_CLOEXEC | DRM_RDWR, .fd = -1 };

		check(gem_create(fd, size, kinds[k], &handle) == 0, "GEM_CREATE %#x", kinds[k]);
		info.handle = handle;
		check(xioctl(fd, DRM_IOCTL_GAUDI_GEM_INFO, &info) == 0, "GEM_INFO");
		check(info.size == size && info.flags == kinds[k], "GEM_INFO %llu %#x",
		      (unsigned long long)info.size, info.flags);
		m.handle = handle;
		check(xioctl(fd, DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET, &m) == 0, "GEM_MMAP_OFFSET");
		/* The fake offset is above 4 GiB: mmap64 takes it whole. */
		map = mmap64(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off64_t)m.offset);
		check(map != MAP_FAILED, "mmap64 at %#llx", (unsigned long long)m.offset);
		for (size_t i = 0; i < size / 4; i += 1024)
			((volatile uint32_t *)map)[i] = (uint32_t)i ^ 0x5a5a5a5a;
		p.handle = handle;
		check(xioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p) == 0, "PRIME_HANDLE_TO_FD");
		p.handle = 0;
		check(xioctl(fd2, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p) == 0, "PRIME_FD_TO_HANDLE");
		imported = p.handle;
		close(p.fd);
		munmap(map, size);
		map = MAP_FAILED;
		/* The import maps the same pages. */
		memset(&m, 0, sizeof(m));
		m.handle = imported;
		check(xioctl(fd2, DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET, &m) == 0, "mmap offset of the import");
		map = mmap64(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, (off64_t)m.offset);
		check(map != MAP_FAILED, "mmap64 of the import");
		for (size_t i = 0; i < size / 4; i += 1024)
			check(((volatile uint32_t *)map)[i] == ((uint32_t)i ^ 0x5a5a5a5a),
			      "word %zu of the import", i);
		munmap(map, size);
		map = MAP_FAILED;
		gem_close(fd2, imported);
		imported = 0;
		gem_close(fd, handle);
		handle = 0;
	}
	check(memory_info(fd, &after) == 0, "QUERY memory");
	check(after.bo_count == before.bo_count && after.bo_bytes == before.bo_bytes &&
		      after.dram_free == before.dram_free,
	      "memory not returned");
out:
	if (map != MAP_FAILED)
		munmap(map, size);
	if (fd2 >= 0)
		close(fd2);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A context, a command buffer bound in the VM, a job signalling a binary and a timeline syncobj. */
static enum result test_submit(void)
{
	enum result ret = SUCCESS;
	struct drm_gaudi_ctx_create cc = { .priority = DRM_GAUDI_PRIORITY_NORMAL };
	struct drm_gaudi_ctx_query cq = { 0 };
	struct drm_syncobj_create s1 = { 0 }, s2 = { 0 };
	uint32_t handle = 0, handles[2];
	uint64_t points[2] = { 0, 3 };
	uint32_t *cb = MAP_FAILED;
	int fd = open_node();

	check(fd >= 0, "cannot open the accel node");
	check(xioctl(fd, DRM_IOCTL_GAUDI_CTX_CREATE, &cc) == 0, "CTX_CREATE");
	check(gem_create(fd, 4096, 0, &handle) == 0, "GEM_CREATE");
	{
		struct drm_gaudi_gem_mmap_offset m = { .handle = handle };

		check(xioctl(fd, DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET, &m) == 0, "GEM_MMAP_OFFSET");
		cb = mmap64(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off64_t)m.offset);
		check(cb != MAP_FAILED, "mmap64");
	}
	cb[0] = NOP_HEADER(2);
	cb[1] = 0;
	{
		struct drm_gaudi_vm_bind b = {
			.op = DRM_GAUDI_VM_BIND_OP_MAP,
			.handle = handle,
			.va = DRM_GAUDI_VA_START,
			.size = 4096,
		};

		check(xioctl(fd, DRM_IOCTL_GAUDI_VM_BIND, &b) == 0, "VM_BIND");
	}
	check(xioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &s1) == 0, "SYNCOBJ_CREATE");
	check(xioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &s2) == 0, "SYNCOBJ_CREATE");
	{
		struct drm_gaudi_submit_bo bos[1] = { { .handle = handle,
							 .flags = DRM_GAUDI_SUBMIT_BO_READ } };
		struct drm_gaudi_sync outs[2] = { { .handle = s1.handle },
						  { .handle = s2.handle, .point = 3 } };
		struct drm_gaudi_submit s = {
			.ctx_id = cc.ctx_id,
			.cb_addr = DRM_GAUDI_VA_START,
			.cb_size = 8,
			.bo_count = 1,
			.bos = (uintptr_t)bos,
			.out_sync_count = 2,
			.out_syncs = (uintptr_t)outs,
		};

		check(xioctl(fd, DRM_IOCTL_GAUDI_SUBMIT, &s) == 0, "SUBMIT");
		check(s.seqno == 1, "seqno %llu", (unsigned long long)s.seqno);
	}
	handles[0] = s1.handle;
	handles[1] = s2.handle;
	{
		struct drm_syncobj_timeline_wait w = {
			.handles = (uintptr_t)handles,
			.points = (uintptr_t)points,
			.timeout_nsec = now_ns() + 20 * 1000000000LL,
			.count_handles = 2,
			.flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
		};

		check(xioctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w) == 0, "TIMELINE_WAIT");
	}
	cq.ctx_id = cc.ctx_id;
	check(xioctl(fd, DRM_IOCTL_GAUDI_CTX_QUERY, &cq) == 0, "CTX_QUERY");
	check(cq.state == DRM_GAUDI_CTX_STATE_OK && cq.completed == 1, "state %u completed %llu",
	      cq.state, (unsigned long long)cq.completed);
	{
		struct drm_gaudi_ctx_destroy d = { .ctx_id = cc.ctx_id };

		check(xioctl(fd, DRM_IOCTL_GAUDI_CTX_DESTROY, &d) == 0, "CTX_DESTROY");
	}
out:
	if (cb != MAP_FAILED)
		munmap(cb, 4096);
	if (fd >= 0)
		close(fd);
	return ret;
}

static const struct subtest subtests[] = {
	{ "version", test_version },
	{ "master-requests", test_master_requests },
	{ "get-cap", test_get_cap },
	{ "objects", test_objects },
	{ "submit", test_submit },
};

int main(int argc, char **argv)
{
	return igt_c_main("gaudi_compat32", subtests, sizeof(subtests) / sizeof(subtests[0]), argc,
			  argv);
}
