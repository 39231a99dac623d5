#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the figures of a benchmark run (build/results/bench.txt): the job
# queue against the DRM GPU scheduler on the same mock engine, gaudi-bench's
# buffer-object tables as it printed them, and its execution figures
# ("exec-bench" lines) as ratios: the null job's round trip against
# DRM_IOCTL_VERSION, the submit rates against the round trip and against
# each other, the dependent chain against the round trip, and the device's
# DMA against the host's memcpy of the same size ("host-bench" lines, which
# scripts/vm.sh adds after the VM), and the training benchmark's table
# ("train-bench" lines). Exits non-zero if a job-queue run was
# rejected (a job that did not run, failed, or signalled out of order), if a
# benchmark module did not load, if the two benchmarks did not use the
# same configuration, or if gaudi-bench or the host's memcpy failed.
set -euo pipefail

f="${1:?usage: bench-report.sh bench.txt}"
[ -s "$f" ] || { echo "bench-report: no figures in $f" >&2; exit 1; }

awk '
# Every module load prints one line per workload; the same workload repeats
# once per round. The report prints the median of the rounds and their range.
/^sched-bench engine / { engine = $0; sub(/^sched-bench engine /, "", engine); next }
/^sched-bench [a-z_]* config / { config[$2] = $0; sub(/^sched-bench [a-z_]* config /, "", config[$2]); next }
/REJECTED|insmod failed/ { bad[++nbad] = $0; next }
/^sched-bench / {
	impl = $2; kind = $3; ents = ""
	delete kv
	for (i = 4; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
	key = kind " (" kv["entities"] " ent.)"
	if (kind == "latency") {
		add("latency mean (" kv["entities"] " ent.)", impl, kv["submit_to_run_ns"], "ns")
		add("latency p99 (" kv["entities"] " ent.)", impl, kv["p99_ns"], "ns")
	} else {
		add(key, impl, kv["jobs_per_s"], "jobs/s")
		pk = "push rate " key
		add(pk, impl, kv["pushed_per_s"], "jobs/s")
		add("engine idle " key, impl, kv["engine_idle"], "times")
		add("max ring " key, impl, kv["max_ring"], "jobs")
	}
	next
}
# exec-bench NAME UNIT MEDIAN MIN MAX [key=value ...]
/^exec-bench [a-z0-9_]+ / && NF >= 6 {
	x = $2; xorder[++nx] = x
	xu[x] = $3; xm[x] = $4 + 0; xlo[x] = $5; xhi[x] = $6; xd[x] = ""
	for (i = 7; i <= NF; i++) {
		xd[x] = xd[x] " " $i
		if (split($i, p, "=") == 2) xk[x, p[1]] = p[2]
	}
	next
}
/^exec-bench:/ { xnote[++nxn] = $0; next }
# gaudi-bench or the memcpy on the host did not finish: the line stays in the
# output and the report fails.
/^(gaudi-bench|host-bench memcpy) failed/ { failed[++nfailed] = $0 }
# The training benchmark lines (gaudi-train --bench) are printed as they are; a
# failed run fails the report.
/^train-bench (gaudi-train failed|gaudi-train: FAILED)/ { failed[++nfailed] = $0 }
# host-bench memcpy GB/s MEDIAN MIN MAX bytes=N
/^host-bench memcpy GB\/s / { split($7, p, "="); hm[p[2]] = $4 + 0; hr[p[2]] = sprintf("%.4g-%.4g", $5, $6); next }
{ other[++m] = $0 }
function xval(x) { return sprintf("%.4g %s [%.4g-%.4g]", xm[x], xu[x], xlo[x], xhi[x]) }
function xrow(label, value, ref, ratio) {
	printf "  %-34s %-28s %-34s %s\n", label, value, ref, ratio
}
function mib(b) { return sprintf("%d MiB", b / 1048576) }
function exec_table(    i, x, v, r, label, b, c, what) {
	print "Execution on the device (gaudi-bench; median of the rounds [min-max]):"
	xrow("figure", "value", "reference", "ratio")
	v = "version_ioctl"; r = "null_submit_wait"
	for (i = 1; i <= nx; i++) {
		x = xorder[i]
		if (x == v) {
			xrow("DRM_IOCTL_VERSION round trip", xval(x), "", "")
		} else if (x == r) {
			xrow("null job: SUBMIT + syncobj wait", xval(x),
				(v in xm) ? sprintf("VERSION %.4g us", xm[v]) : "-",
				(v in xm && xm[v] > 0) ? sprintf("%.1fx (goal <= 3x)", xm[x] / xm[v]) : "-")
			if ((x, "submit_ioctl_us") in xk)
				xrow("  of which in the SUBMIT ioctl", xk[x, "submit_ioctl_us"] " us", "", "")
		} else if (x ~ /^submit_[0-9]+_threads?$/) {
			what = x; sub(/^submit_/, "", what); gsub(/_/, " ", what)
			if (x == "submit_1_thread")
				xrow("submit throughput, " what, xval(x),
					(r in xm) ? sprintf("round trips %.4g/s", 1e6 / xm[r]) : "-",
					(r in xm) ? sprintf("%.2fx", xm[x] * xm[r] / 1e6) : "-")
			else
				xrow("submit throughput, " what, xval(x),
					("submit_1_thread" in xm) ? sprintf("1 thread %.4g jobs/s", xm["submit_1_thread"]) : "-",
					(xm["submit_1_thread"] > 0) ? sprintf("%.2fx", xm[x] / xm["submit_1_thread"]) : "-")
			if ((x, "submit_ioctl_us") in xk)
				xrow("  mean time of a SUBMIT", xk[x, "submit_ioctl_us"] " us", "", "")
		} else if (x == "chain_timeline") {
			xrow("dependent chain, per job", xval(x),
				(r in xm) ? sprintf("round trip %.4g us", xm[r]) : "-",
				(r in xm && xm[r] > 0) ? sprintf("%.2fx", xm[x] / xm[r]) : "-")
		} else if (x ~ /^dma_/) {
			what = x; sub(/^dma_/, "", what); sub(/_x[0-9]+$/, "", what); gsub(/_to_/, " -> ", what)
			b = xk[x, "bytes"]
			c = xk[x, "copies"]
			xrow("DMA " what ", " mib(b) ((c > 1) ? " x" c : ""), xval(x),
				(b in hm) ? sprintf("host memcpy %.4g GB/s [%s]", hm[b], hr[b]) : "no host figure",
				(b in hm && hm[b] > 0) ? sprintf("%.2fx (goal >= 0.5x)", xm[x] / hm[b]) : "-")
		} else if (x == "p2p_copy") {
			xrow("peer device -> device, " mib(xk[x, "bytes"]), xval(x),
				("bounce_copy" in xm) ? sprintf("bounced %.4g GB/s", xm["bounce_copy"]) : "-",
				(xm["bounce_copy"] > 0) ? sprintf("%.2fx (goal >= 1.5x)", xm[x] / xm["bounce_copy"]) : "-")
		} else if (x == "bounce_copy") {
			xrow("  same, bounced through system", xval(x), "", "")
		} else {
			xrow(x, xval(x), "", "")
		}
	}
	print "  (round trips: lower is better; rates and bandwidth: higher is better. Submit"
	print "  throughput, 1 thread, against the round trip: how many more jobs per second"
	print "  asynchronous submission completes than submitting and waiting one by one."
	print "  DMA: one job per copy, timed from SUBMIT until the wait returns; x8: eight"
	print "  copies in one job. Peer: the device copies its peer'"'"'s device memory through a"
	print "  peer-to-peer import, against the peer copying it to system memory first.)"
	for (i = 1; i <= nxn; i++) print "  " xnote[i]
}
function add(key, impl, v, unit) {
	if (v == "") return
	vals[key, impl, ++cnt[key, impl]] = v + 0
	units[key] = unit
	if (!(key in seen)) { seen[key] = 1; order[++n] = key }
}
function median(key, impl,    c, i, j, t, a) {
	c = cnt[key, impl]
	if (!c) { lo = hi = 0; return -1 }
	for (i = 1; i <= c; i++) a[i] = vals[key, impl, i]
	for (i = 2; i <= c; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	lo = a[1]; hi = a[c]
	return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
# The accel queue has no pipelining of same-queue dependencies: its chain
# figure is compared with both drm_sched chain variants.
function accel_key(k) { sub(/chain_nopipe/, "chain", k); return k }
function row(k, ratio,    a, d, ar, dr, r) {
	a = median(accel_key(k), "accel_queue"); ar = (a < 0) ? "-" : sprintf("%d [%d-%d]", a, lo, hi)
	d = median(k, "drm_sched"); dr = (d < 0) ? "-" : sprintf("%d [%d-%d]", d, lo, hi)
	r = (ratio && a > 0 && d > 0) ? sprintf("%7.2f", a / d) : "      -"
	printf "  %-40s %24s %24s %s\n", k " " units[k], ar, dr, r
}
END {
	status = 0
	if (n) {
		printf "Job queue on the mock engine (%s)\n", engine
		printf "  accel_queue: %s\n  drm_sched:   %s\n", config["accel_queue"], config["drm_sched"]
		if (config["accel_queue"] != config["drm_sched"]) {
			print "bench-report: the two benchmarks ran with different configurations" > "/dev/stderr"
			status = 1
		}
		printf "Median of %d rounds [min-max]; ratio = accel_queue / drm_sched\n", cnt[order[1], "accel_queue"]
		print "(throughput: higher is better; latency: lower is better):"
		printf "  %-40s %24s %24s %s\n", "workload", "accel_queue", "drm_sched", "  ratio"
		for (i = 1; i <= n; i++)
			if (order[i] !~ /^(engine idle|max ring)/) row(order[i], 1)
		print "Engine occupancy (how well each scheduler kept the ring fed):"
		for (i = 1; i <= n; i++)
			if (order[i] ~ /^(engine idle|max ring)/) row(order[i], 0)
	}
	if (nbad) {
		print "Rejected or missing job-queue figures:"
		for (i = 1; i <= nbad; i++) print "  " bad[i]
		status = 1
	}
	for (i = 1; i <= m; i++) print other[i]
	if (nx) exec_table()
	if (nfailed) {
		for (i = 1; i <= nfailed; i++) print "bench-report: " failed[i] > "/dev/stderr"
		status = 1
	}
	exit status
}' "$f"
