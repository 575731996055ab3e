// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_attn.c - decode attention through libpim: results against a
 * double-precision reference, synchronous and queued runs bit-identical,
 * the kernel and the in-process device bit-identical, and the errors of
 * bad batches (which must leave every output untouched).
 */
#include <errno.h>
#include <stdio.h>

#include "helpers.h"

#define TOL		2e-3
#define CTX		48
#define SENTINEL	12345.0f

struct setup {
	struct pim_kv_shape s;
	const char *name;
};

static const struct setup setups[] = {
	{ { 2, 4, 4, 64, PIM_DTYPE_FP16, 64 }, "FP16 MHA 4x64" },
	{ { 2, 8, 2, 128, PIM_DTYPE_BF16, 64 }, "BF16 GQA 8/2x128" },
	{ { 2, 16, 1, 32, PIM_DTYPE_FP16, 64 }, "FP16 GQA 16/1x32" },
};

#define NSETUPS		(sizeof(setups) / sizeof(setups[0]))

struct data {
	uint16_t *k, *v;
	float *q;
	size_t tb, nq;
};

static void data_init(struct data *d, const struct pim_kv_shape *s,
		      uint64_t seed)
{
	size_t i;

	d->tb = (size_t)s->kv_heads * s->head_dim * 2;
	d->nq = (size_t)s->q_heads * s->head_dim;
	d->k = malloc(CTX * d->tb);
	d->v = malloc(CTX * d->tb);
	d->q = malloc(2 * d->nq * sizeof(float));
	fill_elems(d->k, CTX * d->tb / 2, s->dtype, &seed);
	fill_elems(d->v, CTX * d->tb / 2, s->dtype, &seed);
	for (i = 0; i < 2 * d->nq; i++)
		d->q[i] = prng_uniform(&seed);
}

static void data_free(struct data *d)
{
	free(d->k);
	free(d->v);
	free(d->q);
}

static int add_jobs(struct pim_batch *b, struct pim_kvcache *kv,
		    const struct data *d, float *out)
{
	int ret;

	ret = pim_batch_add(b, kv, 0, 0, 0.0f, d->q, out, d->nq);
	return ret ?: pim_batch_add(b, kv, 1, 29, 0.05f, d->q + d->nq,
				    out + d->nq, d->nq);
}

/*
 * Fill both layers and run two jobs (layer 0 over all CTX tokens with the
 * default scale, layer 1 over 29 of them with scale 0.05) synchronously
 * and through a queue. out holds 2 x 2 x nq floats: sync, then queued.
 */
static int run_setup(struct pim_dev *dev, const struct setup *su,
		     const struct data *d, float *out, uint64_t *ns)
{
	struct pim_batch *b = NULL, *bq = NULL;
	struct pim_completion c;
	struct pim_kvcache *kv;
	struct pim_queue *q;
	unsigned int l;
	int ret;

	ret = pim_kvcache_new(dev, &su->s, NULL, &kv);
	if (ret)
		return ret;
	for (l = 0; l < 2 && !ret; l++)
		ret = pim_kvcache_append(kv, l, CTX, d->k, d->v, CTX * d->tb,
					 0, NULL);
	ret = ret ?: pim_batch_new(dev, 2, &b);
	ret = ret ?: pim_batch_new(dev, 2, &bq);
	ret = ret ?: add_jobs(b, kv, d, out);
	ret = ret ?: add_jobs(bq, kv, d, out + 2 * d->nq);
	ret = ret ?: pim_batch_run(b, ns);
	ret = ret ?: pim_queue_new(dev, 4, &q);
	if (ret)
		goto out;
	ret = pim_queue_attn(q, bq, out);
	if (!ret && pim_queue_submit(q) != 1)
		ret = -EIO;
	if (!ret && pim_queue_reap(q, &c, 1, PIM_QUEUE_WAIT) != 1)
		ret = -EIO;
	if (!ret)
		ret = c.user == out && c.device_ns == *ns ? c.res : -EIO;
	pim_queue_free(q);
out:
	pim_batch_free(bq);
	pim_batch_free(b);
	pim_kvcache_free(kv);
	return ret;
}

static void check_setup(struct pim_dev *dev, struct pim_dev *ref_dev,
			const struct setup *su)
{
	const struct pim_kv_shape *s = &su->s;
	struct data d;
	double *ref;
	float *out, *ref_out;
	uint64_t ns = 0, ref_ns = 0;
	int ret;

	data_init(&d, s, 7 + s->head_dim);
	out = malloc(4 * d.nq * sizeof(float));
	ref_out = malloc(4 * d.nq * sizeof(float));
	ref = malloc(2 * d.nq * sizeof(double));
	ret = run_setup(dev, su, &d, out, &ns);
	if (!tap_ok(ret == 0 && ns > 0, "%s: sync and queued runs: %d, %llu ns",
		    su->name, ret, (unsigned long long)ns)) {
		tap_skip("%s: no results to check", su->name);
		tap_skip("%s: no results to check", su->name);
		tap_skip("%s: no results to check", su->name);
		goto out;
	}
	test_ref_attn(s, d.k, d.v, CTX, d.q, 1.0 / sqrt(s->head_dim), ref);
	test_ref_attn(s, d.k, d.v, 29, d.q + d.nq, 0.05f, ref + d.nq);
	tap_ok(ref_rel_err(out, ref, 2 * d.nq) <= TOL,
	       "%s: matches the double reference (rel. error %.2e)",
	       su->name, ref_rel_err(out, ref, 2 * d.nq));
	tap_ok(!memcmp(out, out + 2 * d.nq, 2 * d.nq * sizeof(float)),
	       "%s: queued run is bit-identical to the sync run", su->name);
	if (!ref_dev) {
		tap_skip("%s: the in-process device is the one under test",
			 su->name);
		goto out;
	}
	ret = run_setup(ref_dev, su, &d, ref_out, &ref_ns);
	tap_ok(ret == 0 && !memcmp(out, ref_out, 2 * d.nq * sizeof(float)),
	       "%s: kernel and in-process results bit-identical: %d",
	       su->name, ret);
out:
	free(ref);
	free(ref_out);
	free(out);
	data_free(&d);
}

/* Bad batches fail as a whole and write nothing. */
static void check_errors(struct pim_dev *dev)
{
	const struct pim_kv_shape *s = &setups[0].s;
	struct pim_kvcache *kv, *gone;
	struct pim_batch *b, *full;
	struct data d;
	float *out;
	size_t i;
	int ret, untouched;

	data_init(&d, s, 99);
	out = malloc(2 * d.nq * sizeof(float));
	for (i = 0; i < 2 * d.nq; i++)
		out[i] = SENTINEL;
	ret = pim_kvcache_new(dev, s, NULL, &kv);
	ret = ret ?: pim_kvcache_new(dev, s, NULL, &gone);
	ret = ret ?: pim_kvcache_append(kv, 0, CTX, d.k, d.v, CTX * d.tb, 0,
					NULL);
	ret = ret ?: pim_kvcache_append(gone, 0, 4, d.k, d.v, CTX * d.tb, 0,
					NULL);
	ret = ret ?: pim_batch_new(dev, 2, &b);
	if (!tap_ok(ret == 0, "error setup: %d", ret))
		return;

	tap_ok(pim_batch_run(b, NULL) == -EINVAL, "empty batch: -EINVAL");
	pim_batch_add(b, kv, 0, 0, 0.0f, d.q, out, d.nq);
	pim_batch_add(b, kv, 0, CTX + 1, 0.0f, d.q, out + d.nq, d.nq);
	ret = pim_batch_run(b, NULL);
	for (i = 0, untouched = 1; i < 2 * d.nq; i++)
		untouched &= out[i] == SENTINEL;
	tap_ok(ret == -ERANGE && untouched,
	       "ctx_len past the end fails the batch, writes nothing: %d",
	       ret);
	pim_batch_reset(b);
	pim_batch_add(b, kv, 0, 0, 0.0f, d.q, out, d.nq);
	pim_batch_add(b, gone, 0, 0, 0.0f, d.q, out + d.nq, d.nq);
	pim_kvcache_free(gone);
	ret = pim_batch_run(b, NULL);
	for (i = 0, untouched = 1; i < 2 * d.nq; i++)
		untouched &= out[i] == SENTINEL;
	tap_ok(ret == -ENOENT && untouched,
	       "a freed cache fails the batch, writes nothing: %d", ret);
	tap_ok(pim_batch_add(b, kv, 0, 0, 0.0f, d.q, out, d.nq) == -ENOSPC,
	       "batch full: -ENOSPC");
	pim_batch_reset(b);
	tap_ok(pim_batch_add(b, kv, 0, 0, 0.0f, d.q, out, d.nq - 1) ==
	       -ENOBUFS, "q/out too small: -ENOBUFS");
	tap_ok(pim_batch_add(b, kv, 2, 0, 0.0f, d.q, out, d.nq) == -ERANGE,
	       "layer out of range: -ERANGE");
	tap_ok(pim_batch_new(dev, 0, &full) == -EINVAL &&
	       pim_batch_new(dev, PIM_MAX_ATTN_JOBS + 1, &full) == -EINVAL,
	       "batch sizes 0 and PIM_MAX_ATTN_JOBS + 1: -EINVAL");

	/* Bytes striped as the host bus does: the bank PUs see garbage. */
	ret = pim_kvcache_append(kv, 1, CTX, d.k, d.v, CTX * d.tb,
				 PIM_CMD_F_NO_RELAYOUT, NULL);
	pim_batch_reset(b);
	pim_batch_add(b, kv, 1, 0, 0.0f, d.q, out, d.nq);
	ret = ret ?: pim_batch_run(b, NULL);
	{
		double *ref = malloc(d.nq * sizeof(double));

		test_ref_attn(s, d.k, d.v, CTX, d.q, 1.0 / sqrt(s->head_dim), ref);
		tap_ok(ret == 0 && ref_rel_err(out, ref, d.nq) > TOL,
		       "NO_RELAYOUT KV gives wrong attention (rel. error %.2e)",
		       ref_rel_err(out, ref, d.nq));
		free(ref);
	}
	pim_batch_free(b);
	pim_kvcache_free(kv);
	free(out);
	data_free(&d);
}

int main(void)
{
	struct pim_ctx *ctx, *ref_ctx = NULL;
	struct pim_dev *dev, *ref_dev = NULL;
	unsigned int i;

	if (test_ctx_new(&ctx))
		return 1;
	dev = test_dev(ctx);
	if (!dev)
		return pim_unref(ctx) != NULL;
	tap_plan(4 * NSETUPS + 9);
	/* Under the kernel backend, the in-process device is the reference. */
	if (pim_get_backend(ctx) == PIM_BACKEND_KERNEL &&
	    !pim_new_with_flags(&ref_ctx, PIM_CTX_INPROC))
		ref_dev = pim_dev_get_first(ref_ctx);
	for (i = 0; i < NSETUPS; i++)
		check_setup(dev, ref_dev, &setups[i]);
	check_errors(dev);
	pim_unref(ref_ctx);
	pim_unref(ctx);
	return tap_done();
}
