#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the benchmarks in the guest and collect their figures in
# /results/bench.txt:
#  - job queue: the accel job queue and the DRM GPU scheduler on a null
#    engine (kernel modules that run when loaded and print "sched-bench" lines),
#    BENCH_ROUNDS rounds (default 5);
#  - buffer objects: gaudi-bench, our node against vgem, if it was built.

out=/results/bench.txt
: > "$out"
# The two job-queue modules run alternately, several rounds, so that drift in
# the guest (TCG, other vCPU) affects both; the report prints medians.
rounds=${BENCH_ROUNDS:-5}
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
dmesg | sed -n 's/^\[[^]]*\] //p' | sed -n 's/^\([a-z_]*: \)\{0,1\}\(sched-bench .*\)/\2/p' >> "$out"
if [ -x /project/bin/gaudi-bench ]; then
	echo "accel-guest: benchmark gaudi-bench"
	/project/bin/gaudi-bench > /tmp/gaudi-bench.txt 2>&1 ||
		echo "gaudi-bench failed: $?" >> /tmp/gaudi-bench.txt
	# On the console as well as in the results.
	cat /tmp/gaudi-bench.txt
	cat /tmp/gaudi-bench.txt >> "$out"
fi
