// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of the DRM GPU scheduler on the mock engine of bench_engine.ko.
 *
 * The reference for accel_sched_bench, which runs the same workloads on the
 * accel job queue: the same engine (ring depth = credits, in-order service,
 * completion from an hrtimer in hard-irq context), the same credits, the same
 * entity depth and the same job counts, so that the figures of the two
 * modules compare the schedulers and nothing else. The benchmark runs when the
 * module is loaded and prints "sched-bench" lines to the kernel log.
 */

#include <drm/gpu_scheduler.h>
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/dma-fence.h>
#include <linux/err.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "bench_engine.h"

static unsigned int jobs = 20000;
module_param(jobs, uint, 0444);
MODULE_PARM_DESC(jobs, "jobs per throughput run");

static unsigned int entities = 16;
module_param(entities, uint, 0444);
MODULE_PARM_DESC(entities, "entities of the many-entity and chain runs");

static unsigned int chain_jobs = 5000;
module_param(chain_jobs, uint, 0444);
MODULE_PARM_DESC(chain_jobs, "jobs of the dependent-chain runs");

static unsigned int latency_iters = 2000;
module_param(latency_iters, uint, 0444);
MODULE_PARM_DESC(latency_iters, "sequential jobs of the latency run");

static unsigned int entity_depth = 64;
module_param(entity_depth, uint, 0444);
MODULE_PARM_DESC(entity_depth, "jobs an entity holds queued before its submitter waits");

enum bench_mode {
	/* Independent jobs, round robin over the entities. */
	BENCH_THROUGHPUT,
	/* Each job depends on the finished fence of the one before. */
	BENCH_CHAIN,
	/* The same, with pipelining of same-scheduler dependencies off. */
	BENCH_CHAIN_NOPIPE,
	/* One job at a time: each waits for the one before to finish. */
	BENCH_LATENCY,
};

static const char *const mode_names[] = {
	[BENCH_THROUGHPUT] = "throughput",
	[BENCH_CHAIN] = "chain",
	[BENCH_CHAIN_NOPIPE] = "chain_nopipe",
	[BENCH_LATENCY] = "latency",
};

struct bench_job {
	struct drm_sched_job base;
	/* The hardware fence, until run_job hands it to the engine. */
	struct bench_fence *hw;
	unsigned int index;
	ktime_t submitted;
};

/* Watches that the finished fences of an entity signal in order. */
struct order_cb {
	struct dma_fence_cb cb;
	atomic64_t *last;
};

/* The state of the current run; runs happen one after the other. */
static struct {
	struct bench_engine *engine;
	atomic64_t runs;
	/* Submit-to-run latency per job, in ns. */
	u64 *latency;
	unsigned int nr_jobs;
	atomic64_t order_errors;
	atomic64_t late_checks;
} cur;

static struct dma_fence *bench_run_job(struct drm_sched_job *sched_job)
{
	struct bench_job *job = container_of(sched_job, struct bench_job, base);
	struct bench_fence *hw = job->hw;

	atomic64_inc(&cur.runs);
	if (job->index < cur.nr_jobs)
		cur.latency[job->index] =
			ktime_to_ns(ktime_sub(ktime_get(), job->submitted));
	job->hw = NULL;
	return bench_engine_submit(cur.engine, hw);
}

static enum drm_gpu_sched_stat bench_timedout_job(struct drm_sched_job *sched_job)
{
	return DRM_GPU_SCHED_STAT_RESET;
}

static void bench_free_job(struct drm_sched_job *sched_job)
{
	struct bench_job *job = container_of(sched_job, struct bench_job, base);

	drm_sched_job_cleanup(sched_job);
	if (job->hw)
		bench_engine_fence_free(job->hw);
	kfree(job);
}

static const struct drm_sched_backend_ops bench_ops = {
	.run_job = bench_run_job,
	.timedout_job = bench_timedout_job,
	.free_job = bench_free_job,
};

static void order_check(struct dma_fence *fence, atomic64_t *last)
{
	s64 seqno = fence->seqno, old = atomic64_read(last);

	do {
		if (seqno <= old) {
			atomic64_inc(&cur.order_errors);
			return;
		}
	} while (!atomic64_try_cmpxchg(last, &old, seqno));
}

static void order_cb_func(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	order_check(fence, container_of(cb, struct order_cb, cb)->last);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void reject(enum bench_mode mode, unsigned int nr_entities, const char *why,
		   s64 value)
{
	pr_err("sched-bench drm_sched REJECTED %s entities=%u %s=%lld\n",
	       mode_names[mode], nr_entities, why, value);
}

/*
 * Submits @nr_jobs jobs round robin over @nr_entities entities, the way
 * @mode says, waits for all of them and prints the figures, or why they are
 * rejected.
 */
static int bench_run(enum bench_mode mode, unsigned int nr_entities,
		     unsigned int nr_jobs)
{
	struct drm_sched_init_args args = {
		.ops = &bench_ops,
		.num_rqs = DRM_SCHED_PRIORITY_COUNT,
		.credit_limit = bench_engine_depth(),
		.timeout = MAX_SCHEDULE_TIMEOUT,
		.name = "drm-sched-bench",
	};
	struct bench_engine_stats stats;
	struct drm_gpu_scheduler *sched;
	struct drm_sched_entity *ents;
	struct dma_fence **finished, **scheduled;
	struct order_cb *cbs;
	atomic64_t *last;
	unsigned int i, window = entity_depth * nr_entities;
	u64 failed = 0, cancelled, mean;
	s64 elapsed, pushed;
	ktime_t t0;
	int ret;

	sched = kzalloc_obj(*sched);
	ents = kzalloc_objs(*ents, nr_entities);
	last = kzalloc_objs(*last, nr_entities);
	finished = kzalloc_objs(*finished, nr_jobs);
	scheduled = kzalloc_objs(*scheduled, nr_jobs);
	cbs = kzalloc_objs(*cbs, nr_jobs);
	cur.latency = kzalloc_objs(*cur.latency, nr_jobs);
	cur.engine = bench_engine_create();
	if (!sched || !ents || !last || !finished || !scheduled || !cbs ||
	    !cur.latency || !cur.engine) {
		ret = -ENOMEM;
		goto out_free;
	}
	cur.nr_jobs = nr_jobs;
	atomic64_set(&cur.runs, 0);
	atomic64_set(&cur.order_errors, 0);
	atomic64_set(&cur.late_checks, 0);

	ret = drm_sched_init(sched, &args);
	if (ret)
		goto out_free;
	for (i = 0; i < nr_entities; i++) {
		ret = drm_sched_entity_init(&ents[i], DRM_SCHED_PRIORITY_NORMAL,
					    &sched, 1, NULL);
		if (ret)
			goto out_entities;
	}

	t0 = ktime_get();
	for (i = 0; i < nr_jobs; i++) {
		unsigned int e = i % nr_entities;
		struct bench_job *job;

		/*
		 * The entity depth of the accel queue: an entity holds at most
		 * entity_depth jobs that have not started; the submitter waits
		 * for the oldest to start before it adds one.
		 */
		if (i >= window)
			dma_fence_wait(scheduled[i - window], false);
		job = kzalloc_obj(*job);
		if (!job) {
			ret = -ENOMEM;
			break;
		}
		job->index = i;
		job->hw = bench_engine_fence_alloc();
		if (!job->hw) {
			kfree(job);
			ret = -ENOMEM;
			break;
		}
		ret = drm_sched_job_init(&job->base, &ents[e], 1, NULL, 1);
		if (ret) {
			bench_engine_fence_free(job->hw);
			kfree(job);
			break;
		}
		if (i && (mode == BENCH_CHAIN || mode == BENCH_CHAIN_NOPIPE)) {
			ret = drm_sched_job_add_dependency(&job->base,
							   dma_fence_get(finished[i - 1]));
			if (ret) {
				drm_sched_job_cleanup(&job->base);
				bench_engine_fence_free(job->hw);
				kfree(job);
				break;
			}
		}
		drm_sched_job_arm(&job->base);
		finished[i] = dma_fence_get(&job->base.s_fence->finished);
		scheduled[i] = dma_fence_get(&job->base.s_fence->scheduled);
		if (mode == BENCH_CHAIN_NOPIPE)
			set_bit(DRM_SCHED_FENCE_DONT_PIPELINE, &finished[i]->flags);
		job->submitted = ktime_get();
		drm_sched_entity_push_job(&job->base);
		cbs[i].last = &last[e];
		if (dma_fence_add_callback(finished[i], &cbs[i].cb, order_cb_func)) {
			/* Signalled already: checked in push order. */
			atomic64_inc(&cur.late_checks);
			order_check(finished[i], &last[e]);
		}
		if (mode == BENCH_LATENCY)
			dma_fence_wait(finished[i], false);
	}
	pushed = ktime_to_ns(ktime_sub(ktime_get(), t0));
	for (i = 0; i < nr_jobs && finished[i]; i++)
		dma_fence_wait(finished[i], false);
	elapsed = ktime_to_ns(ktime_sub(ktime_get(), t0));

	/* Figures count only if every job ran once and completed in order. */
	for (i = 0; i < nr_jobs && finished[i]; i++) {
		if (dma_fence_get_status(finished[i]) != 1)
			failed++;
	}
	bench_engine_stats(cur.engine, &stats);
	if (ret) {
		reject(mode, nr_entities, "error", ret);
	} else if (failed) {
		reject(mode, nr_entities, "failed_jobs", failed);
	} else if (atomic64_read(&cur.runs) != nr_jobs) {
		reject(mode, nr_entities, "runs", atomic64_read(&cur.runs));
	} else if (stats.submitted != nr_jobs || stats.completed != nr_jobs) {
		reject(mode, nr_entities, "engine_completed", stats.completed);
	} else if (stats.overflows) {
		reject(mode, nr_entities, "ring_overflows", stats.overflows);
	} else if (atomic64_read(&cur.order_errors)) {
		reject(mode, nr_entities, "order_errors",
		       atomic64_read(&cur.order_errors));
	} else if (mode == BENCH_LATENCY) {
		mean = 0;
		for (i = 0; i < nr_jobs; i++)
			mean += cur.latency[i];
		mean = div64_u64(mean, nr_jobs);
		sort(cur.latency, nr_jobs, sizeof(u64), cmp_u64, NULL);
		pr_info("sched-bench drm_sched latency entities=%u jobs=%u submit_to_run_ns=%llu p50_ns=%llu p99_ns=%llu late_checks=%lld\n",
			nr_entities, nr_jobs, mean, cur.latency[nr_jobs / 2],
			cur.latency[(u64)nr_jobs * 99 / 100],
			atomic64_read(&cur.late_checks));
	} else {
		pr_info("sched-bench drm_sched %s entities=%u jobs=%u jobs_per_s=%llu pushed_per_s=%llu max_ring=%u engine_idle=%llu late_checks=%lld\n",
			mode_names[mode], nr_entities, nr_jobs,
			div64_u64((u64)nr_jobs * NSEC_PER_SEC, max_t(s64, elapsed, 1)),
			div64_u64((u64)nr_jobs * NSEC_PER_SEC, max_t(s64, pushed, 1)),
			stats.max_ring, stats.idle,
			atomic64_read(&cur.late_checks));
	}

	i = nr_entities;
out_entities:
	while (i--)
		drm_sched_entity_destroy(&ents[i]);
	drm_sched_fini(sched);
	/* Every callback has run: the fences signalled or the run failed. */
	for (i = 0; i < nr_jobs && finished[i]; i++) {
		dma_fence_remove_callback(finished[i], &cbs[i].cb);
		dma_fence_put(finished[i]);
		dma_fence_put(scheduled[i]);
	}
out_free:
	if (cur.engine) {
		cancelled = bench_engine_destroy(cur.engine);
		if (cancelled)
			pr_err("drm_sched_bench: %llu jobs left on the engine\n",
			       cancelled);
	}
	cur.engine = NULL;
	kfree(cur.latency);
	cur.latency = NULL;
	cur.nr_jobs = 0;
	kfree(cbs);
	kfree(scheduled);
	kfree(finished);
	kfree(last);
	kfree(ents);
	kfree(sched);
	return ret;
}

static int __init drm_sched_bench_init(void)
{
	if (!jobs || !entities || !chain_jobs || !latency_iters || !entity_depth)
		return -EINVAL;

	pr_info("sched-bench drm_sched config credits=%u entity_depth=%u\n",
		bench_engine_depth(), entity_depth);
	bench_run(BENCH_THROUGHPUT, 1, jobs);
	bench_run(BENCH_THROUGHPUT, entities, jobs);
	bench_run(BENCH_CHAIN, entities, chain_jobs);
	bench_run(BENCH_CHAIN_NOPIPE, entities, chain_jobs);
	bench_run(BENCH_LATENCY, 1, latency_iters);
	return 0;
}

static void __exit drm_sched_bench_exit(void)
{
}

module_init(drm_sched_bench_init);
module_exit(drm_sched_bench_exit);

MODULE_DESCRIPTION("Benchmark of the DRM GPU scheduler on the mock engine");
MODULE_LICENSE("GPL");
