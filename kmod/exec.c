// SPDX-License-Identifier: GPL-2.0
/*
 * exec.c - running commands on the emulated ranks.
 *
 * Every rank has a lane: a work item on the device's unbound workqueue that
 * drains that rank's task list in order. A work item never runs twice at
 * once, so a rank does one thing at a time while different ranks run in
 * parallel, as on the hardware. Attention is the only floating-point work;
 * it runs in kernel_fpu_begin/end sections of at most PIM_FPU_TOKENS tokens,
 * with a resched point between sections and nothing that sleeps inside one.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>

#include "pim_drv.h"

void pim_exec_select_isa(void)
{
	bool avx2 = boot_cpu_has(X86_FEATURE_AVX2) &&
		    boot_cpu_has(X86_FEATURE_F16C) &&
		    cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM,
				      NULL);

	pim_attn_select(avx2);
	pr_info("attention kernels: %s\n", avx2 ? "AVX2+F16C" : "SSE2");
}

/* The lane's unit buffer, grown outside any FPU section. */
static void *pim_lane_scratch(struct pim_lane *lane, size_t len)
{
	if (lane->scratch_len < len) {
		kvfree(lane->scratch);
		lane->scratch = kvmalloc(len, GFP_KERNEL | __GFP_NOWARN);
		lane->scratch_len = lane->scratch ? len : 0;
	}
	return lane->scratch;
}

/* Run one (job, head group) unit of attention on this lane's rank. */
static int pim_attn_unit_run(struct pim_lane *lane, struct pim_req *req,
			     const struct pim_attn_kjob *j, u32 group)
{
	const struct pim_kv *kv = j->kvo->kv;
	struct pim_attn_unit *u;
	bool done;
	int ret;

	u = pim_lane_scratch(lane, pim_attn_unit_bytes(kv));
	if (!u)
		return -ENOMEM;
	ret = pim_attn_unit_init(u, lane->pdev->dm, kv, j->layer, group,
				 j->ctx_len, j->scale, req->q + j->qoff);
	if (ret)
		return ret;
	do {
		if (pim_req_cancelled(req))
			return -ECANCELED;
		kernel_fpu_begin();
		done = pim_attn_unit_step_fpu(u, PIM_FPU_TOKENS);
		kernel_fpu_end();
		cond_resched();
	} while (!done);
	kernel_fpu_begin();
	pim_attn_unit_finish_fpu(u, req->out + j->qoff);
	kernel_fpu_end();
	return 0;
}

static int pim_task_attn(struct pim_lane *lane, struct pim_req *req)
{
	u32 i, g;
	int ret;

	for (i = 0; i < req->cmd.attn.nr_jobs; i++) {
		const struct pim_attn_kjob *j = &req->jobs[i];
		u32 groups = pim_kv_groups(j->kvo->kv);

		for (g = 0; g < groups; g++) {
			if (pim_kv_group_rank(j->kvo->kv, j->layer, g) !=
			    lane->rank)
				continue;
			ret = pim_attn_unit_run(lane, req, j, g);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int pim_task_append(struct pim_device *pdev, struct pim_req *req)
{
	const struct pim_kv_io *io = &req->cmd.kv_io;
	struct pim_kvobj *kvo = req->kvo;
	size_t half = req->buf_len / 2;
	int ret;

	mutex_lock(&kvo->io_lock);
	if (kvo->dead) {
		ret = -ENOENT;
	} else if (io->start != pim_kv_len(kvo->kv, io->layer)) {
		ret = -ERANGE;
	} else if ((u64)io->start + io->count >
		   pim_kv_shape(kvo->kv)->max_tokens) {
		ret = -ENOSPC;
	} else {
		ret = pim_kv_append(pdev->dm, kvo->kv, io->layer, io->count,
				    req->buf, req->buf + half, req->cmd.flags);
	}
	mutex_unlock(&kvo->io_lock);
	if (ret)
		return ret;
	pim_tl_reset(req->tl, pdev->dm);
	pim_tl_append(req->tl, kvo->kv, io->layer, io->count, req->cmd.flags);
	this_cpu_add(pdev->stats->bytes_in, req->buf_len);
	return 0;
}

static int pim_task_read(struct pim_device *pdev, struct pim_req *req)
{
	const struct pim_kv_io *io = &req->cmd.kv_io;
	struct pim_kvobj *kvo = req->kvo;
	size_t half = req->buf_len / 2;
	int ret;

	mutex_lock(&kvo->io_lock);
	if (kvo->dead)
		ret = -ENOENT;
	else if ((u64)io->start + io->count > pim_kv_len(kvo->kv, io->layer))
		ret = -ERANGE;
	else
		ret = pim_kv_read(pdev->dm, kvo->kv, io->layer, io->start,
				  io->count, req->buf, req->buf + half);
	mutex_unlock(&kvo->io_lock);
	if (ret)
		return ret;
	pim_tl_reset(req->tl, pdev->dm);
	pim_tl_read(req->tl, kvo->kv, io->layer, io->count);
	this_cpu_add(pdev->stats->bytes_out, req->buf_len);
	return 0;
}

static int pim_task_raw(struct pim_device *pdev, struct pim_req *req)
{
	const struct pim_raw_io *r = &req->cmd.raw;
	bool write = req->cmd.opcode == PIM_OP_RAW_WRITE;
	int ret;

	if (write)
		ret = pim_raw_write(pdev->dm, r->rank, r->offset, req->buf,
				    r->len);
	else
		ret = pim_raw_read(pdev->dm, r->rank, r->offset, req->buf,
				   r->len);
	if (ret)
		return ret;
	pim_tl_reset(req->tl, pdev->dm);
	pim_tl_raw(req->tl, r->rank, r->len, write);
	if (write)
		this_cpu_add(pdev->stats->bytes_in, r->len);
	else
		this_cpu_add(pdev->stats->bytes_out, r->len);
	return 0;
}

static int pim_task_run(struct pim_lane *lane, struct pim_task *t)
{
	struct pim_req *req = t->req;

	switch (req->cmd.opcode) {
	case PIM_OP_KV_APPEND:
		return pim_task_append(lane->pdev, req);
	case PIM_OP_KV_READ:
		return pim_task_read(lane->pdev, req);
	case PIM_OP_ATTN:
		return pim_task_attn(lane, req);
	default:
		return pim_task_raw(lane->pdev, req);
	}
}

static void pim_lane_work(struct work_struct *work)
{
	struct pim_lane *lane = container_of(work, struct pim_lane, work);
	struct pim_task *t;

	for (;;) {
		spin_lock(&lane->lock);
		t = list_first_entry_or_null(&lane->tasks, struct pim_task,
					     node);
		if (t)
			list_del(&t->node);
		spin_unlock(&lane->lock);
		if (!t)
			break;
		pim_req_task_done(t->req, pim_task_run(lane, t));
		cond_resched();
	}
}

static void pim_lane_queue(struct pim_req *req, u32 idx, u32 rank)
{
	struct pim_device *pdev = req->pf->pdev;
	struct pim_lane *lane = &pdev->lanes[rank];
	struct pim_task *t = &req->tasks[idx];

	t->req = req;
	t->rank = rank;
	atomic_inc(&req->pending);
	spin_lock(&lane->lock);
	list_add_tail(&t->node, &lane->tasks);
	spin_unlock(&lane->lock);
	queue_work(pdev->wq, &lane->work);
}

/*
 * Check every job against the caches as they are now (earlier commands of
 * an ordered stream have run), charge the timeline, and hand each rank
 * that holds a head group its task. Nothing runs unless every job is good.
 */
static int pim_start_attn(struct pim_req *req)
{
	struct pim_device *pdev = req->pf->pdev;
	u64 ranks = 0;
	u32 i, g, r, n = 0;

	for (i = 0; i < req->cmd.attn.nr_jobs; i++) {
		const struct pim_attn_kjob *j = &req->jobs[i];

		if (READ_ONCE(j->kvo->dead))
			return -ENOENT;
		if (j->ctx_len > pim_kv_len(j->kvo->kv, j->layer))
			return -ERANGE;
	}
	pim_tl_reset(req->tl, pdev->dm);
	for (i = 0; i < req->cmd.attn.nr_jobs; i++) {
		const struct pim_attn_kjob *j = &req->jobs[i];
		u32 groups = pim_kv_groups(j->kvo->kv);

		pim_tl_attn(req->tl, j->kvo->kv, j->layer, j->ctx_len);
		for (g = 0; g < groups; g++)
			ranks |= BIT_ULL(pim_kv_group_rank(j->kvo->kv,
							   j->layer, g));
	}
	for_each_set_bit(r, (unsigned long *)&ranks, pdev->nr_ranks)
		pim_lane_queue(req, n++, r);
	return 0;
}

static int pim_start_alloc(struct pim_req *req)
{
	struct pim_device *pdev = req->pf->pdev;
	const struct pim_kv_alloc *a = &req->cmd.kv_alloc;
	struct pim_kvobj *kvo = req->kvo;
	struct pim_kv_place *place = req->buf;
	int ret;
	u32 l;

	mutex_lock(&pdev->dm_lock);
	ret = pim_kv_place(pdev->dm, a, kvo->kv);
	mutex_unlock(&pdev->dm_lock);
	if (ret)
		return ret;
	kvo->placed = true;
	for (l = 0; place && l < a->layers; l++)
		pim_kv_layer_place(kvo->kv, l, &place[l]);
	return pim_kv_publish(req->pf, kvo);
}

/*
 * Start a request: commands without rank work finish here, the others are
 * queued on their lanes. Returns the result of a command that finished or
 * failed to start.
 */
int pim_exec_start(struct pim_req *req)
{
	const struct pim_cmd *c = &req->cmd;

	switch (c->opcode) {
	case PIM_OP_NOP:
	case PIM_OP_FENCE:
		return 0;
	case PIM_OP_KV_ALLOC:
		return pim_start_alloc(req);
	case PIM_OP_KV_FREE:
		return pim_kv_unpublish(req->pf, req->kvo);
	case PIM_OP_KV_APPEND:
	case PIM_OP_KV_READ:
		pim_lane_queue(req, 0, pim_kv_group_rank(req->kvo->kv,
							 c->kv_io.layer, 0));
		return 0;
	case PIM_OP_ATTN:
		return pim_start_attn(req);
	default:
		pim_lane_queue(req, 0, c->raw.rank);
		return 0;
	}
}

int pim_lanes_init(struct pim_device *pdev)
{
	u32 r;

	pdev->lanes = kcalloc(pdev->nr_ranks, sizeof(*pdev->lanes),
			      GFP_KERNEL);
	if (!pdev->lanes)
		return -ENOMEM;
	pdev->wq = alloc_workqueue("pim%d", WQ_UNBOUND, 0, pdev->id);
	if (!pdev->wq) {
		kfree(pdev->lanes);
		return -ENOMEM;
	}
	for (r = 0; r < pdev->nr_ranks; r++) {
		struct pim_lane *lane = &pdev->lanes[r];

		lane->pdev = pdev;
		lane->rank = r;
		spin_lock_init(&lane->lock);
		INIT_LIST_HEAD(&lane->tasks);
		INIT_WORK(&lane->work, pim_lane_work);
	}
	return 0;
}

/* Every file is closed, so every lane is idle. */
void pim_lanes_destroy(struct pim_device *pdev)
{
	u32 r;

	destroy_workqueue(pdev->wq);
	for (r = 0; r < pdev->nr_ranks; r++)
		kvfree(pdev->lanes[r].scratch);
	kfree(pdev->lanes);
}
