/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * IGT's test protocol for the C tests: each binary lists its subtests in a
 * table and calls igt_c_main().
 *
 * The protocol, as igt_runner expects it: --list-subtests; --run-subtest with
 * a comma-separated list of glob patterns, where a leading '!' excludes and
 * the last matching pattern decides; every subtest when run without it;
 * "Starting subtest: NAME" and "Subtest NAME: RESULT (1.234s)" on stdout,
 * repeated on stderr when IGT_SENTINEL_ON_STDERR is set;
 * "<6>[IGT] BINARY: ..." records in /dev/kmsg; exit status 0 (a subtest
 * passed, none failed), 77 (all skipped), 98 (a failure) or 79 (bad command
 * line, or no subtest matches).
 */
#ifndef IGT_C_H
#define IGT_C_H

#include <errno.h>

enum result { SUCCESS, FAIL, SKIP };

/**
 * struct subtest - one subtest of a binary.
 * @name: its name.
 * @run: runs it.
 */
struct subtest {
	const char *name;
	enum result (*run)(void);
};

/* Failure report in the form of IGT's __igt_fail_assert(), on stderr. */
void igt_c_report(const char *func, const char *file, int line, const char *cond, int err,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The requirement message of a skip, on stdout. */
void igt_c_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs the binary @command with the @n subtests of @subtests; returns the exit status. */
int igt_c_main(const char *command, const struct subtest *subtests, unsigned int n, int argc,
	       char **argv);

/* Fails the subtest (after running the cleanup at label "out") unless cond holds. */
#define check(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			igt_c_report(__func__, __FILE__, __LINE__, #cond, errno, __VA_ARGS__); \
			ret = FAIL;                                                        \
			goto out;                                                          \
		}                                                                          \
	} while (0)

#endif /* IGT_C_H */
