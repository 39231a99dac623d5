// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Inference of the digits classifier on the device, through libgaudi's C
 * tensor runtime: loads the parameters gaudi-train wrote (mlp-params.txt)
 * and scikit-learn's digits.csv, runs the held-out test images (every fifth
 * sample) through the network on the device (two matrix products with bias
 * and ReLU on the MME, softmax and argmax as TPC kernels), and prints the
 * accuracy and the first predictions with their probabilities.
 *
 * Build: cc infer.c $(pkg-config --cflags --libs gaudi)
 * Usage: infer mlp-params.txt digits.csv [/dev/accel/accelN]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gaudi/gaudi.h>

#define PIXELS 64
#define MAX_SAMPLES 4096

static int fail(const char *what, int err)
{
	fprintf(stderr, "infer: %s: %s\n", what, strerror(-err));
	return 1;
}

/* Reads "mlp IN HID OUT" and the IN*HID + HID + HID*OUT + OUT values. */
static float *read_params(const char *path, unsigned *in, unsigned *hid, unsigned *out)
{
	FILE *f = fopen(path, "r");
	float *p = NULL;
	size_t n, i;

	if (!f)
		return NULL;
	if (fscanf(f, "mlp %u %u %u", in, hid, out) != 3 || *in != PIXELS)
		goto out;
	n = (size_t)*in * *hid + *hid + (size_t)*hid * *out + *out;
	p = malloc(n * sizeof(*p));
	for (i = 0; p && i < n; i++) {
		if (fscanf(f, "%f", &p[i]) != 1) {
			free(p);
			p = NULL;
		}
	}
out:
	fclose(f);
	return p;
}

/* Reads the test images (index % 5 == 4) of digits.csv, scaled to 0..1. */
static size_t read_test(const char *path, float *x, int *labels)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, index = 0;
	int v[PIXELS + 1];

	if (!f)
		return 0;
	for (;;) {
		int j, got = 0;

		for (j = 0; j <= PIXELS; j++)
			got += fscanf(f, j ? ",%d" : "%d", &v[j]);
		if (got != PIXELS + 1)
			break;
		if (index++ % 5 != 4 || n == MAX_SAMPLES)
			continue;
		for (j = 0; j < PIXELS; j++)
			x[n * PIXELS + j] = v[j] / 16.0f;
		labels[n++] = v[PIXELS];
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	static float x[MAX_SAMPLES * PIXELS];
	static int labels[MAX_SAMPLES];
	struct gaudi_tensor *tx = NULL, *w1 = NULL, *b1 = NULL, *w2 = NULL, *b2 = NULL;
	struct gaudi_tensor *h = NULL, *z = NULL, *p = NULL, *cls = NULL;
	struct gaudi_device *dev;
	struct gaudi_rt *rt;
	unsigned in, hid, out;
	float *params, *prob, *pred;
	size_t n, i, right = 0;
	int err;

	if (argc < 3) {
		fprintf(stderr, "usage: infer mlp-params.txt digits.csv [/dev/accel/accelN]\n");
		return 2;
	}
	params = read_params(argv[1], &in, &hid, &out);
	if (!params) {
		fprintf(stderr, "infer: cannot read the parameters in %s\n", argv[1]);
		return 1;
	}
	n = read_test(argv[2], x, labels);
	if (!n) {
		fprintf(stderr, "infer: no test images in %s\n", argv[2]);
		return 1;
	}
	err = gaudi_device_open(argc > 3 ? argv[3] : "/dev/accel/accel0", &dev);
	if (err)
		return fail("open", err);
	err = gaudi_rt_create(dev, &rt);
	if (err)
		return fail("runtime", err);
	prob = malloc(n * out * sizeof(*prob));
	pred = malloc(n * sizeof(*pred));
	if (!prob || !pred)
		return fail("malloc", -ENOMEM);

	if ((err = gaudi_tensor_create(rt, n, in, &tx)) ||
	    (err = gaudi_tensor_create(rt, in, hid, &w1)) ||
	    (err = gaudi_tensor_create(rt, 1, hid, &b1)) ||
	    (err = gaudi_tensor_create(rt, hid, out, &w2)) ||
	    (err = gaudi_tensor_create(rt, 1, out, &b2)) ||
	    (err = gaudi_tensor_create(rt, n, hid, &h)) ||
	    (err = gaudi_tensor_create(rt, n, out, &z)) ||
	    (err = gaudi_tensor_create(rt, n, out, &p)) ||
	    (err = gaudi_tensor_create(rt, n, 1, &cls)))
		return fail("tensors", err);
	/* The parameter file's layout: W1, b1, W2, b2. */
	if ((err = gaudi_tensor_upload(rt, tx, x, n * in)) ||
	    (err = gaudi_tensor_upload(rt, w1, params, (size_t)in * hid)) ||
	    (err = gaudi_tensor_upload(rt, b1, params + in * hid, hid)) ||
	    (err = gaudi_tensor_upload(rt, w2, params + in * hid + hid, (size_t)hid * out)) ||
	    (err = gaudi_tensor_upload(rt, b2, params + in * hid + hid + hid * out, out)))
		return fail("upload", err);
	/* Queued as jobs that depend on each other; the downloads wait. */
	if ((err = gaudi_rt_matmul(rt, tx, w1, h, b1, GAUDI_RT_RELU)) ||
	    (err = gaudi_rt_matmul(rt, h, w2, z, b2, 0)) ||
	    (err = gaudi_rt_softmax(rt, z, p)) ||
	    (err = gaudi_rt_argmax(rt, z, cls)))
		return fail("queue", err);
	if ((err = gaudi_tensor_download(rt, p, prob, n * out)) ||
	    (err = gaudi_tensor_download(rt, cls, pred, n)))
		return fail("download", err);

	for (i = 0; i < n; i++)
		right += (int)pred[i] == labels[i];
	printf("infer: %zu test images on the device: %zu right (%.2f %%)\n", n, right,
	       100.0 * right / n);
	for (i = 0; i < 8 && i < n; i++)
		printf("infer: image %zu: digit %d, predicted %d (p = %.3f)\n", i, labels[i],
		       (int)pred[i], prob[i * out + (int)pred[i]]);

	gaudi_tensor_destroy(cls);
	gaudi_tensor_destroy(p);
	gaudi_tensor_destroy(z);
	gaudi_tensor_destroy(h);
	gaudi_tensor_destroy(b2);
	gaudi_tensor_destroy(w2);
	gaudi_tensor_destroy(b1);
	gaudi_tensor_destroy(w1);
	gaudi_tensor_destroy(tx);
	gaudi_rt_destroy(rt);
	gaudi_device_close(dev);
	free(prob);
	free(pred);
	free(params);
	return right * 100 >= n * 95 ? 0 : 1;
}
