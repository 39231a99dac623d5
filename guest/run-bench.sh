#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the benchmarks in the guest and collect their figures in
# /results/bench.txt:
#  - job queue: the accel job queue and the DRM GPU scheduler on the same
#    mock engine (bench_engine.ko, loaded first; BENCH_ENGINE_ARGS are its
#    module parameters, such as service_ns=20000 depth=64), kernel modules
#    that run when loaded and print "sched-bench" lines, BENCH_ROUNDS rounds
#    (default 5);
#  - gaudi-bench, if it was built: buffer objects on our node against vgem,
#    then execution on the device ("exec-bench" lines: null job round trip,
#    submit throughput, a dependent chain, DMA bandwidth);
#  - gaudi-train --bench: time per epoch of the digits classifier on one
#    device, two devices and the guest CPU, and the busy share.

out=/results/bench.txt
: > "$out"
# The two job-queue modules run alternately, several rounds, so that drift in
# the guest (TCG, other vCPU) affects both; the report prints medians.
rounds=${BENCH_ROUNDS:-5}
echo "guest clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" >> "$out"
# The mock hardware both benchmarks run on; they need its symbols.
# shellcheck disable=SC2086
if ! insmod /project/bench/bench_engine.ko ${BENCH_ENGINE_ARGS:-}; then
	echo "sched-bench REJECTED bench_engine insmod failed:" \
		"$(dmesg | grep -o 'bench_engine: .*' | tail -n 1)" \
		"clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" \
		"clockevent=$(cat /sys/devices/system/clockevents/clockevent0/current_device)" >> "$out"
	rounds=0
fi
i=0
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	for m in drm_sched_bench accel_sched_bench; do
		echo "accel-guest: benchmark $m, round $i of $rounds"
		if insmod "/project/bench/$m.ko"; then
			rmmod "$m"
		else
			echo "$m: insmod failed" >> "$out"
		fi
	done
done
[ "$rounds" -gt 0 ] && rmmod bench_engine
dmesg | sed -n 's/^\[[^]]*\] //p' | sed -n 's/^\([a-z_]*: \)\{0,1\}\(sched-bench .*\)/\2/p' >> "$out"
if [ -x /project/bin/gaudi-bench ]; then
	echo "accel-guest: benchmark gaudi-bench"
	/project/bin/gaudi-bench > /tmp/gaudi-bench.txt 2>&1 ||
		echo "gaudi-bench failed: $?" >> /tmp/gaudi-bench.txt
	# On the console as well as in the results.
	cat /tmp/gaudi-bench.txt
	cat /tmp/gaudi-bench.txt >> "$out"
fi
# The training benchmark: time per epoch of the digits classifier on one
# device, on two and on the guest CPU, and the devices' busy share
# (/results/train-bench.csv, plotted on the host).
if [ -x /project/bin/gaudi-train ]; then
	echo "accel-guest: benchmark gaudi-train"
	/project/bin/gaudi-train --bench --epochs 3 --out /tmp > /tmp/gaudi-train.txt 2>/dev/null ||
		echo "gaudi-train failed: $?" >> /tmp/gaudi-train.txt
	cp /tmp/bench.csv /results/train-bench.csv 2>/dev/null
	cat /tmp/gaudi-train.txt
	sed 's/^/train-bench /' /tmp/gaudi-train.txt >> "$out"
fi
