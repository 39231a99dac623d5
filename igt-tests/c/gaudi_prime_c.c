// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gaudi_prime_c: buffer objects and PRIME on the gaudi accel node through Debian's libdrm, as
 * a C client sees them.
 *
 * The node under test comes from ACCEL_DEVICE (default /dev/accel/accel0). libdrm's plain
 * wrappers (drmGetVersion, drmGetCap, drmIoctl, drmPrime*, drmCloseBufferHandle) work on accel
 * files; its device enumeration does not, and is not used.
 *
 * The binary speaks IGT's test protocol so that igt_runner runs it with the other tests:
 * --list-subtests; --run-subtest with a comma-separated list of glob patterns, where a leading
 * '!' excludes and the last matching pattern decides; every subtest when run without it;
 * "Starting subtest: NAME" and "Subtest NAME: RESULT (1.234s)" on stdout, repeated on stderr
 * when IGT_SENTINEL_ON_STDERR is set; "<6>[IGT] gaudi_prime_c: ..." records in /dev/kmsg;
 * exit status 0 (a subtest passed, none failed), 77 (all skipped), 98 (a failure) or 79 (bad
 * command line, or no subtest matches).
 */

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <xf86drm.h>

#include "gaudi_accel.h"

#define EXIT_OK 0
#define EXIT_SKIPPED 77
#define EXIT_INVALID 79
#define EXIT_FAILED 98

enum result { SUCCESS, FAIL, SKIP };

static const char *const result_names[] = { "SUCCESS", "FAIL", "SKIP" };
static const char *command = "gaudi_prime_c";

static void kmsg(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* One write is one record; there is nothing to do if it fails. */
	if (n > 0) {
		ssize_t w = write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);

		(void)w;
	}
	close(fd);
}

/* Failure report in the form of IGT's __igt_fail_assert(), on stderr. */
static void report(const char *func, int line, const char *cond, int err, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "(%s:%d) CRITICAL: Test assertion failure function %s, file %s:%d:\n",
		command, (int)getpid(), func, __FILE__, line);
	fprintf(stderr, "(%s:%d) CRITICAL: Failed assertion: %s\n", command, (int)getpid(), cond);
	if (err)
		fprintf(stderr, "(%s:%d) CRITICAL: Last errno: %d, %s\n", command, (int)getpid(),
			err, strerror(err));
	if (fmt) {
		fprintf(stderr, "(%s:%d) CRITICAL: ", command, (int)getpid());
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
}

/* Fails the subtest (after running the cleanup at label "out") unless cond holds. */
#define check(cond, ...)                                                            \
	do {                                                                        \
		if (!(cond)) {                                                      \
			report(__func__, __LINE__, #cond, errno, __VA_ARGS__);     \
			ret = FAIL;                                                 \
			goto out;                                                   \
		}                                                                   \
	} while (0)

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
	if (flags & DRM_GAUDI_BO_DEVICE && before.dram_free < 3 * 4096) {
		printf("Test requirement not met: device memory free\n");
		ret = SKIP;
		goto out;
	}
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

static const struct subtest {
	const char *name;
	enum result (*run)(void);
} subtests[] = {
	{ "version", test_version },
	{ "prime-cap", test_prime_cap },
	{ "prime-round-trip-system", test_prime_system },
	{ "prime-round-trip-wc", test_prime_wc },
	{ "prime-round-trip-device", test_prime_device },
	{ "close-closed-handle", test_close_closed_handle },
	{ "import-bad-fd", test_import_bad_fd },
};

#define N_SUBTESTS (sizeof(subtests) / sizeof(subtests[0]))

/* Whether NAME is selected by EXPR: comma-separated globs, '!' excludes, the last match wins. */
static bool selected(const char *name, const char *expr)
{
	char *copy = strdup(expr), *save = NULL, *pat;
	bool match = false;

	if (!copy)
		return false;
	for (pat = strtok_r(copy, ",", &save); pat; pat = strtok_r(NULL, ",", &save)) {
		bool neg = pat[0] == '!';

		if (fnmatch(neg ? pat + 1 : pat, name, 0) == 0)
			match = !neg;
	}
	free(copy);
	return match;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sentinel(bool on, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	if (on) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
}

static void usage(void)
{
	fprintf(stderr, "Usage: %s [--list-subtests] [--run-subtest <pattern>]\n", command);
}

int main(int argc, char **argv)
{
	bool list = false, on_stderr = getenv("IGT_SENTINEL_ON_STDERR") != NULL;
	bool passed = false, failed = false, skipped = false, found = false;
	const char *run = NULL;
	int code;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--list-subtests") == 0) {
			list = true;
		} else if (strcmp(argv[i], "--run-subtest") == 0 && i + 1 < argc) {
			run = argv[++i];
		} else if (strncmp(argv[i], "--run-subtest=", 14) == 0) {
			run = argv[i] + 14;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage();
			return EXIT_OK;
		} else {
			fprintf(stderr, "%s: unknown option %s\n", command, argv[i]);
			usage();
			return EXIT_INVALID;
		}
	}

	if (list) {
		for (size_t i = 0; i < N_SUBTESTS; i++)
			if (!run || selected(subtests[i].name, run))
				printf("%s\n", subtests[i].name);
		return EXIT_OK;
	}

	kmsg("<6>[IGT] %s: executing\n", command);
	for (size_t i = 0; i < N_SUBTESTS; i++) {
		const char *name = subtests[i].name;
		enum result r;
		double start;

		if (run && !selected(name, run))
			continue;
		found = true;
		kmsg("<6>[IGT] %s: starting subtest %s\n", command, name);
		sentinel(on_stderr, "Starting subtest: %s\n", name);
		start = now();
		r = subtests[i].run();
		if (r == FAIL) {
			fflush(stdout);
			fprintf(stderr, "Subtest %s failed.\nNo log.\n", name);
		}
		sentinel(on_stderr, "Subtest %s: %s (%.3fs)\n", name, result_names[r], now() - start);
		kmsg("<6>[IGT] %s: finished subtest %s, %s\n", command, name, result_names[r]);
		passed |= r == SUCCESS;
		failed |= r == FAIL;
		skipped |= r == SKIP;
	}
	if (!found) {
		fprintf(stderr, "Unknown subtest: %s\n", run ? run : "");
		return EXIT_INVALID;
	}
	code = failed ? EXIT_FAILED : passed ? EXIT_OK : EXIT_SKIPPED;
	kmsg("<6>[IGT] %s: exiting, ret=%d\n", command, code);
	return code;
}
