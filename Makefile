# SPDX-License-Identifier: GPL-2.0
#
# Entry points (run as root on Debian 12):
#   make run     set everything up, boot the VM with two devices, show them
#   make check   set everything up and run every test; fails on any failure
#   make style   rustfmt, checkpatch --strict and clippy on our sources (make
#                check runs it first)
#   make manifest  the expected-results manifest against the test binaries'
#                own --list-subtests (make check runs it before the VM)
#   make fuzz    a long fuzzing campaign in the VM (FUZZ_CALLS, default
#                1000000; FUZZ_SEED); fails on any kernel report
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

IGT_BINS := accel_core gaudi_query gaudi_health gaudi_gem gaudi_prime accel_syncobj gaudi_vm gaudi_exec \
	gaudi_recovery gaudi_fuzz gaudi_faults gaudi_races gaudi_train gaudi_p2p
# What a run must show: every test binary with its subtests, the KUnit suites, the allowed
# skips and log lines. The guest runs what it lists; igt-summary judges the run against it.
EXPECTED := igt-tests/expected.txt
ROOTFS := $(ACCEL_CACHE)/rootfs
# IGT-protocol tests in C (igt-tests/c/NAME.c with the protocol in igt_c.c): against Debian's
# libdrm, and against our libgaudi through its pkg-config file.
C_IGT_BINS := gaudi_prime_c gaudi_exec_c gaudi_compat32
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
# The training demo's data set: scikit-learn's handwritten digits, from Debian's python3-sklearn
# (installed by scripts/setup-host.sh); the guest gets it uncompressed in /project/data.
DIGITS_GZ := /usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
# C programs against libgaudi's C ABI (examples/c), built with pkg-config.
C_EXAMPLES := $(BUILD)/c/infer

.PHONY: all setup kernel module userspace libgaudi c-tests guest host-tests manifest run check \
	bench soak fuzz style style-static clippy clean

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

c-tests: $(C_IGT) $(C_EXAMPLES)

$(BUILD)/c/infer: examples/c/infer.c userspace/include/gaudi/gaudi.h $(GAUDI_PC)
	@echo ">>> building infer (cc, libgaudi through pkg-config)" >&2
	@mkdir -p $(@D)
	@$(CC) -O2 -Wall -Werror $$($(PKG_GAUDI) --cflags gaudi) -o $@ $< \
		-Wl,-rpath,'$$ORIGIN/../lib' $$($(PKG_GAUDI) --libs gaudi)

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

# The 32-bit client: static (the guest has no 32-bit libraries), raw ioctls, libdrm's
# headers only.
$(BUILD)/c/gaudi_compat32: igt-tests/c/gaudi_compat32.c $(C_IGT_COMMON) uapi/gaudi_accel.h | setup
	@echo ">>> building gaudi_compat32 (cc -m32 -static)" >&2
	@mkdir -p $(@D)
	@$(CC) -m32 -static -O2 -Wall -Werror $$(pkg-config --cflags libdrm) -I uapi -o $@ $< \
		igt-tests/c/igt_c.c

guest: module userspace libgaudi c-tests
	@rm -rf $(GUEST) && mkdir -p $(GUEST)/bin $(GUEST)/igt $(GUEST)/lib $(BUILD)/bin
	@cp $(BUILD)/kmod/hw/gaudi/gaudi.ko $(GUEST)/
	@cp guest/run-igt.sh guest/run-bench.sh $(GUEST)/
	@cp $(EXPECTED) $(GUEST)/expected.txt
	@mkdir -p $(GUEST)/bench
	@cp $(foreach m,bench_engine accel_sched_bench drm_sched_bench,$(BUILD)/kmod/bench/sched/$(m).ko) \
		$(GUEST)/bench/
	@cp $(RELEASE)/gaudi-info $(RELEASE)/gaudi-bench $(RELEASE)/gaudi-as $(RELEASE)/gaudi-train \
		$(C_EXAMPLES) $(GUEST)/bin/
	@mkdir -p $(GUEST)/data && zcat $(DIGITS_GZ) > $(GUEST)/data/digits.csv
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
	@scripts/plot-train.py $(BUILD)/results/train.csv $(BUILD)/results/train.png

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

# Long recovery cycles (Documentation/recovery.rst): 100 hang and recovery
# cycles and 20 unbind and bind cycles per node, with live clients.
soak: guest
	@rm -f $(BUILD)/results/soak.txt
	@scripts/vm.sh soak
	@cat $(BUILD)/results/soak.txt
	@$(BUILD)/bin/igt-summary --kernel-log $(BUILD)/results/dmesg.txt
	@test -s $(BUILD)/results/soak.txt && ! grep -v ' pass$$' $(BUILD)/results/soak.txt

bench: guest
	@scripts/vm.sh bench
	@scripts/bench-report.sh $(BUILD)/results/bench.txt
	@scripts/plot-train.py --bench $(BUILD)/results/train-bench.csv $(BUILD)/results/train-bench.png
	@$(BUILD)/bin/igt-summary --kernel-log $(BUILD)/results/dmesg.txt

# The campaign's figures (calls, rate, requests, errnos) from results/fuzz.txt, then the
# kernel log, kmemleak and the guest's record judged as in make check.
fuzz: guest
	@VM_TIMEOUT=$${VM_TIMEOUT:-86400} scripts/vm.sh fuzz
	@grep '^gaudi_fuzz: [rs]' $(BUILD)/results/fuzz.txt || true
	@grep -q 'campaign: SUCCESS' $(BUILD)/results/fuzz.txt || \
		{ tail -n 30 $(BUILD)/results/fuzz.txt; echo "make fuzz: the campaign failed" >&2; exit 1; }
	@$(BUILD)/bin/igt-summary --kernel-log $(BUILD)/results/dmesg.txt \
		--kmemleak $(BUILD)/results/kmemleak.txt --guest-failure $(BUILD)/results/failure \
		--guest-status $(BUILD)/results/guest-status

clean:
	rm -rf $(BUILD) $(CARGO_TARGET_DIR)
