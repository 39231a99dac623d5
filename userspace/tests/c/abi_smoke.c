// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Uses libgaudi as a C program does, without a device: builds command buffers
 * and checks their words, assembles and disassembles a TPC kernel, and checks
 * the errors of bad arguments. Exits 0 if everything holds; prints the first
 * failure otherwise. Run by tests/c_abi.rs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gaudi/gaudi.h>

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
			return 1;                                            \
		}                                                            \
	} while (0)

static int check_cb(void)
{
	struct gaudi_gemm g = {
		.a = 0x1000, .b = 0x2000, .c = 0x3000, .bias = 0x4000,
		.m = 2, .n = 3, .k = 4, .lda = 4, .ldb = 5, .ldc = 3,
		.alpha = 2.0f, .beta = 0.5f,
		.flags = GAUDI_GEMM_TRANS_B | GAUDI_GEMM_BIAS | GAUDI_GEMM_RELU,
	};
	struct gaudi_tpc_launch t = { .code = 0x5000, .code_size = 64, .grid = { 2, 3, 4 } };
	struct gaudi_cb *cb = gaudi_cb_create();
	const uint32_t *w;
	size_t n = 99;

	CHECK(cb);
	w = gaudi_cb_words(cb, &n);
	CHECK(n == 0 && gaudi_cb_size(cb) == 0);
	CHECK(gaudi_cb_nop(cb, 2) == 0);
	CHECK(gaudi_cb_nop(cb, 3) == -EINVAL);
	CHECK(strstr(gaudi_cb_error(cb), "NOP") != NULL);
	CHECK(gaudi_cb_fence(cb, 0x1000, 5, 1) == 0);
	CHECK(gaudi_cb_error(cb)[0] == '\0');
	CHECK(gaudi_cb_fence(cb, 0x1004, 5, 0) == -EINVAL);
	CHECK(gaudi_cb_wait(cb, 0x1008, 7) == 0);
	CHECK(gaudi_cb_dma_copy(cb, 0x10000, 0x20001, 3) == 0);
	CHECK(gaudi_cb_dma_copy(cb, 0x10000, 0x20000, 0) == -EINVAL);
	CHECK(gaudi_cb_dma_fill(cb, 0x30000, 8, 0xdeadbeef) == 0);
	CHECK(gaudi_cb_dma_fill(cb, 0x30000, 0, 0) == -EINVAL);
	CHECK(gaudi_cb_gemm(cb, &g) == 0);
	g.flags |= 1u << 7;
	CHECK(gaudi_cb_gemm(cb, &g) == -EINVAL);
	g.flags = 0;
	CHECK(gaudi_cb_gemm(cb, &g) == -EINVAL); /* a bias address without the flag */
	t.args[1] = 0x300000004ull;
	CHECK(gaudi_cb_tpc_launch(cb, &t) == 0);
	t.code_size = 12;
	CHECK(gaudi_cb_tpc_launch(cb, &t) == -EINVAL);

	w = gaudi_cb_words(cb, &n);
	CHECK(n == 2 + 6 + 6 + 8 + 8 + 20 + 26);
	CHECK(gaudi_cb_size(cb) == 4 * n);
	CHECK(w[0] == 0x00020000 && w[1] == 0);
	w += 2;
	CHECK(w[0] == 0x00060101 && w[2] == 0x1000 && w[3] == 0 && w[4] == 5);
	w += 6;
	CHECK(w[0] == 0x00060002 && w[2] == 0x1008 && w[4] == 7);
	w += 6;
	CHECK(w[0] == 0x00080004 && w[2] == 0x10000 && w[4] == 0x20001 && w[6] == 3);
	w += 8;
	CHECK(w[0] == 0x00080104 && w[2] == 0xdeadbeef && w[4] == 0x30000 && w[6] == 8);
	w += 8;
	CHECK(w[0] == 0x00141a05 && w[8] == 0x4000 && w[10] == 2 && w[11] == 3 && w[12] == 4);
	CHECK(w[13] == 4 && w[14] == 5 && w[15] == 3 && w[16] == 0x40000000 && w[17] == 0x3f000000);
	w += 20;
	CHECK(w[0] == 0x001a0006 && w[2] == 0x5000 && w[4] == 64 && w[6] == 2 && w[8] == 4);
	CHECK(w[12] == 4 && w[13] == 3);

	gaudi_cb_reset(cb);
	CHECK(gaudi_cb_size(cb) == 0);
	gaudi_cb_destroy(cb);
	gaudi_cb_destroy(NULL);
	return 0;
}

static int check_tpc(void)
{
	char err[64] = "";
	struct gaudi_tpc_program *p = gaudi_tpc_assemble("loop: li s1, -5\n\tblt s1, s2, loop\nhalt\n",
							 err, sizeof(err));
	struct gaudi_tpc_program *q;
	const uint64_t *code;
	size_t n = 0, m = 0;
	char *text;

	CHECK(p);
	code = gaudi_tpc_code(p, &n);
	CHECK(n == 3);
	CHECK(code[0] == (0x10 | 1u << 8 | (uint64_t)0xfffffffbu << 32));
	text = gaudi_tpc_disassemble(code, n);
	CHECK(text && strstr(text, "blt s1, s2, L0"));
	q = gaudi_tpc_assemble(text, err, sizeof(err));
	CHECK(q);
	CHECK(memcmp(gaudi_tpc_code(q, &m), code, n * 8) == 0 && m == n);
	gaudi_string_free(text);
	gaudi_tpc_destroy(q);
	gaudi_tpc_destroy(p);

	CHECK(!gaudi_tpc_assemble("halt\nvadd v1, v2, s3\n", err, sizeof(err)));
	CHECK(strncmp(err, "line 2: ", 8) == 0);
	CHECK(!gaudi_tpc_assemble("nonsense that is much longer than the error buffer", err, 8));
	CHECK(strlen(err) == 7);
	CHECK(!gaudi_tpc_assemble(NULL, NULL, 0));
	gaudi_tpc_destroy(NULL);
	gaudi_string_free(NULL);
	return 0;
}

static int check_device_errors(void)
{
	struct gaudi_device *dev = (struct gaudi_device *)1;
	struct gaudi_buffer buf = { 0 };
	uint32_t h;

	CHECK(gaudi_device_open("/nonexistent/accel9", &dev) == -ENOENT);
	CHECK(dev == (struct gaudi_device *)1);
	CHECK(gaudi_device_open("/dev/null", &dev) == -ENOTTY);
	CHECK(gaudi_device_open(NULL, &dev) == -EINVAL);
	CHECK(gaudi_bo_create(NULL, 4096, 0, &h, NULL) == -EINVAL);
	CHECK(gaudi_device_fd(NULL) == -EINVAL);
	gaudi_buffer_destroy(NULL, &buf);
	gaudi_device_close(NULL);
	return 0;
}

int main(void)
{
	if (check_cb() || check_tpc() || check_device_errors())
		return 1;
	printf("ok\n");
	return 0;
}
