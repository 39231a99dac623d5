# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the project's scripts: cache location, timed steps.

: "${ACCEL_CACHE:=/var/cache/rust-accel}"
export ACCEL_CACHE
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO

# Files of the kernel crate that live in this repository and are
# linked into the kernel tree: "path in tree" "path in repo".
TREE_LINKS=(
	"rust/kernel/drm/accel/mod.rs" "drm_accel/mod.rs"
	"rust/kernel/drm/accel/vm.rs" "drm_accel/vm.rs"
	"rust/kernel/drm/accel/fdinfo.rs" "drm_accel/fdinfo.rs"
	"rust/kernel/drm/accel/gem" "gem"
	"rust/kernel/drm/accel/sched" "sched"
)

# Where each kernel file of this repository lives, or would live, in the
# kernel tree, for checkpatch's path rules: the linked kernel-crate files
# and the driver's uapi header (which the build does not link: the driver
# reads it through its checked Rust mirror).
TREE_PATHS=(
	"${TREE_LINKS[@]}"
	"include/uapi/drm/gaudi_accel.h" "uapi/gaudi_accel.h"
)

# Kernel sources in this repository: the accel core (built in the kernel
# crate), the drivers and the benchmark modules (built out of tree).
KERNEL_DIRS=(drm_accel gem sched hw bench)

# Where build-kernel.sh keeps the compiler and clippy findings of the last
# compile of each unit (scripts/style-lint.py).
KERNEL_LINT_STATE="$ACCEL_CACHE/kbuild/.accel-lint/state.json"
MODULE_LINT_STATE="$REPO/build/kmod/.accel-lint/state.json"

# lint_links: TREE_LINKS as --link arguments of scripts/style-lint.py.
lint_links() {
	local i
	for ((i = 0; i < ${#TREE_LINKS[@]}; i += 2)); do
		echo "--link=${TREE_LINKS[i]}=${TREE_LINKS[i+1]}"
	done
}

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
