# SPDX-License-Identifier: GPL-2.0
#
# Entry points (run as root on Debian 12):
#   make run     set everything up, boot the VM with two devices, show them
#   make check   set everything up and run every test; fails on any failure
#   make style   rustfmt, checkpatch --strict and clippy on our sources (make
#                check runs it first)
#
# Everything expensive is cached in $(ACCEL_CACHE) (default
# /var/cache/rust-accel): toolchain stamps, the kernel tree and its build,
# the guest rootfs. Build output of this checkout goes to build/.

SHELL := /bin/bash
ACCEL_CACHE ?= /var/cache/rust-accel
export ACCEL_CACHE
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
BUILD := $(CURDIR)/build
GUEST := $(BUILD)/guest
RELEASE := $(CARGO_TARGET_DIR)/release

IGT_BINS := accel_core gaudi_query gaudi_gem gaudi_prime accel_syncobj
# IGT-protocol tests in C, against Debian's libdrm (built from igt-tests/c/NAME.c).
C_IGT_BINS := gaudi_prime_c
C_IGT := $(foreach b,$(C_IGT_BINS),$(BUILD)/c/$(b))

.PHONY: all setup kernel module userspace c-tests guest host-tests run check bench style style-static \
	clippy clean

all: guest

setup:
	@scripts/setup-host.sh
	@scripts/fetch-kernel.sh
	@scripts/mkrootfs.sh

kernel: setup
	@scripts/build-kernel.sh kernel

module: kernel
	@scripts/build-kernel.sh module

userspace: setup
	@echo ">>> building userspace (cargo)" >&2
	@$(CARGO) build --release --workspace --bins

c-tests: $(C_IGT)

$(BUILD)/c/%: igt-tests/c/%.c uapi/gaudi_accel.h | setup
	@echo ">>> building $* (cc, libdrm)" >&2
	@mkdir -p $(@D)
	@$(CC) -O2 -Wall -Werror $$(pkg-config --cflags libdrm) -I uapi -o $@ $< $$(pkg-config --libs libdrm)

guest: module userspace c-tests
	@rm -rf $(GUEST) && mkdir -p $(GUEST)/bin $(GUEST)/igt $(BUILD)/bin
	@cp $(BUILD)/kmod/hw/gaudi/gaudi.ko $(GUEST)/
	@cp guest/run-igt.sh guest/run-bench.sh $(GUEST)/
	@mkdir -p $(GUEST)/bench
	@cp $(foreach m,bench_engine accel_sched_bench drm_sched_bench,$(BUILD)/kmod/bench/sched/$(m).ko) \
		$(GUEST)/bench/
	@cp $(RELEASE)/gaudi-info $(RELEASE)/gaudi-bench $(GUEST)/bin/
	@cp $(foreach b,$(IGT_BINS),$(RELEASE)/$(b)) $(C_IGT) $(GUEST)/igt/
	@cp $(RELEASE)/gaudi-emu $(RELEASE)/igt-summary $(BUILD)/bin/

host-tests: setup
	@echo ">>> host tests (cargo test)" >&2
	@mkdir -p $(BUILD)
	@$(CARGO) test --workspace 2>&1 | tee $(BUILD)/cargo-test.log; \
		test $${PIPESTATUS[0]} -eq 0

run: guest
	@scripts/vm.sh run

# Style: the static checks (rustfmt, cargo fmt, checkpatch) take seconds
# and come first, after a self-test that feeds each checker a bad input;
# clippy runs as the compiler of the kernel and module builds (CLIPPY=1,
# always on) and its findings are read from their records, then cargo
# clippy lints the workspace. Findings fail; scripts/style-waivers lists
# the waived ones.
style: style-static clippy

style-static: setup
	@scripts/style.sh selftest
	@scripts/style.sh static

clippy: module
	@scripts/style.sh clippy

check: style guest host-tests
	@scripts/vm.sh check
	@$(BUILD)/bin/igt-summary $(foreach n,0 1,accel$(n)=$(BUILD)/results/accel$(n)/results.json) \
		--kunit $(BUILD)/results/dmesg.txt --cargo $(BUILD)/cargo-test.log \
		--kernel-log $(BUILD)/results/dmesg.txt --kmemleak $(BUILD)/results/kmemleak.txt \
		--guest-failure $(BUILD)/results/failure

bench: guest
	@scripts/vm.sh bench
	@scripts/bench-report.sh $(BUILD)/results/bench.txt

clean:
	rm -rf $(BUILD) $(CARGO_TARGET_DIR)
