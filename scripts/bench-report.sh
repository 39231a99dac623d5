#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the figures of a benchmark run (build/results/bench.txt): the job
# queue against the DRM GPU scheduler, and whatever else the run printed.
set -euo pipefail

f="${1:?usage: bench-report.sh bench.txt}"
[ -s "$f" ] || { echo "bench-report: no figures in $f" >&2; exit 1; }

awk '
# Every module load prints one line per workload; the same workload repeats
# once per round. The report prints the median of the rounds and their range.
/^sched-bench / {
	impl = $2; kind = $3; key = kind; v = ""; p = ""
	for (i = 4; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == "entities") key = kind " (" kv[2] " entities)"
		if (kv[1] == "jobs_per_s" || kv[1] == "submit_to_run_ns") v = kv[2]
		if (kv[1] == "pushed_per_s") p = kv[2]
	}
	if (v != "") add(key, impl, v)
	# How fast the submitter got its jobs in: the other side of throughput.
	if (p != "") { pk = key; sub(/^throughput/, "push rate", pk); add(pk, impl, p) }
	next
}
{ other[++m] = $0 }
function add(key, impl, v) {
	vals[key, impl, ++cnt[key, impl]] = v + 0
	if (!(key in seen)) { seen[key] = 1; order[++n] = key }
}
function median(key, impl,    c, i, j, t, a) {
	c = cnt[key, impl]
	if (!c) { lo = hi = 0; return 0 }
	for (i = 1; i <= c; i++) a[i] = vals[key, impl, i]
	for (i = 2; i <= c; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	lo = a[1]; hi = a[c]
	return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
END {
	if (n) {
		printf "Job queue, null engine (accel queue vs drm_sched), median of %d rounds [min-max]:\n", cnt[order[1], "accel_queue"]
		printf "  %-28s %22s %22s %8s\n", "workload", "accel queue", "drm_sched", "ratio"
		for (i = 1; i <= n; i++) {
			k = order[i]
			a = median(k, "accel_queue"); ar = sprintf("%d [%d-%d]", a, lo, hi)
			d = median(k, "drm_sched"); dr = sprintf("%d [%d-%d]", d, lo, hi)
			lat = (k ~ /^latency/)
			unit = lat ? " ns" : " jobs/s"
			# The ratio is "how many times better": higher is better for
			# throughput, lower for latency.
			r = (a > 0 && d > 0) ? (lat ? d / a : a / d) : 0
			printf "  %-28s %22s %22s %7.2fx\n", k unit, ar, dr, r
		}
	}
	for (i = 1; i <= m; i++) print other[i]
}' "$f"
