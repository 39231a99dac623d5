#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the conformance suite under igt_runner once per accel node given as
# argument. The real IGT core tests reach the node through a /dev/dri/card0
# character device with the accel major and the node's minor; our tests get
# the node in ACCEL_DEVICE.
#
# The runner works in multiple mode (-m): one process per binary rather than
# per subtest, which saves about two seconds per subtest under TCG. The
# driver-agnostic syncobj tests run because the driver enables syncobjs.
# Their *snapshot subtests are excluded: they race a helper thread
# against a short timeout that a TCG guest with KASAN does not meet (they
# failed intermittently with ETIME on one node or the other, never in the
# kernel).

IGT=/usr/libexec/igt-gpu-tools
ROOT=/tmp/igt-root
mkdir -p "$ROOT"
tests="core_getversion core_getclient syncobj_basic syncobj_wait syncobj_timeline syncobj_eventfd"
for t in $tests; do
	ln -sf "$IGT/$t" "$ROOT/$t"
done
for t in /project/igt/*; do
	[ -x "$t" ] || continue
	ln -sf "$t" "$ROOT/$(basename "$t")"
	tests="$tests $(basename "$t")"
done
{
	echo TESTLIST
	echo $tests
	echo END TESTLIST
} > "$ROOT/test-list.txt"

for node in "$@"; do
	minor=${node#accel}
	rm -f /dev/dri/card0
	mknod /dev/dri/card0 c 261 "$minor"
	echo "accel-guest: igt_runner on /dev/accel/$node"
	ACCEL_DEVICE=/dev/accel/$node igt_runner -o -s -m --per-test-timeout 120 -x 'snapshot' \
		"$ROOT" "/results/$node" > "/results/$node.runner.log" 2>&1
	echo "accel-guest: igt_runner on $node exited $?"
done
