// SPDX-License-Identifier: GPL-2.0
/*
 * test_cpu_backend.c - the CPU backend's layers against a naive
 * double-precision implementation written here from the documented model
 * (gpu_cpu.h: weights from splitmix64 in a fixed order, RMSNorm, RoPE on
 * pairs (i, i + head_dim / 2), SwiGLU); determinism for a seed; rows that
 * do not depend on the batch; bad shapes and bad input refused.
 *
 * Tolerance: FP32 sums of at most a few hundred terms against double, so
 * every activation must agree within 1e-4 of the row's RMS.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_cpu.h"
#include "../tap.h"

#define TOL	1e-4
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define ROWS	5

static const struct gpu_model tiny = {
	.name = "t", .layers = 2, .heads = 4, .kv_heads = 2, .hidden = 128,
	.head_dim = 32, .ffn = 256, .ffn_mats = 3, .vocab = 256, .tp = 1,
	.dp = 1,
};

/* ---- the naive model, in double ---- */

struct naive_layer {
	double *an, *wq, *wk, *wv, *wo, *fn, *wg, *wu, *wd;
};

struct naive {
	const struct gpu_model *m;
	double *embed, *on, *head;
	struct naive_layer l[2];
};

/* Written out from gpu_cpu.h on purpose: the test checks the documentation. */
static uint64_t sm64(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ULL);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The documented generator: scale * U[-1, 1) + bias, rounded to float. */
static double *gen(size_t n, uint64_t *s, float scale, float bias)
{
	double *p = malloc(n * sizeof(*p));
	size_t i;

	for (i = 0; i < n; i++) {
		float u = (float)(sm64(s) >> 40) / (float)(1 << 23) - 1.0f;

		p[i] = (float)(bias + scale * u);
	}
	return p;
}

static void naive_init(struct naive *nv, const struct gpu_model *m,
		       uint64_t seed)
{
	size_t h = m->hidden, q = m->heads * m->head_dim;
	size_t kv = m->kv_heads * m->head_dim;
	float wh = sqrtf(3.0f / h), wq = sqrtf(3.0f / q);
	float wf = sqrtf(3.0f / m->ffn);
	uint64_t s = seed;
	uint32_t l;

	nv->m = m;
	nv->embed = gen(m->vocab * h, &s, 0.5f, 0);
	for (l = 0; l < m->layers; l++) {
		struct naive_layer *y = &nv->l[l];

		y->an = gen(h, &s, 0.1f, 1);
		y->wq = gen(q * h, &s, wh, 0);
		y->wk = gen(kv * h, &s, wh, 0);
		y->wv = gen(kv * h, &s, wh, 0);
		y->wo = gen(h * q, &s, wq, 0);
		y->fn = gen(h, &s, 0.1f, 1);
		y->wg = gen(m->ffn * h, &s, wh, 0);
		y->wu = gen(m->ffn * h, &s, wh, 0);
		y->wd = gen(h * m->ffn, &s, wf, 0);
	}
	nv->on = gen(h, &s, 0.1f, 1);
	nv->head = gen(m->vocab * h, &s, wh, 0);
}

static void naive_free(struct naive *nv)
{
	uint32_t l;

	for (l = 0; l < nv->m->layers; l++) {
		struct naive_layer *y = &nv->l[l];

		double *all[] = { y->an, y->wq, y->wk, y->wv, y->wo, y->fn,
				  y->wg, y->wu, y->wd };
		unsigned int i;

		for (i = 0; i < ARRAY_SIZE(all); i++)
			free(all[i]);
	}
	free(nv->embed);
	free(nv->on);
	free(nv->head);
}

static void mv(const double *w, const double *x, int rows, int cols,
	       double *y)
{
	int r, c;

	for (r = 0; r < rows; r++) {
		y[r] = 0;
		for (c = 0; c < cols; c++)
			y[r] += w[r * cols + c] * x[c];
	}
}

static void norm(const double *x, const double *g, int n, double *y)
{
	double ss = 0;
	int i;

	for (i = 0; i < n; i++)
		ss += x[i] * x[i];
	for (i = 0; i < n; i++)
		y[i] = x[i] / sqrt(ss / n + 1e-5) * g[i];
}

static void rot(double *x, int nh, int d, uint32_t pos)
{
	int h, i;

	for (h = 0; h < nh; h++) {
		for (i = 0; i < d / 2; i++) {
			double a = pos * pow(10000.0, -2.0 * i / d);
			double x0 = x[h * d + i], x1 = x[h * d + i + d / 2];

			x[h * d + i] = x0 * cos(a) - x1 * sin(a);
			x[h * d + i + d / 2] = x0 * sin(a) + x1 * cos(a);
		}
	}
}

/* ---- comparisons ---- */

/* max |got - want| over n values, relative to want's RMS */
static double rel_err(const float *got, const double *want, size_t n)
{
	double ss = 0, worst = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		ss += want[i] * want[i];
		if (fabs(got[i] - want[i]) > worst || got[i] != got[i])
			worst = got[i] != got[i] ? INFINITY :
				fabs(got[i] - want[i]);
	}
	return worst / sqrt(ss / n + 1e-30);
}

/*
 * The whole model on ROWS tokens, layer by layer, backend vs naive. The
 * attention input of both is the same function of the backend's v, so the
 * layers are tested, not attention. Returns the worst relative error; the
 * naive argmax and its top-2 logit margin go to want and margin.
 */
static double check_model(struct gpu_backend *b, const struct naive *nv,
			  const uint32_t *tok, const uint32_t *pos,
			  uint32_t *got, uint32_t *want, double *margin)
{
	const struct gpu_model *m = nv->m;
	int h = m->hidden, qd = m->heads * m->head_dim;
	int kd = m->kv_heads * m->head_dim, f = m->ffn;
	static float x[ROWS * 128], q[ROWS * 128], k[ROWS * 64], v[ROWS * 64];
	static float attn[ROWS * 128];
	static double dx[ROWS][128], dt[256], dq[128], dk[64], dv[64];
	static double g[256], u[256], lg[256];
	double worst = 0, e;
	int r, i, l;

	if (b->ops->embed(b, tok, ROWS, x))
		return INFINITY;
	for (r = 0; r < ROWS; r++)
		for (i = 0; i < h; i++)
			dx[r][i] = nv->embed[tok[r] * h + i];
	for (l = 0; l < (int)m->layers; l++) {
		const struct naive_layer *y = &nv->l[l];

		if (b->ops->qkv(b, l, x, pos, ROWS, q, k, v))
			return INFINITY;
		for (r = 0; r < ROWS; r++)
			for (i = 0; i < qd; i++)
				attn[r * qd + i] = v[r * kd + i % kd] * 0.75f;
		if (b->ops->post_attn(b, l, x, attn, ROWS))
			return INFINITY;
		for (r = 0; r < ROWS; r++) {
			norm(dx[r], y->an, h, dt);
			mv(y->wq, dt, qd, h, dq);
			mv(y->wk, dt, kd, h, dk);
			mv(y->wv, dt, kd, h, dv);
			rot(dq, m->heads, m->head_dim, pos[r]);
			rot(dk, m->kv_heads, m->head_dim, pos[r]);
			e = fmax(rel_err(q + r * qd, dq, qd),
				 fmax(rel_err(k + r * kd, dk, kd),
				      rel_err(v + r * kd, dv, kd)));
			worst = fmax(worst, e);
			for (i = 0; i < qd; i++)
				dq[i] = attn[r * qd + i];
			mv(y->wo, dq, h, qd, dt);
			for (i = 0; i < h; i++)
				dx[r][i] += dt[i];
			norm(dx[r], y->fn, h, dt);
			mv(y->wg, dt, f, h, g);
			mv(y->wu, dt, f, h, u);
			for (i = 0; i < f; i++)
				g[i] = g[i] / (1 + exp(-g[i])) * u[i];
			mv(y->wd, g, h, f, dt);
			for (i = 0; i < h; i++)
				dx[r][i] += dt[i];
			worst = fmax(worst, rel_err(x + r * h, dx[r], h));
		}
	}
	if (b->ops->next_token(b, x, ROWS, got))
		return INFINITY;
	for (r = 0; r < ROWS; r++) {
		double best = -INFINITY, second = -INFINITY;

		norm(dx[r], nv->on, h, dt);
		mv(nv->head, dt, m->vocab, h, lg);
		want[r] = 0;
		for (i = 0; i < (int)m->vocab; i++) {
			if (lg[i] > best) {
				second = best;
				best = lg[i];
				want[r] = i;
			} else if (lg[i] > second) {
				second = lg[i];
			}
		}
		margin[r] = best - second;
	}
	return worst;
}

static void test_against_naive(void)
{
	static const uint32_t tok[ROWS] = { 0, 17, 255, 17, 128 };
	static const uint32_t pos[ROWS] = { 0, 1, 2, 300, 70000 };
	uint32_t got[ROWS], want[ROWS], r, ok = 1;
	double margin[ROWS], err;
	struct gpu_backend *b = NULL;
	struct naive nv;

	naive_init(&nv, &tiny, 42);
	tap_ok(!gpu_cpu_backend_new(&tiny, 42, &b), "backend for tiny");
	if (!b)
		return;
	err = check_model(b, &nv, tok, pos, got, want, margin);
	tap_ok(err < TOL, "layers match double within %g of RMS (worst %.2e)",
	       TOL, err);
	for (r = 0; r < ROWS; r++) {
		/* Below 1e-3 the FP32 rounding could fairly pick either. */
		if (margin[r] >= 1e-3 && got[r] != want[r])
			ok = 0;
		tap_diag("row %u: token %u (naive %u, margin %.3f)", r,
			 got[r], want[r], margin[r]);
	}
	tap_ok(ok, "greedy tokens match the naive argmax");
	gpu_backend_destroy(b);
	naive_free(&nv);
}

/* All outputs of one run: embed, every layer, next tokens. */
static int run_all(struct gpu_backend *b, const uint32_t *tok,
		   const uint32_t *pos, uint32_t n, float *x, uint32_t *next)
{
	const struct gpu_model *m = b->model;
	float q[ROWS * 128], k[ROWS * 64], v[ROWS * 64];
	uint32_t l;
	int ret;

	ret = b->ops->embed(b, tok, n, x);
	for (l = 0; l < m->layers && !ret; l++) {
		ret = b->ops->qkv(b, l, x, pos, n, q, k, v);
		ret = ret ?: b->ops->post_attn(b, l, x, q, n);
	}
	return ret ?: b->ops->next_token(b, x, n, next);
}

static void test_determinism(void)
{
	static const uint32_t tok[ROWS] = { 3, 1, 4, 1, 5 };
	static const uint32_t pos[ROWS] = { 9, 2, 6, 5, 3 };
	static float x1[ROWS * 128], x2[ROWS * 128], x3[ROWS * 128];
	uint32_t n1[ROWS], n2[ROWS], n3[ROWS], r, rows_ok = 1;
	struct gpu_backend *a = NULL, *b = NULL, *c = NULL;

	if (gpu_cpu_backend_new(&tiny, 7, &a) ||
	    gpu_cpu_backend_new(&tiny, 7, &b) ||
	    gpu_cpu_backend_new(&tiny, 8, &c)) {
		tap_ok(0, "three backends");
		goto out;
	}
	tap_ok(!run_all(a, tok, pos, ROWS, x1, n1) &&
	       !run_all(b, tok, pos, ROWS, x2, n2) &&
	       !run_all(c, tok, pos, ROWS, x3, n3), "runs succeed");
	tap_ok(!memcmp(x1, x2, sizeof(x1)) && !memcmp(n1, n2, sizeof(n1)),
	       "same seed: bit-identical activations and tokens");
	tap_ok(memcmp(x1, x3, sizeof(x1)) != 0,
	       "different seed: different activations");
	/* Row r alone must equal row r of the batch, bit for bit. */
	for (r = 0; r < ROWS; r++) {
		float xr[128];
		uint32_t nr;

		if (run_all(b, tok + r, pos + r, 1, xr, &nr) ||
		    memcmp(xr, x1 + r * 128, sizeof(xr)) || nr != n1[r])
			rows_ok = 0;
	}
	tap_ok(rows_ok, "a row's result does not depend on its batch");
out:
	gpu_backend_destroy(a);
	gpu_backend_destroy(b);
	gpu_backend_destroy(c);
}

static void test_bad_shapes(void)
{
	static const struct {
		const char *what;
		size_t off;
		uint32_t val;
	} bad[] = {
		{ "layers 0", offsetof(struct gpu_model, layers), 0 },
		{ "layers 65", offsetof(struct gpu_model, layers), 65 },
		{ "ffn_mats 2", offsetof(struct gpu_model, ffn_mats), 2 },
		{ "tp 2", offsetof(struct gpu_model, tp), 2 },
		{ "kv_heads 3", offsetof(struct gpu_model, kv_heads), 3 },
		{ "hidden 100", offsetof(struct gpu_model, hidden), 100 },
		{ "ffn 0", offsetof(struct gpu_model, ffn), 0 },
		{ "ffn 8193", offsetof(struct gpu_model, ffn), 8193 },
		{ "vocab 0", offsetof(struct gpu_model, vocab), 0 },
		{ "vocab 65537", offsetof(struct gpu_model, vocab), 65537 },
	};
	struct gpu_model odd = tiny, big = tiny;
	struct gpu_backend *b = NULL;
	const char *why = NULL;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct gpu_model m = tiny;

		int ret;

		*(uint32_t *)((char *)&m + bad[i].off) = bad[i].val;
		why = NULL;
		ret = gpu_cpu_model_check(&m, &why);
		tap_ok(ret == -EINVAL && why &&
		       gpu_cpu_backend_new(&m, 1, &b) == -EINVAL && !b,
		       "%s refused: %s", bad[i].what, why ? why : "(no reason)");
	}
	odd.heads = 4;
	odd.head_dim = 31;
	odd.hidden = 124;
	tap_ok(gpu_cpu_backend_new(&odd, 1, &b) == -EINVAL && !b,
	       "odd head_dim refused");
	big.heads = 32;
	big.kv_heads = 32;
	big.head_dim = 128;
	big.hidden = 4096;
	big.ffn = 8192;
	big.layers = 8;
	why = NULL;
	i = gpu_cpu_model_check(&big, &why) == -EINVAL;
	tap_ok(i && why && gpu_cpu_backend_new(&big, 1, &b) == -EINVAL && !b,
	       "a model of %zu MiB of weights refused: %s",
	       (size_t)gpu_model_weight_bytes(&big) * 2 >> 20, why);
	tap_ok(gpu_cpu_backend_new(NULL, 1, &b) == -EINVAL &&
	       gpu_cpu_model_check(NULL, NULL) == -EINVAL, "no model refused");
}

static void test_bad_input(void)
{
	uint32_t tok[2] = { 1, 256 }, pos[1] = { 0 }, next;
	static float x[2 * 128], q[128], k[64], v[64];
	struct gpu_backend *b = NULL;

	if (gpu_cpu_backend_new(&tiny, 1, &b)) {
		tap_ok(0, "backend");
		return;
	}
	tap_ok(b->ops->embed(b, tok, 2, x) == -EINVAL,
	       "token id >= vocab refused");
	tap_ok(b->ops->qkv(b, 2, x, pos, 1, q, k, v) == -EINVAL &&
	       b->ops->post_attn(b, 2, x, q, 1) == -EINVAL,
	       "layer >= layers refused");
	b->ops->time(b, NULL);
	tap_ok(!b->ops->embed(b, tok, 1, x) &&
	       !b->ops->next_token(b, x, 1, &next) && next < 256 &&
	       b->ops->time(b, NULL) >= 0 && b->ops->time(b, NULL) == 0,
	       "time() reports compute seconds once, then 0");
	tap_ok(!strcmp(b->ops->name, "cpu") && b->model->hidden == 128,
	       "name and model");
	gpu_backend_destroy(b);
}

int main(void)
{
	tap_plan(24);
	test_against_naive();
	test_determinism();
	test_bad_shapes();
	test_bad_input();
	return tap_done();
}
