// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gpu_cuda.c - the CUDA backend's loader (gpu_cuda.h): opens the plugin
 * with dlopen(), checks its ABI (gpu/cuda/pimgpu_cuda_abi.h), makes the
 * weights with the CPU backend's generator and hands them over, and turns
 * gpu_backend_ops calls into plugin calls after validating them. RoPE's
 * cos and sin are computed here, in double with the host's libm exactly
 * as the CPU backend does, and rounded to float; the GPU only uses them.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda/pimgpu_cuda_abi.h"
#include "gpu_cpu.h"
#include "gpu_cuda.h"
#include "gpu_weights.h"

#ifndef PIM_CUDA_PLUGIN_DIR
#define PIM_CUDA_PLUGIN_DIR	"/usr/local/lib/pim"
#endif
#define PLUGIN_PATH		PIM_CUDA_PLUGIN_DIR "/libpimgpu-cuda.so"

struct cuda_backend {
	struct gpu_backend base;
	struct gpu_model model;
	void *dl;
	const struct pimgpu_cuda_plugin *p;
	struct pimgpu_cuda_ctx *ctx;
	double *inv_freq;	/* head_dim / 2 */
	float *rope;		/* cos then sin, rope_cap rows each */
	uint32_t rope_cap;
};

static const struct gpu_backend_ops cuda_ops;

/* Reasons with a path or a CUDA error; valid until the next call. */
static __thread char why_buf[512];

__attribute__((format(printf, 2, 3)))
static int why_fmt(int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	return ret;
}

static struct cuda_backend *to_cuda(struct gpu_backend *b)
{
	return (struct cuda_backend *)b;
}

/* ---- gpu_backend_ops ---- */

static int cuda_embed(struct gpu_backend *b, const uint32_t *tok, uint32_t n,
		      float *x)
{
	struct cuda_backend *cb = to_cuda(b);
	uint32_t i;

	for (i = 0; i < n; i++)
		if (tok[i] >= cb->model.vocab)
			return -EINVAL;
	return n ? cb->p->embed(cb->ctx, tok, n, x) : 0;
}

/* Row i's cos and sin of pos[i] * inv_freq[j], as cpu_backend.c's rope(). */
static int rope_tables(struct cuda_backend *cb, const uint32_t *pos,
		       uint32_t n)
{
	size_t half = cb->model.head_dim / 2, i, j;
	float *c, *s;

	if (n > cb->rope_cap) {
		float *r = realloc(cb->rope, 2 * half * n * sizeof(float));

		if (!r)
			return -ENOMEM;
		cb->rope = r;
		cb->rope_cap = n;
	}
	c = cb->rope;
	s = c + half * n;
	for (i = 0; i < n; i++)
		for (j = 0; j < half; j++) {
			double a = pos[i] * cb->inv_freq[j];

			c[i * half + j] = (float)cos(a);
			s[i * half + j] = (float)sin(a);
		}
	return 0;
}

static int cuda_qkv(struct gpu_backend *b, uint32_t layer, const float *x,
		    const uint32_t *pos, uint32_t n, float *q, float *k,
		    float *v)
{
	struct cuda_backend *cb = to_cuda(b);
	size_t half = cb->model.head_dim / 2;
	int ret;

	if (layer >= cb->model.layers)
		return -EINVAL;
	if (!n)
		return 0;
	ret = rope_tables(cb, pos, n);
	return ret ?: cb->p->qkv(cb->ctx, layer, x, cb->rope,
				 cb->rope + half * n, n, q, k, v);
}

static int cuda_post_attn(struct gpu_backend *b, uint32_t layer, float *x,
			  const float *attn, uint32_t n)
{
	struct cuda_backend *cb = to_cuda(b);

	if (layer >= cb->model.layers)
		return -EINVAL;
	return n ? cb->p->post_attn(cb->ctx, layer, x, attn, n) : 0;
}

static int cuda_next_token(struct gpu_backend *b, const float *x, uint32_t n,
			   uint32_t *tok)
{
	struct cuda_backend *cb = to_cuda(b);

	return n ? cb->p->next_token(cb->ctx, x, n, tok) : 0;
}

static int cuda_prefill_attn(struct gpu_backend *b, const float *q,
			     uint32_t ctx, uint32_t ntok, const uint16_t *k16,
			     const uint16_t *v16, float *out)
{
	struct cuda_backend *cb = to_cuda(b);

	if (!q || !k16 || !v16 || !out || ctx > UINT32_MAX - ntok)
		return -EINVAL;
	return ntok ? cb->p->prefill_attn(cb->ctx, q, ctx, ntok, k16, v16,
					  out) : 0;
}

static double cuda_time(struct gpu_backend *b, const struct gpu_work *w)
{
	struct cuda_backend *cb = to_cuda(b);

	(void)w;
	return cb->p->gpu_seconds(cb->ctx);
}

static void cuda_destroy(struct gpu_backend *b)
{
	struct cuda_backend *cb = to_cuda(b);

	if (cb->ctx)
		cb->p->destroy(cb->ctx);
	if (cb->dl)
		dlclose(cb->dl);
	free(cb->inv_freq);
	free(cb->rope);
	free(cb);
}

static const struct gpu_backend_ops cuda_ops = {
	.name = "cuda",
	.destroy = cuda_destroy,
	.time = cuda_time,
	.embed = cuda_embed,
	.qkv = cuda_qkv,
	.post_attn = cuda_post_attn,
	.next_token = cuda_next_token,
	.prefill_attn = cuda_prefill_attn,
};

const char *gpu_cuda_backend_error(struct gpu_backend *b)
{
	if (!b || b->ops != &cuda_ops)
		return "not a CUDA backend";
	return to_cuda(b)->p->error(to_cuda(b)->ctx);
}

/* ---- construction ---- */

/*
 * dlopen the plugin and check its ABI. RTLD_NODELETE: the static CUDA
 * runtime inside registers exit handlers, so it must never be unmapped.
 */
static int open_plugin(struct cuda_backend *cb)
{
	const char *path = getenv(GPU_CUDA_PLUGIN_ENV);
	pimgpu_cuda_entry_fn entry;

	if (!path || !*path)
		path = PLUGIN_PATH;
	if (access(path, R_OK))
		return errno == ENOENT ?
			why_fmt(-ENOENT, "no CUDA plugin at %s (built only where nvcc exists)",
				path) :
			why_fmt(-errno, "cannot read CUDA plugin %s: %s",
				path, strerror(errno));
	cb->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!cb->dl)
		return why_fmt(-ENOEXEC, "cannot load CUDA plugin %s: %s",
			       path, dlerror());
	*(void **)&entry = dlsym(cb->dl, PIMGPU_CUDA_ENTRY);
	if (!entry)
		return why_fmt(-ENOEXEC, "%s is not a CUDA plugin: no %s",
			       path, PIMGPU_CUDA_ENTRY);
	cb->p = entry();
	if (!cb->p || cb->p->abi != PIMGPU_CUDA_ABI_VERSION ||
	    cb->p->size < sizeof(*cb->p))
		return why_fmt(-ENOEXEC, "CUDA plugin %s has ABI %u, this loader needs %u",
			       path, cb->p ? cb->p->abi : 0,
			       PIMGPU_CUDA_ABI_VERSION);
	return 0;
}

/* The weights as offsets into their block, for the plugin. */
static int upload(struct cuda_backend *cb, const struct gpu_weights *gw)
{
	const struct gpu_model *m = &cb->model;
	struct pimgpu_cuda_shape s = {
		.layers = m->layers, .heads = m->heads,
		.kv_heads = m->kv_heads, .hidden = m->hidden,
		.head_dim = m->head_dim, .ffn = m->ffn, .vocab = m->vocab,
	};
	struct pimgpu_cuda_weights w = {
		.data = gw->data, .count = gw->count,
		.embed = gw->embed - gw->data,
		.out_norm = gw->out_norm - gw->data,
		.lm_head = gw->lm_head - gw->data,
	};
	struct pimgpu_cuda_layer *ly;
	char why[256] = "";
	uint32_t l;
	int ret;

	ly = calloc(m->layers, sizeof(*ly));
	if (!ly)
		return why_fmt(-ENOMEM, "out of memory");
	for (l = 0; l < m->layers; l++) {
		const struct gpu_layer_weights *g = &gw->layer[l];

		ly[l] = (struct pimgpu_cuda_layer){
			.attn_norm = g->attn_norm - gw->data,
			.wq = g->wq - gw->data, .wk = g->wk - gw->data,
			.wv = g->wv - gw->data, .wo = g->wo - gw->data,
			.ffn_norm = g->ffn_norm - gw->data,
			.w_gate = g->w_gate - gw->data,
			.w_up = g->w_up - gw->data,
			.w_down = g->w_down - gw->data,
		};
	}
	w.layer = ly;
	ret = cb->p->create(&s, &w, &cb->ctx, why, sizeof(why));
	free(ly);
	if (ret)
		return why_fmt(ret, "CUDA backend set-up failed: %s", why);
	return 0;
}

static int backend_new(struct cuda_backend *cb, uint64_t seed)
{
	size_t half = cb->model.head_dim / 2;
	struct gpu_weights *gw;
	char why[256] = "";
	int ret;

	ret = open_plugin(cb);
	if (ret)
		return ret;
	ret = cb->p->probe(why, sizeof(why));
	if (ret < 0)
		return why_fmt(ret, "no NVIDIA GPU: %s", why);
	ret = gpu_weights_new(&cb->model, seed, &gw);
	if (ret)
		return why_fmt(ret, "cannot make the weights: %s",
			       strerror(-ret));
	cb->inv_freq = malloc(half * sizeof(double));
	if (cb->inv_freq) {
		memcpy(cb->inv_freq, gw->inv_freq, half * sizeof(double));
		ret = upload(cb, gw);
	} else {
		ret = why_fmt(-ENOMEM, "out of memory");
	}
	gpu_weights_free(gw);
	return ret;
}

int gpu_cuda_backend_new(const struct gpu_model *m, uint64_t seed,
			 struct gpu_backend **out, const char **why)
{
	struct cuda_backend *cb;
	const char *bad = NULL;
	int ret;

	if (!out || gpu_cpu_model_check(m, &bad)) {
		if (why)
			*why = out ? bad : "no backend pointer";
		return -EINVAL;
	}
	cb = calloc(1, sizeof(*cb));
	if (!cb) {
		if (why)
			*why = "out of memory";
		return -ENOMEM;
	}
	cb->model = *m;
	cb->base.ops = &cuda_ops;
	cb->base.model = &cb->model;
	ret = backend_new(cb, seed);
	if (ret) {
		if (why)
			*why = why_buf;
		cuda_destroy(&cb->base);
		return ret;
	}
	if (why)
		*why = NULL;
	*out = &cb->base;
	return 0;
}
