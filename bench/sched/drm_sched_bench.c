// SPDX-License-Identifier: GPL-2.0
/*
 * Null-engine benchmark of the DRM GPU scheduler.
 *
 * The reference for accel_sched_bench: the same workloads on the same null
 * engine (run_job returns the signalled stub fence), so that the figures of
 * the two modules compare the schedulers and nothing else. The benchmark runs
 * when the module is loaded and prints its figures to the kernel log.
 */

#include <drm/gpu_scheduler.h>
#include <linux/atomic.h>
#include <linux/dma-fence.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/slab.h>

static unsigned int jobs = 20000;
module_param(jobs, uint, 0444);
MODULE_PARM_DESC(jobs, "jobs per throughput run");

static unsigned int entities = 16;
module_param(entities, uint, 0444);
MODULE_PARM_DESC(entities, "entities of the many-entity throughput run");

static unsigned int latency_iters = 2000;
module_param(latency_iters, uint, 0444);
MODULE_PARM_DESC(latency_iters, "sequential jobs of the latency run");

/* Same credit limit as the accel queue benchmark. */
#define BENCH_CREDITS 64

struct bench_job {
	struct drm_sched_job base;
	ktime_t submitted;
};

static atomic64_t latency_ns;
/* Jobs run, to check that every job ran. */
static atomic64_t runs;

static struct dma_fence *bench_run_job(struct drm_sched_job *sched_job)
{
	struct bench_job *job = container_of(sched_job, struct bench_job, base);

	atomic64_inc(&runs);
	atomic64_add(ktime_to_ns(ktime_sub(ktime_get(), job->submitted)),
		     &latency_ns);
	return dma_fence_get_stub();
}

static enum drm_gpu_sched_stat bench_timedout_job(struct drm_sched_job *sched_job)
{
	return DRM_GPU_SCHED_STAT_RESET;
}

static void bench_free_job(struct drm_sched_job *sched_job)
{
	struct bench_job *job = container_of(sched_job, struct bench_job, base);

	drm_sched_job_cleanup(sched_job);
	kfree(job);
}

static const struct drm_sched_backend_ops bench_ops = {
	.run_job = bench_run_job,
	.timedout_job = bench_timedout_job,
	.free_job = bench_free_job,
};

/*
 * Submits @nr_jobs jobs round robin over @nr_entities entities and waits for
 * all of them. With @serial, waits for each job before submitting the next.
 * Returns the elapsed nanoseconds or a negative error; @pushed_ns receives
 * the time from the first job to the last push.
 */
static s64 bench_run(unsigned int nr_entities, unsigned int nr_jobs, bool serial,
		     s64 *pushed_ns)
{
	struct drm_sched_init_args args = {
		.ops = &bench_ops,
		.num_rqs = DRM_SCHED_PRIORITY_COUNT,
		.credit_limit = BENCH_CREDITS,
		.timeout = MAX_SCHEDULE_TIMEOUT,
		.name = "drm-sched-bench",
	};
	struct drm_gpu_scheduler *sched;
	struct drm_sched_entity *ents;
	struct dma_fence **fences;
	unsigned int i;
	ktime_t t0;
	s64 ret;

	sched = kzalloc_obj(*sched);
	ents = kcalloc(nr_entities, sizeof(*ents), GFP_KERNEL);
	fences = kcalloc(nr_jobs, sizeof(*fences), GFP_KERNEL);
	if (!sched || !ents || !fences) {
		ret = -ENOMEM;
		goto out_free;
	}

	ret = drm_sched_init(sched, &args);
	if (ret)
		goto out_free;
	for (i = 0; i < nr_entities; i++) {
		ret = drm_sched_entity_init(&ents[i], DRM_SCHED_PRIORITY_NORMAL,
					    &sched, 1, NULL);
		if (ret)
			goto out_entities;
	}

	atomic64_set(&runs, 0);
	t0 = ktime_get();
	for (i = 0; i < nr_jobs; i++) {
		struct bench_job *job = kzalloc_obj(*job);

		if (!job) {
			ret = -ENOMEM;
			break;
		}
		ret = drm_sched_job_init(&job->base, &ents[i % nr_entities], 1,
					 NULL, 1);
		if (ret) {
			kfree(job);
			break;
		}
		drm_sched_job_arm(&job->base);
		fences[i] = dma_fence_get(&job->base.s_fence->finished);
		job->submitted = ktime_get();
		drm_sched_entity_push_job(&job->base);
		if (serial)
			dma_fence_wait(fences[i], false);
	}
	*pushed_ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	for (i = 0; i < nr_jobs && fences[i]; i++)
		dma_fence_wait(fences[i], false);
	if (!ret)
		ret = ktime_to_ns(ktime_sub(ktime_get(), t0));
	/* Figures count only if every job ran and completed. */
	for (i = 0; ret >= 0 && i < nr_jobs; i++) {
		if (dma_fence_get_status(fences[i]) != 1)
			ret = -EIO;
	}
	if (ret >= 0 && atomic64_read(&runs) != nr_jobs) {
		pr_err("drm_sched_bench: %lld of %u jobs ran\n",
		       atomic64_read(&runs), nr_jobs);
		ret = -EIO;
	}

	for (i = 0; i < nr_jobs; i++)
		dma_fence_put(fences[i]);
	i = nr_entities;
out_entities:
	while (i--)
		drm_sched_entity_destroy(&ents[i]);
	drm_sched_fini(sched);
out_free:
	kfree(fences);
	kfree(ents);
	kfree(sched);
	return ret;
}

static void bench_throughput(unsigned int nr_entities)
{
	s64 pushed = 1;
	s64 ns = bench_run(nr_entities, jobs, false, &pushed);

	if (ns <= 0) {
		pr_err("drm_sched_bench: throughput run failed: %lld\n", ns);
		return;
	}
	pr_info("sched-bench drm_sched throughput entities=%u jobs=%u jobs_per_s=%llu pushed_per_s=%llu\n",
		nr_entities, jobs, div64_u64((u64)jobs * NSEC_PER_SEC, ns),
		div64_u64((u64)jobs * NSEC_PER_SEC, max_t(s64, pushed, 1)));
}

static int __init drm_sched_bench_init(void)
{
	s64 pushed;
	s64 ns;

	if (!jobs || !entities || !latency_iters)
		return -EINVAL;

	bench_throughput(1);
	bench_throughput(entities);

	atomic64_set(&latency_ns, 0);
	ns = bench_run(1, latency_iters, true, &pushed);
	if (ns <= 0) {
		pr_err("drm_sched_bench: latency run failed: %lld\n", ns);
		return 0;
	}
	pr_info("sched-bench drm_sched latency jobs=%u submit_to_run_ns=%llu\n",
		latency_iters,
		div64_u64(atomic64_read(&latency_ns), latency_iters));
	return 0;
}

static void __exit drm_sched_bench_exit(void)
{
}

module_init(drm_sched_bench_init);
module_exit(drm_sched_bench_exit);

MODULE_DESCRIPTION("Null-engine benchmark of the DRM GPU scheduler");
MODULE_LICENSE("GPL");
