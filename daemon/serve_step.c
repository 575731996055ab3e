// SPDX-License-Identifier: GPL-2.0
/*
 * serve_step.c - the stages of one sub-batch, layer by layer: Q/K/V on
 * the compute backend (or seeded data without one), new KV appended to
 * each request's cache on the PIM device, decode attention on the device,
 * prefill attention (and GPU-only decode attention) on the compute side
 * over the KV read back from the device, so it attends to exactly the
 * FP16 values the device holds, then the rest of the layer; the LM head
 * after the last layer.
 *
 * Compute stages touch only the sub-batch's own serve_buf and the
 * backend; the ATTN stage is the only one that calls libpim, and the
 * begin and end of a sub-batch the only ones that touch requests, so
 * the two sides of the ping-pong share nothing but the dependency order.
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
	free(b->kvoff);
	free(b->out_item);
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
	ret = ret ?: grow(&b->kvoff, rows, sizeof(*b->kvoff));
	ret = ret ?: grow(&b->out_item, rows, sizeof(*b->out_item));
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

/* Room for the read-back KV of all host-attended items, and scores. */
static int buf_ctx(struct serve_buf *b, const struct gpu_model *m,
		   uint32_t tokens, uint32_t longest)
{
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	int ret = 0;

	if (tokens > b->kv_cap) {
		ret = ret ?: grow(&b->kh, tokens * kd, sizeof(uint16_t));
		ret = ret ?: grow(&b->vh, tokens * kd, sizeof(uint16_t));
		if (!ret)
			b->kv_cap = tokens;
	}
	if (!ret && longest > b->score_cap) {
		ret = grow(&b->score, longest, sizeof(double));
		if (!ret)
			b->score_cap = longest;
	}
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

/* Items whose attention the compute side does, over read-back KV. */
static bool host_attended(const struct sched_sub *sub, uint32_t i)
{
	return i >= sub->nr_items - sub->nr_prefill || sub->attn_on_gpu;
}

uint8_t serve_stage_side(enum serve_stage stage)
{
	return stage == SERVE_ATTN ? SERVE_SIDE_PIM : SERVE_SIDE_COMPUTE;
}

/* With the compute backend's clock: its seconds since the last call. */
static void clock_compute(struct serve_run *r, struct serve_buf *b)
{
	struct gpu_backend *gb = r->sm->compute;
	const struct gpu_work none = { 0 };

	if (r->sm->clock_measured)
		b->gpu_s += gb->ops->time(gb, &none);
}

int serve_sub_begin(struct serve_run *r, uint32_t s)
{
	const struct sched_sub *sub = &r->plan->sub[s];
	const struct gpu_model *m = &r->sm->model;
	struct serve_buf *b = &r->buf[s];
	uint32_t i, j, n = 0, kv = 0, longest = 0;
	int ret;

	b->gpu_s = 0;
	b->pim_ns = 0;
	b->n = 0;
	b->nout = 0;
	if (!sub->nr_items)
		return 0;
	for (i = 0; i < sub->nr_items; i++)
		n += sub->items[i].ntok;
	ret = buf_rows(b, m, n, sub->nr_items);
	if (ret)
		return ret;
	for (i = 0, n = 0; i < sub->nr_items; i++) {
		const struct sched_item *it = &sub->items[i];
		struct serve_req *req = r->slot[it->slot];

		if (!req || !req->kv)
			return -EILSEQ;
		b->row0[i] = n;
		b->kvoff[i] = kv;
		if (host_attended(sub, i)) {
			kv += it->ctx + it->ntok;
			if (it->ctx + it->ntok > longest)
				longest = it->ctx + it->ntok;
		}
		for (j = 0; j < it->ntok; j++, n++) {
			b->pos[n] = it->ctx + j;
			if (it->flags & SCHED_ITEM_PREFILL)
				b->tok[n] = req->prompt[it->ctx + j];
			else
				b->tok[n] = req->nout ?
					    req->out[req->nout - 1] : 0;
		}
	}
	b->n = n;
	return buf_ctx(b, m, kv, longest);
}

int serve_stage_qkv(struct serve_run *r, uint32_t s, uint32_t layer)
{
	const struct gpu_model *m = &r->sm->model;
	struct gpu_backend *gb = r->sm->compute;
	struct serve_buf *b = &r->buf[s];
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	uint32_t n = b->n;
	size_t i;
	int ret;

	if (gb) {
		ret = layer ? 0 : gb->ops->embed(gb, b->tok, n, b->x);
		ret = ret ?: gb->ops->qkv(gb, layer, b->x, b->pos, n, b->q,
					  b->k, b->v);
		if (ret)
			return ret;
		clock_compute(r, b);
	} else {
		uint64_t seed = mix(r->sm->seed ^
				    mix(r->plan->iter * 131 + layer));

		fill_seeded(b->q, n * qd, seed);
		fill_seeded(b->k, n * kd, seed + n * qd);
		fill_seeded(b->v, n * kd, seed + n * (qd + kd));
	}
	for (i = 0; i < n * kd; i++) {
		b->k16[i] = fp16_from_f32(b->k[i]);
		b->v16[i] = fp16_from_f32(b->v[i]);
	}
	return 0;
}

static int pim_decode_attn(struct serve_run *r, uint32_t s, uint32_t layer)
{
	const struct sched_sub *sub = &r->plan->sub[s];
	const struct gpu_model *m = &r->sm->model;
	struct serve_buf *b = &r->buf[s];
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
		ret = pim_batch_new(r->dev, nd, &b->batch);
		if (ret)
			return ret;
		b->batch_cap = nd;
	}
	ret = pim_batch_reset(b->batch);
	for (i = 0; i < nd && !ret; i++) {
		const struct sched_item *it = &sub->items[i];

		ret = pim_batch_add(b->batch, r->slot[it->slot]->kv, layer,
				    it->ctx + 1, 0.0f, b->q + b->row0[i] * qd,
				    b->attn + b->row0[i] * qd, qd);
	}
	ret = ret ?: pim_batch_run(b->batch, &ns);
	b->pim_ns += ns;
	return ret;
}

int serve_stage_attn(struct serve_run *r, uint32_t s, uint32_t layer)
{
	const struct sched_sub *sub = &r->plan->sub[s];
	const struct gpu_model *m = &r->sm->model;
	struct serve_buf *b = &r->buf[s];
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	uint32_t i, len;
	uint64_t ns;
	int ret;

	for (i = 0; i < sub->nr_items; i++) {
		const struct sched_item *it = &sub->items[i];
		struct serve_req *req = r->slot[it->slot];

		if (pim_kvcache_get_len(req->kv, layer) != it->ctx)
			return -EILSEQ;
		ns = 0;
		ret = pim_kvcache_append(req->kv, layer, it->ntok,
					 b->k16 + b->row0[i] * kd,
					 b->v16 + b->row0[i] * kd,
					 it->ntok * kd * sizeof(uint16_t), 0,
					 &ns);
		if (ret)
			return ret;
		b->pim_ns += ns;
	}
	ret = sub->attn_on_gpu ? 0 : pim_decode_attn(r, s, layer);
	for (i = 0; i < sub->nr_items && !ret; i++) {
		const struct sched_item *it = &sub->items[i];

		if (!host_attended(sub, i))
			continue;
		len = it->ctx + it->ntok;
		ret = pim_kvcache_read(r->slot[it->slot]->kv, layer, 0, len,
				       b->kh + b->kvoff[i] * kd,
				       b->vh + b->kvoff[i] * kd,
				       len * kd * sizeof(uint16_t));
	}
	return ret;
}

/* The double-precision reference over the FP16 KV the device holds. */
static void host_attn_item(const struct gpu_model *m, struct serve_buf *b,
			   const struct sched_item *it, uint32_t i)
{
	const struct ref_attn_shape rs = {
		.q_heads = m->heads, .kv_heads = m->kv_heads,
		.head_dim = m->head_dim, .dtype = PIM_DTYPE_FP16,
	};
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	double scale = 1.0 / sqrt((double)m->head_dim);
	uint32_t j, r0 = b->row0[i];
	float *out;
	size_t e;

	for (j = 0; j < it->ntok; j++) {
		ref_attn_scratch(&rs, b->kh + b->kvoff[i] * kd,
				 b->vh + b->kvoff[i] * kd, it->ctx + j + 1,
				 b->q + (r0 + j) * qd, scale, b->score,
				 b->attn_row);
		out = b->attn + (r0 + j) * qd;
		for (e = 0; e < qd; e++)
			out[e] = (float)b->attn_row[e];
	}
}

int serve_stage_post(struct serve_run *r, uint32_t s, uint32_t layer)
{
	const struct sched_sub *sub = &r->plan->sub[s];
	const struct gpu_model *m = &r->sm->model;
	struct gpu_backend *gb = r->sm->compute;
	struct serve_buf *b = &r->buf[s];
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	bool on_backend = gb && gb->ops->prefill_attn;
	uint64_t t0 = serve_now_ns();
	uint32_t i;
	int ret = 0;

	for (i = 0; i < sub->nr_items && !ret; i++) {
		const struct sched_item *it = &sub->items[i];

		if (!host_attended(sub, i))
			continue;
		if (on_backend)
			ret = gb->ops->prefill_attn(gb,
					b->q + b->row0[i] * qd, it->ctx,
					it->ntok, b->kh + b->kvoff[i] * kd,
					b->vh + b->kvoff[i] * kd,
					b->attn + b->row0[i] * qd);
		else
			host_attn_item(m, b, it, i);
	}
	/* Host attention is compute-side work outside the backend's clock. */
	if (r->sm->clock_measured && !on_backend)
		b->gpu_s += (serve_now_ns() - t0) / 1e9;
	if (!ret && gb) {
		ret = gb->ops->post_attn(gb, layer, b->x, b->attn, b->n);
		if (!ret)
			clock_compute(r, b);
	}
	return ret;
}

/* Rows that yield a token: every decode, the last row of a last chunk. */
int serve_stage_head(struct serve_run *r, uint32_t s)
{
	const struct sched_sub *sub = &r->plan->sub[s];
	const struct gpu_model *m = &r->sm->model;
	struct gpu_backend *gb = r->sm->compute;
	struct serve_buf *b = &r->buf[s];
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
		b->out_item[no++] = i;
	}
	b->nout = no;
	if (gb && no) {
		ret = gb->ops->next_token(gb, b->xo, no, b->next);
		if (ret)
			return ret;
		clock_compute(r, b);
	}
	return 0;
}

void serve_sub_end(struct serve_run *r, uint32_t s, uint64_t *gpu_ns)
{
	const struct sched_sub *sub = &r->plan->sub[s];
	const struct serve_model *sm = r->sm;
	struct serve_buf *b = &r->buf[s];
	struct gpu_work w = {
		.tokens = sub->f.prefill_tokens + sub->f.nr_decode,
		.out_tokens = sub->f.out_tokens,
		.prefill_pairs = sub->f.prefill_pairs,
		.prefill_kv = sub->f.prefill_kv,
		.decode_ctx = sub->attn_on_gpu ? sub->f.decode_ctx : 0,
	};
	uint32_t i;

	*gpu_ns = 0;
	if (!sub->nr_items)
		return;
	for (i = 0; i < b->nout; i++) {
		struct serve_req *req = r->slot[sub->items[b->out_item[i]].slot];

		if (sm->compute && req->nout < req->max_new)
			req->out[req->nout++] = b->next[i];
		req->generated++;
	}
	if (sm->clock_measured)
		*gpu_ns = (uint64_t)(b->gpu_s * 1e9);
	else
		*gpu_ns = (uint64_t)(sm->timing->ops->time(sm->timing, &w) *
				     1e9);
}
