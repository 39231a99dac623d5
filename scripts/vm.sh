#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test VM: stock QEMU (TCG) with Gaudi-class devices served by one
# gaudi-emu process, guest RAM shared with the emulator, the cached rootfs as
# a read-only 9p root, build/guest as /project and build/results as
# /results. In the bench mode it then measures the host's memcpy for the
# report (see the end).
#
# PCI topology (VM_TOPOLOGY, see Documentation/memory.rst, peer-to-peer):
#   bridge (default)  the first two devices (accel0, accel1) behind one
#                     pci-bridge: they share an upstream bridge, so the
#                     kernel's p2pdma allows peer-to-peer DMA between them;
#                     every further device behind a bridge of its own: its
#                     only common upstream with the pair is the i440fx host
#                     bridge, which is not on the p2pdma whitelist, so p2p
#                     with it is refused (the refusal tests use accel2).
#   flat              every device on the root bus (p2p always refused).
# VM_DEVICES: number of devices (default 3).
#
# Usage: vm.sh check|run|bench|soak|fuzz (fuzz: FUZZ_CALLS, FUZZ_SEED)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode="${1:?usage: vm.sh check|run|bench|soak|fuzz}"
BUILD="$REPO/build"
GUEST="$BUILD/guest"
RESULTS="$BUILD/results"
ROOTFS="$ACCEL_CACHE/rootfs"
KERNEL="$ACCEL_CACHE/kbuild/arch/x86/boot/bzImage"
MEM="${VM_MEM:-2G}"
DEVICES="${VM_DEVICES:-3}"
TOPOLOGY="${VM_TOPOLOGY:-bridge}"

[ -f "$KERNEL" ] || die "no kernel at $KERNEL: run make kernel"
[ -x "$ROOTFS/usr/bin/igt_runner" ] || die "no guest rootfs: run make setup"

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
RUN=$(mktemp -d /tmp/rust-accel-vm.XXXXXX)
RAM="/dev/shm/rust-accel-$$.ram"
emu_pid=""
cleanup() {
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
	rm -rf "$RUN" "$RAM"
}
trap cleanup EXIT

install -m 0755 "$REPO/guest/init.sh" "$ROOTFS/accel-init"
truncate -s "$MEM" "$RAM"

# The control socket takes fault-injection requests from the host
# (gaudi-emu inject "$RUN/control.sock" DEVICE FAULT ...).
emu_args=(--guest-ram "$RAM" --control "$RUN/control.sock")
qemu_dev=()
case "$TOPOLOGY" in
bridge)
	[ "$DEVICES" -gt 0 ] && qemu_dev+=(-device "pci-bridge,id=p2p,chassis_nr=1,shpc=off,addr=0x10")
	;;
flat) ;;
*) die "VM_TOPOLOGY must be bridge or flat" ;;
esac
for ((i = 0; i < DEVICES; i++)); do
	emu_args+=(--device "$RUN/dev$i.sock")
	qemu_dev+=(-chardev "socket,id=dev$i,path=$RUN/dev$i.sock")
	if [ "$TOPOLOGY" = flat ]; then
		where="addr=$(printf 0x%x $((0x10 + i)))"
	elif [ "$i" -lt 2 ]; then
		where="bus=p2p,addr=$(printf 0x%x $((1 + i)))"
	else
		qemu_dev+=(-device "pci-bridge,id=far$i,chassis_nr=$((i + 1)),shpc=off,addr=$(printf 0x%x $((0x10 + i)))")
		where="bus=far$i,addr=0x1"
	fi
	qemu_dev+=(-device "ivshmem-doorbell,chardev=dev$i,vectors=8,$where")
done
if [ "$DEVICES" -gt 0 ]; then
	"$BUILD/bin/gaudi-emu" "${emu_args[@]}" > "$RUN/emu.out" 2> "$RESULTS/emulator.log" &
	emu_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q "ready" "$RUN/emu.out" 2>/dev/null && break
		kill -0 "$emu_pid" 2>/dev/null || die "gaudi-emu exited: $(cat "$RESULTS/emulator.log")"
		sleep 0.1
	done
	grep -q "ready" "$RUN/emu.out" || die "gaudi-emu did not become ready"
fi

# The guest has no ACPI, hence no HPET or PM timer to calibrate its TSC
# against: it marks the TSC unstable and falls back to the jiffies
# clocksource, so ktime_get() advances in ticks (4 ms) and high-resolution
# timers stay off. Under TCG the guest's TSC is the host's: for the
# benchmarks, hand the guest the host's TSC frequency (from the host's kernel
# log) and trust its TSC.
# The boot messages can scroll out of the host's log buffer on a long-running
# host, so the value found is kept in the cache for later runs.
clock_args=""
if [ "$mode" = bench ]; then
	tsc_cache="$ACCEL_CACHE/host-tsc-mhz"
	tsc_mhz=$( (dmesg 2>/dev/null; journalctl -k -b 2>/dev/null) |
		sed -n -e 's/.*tsc: Refined TSC clocksource calibration: \([0-9]*\.[0-9]*\) MHz.*/\1/p' \
		-e 's/.*tsc: Detected \([0-9]*\.[0-9]*\) MHz.*/\1/p' | tail -n 1)
	if [ -n "$tsc_mhz" ]; then
		echo "$tsc_mhz" >"$tsc_cache"
	elif [ -s "$tsc_cache" ]; then
		tsc_mhz=$(cat "$tsc_cache")
	else
		# Measured against the host's monotonic clock by the emulator.
		tsc_mhz=$("$BUILD/bin/gaudi-emu" --tsc-mhz 2>/dev/null) && echo "$tsc_mhz" >"$tsc_cache"
	fi
	if [ -n "$tsc_mhz" ]; then
		clock_args="tsc_early_khz=${tsc_mhz/./} tsc=reliable"
	else
		echo ">>> host TSC frequency unknown: the guest's clock will be jiffies" >&2
	fi
fi

# The run's kernel log is judged whole (KUnit results from boot, warnings
# charged to subtests): a ring buffer large enough that nothing scrolls out.
log_args="log_buf_len=16M"
fuzz_args=""
if [ "$mode" = fuzz ]; then
	fuzz_args="accel.fuzz_calls=${FUZZ_CALLS:-1000000} accel.fuzz_seed=${FUZZ_SEED:-0x5eed}"
fi

t0=$(date +%s)
echo ">>> booting the VM ($mode, $DEVICES devices, $TOPOLOGY topology, TCG) ..." >&2
rc=0
timeout --foreground "${VM_TIMEOUT:-2400}" qemu-system-x86_64 \
	-M pc -accel tcg -cpu max -smp 2 -m "$MEM" \
	-object "memory-backend-file,id=ram,size=$MEM,mem-path=$RAM,share=on" \
	-machine memory-backend=ram \
	-kernel "$KERNEL" \
	-append "console=ttyS0 quiet root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,cache=loose ro init=/accel-init accel.mode=$mode accel.devices=$DEVICES panic=-1 $log_args $clock_args $fuzz_args" \
	-fsdev "local,id=root,path=$ROOTFS,security_model=none,readonly=on" \
	-device virtio-9p-pci,fsdev=root,mount_tag=/dev/root \
	-fsdev "local,id=project,path=$GUEST,security_model=none,readonly=on" \
	-device virtio-9p-pci,fsdev=project,mount_tag=project \
	-fsdev "local,id=results,path=$RESULTS,security_model=none" \
	-device virtio-9p-pci,fsdev=results,mount_tag=results \
	"${qemu_dev[@]}" \
	-display none -monitor none -serial stdio -no-reboot \
	< /dev/null 2>&1 | tee "$RESULTS/console.log" || rc=$?
echo ">>> VM finished in $(( $(date +%s) - t0 ))s" >&2
# The emulator must have lasted the whole run and stop cleanly when asked to
# (its log, results/emulator.log, then ends with "gaudi-emu: stopped"; the
# summary judges the log).
if [ -n "$emu_pid" ]; then
	kill -0 "$emu_pid" 2>/dev/null || die "gaudi-emu exited during the run: see $RESULTS/emulator.log"
	kill -TERM "$emu_pid"
	emu_rc=0
	wait "$emu_pid" || emu_rc=$?
	emu_pid=""
	[ $emu_rc = 0 ] || die "gaudi-emu exited $emu_rc when stopped: see $RESULTS/emulator.log"
fi
[ $rc = 0 ] || die "QEMU failed or timed out (exit $rc)"
grep -q "accel-guest: done" "$RESULTS/console.log" || die "the guest did not finish its run"

# The reference of the device's DMA figures: the host's memcpy at the sizes
# the guest copied, measured here in the same run, once the VM is gone.
if [ "$mode" = bench ] && [ -f "$RESULTS/bench.txt" ]; then
	sizes=$(sed -n 's/^exec-bench dma_.* bytes=\([0-9]*\).*/\1/p' "$RESULTS/bench.txt" | sort -un | paste -sd,)
	if [ -n "$sizes" ]; then
		"$BUILD/bin/gaudi-emu" --bench-memcpy "$sizes" >> "$RESULTS/bench.txt" ||
			echo "host-bench memcpy failed" >> "$RESULTS/bench.txt"
	fi
fi
