// SPDX-License-Identifier: GPL-2.0
/*
 * selftest.c - pimctl selftest: random KV in, read back bit-exact, decode
 * attention (synchronous and queued) against a double-precision reference
 * computed on the host, and every byte given back at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pim/prng.h>
#include <pim/ref_attn.h>

#include "pimctl.h"

/* The device model's stated tolerance: max error / max |out|. */
#define TOLERANCE	2e-3

struct check_state {
	struct pimctl *pc;
	int failed;
};

static void check(struct check_state *cs, const char *name, bool ok,
		  const char *detail)
{
	struct pimctl *pc = cs->pc;

	cs->failed += !ok;
	if (!pc->json) {
		printf("%-4s %s%s%s\n", ok ? "ok" : "FAIL", name,
		       *detail ? ": " : "", detail);
		return;
	}
	json_obj(&pc->j, NULL);
	json_str(&pc->j, "check", name);
	json_bool(&pc->j, "ok", ok);
	json_str(&pc->j, "detail", detail);
	json_end(&pc->j, '}');
}

struct case_data {
	struct pim_kv_shape s;
	size_t tb, nq;
	uint16_t *k, *v, *rk, *rv;
	float *q, *out, *qout;
	double *ref;
};

static int case_alloc(struct case_data *c, unsigned int tokens,
		      uint64_t *seed)
{
	size_t i, n;

	c->tb = (size_t)c->s.kv_heads * c->s.head_dim * 2;
	c->nq = (size_t)c->s.q_heads * c->s.head_dim;
	n = tokens * c->tb;
	c->k = malloc(n);
	c->v = malloc(n);
	c->rk = malloc(n);
	c->rv = malloc(n);
	c->q = malloc(c->s.layers * c->nq * sizeof(float));
	c->out = malloc(c->s.layers * c->nq * sizeof(float));
	c->qout = malloc(c->s.layers * c->nq * sizeof(float));
	c->ref = malloc(c->s.layers * c->nq * sizeof(double));
	if (!c->k || !c->v || !c->rk || !c->rv || !c->q || !c->out ||
	    !c->qout || !c->ref)
		return -ENOMEM;
	for (i = 0; i < n / 2; i++) {
		c->k[i] = elem_from_f32(c->s.dtype, prng_uniform(seed));
		c->v[i] = elem_from_f32(c->s.dtype, prng_uniform(seed));
	}
	for (i = 0; i < c->s.layers * c->nq; i++)
		c->q[i] = prng_uniform(seed);
	return 0;
}

static void case_free(struct case_data *c)
{
	free(c->k);
	free(c->v);
	free(c->rk);
	free(c->rv);
	free(c->q);
	free(c->out);
	free(c->qout);
	free(c->ref);
}

/* One model shape: returns 0, or -errno when the device refused a step. */
static int run_case(struct check_state *cs, struct case_data *c,
		    const char *name, unsigned int tokens)
{
	struct pim_dev *dev = cs->pc->dev;
	struct pim_batch *b = NULL, *bq = NULL;
	struct pim_queue *q = NULL;
	const struct ref_attn_shape shape = {
		.q_heads = c->s.q_heads, .kv_heads = c->s.kv_heads,
		.head_dim = c->s.head_dim, .dtype = c->s.dtype,
	};
	struct pim_completion done;
	struct pim_kvcache *kv;
	char what[96], detail[128];
	uint64_t ns = 0;
	unsigned int l;
	double err;
	int ret;

	ret = pim_kvcache_new(dev, &c->s, NULL, &kv);
	snprintf(what, sizeof(what), "%s: allocate %u layers x %u tokens",
		 name, c->s.layers, c->s.max_tokens);
	check(cs, what, !ret, ret ? strerror(-ret) : "");
	if (ret)
		return ret;
	/* A prefill of all tokens but the last, then one decode step. */
	for (l = 0; l < c->s.layers && !ret; l++) {
		ret = pim_kvcache_append(kv, l, tokens - 1, c->k, c->v,
					 tokens * c->tb, 0, NULL);
		ret = ret ?: pim_kvcache_append(kv, l, 1,
				(char *)c->k + (tokens - 1) * c->tb,
				(char *)c->v + (tokens - 1) * c->tb, c->tb, 0,
				NULL);
		ret = ret ?: pim_kvcache_read(kv, l, 0, tokens, c->rk, c->rv,
					      tokens * c->tb);
		if (!ret && (memcmp(c->k, c->rk, tokens * c->tb) ||
			     memcmp(c->v, c->rv, tokens * c->tb)))
			ret = -EIO;
	}
	snprintf(what, sizeof(what), "%s: prefill + decode append, read back",
		 name);
	check(cs, what, !ret, ret == -EIO ? "data differs" :
	      ret ? strerror(-ret) : "bit-exact");
	if (ret)
		goto out;

	ret = pim_batch_new(dev, c->s.layers, &b);
	ret = ret ?: pim_batch_new(dev, c->s.layers, &bq);
	for (l = 0; l < c->s.layers && !ret; l++) {
		ret = pim_batch_add(b, kv, l, 0, 0.0f, c->q + l * c->nq,
				    c->out + l * c->nq, c->nq);
		ret = ret ?: pim_batch_add(bq, kv, l, 0, 0.0f,
					   c->q + l * c->nq,
					   c->qout + l * c->nq, c->nq);
	}
	ret = ret ?: pim_batch_run(b, &ns);
	for (l = 0; l < c->s.layers && !ret; l++)
		ref_attn(&shape, c->k, c->v, tokens, c->q + l * c->nq,
			 1.0 / sqrt(c->s.head_dim), c->ref + l * c->nq);
	err = ret ? INFINITY : ref_rel_err(c->out, c->ref, c->s.layers * c->nq);
	if (ret)
		snprintf(detail, sizeof(detail), "%s", strerror(-ret));
	else
		snprintf(detail, sizeof(detail),
			 "rel. error %.2e (limit %.0e), %" PRIu64 " ns modeled",
			 err, TOLERANCE, ns);
	snprintf(what, sizeof(what), "%s: attention vs double reference",
		 name);
	check(cs, what, !ret && err <= TOLERANCE, detail);
	if (ret)
		goto out;

	ret = pim_queue_new(dev, 2, &q);
	ret = ret ?: pim_queue_attn(q, bq, NULL);
	if (!ret && pim_queue_submit(q) != 1)
		ret = -EIO;
	if (!ret && pim_queue_reap(q, &done, 1, PIM_QUEUE_WAIT) != 1)
		ret = -EIO;
	ret = ret ?: done.res;
	snprintf(what, sizeof(what), "%s: queued attention", name);
	check(cs, what, !ret && !memcmp(c->out, c->qout,
					c->s.layers * c->nq * sizeof(float)),
	      ret ? strerror(-ret) : "bit-identical to the synchronous run");
out:
	pim_queue_free(q);
	pim_batch_free(bq);
	pim_batch_free(b);
	ret = pim_kvcache_free(kv) ?: ret;
	return ret;
}

static const char selftest_usage[] =
	"usage: pimctl [-j] [-d N] selftest [--tokens N] [--seed S]\n"
	"  Appends random FP16 and BF16 KV (MHA and GQA), reads it back, runs\n"
	"  decode attention synchronously and queued, and checks the results\n"
	"  against a double-precision reference on the host.\n"
	"  --tokens N   context length (2..4096, default 67: not a multiple of any chunk size)\n"
	"  --seed S     random seed (default 1)\n";

int cmd_selftest(struct pimctl *pc, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tokens", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		PIMCTL_COMMON_OPTS,
		{ }
	};
	static const struct {
		const char *name;
		struct pim_kv_shape s;
	} cases[] = {
		{ "fp16-mha", { 2, 4, 4, 64, PIM_DTYPE_FP16, 0 } },
		{ "bf16-gqa", { 2, 8, 2, 128, PIM_DTYPE_BF16, 0 } },
	};
	struct check_state cs = { .pc = pc };
	struct pim_dev_stats before, after;
	unsigned int tokens = 67, i;
	uint64_t seed = 1;
	int c, ret;

	while ((c = pimctl_getopt(pc, argc, argv, opts, selftest_usage)) != -1) {
		switch (c) {
		case 't':
			tokens = pimctl_num("--tokens", optarg, 2, 4096);
			break;
		case 's':
			seed = pimctl_num("--seed", optarg, 1, ~0UL);
			break;
		}
	}
	ret = pimctl_no_operands(argc, argv);
	ret = ret ?: pimctl_open_dev(pc);
	if (ret)
		return ret;
	ret = pim_dev_get_stats(pc->dev, &before);
	if (ret)
		return pimctl_fail(pc, "reading counters", ret);
	if (pc->json) {
		json_obj(&pc->j, NULL);
		json_str(&pc->j, "dev", pim_dev_get_devname(pc->dev));
		json_str(&pc->j, "backend", pim_get_backend_name(pc->ctx));
		json_arr(&pc->j, "checks");
	} else {
		printf("selftest on %s (%s backend), %u tokens\n",
		       pim_dev_get_devnode(pc->dev),
		       pim_get_backend_name(pc->ctx), tokens);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct case_data cd = { .s = cases[i].s };

		cd.s.max_tokens = tokens;
		ret = case_alloc(&cd, tokens, &seed);
		if (!ret)
			ret = run_case(&cs, &cd, cases[i].name, tokens);
		else
			check(&cs, cases[i].name, false, "out of memory");
		case_free(&cd);
	}
	ret = pim_dev_get_stats(pc->dev, &after);
	check(&cs, "device memory given back", !ret &&
	      after.free == before.free, ret ? strerror(-ret) : "");
	if (pc->json) {
		json_end(&pc->j, ']');
		json_bool(&pc->j, "passed", !cs.failed);
		json_end(&pc->j, '}');
	} else {
		printf("%s: %d check(s) failed\n",
		       cs.failed ? "FAIL" : "PASS", cs.failed);
	}
	return cs.failed ? 1 : 0;
}
