#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Style checks of the project's sources (make style). Every checker reports
# findings as lines "path:line: tool: TYPE: message"; a finding fails the
# check unless scripts/style-waivers lists it.
#
# Usage:
#   style.sh static    rustfmt with the kernel's config on the kernel Rust
#                      sources, cargo fmt on the workspace, checkpatch.pl
#                      --strict on the kernel C and Rust sources, the uapi
#                      header and kernel/patches/ (seconds, builds nothing)
#   style.sh clippy    clippy and compiler warnings in our files from the
#                      CLIPPY=1 kernel and module builds (build-kernel.sh
#                      records them), cargo clippy -D warnings on the
#                      workspace
#   style.sh selftest  feed deliberately bad inputs to the same checkers and
#                      fail unless each of them reports its input
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$REPO/kernel/linux-source.version"

PRISTINE="$ACCEL_CACHE/linux-pristine-$version"
CHECKPATCH="$PRISTINE/scripts/checkpatch.pl"
# The kernel build formats and checks with Debian's rustfmt (rustc-web) and
# the tree's .rustfmt.toml; rustfmt finds no config next to our files, so
# it is passed explicitly.
KRUSTFMT=/usr/bin/rustfmt
KRUSTFMT_ARGS=(--config-path "$PRISTINE/.rustfmt.toml" --edition 2021)
WAIVERS="$REPO/scripts/style-waivers"
LINT="$REPO/scripts/style-lint.py"
STYLE_LOGS="$REPO/build/style/${1:-none}"
CARGO="${CARGO:-cargo}"

# checkpatch types that cannot be met by glue patches for a distro tree.
# They are bare diffs (diff -ruN, applied with patch(1)), not mails: they
# have no commit message or sign-off to check, and their first "--- a/"
# line reads to checkpatch as a diff inside a commit message. A patch that
# starts with a mail header ("From " or "Subject:") is checked in full.
CHECKPATCH_BARE_DIFF_IGNORE=COMMIT_MESSAGE,DIFF_IN_COMMIT_MSG,BAD_COMMIT_SEPARATOR,MISSING_SIGN_OFF
# The glue adds files to Debian's linux-source, whose MAINTAINERS file is
# not ours to update: the question checkpatch asks has no answer here.
# Debian's tarball has no git history, so the commit ids of the fixes'
# Fixes: tags cannot be looked up (their form, 12 digits and the subject,
# is still checked).
CHECKPATCH_PATCH_IGNORE=FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID

# files_in VAR "GLOB..." DIR...: set the array VAR to the files below each
# DIR (relative to $ROOT) whose name matches one of the globs, sorted.
# Every DIR must contribute a file: a check over an empty list would pass
# without checking anything.
files_in() {
	local -n _files="$1"
	local globs=() expr=() found=() d g
	read -ra globs <<< "$2"
	shift 2
	for g in "${globs[@]}"; do
		[ ${#expr[@]} -eq 0 ] || expr+=(-o)
		expr+=(-name "$g")
	done
	_files=()
	for d in "$@"; do
		[ -d "$ROOT/$d" ] || die "style: $ROOT/$d is not a directory"
		mapfile -t found < <(cd "$ROOT" && find "$d" -type f \( "${expr[@]}" \) -print | LC_ALL=C sort)
		[ ${#found[@]} -gt 0 ] || die "style: no ${globs[*]} below $d: the file list must not be empty"
		_files+=("${found[@]}")
	done
}

# relpath PATH: PATH relative to $ROOT.
relpath() {
	local p="$1"
	p="${p#"$ROOT"/}"
	echo "${p#./}"
}

# rustfmt_kernel FILE...: rustfmt --check with the kernel's configuration
# on files relative to $ROOT, each under its path in the kernel tree (the
# accel core's "mod gem;" resolves there, not in the repository). One
# finding per hunk rustfmt would change.
rustfmt_kernel() {
	[ $# -gt 0 ] || die "style: rustfmt_kernel: no files"
	local tree out rc=0 line n=0 f tfiles=()
	tree=$(kernel_tree_view)
	for f in "$@"; do
		tfiles+=("$(to_tree "$f")")
	done
	out=$(cd "$tree" && "$KRUSTFMT" --check --color never "${KRUSTFMT_ARGS[@]}" -- "${tfiles[@]}" 2>&1) || rc=$?
	printf '%s\n' "$out" >> "$RUN/rustfmt.log"
	while IFS= read -r line; do
		if [[ $line =~ ^Diff\ in\ (.*):([0-9]+):$ ]]; then
			f="${BASH_REMATCH[1]}"
			f="${f#"$tree"/}"
			echo "$(from_tree "$(relpath "$f")"):${BASH_REMATCH[2]}: rustfmt: FORMAT: not formatted as the kernel's rustfmt wants"
			n=$((n + 1))
		fi
	done <<< "$out"
	if [ $rc -ne 0 ] && [ $n -eq 0 ]; then
		echo "$1:0: rustfmt: FAILED: exit $rc: $(head -n 3 <<< "$out" | tr '\n' ' ')"
	fi
}

# cargo_fmt: cargo fmt --check on the workspace at $ROOT.
cargo_fmt() {
	local out rc=0 line n=0 files
	# --verbose names every file it formats: the workspace must have some.
	out=$(cd "$ROOT" && "$CARGO" fmt --all --check --verbose -- --color never 2>&1) || rc=$?
	printf '%s\n' "$out" >> "$RUN/cargo-fmt.log"
	files=$(grep -c '^\[.*\] "' <<< "$out" || true)
	[ "$files" -gt 0 ] || die "style: cargo fmt formatted no file in $ROOT"
	while IFS= read -r line; do
		if [[ $line =~ ^Diff\ in\ (.*):([0-9]+):$ ]]; then
			echo "$(relpath "${BASH_REMATCH[1]}"):${BASH_REMATCH[2]}: cargo-fmt: FORMAT: not formatted as rustfmt wants"
			n=$((n + 1))
		fi
	done <<< "$out"
	if [ $rc -ne 0 ] && [ $n -eq 0 ]; then
		echo "Cargo.toml:0: cargo-fmt: FAILED: exit $rc: $(grep -m3 -v -e '^\[.*\] "' -e '^rustfmt ' <<< "$out" | tr '\n' ' ')"
	fi
}

# kernel_tree_view: a directory that presents $ROOT's kernel files at their
# paths in the kernel tree (rust/kernel/drm/accel/..., include/uapi/...),
# so that module paths resolve and checkpatch's path-dependent rules (uapi
# headers, for one) apply as in the tree. Out-of-tree modules and patches
# keep their paths.
kernel_tree_view() {
	local tree="$RUN/tree" i
	rm -rf "$tree"
	mkdir -p "$tree"
	# Copies: rustfmt resolves symbolic links before it looks for modules.
	for ((i = 0; i < ${#TREE_PATHS[@]}; i += 2)); do
		[ -e "$ROOT/${TREE_PATHS[i+1]}" ] || continue
		mkdir -p "$tree/$(dirname "${TREE_PATHS[i]}")"
		cp -RL "$ROOT/${TREE_PATHS[i+1]}" "$tree/${TREE_PATHS[i]}"
	done
	# uapi/src/mirror.rs and hwspec/src/hw.rs: the driver's uapi mirror and the device
	# interface, modules of hw/gaudi.
	for i in hw bench kernel Kbuild uapi/src/mirror.rs hwspec/src/hw.rs; do
		[ -e "$ROOT/$i" ] || continue
		mkdir -p "$tree/$(dirname "$i")"
		cp -RL "$ROOT/$i" "$tree/$i"
	done
	echo "$tree"
}

# to_tree PATH / from_tree PATH: repo path <-> path in the checkpatch tree.
to_tree() {
	local p="$1" i
	for ((i = 0; i < ${#TREE_PATHS[@]}; i += 2)); do
		case "$p" in
		"${TREE_PATHS[i+1]}") echo "${TREE_PATHS[i]}"; return ;;
		"${TREE_PATHS[i+1]}"/*) echo "${TREE_PATHS[i]}${p#"${TREE_PATHS[i+1]}"}"; return ;;
		esac
	done
	echo "$p"
}
from_tree() {
	local p="$1" i
	for ((i = 0; i < ${#TREE_PATHS[@]}; i += 2)); do
		case "$p" in
		"${TREE_PATHS[i]}") echo "${TREE_PATHS[i+1]}"; return ;;
		"${TREE_PATHS[i]}"/*) echo "${TREE_PATHS[i+1]}${p#"${TREE_PATHS[i]}"}"; return ;;
		esac
	done
	echo "$p"
}

# parse_checkpatch file|patch NAME: checkpatch's (non-terse) report on
# stdin to findings. "LEVEL:TYPE: message" is followed by "#N: FILE:
# path:line:" unless the finding is about the whole patch NAME; N is the
# line in the patch.
parse_checkpatch() {
	local mode="$1" line level="" type="" msg="" file="$2"
	flush() {
		[ -n "$type" ] || return 0
		echo "$file:0: checkpatch: $type: $level: $msg"
		type=""
	}
	while IFS= read -r line; do
		if [[ $line =~ ^(ERROR|WARNING|CHECK):([A-Z0-9_]+):\ (.*)$ ]]; then
			flush
			level="${BASH_REMATCH[1]}" type="${BASH_REMATCH[2]}" msg="${BASH_REMATCH[3]}"
		elif [ -n "$type" ] && [[ $line =~ ^#([0-9]+):\ FILE:\ (.*):([0-9]+):$ ]]; then
			if [ "$mode" = file ]; then
				echo "$(from_tree "${BASH_REMATCH[2]}"):${BASH_REMATCH[3]}: checkpatch: $type: $level: $msg"
			else
				echo "$file:${BASH_REMATCH[1]}: checkpatch: $type: $level: $msg (${BASH_REMATCH[2]}:${BASH_REMATCH[3]})"
			fi
			type=""
		elif [ -n "$type" ] && [[ $line =~ ^#([0-9]+):\ *$ ]]; then
			echo "$file:${BASH_REMATCH[1]}: checkpatch: $type: $level: $msg"
			type=""
		fi
	done
	flush
}

# checkpatch_files FILE...: checkpatch --strict -f on source files (relative
# to $ROOT), each checked under its path in the kernel tree.
checkpatch_files() {
	[ $# -gt 0 ] || die "style: checkpatch_files: no files"
	local tree out f tf rc=0
	local tfiles=()
	tree=$(kernel_tree_view)
	for f in "$@"; do
		tfiles+=("$(to_tree "$f")")
	done
	# Outside a git checkout: checkpatch would otherwise look files up in
	# git and check tracked ones under -f rules whatever the options say.
	out=$(cd "$tree" && GIT_DIR=/nonexistent "$CHECKPATCH" --strict --no-tree --show-types --color=never \
		-f "${tfiles[@]}" 2>&1) || rc=$?
	printf '%s\n' "$out" >> "$RUN/checkpatch.log"
	parse_checkpatch file "?" <<< "$out"
	# checkpatch ends the report on each file with one of these: it must
	# have read every file.
	for tf in "${tfiles[@]}"; do
		grep -qxF -e "$tf has no obvious style problems and is ready for submission." \
			-e "$tf has style problems, please review." <<< "$out" ||
			echo "$(from_tree "$tf"):0: checkpatch: NOT_CHECKED: ERROR: no verdict from checkpatch (exit $rc)"
	done
}

# checkpatch_patches PATCH...: checkpatch --strict on patches (relative to
# $ROOT), as patches.
checkpatch_patches() {
	[ $# -gt 0 ] || die "style: checkpatch_patches: no patches"
	local tree p out rc ignore
	tree=$(kernel_tree_view)
	for p in "$@"; do
		ignore="$CHECKPATCH_PATCH_IGNORE"
		local opts=()
		if ! head -n 1 "$ROOT/$p" | grep -qE '^(From |Subject:)'; then
			ignore="$ignore,$CHECKPATCH_BARE_DIFF_IGNORE"
			opts+=(--no-signoff)
		fi
		rc=0
		out=$(cd "$tree" && GIT_DIR=/nonexistent "$CHECKPATCH" --strict --no-tree --show-types --color=never \
			"${opts[@]}" --ignore "$ignore" "$p" 2>&1) || rc=$?
		printf '%s\n' "$out" >> "$RUN/checkpatch.log"
		parse_checkpatch patch "$p" <<< "$out"
		grep -qE "^($p has no obvious style problems|$p has style problems)" <<< "$out" ||
			echo "$p:0: checkpatch: NOT_CHECKED: ERROR: no verdict from checkpatch (exit $rc)"
	done
}

# cargo_clippy: cargo clippy on the workspace at $ROOT, warnings denied.
cargo_clippy() {
	local out rc=0 n
	out=$(cd "$ROOT" && "$CARGO" clippy --workspace --all-targets --message-format json \
		-- -D warnings 2> "$RUN/cargo-clippy.log") || rc=$?
	python3 "$LINT" cargo --root "$ROOT" <<< "$out" > "$RUN/cargo-clippy.findings"
	cat "$RUN/cargo-clippy.findings"
	n=$(wc -l < "$RUN/cargo-clippy.findings")
	if [ $rc -ne 0 ] && [ "$n" -eq 0 ]; then
		echo "Cargo.toml:0: cargo-clippy: FAILED: exit $rc: $(grep -m3 -E '^error' "$RUN/cargo-clippy.log" | tr '\n' ' ')"
	fi
}

# report NAME TOOLS FINDINGS: apply the waivers of TOOLS (a |-separated
# list) and fail if a finding remains or a waiver matches nothing.
report() {
	local name="$1" tools="$2" findings="$3" line tool path type waived=0 stale=() left=()
	local -A used=()
	local waivers=()
	if [ -f "$WAIVERS" ]; then
		while read -r tool path type _; do
			[[ -z $tool || $tool == \#* ]] && continue
			[[ "|$tools|" == *"|$tool|"* ]] || continue
			waivers+=("$tool $path $type")
		done < "$WAIVERS"
	fi
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		# path:line: tool: TYPE: message
		path="${line%%:*}" tool="" type=""
		if [[ $line =~ ^[^:]*:[0-9]+:\ ([a-z-]+):\ ([^ ]+):\  ]]; then
			tool="${BASH_REMATCH[1]}" type="${BASH_REMATCH[2]}"
		fi
		local w hit=""
		for w in "${waivers[@]}"; do
			if [ "$w" = "$tool $path $type" ]; then
				hit=1
				used[$w]=1
			fi
		done
		if [ -n "$hit" ]; then
			waived=$((waived + 1))
		else
			left+=("$line")
		fi
	done < "$findings"
	local w
	for w in "${waivers[@]}"; do
		[ -n "${used[$w]:-}" ] || stale+=("$w")
	done
	if [ ${#left[@]} -eq 0 ] && [ ${#stale[@]} -eq 0 ]; then
		echo ">>> style ($name): clean, $waived waived finding(s)" >&2
		if [ "$waived" -gt 0 ]; then
			grep -v '^#' "$WAIVERS" | grep -E "^($tools) " | sed 's/^/    waived: /' >&2
		fi
		return 0
	fi
	{
		echo ">>> style ($name): FAILED"
		if [ ${#left[@]} -gt 0 ]; then
			echo "${#left[@]} finding(s) (tool output in $STYLE_LOGS/):"
			printf '  %s\n' "${left[@]}"
		fi
		if [ ${#stale[@]} -gt 0 ]; then
			echo "waivers in scripts/style-waivers that match no finding any more (delete them):"
			printf '  %s\n' "${stale[@]}"
		fi
	} >&2
	return 1
}

# Keep the tools' output (rustfmt's diffs, checkpatch's context lines) in
# build/style/PHASE/.
keep_logs() {
	local f
	rm -rf "$STYLE_LOGS"
	mkdir -p "$STYLE_LOGS"
	for f in "$RUN"/*.log; do
		[ -s "$f" ] && cp "$f" "$STYLE_LOGS/"
	done
	return 0
}

static_checks() {
	local out="$RUN/findings" krust=() kfiles=() patches=() n
	ROOT="$REPO"
	: > "$out"
	files_in krust "*.rs" "${KERNEL_DIRS[@]}"
	rustfmt_kernel "${krust[@]}" >> "$out"
	cargo_fmt >> "$out"
	files_in kfiles "*.rs *.c *.h Kbuild" "${KERNEL_DIRS[@]}"
	kfiles+=(Kbuild uapi/gaudi_accel.h)
	checkpatch_files "${kfiles[@]}" >> "$out"
	files_in patches "*.patch" kernel/patches
	checkpatch_patches "${patches[@]}" >> "$out"
	keep_logs
	n=$(wc -l < "$out")
	echo ">>> style: rustfmt ${#krust[@]} kernel Rust files, cargo fmt on the workspace," \
		"checkpatch ${#kfiles[@]} files and ${#patches[@]} patch(es): $n finding(s)" >&2
	report static "rustfmt|cargo-fmt|checkpatch" "$out"
}

clippy_checks() {
	local out="$RUN/findings" krust=()
	ROOT="$REPO"
	: > "$out"
	# Every kernel source file must belong to a unit that a CLIPPY=1 build
	# compiled and build-kernel.sh recorded.
	files_in krust "*.rs *.c" "${KERNEL_DIRS[@]}"
	python3 "$LINT" report --repo "$REPO" --dirs "${KERNEL_DIRS[@]}" $(lint_links) \
		--kernel-state "$KERNEL_LINT_STATE" --module-state "$MODULE_LINT_STATE" >> "$out" ||
		die "style: cannot read the clippy records of the kernel builds"
	cargo_clippy >> "$out"
	keep_logs
	echo ">>> style: clippy on ${#krust[@]} kernel source files (CLIPPY=1 builds) and cargo clippy" \
		"on the workspace: $(wc -l < "$out") finding(s)" >&2
	report clippy "clippy|cargo-clippy" "$out"
}

# expect NAME PATTERN FINDINGS: the self-test's assertion.
expect() {
	if grep -qE "$2" "$3"; then
		echo "    ok: $1" >&2
	else
		echo "    FAILED: $1: no finding matching '$2' in:" >&2
		sed 's/^/      /' "$3" >&2
		failed=1
	fi
}

selftest() {
	local t="$RUN/selftest" f="$RUN/selftest.findings" failed=0 krust=() kfiles=() patches=()
	mkdir -p "$t"/{drm_accel,gem,sched,hw/x,bench/y,kernel/patches,uapi,src}
	ROOT="$t"
	# Kernel Rust, not formatted as rustfmt wants, in the accel core and in
	# a module.
	printf '// SPDX-License-Identifier: GPL-2.0\n\n//! Test.\n\nfn f( ) -> u32 {\n1}\n' > "$t/drm_accel/mod.rs"
	printf '// SPDX-License-Identifier: GPL-2.0\n\n//! Test.\n\nfn g() {}\n' |
		tee "$t/gem/mod.rs" "$t/sched/mod.rs" "$t/bench/y/ok.rs" > /dev/null
	printf '// SPDX-License-Identifier: GPL-2.0\n\n//! Test.\n\nfn h() { let x=1; }\n' > "$t/hw/x/x.rs"
	# C with kernel style errors, a uapi header using BIT-style shifts
	# (fine in include/uapi/), a patch with trailing whitespace.
	printf '// SPDX-License-Identifier: GPL-2.0\n\nint foo(int a){\n        return a; \n}\n' > "$t/hw/x/bad.c"
	printf '/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */\n#ifndef _X_H\n#define _X_H\n#define X_FLAG (1u << 0)\n#endif\n' > "$t/uapi/gaudi_accel.h"
	printf '# SPDX-License-Identifier: GPL-2.0\n\nobj-m += x.o\n' > "$t/Kbuild"
	cat > "$t/kernel/patches/0001-test.patch" <<-'EOF'
	diff -ruN a/rust/helpers/foo.c b/rust/helpers/foo.c
	--- a/rust/helpers/foo.c	1970-01-01 00:00:00.000000000 +0000
	+++ b/rust/helpers/foo.c	2026-01-01 00:00:00.000000000 +0000
	@@ -0,0 +1,3 @@
	+// SPDX-License-Identifier: GPL-2.0
	+
	+int rust_helper_foo(int a) { return a; } 
	EOF
	# A workspace crate with a format error and a clippy finding.
	printf '[package]\nname = "style-selftest"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n' > "$t/Cargo.toml"
	printf 'fn main() {\n    println!("{}", f());\n}\n\nfn f() -> u32 {\n    return  1;\n}\n' > "$t/src/main.rs"

	: > "$f"
	echo ">>> style self-test: each checker must report its bad input" >&2
	files_in krust "*.rs" "${KERNEL_DIRS[@]}"
	rustfmt_kernel "${krust[@]}" >> "$f"
	expect "rustfmt (kernel config), accel core" '^drm_accel/mod\.rs:[0-9]+: rustfmt: FORMAT' "$f"
	expect "rustfmt (kernel config), module" '^hw/x/x\.rs:[0-9]+: rustfmt: FORMAT' "$f"
	grep -q '^gem/' "$f" && { echo "    FAILED: rustfmt reports a formatted file" >&2; failed=1; }
	cargo_fmt >> "$f"
	expect "cargo fmt" '^src/main\.rs:[0-9]+: cargo-fmt: FORMAT' "$f"
	files_in kfiles "*.rs *.c *.h Kbuild" "${KERNEL_DIRS[@]}"
	kfiles+=(Kbuild uapi/gaudi_accel.h)
	checkpatch_files "${kfiles[@]}" >> "$f"
	expect "checkpatch -f, C" '^hw/x/bad\.c:3: checkpatch: OPEN_BRACE: ERROR' "$f"
	expect "checkpatch -f, C" '^hw/x/bad\.c:4: checkpatch: TRAILING_WHITESPACE: ERROR' "$f"
	grep -q '^uapi/gaudi_accel\.h:.*BIT_MACRO' "$f" &&
		{ echo "    FAILED: the uapi header was not checked as include/uapi/" >&2; failed=1; }
	grep -q 'NOT_CHECKED' "$f" && { echo "    FAILED: checkpatch skipped a file" >&2; failed=1; }
	files_in patches "*.patch" kernel/patches
	checkpatch_patches "${patches[@]}" >> "$f"
	expect "checkpatch, patch" '^kernel/patches/0001-test\.patch:7: checkpatch: TRAILING_WHITESPACE: ERROR: .*\(rust/helpers/foo\.c:3\)' "$f"
	grep -qE 'COMMIT_MESSAGE|SIGN_OFF|DIFF_IN_COMMIT' "$f" &&
		{ echo "    FAILED: commit message checks on a bare diff" >&2; failed=1; }
	# The clippy records of kernel builds: a log of a CLIPPY=1 build with a
	# warning in a file of ours, one in a file not ours, one in a line that
	# a patch added to a kernel file and one in a line it did not add.
	python3 "$LINT" selftest >> "$f" 2>&1 || failed=1
	expect "kbuild clippy log" '^ok: kbuild-lint' "$f"
	CARGO_TARGET_DIR="$t/target" cargo_clippy >> "$f"
	expect "cargo clippy" '^src/main\.rs:6: cargo-clippy: clippy::needless_return' "$f"
	# Waivers: a waived finding passes, any other fails, and so does a
	# waiver that matches nothing.
	local w="$RUN/selftest.report"
	printf 'checkpatch hw/x/bad.c OPEN_BRACE # x\n' > "$t/waivers"
	grep ': checkpatch: OPEN_BRACE:' "$f" > "$w"
	WAIVERS="$t/waivers" report selftest checkpatch "$w" 2> /dev/null ||
		{ echo "    FAILED: a waived finding failed the report" >&2; failed=1; }
	WAIVERS="$t/waivers" report selftest checkpatch "$f" 2> /dev/null &&
		{ echo "    FAILED: findings passed the report" >&2; failed=1; }
	printf 'checkpatch hw/x/bad.c OPEN_BRACE # x\ncheckpatch hw/x/bad.c LONG_LINE # x\n' > "$t/waivers"
	WAIVERS="$t/waivers" report selftest checkpatch "$w" 2> /dev/null &&
		{ echo "    FAILED: a stale waiver passed the report" >&2; failed=1; }
	[ $failed -ne 0 ] || echo "    ok: waivers" >&2
	if [ $failed -ne 0 ]; then
		echo ">>> style self-test: FAILED (a checker missed its bad input)" >&2
		return 1
	fi
	echo ">>> style self-test: every checker reported its bad input" >&2
}

[ -x "$CHECKPATCH" ] || die "no $CHECKPATCH: run make setup"
[ -x "$KRUSTFMT" ] || die "no $KRUSTFMT (rustfmt-web): run make setup"
RUN=$(mktemp -d /tmp/rust-accel-style.XXXXXX)
trap 'rm -rf "$RUN"' EXIT
case "${1:-}" in
static) step "style: rustfmt and checkpatch" static_checks ;;
clippy) step "style: clippy" clippy_checks ;;
selftest) step "style: self-test" selftest ;;
*) die "usage: style.sh static|clippy|selftest" ;;
esac
