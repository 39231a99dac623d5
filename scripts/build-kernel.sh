#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test kernel and the driver module.
#
# The kernel tree in the cache is Debian's pristine linux-source plus the
# glue patches in kernel/patches/, with the accel core directories and the
# uapi header linked in from this checkout. Builds are incremental: only a
# change to the patch set resets the patched files, only a change to the
# config fragment reconfigures, and make rebuilds what changed.
#
# Usage: build-kernel.sh [kernel|module|all] [extra make args]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

what="${1:-all}"
shift || true

. "$REPO/kernel/linux-source.version"
PRISTINE="$ACCEL_CACHE/linux-pristine-$version"
SRC="$ACCEL_CACHE/linux"
OUT="$ACCEL_CACHE/kbuild"
MODOUT="$REPO/build/kmod"

# CLIPPY=1: clippy-driver compiles every Rust unit in place of rustc, at
# about the same cost, so the build lints as it goes (make style reports the
# findings). Every build passes it: a build without it would recompile all
# Rust units, since their command lines differ.
KMAKE=(make -C "$SRC" O="$OUT" LLVM=-19
	RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTFMT=/usr/bin/rustfmt
	CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver
	BINDGEN="$ACCEL_CACHE/tools/bin/bindgen"
	RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library
	-j"$(nproc)")

prepare_tree() {
	if [ ! -f "$SRC/.accel-tree" ]; then
		rm -rf "$SRC"
		cp -a "$PRISTINE" "$SRC"
		touch "$SRC/.accel-tree"
	fi
	local applied="$SRC/.accel-patches"
	mkdir -p "$applied"
	local want have
	want=$( (cat "$REPO"/kernel/patches/*.patch 2>/dev/null || true) | sha1sum)
	have=$( (cat "$applied"/*.patch 2>/dev/null || true) | sha1sum)
	if [ "$want" != "$have" ]; then
		local p
		# Revert the old set newest first; reverting gives the files a new
		# mtime, so make rebuilds what they touch.
		for p in $(ls "$applied"/*.patch 2>/dev/null | sort -r); do
			patch -d "$SRC" -p1 -R -s < "$p" || die "cannot revert $(basename "$p")"
			rm "$p"
		done
		for p in "$REPO"/kernel/patches/*.patch; do
			[ -e "$p" ] || continue
			echo "applying $(basename "$p")" >&2
			patch -d "$SRC" -p1 -s --no-backup-if-mismatch < "$p" ||
				die "$(basename "$p") does not apply"
			cp "$p" "$applied/"
		done
	fi
	local i
	for ((i = 0; i < ${#TREE_LINKS[@]}; i += 2)); do
		local dst="$SRC/${TREE_LINKS[i]}" target="$REPO/${TREE_LINKS[i+1]}"
		# The directory holding a link is a real directory of the tree.
		local dir
		dir=$(dirname "$dst")
		[ -L "$dir" ] && rm "$dir"
		mkdir -p "$dir"
		if [ "$(readlink "$dst" 2>/dev/null)" != "$target" ]; then
			rm -rf "$dst"
			ln -s "$target" "$dst"
		fi
	done
}

configure() {
	local stamp="$OUT/.accel-config" want
	want=$( (cat "$REPO/kernel/config.fragment"; echo "$version") | sha1sum)
	[ -f "$OUT/.config" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
	mkdir -p "$OUT"
	"${KMAKE[@]}" tinyconfig >/dev/null
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$OUT" "$OUT/.config" \
		"$REPO/kernel/config.fragment" >/dev/null
	"${KMAKE[@]}" olddefconfig >/dev/null
	# Every option of the fragment must have survived dependency resolution.
	local line missing=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			grep -qx "$line" "$OUT/.config" || { echo "config: $line did not stick" >&2; missing=1; } ;;
		"# CONFIG_"*" is not set")
			grep -q "^${line#\# }" "$OUT/.config" ||
				! grep -q "^$(echo "$line" | awk '{print $2}')=" "$OUT/.config" ||
				{ echo "config: $line did not stick" >&2; missing=1; } ;;
		esac
	done < "$REPO/kernel/config.fragment"
	[ $missing = 0 ] || die "kernel config fragment not satisfied (see above)"
	echo "$want" > "$stamp"
}

# lint_record KIND STATE OBJTREE LOG: record the compiler and clippy
# findings in our files of the units a build log shows compiled.
lint_record() {
	python3 "$REPO/scripts/style-lint.py" record --kind "$1" --state "$2" --objtree "$3" \
		--log "$4" --repo "$REPO" --src "$SRC" --pristine "$PRISTINE" --dirs "${KERNEL_DIRS[@]}" \
		$(lint_links)
}

# lint_build KIND STATE OBJTREE MAKE...: run a build, its output also in a
# log, and record its findings per compiled unit (scripts/style-lint.py):
# clippy reports a unit's findings only when it compiles the unit, so a
# later build that finds the unit up to date still has them for make style.
lint_build() {
	local kind="$1" state="$2" objtree="$3" log unit rc=0
	shift 3
	log="$(dirname "$state")/$kind.log"
	mkdir -p "$(dirname "$state")"
	# The log of an interrupted build still tells what it compiled.
	if [ -f "$log.pending" ]; then
		lint_record "$kind" "$state" "$objtree" "$log.pending"
	fi
	# Units of ours without a record of a CLIPPY=1 compile are compiled
	# again.
	for unit in $(python3 "$REPO/scripts/style-lint.py" missing --kind "$kind" --state "$state" \
			--repo "$REPO" --dirs "${KERNEL_DIRS[@]}" $(lint_links)); do
		rm -f "$objtree/$unit"
	done
	"$@" 2>&1 | tee "$log.pending" || rc=$?
	lint_record "$kind" "$state" "$objtree" "$log.pending"
	mv "$log.pending" "$log"
	return $rc
}

build_kernel() {
	lint_build kernel "$KERNEL_LINT_STATE" "$OUT" "${KMAKE[@]}" "$@" bzImage modules
}

build_module() {
	mkdir -p "$MODOUT"
	lint_build module "$MODULE_LINT_STATE" "$MODOUT" "${KMAKE[@]}" M="$REPO" MO="$MODOUT" "$@" modules
}

[ -f "$PRISTINE/.unpacked" ] || "$REPO/scripts/fetch-kernel.sh"
prepare_tree
step "configuring kernel" configure
case "$what" in
kernel) step "building kernel" build_kernel "$@" ;;
module) step "building driver module" build_module "$@" ;;
all)
	step "building kernel" build_kernel "$@"
	step "building driver module" build_module "$@"
	;;
*) die "unknown target $what" ;;
esac
