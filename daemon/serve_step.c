// SPDX-License-Identifier: GPL-2.0
/*
 * serve_step.c - one sub-batch of an iteration: the non-attention layers
 * on the compute backend (or seeded data without one), new KV appended to
 * each request's cache on the PIM device, decode attention on the device,
 * prefill attention (and GPU-only decode attention) on the host over the
 * KV read back from the device, so the host attends to exactly the FP16
 * values the device holds.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pim/half.h>
#include <pim/prng.h>
#include <pim/ref_attn.h>

#include "serve.h"

static int grow(void *pp, size_t n, size_t size)
{
	void *p = realloc(*(void **)pp, n * size);

	if (!p)
		return -ENOMEM;
	*(void **)pp = p;
	return 0;
}

void serve_buf_free(struct serve_buf *b)
{
	free(b->tok);
	free(b->pos);
	free(b->row0);
	free(b->next);
	free(b->x);
	free(b->q);
	free(b->k);
	free(b->v);
	free(b->attn);
	free(b->xo);
	free(b->k16);
	free(b->v16);
	free(b->kh);
	free(b->vh);
	free(b->score);
	free(b->attn_row);
	pim_batch_free(b->batch);
	memset(b, 0, sizeof(*b));
}

static int buf_rows(struct serve_buf *b, const struct gpu_model *m,
		    uint32_t rows, uint32_t items)
{
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	int ret = 0;

	if (rows <= b->rows && items <= b->rows)
		return 0;
	if (items > rows)
		rows = items;
	ret = ret ?: grow(&b->tok, rows, sizeof(*b->tok));
	ret = ret ?: grow(&b->pos, rows, sizeof(*b->pos));
	ret = ret ?: grow(&b->row0, rows, sizeof(*b->row0));
	ret = ret ?: grow(&b->next, rows, sizeof(*b->next));
	ret = ret ?: grow(&b->x, rows * (size_t)m->hidden, sizeof(float));
	ret = ret ?: grow(&b->xo, rows * (size_t)m->hidden, sizeof(float));
	ret = ret ?: grow(&b->q, rows * qd, sizeof(float));
	ret = ret ?: grow(&b->attn, rows * qd, sizeof(float));
	ret = ret ?: grow(&b->attn_row, qd, sizeof(double));
	ret = ret ?: grow(&b->k, rows * kd, sizeof(float));
	ret = ret ?: grow(&b->v, rows * kd, sizeof(float));
	ret = ret ?: grow(&b->k16, rows * kd, sizeof(uint16_t));
	ret = ret ?: grow(&b->v16, rows * kd, sizeof(uint16_t));
	if (!ret)
		b->rows = rows;
	return ret;
}

static int buf_ctx(struct serve_buf *b, const struct gpu_model *m,
		   uint32_t tokens)
{
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	int ret = 0;

	if (tokens <= b->kv_cap)
		return 0;
	ret = ret ?: grow(&b->kh, tokens * kd, sizeof(uint16_t));
	ret = ret ?: grow(&b->vh, tokens * kd, sizeof(uint16_t));
	ret = ret ?: grow(&b->score, tokens, sizeof(double));
	if (!ret)
		b->kv_cap = tokens;
	return ret;
}

/*
 * Seeded stand-in data when no backend computes the layers: one
 * splitmix64 step from state x, so any element can be made on its own.
 */
static uint64_t mix(uint64_t x)
{
	return prng_splitmix64(&x);
}

static void fill_seeded(float *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (float)((double)(mix(seed + i) >> 11) /
			       (double)(1ULL << 52)) - 1.0f;
}

/*
 * Host attention for rows [r0, r0 + ntok) of one item, positions ctx..:
 * the double-precision reference over the FP16 KV the device holds.
 */
static int host_attn_item(const struct gpu_model *m, struct serve_buf *b,
			  struct serve_req *r, uint32_t layer, uint32_t ctx,
			  uint32_t r0, uint32_t ntok)
{
	const struct ref_attn_shape rs = {
		.q_heads = m->heads, .kv_heads = m->kv_heads,
		.head_dim = m->head_dim, .dtype = PIM_DTYPE_FP16,
	};
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	double scale = 1.0 / sqrt((double)m->head_dim);
	uint32_t j, len = ctx + ntok;
	float *out;
	size_t i;
	int ret;

	ret = buf_ctx(b, m, len);
	ret = ret ?: pim_kvcache_read(r->kv, layer, 0, len, b->kh, b->vh,
				      len * kd * sizeof(uint16_t));
	for (j = 0; j < ntok && !ret; j++) {
		ref_attn_scratch(&rs, b->kh, b->vh, ctx + j + 1,
				 b->q + (r0 + j) * qd, scale, b->score,
				 b->attn_row);
		out = b->attn + (r0 + j) * qd;
		for (i = 0; i < qd; i++)
			out[i] = (float)b->attn_row[i];
	}
	return ret;
}

static int pim_decode_attn(const struct gpu_model *m, struct serve_buf *b,
			   struct pim_dev *dev, struct serve_req **slot,
			   const struct sched_sub *sub, uint32_t layer,
			   uint64_t *pim_ns)
{
	size_t qd = (size_t)m->heads * m->head_dim;
	uint32_t i, nd = sub->nr_items - sub->nr_prefill;
	uint64_t ns = 0;
	int ret;

	if (!nd)
		return 0;
	if (nd > b->batch_cap) {
		pim_batch_free(b->batch);
		b->batch = NULL;
		b->batch_cap = 0;
		ret = pim_batch_new(dev, nd, &b->batch);
		if (ret)
			return ret;
		b->batch_cap = nd;
	}
	ret = pim_batch_reset(b->batch);
	for (i = 0; i < nd && !ret; i++) {
		const struct sched_item *it = &sub->items[i];

		ret = pim_batch_add(b->batch, slot[it->slot]->kv, layer,
				    it->ctx + 1, 0.0f, b->q + b->row0[i] * qd,
				    b->attn + b->row0[i] * qd, qd);
	}
	ret = ret ?: pim_batch_run(b->batch, &ns);
	*pim_ns += ns;
	return ret;
}

static int run_layer(const struct serve_model *sm, struct serve_buf *b,
		     struct pim_dev *dev, struct serve_req **slot,
		     const struct sched_sub *sub, uint64_t iter,
		     uint32_t layer, uint32_t n, uint64_t *pim_ns)
{
	const struct gpu_model *m = &sm->model;
	struct gpu_backend *gb = sm->compute;
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	uint32_t i, nd = sub->nr_items - sub->nr_prefill;
	uint64_t ns;
	int ret;

	if (gb) {
		ret = gb->ops->qkv(gb, layer, b->x, b->pos, n, b->q, b->k,
				   b->v);
		if (ret)
			return ret;
	} else {
		uint64_t seed = mix(sm->seed ^ mix(iter * 131 + layer));

		fill_seeded(b->q, n * qd, seed);
		fill_seeded(b->k, n * kd, seed + n * qd);
		fill_seeded(b->v, n * kd, seed + n * (qd + kd));
	}
	for (i = 0; i < n * kd; i++) {
		b->k16[i] = fp16_from_f32(b->k[i]);
		b->v16[i] = fp16_from_f32(b->v[i]);
	}
	for (i = 0; i < sub->nr_items; i++) {
		const struct sched_item *it = &sub->items[i];
		struct serve_req *r = slot[it->slot];

		if (pim_kvcache_get_len(r->kv, layer) != it->ctx)
			return -EILSEQ;
		ns = 0;
		ret = pim_kvcache_append(r->kv, layer, it->ntok,
					 b->k16 + b->row0[i] * kd,
					 b->v16 + b->row0[i] * kd,
					 it->ntok * kd * sizeof(uint16_t), 0,
					 &ns);
		if (ret)
			return ret;
		*pim_ns += ns;
	}
	if (sub->attn_on_gpu) {
		for (i = 0, ret = 0; i < nd && !ret; i++)
			ret = host_attn_item(m, b, slot[sub->items[i].slot],
					     layer, sub->items[i].ctx,
					     b->row0[i], 1);
	} else {
		ret = pim_decode_attn(m, b, dev, slot, sub, layer, pim_ns);
	}
	for (i = nd; i < sub->nr_items && !ret; i++)
		ret = host_attn_item(m, b, slot[sub->items[i].slot], layer,
				     sub->items[i].ctx, b->row0[i],
				     sub->items[i].ntok);
	if (!ret && gb)
		ret = gb->ops->post_attn(gb, layer, b->x, b->attn, n);
	return ret;
}

/* Rows that yield a token: every decode, the last row of a last chunk. */
static int emit_tokens(const struct serve_model *sm, struct serve_buf *b,
		       struct serve_req **slot, const struct sched_sub *sub)
{
	const struct gpu_model *m = &sm->model;
	struct gpu_backend *gb = sm->compute;
	uint32_t i, no = 0, nd = sub->nr_items - sub->nr_prefill;
	int ret;

	for (i = 0; i < sub->nr_items; i++) {
		const struct sched_item *it = &sub->items[i];

		if (i >= nd && !(it->flags & SCHED_ITEM_LAST_CHUNK))
			continue;
		if (gb)
			memcpy(b->xo + (size_t)no * m->hidden,
			       b->x + (size_t)(b->row0[i] + it->ntok - 1) *
				      m->hidden,
			       m->hidden * sizeof(float));
		b->pos[no++] = i;	/* reused: item of each output */
	}
	if (gb && no) {
		ret = gb->ops->next_token(gb, b->xo, no, b->next);
		if (ret)
			return ret;
	}
	for (i = 0; i < no; i++) {
		struct serve_req *r = slot[sub->items[b->pos[i]].slot];

		if (gb && r->nout < r->max_new)
			r->out[r->nout++] = b->next[i];
		r->generated++;
	}
	return 0;
}

int serve_run_sub(const struct serve_model *sm, struct serve_buf *b,
		  struct pim_dev *dev, struct serve_req **slot,
		  const struct sched_sub *sub, uint64_t iter,
		  uint64_t *gpu_ns, uint64_t *pim_ns)
{
	const struct gpu_model *m = &sm->model;
	struct gpu_backend *gb = sm->compute;
	struct gpu_work w = {
		.tokens = sub->f.prefill_tokens + sub->f.nr_decode,
		.out_tokens = sub->f.out_tokens,
		.prefill_pairs = sub->f.prefill_pairs,
		.prefill_kv = sub->f.prefill_kv,
		.decode_ctx = sub->attn_on_gpu ? sub->f.decode_ctx : 0,
	};
	uint32_t i, j, n = 0, layer;
	int ret;

	*gpu_ns = *pim_ns = 0;
	if (!sub->nr_items)
		return 0;
	for (i = 0; i < sub->nr_items; i++)
		n += sub->items[i].ntok;
	ret = buf_rows(b, m, n, sub->nr_items);
	if (ret)
		return ret;
	for (i = 0, n = 0; i < sub->nr_items; i++) {
		const struct sched_item *it = &sub->items[i];
		struct serve_req *r = slot[it->slot];

		if (!r || !r->kv)
			return -EILSEQ;
		b->row0[i] = n;
		for (j = 0; j < it->ntok; j++, n++) {
			b->pos[n] = it->ctx + j;
			if (it->flags & SCHED_ITEM_PREFILL)
				b->tok[n] = r->prompt[it->ctx + j];
			else
				b->tok[n] = r->nout ? r->out[r->nout - 1] : 0;
		}
	}
	if (gb) {
		ret = gb->ops->embed(gb, b->tok, n, b->x);
		if (ret)
			return ret;
	}
	for (layer = 0; layer < m->layers; layer++) {
		ret = run_layer(sm, b, dev, slot, sub, iter, layer, n, pim_ns);
		if (ret)
			return ret;
	}
	ret = emit_tokens(sm, b, slot, sub);
	*gpu_ns = (uint64_t)(sm->timing->ops->time(sm->timing, &w) * 1e9);
	return ret;
}
