// SPDX-License-Identifier: GPL-2.0
/*
 * test_attn.c - batched decode attention on /dev/pimN: results against a
 * double-precision reference, bit-identity with the userspace device model
 * (libpimdm) run on the same input, modeled time, job validation, and
 * attention over data appended without re-layout (must come out wrong).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pim/half.h>

#include "pim_dm.h"
#include "dm_state.h"
#include "pimt.h"
#include "../tap.h"

/* Tokens per step of the userspace model, as the module's FPU sections. */
#define DM_STEP_TOKENS	256

static uint64_t seed = 0x2545f4914f6cdd1dULL;

/* One KV cache held both by the device and by the userspace model. */
struct twin {
	struct pim_kv_alloc s;
	int h;
	uint16_t **k, **v;	/* per layer: tokens x kv_heads x head_dim */
	uint32_t *len;
	struct pim_dm dm;
	void *dm_state, *dm_mem;
	struct pim_kv *kv;
};

static const uint32_t chunks[] = { 1, 2, 61, 100, 199 };

static int twin_init(struct pimt_dev *d, struct twin *t,
		     const struct pim_kv_alloc *s)
{
	const struct pim_geometry *g = &d->info.geom;
	size_t ranks = pim_geom_ranks(g);
	uint32_t l;
	int ret;

	memset(t, 0, sizeof(*t));
	t->s = *s;
	t->h = pimt_kv_alloc(d->fd, s);
	if (t->h <= 0)
		return t->h;
	t->k = calloc(s->layers, sizeof(*t->k));
	t->v = calloc(s->layers, sizeof(*t->v));
	t->len = calloc(s->layers, sizeof(*t->len));
	for (l = 0; l < s->layers; l++) {
		t->k[l] = malloc(pimt_kv_bytes(s, s->max_tokens));
		t->v[l] = malloc(pimt_kv_bytes(s, s->max_tokens));
	}
	t->dm_state = calloc(1, pim_dm_state_bytes(g));
	t->dm_mem = calloc(ranks, g->rank_bytes);
	t->kv = calloc(1, pim_kv_bytes(s));
	ret = pim_dm_init(&t->dm, g, t->dm_mem, t->dm_state);
	if (!ret)
		ret = pim_kv_place(&t->dm, s, t->kv);
	return ret ? ret : t->h;
}

static void twin_fini(struct pimt_dev *d, struct twin *t)
{
	uint32_t l;

	if (t->h > 0)
		pimt_kv_free(d->fd, t->h);
	for (l = 0; t->k && l < t->s.layers; l++) {
		free(t->k[l]);
		free(t->v[l]);
	}
	free(t->k);
	free(t->v);
	free(t->len);
	free(t->dm_state);
	free(t->dm_mem);
	free(t->kv);
}

/* Append ntok random tokens to a layer, in uneven chunks, on both sides. */
static int twin_append(struct pimt_dev *d, struct twin *t, uint32_t l,
		       uint32_t ntok, uint8_t flags)
{
	size_t elems = pimt_kv_bytes(&t->s, 1) / 2;
	uint32_t at = t->len[l], end = at + ntok, c = 0, n;
	int ret;

	pimt_fill_kv(&seed, t->s.dtype, t->k[l] + at * elems, ntok * elems);
	pimt_fill_kv(&seed, t->s.dtype, t->v[l] + at * elems, ntok * elems);
	while (at < end) {
		n = chunks[c++ % (sizeof(chunks) / sizeof(chunks[0]))];
		if (n > end - at)
			n = end - at;
		ret = pimt_kv_append(d->fd, t->h, l, at, n,
				     t->k[l] + at * elems,
				     t->v[l] + at * elems, flags);
		if (ret)
			return ret;
		ret = pim_kv_append(&t->dm, t->kv, l, n, t->k[l] + at * elems,
				    t->v[l] + at * elems, flags);
		if (ret)
			return ret;
		at += n;
	}
	t->len[l] = end;
	return 0;
}

/* The userspace model's answer for one job. */
static void dm_attn(struct twin *t, const struct pim_attn_job *j, float *out)
{
	struct pim_attn_unit *u = malloc(pim_attn_unit_bytes(t->kv));
	uint32_t g;

	for (g = 0; g < pim_kv_groups(t->kv); g++) {
		if (pim_attn_unit_init(u, &t->dm, t->kv, j->layer, g,
				       j->ctx_len, j->scale,
				       (const u32 *)(uintptr_t)j->q_addr)) {
			memset(out, 0xff, sizeof(float) * t->s.q_heads *
			       t->s.head_dim);
			break;
		}
		while (!pim_attn_unit_step_fpu(u, DM_STEP_TOKENS))
			;
		pim_attn_unit_finish_fpu(u, (u32 *)out);
	}
	free(u);
}

struct jobset {
	uint32_t nr;
	struct pim_attn_job *jobs;
	float *q, *out;
};

/* Jobs over every layer at context lengths 1, 2, 37 and the full length. */
static void jobs_make(struct twin *t, struct jobset *js)
{
	static const uint32_t ctx[] = { 1, 2, 37, 0 };
	size_t qn = (size_t)t->s.q_heads * t->s.head_dim;
	uint32_t l, c, i = 0;

	js->nr = t->s.layers * 4;
	js->jobs = calloc(js->nr, sizeof(*js->jobs));
	js->q = malloc(js->nr * qn * sizeof(float));
	js->out = malloc(js->nr * qn * sizeof(float));
	pimt_fill_q(&seed, js->q, js->nr * qn);
	memset(js->out, 0xcc, js->nr * qn * sizeof(float));
	for (l = 0; l < t->s.layers; l++) {
		for (c = 0; c < 4; c++, i++) {
			struct pim_attn_job *j = &js->jobs[i];

			j->handle = t->h;
			j->layer = l;
			j->ctx_len = ctx[c] && ctx[c] < t->len[l] ?
				     ctx[c] : t->len[l];
			/* One explicit scale per layer, the rest default. */
			j->scale = c == 2 ? f32_to_bits(0.3f) : 0;
			j->q_addr = (uintptr_t)(js->q + i * qn);
			j->out_addr = (uintptr_t)(js->out + i * qn);
		}
	}
}

static void jobs_free(struct jobset *js)
{
	free(js->jobs);
	free(js->q);
	free(js->out);
}

/*
 * Worst relative error of any job against the double reference; with
 * verbose, each job out of tolerance is named.
 */
static double jobs_err(struct twin *t, const struct jobset *js, bool verbose)
{
	size_t qn = (size_t)t->s.q_heads * t->s.head_dim;
	double *ref = malloc(qn * sizeof(double)), worst = 0, e;
	uint32_t i;
	float sc;

	for (i = 0; i < js->nr; i++) {
		const struct pim_attn_job *j = &js->jobs[i];

		memcpy(&sc, &j->scale, sizeof(sc));
		pimt_attn_ref(&t->s, t->k[j->layer], t->v[j->layer],
			      j->ctx_len, js->q + i * qn, sc, ref);
		e = pimt_rel_err(js->out + i * qn, ref, qn);
		if (verbose && !(e <= PIMT_ATTN_TOL))
			tap_diag("job %u: layer %u ctx %u scale 0x%x: rel err %.2e",
				 i, j->layer, j->ctx_len, j->scale, e);
		if (!(e <= worst))
			worst = e;
	}
	free(ref);
	return worst;
}

/* Jobs whose output differs in any bit from the userspace model's. */
static uint32_t jobs_dm_mismatch(struct twin *t, const struct jobset *js)
{
	size_t qn = (size_t)t->s.q_heads * t->s.head_dim;
	float *out = malloc(qn * sizeof(float));
	uint32_t i, bad = 0;

	for (i = 0; i < js->nr; i++) {
		dm_attn(t, &js->jobs[i], out);
		bad += !!memcmp(out, js->out + i * qn, qn * sizeof(float));
	}
	free(out);
	return bad;
}

static const char *dtype_name(uint8_t dtype)
{
	return dtype == PIM_DTYPE_BF16 ? "BF16" : "FP16";
}

static void attn_case(struct pimt_dev *d, uint32_t layers, uint16_t q_heads,
		      uint16_t kv_heads, uint16_t head_dim, uint8_t dtype,
		      uint32_t ntok, uint8_t flags)
{
	struct pim_kv_alloc s = pimt_shape(layers, q_heads, kv_heads, head_dim,
					   dtype, ntok);
	char name[128];
	struct jobset js;
	struct twin t;
	uint64_t ns = 0;
	double err;
	uint32_t l;
	int ret;

	snprintf(name, sizeof(name), "%s %s q%u/kv%u d%u, %u layers x %u tokens%s",
		 dtype_name(dtype), q_heads == kv_heads ? "MHA" : "GQA",
		 q_heads, kv_heads, head_dim, layers, ntok,
		 flags & PIM_CMD_F_HOST_RELAYOUT ? ", host re-layout" : "");
	ret = twin_init(d, &t, &s);
	for (l = 0; ret > 0 && l < layers; l++)
		ret = twin_append(d, &t, l, ntok - l * 5, flags) ?: t.h;
	if (ret <= 0) {
		tap_ok(0, "%s: setup failed (%d)", name, ret);
		tap_skip("no data");
		tap_skip("no data");
		twin_fini(d, &t);
		return;
	}
	jobs_make(&t, &js);
	ret = pimt_attn(d->fd, js.jobs, js.nr, &ns);
	err = jobs_err(&t, &js, true);
	tap_ok(ret == 0 && ns > 0 && err <= PIMT_ATTN_TOL,
	       "%s: %u jobs (ctx 1, 2, 37, full) res %d, rel err %.2e, device_ns %llu",
	       name, js.nr, ret, err, (unsigned long long)ns);
	tap_ok(ret == 0 && !jobs_dm_mismatch(&t, &js),
	       "%s: bit-identical to the userspace device model", name);
	/* The same jobs one by one must give the same bits as the batch. */
	{
		size_t qn = (size_t)q_heads * head_dim;
		float *one = malloc(qn * sizeof(float));
		struct pim_attn_job j = js.jobs[js.nr - 1];
		int r;

		j.out_addr = (uintptr_t)one;
		r = pimt_attn(d->fd, &j, 1, NULL);
		tap_ok(r == 0 && !memcmp(one, js.out + (js.nr - 1) * qn,
					 qn * sizeof(float)),
		       "%s: single-job command matches the batch (%d)", name,
		       r);
		free(one);
	}
	jobs_free(&js);
	twin_fini(d, &t);
}

/* Data written as the host bus stripes it: read-back fine, attention wrong. */
static void test_no_relayout(struct pimt_dev *d)
{
	struct pim_kv_alloc s = pimt_shape(1, 4, 4, 64, PIM_DTYPE_FP16, 64);
	struct jobset js;
	struct twin t;
	double err;
	int ret;

	ret = twin_init(d, &t, &s);
	if (ret > 0)
		ret = twin_append(d, &t, 0, 64, PIM_CMD_F_NO_RELAYOUT) ?: t.h;
	if (ret <= 0) {
		tap_ok(0, "NO_RELAYOUT setup failed (%d)", ret);
		twin_fini(d, &t);
		return;
	}
	jobs_make(&t, &js);
	ret = pimt_attn(d->fd, js.jobs, js.nr, NULL);
	err = jobs_err(&t, &js, false);
	tap_ok(ret == 0 && err > 10 * PIMT_ATTN_TOL,
	       "NO_RELAYOUT data: attention completes (%d) but is wrong (rel err %.2e)",
	       ret, err);
	tap_ok(ret == 0 && !jobs_dm_mismatch(&t, &js),
	       "NO_RELAYOUT data: wrong in the same bits as the userspace model");
	jobs_free(&js);
	twin_fini(d, &t);
}

static int attn_one(struct pimt_dev *d, struct pim_attn_job *j, uint32_t nr)
{
	return pimt_attn(d->fd, j, nr, NULL);
}

static void test_attn_errors(struct pimt_dev *d)
{
	struct pim_kv_alloc s = pimt_shape(2, 4, 2, 32, PIM_DTYPE_BF16, 16);
	size_t qn = 4 * 32, bytes = pimt_kv_bytes(&s, 16);
	uint16_t *k = calloc(1, bytes), *v = calloc(1, bytes);
	float q[2][4 * 32], out[2][4 * 32], sentinel[4 * 32];
	struct pim_attn_job j[2], *many;
	uint32_t max = d->info.max_attn_jobs, i;
	int h, ret;

	pimt_fill_kv(&seed, PIM_DTYPE_BF16, k, bytes / 2);
	pimt_fill_kv(&seed, PIM_DTYPE_BF16, v, bytes / 2);
	pimt_fill_q(&seed, q[0], 2 * qn);
	h = pimt_kv_alloc(d->fd, &s);
	if (h <= 0 || pimt_kv_append(d->fd, h, 0, 0, 16, k, v, 0)) {
		tap_ok(0, "attention error cases: setup (%d)", h);
		return;
	}
	memset(sentinel, 0x5a, sizeof(sentinel));
	for (i = 0; i < 2; i++) {
		memset(&j[i], 0, sizeof(j[i]));
		j[i].handle = h;
		j[i].ctx_len = 16;
		j[i].q_addr = (uintptr_t)q[i];
		j[i].out_addr = (uintptr_t)out[i];
	}

	ret = attn_one(d, j, 0);
	tap_ok(ret == -EINVAL, "ATTN with 0 jobs: %d (want -EINVAL)", ret);
	j[1].ctx_len = 0;
	ret = attn_one(d, j, 2);
	tap_ok(ret == -EINVAL, "ATTN job with ctx_len 0: %d (want -EINVAL)",
	       ret);
	j[1].ctx_len = 17;
	memcpy(out[0], sentinel, sizeof(sentinel));
	ret = attn_one(d, j, 2);
	tap_ok(ret == -ERANGE, "ATTN job with ctx_len 17 > length 16: %d (want -ERANGE)",
	       ret);
	tap_ok(!memcmp(out[0], sentinel, sizeof(sentinel)),
	       "a bad second job leaves the first job's output untouched");
	/* Within max_tokens, past the layer's length: caught before any run. */
	j[1].ctx_len = 1;
	j[1].layer = 1;
	memcpy(out[0], sentinel, sizeof(sentinel));
	ret = attn_one(d, j, 2);
	tap_ok(ret == -ERANGE && !memcmp(out[0], sentinel, sizeof(sentinel)),
	       "ATTN job on an empty layer: %d (want -ERANGE), nothing written",
	       ret);
	j[1].layer = 2;
	ret = attn_one(d, j, 2);
	tap_ok(ret == -ERANGE || ret == -EINVAL,
	       "ATTN job on layer 2 of 2: %d (want -ERANGE/-EINVAL)", ret);
	j[1].layer = 0;
	j[1].handle = h + 100;
	memcpy(out[0], sentinel, sizeof(sentinel));
	ret = attn_one(d, j, 2);
	tap_ok(ret == -ENOENT && !memcmp(out[0], sentinel, sizeof(sentinel)),
	       "ATTN job with an unknown handle: %d (want -ENOENT), nothing written",
	       ret);
	j[1].handle = h;
	j[1].q_addr = PIMT_BAD_ADDR;
	memcpy(out[0], sentinel, sizeof(sentinel));
	ret = attn_one(d, j, 2);
	tap_ok(ret == -EFAULT && !memcmp(out[0], sentinel, sizeof(sentinel)),
	       "ATTN job with a bad q_addr: %d (want -EFAULT), nothing written",
	       ret);
	j[1].q_addr = (uintptr_t)q[1];
	j[1].out_addr = PIMT_BAD_ADDR;
	ret = attn_one(d, j, 2);
	tap_ok(ret == -EFAULT, "ATTN job with a bad out_addr: %d (want -EFAULT)",
	       ret);
	j[1].out_addr = (uintptr_t)out[1];
	ret = attn_one(d, j, 2);
	tap_ok(ret == 0, "the same two jobs, repaired, run (%d)", ret);

	many = calloc(max + 1, sizeof(*many));
	for (i = 0; i <= max; i++)
		many[i] = j[0];
	ret = attn_one(d, many, max + 1);
	tap_ok(ret == -EINVAL, "ATTN with max_attn_jobs+1 = %u jobs: %d (want -EINVAL)",
	       max + 1, ret);
	free(many);
	pimt_kv_free(d->fd, h);
	free(k);
	free(v);
}

/*
 * The q/out bytes of one command are bounded: max_attn_jobs jobs of the
 * widest shape (64 heads x 256) name 256 MiB of q and as much of out.
 */
static void test_attn_bound(struct pimt_dev *d)
{
	struct pim_kv_alloc s = pimt_shape(1, 64, 4, 256, PIM_DTYPE_BF16, 1);
	size_t qn = 64 * 256;
	uint16_t k[4 * 256] = { 0 }, v[4 * 256] = { 0 };
	float *q = calloc(qn, sizeof(float)), *out = calloc(qn, sizeof(float));
	uint32_t nr = d->info.max_attn_jobs, i;
	struct pim_attn_job *jobs = calloc(nr, sizeof(*jobs));
	int h, ret;

	h = pimt_kv_alloc(d->fd, &s);
	if (h <= 0 || pimt_kv_append(d->fd, h, 0, 0, 1, k, v, 0)) {
		tap_ok(0, "attention size bound: setup (%d)", h);
		goto out;
	}
	for (i = 0; i < nr; i++) {
		jobs[i].handle = h;
		jobs[i].ctx_len = 1;
		jobs[i].q_addr = (uintptr_t)q;
		jobs[i].out_addr = (uintptr_t)out;
	}
	if (nr * qn * 8 <= (16u << 20)) {
		tap_skip("max_attn_jobs %u names only %zu KiB of q and out",
			 nr, nr * qn * 8 >> 10);
	} else {
		ret = pimt_attn(d->fd, jobs, nr, NULL);
		tap_ok(ret == -EINVAL,
		       "ATTN naming %zu MiB of q and out: %d (want -EINVAL)",
		       nr * qn * 8 >> 20, ret);
	}
	pimt_kv_free(d->fd, h);
out:
	free(jobs);
	free(q);
	free(out);
}

int main(void)
{
	struct pimt_dev d;

	pimt_open(&d);
	attn_case(&d, 2, 4, 4, 64, PIM_DTYPE_FP16, 257, 0);
	attn_case(&d, 2, 8, 2, 128, PIM_DTYPE_BF16, 200, 0);
	attn_case(&d, 1, 16, 1, 32, PIM_DTYPE_FP16, 130, 0);
	attn_case(&d, 3, 2, 2, 16, PIM_DTYPE_BF16, 40, 0);
	attn_case(&d, 1, 8, 4, 256, PIM_DTYPE_BF16, 90, 0);
	attn_case(&d, 2, 4, 2, 64, PIM_DTYPE_FP16, 100,
		  PIM_CMD_F_HOST_RELAYOUT);
	test_no_relayout(&d);
	test_attn_errors(&d);
	test_attn_bound(&d);
	tap_ok(pimt_wait_all_free(&d, 1000), "free = capacity at the end");
	pimt_close(&d);
	return tap_done();
}
