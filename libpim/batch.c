// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * batch.c - batches of decode-attention jobs (one PIM_OP_ATTN command).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <pim/half.h>

#include "private.h"

PIM_EXPORT int pim_batch_new(struct pim_dev *dev, unsigned int max_jobs,
			     struct pim_batch **out)
{
	struct pim_batch *b;

	if (!dev || !out || !max_jobs || max_jobs > PIM_MAX_ATTN_JOBS)
		return -EINVAL;
	b = calloc(1, sizeof(*b) + max_jobs * sizeof(b->jobs[0]));
	if (!b)
		return -ENOMEM;
	b->dev = dev;
	b->max_jobs = max_jobs;
	pim_ref(dev->ctx);
	*out = b;
	return 0;
}

PIM_EXPORT void pim_batch_free(struct pim_batch *b)
{
	struct pim_ctx *ctx;

	if (!b)
		return;
	ctx = b->dev->ctx;
	/* A queued batch is still read by the device: keep it. */
	if (b->busy) {
		err(ctx, "batch freed while queued; leaking it\n");
		return;
	}
	free(b);
	pim_unref(ctx);
}

PIM_EXPORT int pim_batch_add(struct pim_batch *b, struct pim_kvcache *kv,
			     unsigned int layer, unsigned int ctx_len,
			     float scale, const float *q, float *out,
			     size_t nfloat)
{
	struct pim_attn_job *job;

	if (!b || !kv)
		return -EINVAL;
	if (layer >= kv->shape.layers)
		return -ERANGE;
	if (b->busy)
		return -EBUSY;
	if (kv->dev != b->dev)
		return -EXDEV;
	if (b->count == b->max_jobs)
		return -ENOSPC;
	if (nfloat < (size_t)kv->shape.q_heads * kv->shape.head_dim)
		return -ENOBUFS;
	if (!ctx_len)
		ctx_len = pim_kvcache_get_len(kv, layer);
	job = &b->jobs[b->count++];
	job->handle = kv->handle;
	job->layer = layer;
	job->ctx_len = ctx_len;
	job->scale = f32_to_bits(scale);
	job->q_addr = pim_ptr(q);
	job->out_addr = pim_ptr(out);
	return 0;
}

PIM_EXPORT int pim_batch_reset(struct pim_batch *b)
{
	if (!b)
		return -EINVAL;
	if (b->busy)
		return -EBUSY;
	b->count = 0;
	return 0;
}

PIM_EXPORT unsigned int pim_batch_get_count(struct pim_batch *b)
{
	return b ? b->count : 0;
}

void pim_batch_prep(struct pim_batch *b, struct pim_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = PIM_OP_ATTN;
	cmd->attn.jobs = pim_ptr(b->jobs);
	cmd->attn.nr_jobs = b->count;
}

PIM_EXPORT int pim_batch_run(struct pim_batch *b, uint64_t *device_ns)
{
	struct pim_cqe cqe;
	struct pim_cmd cmd;
	int ret;

	if (!b || !b->count)
		return -EINVAL;
	if (b->busy)
		return -EBUSY;
	pim_batch_prep(b, &cmd);
	ret = pim_dev_cmd(b->dev, &cmd, &cqe);
	if (ret < 0)
		return ret;
	if (device_ns)
		*device_ns = cqe.device_ns;
	return 0;
}
