// SPDX-License-Identifier: GPL-2.0 OR MIT
/* dm_test.c - see dm_test.h. */
#include <math.h>
#include <stdlib.h>

#include "dm_test.h"

int dmt_init(struct dmt *t, const struct pim_geometry *g, bool backed)
{
	size_t mem = g->rank_bytes * pim_geom_ranks(g);

	t->mem = backed ? calloc(1, mem) : NULL;
	t->state = malloc(pim_dm_state_bytes(g) + 8);
	if ((backed && !t->mem) || !t->state)
		return -ENOMEM;
	return pim_dm_init(&t->dm, g, t->mem, t->state);
}

void dmt_fini(struct dmt *t)
{
	free(t->mem);
	free(t->state);
}

struct pim_kv *dmt_kv(struct dmt *t, const struct pim_kv_alloc *s, int *ret)
{
	struct pim_kv *kv = malloc(pim_kv_bytes(s));

	*ret = kv ? pim_kv_place(&t->dm, s, kv) : -ENOMEM;
	if (*ret) {
		free(kv);
		return NULL;
	}
	return kv;
}

static u64 dmt_state = 0x9e3779b97f4a7c15ULL;

void dmt_seed(u64 seed)
{
	dmt_state = seed * 0x9e3779b97f4a7c15ULL + 1;
}

u64 dmt_rand(void)
{
	/* splitmix64 */
	u64 z = (dmt_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double dmt_uniform(double lo, double hi)
{
	return lo + (hi - lo) * (dmt_rand() >> 11) * 0x1p-53;
}

float dmt_f32(u32 bits)
{
	float f;

	memcpy(&f, &bits, 4);
	return f;
}

u32 dmt_bits(float f)
{
	u32 u;

	memcpy(&u, &f, 4);
	return u;
}

u16 dmt_to_half(float f, u8 dtype)
{
	u32 x = dmt_bits(f), sign = x >> 16 & 0x8000;
	int e;
	double m;

	if (dtype == PIM_DTYPE_BF16)
		return (x + 0x7fff + (x >> 16 & 1)) >> 16;
	/* FP16 through double: scale into place, round to nearest even. */
	m = fabs((double)f);
	if (m >= 65520.0)
		return sign | 0x7c00;
	if (m < 0x1p-14)
		return sign | (u16)nearbyint(m * 0x1p24);
	e = ilogb(m);
	m = nearbyint(ldexp(m, 10 - e));	/* 1024..2048 */
	if (m == 2048) {
		m = 1024;
		e++;
	}
	return sign | (u16)((e + 15) << 10) | ((u16)m - 1024);
}

double dmt_from_half(u16 h, u8 dtype)
{
	int e = h >> 10 & 0x1f, m = h & 0x3ff;
	double v;

	if (dtype == PIM_DTYPE_BF16)
		return dmt_f32((u32)h << 16);
	if (e == 31)
		v = m ? NAN : INFINITY;
	else if (!e)
		v = ldexp(m, -24);
	else
		v = ldexp(1024 + m, e - 25);
	return h & 0x8000 ? -v : v;
}

void dmt_ref_attn(const struct pim_kv_alloc *s, u32 ntok, const float *q,
		  const u16 *k, const u16 *v, double scale, double *ref)
{
	u32 d = s->head_dim, gqa = s->q_heads / s->kv_heads, h, t, e, kvh;
	double *sc = malloc(sizeof(double) * ntok), mx, l, acc;

	for (h = 0; h < s->q_heads; h++) {
		kvh = h / gqa;
		mx = -INFINITY;
		for (t = 0; t < ntok; t++) {
			acc = 0;
			for (e = 0; e < d; e++)
				acc += (double)q[h * d + e] *
				       dmt_from_half(k[((u64)t * s->kv_heads + kvh) * d + e],
						     s->dtype);
			sc[t] = acc * scale;
			mx = fmax(mx, sc[t]);
		}
		l = 0;
		for (t = 0; t < ntok; t++) {
			sc[t] = exp(sc[t] - mx);
			l += sc[t];
		}
		for (e = 0; e < d; e++) {
			acc = 0;
			for (t = 0; t < ntok; t++)
				acc += sc[t] *
				       dmt_from_half(v[((u64)t * s->kv_heads + kvh) * d + e],
						     s->dtype);
			ref[h * d + e] = acc / l;
		}
	}
	free(sc);
}

int dmt_attn(const struct pim_dm *dm, const struct pim_kv *kv, u32 layer,
	     u32 ctx, u32 scale_bits, const float *q, float *out,
	     u32 max_tokens)
{
	struct pim_attn_unit *u = malloc(pim_attn_unit_bytes(kv));
	u32 gi;
	int ret = u ? 0 : -ENOMEM;

	for (gi = 0; !ret && gi < pim_kv_groups(kv); gi++) {
		ret = pim_attn_unit_init(u, dm, kv, layer, gi, ctx, scale_bits,
					 (const u32 *)q);
		if (ret)
			break;
		while (!pim_attn_unit_step_fpu(u, max_tokens))
			;
		pim_attn_unit_finish_fpu(u, (u32 *)out);
	}
	free(u);
	return ret;
}
