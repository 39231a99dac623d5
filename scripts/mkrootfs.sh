#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest root filesystem with debootstrap: Debian sid (IGT 2.x needs
# a newer glibc than bookworm's), minbase, IGT and what the tests use. The
# guest boots it as a read-only 9p root. Rebuilt only when the package list
# changes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=igt-gpu-tools,igt-gpu-tools-tests,kmod,libdrm2,pciutils,procps
ROOTFS="$ACCEL_CACHE/rootfs"
STAMP="$ACCEL_CACHE/stamps/rootfs"
KEYRING="$ACCEL_CACHE/apt/sid-keyring.gpg"
want="$(echo "$PKGS" | sha1sum | cut -c1-12)"

[ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] && [ -x "$ROOTFS/usr/bin/igt_runner" ] && exit 0
[ "$(id -u)" = 0 ] || die "debootstrap needs root"

build() {
	local tmp="$ROOTFS.tmp"
	rm -rf "$tmp"
	debootstrap --variant=minbase --include="$PKGS" sid "$tmp" \
		http://deb.debian.org/debian
	# Mount points for the project's shares and scratch space.
	mkdir -p "$tmp/project" "$tmp/results" "$tmp/tmp"
	rm -rf "$tmp/var/cache/apt/archives"/*.deb
	rm -rf "$ROOTFS"
	mv "$tmp" "$ROOTFS"
	echo "$want" > "$STAMP"
}

mkdir -p "$ACCEL_CACHE/stamps"
step "debootstrap guest rootfs (sid: $PKGS)" build
