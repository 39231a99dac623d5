// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gaudi_exec_c: real work on the device through libgaudi's C interface, as a
 * C client does it: buffers in the device VM, command buffers built with the
 * library's builder, contexts, SUBMIT with syncobjs, a DMA copy and fill, a
 * GEMM with bias and ReLU against a CPU reference, a TPC kernel assembled from
 * text, and a faulting job that bans its context.
 *
 * Built with `pkg-config --cflags --libs gaudi`; the node under test comes
 * from ACCEL_DEVICE (default /dev/accel/accel0). The binary speaks IGT's test
 * protocol (igt_c.h).
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gaudi/gaudi.h>

#include "igt_c.h"

#define TIMEOUT_NS (30ll * 1000 * 1000 * 1000)

static int open_dev(struct gaudi_device **dev)
{
	const char *path = getenv("ACCEL_DEVICE");

	return gaudi_device_open(path ? path : "/dev/accel/accel0", dev);
}

/*
 * Uploads @cb, runs it on context @ctx with the @n objects @bos, waits for it
 * and stores its fence status (1 done, a negative errno for a failed job) in
 * @status. Returns 0 or the negative errno of a failed library call.
 */
static int run_cb(struct gaudi_device *dev, uint32_t ctx, struct gaudi_cb *cb,
		  const struct gaudi_bo_use *bos, uint32_t n, int *status)
{
	struct gaudi_buffer code = { 0 };
	struct gaudi_sync out = { 0 };
	struct gaudi_submit s = { 0 };
	uint32_t sync = 0;
	int err;

	err = gaudi_buffer_create_from(dev, gaudi_cb_words(cb, NULL), gaudi_cb_size(cb), 0,
				       GAUDI_VM_READONLY, &code);
	if (err)
		return err;
	err = gaudi_syncobj_create(dev, 0, &sync);
	if (err)
		goto out;
	out.handle = sync;
	s.ctx_id = ctx;
	s.cb_addr = code.va;
	s.cb_size = (uint32_t)gaudi_cb_size(cb);
	s.bos = bos;
	s.bo_count = n;
	s.out_sync_count = 1;
	s.out_syncs = &out;
	err = gaudi_submit(dev, &s, NULL);
	if (!err)
		err = gaudi_syncobj_wait(dev, &sync, NULL, 1, TIMEOUT_NS, 0);
	if (!err)
		err = gaudi_syncobj_status(dev, sync, status);
	gaudi_syncobj_destroy(dev, sync);
out:
	gaudi_buffer_destroy(dev, &code);
	return err;
}

static uint8_t pattern_byte(uint32_t seed, size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13 ^ seed);
}

static enum result test_dma(void)
{
	struct gaudi_buffer src = { 0 }, dst = { 0 };
	struct gaudi_device *dev = NULL;
	struct gaudi_cb *cb = NULL;
	enum result ret = SUCCESS;
	uint8_t *s, *d;
	uint32_t ctx = 0;
	int err, status = 0;

	check(open_dev(&dev) == 0, "cannot open the accel node");
	err = gaudi_buffer_create(dev, 4 * 4096, 0, 0, &src);
	check(err == 0, "system buffer: %d", err);
	err = gaudi_buffer_create(dev, 4 * 4096, GAUDI_BO_DEVICE, 0, &dst);
	check(err == 0, "device buffer: %d", err);
	s = src.cpu;
	d = dst.cpu;
	for (size_t i = 0; i < src.size; i++)
		s[i] = pattern_byte(1, i);
	memset(d, 0x11, dst.size);
	check(gaudi_ctx_create(dev, GAUDI_PRIORITY_NORMAL, &ctx) == 0, "context");
	cb = gaudi_cb_create();
	check(cb, "command buffer");
	check(gaudi_cb_dma_copy(cb, src.va + 1, dst.va + 3, 4097) == 0, "%s", gaudi_cb_error(cb));
	check(gaudi_cb_dma_fill(cb, dst.va + 8192, 4096, 0xa5a5a5a5u) == 0, "%s",
	      gaudi_cb_error(cb));
	{
		const struct gaudi_bo_use bos[] = {
			{ src.handle, GAUDI_BO_USE_READ },
			{ dst.handle, GAUDI_BO_USE_READ | GAUDI_BO_USE_WRITE },
		};

		err = run_cb(dev, ctx, cb, bos, 2, &status);
	}
	check(err == 0, "running the job: %d", err);
	check(status == 1, "job status %d", status);
	for (size_t i = 0; i < dst.size; i++) {
		uint8_t want = 0x11;

		if (i >= 3 && i < 3 + 4097)
			want = pattern_byte(1, i - 3 + 1);
		else if (i >= 8192 && i < 8192 + 4096)
			want = 0xa5;
		check(d[i] == want, "byte %zu is %#x, expected %#x", i, d[i], want);
	}
out:
	gaudi_cb_destroy(cb);
	if (ctx)
		gaudi_ctx_destroy(dev, ctx);
	gaudi_buffer_destroy(dev, &dst);
	gaudi_buffer_destroy(dev, &src);
	gaudi_device_close(dev);
	return ret;
}

static enum result test_gemm(void)
{
	enum { M = 5, N = 7, K = 3 };
	struct gaudi_buffer a = { 0 }, b = { 0 }, c = { 0 }, bias = { 0 };
	struct gaudi_device *dev = NULL;
	struct gaudi_cb *cb = NULL;
	struct gaudi_gemm g = { 0 };
	enum result ret = SUCCESS;
	float *pa, *pb, *pc, *pbias;
	uint32_t ctx = 0;
	int err, status = 0;

	check(open_dev(&dev) == 0, "cannot open the accel node");
	check(gaudi_buffer_create(dev, M * K * 4, 0, 0, &a) == 0, "A");
	check(gaudi_buffer_create(dev, K * N * 4, GAUDI_BO_DEVICE, 0, &b) == 0, "B");
	check(gaudi_buffer_create(dev, M * N * 4, GAUDI_BO_WC, 0, &c) == 0, "C");
	check(gaudi_buffer_create(dev, N * 4, 0, GAUDI_VM_READONLY, &bias) == 0, "bias");
	pa = a.cpu;
	pb = b.cpu;
	pc = c.cpu;
	pbias = bias.cpu;
	/* Quarters: every product and sum is exact in fp32. */
	for (int i = 0; i < M * K; i++)
		pa[i] = (float)(i % 9 - 4) / 4;
	for (int i = 0; i < K * N; i++)
		pb[i] = (float)(i % 7 - 3) / 2;
	for (int i = 0; i < M * N; i++)
		pc[i] = 1.0f;
	for (int j = 0; j < N; j++)
		pbias[j] = (float)(j - 3);
	g.a = a.va;
	g.b = b.va;
	g.c = c.va;
	g.bias = bias.va;
	g.m = M;
	g.n = N;
	g.k = K;
	g.lda = K;
	g.ldb = N;
	g.ldc = N;
	g.alpha = 2.0f;
	g.beta = 0.5f;
	g.flags = GAUDI_GEMM_BIAS | GAUDI_GEMM_RELU;
	cb = gaudi_cb_create();
	check(cb, "command buffer");
	check(gaudi_cb_gemm(cb, &g) == 0, "%s", gaudi_cb_error(cb));
	check(gaudi_ctx_create(dev, GAUDI_PRIORITY_HIGH, &ctx) == 0, "context");
	{
		const struct gaudi_bo_use bos[] = {
			{ a.handle, GAUDI_BO_USE_READ },
			{ b.handle, GAUDI_BO_USE_READ },
			{ bias.handle, GAUDI_BO_USE_READ },
			{ c.handle, GAUDI_BO_USE_READ | GAUDI_BO_USE_WRITE },
		};

		err = run_cb(dev, ctx, cb, bos, 4, &status);
	}
	check(err == 0, "running the job: %d", err);
	check(status == 1, "job status %d", status);
	for (int i = 0; i < M; i++) {
		for (int j = 0; j < N; j++) {
			float dot = 0, want;

			for (int p = 0; p < K; p++)
				dot += pa[i * K + p] * pb[p * N + j];
			want = 2.0f * dot + 0.5f * 1.0f + pbias[j];
			if (want < 0)
				want = 0;
			check(pc[i * N + j] == want, "C[%d][%d] is %g, expected %g", i, j,
			      pc[i * N + j], want);
		}
	}
out:
	gaudi_cb_destroy(cb);
	if (ctx)
		gaudi_ctx_destroy(dev, ctx);
	gaudi_buffer_destroy(dev, &bias);
	gaudi_buffer_destroy(dev, &c);
	gaudi_buffer_destroy(dev, &b);
	gaudi_buffer_destroy(dev, &a);
	gaudi_device_close(dev);
	return ret;
}

static const char vector_add[] =
	"	arg   s1, 0\n"
	"	arg   s2, 1\n"
	"	arg   s3, 2\n"
	"	arg   s4, 3          # n\n"
	"	gid   s5, 0\n"
	"	shli  s6, s5, 4      # 16 elements per grid point\n"
	"	sub   s7, s4, s6\n"
	"	setvl s7, s7\n"
	"	shli  s6, s6, 2\n"
	"	add   s1, s1, s6\n"
	"	add   s2, s2, s6\n"
	"	add   s3, s3, s6\n"
	"	vld   v0, [s1]\n"
	"	vld   v1, [s2]\n"
	"	vadd  v2, v0, v1\n"
	"	vst   v2, [s3]\n"
	"	halt\n";

static enum result test_tpc(void)
{
	enum { NUM = 100 };
	struct gaudi_buffer x = { 0 }, y = { 0 }, z = { 0 }, code = { 0 };
	struct gaudi_tpc_program *prog = NULL;
	struct gaudi_tpc_launch l = { 0 };
	struct gaudi_device *dev = NULL;
	struct gaudi_cb *cb = NULL;
	enum result ret = SUCCESS;
	const uint64_t *words;
	char error[128] = "";
	uint32_t ctx = 0;
	size_t count = 0;
	int err, status = 0;
	float *px, *py, *pz;

	prog = gaudi_tpc_assemble(vector_add, error, sizeof(error));
	check(prog, "assembling: %s", error);
	words = gaudi_tpc_code(prog, &count);
	check(open_dev(&dev) == 0, "cannot open the accel node");
	err = gaudi_buffer_create_from(dev, words, count * 8, 0, GAUDI_VM_READONLY, &code);
	check(err == 0, "kernel buffer: %d", err);
	check(gaudi_buffer_create(dev, NUM * 4, 0, 0, &x) == 0, "x");
	check(gaudi_buffer_create(dev, NUM * 4, GAUDI_BO_DEVICE, 0, &y) == 0, "y");
	check(gaudi_buffer_create(dev, NUM * 4 + 4, 0, 0, &z) == 0, "z");
	px = x.cpu;
	py = y.cpu;
	pz = z.cpu;
	for (int i = 0; i < NUM; i++) {
		px[i] = (float)i;
		py[i] = (float)(2 * i) + 0.5f;
	}
	pz[NUM] = 42.0f;
	l.code = code.va;
	l.code_size = (uint32_t)(count * 8);
	l.grid[0] = (NUM + 15) / 16;
	l.grid[1] = 1;
	l.grid[2] = 1;
	l.args[0] = x.va;
	l.args[1] = y.va;
	l.args[2] = z.va;
	l.args[3] = NUM;
	cb = gaudi_cb_create();
	check(cb, "command buffer");
	check(gaudi_cb_tpc_launch(cb, &l) == 0, "%s", gaudi_cb_error(cb));
	check(gaudi_ctx_create(dev, GAUDI_PRIORITY_LOW, &ctx) == 0, "context");
	{
		const struct gaudi_bo_use bos[] = {
			{ code.handle, GAUDI_BO_USE_READ },
			{ x.handle, GAUDI_BO_USE_READ },
			{ y.handle, GAUDI_BO_USE_READ },
			{ z.handle, GAUDI_BO_USE_READ | GAUDI_BO_USE_WRITE },
		};

		err = run_cb(dev, ctx, cb, bos, 4, &status);
	}
	check(err == 0, "running the job: %d", err);
	check(status == 1, "job status %d", status);
	for (int i = 0; i < NUM; i++)
		check(pz[i] == px[i] + py[i], "z[%d] is %g", i, pz[i]);
	check(pz[NUM] == 42.0f, "the kernel wrote past its tail");
out:
	gaudi_cb_destroy(cb);
	if (ctx)
		gaudi_ctx_destroy(dev, ctx);
	gaudi_buffer_destroy(dev, &z);
	gaudi_buffer_destroy(dev, &y);
	gaudi_buffer_destroy(dev, &x);
	gaudi_buffer_destroy(dev, &code);
	gaudi_device_close(dev);
	gaudi_tpc_destroy(prog);
	return ret;
}

static enum result test_fault(void)
{
	const uint64_t nowhere = 1ull << 44;
	struct gaudi_ctx_state st = { 0 };
	struct gaudi_device *dev = NULL;
	struct gaudi_cb *cb = NULL;
	enum result ret = SUCCESS;
	uint32_t ctx = 0;
	int err, status = 0;

	check(open_dev(&dev) == 0, "cannot open the accel node");
	check(gaudi_ctx_create(dev, GAUDI_PRIORITY_NORMAL, &ctx) == 0, "context");
	cb = gaudi_cb_create();
	check(cb, "command buffer");
	check(gaudi_cb_dma_fill(cb, nowhere, 64, 0) == 0, "%s", gaudi_cb_error(cb));
	err = run_cb(dev, ctx, cb, NULL, 0, &status);
	check(err == 0, "running the job: %d", err);
	check(status == -EIO, "job status %d", status);
	check(gaudi_ctx_query(dev, ctx, &st) == 0, "CTX_QUERY");
	check(st.banned && st.error == GAUDI_ERR_MMU_FAULT && st.fault_addr == nowhere &&
		      st.fault_access == GAUDI_ACCESS_WRITE && st.error_seqno == 1,
	      "banned %u error %u seqno %llu address %#llx access %u", st.banned, st.error,
	      (unsigned long long)st.error_seqno, (unsigned long long)st.fault_addr,
	      st.fault_access);
	err = run_cb(dev, ctx, cb, NULL, 0, &status);
	check(err == -ECANCELED, "submit on a banned context: %d", err);
out:
	gaudi_cb_destroy(cb);
	if (ctx)
		gaudi_ctx_destroy(dev, ctx);
	gaudi_device_close(dev);
	return ret;
}

static const struct subtest subtests[] = {
	{ "dma", test_dma },
	{ "gemm", test_gemm },
	{ "tpc", test_tpc },
	{ "fault", test_fault },
};

int main(int argc, char **argv)
{
	return igt_c_main("gaudi_exec_c", subtests, sizeof(subtests) / sizeof(subtests[0]), argc,
			  argv);
}
