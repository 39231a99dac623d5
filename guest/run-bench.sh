#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the benchmarks in the guest and collect their figures in
# /results/bench.txt:
#  - job queue: the accel job queue and the DRM GPU scheduler on a null
#    engine (kernel modules that run when loaded and print "sched-bench" lines);
#  - buffer objects: gaudi-bench, our node against vgem, if it was built.

out=/results/bench.txt
: > "$out"
for m in drm_sched_bench accel_sched_bench; do
	echo "accel-guest: benchmark $m"
	if insmod "/project/bench/$m.ko"; then
		rmmod "$m"
	else
		echo "$m: insmod failed" >> "$out"
	fi
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
