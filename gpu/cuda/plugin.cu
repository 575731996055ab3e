// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * plugin.cu - libpimgpu-cuda.so: the CUDA backend's plugin
 * (pimgpu_cuda_abi.h). It uploads the weights once, keeps per-batch
 * device buffers that grow with the largest batch seen, and for each op
 * copies its host inputs in, runs kernels.cuh's kernels and copies the
 * outputs back. GPU time is measured with events around the kernels.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime.h>

#include "kernels.cuh"
#include "pimgpu_cuda_abi.h"

/* Per-row device buffers, grown together to hold a batch. */
struct rows {
	uint32_t cap;
	float *x, *norm, *q, *k, *v, *attn, *gate, *up, *logits;
	float *rope_cos, *rope_sin;
	uint32_t *tok;
};

/* prefill_attn's buffers: query rows and KV tokens. */
struct attn_bufs {
	uint32_t cap_rows, cap_kv;
	float *q, *out;
	double *acc;
	uint16_t *k, *v;
};

struct pimgpu_cuda_ctx {
	struct pimgpu_cuda_shape s;
	size_t qd, kd;			/* heads and kv_heads * head_dim */
	float *w;			/* all weights */
	const float *embed, *out_norm, *lm_head;
	struct pimgpu_cuda_layer *layer;	/* offsets into w */
	struct rows r;
	struct attn_bufs a;
	cudaEvent_t start, stop;
	double busy;			/* seconds not yet reported */
	char err[256];
};

__attribute__((format(printf, 3, 4)))
static int fail(struct pimgpu_cuda_ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return ret;
}

/* Any CUDA failure ends the op with -EIO and what failed. */
#define CK(c, call) do {						\
	cudaError_t e_ = (call);					\
	if (e_ != cudaSuccess)						\
		return fail(c, -EIO, "%s: %s", #call,			\
			    cudaGetErrorString(e_));			\
} while (0)

static void free_rows(struct rows *r)
{
	void *all[] = { r->x, r->norm, r->q, r->k, r->v, r->attn, r->gate,
			r->up, r->logits, r->rope_cos, r->rope_sin, r->tok };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cudaFree(all[i]);
	memset(r, 0, sizeof(*r));
}

static void free_attn(struct attn_bufs *a)
{
	cudaFree(a->q);
	cudaFree(a->out);
	cudaFree(a->acc);
	cudaFree(a->k);
	cudaFree(a->v);
	memset(a, 0, sizeof(*a));
}

static int alloc(struct pimgpu_cuda_ctx *c, void *pp, size_t bytes)
{
	cudaError_t e = cudaMalloc((void **)pp, bytes ? bytes : 1);

	if (e != cudaSuccess)
		return fail(c, -ENOMEM, "cudaMalloc of %zu bytes: %s", bytes,
			    cudaGetErrorString(e));
	return 0;
}

/* Room for n rows: doubles the capacity, so a run settles quickly. */
static int ensure_rows(struct pimgpu_cuda_ctx *c, uint32_t n)
{
	struct rows *r = &c->r;
	size_t h = c->s.hidden, f = c->s.ffn, half = c->s.head_dim / 2;
	size_t cap, fs = sizeof(float);
	int ret = 0;

	if (n <= r->cap)
		return 0;
	cap = n > 2 * (size_t)r->cap ? n : 2 * (size_t)r->cap;
	free_rows(r);
	ret = ret ?: alloc(c, &r->x, cap * h * fs);
	ret = ret ?: alloc(c, &r->norm, cap * h * fs);
	ret = ret ?: alloc(c, &r->q, cap * c->qd * fs);
	ret = ret ?: alloc(c, &r->k, cap * c->kd * fs);
	ret = ret ?: alloc(c, &r->v, cap * c->kd * fs);
	ret = ret ?: alloc(c, &r->attn, cap * c->qd * fs);
	ret = ret ?: alloc(c, &r->gate, cap * f * fs);
	ret = ret ?: alloc(c, &r->up, cap * f * fs);
	ret = ret ?: alloc(c, &r->logits, cap * c->s.vocab * fs);
	ret = ret ?: alloc(c, &r->rope_cos, cap * half * fs);
	ret = ret ?: alloc(c, &r->rope_sin, cap * half * fs);
	ret = ret ?: alloc(c, &r->tok, cap * sizeof(uint32_t));
	if (ret)
		free_rows(r);
	else
		r->cap = cap;
	return ret;
}

static int ensure_attn(struct pimgpu_cuda_ctx *c, uint32_t rows,
		       uint32_t kv)
{
	struct attn_bufs *a = &c->a;
	size_t cr, ck;
	int ret = 0;

	if (rows <= a->cap_rows && kv <= a->cap_kv)
		return 0;
	cr = rows > 2 * (size_t)a->cap_rows ? rows : 2 * (size_t)a->cap_rows;
	ck = kv > 2 * (size_t)a->cap_kv ? kv : 2 * (size_t)a->cap_kv;
	free_attn(a);
	ret = ret ?: alloc(c, &a->q, cr * c->qd * sizeof(float));
	ret = ret ?: alloc(c, &a->out, cr * c->qd * sizeof(float));
	ret = ret ?: alloc(c, &a->acc, cr * c->qd * sizeof(double));
	ret = ret ?: alloc(c, &a->k, ck * c->kd * sizeof(uint16_t));
	ret = ret ?: alloc(c, &a->v, ck * c->kd * sizeof(uint16_t));
	if (ret) {
		free_attn(a);
	} else {
		a->cap_rows = cr;
		a->cap_kv = ck;
	}
	return ret;
}

static int begin(struct pimgpu_cuda_ctx *c)
{
	CK(c, cudaEventRecord(c->start));
	return 0;
}

/* After the kernels: stop the clock; the copy out then waits for them. */
static int end(struct pimgpu_cuda_ctx *c)
{
	float ms;

	CK(c, cudaEventRecord(c->stop));
	CK(c, cudaEventSynchronize(c->stop));
	CK(c, cudaEventElapsedTime(&ms, c->start, c->stop));
	c->busy += ms * 1e-3;
	return 0;
}

static const float *wt(const struct pimgpu_cuda_ctx *c, uint64_t off)
{
	return c->w + off;
}

/* ---- ops ---- */

static int op_embed(struct pimgpu_cuda_ctx *c, const uint32_t *tok,
		    uint32_t n, float *x)
{
	uint32_t h = c->s.hidden;
	int ret = ensure_rows(c, n);

	if (ret)
		return ret;
	CK(c, cudaMemcpy(c->r.tok, tok, n * sizeof(*tok),
			 cudaMemcpyHostToDevice));
	ret = begin(c);
	if (ret)
		return ret;
	CK(c, kern_embed(c->embed, c->r.tok, n, h, c->r.x));
	ret = end(c);
	if (ret)
		return ret;
	CK(c, cudaMemcpy(x, c->r.x, (size_t)n * h * sizeof(float),
			 cudaMemcpyDeviceToHost));
	return 0;
}

static int op_qkv(struct pimgpu_cuda_ctx *c, uint32_t layer, const float *x,
		  const float *rope_cos, const float *rope_sin, uint32_t n,
		  float *q, float *k, float *v)
{
	const struct pimgpu_cuda_layer *ly = &c->layer[layer];
	struct rows *r = &c->r;
	uint32_t h = c->s.hidden, hd = c->s.head_dim;
	size_t half = hd / 2, fs = sizeof(float);
	int ret = ensure_rows(c, n);

	if (ret)
		return ret;
	CK(c, cudaMemcpy(r->x, x, n * h * fs, cudaMemcpyHostToDevice));
	CK(c, cudaMemcpy(r->rope_cos, rope_cos, n * half * fs,
			 cudaMemcpyHostToDevice));
	CK(c, cudaMemcpy(r->rope_sin, rope_sin, n * half * fs,
			 cudaMemcpyHostToDevice));
	ret = begin(c);
	if (ret)
		return ret;
	CK(c, kern_rmsnorm(r->x, wt(c, ly->attn_norm), n, h, r->norm));
	CK(c, kern_matmul(wt(c, ly->wq), r->norm, NULL, n, c->qd, h, r->q));
	CK(c, kern_matmul(wt(c, ly->wk), r->norm, NULL, n, c->kd, h, r->k));
	CK(c, kern_matmul(wt(c, ly->wv), r->norm, NULL, n, c->kd, h, r->v));
	CK(c, kern_rope(r->q, r->rope_cos, r->rope_sin, n, c->s.heads, hd));
	CK(c, kern_rope(r->k, r->rope_cos, r->rope_sin, n, c->s.kv_heads,
			hd));
	ret = end(c);
	if (ret)
		return ret;
	CK(c, cudaMemcpy(q, r->q, n * c->qd * fs, cudaMemcpyDeviceToHost));
	CK(c, cudaMemcpy(k, r->k, n * c->kd * fs, cudaMemcpyDeviceToHost));
	CK(c, cudaMemcpy(v, r->v, n * c->kd * fs, cudaMemcpyDeviceToHost));
	return 0;
}

static int op_post_attn(struct pimgpu_cuda_ctx *c, uint32_t layer, float *x,
			const float *attn, uint32_t n)
{
	const struct pimgpu_cuda_layer *ly = &c->layer[layer];
	struct rows *r = &c->r;
	uint32_t h = c->s.hidden, f = c->s.ffn;
	size_t fs = sizeof(float);
	int ret = ensure_rows(c, n);

	if (ret)
		return ret;
	CK(c, cudaMemcpy(r->x, x, n * h * fs, cudaMemcpyHostToDevice));
	CK(c, cudaMemcpy(r->attn, attn, n * c->qd * fs,
			 cudaMemcpyHostToDevice));
	ret = begin(c);
	if (ret)
		return ret;
	CK(c, kern_matmul(wt(c, ly->wo), r->attn, r->x, n, h, c->qd, r->x));
	CK(c, kern_rmsnorm(r->x, wt(c, ly->ffn_norm), n, h, r->norm));
	CK(c, kern_matmul(wt(c, ly->w_gate), r->norm, NULL, n, f, h,
			  r->gate));
	CK(c, kern_matmul(wt(c, ly->w_up), r->norm, NULL, n, f, h, r->up));
	CK(c, kern_swiglu(r->gate, r->up, (size_t)n * f));
	CK(c, kern_matmul(wt(c, ly->w_down), r->gate, r->x, n, h, f, r->x));
	ret = end(c);
	if (ret)
		return ret;
	CK(c, cudaMemcpy(x, r->x, n * h * fs, cudaMemcpyDeviceToHost));
	return 0;
}

static int op_next_token(struct pimgpu_cuda_ctx *c, const float *x,
			 uint32_t n, uint32_t *tok)
{
	struct rows *r = &c->r;
	uint32_t h = c->s.hidden;
	int ret = ensure_rows(c, n);

	if (ret)
		return ret;
	CK(c, cudaMemcpy(r->x, x, (size_t)n * h * sizeof(float),
			 cudaMemcpyHostToDevice));
	ret = begin(c);
	if (ret)
		return ret;
	CK(c, kern_rmsnorm(r->x, c->out_norm, n, h, r->norm));
	CK(c, kern_matmul(c->lm_head, r->norm, NULL, n, c->s.vocab, h,
			  r->logits));
	CK(c, kern_argmax(r->logits, n, c->s.vocab, r->tok));
	ret = end(c);
	if (ret)
		return ret;
	CK(c, cudaMemcpy(tok, r->tok, n * sizeof(*tok),
			 cudaMemcpyDeviceToHost));
	return 0;
}

static int op_prefill_attn(struct pimgpu_cuda_ctx *c, const float *q,
			   uint32_t ctx, uint32_t ntok, const uint16_t *k16,
			   const uint16_t *v16, float *out)
{
	struct attn_bufs *a = &c->a;
	uint32_t total = ctx + ntok;
	size_t qb = (size_t)ntok * c->qd * sizeof(float);
	size_t kvb = (size_t)total * c->kd * sizeof(uint16_t);
	int ret = ensure_attn(c, ntok, total);

	if (ret)
		return ret;
	CK(c, cudaMemcpy(a->q, q, qb, cudaMemcpyHostToDevice));
	CK(c, cudaMemcpy(a->k, k16, kvb, cudaMemcpyHostToDevice));
	CK(c, cudaMemcpy(a->v, v16, kvb, cudaMemcpyHostToDevice));
	ret = begin(c);
	if (ret)
		return ret;
	CK(c, kern_prefill_attn(a->q, a->k, a->v, ctx, ntok, c->s.heads,
				c->s.kv_heads, c->s.head_dim,
				1.0 / sqrt((double)c->s.head_dim), a->acc,
				a->out));
	ret = end(c);
	if (ret)
		return ret;
	CK(c, cudaMemcpy(out, a->out, qb, cudaMemcpyDeviceToHost));
	return 0;
}

static double op_gpu_seconds(struct pimgpu_cuda_ctx *c)
{
	double t = c->busy;

	c->busy = 0;
	return t;
}

static const char *op_error(struct pimgpu_cuda_ctx *c)
{
	return c->err;
}

/* ---- life cycle ---- */

static int op_probe(char *why, size_t len)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);

	if (e != cudaSuccess) {
		snprintf(why, len, "%s", cudaGetErrorString(e));
		return -ENODEV;
	}
	if (n <= 0) {
		snprintf(why, len, "no CUDA device");
		return -ENODEV;
	}
	return n;
}

static void op_destroy(struct pimgpu_cuda_ctx *c)
{
	if (!c)
		return;
	free_rows(&c->r);
	free_attn(&c->a);
	cudaFree(c->w);
	if (c->start)
		cudaEventDestroy(c->start);
	if (c->stop)
		cudaEventDestroy(c->stop);
	free(c->layer);
	free(c);
}

static int setup(struct pimgpu_cuda_ctx *c, const struct pimgpu_cuda_shape *s,
		 const struct pimgpu_cuda_weights *w)
{
	size_t bytes = w->count * sizeof(float);
	int ret;

	c->s = *s;
	c->qd = (size_t)s->heads * s->head_dim;
	c->kd = (size_t)s->kv_heads * s->head_dim;
	c->layer = (struct pimgpu_cuda_layer *)malloc(s->layers *
						      sizeof(*c->layer));
	if (!c->layer)
		return fail(c, -ENOMEM, "out of host memory");
	memcpy(c->layer, w->layer, s->layers * sizeof(*c->layer));
	CK(c, cudaEventCreate(&c->start));
	CK(c, cudaEventCreate(&c->stop));
	CK(c, kern_init());
	ret = alloc(c, &c->w, bytes);
	if (ret)
		return ret;
	CK(c, cudaMemcpy(c->w, w->data, bytes, cudaMemcpyHostToDevice));
	c->embed = wt(c, w->embed);
	c->out_norm = wt(c, w->out_norm);
	c->lm_head = wt(c, w->lm_head);
	return 0;
}

static int op_create(const struct pimgpu_cuda_shape *s,
		     const struct pimgpu_cuda_weights *w,
		     struct pimgpu_cuda_ctx **out, char *why, size_t len)
{
	struct pimgpu_cuda_ctx *c;
	int ret;

	c = (struct pimgpu_cuda_ctx *)calloc(1, sizeof(*c));
	if (!c) {
		snprintf(why, len, "out of host memory");
		return -ENOMEM;
	}
	ret = setup(c, s, w);
	if (ret) {
		snprintf(why, len, "%s", c->err);
		op_destroy(c);
		return ret;
	}
	*out = c;
	return 0;
}

static const struct pimgpu_cuda_plugin plugin = {
	.abi = PIMGPU_CUDA_ABI_VERSION,
	.size = sizeof(struct pimgpu_cuda_plugin),
	.probe = op_probe,
	.create = op_create,
	.destroy = op_destroy,
	.error = op_error,
	.gpu_seconds = op_gpu_seconds,
	.embed = op_embed,
	.qkv = op_qkv,
	.post_attn = op_post_attn,
	.next_token = op_next_token,
	.prefill_attn = op_prefill_attn,
};

extern "C" __attribute__((visibility("default")))
const struct pimgpu_cuda_plugin *pimgpu_cuda_plugin_v1(void)
{
	return &plugin;
}
