// SPDX-License-Identifier: GPL-2.0
/*
 * prep.c - validation of a command, and the copy of everything it will read
 * from user memory into its request, in the submitting task.
 */
#include <linux/capability.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pim_drv.h"

static bool pim_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

bool pim_raw_allowed(void)
{
	return pim_raw_access || capable(CAP_SYS_ADMIN);
}

static int pim_copy_in(void *dst, u64 uaddr, size_t len)
{
	return copy_from_user(dst, u64_to_user_ptr(uaddr), len) ? -EFAULT : 0;
}

static int pim_check_out(u64 uaddr, size_t len)
{
	return access_ok(u64_to_user_ptr(uaddr), len) ? 0 : -EFAULT;
}

/* Bytes of one of K or V for count tokens of a cache. */
static int pim_kv_io_bytes(const struct pim_kvobj *kvo, u32 count, size_t *len)
{
	const struct pim_kv_alloc *s = pim_kv_shape(kvo->kv);
	size_t n;

	if (check_mul_overflow((size_t)count, (size_t)s->kv_heads * s->head_dim
			       * 2, &n) || n > PIM_MAX_XFER / 2)
		return -EINVAL;
	*len = n;
	return 0;
}

static int pim_prep_alloc(struct pim_req *req)
{
	const struct pim_kv_alloc *a = &req->cmd.kv_alloc;
	struct pim_device *pdev = req->pf->pdev;
	struct pim_kvobj *kvo;
	const char *why = "";
	size_t bytes;
	int ret;

	if (a->rsvd0 || a->rsvd1 || !pim_zero(a->rsvd2, sizeof(a->rsvd2)))
		return -EINVAL;
	ret = pim_kv_check(pdev->dm, a, &why);
	if (ret) {
		dev_dbg(&pdev->dev, "KV_ALLOC refused: %s\n", why);
		return ret;
	}
	if (a->placement) {
		req->buf_len = (size_t)a->layers * sizeof(struct pim_kv_place);
		if (req->buf_len > PIM_MAX_XFER)
			return -EINVAL;
		if (pim_check_out(a->placement, req->buf_len))
			return -EFAULT;
		req->buf = kvzalloc(req->buf_len,
				    GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!req->buf)
			return -ENOMEM;
	}
	bytes = pim_kv_bytes(a);
	kvo = kvzalloc(struct_size(kvo, kv_mem, 0) + bytes,
		       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!kvo)
		return -ENOMEM;
	kref_init(&kvo->ref);
	mutex_init(&kvo->io_lock);
	kvo->pdev = pdev;
	kvo->kv = (struct pim_kv *)kvo->kv_mem;
	req->kvo = kvo;
	return 0;
}

/* A handle of this file, and its cache's layer, for KV commands. */
static int pim_prep_handle(struct pim_req *req, u32 handle, u32 layer)
{
	req->kvo = pim_kv_get(req->pf, handle);
	if (!req->kvo)
		return -ENOENT;
	if (layer >= pim_kv_shape(req->kvo->kv)->layers)
		return -ERANGE;
	return 0;
}

static int pim_prep_kv_io(struct pim_req *req)
{
	const struct pim_kv_io *io = &req->cmd.kv_io;
	bool append = req->cmd.opcode == PIM_OP_KV_APPEND;
	size_t len;
	int ret;

	if (!pim_zero(io->rsvd, sizeof(io->rsvd)))
		return -EINVAL;
	if (append ? req->cmd.flags == PIM_CMD_F_ALL :
	    req->cmd.flags & ~PIM_CMD_F_HOST_RELAYOUT)
		return -EINVAL;
	if (!io->count)
		return -EINVAL;
	ret = pim_prep_handle(req, io->handle, io->layer);
	if (ret)
		return ret;
	if (append && io->count > pim_kv_shape(req->kvo->kv)->max_tokens)
		return -ENOSPC;
	if (!append && (u64)io->start + io->count >
	    pim_kv_shape(req->kvo->kv)->max_tokens)
		return -ERANGE;
	ret = pim_kv_io_bytes(req->kvo, io->count, &len);
	if (ret)
		return ret;
	req->buf_len = 2 * len;
	req->buf = kvmalloc(req->buf_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!req->buf)
		return -ENOMEM;
	if (append)
		return pim_copy_in(req->buf, io->k_addr, len) ?:
		       pim_copy_in(req->buf + len, io->v_addr, len);
	return pim_check_out(io->k_addr, len) ?: pim_check_out(io->v_addr, len);
}

static int pim_prep_attn_job(struct pim_req *req, u32 i,
			     const struct pim_attn_job *uj, u64 *words)
{
	struct pim_attn_kjob *j = &req->jobs[i];
	const struct pim_kv_alloc *s;
	u32 n;

	j->kvo = pim_kv_get(req->pf, uj->handle);
	if (!j->kvo)
		return -ENOENT;
	s = pim_kv_shape(j->kvo->kv);
	if (uj->layer >= s->layers)
		return -ERANGE;
	if (!uj->ctx_len)
		return -EINVAL;
	if (uj->ctx_len > s->max_tokens)
		return -ERANGE;
	j->layer = uj->layer;
	j->ctx_len = uj->ctx_len;
	j->scale = uj->scale;
	j->out_addr = uj->out_addr;
	n = (u32)s->q_heads * s->head_dim;
	j->qoff = *words;
	*words += n;
	if (*words * sizeof(u32) > PIM_MAX_XFER)
		return -EINVAL;
	return 0;
}

static int pim_prep_attn(struct pim_req *req)
{
	const struct pim_attn_batch *b = &req->cmd.attn;
	struct pim_attn_job *ujobs;
	u64 words = 0;
	u32 i;
	int ret;

	if (req->cmd.flags || b->rsvd0 || !pim_zero(b->rsvd, sizeof(b->rsvd)))
		return -EINVAL;
	if (!b->nr_jobs || b->nr_jobs > PIM_MAX_ATTN_JOBS)
		return -EINVAL;
	ujobs = kvmalloc_array(b->nr_jobs, sizeof(*ujobs), GFP_KERNEL);
	req->jobs = kvcalloc(b->nr_jobs, sizeof(*req->jobs),
			     GFP_KERNEL_ACCOUNT);
	if (!ujobs || !req->jobs) {
		ret = -ENOMEM;
		goto out;
	}
	ret = pim_copy_in(ujobs, b->jobs, b->nr_jobs * sizeof(*ujobs));
	for (i = 0; !ret && i < b->nr_jobs; i++)
		ret = pim_prep_attn_job(req, i, &ujobs[i], &words);
	if (ret)
		goto out;
	req->q_words = words;
	req->q = kvmalloc_array(words, sizeof(u32),
				GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	req->out = kvcalloc(words, sizeof(u32),
			    GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!req->q || !req->out) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; !ret && i < b->nr_jobs; i++) {
		u32 end = i + 1 < b->nr_jobs ? req->jobs[i + 1].qoff : words;
		size_t len = (end - req->jobs[i].qoff) * sizeof(u32);

		ret = pim_copy_in(req->q + req->jobs[i].qoff, ujobs[i].q_addr,
				  len) ?: pim_check_out(ujobs[i].out_addr, len);
	}
out:
	kvfree(ujobs);
	return ret;
}

static int pim_prep_raw(struct pim_req *req)
{
	const struct pim_raw_io *r = &req->cmd.raw;
	struct pim_device *pdev = req->pf->pdev;
	u64 end;

	if (!pim_raw_allowed())
		return -EPERM;
	if (req->cmd.flags || !pim_zero(r->rsvd, sizeof(r->rsvd)) || !r->len)
		return -EINVAL;
	if (r->rank >= pdev->nr_ranks ||
	    check_add_overflow(r->offset, (u64)r->len, &end) ||
	    end > pdev->geom.rank_bytes)
		return -ERANGE;
	if (r->len > PIM_MAX_XFER)
		return -EINVAL;
	req->buf_len = r->len;
	req->buf = kvmalloc(req->buf_len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!req->buf)
		return -ENOMEM;
	if (req->cmd.opcode == PIM_OP_RAW_WRITE)
		return pim_copy_in(req->buf, r->addr, r->len);
	return pim_check_out(r->addr, r->len);
}

/* A well-formed NOP: no flags, nothing reserved, no arguments. */
bool pim_cmd_is_nop(const struct pim_cmd *c)
{
	return c->opcode == PIM_OP_NOP && !c->flags && !c->rsvd0 &&
	       !c->rsvd1 && pim_zero(c->args, sizeof(c->args));
}

int pim_req_prep(struct pim_req *req)
{
	const struct pim_cmd *c = &req->cmd;

	if (c->opcode > PIM_OP_LAST || c->rsvd0 || c->rsvd1 ||
	    c->flags & ~PIM_CMD_F_ALL)
		return -EINVAL;
	switch (c->opcode) {
	case PIM_OP_NOP:
	case PIM_OP_FENCE:
		return c->flags || !pim_zero(c->args, sizeof(c->args)) ?
		       -EINVAL : 0;
	case PIM_OP_KV_ALLOC:
		return c->flags ? -EINVAL : pim_prep_alloc(req);
	case PIM_OP_KV_FREE:
		if (c->flags || c->kv_free.rsvd0 ||
		    !pim_zero(c->kv_free.rsvd, sizeof(c->kv_free.rsvd)))
			return -EINVAL;
		req->kvo = pim_kv_get(req->pf, c->kv_free.handle);
		return req->kvo ? 0 : -ENOENT;
	case PIM_OP_KV_APPEND:
	case PIM_OP_KV_READ:
		return pim_prep_kv_io(req);
	case PIM_OP_ATTN:
		return pim_prep_attn(req);
	default:
		return pim_prep_raw(req);
	}
}
