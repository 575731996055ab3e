// SPDX-License-Identifier: GPL-2.0
/*
 * kv_dump.c - pimctl kv-dump: place a KV cache of a given shape, fill it
 * with a recognizable pattern (K[t][h][d] = t + d/256, V = -K), and show
 * where each layer lives and what reads back. KV caches belong to the
 * open file that made them, so this is how to look at placement and data
 * from the outside.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pim/half.h>

#include "pimctl.h"

struct dump_opts {
	struct pim_kv_shape s;
	struct pim_kv_hints h;
	unsigned int tokens;
	unsigned int show;		/* elements shown per head */
};

static void fill(const struct dump_opts *o, uint16_t *k, uint16_t *v)
{
	unsigned int t, h, d;
	size_t i = 0;

	for (t = 0; t < o->tokens; t++)
		for (h = 0; h < o->s.kv_heads; h++)
			for (d = 0; d < o->s.head_dim; d++, i++) {
				float x = t + d / 256.0f;

				k[i] = elem_from_f32(o->s.dtype, x);
				v[i] = elem_from_f32(o->s.dtype, -x);
			}
}

static void dump_elems(struct pimctl *pc, const char *key,
		       const struct dump_opts *o, const uint16_t *e)
{
	unsigned int d;

	if (pc->json)
		json_arr(&pc->j, key);
	else
		printf("  %s", key);
	for (d = 0; d < o->show; d++) {
		double x = elem_to_f32(o->s.dtype, e[d]);

		if (pc->json)
			json_f64(&pc->j, NULL, x);
		else
			printf(" %8.4f", x);
	}
	if (pc->json)
		json_end(&pc->j, ']');
	else
		printf("%s\n", o->show < o->s.head_dim ? " ..." : "");
}

static int dump(struct pimctl *pc, const struct dump_opts *o,
		struct pim_kvcache *kv, uint16_t *k, uint16_t *v)
{
	size_t tb = pim_kvcache_token_bytes(kv), hd = o->s.head_dim;
	struct pim_kv_place p;
	unsigned int l, t, h;
	int ret;

	for (l = 0; l < o->s.layers; l++) {
		pim_kvcache_get_placement(kv, l, &p);
		memset(k, 0, o->tokens * tb);
		memset(v, 0, o->tokens * tb);
		ret = pim_kvcache_read(kv, l, 0, o->tokens, k, v,
				       o->tokens * tb);
		if (ret)
			return ret;
		if (pc->json) {
			json_obj(&pc->j, NULL);
			json_u64(&pc->j, "layer", l);
			json_u64(&pc->j, "rankset", p.rankset);
			json_u64(&pc->j, "nr_ranks", p.nr_ranks);
			json_u64(&pc->j, "rank_mask", p.rank_mask);
			json_u64(&pc->j, "tokens", pim_kvcache_get_len(kv, l));
			json_arr(&pc->j, "data");
		} else {
			printf("layer %u: rankset %u, %u rank(s), mask 0x%" PRIx64 ", %u tokens\n",
			       l, p.rankset, p.nr_ranks, (uint64_t)p.rank_mask,
			       pim_kvcache_get_len(kv, l));
		}
		for (t = 0; t < o->tokens; t++) {
			for (h = 0; h < o->s.kv_heads; h++) {
				size_t at = (t * o->s.kv_heads + h) * hd;

				if (pc->json) {
					json_obj(&pc->j, NULL);
					json_u64(&pc->j, "token", t);
					json_u64(&pc->j, "kv_head", h);
				} else {
					printf(" token %u head %u\n", t, h);
				}
				dump_elems(pc, "k", o, k + at);
				dump_elems(pc, "v", o, v + at);
				if (pc->json)
					json_end(&pc->j, '}');
			}
		}
		if (pc->json) {
			json_end(&pc->j, ']');
			json_end(&pc->j, '}');
		}
	}
	return 0;
}

static const char kv_dump_usage[] =
	"usage: pimctl [-j] [-d N] kv-dump [OPTIONS]\n"
	"  --layers N          layers (default 2)\n"
	"  --q-heads N         query heads (default 4)\n"
	"  --kv-heads N        KV heads, dividing --q-heads (default 2)\n"
	"  --head-dim N        multiple of 16, 16..256 (default 64)\n"
	"  --dtype fp16|bf16   element type (default fp16)\n"
	"  --tokens N          tokens appended to every layer (default 4)\n"
	"  --rankset N         placement hint (default: the device picks)\n"
	"  --chips-per-head N  N_hc hint: 1, 2, 4 or 8 (default: auto)\n"
	"  --show N            elements shown per token and head (default 8)\n";

int cmd_kv_dump(struct pimctl *pc, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "layers", required_argument, NULL, 'L' },
		{ "q-heads", required_argument, NULL, 'Q' },
		{ "kv-heads", required_argument, NULL, 'K' },
		{ "head-dim", required_argument, NULL, 'H' },
		{ "dtype", required_argument, NULL, 'T' },
		{ "tokens", required_argument, NULL, 'n' },
		{ "rankset", required_argument, NULL, 'r' },
		{ "chips-per-head", required_argument, NULL, 'c' },
		{ "show", required_argument, NULL, 's' },
		PIMCTL_COMMON_OPTS,
		{ }
	};
	struct dump_opts o = {
		.s = { 2, 4, 2, 64, PIM_DTYPE_FP16, 0 },
		.h = { PIM_RANKSET_ANY, 0 },
		.tokens = 4,
		.show = 8,
	};
	struct pim_kvcache *kv;
	uint16_t *k, *v;
	size_t bytes;
	int c, ret;

	while ((c = pimctl_getopt(pc, argc, argv, opts, kv_dump_usage)) != -1) {
		switch (c) {
		case 'L':
			o.s.layers = pimctl_num("--layers", optarg, 1, 1024);
			break;
		case 'Q':
			o.s.q_heads = pimctl_num("--q-heads", optarg, 1, 1024);
			break;
		case 'K':
			o.s.kv_heads = pimctl_num("--kv-heads", optarg, 1,
						  1024);
			break;
		case 'H':
			o.s.head_dim = pimctl_num("--head-dim", optarg, 1,
						  PIM_MAX_HEAD_DIM);
			break;
		case 'T':
			if (!strcmp(optarg, "fp16")) {
				o.s.dtype = PIM_DTYPE_FP16;
			} else if (!strcmp(optarg, "bf16")) {
				o.s.dtype = PIM_DTYPE_BF16;
			} else {
				fprintf(stderr, "pimctl: --dtype: fp16 or bf16, not '%s'\n",
					optarg);
				return EX_USAGE;
			}
			break;
		case 'n':
			o.tokens = pimctl_num("--tokens", optarg, 1, 65536);
			break;
		case 'r':
			o.h.rankset = pimctl_num("--rankset", optarg, 0,
						 PIM_RANKSET_ANY);
			break;
		case 'c':
			o.h.chips_per_head = pimctl_num("--chips-per-head",
							optarg, 1, 8);
			break;
		case 's':
			o.show = pimctl_num("--show", optarg, 1,
					    PIM_MAX_HEAD_DIM);
			break;
		}
	}
	ret = pimctl_no_operands(argc, argv);
	ret = ret ?: pimctl_open_dev(pc);
	if (ret)
		return ret;
	if (o.show > o.s.head_dim)
		o.show = o.s.head_dim;
	o.s.max_tokens = o.tokens;
	ret = pim_kvcache_new(pc->dev, &o.s, &o.h, &kv);
	if (ret == -EINVAL) {
		fprintf(stderr, "pimctl: kv-dump: the device refused this shape (see pimctl kv-dump --help; -v tells why)\n");
		return EX_USAGE;
	}
	if (ret)
		return pimctl_fail(pc, "allocating the KV cache", ret);
	bytes = o.tokens * pim_kvcache_token_bytes(kv);
	k = malloc(bytes);
	v = malloc(bytes);
	ret = k && v ? 0 : -ENOMEM;
	if (!ret) {
		unsigned int l;

		fill(&o, k, v);
		for (l = 0; l < o.s.layers && !ret; l++)
			ret = pim_kvcache_append(kv, l, o.tokens, k, v, bytes,
						 0, NULL);
	}
	if (!ret && pc->json) {
		json_obj(&pc->j, NULL);
		json_str(&pc->j, "dev", pim_dev_get_devname(pc->dev));
		json_u64(&pc->j, "handle", pim_kvcache_get_handle(kv));
		json_arr(&pc->j, "layers");
	}
	if (!ret)
		ret = dump(pc, &o, kv, k, v);
	if (pc->json && !ret) {
		json_end(&pc->j, ']');
		json_end(&pc->j, '}');
	}
	free(k);
	free(v);
	pim_kvcache_free(kv);
	return ret ? pimctl_fail(pc, "kv-dump", ret) : 0;
}
