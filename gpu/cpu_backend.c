// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * cpu_backend.c - the CPU backend (gpu_cpu.h): a small Llama-style
 * transformer's non-attention layers in FP32, and a reference decode that
 * adds attention on the CPU.
 *
 * The seam for other backends is struct gpu_backend_ops (gpu.h). The CUDA
 * backend (gpu_cuda.h, gpu/cuda/) implements the same calls with the same
 * math on the same weights (gpu_weights.h): embed (token rows to
 * activations), qkv (norm, projections and RoPE of one layer), post_attn
 * (output projection and FFN with their residual adds), next_token (final
 * norm, LM head, argmax) and time.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pim/half.h>

#include "gpu_cpu.h"
#include "gpu_weights.h"

#define RMS_EPS		1e-5f

struct cpu_backend {
	struct gpu_backend base;
	struct gpu_model model;
	struct gpu_weights *w;
	float *tmp;		/* hidden + 2 * ffn + vocab of scratch */
	double busy;		/* compute seconds not yet reported */
};

static const struct gpu_backend_ops cpu_ops;

static struct cpu_backend *to_cpu(struct gpu_backend *b)
{
	return (struct cpu_backend *)b;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- kernels: FP32, every sum in index order ---- */

/* y[rows] = W[rows][cols] x */
static void matvec(const float *w, const float *x, uint32_t rows,
		   uint32_t cols, float *y)
{
	uint32_t r, c;

	for (r = 0; r < rows; r++, w += cols) {
		float acc = 0;

		for (c = 0; c < cols; c++)
			acc += w[c] * x[c];
		y[r] = acc;
	}
}

static void rmsnorm(const float *x, const float *g, uint32_t n, float *y)
{
	float ss = 0, r;
	uint32_t i;

	for (i = 0; i < n; i++)
		ss += x[i] * x[i];
	r = 1.0f / sqrtf(ss / (float)n + RMS_EPS);
	for (i = 0; i < n; i++)
		y[i] = x[i] * r * g[i];
}

/* Rotate pairs (i, i + d / 2) of each of nh heads by pos * inv_freq[i]. */
static void rope(const double *inv_freq, float *x, uint32_t nh, uint32_t d,
		 uint32_t pos)
{
	uint32_t h, i, half = d / 2;

	for (i = 0; i < half; i++) {
		double a = pos * inv_freq[i];
		float c = (float)cos(a), s = (float)sin(a);

		for (h = 0; h < nh; h++) {
			float *p = x + (size_t)h * d;
			float x0 = p[i], x1 = p[i + half];

			p[i] = x0 * c - x1 * s;
			p[i + half] = x0 * s + x1 * c;
		}
	}
}

/* ---- gpu_backend_ops ---- */

static int cpu_embed(struct gpu_backend *b, const uint32_t *tok, uint32_t n,
		     float *x)
{
	struct cpu_backend *cb = to_cpu(b);
	uint32_t h = cb->model.hidden, i;
	double t0 = now();

	for (i = 0; i < n; i++)
		if (tok[i] >= cb->model.vocab)
			return -EINVAL;
	for (i = 0; i < n; i++)
		memcpy(x + (size_t)i * h, cb->w->embed + (size_t)tok[i] * h,
		       h * sizeof(float));
	cb->busy += now() - t0;
	return 0;
}

static int cpu_qkv(struct gpu_backend *b, uint32_t layer, const float *x,
		   const uint32_t *pos, uint32_t n, float *q, float *k,
		   float *v)
{
	struct cpu_backend *cb = to_cpu(b);
	const struct gpu_model *m = &cb->model;
	uint32_t h = m->hidden, hd = m->head_dim, i;
	size_t qd = (size_t)m->heads * hd, kd = (size_t)m->kv_heads * hd;
	const struct gpu_layer_weights *ly;
	double t0 = now();

	if (layer >= m->layers)
		return -EINVAL;
	ly = &cb->w->layer[layer];
	for (i = 0; i < n; i++) {
		float *qi = q + i * qd, *ki = k + i * kd, *vi = v + i * kd;

		rmsnorm(x + (size_t)i * h, ly->attn_norm, h, cb->tmp);
		matvec(ly->wq, cb->tmp, qd, h, qi);
		matvec(ly->wk, cb->tmp, kd, h, ki);
		matvec(ly->wv, cb->tmp, kd, h, vi);
		rope(cb->w->inv_freq, qi, m->heads, hd, pos[i]);
		rope(cb->w->inv_freq, ki, m->kv_heads, hd, pos[i]);
	}
	cb->busy += now() - t0;
	return 0;
}

static int cpu_post_attn(struct gpu_backend *b, uint32_t layer, float *x,
			 const float *attn, uint32_t n)
{
	struct cpu_backend *cb = to_cpu(b);
	const struct gpu_model *m = &cb->model;
	uint32_t h = m->hidden, f = m->ffn, i, j;
	size_t qd = (size_t)m->heads * m->head_dim;
	float *t = cb->tmp, *gate = t + h, *up = gate + f;
	const struct gpu_layer_weights *ly;
	double t0 = now();

	if (layer >= m->layers)
		return -EINVAL;
	ly = &cb->w->layer[layer];
	for (i = 0; i < n; i++) {
		float *xi = x + (size_t)i * h;

		matvec(ly->wo, attn + i * qd, h, qd, t);
		for (j = 0; j < h; j++)
			xi[j] += t[j];
		rmsnorm(xi, ly->ffn_norm, h, t);
		matvec(ly->w_gate, t, f, h, gate);
		matvec(ly->w_up, t, f, h, up);
		for (j = 0; j < f; j++)	/* SwiGLU: silu(gate) * up */
			gate[j] = gate[j] / (1.0f + expf(-gate[j])) * up[j];
		matvec(ly->w_down, gate, h, f, t);
		for (j = 0; j < h; j++)
			xi[j] += t[j];
	}
	cb->busy += now() - t0;
	return 0;
}

static uint32_t argmax(const float *p, uint32_t n)
{
	uint32_t i, best = 0;

	/* Strictly greater: the lowest id wins a tie; NaN never wins. */
	for (i = 1; i < n; i++)
		if (p[i] > p[best] || p[best] != p[best])
			best = i;
	return best;
}

static int cpu_next_token(struct gpu_backend *b, const float *x, uint32_t n,
			  uint32_t *tok)
{
	struct cpu_backend *cb = to_cpu(b);
	const struct gpu_model *m = &cb->model;
	uint32_t h = m->hidden, i;
	float *logits = cb->tmp + h;
	double t0 = now();

	for (i = 0; i < n; i++) {
		rmsnorm(x + (size_t)i * h, cb->w->out_norm, h, cb->tmp);
		matvec(cb->w->lm_head, cb->tmp, m->vocab, h, logits);
		tok[i] = argmax(logits, m->vocab);
	}
	cb->busy += now() - t0;
	return 0;
}

static double cpu_time(struct gpu_backend *b, const struct gpu_work *w)
{
	struct cpu_backend *cb = to_cpu(b);
	double t = cb->busy;

	(void)w;
	cb->busy = 0;
	return t;
}

static void cpu_destroy(struct gpu_backend *b)
{
	struct cpu_backend *cb = to_cpu(b);

	gpu_weights_free(cb->w);
	free(cb->tmp);
	free(cb);
}

static const struct gpu_backend_ops cpu_ops = {
	.name = "cpu",
	.destroy = cpu_destroy,
	.time = cpu_time,
	.embed = cpu_embed,
	.qkv = cpu_qkv,
	.post_attn = cpu_post_attn,
	.next_token = cpu_next_token,
};

int gpu_cpu_model_check(const struct gpu_model *m, const char **why)
{
	const char *bad = NULL;

	if (!m)
		bad = "no model";
	else if (gpu_model_check(m, &bad))
		bad = bad ?: "invalid model";
	else if (m->ffn_mats != 3)
		bad = "ffn_mats must be 3 (SwiGLU)";
	else if (m->tp != 1)
		bad = "tp must be 1";
	else if (m->head_dim % 2)
		bad = "head_dim must be even (RoPE)";
	else if (m->layers > GPU_CPU_MAX_LAYERS)
		bad = "layers exceeds GPU_CPU_MAX_LAYERS";
	else if (m->hidden > GPU_CPU_MAX_DIM || m->ffn > GPU_CPU_MAX_DIM)
		bad = "hidden and ffn must be <= GPU_CPU_MAX_DIM";
	else if (!m->vocab || m->vocab > GPU_CPU_MAX_VOCAB)
		bad = "vocab must be 1..GPU_CPU_MAX_VOCAB";
	else if (gpu_weights_count(m) > GPU_CPU_MAX_WEIGHTS)
		bad = "weights exceed GPU_CPU_MAX_WEIGHTS";
	if (why)
		*why = bad;
	return bad ? -EINVAL : 0;
}

int gpu_cpu_backend_new(const struct gpu_model *m, uint64_t seed,
			struct gpu_backend **out)
{
	struct cpu_backend *cb;
	size_t tmp;
	int ret;

	if (!out || gpu_cpu_model_check(m, NULL))
		return -EINVAL;
	cb = calloc(1, sizeof(*cb));
	if (!cb)
		return -ENOMEM;
	cb->model = *m;
	cb->base.ops = &cpu_ops;
	cb->base.model = &cb->model;
	tmp = (size_t)m->hidden + 2 * (size_t)m->ffn + m->vocab;
	cb->tmp = malloc(tmp * sizeof(float));
	ret = cb->tmp ? gpu_weights_new(m, seed, &cb->w) : -ENOMEM;
	if (ret) {
		cpu_destroy(&cb->base);
		return ret;
	}
	*out = &cb->base;
	return 0;
}

/* ---- KV dtypes ---- */

float gpu_kv_round(float f, enum gpu_kv_dtype dtype)
{
	switch (dtype) {
	case GPU_KV_FP16:
		return fp16_to_f32(fp16_from_f32(f));
	case GPU_KV_BF16:
		return bf16_to_f32(bf16_from_f32(f));
	default:
		return f;
	}
}

/* ---- the reference decode ---- */

struct ref_state {
	const struct gpu_model *m;
	enum gpu_kv_dtype dtype;
	float *x, *q, *k, *v, *attn;	/* rows of the widest step */
	float *kc, *vc;			/* layers x total x kv_heads x hd */
	double *score;			/* total */
	uint32_t total;
};

/* One query row over ctx cached tokens of one layer, in double. */
static void ref_attn(const struct ref_state *rs, uint32_t layer,
		     const float *q, uint32_t ctx, float *out)
{
	const struct gpu_model *m = rs->m;
	uint32_t hd = m->head_dim, group = m->heads / m->kv_heads;
	size_t kd = (size_t)m->kv_heads * hd;
	size_t base = (size_t)layer * rs->total * kd;
	double scale = 1.0 / sqrt((double)hd);
	uint32_t h, t, d;

	for (h = 0; h < m->heads; h++) {
		const float *kh = rs->kc + base + (h / group) * hd;
		const float *vh = rs->vc + base + (h / group) * hd;
		const float *qh = q + (size_t)h * hd;
		double max = -INFINITY, sum = 0;

		for (t = 0; t < ctx; t++) {
			double dot = 0;

			for (d = 0; d < hd; d++)
				dot += (double)qh[d] * kh[t * kd + d];
			rs->score[t] = dot * scale;
			if (rs->score[t] > max)
				max = rs->score[t];
		}
		for (t = 0; t < ctx; t++) {
			rs->score[t] = exp(rs->score[t] - max);
			sum += rs->score[t];
		}
		for (d = 0; d < hd; d++) {
			double acc = 0;

			for (t = 0; t < ctx; t++)
				acc += rs->score[t] * vh[t * kd + d];
			out[h * hd + d] = (float)(acc / sum);
		}
	}
}

/* n tokens at positions pos0.. through every layer; x holds the result. */
static int ref_forward(struct gpu_backend *b, struct ref_state *rs,
		       const uint32_t *tok, uint32_t n, uint32_t pos0,
		       uint32_t *pos)
{
	const struct gpu_model *m = rs->m;
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	uint32_t l, j;
	size_t i;
	int ret;

	for (j = 0; j < n; j++)
		pos[j] = pos0 + j;
	ret = b->ops->embed(b, tok, n, rs->x);
	for (l = 0; l < m->layers && !ret; l++) {
		size_t at = ((size_t)l * rs->total + pos0) * kd;

		ret = b->ops->qkv(b, l, rs->x, pos, n, rs->q, rs->k, rs->v);
		for (i = 0; i < n * kd && !ret; i++) {
			rs->kc[at + i] = gpu_kv_round(rs->k[i], rs->dtype);
			rs->vc[at + i] = gpu_kv_round(rs->v[i], rs->dtype);
		}
		for (j = 0; j < n && !ret; j++)
			ref_attn(rs, l, rs->q + j * qd, pos0 + j + 1,
				 rs->attn + j * qd);
		ret = ret ?: b->ops->post_attn(b, l, rs->x, rs->attn, n);
	}
	return ret;
}

int gpu_cpu_reference_generate(struct gpu_backend *b, const uint32_t *prompt,
			       uint32_t n, uint32_t max_new,
			       enum gpu_kv_dtype dtype, uint32_t *out)
{
	const struct gpu_model *m;
	struct ref_state rs = { .dtype = dtype };
	size_t qd, kd, kv;
	uint32_t *pos, i;
	int ret;

	if (!b || b->ops != &cpu_ops || !prompt || !out || !n || !max_new ||
	    n > UINT32_MAX - max_new || dtype > GPU_KV_BF16)
		return -EINVAL;
	m = b->model;
	rs.m = m;
	rs.total = n + max_new;
	qd = (size_t)m->heads * m->head_dim;
	kd = (size_t)m->kv_heads * m->head_dim;
	kv = (size_t)m->layers * rs.total * kd;
	rs.x = malloc((size_t)n * m->hidden * sizeof(float));
	rs.q = malloc(n * qd * sizeof(float));
	rs.attn = malloc(n * qd * sizeof(float));
	rs.k = malloc(n * kd * sizeof(float));
	rs.v = malloc(n * kd * sizeof(float));
	rs.kc = malloc(kv * sizeof(float));
	rs.vc = malloc(kv * sizeof(float));
	rs.score = malloc(rs.total * sizeof(double));
	pos = malloc(n * sizeof(*pos));
	ret = -ENOMEM;
	if (!rs.x || !rs.q || !rs.attn || !rs.k || !rs.v || !rs.kc ||
	    !rs.vc || !rs.score || !pos)
		goto out;
	ret = ref_forward(b, &rs, prompt, n, 0, pos);
	ret = ret ?: b->ops->next_token(b, rs.x + (size_t)(n - 1) * m->hidden,
					1, &out[0]);
	for (i = 1; i < max_new && !ret; i++) {
		ret = ref_forward(b, &rs, &out[i - 1], 1, n + i - 1, pos);
		ret = ret ?: b->ops->next_token(b, rs.x, 1, &out[i]);
	}
out:
	free(rs.x);
	free(rs.q);
	free(rs.attn);
	free(rs.k);
	free(rs.v);
	free(rs.kc);
	free(rs.vc);
	free(rs.score);
	free(pos);
	return ret;
}
