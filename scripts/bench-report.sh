#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the figures of a benchmark run (build/results/bench.txt): the job
# queue against the DRM GPU scheduler, and whatever else the run printed.
set -euo pipefail

f="${1:?usage: bench-report.sh bench.txt}"
[ -s "$f" ] || { echo "bench-report: no figures in $f" >&2; exit 1; }

awk '
/^sched-bench / {
	impl = $2; kind = $3; key = kind
	for (i = 4; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == "entities") key = kind " (" kv[2] " entities)"
		if (kv[1] == "jobs_per_s" || kv[1] == "submit_to_run_ns") val[key, impl] = kv[2]
		if (kv[1] == "jobs") jobs[key] = kv[2]
	}
	if (!(key in seen)) { seen[key] = 1; order[++n] = key }
	next
}
{ other[++m] = $0 }
END {
	if (n) {
		printf "Job queue, null engine (accel queue vs drm_sched):\n"
		printf "  %-28s %14s %14s %8s\n", "workload", "accel queue", "drm_sched", "ratio"
		for (i = 1; i <= n; i++) {
			k = order[i]; a = val[k, "accel_queue"]; d = val[k, "drm_sched"]
			lat = (k ~ /^latency/)
			unit = lat ? " ns" : " jobs/s"
			# The ratio is "how many times better": higher is better for
			# throughput, lower for latency.
			r = (a > 0 && d > 0) ? (lat ? d / a : a / d) : 0
			printf "  %-28s %14s %14s %7.2fx\n", k unit, a, d, r
		}
	}
	for (i = 1; i <= m; i++) print other[i]
}' "$f"
