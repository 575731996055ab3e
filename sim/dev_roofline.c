// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Bandwidth-bound attention devices of the baselines: HBM-PIM (in or next
 * to the GPUs), rank-level DIMM-PIM and CPU offloading. Decode attention
 * reads every KV byte of its context once, at the device's full internal
 * bandwidth ("baseline systems uniformly assume maximal accelerator-side
 * bandwidth utilization", paper VII-A). For GPU-only this device only
 * keeps the books of HBM capacity; its attention runs in the GPU roofline.
 */
#include <errno.h>
#include <stdlib.h>
#include "dev.h"

struct roof_dev {
	struct sim_dev base;
	const struct sim_config *cfg;
	double kv_tok;		/* KV bytes per token, all layers */
	double bw;		/* bytes/s of this replica's device */
	double *resv;		/* bytes per slot */
};

double sim_link_decode_s(const struct sim_config *cfg,
			 const struct sched_sub *sub)
{
	const struct gpu_model *m = &cfg->model;
	double bw = cfg->sys.link_bw * m->tp;
	double per_tok = 2.0 * m->layers *
			 (2.0 * m->hidden + 2.0 * m->kv_heads * m->head_dim);

	return bw > 0 ? sub->f.nr_decode * per_tok / bw : 0;
}

double sim_link_kv_s(const struct sim_config *cfg, uint64_t tokens)
{
	double bw = cfg->sys.link_bw * cfg->model.tp;

	return bw > 0 ? tokens * (double)gpu_model_kv_token_bytes(&cfg->model) /
			bw : 0;
}

static int roof_alloc(struct sim_dev *d, uint32_t slot, uint32_t max_tokens,
		      uint32_t rankset)
{
	struct roof_dev *rd = (struct roof_dev *)d;
	double bytes = max_tokens * rd->kv_tok;

	(void)rankset;
	if (bytes > d->capacity)
		return -E2BIG;
	if (d->used + bytes > d->capacity)
		return -ENOSPC;
	d->used += bytes;
	if (d->used > d->peak)
		d->peak = d->used;
	rd->resv[slot] = bytes;
	return 0;
}

static void roof_release(struct sim_dev *d, uint32_t slot)
{
	struct roof_dev *rd = (struct roof_dev *)d;

	d->used -= rd->resv[slot];
	rd->resv[slot] = 0;
}

static uint64_t roof_time(struct sim_dev *d, const struct sched_sub *sub,
			  const struct sched_sub *kv_sub)
{
	struct roof_dev *rd = (struct roof_dev *)d;
	double bytes, t, kv;

	(void)kv_sub;
	if (rd->cfg->sys.kind == DEV_GPU)
		return 0;
	/* Read the context, write each decode's new token and the KV in. */
	bytes = (sub->f.decode_ctx + sub->f.nr_decode + sub->f.kv_in) *
		rd->kv_tok;
	t = bytes / rd->bw + sim_link_decode_s(rd->cfg, sub);
	kv = sim_link_kv_s(rd->cfg, sub->f.kv_in);
	return (uint64_t)((t > kv ? t : kv) * 1e9);
}

static void roof_destroy(struct sim_dev *d)
{
	struct roof_dev *rd = (struct roof_dev *)d;

	free(rd->resv);
	free(rd);
}

static const struct sim_dev_ops roof_ops = {
	.alloc = roof_alloc,
	.release = roof_release,
	.time = roof_time,
	.destroy = roof_destroy,
};

int sim_dev_new(const struct sim_config *cfg, uint32_t max_slots,
		struct sim_dev **out)
{
	const struct sim_system *sys = &cfg->sys;
	const struct gpu_model *m = &cfg->model;
	struct roof_dev *rd;
	double hbm;

	if (sys->kind == DEV_L3)
		return sim_dev_l3_new(cfg, max_slots, out);
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->resv = calloc(max_slots, sizeof(*rd->resv));
	if (!rd->resv) {
		free(rd);
		return -ENOMEM;
	}
	rd->base.ops = &roof_ops;
	rd->cfg = cfg;
	rd->kv_tok = (double)gpu_model_kv_token_bytes(m);
	if (sys->kind == DEV_GPU || sys->kind == DEV_HBM_PIM) {
		/* KV gets the replica's HBM that the weights leave free. */
		hbm = (double)m->tp * sys->gpu.mem_bytes * sys->cap_scale;
		rd->base.capacity = hbm - (double)gpu_model_weight_bytes(m);
		if (rd->base.capacity < 0)
			rd->base.capacity = 0;
	} else {
		rd->base.capacity = sys->dev_bytes * sys->cap_scale / m->dp;
	}
	if (sys->kind == DEV_HBM_PIM)	/* bank PUs in the replica's HBM */
		rd->bw = m->tp * sys->gpu.mem_bw * sys->hbm_pim_x *
			 sys->bw_scale;
	else
		rd->bw = sys->dev_bw * sys->bw_scale / m->dp;
	*out = &rd->base;
	return 0;
}
