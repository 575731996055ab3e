// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * attn_unit.c - integer half of decode attention: unit sizing and set-up,
 * and the dispatch to the SSE2 or AVX2 build of attn.c.
 */
#include "attn.h"
#include "kv.h"

static const struct pim_attn_ops *pim_attn_ops = &pim_attn_ops_sse2;

void pim_attn_select(bool avx2)
{
	pim_attn_ops = avx2 ? &pim_attn_ops_avx2 : &pim_attn_ops_sse2;
}

bool pim_attn_uses_avx2(void)
{
	return pim_attn_ops == &pim_attn_ops_avx2;
}

/* Array offsets of a unit for this KV shape; returns the data bytes. */
static size_t pim_attn_layout(const struct pim_kv *kv,
			      struct pim_attn_unit *u)
{
	const struct pim_kv_lay *l = &kv->lay;
	u32 chunk = pim_min32(l->tpr, PIM_ATTN_CHUNK);
	u32 cpad = (chunk + 7) & ~7U;
	u32 nq = l->hpg * l->gqa;
	size_t v8 = 8 * sizeof(u32), off = 0;

	u->chunk = chunk;
	u->cpad = cpad;
	u->off_q = off;
	off += (size_t)l->gqa * l->kb * 4 * v8;
	u->off_acc = off;
	off += (size_t)l->gqa * l->kb * 4 * v8;
	u->off_pv = off;
	off += (size_t)chunk * l->gqa * v8;
	u->off_sc = off;
	off += (size_t)nq * cpad * sizeof(u32);
	u->off_m = off;
	off += nq * sizeof(u32);
	u->off_l = off;
	off += nq * sizeof(u32);
	u->off_alpha = off;
	off += nq * sizeof(u32);
	return off;
}

size_t pim_attn_unit_bytes(const struct pim_kv *kv)
{
	struct pim_attn_unit u;

	return sizeof(u) + 31 + pim_attn_layout(kv, &u);
}

int pim_attn_unit_init(struct pim_attn_unit *u, const struct pim_dm *dm,
		       const struct pim_kv *kv, u32 layer, u32 group,
		       u32 ctx_len, u32 scale_bits, const u32 *q)
{
	const struct pim_kv_lay *l = &kv->lay;
	u32 *qp, *w, g, j, e, c, i, d = kv->shape.head_dim;
	const struct pim_kv_slot *slot;
	const u8 *rank;

	if (layer >= kv->shape.layers || group >= l->groups || !q)
		return -EINVAL;
	if (!ctx_len || ctx_len > kv->layer[layer].len)
		return -ERANGE;
	if ((scale_bits & 0x7f800000) == 0x7f800000)
		return -EINVAL;		/* Inf or NaN scale */
	if (!dm->mem)
		return -ENODEV;
	memset(u, 0, sizeof(*u));
	pim_attn_layout(kv, u);
	slot = pim_kv_slot(kv, layer, group);
	rank = dm->mem + (u64)slot->rank * dm->g.rank_bytes;
	u->k = rank + pim_kv_rowset_off(kv, layer, group, 0, false);
	u->v = rank + pim_kv_rowset_off(kv, layer, group, 0, true);
	u->rowset_bytes = kv->rowset_bytes;
	u->ctx_len = ctx_len;
	u->dtype = kv->shape.dtype;
	u->d = d;
	u->nhc = l->nhc;
	u->heads = pim_kv_group_heads(kv, group);
	u->gqa = l->gqa;
	u->kb = l->kb;
	u->nbanks = kv->nbanks;
	u->bpr = l->bpr;
	u->tpr = l->tpr;
	u->q0 = group * l->hpg * l->gqa;
	u->nq = u->heads * u->gqa;
	u->scale_bits = scale_bits;

	/* q in the chips' order: lane c of vector (j, e, g) is what chip c
	 * multiplies with element e of its part of burst j.
	 */
	qp = (u32 *)(pim_attn_data(u) + u->off_q);
	for (j = 0; j < l->kb; j++)
		for (e = 0; e < 4; e++)
			for (g = 0; g < l->gqa; g++, qp += 8)
				for (c = 0; c < 8; c++) {
					i = c / l->nhc;
					qp[c] = i >= u->heads ? 0 :
						q[(u->q0 + i * l->gqa + g) * d +
						  (c % l->nhc) * (d / l->nhc) +
						  4 * j + e];
				}
	memset(pim_attn_data(u) + u->off_acc, 0, u->off_pv - u->off_acc);
	w = (u32 *)(pim_attn_data(u) + u->off_m);
	for (i = 0; i < u->nq; i++)
		w[i] = 0xff800000;	/* -Inf */
	memset(pim_attn_data(u) + u->off_l, 0, u->nq * sizeof(u32));
	return 0;
}

bool pim_attn_unit_step_fpu(struct pim_attn_unit *u, u32 max_tokens)
{
	return pim_attn_ops->step(u, max_tokens);
}

void pim_attn_unit_finish_fpu(struct pim_attn_unit *u, u32 *out)
{
	pim_attn_ops->finish(u, out);
}
