# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the project's scripts: cache location, timed steps.

: "${ACCEL_CACHE:=/var/cache/rust-accel}"
export ACCEL_CACHE
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO

# step NAME CMD...: run a long step, announce it and report how long it took.
step() {
	local name="$1" t0 rc
	shift
	t0=$(date +%s)
	echo ">>> $name ..." >&2
	"$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		echo ">>> $name: done in $(( $(date +%s) - t0 ))s" >&2
	else
		echo ">>> $name: FAILED (exit $rc) after $(( $(date +%s) - t0 ))s" >&2
	fi
	return $rc
}

die() {
	echo "error: $*" >&2
	exit 1
}
