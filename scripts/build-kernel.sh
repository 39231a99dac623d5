#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test kernel and the driver module.
#
# The kernel tree in the cache is Debian's pristine linux-source plus the
# glue patches in kernel/patches/, with the accel core directories linked in
# from this checkout. The driver's uapi header stays out of the kernel tree:
# the driver compiles the checked Rust mirror uapi/src/mirror.rs. Builds are
# incremental: only a change to the patch set resets the patched files, only
# a change to the config fragment reconfigures, and make rebuilds what
# changed.
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

KMAKE=(make -C "$SRC" O="$OUT" LLVM=-19
	RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTFMT=/usr/bin/rustfmt
	CLIPPY_DRIVER=/usr/bin/clippy-driver
	BINDGEN="$ACCEL_CACHE/tools/bin/bindgen"
	RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library
	-j"$(nproc)")

# Files of the kernel crate that live in this repository, linked
# into the tree: "path in tree" "path in repo".
LINKS=(
	"rust/kernel/drm/accel/mod.rs" "drm_accel/mod.rs"
	"rust/kernel/drm/accel/gem" "gem"
	"rust/kernel/drm/accel/sched" "sched"
)

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
	for ((i = 0; i < ${#LINKS[@]}; i += 2)); do
		local dst="$SRC/${LINKS[i]}" target="$REPO/${LINKS[i+1]}"
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

build_kernel() {
	"${KMAKE[@]}" "$@" bzImage modules
}

build_module() {
	mkdir -p "$MODOUT"
	"${KMAKE[@]}" M="$REPO" MO="$MODOUT" "$@" modules
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
