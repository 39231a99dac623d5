# SPDX-License-Identifier: GPL-2.0
#
# Entry points (run as root on Debian 12):
#   make run     set everything up, boot the VM with two devices, show them
#   make check   set everything up and run every test; fails on any failure
#   make style   rustfmt, checkpatch --strict and clippy on our sources (make
#                check runs it first)
#   make manifest  the expected-results manifest against the test binaries'
#                own --list-subtests (make check runs it before the VM)
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

IGT_BINS := accel_core gaudi_query gaudi_gem gaudi_prime accel_syncobj gaudi_vm gaudi_exec gaudi_p2p
# What a run must show: every test binary with its subtests, the KUnit suites, the allowed
# skips and log lines. The guest runs what it lists; igt-summary judges the run against it.
EXPECTED := igt-tests/expected.txt
ROOTFS := $(ACCEL_CACHE)/rootfs
# IGT-protocol tests in C (igt-tests/c/NAME.c with the protocol in igt_c.c): against Debian's
# libdrm, and against our libgaudi through its pkg-config file.
C_IGT_BINS := gaudi_prime_c gaudi_exec_c
C_IGT := $(foreach b,$(C_IGT_BINS),$(BUILD)/c/$(b))
C_IGT_COMMON := igt-tests/c/igt_c.c igt-tests/c/igt_c.h

# libgaudi for C: the cargo build's library under its soname, a link-time
# name and the static archive in $(LIB), and gaudi.pc for this build location
# in $(PKGCONFIG). The guest gets the library in /project/lib; C programs find
# it there through their rpath $ORIGIN/../lib (they live in /project/igt).
LIB := $(BUILD)/lib
PKGCONFIG := $(BUILD)/pkgconfig
GAUDI_PC := $(PKGCONFIG)/gaudi.pc
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
PKG_GAUDI := PKG_CONFIG_PATH=$(PKGCONFIG) pkg-config

.PHONY: all setup kernel module userspace libgaudi c-tests guest host-tests manifest run check \
	bench style style-static clippy clean

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
	@$(CARGO) build --release --workspace --bins --lib

libgaudi: $(GAUDI_PC)

$(GAUDI_PC): userspace/gaudi.pc.in userspace
	@mkdir -p $(LIB) $(PKGCONFIG)
	@cp $(RELEASE)/libgaudi.so $(LIB)/libgaudi.so.0
	@ln -sf libgaudi.so.0 $(LIB)/libgaudi.so
	@cp $(RELEASE)/libgaudi.a $(LIB)/libgaudi.a
	@sed -e 's|@libdir@|$(LIB)|' -e 's|@includedir@|$(CURDIR)/userspace/include|' \
		-e 's|@version@|$(VERSION)|' $< > $@

c-tests: $(C_IGT)

$(BUILD)/c/%: igt-tests/c/%.c $(C_IGT_COMMON) uapi/gaudi_accel.h | setup
	@echo ">>> building $* (cc, libdrm)" >&2
	@mkdir -p $(@D)
	@$(CC) -O2 -Wall -Werror $$(pkg-config --cflags libdrm) -I uapi -o $@ $< igt-tests/c/igt_c.c \
		$$(pkg-config --libs libdrm)

$(BUILD)/c/gaudi_exec_c: igt-tests/c/gaudi_exec_c.c $(C_IGT_COMMON) userspace/include/gaudi/gaudi.h \
		$(GAUDI_PC)
	@echo ">>> building gaudi_exec_c (cc, libgaudi through pkg-config)" >&2
	@mkdir -p $(@D)
	@$(CC) -O2 -Wall -Werror $$($(PKG_GAUDI) --cflags gaudi) -o $@ $< igt-tests/c/igt_c.c \
		-Wl,-rpath,'$$ORIGIN/../lib' $$($(PKG_GAUDI) --libs gaudi)

guest: module userspace libgaudi c-tests
	@rm -rf $(GUEST) && mkdir -p $(GUEST)/bin $(GUEST)/igt $(GUEST)/lib $(BUILD)/bin
	@cp $(BUILD)/kmod/hw/gaudi/gaudi.ko $(GUEST)/
	@cp guest/run-igt.sh guest/run-bench.sh $(GUEST)/
	@cp $(EXPECTED) $(GUEST)/expected.txt
	@mkdir -p $(GUEST)/bench
	@cp $(foreach m,bench_engine accel_sched_bench drm_sched_bench,$(BUILD)/kmod/bench/sched/$(m).ko) \
		$(GUEST)/bench/
	@cp $(RELEASE)/gaudi-info $(RELEASE)/gaudi-bench $(RELEASE)/gaudi-as $(GUEST)/bin/
	@cp $(LIB)/libgaudi.so.0 $(GUEST)/lib/
	@cp $(foreach b,$(IGT_BINS),$(RELEASE)/$(b)) $(C_IGT) $(GUEST)/igt/
	@cp $(RELEASE)/gaudi-emu $(RELEASE)/igt-summary $(RELEASE)/igt-manifest $(BUILD)/bin/

host-tests: setup
	@echo ">>> host tests (cargo test)" >&2
	@mkdir -p $(BUILD)
	@$(CARGO) test --workspace 2>&1 | tee $(BUILD)/cargo-test.log; \
		test $${PIPESTATUS[0]} -eq 0

# The manifest against what the binaries list: ours as built for the guest, upstream ones
# in the guest's rootfs (through chroot).
manifest: guest
	@echo ">>> the expected-results manifest against --list-subtests" >&2
	@$(BUILD)/bin/igt-manifest $(EXPECTED) --ours $(GUEST)/igt \
		--upstream /usr/libexec/igt-gpu-tools --chroot $(ROOTFS)

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

check: style guest host-tests manifest
	@scripts/vm.sh check
	@$(BUILD)/bin/igt-summary --expected $(EXPECTED) \
		$(foreach n,0 1,accel$(n)=$(BUILD)/results/accel$(n)/results.json) \
		--kunit $(BUILD)/results/dmesg.txt --cargo $(BUILD)/cargo-test.log \
		--kernel-log $(BUILD)/results/dmesg.txt --kmemleak $(BUILD)/results/kmemleak.txt \
		--guest-failure $(BUILD)/results/failure --guest-status $(BUILD)/results/guest-status \
		--emulator-log $(BUILD)/results/emulator.log

bench: guest
	@scripts/vm.sh bench
	@scripts/bench-report.sh $(BUILD)/results/bench.txt
	@$(BUILD)/bin/igt-summary --kernel-log $(BUILD)/results/dmesg.txt

clean:
	rm -rf $(BUILD) $(CARGO_TARGET_DIR)
