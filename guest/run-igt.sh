#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the conformance suite under igt_runner once per accel node given as
# argument. The real IGT core tests reach the node through a /dev/dri/card0
# character device with the accel major and the node's minor; our tests get
# the node in ACCEL_DEVICE.
#
# What runs is what the expected-results manifest (/project/expected.txt, from
# igt-tests/expected.txt) lists: its `test` lines name the binaries, upstream
# ones from IGT's directory and ours from /project/igt, and its `exclude`
# lines the subtests the runner leaves out (-x), each with its reason there.
# A binary that is missing still gets its link: the runner then drops it, and
# the host's summary reports it as missing against the same manifest.
#
# The runner works in multiple mode (-m): one process per binary rather than
# per subtest, which saves about two seconds per subtest under TCG.

IGT=/usr/libexec/igt-gpu-tools
MANIFEST=/project/expected.txt
ROOT=/tmp/igt-root
mkdir -p "$ROOT"

tests=""
exclude=""
binary=""
while read -r word arg rest; do
	case "$word" in
	test)
		binary=$arg
		case "$rest" in
		upstream) ln -sf "$IGT/$binary" "$ROOT/$binary" ;;
		*) ln -sf "/project/igt/$binary" "$ROOT/$binary" ;;
		esac
		tests="$tests $binary"
		;;
	exclude)
		# A glob of the manifest (* and ?) as an anchored extended regex on
		# the runner's name igt@BINARY@SUBTEST.
		re=$(printf '%s' "$arg" | sed -e 's/[].[\\^$+(){}|]/\\&/g' -e 's/\*/.*/g' -e 's/?/./g')
		exclude="$exclude|^igt@$binary@$re\$"
		;;
	esac
done < "$MANIFEST"
{
	echo TESTLIST
	echo $tests
	echo END TESTLIST
} > "$ROOT/test-list.txt"

nodes="$*"
if [ -n "$exclude" ]; then
	set -- -x "${exclude#|}"
else
	set --
fi
for node in $nodes; do
	minor=${node#accel}
	rm -f /dev/dri/card0
	mknod /dev/dri/card0 c 261 "$minor"
	echo "accel-guest: igt_runner on /dev/accel/$node"
	ACCEL_DEVICE=/dev/accel/$node igt_runner -o -s -m --per-test-timeout 120 "$@" \
		"$ROOT" "/results/$node" > "/results/$node.runner.log" 2>&1
	echo "accel-guest: igt_runner on $node exited $?"
done
