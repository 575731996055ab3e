// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Roofline timing of the GPU work of one batch, as in the AttAcc simulator
 * the paper uses: each operator is bound either by compute or by memory
 * traffic, both derated by utilization caps, and tensor parallelism splits
 * every operator evenly over tp devices and adds two ring all-reduces per
 * layer (after the attention projection and after the FFN).
 */
#include <errno.h>
#include <stdlib.h>
#include "gpu.h"

struct roofline {
	const struct gpu_spec *hw;
	const struct gpu_model *m;
	double flops;		/* derated rates of one replica */
	double bw;
};

static double op_time(const struct roofline *r, double flops, double bytes)
{
	double tc = flops / r->flops, tm = bytes / r->bw;

	return tc > tm ? tc : tm;
}

/* A GEMM of t tokens through a k x n FP16 weight. */
static double gemm(const struct roofline *r, double t, double k, double n)
{
	return op_time(r, 2 * t * k * n, 2 * (k * n + t * (k + n)));
}

static double allreduce(const struct roofline *r, double t)
{
	double tp = r->m->tp, bytes = 2 * t * r->m->hidden;

	if (r->m->tp == 1)
		return 0;
	return r->hw->link_lat + bytes * 2 * (tp - 1) / tp / r->hw->link_bw;
}

double gpu_roofline_time(const struct gpu_spec *hw, const struct gpu_model *m,
			 const struct gpu_work *w)
{
	struct roofline r = {
		.hw = hw,
		.m = m,
		.flops = hw->flops * hw->compute_util * m->tp,
		.bw = hw->mem_bw * hw->bw_util * m->tp,
	};
	double h = m->hidden, kv = (double)m->kv_heads * m->head_dim;
	double t = w->tokens, layer = 0;

	if (w->tokens) {
		layer += gemm(&r, t, h, h + 2 * kv);	/* QKV generation */
		layer += gemm(&r, t, h, h);		/* output projection */
		layer += gemm(&r, t, h, (double)m->ffn * (m->ffn_mats - 1));
		layer += gemm(&r, t, m->ffn, h);
		layer += 2 * allreduce(&r, t);
	}
	if (w->prefill_pairs)	/* q.K and s.V over causal pairs */
		layer += op_time(&r, 4.0 * w->prefill_pairs * h,
				 4.0 * w->prefill_kv * kv + 4.0 * t * h);
	if (w->decode_ctx)	/* decode attention kept on the GPU */
		layer += op_time(&r, 4.0 * w->decode_ctx * h,
				 4.0 * w->decode_ctx * kv);
	return m->layers * layer +
	       (w->out_tokens ? gemm(&r, w->out_tokens, h, m->vocab) : 0);
}

struct roofline_backend {
	struct gpu_backend base;
	const struct gpu_spec *hw;
};

static void roofline_backend_destroy(struct gpu_backend *b)
{
	free(b);
}

static double roofline_backend_time(struct gpu_backend *b,
				    const struct gpu_work *w)
{
	struct roofline_backend *rb = (struct roofline_backend *)b;

	return gpu_roofline_time(rb->hw, b->model, w);
}

static const struct gpu_backend_ops roofline_ops = {
	.name = "roofline",
	.destroy = roofline_backend_destroy,
	.time = roofline_backend_time,
};

int gpu_roofline_backend_new(const struct gpu_spec *hw,
			     const struct gpu_model *m,
			     struct gpu_backend **out)
{
	struct roofline_backend *rb;

	if (!hw || !m || gpu_model_check(m, NULL))
		return -EINVAL;
	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return -ENOMEM;
	rb->base.ops = &roofline_ops;
	rb->base.model = m;
	rb->hw = hw;
	*out = &rb->base;
	return 0;
}

void gpu_backend_destroy(struct gpu_backend *b)
{
	if (b)
		b->ops->destroy(b);
}
