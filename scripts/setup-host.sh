#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the host toolchain: Debian packages from bookworm,
# bookworm-security and bookworm-backports only, and bindgen-cli at a pinned
# version. Idempotent: a second run checks stamps and does nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BINDGEN_VERSION=0.72.1
STAMP="$ACCEL_CACHE/stamps/host-packages"
PKGS=(
	build-essential flex bison bc libelf-dev libssl-dev cpio kmod rsync
	xz-utils zstd python3 debootstrap ca-certificates
	clang-19 lld-19 llvm-19 libclang-19-dev
	rustc-web rust-web-src rust-web-clippy rustfmt-web
	libdrm-dev pkg-config gcc-multilib libc6-dev-i386
	# The training demo's data set (scikit-learn's digits) and its plots.
	python3-sklearn python3-matplotlib
)
BPO_PKGS=(qemu-system-x86)

mkdir -p "$ACCEL_CACHE/stamps"
want="$(printf '%s\n' "${PKGS[@]}" "${BPO_PKGS[@]}" | sha1sum | cut -c1-12)"

install_packages() {
	[ "$(id -u)" = 0 ] || die "host setup installs Debian packages: run as root"
	local bpo=/etc/apt/sources.list.d/bookworm-backports.list
	if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
		echo "deb http://deb.debian.org/debian bookworm-backports main" > "$bpo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${PKGS[@]}"
	apt-get install -y -q --no-install-recommends -t bookworm-backports "${BPO_PKGS[@]}"
	echo "$want" > "$STAMP"
}

install_cargo() {
	# The userspace workspace builds with any stable cargo; a machine without
	# one gets Debian's.
	if ! command -v cargo >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
		apt-get install -y -q --no-install-recommends cargo-web
	fi
}

install_bindgen() {
	local root="$ACCEL_CACHE/tools"
	if [ -x "$root/bin/bindgen" ] &&
	   "$root/bin/bindgen" --version | grep -q " $BINDGEN_VERSION\$"; then
		return 0
	fi
	PATH="$HOME/.cargo/bin:$PATH" cargo install --locked --root "$root" \
		bindgen-cli --version "$BINDGEN_VERSION"
}

if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
	step "installing Debian packages" install_packages
fi
install_cargo
step "bindgen-cli $BINDGEN_VERSION" install_bindgen
