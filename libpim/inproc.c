// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * inproc.c - the in-process device: the same device model the module runs,
 * on memory of this process, with the module's command checks and errno
 * rules (see include/uapi/linux/pim.h). Selected only on request:
 * PIM_BACKEND=inproc or pim_new_with_flags(PIM_CTX_INPROC).
 *
 * Environment: PIM_INPROC_MB (device size, default 64, like the module's
 * ram_mb). The geometry is the module's default one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "inproc.h"
#include "pim_dm.h"
#include "dm_state.h"

#define INPROC_DEFAULT_MB	64
#define INPROC_MAX_MB		65536
#define INPROC_MAX_HANDLES	65536
/*
 * Bytes one command may move each way: the module's bound (its sysfs
 * max_xfer_bytes). K and V of one KV command get half each; the q of all
 * jobs of an attention command (and so their out) the whole.
 */
#define INPROC_MAX_XFER		(16ULL << 20)
#define INPROC_MAX_QUEUES	16

struct inproc_dev {
	pthread_mutex_t lock;		/* model, handles, counters */
	struct pim_dm dm;
	void *mem;
	size_t mem_bytes;
	void *state;
	struct pim_timeline *tl;
	struct pim_kv **kvs;		/* handle h lives at kvs[h - 1] */
	unsigned int nr_slots;
	struct pim_dev_stats stats;
	struct rank_pool pool;
	unsigned int ranks;
	unsigned int max_threads;
};

static struct inproc_dev *to_inproc(struct pim_dev *dev)
{
	return dev->priv;
}

static int env_mb(struct pim_ctx *ctx, unsigned long *mb)
{
	const char *s = secure_getenv("PIM_INPROC_MB");
	char *end;

	*mb = INPROC_DEFAULT_MB;
	if (!s || !*s)
		return 0;
	errno = 0;
	*mb = strtoul(s, &end, 10);
	if (errno || *end || !*mb || *mb > INPROC_MAX_MB) {
		err(ctx, "PIM_INPROC_MB=%s: want 1..%d\n", s, INPROC_MAX_MB);
		return -EINVAL;
	}
	return 0;
}

/* The module's defaults: 2 channels x 2 DIMMs x 2 ranks, 4x4 banks. */
static void default_geometry(struct pim_geometry *g, uint64_t bytes)
{
	memset(g, 0, sizeof(*g));
	g->channels = 2;
	g->dimms_per_channel = 2;
	g->ranks_per_dimm = 2;
	g->chips_per_rank = 8;
	g->bank_groups = 4;
	g->banks_per_group = 4;
	g->row_bytes = 1024;
	g->ranksets = g->dimms_per_channel * g->ranks_per_dimm;
	g->rank_bytes = bytes / (g->channels * g->ranksets);
}

static void inproc_free(struct inproc_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_slots; i++) {
		if (!d->kvs[i])
			continue;
		pim_kv_release(&d->dm, d->kvs[i]);
		free(d->kvs[i]);
	}
	free(d->kvs);
	rank_pool_exit(&d->pool);
	if (d->mem)
		munmap(d->mem, d->mem_bytes);
	free(d->state);
	free(d->tl);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/*
 * The attention kernels' ISA is the device model's one process-wide
 * setting: AVX2 + F16C where the CPU has them. Both builds give the same
 * bits, so every context may share the choice.
 */
static void select_isa(void)
{
	pim_attn_select(pim_cpu_has_avx2());
}

static int inproc_scan(struct pim_ctx *ctx)
{
	static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
	struct inproc_dev *d;
	struct pim_dev *dev;
	const char *why = "?";
	unsigned long mb;
	long cpus;
	int ret;

	ret = env_mb(ctx, &mb);
	if (ret)
		return ret;
	pthread_once(&isa_once, select_isa);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	rank_pool_init(&d->pool);
	dev = pim_dev_alloc(ctx, 0);
	if (!dev) {
		inproc_free(d);
		return -ENOMEM;
	}
	dev->priv = d;
	default_geometry(&dev->geom, (uint64_t)mb << 20);
	ret = pim_geom_check(&dev->geom, &why);
	if (ret) {
		err(ctx, "in-process device of %lu MiB: bad geometry (%s)\n",
		    mb, why);
		goto fail;
	}
	ret = -ENOMEM;
	d->mem_bytes = pim_geom_ranks(&dev->geom) * dev->geom.rank_bytes;
	d->mem = mmap(NULL, d->mem_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		goto fail;
	}
	d->state = calloc(1, pim_dm_state_bytes(&dev->geom));
	d->tl = calloc(1, pim_timeline_bytes(&dev->geom));
	if (!d->state || !d->tl)
		goto fail;
	ret = pim_dm_init(&d->dm, &dev->geom, d->mem, d->state);
	if (ret)
		goto fail;
	d->ranks = pim_geom_ranks(&dev->geom);
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	d->max_threads = cpus > 0 ? cpus : 1;
	snprintf(dev->devnode, sizeof(dev->devnode), "inproc");
	snprintf(dev->backing, sizeof(dev->backing), "inproc");
	dev->capacity = pim_dm_capacity(&d->dm);
	dev->features = PIM_F_QUEUES | PIM_F_INFLIGHT_RELAYOUT |
			PIM_F_HOST_RELAYOUT | PIM_F_FP16 | PIM_F_BF16 |
			PIM_F_GQA | PIM_F_RAW;
	pim_dev_add(ctx, dev);
	return 0;
fail:
	dev->priv = NULL;
	pthread_mutex_destroy(&dev->lock);
	free(dev);
	inproc_free(d);
	return ret;
}

static int inproc_dev_open(struct pim_dev *dev)
{
	(void)dev;
	return 0;
}

static void inproc_dev_release(struct pim_dev *dev)
{
	if (dev->priv)
		inproc_free(dev->priv);
	dev->priv = NULL;
}

static int inproc_dev_info(struct pim_dev *dev, struct pim_info *info)
{
	struct inproc_dev *d = to_inproc(dev);

	memset(info, 0, sizeof(*info));
	info->abi_version = PIM_ABI_VERSION;
	info->dev_id = dev->id;
	info->features = dev->features;
	info->capacity = dev->capacity;
	pthread_mutex_lock(&d->lock);
	info->free = pim_dm_free(&d->dm);
	pthread_mutex_unlock(&d->lock);
	info->geom = dev->geom;
	info->max_queues = INPROC_MAX_QUEUES;
	info->max_queue_depth = 1024;
	info->max_attn_jobs = PIM_MAX_ATTN_JOBS;
	return 0;
}

static int inproc_dev_stats(struct pim_dev *dev, struct pim_dev_stats *st)
{
	struct inproc_dev *d = to_inproc(dev);

	pthread_mutex_lock(&d->lock);
	*st = d->stats;
	st->capacity = dev->capacity;
	st->free = pim_dm_free(&d->dm);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* ---- handles: smallest free integer > 0, like the module's IDR ---- */

static struct pim_kv *kv_lookup(struct inproc_dev *d, uint32_t handle)
{
	if (!handle || handle > d->nr_slots)
		return NULL;
	return d->kvs[handle - 1];
}

static int kv_insert(struct inproc_dev *d, struct pim_kv *kv)
{
	struct pim_kv **kvs;
	unsigned int i, n;

	for (i = 0; i < d->nr_slots; i++) {
		if (!d->kvs[i]) {
			d->kvs[i] = kv;
			return i + 1;
		}
	}
	if (d->nr_slots == INPROC_MAX_HANDLES)
		return -ENOSPC;
	n = d->nr_slots ? d->nr_slots * 2 : 16;
	kvs = realloc(d->kvs, n * sizeof(*kvs));
	if (!kvs)
		return -ENOMEM;
	memset(kvs + d->nr_slots, 0, (n - d->nr_slots) * sizeof(*kvs));
	d->kvs = kvs;
	d->kvs[d->nr_slots] = kv;
	d->nr_slots = n;
	return i + 1;
}

/* ---- commands ---- */

static bool any(const __u64 *v, unsigned int n)
{
	while (n--)
		if (v[n])
			return true;
	return false;
}

static int do_kv_alloc(struct pim_dev *dev, const struct pim_kv_alloc *a)
{
	struct inproc_dev *d = to_inproc(dev);
	const char *why = "?";
	struct pim_kv *kv;
	int ret;
	u32 l;

	if (a->rsvd0 || a->rsvd1 || any(a->rsvd2, 2))
		return -EINVAL;
	ret = pim_kv_check(&d->dm, a, &why);
	if (ret) {
		dbg(dev->ctx, "KV_ALLOC: %s\n", why);
		return ret;
	}
	if (a->placement &&
	    (uint64_t)a->layers * sizeof(struct pim_kv_place) > INPROC_MAX_XFER)
		return -EINVAL;
	kv = malloc(pim_kv_bytes(a));
	if (!kv)
		return -ENOMEM;
	ret = pim_kv_place(&d->dm, a, kv);
	if (ret) {
		free(kv);
		return ret;
	}
	ret = kv_insert(d, kv);
	if (ret < 0) {
		pim_kv_release(&d->dm, kv);
		free(kv);
		return ret;
	}
	if (a->placement) {
		struct pim_kv_place *p = (void *)(uintptr_t)a->placement;

		for (l = 0; l < a->layers; l++)
			pim_kv_layer_place(kv, l, &p[l]);
	}
	return ret;
}

static int do_kv_free(struct inproc_dev *d, const struct pim_kv_free *f)
{
	struct pim_kv *kv;

	if (f->rsvd0 || any(f->rsvd, 5))
		return -EINVAL;
	kv = kv_lookup(d, f->handle);
	if (!kv)
		return -ENOENT;
	d->kvs[f->handle - 1] = NULL;
	pim_kv_release(&d->dm, kv);
	free(kv);
	return 0;
}

static uint64_t kv_io_bytes(const struct pim_kv *kv, u32 count)
{
	const struct pim_kv_alloc *s = pim_kv_shape(kv);

	return 2ULL * count * s->kv_heads * s->head_dim * 2;
}

/* The module's checks, in the module's order. */
static int kv_io_check(struct inproc_dev *d, const struct pim_cmd *cmd,
		       struct pim_kv **kvp)
{
	const struct pim_kv_io *io = &cmd->kv_io;
	bool append = cmd->opcode == PIM_OP_KV_APPEND;
	const struct pim_kv_alloc *s;
	struct pim_kv *kv;

	if (any(io->rsvd, 2))
		return -EINVAL;
	if (append ? cmd->flags == PIM_CMD_F_ALL :
	    cmd->flags & ~PIM_CMD_F_HOST_RELAYOUT)
		return -EINVAL;
	if (!io->count)
		return -EINVAL;
	kv = kv_lookup(d, io->handle);
	if (!kv)
		return -ENOENT;
	s = pim_kv_shape(kv);
	if (io->layer >= s->layers)
		return -ERANGE;
	if (append && io->count > s->max_tokens)
		return -ENOSPC;
	if (!append && (uint64_t)io->start + io->count > s->max_tokens)
		return -ERANGE;
	if (kv_io_bytes(kv, io->count) / 2 > INPROC_MAX_XFER / 2)
		return -EINVAL;
	if (!io->k_addr || !io->v_addr)
		return -EFAULT;
	*kvp = kv;
	return 0;
}

static int do_kv_append(struct inproc_dev *d, const struct pim_cmd *cmd,
			uint64_t *ns)
{
	const struct pim_kv_io *io = &cmd->kv_io;
	struct pim_kv *kv;
	int ret;

	ret = kv_io_check(d, cmd, &kv);
	if (ret)
		return ret;
	if (io->start != pim_kv_len(kv, io->layer))
		return -ERANGE;
	ret = pim_kv_append(&d->dm, kv, io->layer, io->count,
			    (const void *)(uintptr_t)io->k_addr,
			    (const void *)(uintptr_t)io->v_addr, cmd->flags);
	if (ret)
		return ret;
	pim_tl_reset(d->tl, &d->dm);
	pim_tl_append(d->tl, kv, io->layer, io->count, cmd->flags);
	*ns = pim_tl_end_ns(d->tl);
	d->stats.bytes_in += kv_io_bytes(kv, io->count);
	return 0;
}

static int do_kv_read(struct inproc_dev *d, const struct pim_cmd *cmd,
		      uint64_t *ns)
{
	const struct pim_kv_io *io = &cmd->kv_io;
	struct pim_kv *kv;
	int ret;

	ret = kv_io_check(d, cmd, &kv);
	if (ret)
		return ret;
	if (io->start > pim_kv_len(kv, io->layer) ||
	    io->count > pim_kv_len(kv, io->layer) - io->start)
		return -ERANGE;
	ret = pim_kv_read(&d->dm, kv, io->layer, io->start, io->count,
			  (void *)(uintptr_t)io->k_addr,
			  (void *)(uintptr_t)io->v_addr);
	if (ret)
		return ret;
	pim_tl_reset(d->tl, &d->dm);
	pim_tl_read(d->tl, kv, io->layer, io->count);
	*ns = pim_tl_end_ns(d->tl);
	d->stats.bytes_out += kv_io_bytes(kv, io->count);
	return 0;
}

static int do_raw(struct inproc_dev *d, const struct pim_cmd *cmd,
		  uint64_t *ns)
{
	const struct pim_raw_io *r = &cmd->raw;
	bool write = cmd->opcode == PIM_OP_RAW_WRITE;
	int ret;

	if (cmd->flags || any(r->rsvd, 3) || !r->len)
		return -EINVAL;
	if (r->rank >= d->ranks || r->offset > d->dm.g.rank_bytes ||
	    r->len > d->dm.g.rank_bytes - r->offset)
		return -ERANGE;
	if (r->len > INPROC_MAX_XFER)
		return -EINVAL;
	if (!r->addr)
		return -EFAULT;
	if (write)
		ret = pim_raw_write(&d->dm, r->rank, r->offset,
				    (const void *)(uintptr_t)r->addr, r->len);
	else
		ret = pim_raw_read(&d->dm, r->rank, r->offset,
				   (void *)(uintptr_t)r->addr, r->len);
	if (ret)
		return ret;
	pim_tl_reset(d->tl, &d->dm);
	pim_tl_raw(d->tl, r->rank, r->len, write);
	*ns = pim_tl_end_ns(d->tl);
	if (write)
		d->stats.bytes_in += r->len;
	else
		d->stats.bytes_out += r->len;
	return 0;
}

/* Units sit back to back in one arena, each cache-line aligned. */
#define UNIT_ALIGN	64

static size_t unit_bytes(const struct pim_kv *kv)
{
	return (pim_attn_unit_bytes(kv) + UNIT_ALIGN - 1) & ~(UNIT_ALIGN - 1);
}

/*
 * Attention: validate every job and copy every q first, so a bad job
 * fails the command before anything runs or any out is written.
 */
static int do_attn(struct inproc_dev *d, const struct pim_cmd *cmd,
		   uint64_t *ns)
{
	const struct pim_attn_batch *ab = &cmd->attn;
	const struct pim_attn_job *ujobs = (const void *)(uintptr_t)ab->jobs;
	struct pim_attn_job *jobs = NULL;
	struct pim_kv **kvs = NULL;
	uint32_t *qbuf = NULL, *qp;
	char *arena = NULL, *ap;
	struct attn_run run = { 0 };
	size_t qfloats = 0, arena_bytes = 0;
	unsigned int nunits = 0, ranks, i, g, r, n;
	int ret;

	if (cmd->flags || ab->rsvd0 || any(ab->rsvd, 4))
		return -EINVAL;
	if (!ab->nr_jobs || ab->nr_jobs > PIM_MAX_ATTN_JOBS)
		return -EINVAL;
	if (!ujobs)
		return -EFAULT;
	ret = -ENOMEM;
	jobs = malloc(ab->nr_jobs * sizeof(*jobs));
	kvs = malloc(ab->nr_jobs * sizeof(*kvs));
	if (!jobs || !kvs)
		goto out;
	memcpy(jobs, ujobs, ab->nr_jobs * sizeof(*jobs));
	for (i = 0; i < ab->nr_jobs; i++) {
		const struct pim_attn_job *j = &jobs[i];
		const struct pim_kv_alloc *s;

		ret = -ENOENT;
		kvs[i] = kv_lookup(d, j->handle);
		if (!kvs[i])
			goto out;
		s = pim_kv_shape(kvs[i]);
		ret = -ERANGE;
		if (j->layer >= s->layers)
			goto out;
		ret = -EINVAL;
		if (!j->ctx_len)
			goto out;
		ret = -ERANGE;
		if (j->ctx_len > pim_kv_len(kvs[i], j->layer))
			goto out;
		ret = -EFAULT;
		if (!j->q_addr || !j->out_addr)
			goto out;
		qfloats += (size_t)s->q_heads * s->head_dim;
		ret = -EINVAL;
		if (qfloats * sizeof(*qbuf) > INPROC_MAX_XFER)
			goto out;
		nunits += pim_kv_groups(kvs[i]);
		arena_bytes += pim_kv_groups(kvs[i]) * unit_bytes(kvs[i]);
	}
	ret = -ENOMEM;
	qbuf = malloc(qfloats * sizeof(*qbuf));
	arena = aligned_alloc(UNIT_ALIGN, arena_bytes);
	run.units = malloc(nunits * sizeof(*run.units));
	run.outs = malloc(nunits * sizeof(*run.outs));
	ranks = d->ranks;
	run.bucket = calloc(ranks + 1, sizeof(*run.bucket));
	if (!qbuf || !arena || !run.units || !run.outs || !run.bucket)
		goto out;

	/* Count units per rank, then place each unit in its rank's bucket. */
	for (i = 0; i < ab->nr_jobs; i++)
		for (g = 0; g < pim_kv_groups(kvs[i]); g++)
			run.bucket[pim_kv_group_rank(kvs[i], jobs[i].layer,
						     g) + 1]++;
	for (r = 0; r < ranks; r++)
		run.bucket[r + 1] += run.bucket[r];
	qp = qbuf;
	ap = arena;
	for (i = 0; i < ab->nr_jobs; i++) {
		const struct pim_kv_alloc *s = pim_kv_shape(kvs[i]);
		size_t nq = (size_t)s->q_heads * s->head_dim;

		memcpy(qp, (const void *)(uintptr_t)jobs[i].q_addr,
		       nq * sizeof(*qp));
		for (g = 0; g < pim_kv_groups(kvs[i]); g++) {
			struct pim_attn_unit *u = (void *)ap;

			r = pim_kv_group_rank(kvs[i], jobs[i].layer, g);
			ret = pim_attn_unit_init(u, &d->dm, kvs[i],
						 jobs[i].layer, g,
						 jobs[i].ctx_len,
						 jobs[i].scale, qp);
			if (ret)
				goto out;
			n = run.bucket[r]++;
			run.units[n] = u;
			run.outs[n] = (void *)(uintptr_t)jobs[i].out_addr;
			ap += unit_bytes(kvs[i]);
		}
		qp += nq;
	}
	/* Filling advanced each bucket's start to the next one's: undo. */
	for (r = ranks; r > 0; r--)
		run.bucket[r] = run.bucket[r - 1];
	run.bucket[0] = 0;
	run.nbuckets = ranks;
	rank_pool_run(&d->pool, &run, d->max_threads);

	pim_tl_reset(d->tl, &d->dm);
	for (i = 0; i < ab->nr_jobs; i++)
		pim_tl_attn(d->tl, kvs[i], jobs[i].layer, jobs[i].ctx_len);
	*ns = pim_tl_end_ns(d->tl);
	d->stats.bytes_in += qfloats * sizeof(*qbuf);
	d->stats.bytes_out += qfloats * sizeof(*qbuf);
	ret = 0;
out:
	free(run.bucket);
	free(run.outs);
	free(run.units);
	free(arena);
	free(qbuf);
	free(kvs);
	free(jobs);
	return ret;
}

int pim_inproc_exec(struct pim_dev *dev, const struct pim_cmd *cmd,
		    struct pim_cqe *cqe)
{
	struct inproc_dev *d = to_inproc(dev);
	uint64_t ns = 0;
	int ret;

	memset(cqe, 0, sizeof(*cqe));
	cqe->user_data = cmd->user_data;
	if (cmd->rsvd0 || cmd->rsvd1 || cmd->opcode > PIM_OP_LAST ||
	    (cmd->flags & ~PIM_CMD_F_ALL)) {
		cqe->res = -EINVAL;
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	switch (cmd->opcode) {
	case PIM_OP_NOP:
	case PIM_OP_FENCE:
		/* Commands run one at a time: a fence waits for nothing. */
		ret = cmd->flags || any(cmd->args, 6) ? -EINVAL : 0;
		break;
	case PIM_OP_KV_ALLOC:
		ret = cmd->flags ? -EINVAL : do_kv_alloc(dev, &cmd->kv_alloc);
		break;
	case PIM_OP_KV_FREE:
		ret = cmd->flags ? -EINVAL : do_kv_free(d, &cmd->kv_free);
		break;
	case PIM_OP_KV_APPEND:
		ret = do_kv_append(d, cmd, &ns);
		break;
	case PIM_OP_KV_READ:
		ret = do_kv_read(d, cmd, &ns);
		break;
	case PIM_OP_ATTN:
		ret = do_attn(d, cmd, &ns);
		break;
	default:
		ret = do_raw(d, cmd, &ns);
		break;
	}
	d->stats.commands++;
	d->stats.device_ns += ns;
	pthread_mutex_unlock(&d->lock);
	cqe->res = ret;
	cqe->device_ns = ret < 0 ? 0 : ns;
	return ret;
}

static int inproc_dev_cmd(struct pim_dev *dev, struct pim_cmd *cmd,
			  struct pim_cqe *cqe)
{
	return pim_inproc_exec(dev, cmd, cqe);
}

const struct pim_backend pim_inproc_backend = {
	.type		= PIM_BACKEND_INPROC,
	.name		= "inproc",
	.scan		= inproc_scan,
	.dev_open	= inproc_dev_open,
	.dev_release	= inproc_dev_release,
	.dev_cmd	= inproc_dev_cmd,
	.dev_info	= inproc_dev_info,
	.dev_stats	= inproc_dev_stats,
	.queue_ops	= &pim_inproc_queue_ops,
};
