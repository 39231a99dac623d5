#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's linux-source-7.3 through a private apt configuration (the
# host's sources are not touched) and unpack the pristine tree into the
# cache. The exact version is pinned in kernel/linux-source.version.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$REPO/kernel/linux-source.version"
APTDIR="$ACCEL_CACHE/apt"
PRISTINE="$ACCEL_CACHE/linux-pristine-$version"

[ -n "$version" ] || die "kernel/linux-source.version has no version"
if [ -f "$PRISTINE/.unpacked" ]; then
	exit 0
fi

apt_private() {
	apt-get -q \
		-o Dir::Etc::SourceList="$APTDIR/sources.list" \
		-o Dir::Etc::SourceParts=- \
		-o Dir::State::Lists="$APTDIR/lists" \
		-o Dir::Cache="$APTDIR/cache" \
		-o Dir::State::Status=/dev/null \
		-o APT::Get::List-Cleanup=0 \
		"$@"
}

apt_cache() {
	apt-cache \
		-o Dir::Etc::SourceList="$APTDIR/sources.list" \
		-o Dir::Etc::SourceParts=- \
		-o Dir::State::Lists="$APTDIR/lists" \
		-o Dir::Cache="$APTDIR/cache" \
		-o Dir::State::Status=/dev/null \
		"$@"
}

download() {
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/debs"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
		> "$APTDIR/sources.list"
	apt_private update
	if ! (cd "$APTDIR/debs" && apt_private download "$package=$version"); then
		die "cannot download $package=$version from $suite; available: $(apt_cache madison "$package" | awk '{print $3}' | xargs)"
	fi
}

unpack() {
	local deb tmp
	deb=$(ls "$APTDIR"/debs/"${package}"_"${version//:/%3a}"_all.deb)
	tmp="$ACCEL_CACHE/tmp-unpack"
	rm -rf "$tmp" "$PRISTINE"
	mkdir -p "$tmp"
	dpkg -x "$deb" "$tmp"
	mkdir -p "$PRISTINE"
	tar -C "$PRISTINE" --strip-components=1 -xf "$tmp"/usr/src/linux-source-*.tar.*
	rm -rf "$tmp"
	touch "$PRISTINE/.unpacked"
}

ls "$APTDIR"/debs/"${package}"_*.deb >/dev/null 2>&1 || step "downloading $package $version" download
step "unpacking $package $version" unpack
