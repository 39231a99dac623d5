/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Mock hardware for the job-queue benchmarks (bench_engine.ko).
 *
 * One in-order engine with a ring of bench_engine_depth() slots. Each job
 * takes service_ns (a module parameter) from when it reaches the head of the
 * ring; its hardware fence then signals from an hrtimer in hard-irq context,
 * never from the submitter. accel_sched_bench (Rust) declares the same
 * functions by hand: keep both in sync.
 */
#ifndef BENCH_ENGINE_H
#define BENCH_ENGINE_H

#include <linux/types.h>

struct bench_engine;
struct bench_fence;
struct dma_fence;

/* Counters of an engine since its creation. */
struct bench_engine_stats {
	u64 submitted;
	u64 completed;
	/* Submissions that found the ring full (rejected with -ENOSPC). */
	u64 overflows;
	/* Submissions that found the engine idle (nothing in the ring). */
	u64 idle;
	/* Most jobs in the ring at once. */
	u32 max_ring;
	u32 depth;
	u32 service_ns;
};

/* Ring depth of new engines: the schedulers use it as their credit limit. */
u32 bench_engine_depth(void);

/* A new idle engine, or NULL. May sleep. */
struct bench_engine *bench_engine_create(void);

/*
 * Cancels what is still in the ring (its fences signal -ECANCELED) and frees
 * the engine. May sleep. Returns the number of jobs that were cancelled.
 */
u64 bench_engine_destroy(struct bench_engine *engine);

void bench_engine_stats(struct bench_engine *engine,
			struct bench_engine_stats *stats);

/*
 * The hardware fence of a job, allocated at job creation (GFP_KERNEL), outside
 * any fence signalling section. NULL on failure. Hand it to
 * bench_engine_submit() or free it with bench_engine_fence_free().
 */
struct bench_fence *bench_engine_fence_alloc(void);

/* Frees a fence that was never submitted. */
void bench_engine_fence_free(struct bench_fence *fence);

/*
 * Puts a job on the ring: initialises @fence (the next sequence number of the
 * engine's timeline) and returns it with a reference for the caller. Never
 * allocates nor sleeps: call it from run_job. If the ring is full, frees
 * @fence and returns ERR_PTR(-ENOSPC) (a scheduler that exceeds its credits).
 */
struct dma_fence *bench_engine_submit(struct bench_engine *engine,
				      struct bench_fence *fence);

#endif
