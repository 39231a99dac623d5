// SPDX-License-Identifier: GPL-2.0
/*
 * Mock hardware for the job-queue benchmarks.
 *
 * Both benchmark modules (accel_sched_bench for the accel job queue,
 * drm_sched_bench for drm_sched) run their jobs on this engine, so that they
 * measure the two schedulers against the same hardware:
 *
 *  - a ring of @depth slots (the schedulers' credit limit, one credit per
 *    job): a submission that finds it full is rejected and counted;
 *  - in-order execution: a job occupies the engine for @service_ns from
 *    when it reaches the head of the ring (or from its submission, if the
 *    engine was idle);
 *  - completion from an hrtimer, like a completion interrupt: the fence of
 *    a job never signals in the submitting context. The timer expires in
 *    softirq context: the fences and the schedulers' callbacks take
 *    spinlock_t locks, which a hard-irq timer may not (they sleep on
 *    PREEMPT_RT; lockdep's raw-lock nesting check says so) while a device
 *    interrupt handler, being threadable, may;
 *  - hardware fences allocated at job creation (bench_engine_fence_alloc()),
 *    so that bench_engine_submit(), called from run_job, does not allocate.
 */

#include <linux/dma-fence.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "bench_engine.h"

static unsigned int service_ns = 20000;
module_param(service_ns, uint, 0444);
MODULE_PARM_DESC(service_ns, "time the engine spends on each job, in ns");

static unsigned int depth = 64;
module_param(depth, uint, 0444);
MODULE_PARM_DESC(depth, "ring slots of the engine: the schedulers' credits");

struct bench_fence {
	/* First: dma_fence_free() frees the whole object. */
	struct dma_fence base;
	/* When the engine is done with the job. */
	ktime_t deadline;
};

struct bench_engine {
	/* Protects everything below but the timer and the fence lock. */
	spinlock_t lock;
	/* The lock of the engine's fences. */
	spinlock_t fence_lock;
	struct hrtimer timer;
	/* The timer is queued or its callback runs: only it re-arms itself. */
	bool armed;
	u64 context;
	u64 seqno;
	u32 service_ns;
	/* When the last job in the ring will be done. */
	ktime_t busy_until;
	struct bench_engine_stats stats;
	u32 head, len, depth;
	struct bench_fence *ring[] __counted_by(depth);
};

static const char *bench_fence_driver_name(struct dma_fence *fence)
{
	return "bench_engine";
}

static const char *bench_fence_timeline_name(struct dma_fence *fence)
{
	return "ring";
}

static const struct dma_fence_ops bench_fence_ops = {
	.get_driver_name = bench_fence_driver_name,
	.get_timeline_name = bench_fence_timeline_name,
	/* No release: dma_fence_free() frees the fence after a grace period. */
};

/* Takes the head of the ring. Called with the engine's lock held. */
static struct bench_fence *bench_engine_pop(struct bench_engine *e)
{
	struct bench_fence *f = e->ring[e->head];

	e->ring[e->head] = NULL;
	e->head = (e->head + 1) % e->depth;
	e->len--;
	return f;
}

/* The completion interrupt: signals, in order, every job that is done. */
static enum hrtimer_restart bench_engine_irq(struct hrtimer *timer)
{
	struct bench_engine *e = container_of(timer, struct bench_engine, timer);

	spin_lock(&e->lock);
	while (e->len) {
		struct bench_fence *f = e->ring[e->head];

		if (ktime_after(f->deadline, ktime_get())) {
			hrtimer_set_expires(timer, f->deadline);
			spin_unlock(&e->lock);
			return HRTIMER_RESTART;
		}
		bench_engine_pop(e);
		e->stats.completed++;
		/*
		 * Outside the engine's lock: the fence's callbacks (the
		 * schedulers') run now. The slot is free already.
		 */
		spin_unlock(&e->lock);
		dma_fence_signal(&f->base);
		dma_fence_put(&f->base);
		spin_lock(&e->lock);
	}
	e->armed = false;
	spin_unlock(&e->lock);
	return HRTIMER_NORESTART;
}

u32 bench_engine_depth(void)
{
	return depth;
}
EXPORT_SYMBOL_GPL(bench_engine_depth);

struct bench_engine *bench_engine_create(void)
{
	struct bench_engine *e;

	if (!depth)
		return NULL;
	e = kzalloc_flex(*e, ring, depth);
	if (!e)
		return NULL;
	e->depth = depth;
	e->stats.depth = depth;
	e->stats.service_ns = service_ns;
	e->service_ns = service_ns;
	spin_lock_init(&e->lock);
	spin_lock_init(&e->fence_lock);
	hrtimer_setup(&e->timer, bench_engine_irq, CLOCK_MONOTONIC,
		      HRTIMER_MODE_ABS_SOFT);
	e->context = dma_fence_context_alloc(1);
	return e;
}
EXPORT_SYMBOL_GPL(bench_engine_create);

u64 bench_engine_destroy(struct bench_engine *e)
{
	u64 cancelled = 0;

	/* Waits for a running callback; the timer is not re-armed after. */
	hrtimer_cancel(&e->timer);
	while (e->len) {
		struct bench_fence *f = bench_engine_pop(e);

		dma_fence_set_error(&f->base, -ECANCELED);
		dma_fence_signal(&f->base);
		dma_fence_put(&f->base);
		cancelled++;
	}
	kfree(e);
	return cancelled;
}
EXPORT_SYMBOL_GPL(bench_engine_destroy);

void bench_engine_stats(struct bench_engine *e, struct bench_engine_stats *stats)
{
	unsigned long flags;

	spin_lock_irqsave(&e->lock, flags);
	*stats = e->stats;
	spin_unlock_irqrestore(&e->lock, flags);
}
EXPORT_SYMBOL_GPL(bench_engine_stats);

struct bench_fence *bench_engine_fence_alloc(void)
{
	return kzalloc_obj(struct bench_fence);
}
EXPORT_SYMBOL_GPL(bench_engine_fence_alloc);

void bench_engine_fence_free(struct bench_fence *fence)
{
	kfree(fence);
}
EXPORT_SYMBOL_GPL(bench_engine_fence_free);

struct dma_fence *bench_engine_submit(struct bench_engine *e,
				      struct bench_fence *f)
{
	ktime_t now = ktime_get();
	unsigned long flags;

	spin_lock_irqsave(&e->lock, flags);
	if (e->len == e->depth) {
		e->stats.overflows++;
		spin_unlock_irqrestore(&e->lock, flags);
		kfree(f);
		return ERR_PTR(-ENOSPC);
	}
	dma_fence_init(&f->base, &bench_fence_ops, &e->fence_lock, e->context,
		       ++e->seqno);
	if (!e->len)
		e->stats.idle++;
	/* In order: the job starts when the engine is done with the last. */
	f->deadline = ktime_add_ns(ktime_after(e->busy_until, now) ?
				   e->busy_until : now, e->service_ns);
	e->busy_until = f->deadline;
	/* The ring's reference, dropped when the fence has signalled. */
	dma_fence_get(&f->base);
	e->ring[(e->head + e->len) % e->depth] = f;
	e->len++;
	e->stats.max_ring = max(e->stats.max_ring, e->len);
	e->stats.submitted++;
	if (!e->armed) {
		e->armed = true;
		hrtimer_start(&e->timer, f->deadline, HRTIMER_MODE_ABS_SOFT);
	}
	spin_unlock_irqrestore(&e->lock, flags);
	return &f->base;
}
EXPORT_SYMBOL_GPL(bench_engine_submit);

static int __init bench_engine_init(void)
{
	if (!depth)
		return -EINVAL;
	/*
	 * Without high-resolution timers a completion waits for the next
	 * tick: the engine would measure the tick, not the schedulers.
	 */
	if (hrtimer_resolution > service_ns / 4) {
		pr_err("bench_engine: timer resolution %u ns is too coarse for service_ns=%u\n",
		       hrtimer_resolution, service_ns);
		return -EINVAL;
	}
	pr_info("sched-bench engine service_ns=%u depth=%u timer_resolution_ns=%u\n",
		service_ns, depth, hrtimer_resolution);
	return 0;
}

static void __exit bench_engine_exit(void)
{
	/* Fences are freed after a grace period; their ops live here. */
	rcu_barrier();
}

module_init(bench_engine_init);
module_exit(bench_engine_exit);

MODULE_DESCRIPTION("Mock in-order engine for the job-queue benchmarks");
MODULE_LICENSE("GPL");
