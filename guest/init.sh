#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test VM. The root filesystem is the read-only 9p rootfs; the
# project's build output is at /project (read-only) and results go to
# /results. The kernel command line selects what to do:
#   accel.mode=check  run the conformance suite on every accel node
#   accel.mode=run    show the devices, train the digits classifier on them
#                     and on the CPU, run the C inference example
#   accel.mode=bench  run the benchmarks (figures in /results/bench.txt)
#   accel.mode=fuzz   a long fuzzing campaign on the first node (gaudi_fuzz,
#                     accel.fuzz_calls and accel.fuzz_seed; /results/fuzz.txt)

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mount -t 9p -o trans=virtio,version=9p2000.L,ro project /project
mount -t 9p -o trans=virtio,version=9p2000.L results /results

mode=check
expect=2
fuzz_calls=1000000
fuzz_seed=0x5eed
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	accel.mode=*) mode="${arg#accel.mode=}" ;;
	accel.devices=*) expect="${arg#accel.devices=}" ;;
	accel.fuzz_calls=*) fuzz_calls="${arg#accel.fuzz_calls=}" ;;
	accel.fuzz_seed=*) fuzz_seed="${arg#accel.fuzz_seed=}" ;;
	esac
done

# The run's record, judged on the host (igt-summary): /results/guest-status
# holds one line per step that happened, with its result (insmod ok, nodes
# accel0 accel1, rmmod ok, kmemleak scanned), so that a step that did not
# happen reads as missing rather than as clean; /results/failure holds what
# went wrong outside the tests.
status() {
	echo "$*" >> /results/guest-status
}
failure() {
	echo "accel-guest: $*"
	echo "accel-guest: $*" >> /results/failure
}

finish() {
	# With the level of every record (<N>), so that errors can be judged.
	dmesg -r > /results/dmesg.txt || failure "dmesg -r failed"
	sync
	echo "accel-guest: done ($1)"
	# Minbase has no poweroff(8) and the kernel has no ACPI: reboot through
	# sysrq, which ends QEMU (it runs with -no-reboot).
	echo b > /proc/sysrq-trigger
	sleep 10
}

status "nodes-expected $expect"
echo "accel-guest: loading the driver"
if ! insmod /project/gaudi.ko; then
	status "insmod failed"
	failure "insmod failed"
	finish "insmod failed"
fi
status "insmod ok"

# Each probed device gets an accel node; wait for both (probe includes the
# self-test round trip through the emulator).
nodes=""
for i in $(seq 1 100); do
	nodes=$(ls /dev/accel/ 2>/dev/null | grep '^accel[0-9]*$' | sort)
	[ "$(echo "$nodes" | grep -c accel)" -ge "$expect" ] && break
	sleep 0.1
done
echo "accel-guest: nodes:" $nodes
found=$(echo "$nodes" | grep -c accel)
[ "$found" -ge "$expect" ] || failure "probe: $found of $expect accel nodes"
# The suite runs on the manifest's nodes (the summary judges this step against
# them); further devices (accel2: the far device of the peer-to-peer refusal
# tests, see scripts/vm.sh) are only used by the tests, and recorded apart.
igt_nodes=""
far_nodes=""
want=$(sed -n 's/^nodes //p' /project/expected.txt)
for n in $nodes; do
	if echo " $want " | grep -q " $n "; then
		igt_nodes="$igt_nodes $n"
	else
		far_nodes="$far_nodes $n"
	fi
done
status "nodes" $igt_nodes
status "far-nodes" $far_nodes

mkdir -p /dev/dri
case "$mode" in
run)
	/project/bin/gaudi-info
	# The training demo: the digits classifier on one device, on both
	# (data-parallel) and on the guest CPU; then the C example's inference
	# with the trained weights through libgaudi.
	echo "accel-guest: training the digits classifier"
	if /project/bin/gaudi-train --out /results; then
		status "train ok"
	else
		status "train failed"
		failure "gaudi-train failed"
	fi
	if [ -f /results/mlp-params.txt ]; then
		echo "accel-guest: the C example (examples/c/infer.c) on the trained weights"
		/project/bin/infer /results/mlp-params.txt /project/data/digits.csv ||
			failure "infer failed"
	fi
	;;
check)
	/project/run-igt.sh $igt_nodes
	;;
bench)
	/project/run-bench.sh $nodes
	;;
soak)
	# Long recovery cycles with live clients on every node (make soak); each
	# subtest's verdict goes to /results/soak.txt.
	for node in $igt_nodes; do
		for t in hang-cycles rebind-cycles; do
			if ACCEL_DEVICE=/dev/accel/$node GAUDI_RECOVERY_CYCLES=100 \
				GAUDI_REBIND_CYCLES=20 /project/igt/gaudi_recovery \
				--run-subtest $t >> /results/soak.log 2>&1; then
				echo "soak $node $t pass" >> /results/soak.txt
			else
				echo "soak $node $t fail" >> /results/soak.txt
			fi
		done
	done
	;;
fuzz)
	first=$(echo "$nodes" | head -n 1)
	echo "accel-guest: fuzzing /dev/accel/$first: $fuzz_calls calls, seed $fuzz_seed"
	ACCEL_DEVICE=/dev/accel/$first GAUDI_FUZZ_CALLS=$fuzz_calls GAUDI_FUZZ_SEED=$fuzz_seed \
		/project/igt/gaudi_fuzz --run-subtest campaign > /results/fuzz.txt 2>&1
	rc=$?
	echo "accel-guest: gaudi_fuzz exited $rc"
	status "fuzz exit $rc"
	[ $rc = 0 ] || failure "gaudi_fuzz exited $rc"
	;;
esac

echo "accel-guest: unloading the driver"
if rmmod gaudi; then
	status "rmmod ok"
else
	status "rmmod failed"
	failure "rmmod failed"
fi
# An empty report means no leak only if kmemleak is active and both scans ran:
# writing "scan" fails (EPERM) once kmemleak has disabled itself.
leaks=/sys/kernel/debug/kmemleak
if [ ! -e $leaks ]; then
	status "kmemleak absent"
	failure "kmemleak: no $leaks"
elif echo scan > $leaks && sleep 1 && echo scan > $leaks && cat $leaks > /results/kmemleak.txt; then
	status "kmemleak scanned"
else
	status "kmemleak scan-failed"
	failure "kmemleak: the scan failed (kmemleak off?)"
fi
finish "$mode"
