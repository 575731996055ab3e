// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The predictors: exact recovery of a linear law, the model tree's error on
 * roofline GPU times (the paper's 8:2 train/test protocol), leaf indexing.
 */
#include <math.h>
#include <stdlib.h>
#include "../tap.h"
#include "gpu.h"
#include "predict.h"

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void test_linear(void)
{
	struct wls w = { 0 };
	uint64_t s = 7;
	double worst = 0;
	int i;

	for (i = 0; i < 200; i++) {
		double x[PRED_NFEAT] = { 1, (double)(rnd(&s) % 5000000),
					 (double)(rnd(&s) % 2048),
					 (double)(rnd(&s) % 8192), 0 };

		wls_add(&w, x, 50e3 + 0.363 * x[1] + 20e3 * x[2] + 12 * x[3]);
	}
	for (i = 0; i < 100; i++) {
		double x[PRED_NFEAT] = { 1, (double)(rnd(&s) % 5000000),
					 (double)(rnd(&s) % 2048),
					 (double)(rnd(&s) % 8192), 0 };
		double y = 50e3 + 0.363 * x[1] + 20e3 * x[2] + 12 * x[3];
		double e = fabs(wls_eval(&w, x) - y) / y;

		worst = e > worst ? e : worst;
	}
	tap_ok(w.fitted && worst < 1e-6,
	       "linear model recovers an exact law (worst error %.2e)", worst);
}

/* GPU times of random batches: 800 to train, 200 to test. */
static void test_tree(const char *model, const char *gpu, bool attn)
{
	const struct gpu_model *m = gpu_model_find(model);
	const struct gpu_spec *hw = gpu_spec_find(gpu);
	struct pred_tree *t = calloc(1, sizeof(*t));
	double err[200];
	uint64_t s = 99;
	int i;

	if (!m || !hw || !t) {
		tap_ok(0, "%s on %s: setup", model, gpu);
		free(t);
		return;
	}
	for (i = 0; i < 1000; i++) {
		uint64_t dec = rnd(&s) % 1024, c = rnd(&s) % 2 ? rnd(&s) % 4096 : 0;
		struct gpu_work gw = {
			.tokens = dec + c,
			.out_tokens = dec + (c > 0),
			.prefill_pairs = c * (c + 1) / 2,
			.prefill_kv = c,
			.decode_ctx = attn ? dec * (1 + rnd(&s) % 16000) : 0,
		};
		double x[PRED_NFEAT] = { 1, (double)gw.tokens,
					 (double)gw.prefill_pairs,
					 (double)gw.out_tokens,
					 (double)gw.decode_ctx };
		double y = gpu_roofline_time(hw, m, &gw) * 1e9;

		if (!gw.tokens) {
			i--;
			continue;
		}
		if (i < 800)
			pred_tree_add(t, x, y);
		else
			err[i - 800] = fabs(pred_tree_eval(t, x) - y) / y;
	}
	qsort(err, 200, sizeof(err[0]), cmp);
	tap_ok(err[100] < 0.02,
	       "%s on %s%s: model tree median error %.4f < 2%% (p90 %.4f)",
	       model, gpu, attn ? ", attention on GPU" : "", err[100],
	       err[180]);
	free(t);
}

static void test_leaves(void)
{
	bool ok = pred_tree_leaf(0) == 0 && pred_tree_leaf(1) == 1 &&
		  pred_tree_leaf(1.5) == 2 && pred_tree_leaf(2) == 3 &&
		  pred_tree_leaf(1e300) == PRED_LEAVES - 1;
	double v;
	unsigned int prev = 0;

	for (v = 1; v < 1e7; v *= 1.1) {
		if (pred_tree_leaf(v) < prev)
			ok = false;
		prev = pred_tree_leaf(v);
	}
	tap_ok(ok, "leaves are half-octaves of the token count, monotone");
}

int main(void)
{
	tap_plan(6);
	test_linear();
	test_tree("GPT-175B", "A100", false);
	test_tree("QWEN-72B", "A100", false);
	test_tree("OPT-66B", "H100", false);
	test_tree("GPT-175B", "A100", true);
	test_leaves();
	return tap_done();
}
