// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gaudi_prime_c: buffer objects and PRIME on the gaudi accel node through Debian's libdrm, as
 * a C client sees them.
 *
 * The node under test comes from ACCEL_DEVICE (default /dev/accel/accel0). libdrm's plain
 * wrappers (drmGetVersion, drmGetCap, drmIoctl, drmPrime*, drmCloseBufferHandle) work on accel
 * files; its device enumeration does not, and is not used.
 *
 * The binary speaks IGT's test protocol (igt_c.h), so that igt_runner runs it with the
 * other tests.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <xf86drm.h>

#include "gaudi_accel.h"
#include "igt_c.h"

struct bo {
	uint32_t handle;
	uint64_t size;
};

static int open_node(void)
{
	const char *path = getenv("ACCEL_DEVICE");

	return open(path ? path : "/dev/accel/accel0", O_RDWR | O_CLOEXEC);
}

static int gem_create(int fd, uint64_t size, uint32_t flags, struct bo *bo)
{
	struct drm_gaudi_gem_create c = { .size = size, .flags = flags };

	if (drmIoctl(fd, DRM_IOCTL_GAUDI_GEM_CREATE, &c))
		return -errno;
	bo->handle = c.handle;
	bo->size = c.size;
	return 0;
}

static int gem_info(int fd, uint32_t handle, struct drm_gaudi_gem_info *info)
{
	memset(info, 0, sizeof(*info));
	info->handle = handle;
	return drmIoctl(fd, DRM_IOCTL_GAUDI_GEM_INFO, info) ? -errno : 0;
}

static void *gem_mmap(int fd, const struct bo *bo)
{
	struct drm_gaudi_gem_mmap_offset m = { .handle = bo->handle };

	if (drmIoctl(fd, DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET, &m))
		return MAP_FAILED;
	return mmap(NULL, bo->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)m.offset);
}

static int memory_info(int fd, struct drm_gaudi_memory_info *mem)
{
	struct drm_gaudi_query q = {
		.type = DRM_GAUDI_QUERY_MEMORY,
		.size = sizeof(*mem),
		.pointer = (uintptr_t)mem,
	};

	memset(mem, 0, sizeof(*mem));
	if (drmIoctl(fd, DRM_IOCTL_GAUDI_QUERY, &q))
		return -errno;
	return q.size == sizeof(*mem) ? 0 : -EPROTO;
}

static void fill(uint32_t *p, uint64_t size, uint32_t seed)
{
	for (uint64_t i = 0; i < size / 4; i++)
		p[i] = seed ^ (uint32_t)(i * 2654435761u);
}

/* Offset of the first word that differs from fill()'s pattern, or -1. */
static int64_t mismatch(const uint32_t *p, uint64_t size, uint32_t seed)
{
	for (uint64_t i = 0; i < size / 4; i++)
		if (p[i] != (seed ^ (uint32_t)(i * 2654435761u)))
			return (int64_t)(i * 4);
	return -1;
}

static int dma_buf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return drmIoctl(fd, DMA_BUF_IOCTL_SYNC, &s) ? -errno : 0;
}

static enum result test_version(void)
{
	enum result ret = SUCCESS;
	drmVersionPtr v = NULL;
	int fd = open_node();

	check(fd >= 0, "cannot open the accel node");
	v = drmGetVersion(fd);
	check(v, "drmGetVersion");
	check(v->name && strcmp(v->name, "gaudi") == 0, "driver %s", v->name ? v->name : "(null)");
	check(v->desc && v->desc[0], "no description");
out:
	if (v)
		drmFreeVersion(v);
	if (fd >= 0)
		close(fd);
	return ret;
}

static enum result test_prime_cap(void)
{
	enum result ret = SUCCESS;
	uint64_t value = 0;
	int fd = open_node();

	check(fd >= 0, "cannot open the accel node");
	check(drmGetCap(fd, DRM_CAP_PRIME, &value) == 0, "drmGetCap(DRM_CAP_PRIME)");
	check((value & (DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT)) ==
		      (DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT),
	      "DRM_CAP_PRIME is %#llx", (unsigned long long)value);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Create, map and fill an object; export it and import it on the same file (same handle);
 * map the dma-buf and find the data; close the handle; the dma-buf mapping still works and
 * everything is freed once it goes.
 */
static enum result prime_round_trip(uint32_t flags, uint32_t seed)
{
	struct drm_gaudi_memory_info before, after;
	struct drm_gaudi_gem_info info;
	enum result ret = SUCCESS;
	struct bo bo = { 0 };
	uint32_t handle = 0;
	void *map = MAP_FAILED, *dmap = MAP_FAILED;
	int fd = open_node(), prime = -1, err;

	check(fd >= 0, "cannot open the accel node");
	check(memory_info(fd, &before) == 0, "DRM_GAUDI_QUERY_MEMORY");
	/* Every test returns what it takes: too little free memory is a leak, not a skip. */
	check(!(flags & DRM_GAUDI_BO_DEVICE) || before.dram_free >= 4 * 4096,
	      "%llu bytes of device memory free", (unsigned long long)before.dram_free);
	err = gem_create(fd, 3 * 4096 + 5, flags, &bo);
	check(err == 0, "DRM_IOCTL_GAUDI_GEM_CREATE: %s", strerror(-err));
	check(bo.size == 4 * 4096, "size %llu", (unsigned long long)bo.size);
	map = gem_mmap(fd, &bo);
	check(map != MAP_FAILED, "mmap through GEM_MMAP_OFFSET");
	fill(map, bo.size, seed);

	check(drmPrimeHandleToFD(fd, bo.handle, DRM_CLOEXEC | DRM_RDWR, &prime) == 0,
	      "drmPrimeHandleToFD");
	check(prime >= 0, "no fd");
	check(drmPrimeFDToHandle(fd, prime, &handle) == 0, "drmPrimeFDToHandle");
	check(handle == bo.handle, "self-import gave handle %u for %u", handle, bo.handle);
	check(gem_info(fd, bo.handle, &info) == 0, "GEM_INFO");
	check(info.flags == flags && info.size == bo.size, "flags %#x size %llu", info.flags,
	      (unsigned long long)info.size);

	dmap = mmap(NULL, bo.size, PROT_READ | PROT_WRITE, MAP_SHARED, prime, 0);
	check(dmap != MAP_FAILED, "mmap of the dma-buf");
	check(dma_buf_sync(prime, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) == 0, "SYNC_START");
	check(mismatch(dmap, bo.size, seed) < 0, "dma-buf data differs at %lld",
	      (long long)mismatch(dmap, bo.size, seed));
	check(dma_buf_sync(prime, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) == 0, "SYNC_END");

	check(drmCloseBufferHandle(fd, bo.handle) == 0, "drmCloseBufferHandle");
	check(gem_info(fd, bo.handle, &info) == -ENOENT, "GEM_INFO of a closed handle");
	bo.handle = 0;
	munmap(map, bo.size);
	map = MAP_FAILED;
	close(prime);
	prime = -1;

	/* Only the dma-buf mapping holds the object now. */
	fill(dmap, bo.size, seed + 1);
	check(mismatch(dmap, bo.size, seed + 1) < 0, "dma-buf mapping after every close");
	check(memory_info(fd, &after) == 0, "DRM_GAUDI_QUERY_MEMORY");
	check(after.bo_count == before.bo_count + 1, "object freed while mapped");
	munmap(dmap, bo.size);
	dmap = MAP_FAILED;
	check(memory_info(fd, &after) == 0, "DRM_GAUDI_QUERY_MEMORY");
	check(after.bo_count == before.bo_count && after.bo_bytes == before.bo_bytes &&
		      after.dram_free == before.dram_free,
	      "memory not returned: %llu objects, %llu bytes, %llu free; was %llu, %llu, %llu",
	      (unsigned long long)after.bo_count, (unsigned long long)after.bo_bytes,
	      (unsigned long long)after.dram_free, (unsigned long long)before.bo_count,
	      (unsigned long long)before.bo_bytes, (unsigned long long)before.dram_free);
out:
	if (dmap != MAP_FAILED)
		munmap(dmap, bo.size);
	if (map != MAP_FAILED)
		munmap(map, bo.size);
	if (prime >= 0)
		close(prime);
	if (fd >= 0)
		close(fd);
	return ret;
}

static enum result test_prime_system(void)
{
	return prime_round_trip(0, 0x5eed0001);
}

static enum result test_prime_wc(void)
{
	return prime_round_trip(DRM_GAUDI_BO_WC, 0x5eed0002);
}

static enum result test_prime_device(void)
{
	return prime_round_trip(DRM_GAUDI_BO_DEVICE, 0x5eed0003);
}

static enum result test_close_closed_handle(void)
{
	enum result ret = SUCCESS;
	struct bo bo = { 0 };
	int fd = open_node(), err;

	check(fd >= 0, "cannot open the accel node");
	err = gem_create(fd, 4096, 0, &bo);
	check(err == 0, "DRM_IOCTL_GAUDI_GEM_CREATE: %s", strerror(-err));
	check(drmCloseBufferHandle(fd, bo.handle) == 0, "first close");
	errno = 0;
	check(drmCloseBufferHandle(fd, bo.handle) != 0, "second close succeeded");
	check(errno == EINVAL, "second close: errno %d", errno);
	errno = 0;
	check(drmCloseBufferHandle(fd, 0xffffffff) != 0 && errno == EINVAL,
	      "close of an unknown handle");
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static enum result test_import_bad_fd(void)
{
	enum result ret = SUCCESS;
	uint32_t handle = 0;
	int fd = open_node(), null = -1, prime = -1;

	check(fd >= 0, "cannot open the accel node");
	errno = 0;
	check(drmPrimeFDToHandle(fd, -1, &handle) != 0, "import of fd -1 succeeded");
	check(errno == EBADF, "import of fd -1: errno %d", errno);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	check(null >= 0, "open /dev/null");
	errno = 0;
	check(drmPrimeFDToHandle(fd, null, &handle) != 0 && errno == EINVAL,
	      "import of /dev/null: errno %d", errno);
	errno = 0;
	check(drmPrimeHandleToFD(fd, 0xffffffff, DRM_CLOEXEC, &prime) != 0 && errno == ENOENT,
	      "export of an unknown handle: errno %d", errno);
out:
	if (prime >= 0)
		close(prime);
	if (null >= 0)
		close(null);
	if (fd >= 0)
		close(fd);
	return ret;
}

static const struct subtest subtests[] = {
	{ "version", test_version },
	{ "prime-cap", test_prime_cap },
	{ "prime-round-trip-system", test_prime_system },
	{ "prime-round-trip-wc", test_prime_wc },
	{ "prime-round-trip-device", test_prime_device },
	{ "close-closed-handle", test_close_closed_handle },
	{ "import-bad-fd", test_import_bad_fd },
};

int main(int argc, char **argv)
{
	return igt_c_main("gaudi_prime_c", subtests, sizeof(subtests) / sizeof(subtests[0]), argc,
			  argv);
}
