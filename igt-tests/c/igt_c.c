// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * IGT's test protocol for the C tests; see igt_c.h.
 */

#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "igt_c.h"

static const char *const result_names[] = { "SUCCESS", "FAIL", "SKIP" };
static const char *command = "igt_c";

static void kmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

void igt_c_report(const char *func, const char *file, int line, const char *cond, int err,
		  const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "(%s:%d) CRITICAL: Test assertion failure function %s, file %s:%d:\n",
		command, (int)getpid(), func, file, line);
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

void igt_c_skip(const char *fmt, ...)
{
	va_list ap;

	printf("Test requirement not met: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

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

static void sentinel(bool on, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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

int igt_c_main(const char *cmd, const struct subtest *subtests, unsigned int n, int argc,
	       char **argv)
{
	bool list = false, on_stderr = getenv("IGT_SENTINEL_ON_STDERR") != NULL;
	bool passed = false, failed = false, skipped = false, found = false;
	const char *run = NULL;
	int code;

	command = cmd;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--list-subtests") == 0) {
			list = true;
		} else if (strcmp(argv[i], "--run-subtest") == 0 && i + 1 < argc) {
			run = argv[++i];
		} else if (strncmp(argv[i], "--run-subtest=", 14) == 0) {
			run = argv[i] + 14;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage();
			return 0;
		} else {
			fprintf(stderr, "%s: unknown option %s\n", command, argv[i]);
			usage();
			return 79;
		}
	}

	if (list) {
		for (unsigned int i = 0; i < n; i++)
			if (!run || selected(subtests[i].name, run))
				printf("%s\n", subtests[i].name);
		return 0;
	}

	kmsg("<6>[IGT] %s: executing\n", command);
	for (unsigned int i = 0; i < n; i++) {
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
		return 79;
	}
	code = failed ? 98 : passed ? 0 : 77;
	kmsg("<6>[IGT] %s: exiting, ret=%d\n", command, code);
	return code;
}
