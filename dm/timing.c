// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * timing.c - modeled device time of every command.
 *
 * Times are computed in picoseconds from the DDR4 timings of struct
 * pim_timing. A rank's decode attention of one head group is
 *
 *   score   = K column reads by all bank PUs (adder-tree mode)
 *           || per-chip partial scores to the rank PU  (T_comm of Eq. 1)
 *           || rank-PU softmax
 *   context = V column reads by all bank PUs (accumulator mode)
 *           || softmax outputs S back to the chips' shared buffers
 *   drain   = bank result buffers to the rank PU
 *
 * where "||" is max() plus one chunk of pipeline fill when the bubble-free
 * pipeline is on, and a sum when it is off (the rank PU waits for each
 * phase to finish before the next starts).
 */
#include "kv.h"

void pim_timing_ddr4_3200(struct pim_timing *t)
{
	*t = (struct pim_timing){
		.tck_ps = 625, .bl = 8, .cl = 22, .cwl = 16, .trcd = 22,
		.trp = 22, .tras = 52, .tccd_s = 4, .tccd_l = 8,
		.trrd_s = 4, .trrd_l = 8, .twtr_s = 4, .twtr_l = 12,
		.twr = 24, .trtp = 12, .n_cmr = 0, .psum_bytes = 4,
		.sm_per_tck = 8, .chunk_tokens = 256, .relayout_passes = 2,
	};
}

/* Host-bus time of bytes: whole BL8 bursts, BL/2 clocks each. */
static u64 pim_bus_ps(const struct pim_timing *t, u64 bytes)
{
	return pim_div_up(bytes, PIM_BURST_BYTES) * (t->bl / 2) * t->tck_ps;
}

u64 pim_model_host_bw(const struct pim_dm *dm)
{
	return dm->g.channels * (PIM_BURST_BYTES * 1000000000000ULL /
				 ((dm->t.bl / 2) * dm->t.tck_ps));
}

u64 pim_model_rank_bw(const struct pim_dm *dm)
{
	return dm->nranks * (PIM_BURST_BYTES * 1000000000000ULL /
			     ((dm->t.bl / 2) * dm->t.tck_ps));
}

u64 pim_model_bank_bw(const struct pim_dm *dm)
{
	return (u64)dm->nranks * PIM_CHIPS * dm->nbanks *
	       (PIM_BEAT_BYTES * 1000000000000ULL /
		(dm->t.tccd_l * dm->t.tck_ps));
}

static u32 pim_ncmr(const struct pim_timing *t, u32 gqa)
{
	return t->n_cmr ? t->n_cmr : gqa;
}

u32 pim_model_nhc(const struct pim_dm *dm, u32 head_dim, u32 gqa)
{
	const struct pim_timing *t = &dm->t;
	u32 cg = pim_div_up(gqa, pim_ncmr(t, gqa)), nhc;
	u64 num, den;

	/*
	 * Eq. 1 with bandwidths as bytes per clock: T_comm <= T_comp iff
	 * N_hc <= E_h * 2 * B_rk * ceil(N_gqa / N_cmr) /
	 *          (psum * B_bk * N_bk * N_gqa * N_chips).
	 */
	num = (u64)head_dim * 2 * cg * PIM_BURST_BYTES * t->tccd_l;
	den = (u64)t->psum_bytes * PIM_BEAT_BYTES * (t->bl / 2) *
	      dm->nbanks * gqa * PIM_CHIPS;
	for (nhc = PIM_CHIPS; nhc > 1; nhc /= 2)
		if (nhc * den <= num && !(head_dim % (4 * nhc)))
			break;
	return nhc;
}

u32 pim_model_groups(const struct pim_dm *dm, const struct pim_kv_alloc *s)
{
	struct pim_kv_lay l;
	struct pim_kv_alloc one = *s;

	one.max_tokens = 1;
	pim_kv_layout(dm, &one, &l);
	return l.groups;
}

/* Phases in parallel (bubble-free, plus one chunk of fill) or in series. */
static u64 pim_overlap(const struct pim_dm *dm, u64 a, u64 b, u64 c,
		       u64 fill)
{
	if (dm->features & PIM_TF_BUBBLE_FREE)
		return pim_max64(a, pim_max64(b, c)) + fill;
	return a + b + c;
}

/* Rank-internal time of one group's attention over ctx tokens. */
static u64 pim_attn_ps(const struct pim_dm *dm, const struct pim_kv_lay *l,
		       u32 heads, u32 ctx)
{
	const struct pim_timing *t = &dm->t;
	u64 cols, rows, mac, act, comm, sm, fill, acc, drain, score, context;
	u32 chunk = pim_min32(ctx, t->chunk_tokens);
	u32 cg = pim_div_up(l->gqa, pim_ncmr(t, l->gqa));
	u64 chips = (u64)heads * l->nhc;

	/* All bank PUs of the rank stream in parallel, tCCD_L per column. */
	cols = pim_div_up((u64)ctx * l->kb, dm->nbanks);
	rows = pim_div_up(ctx, l->tpr);
	act = rows * (t->trcd + t->trtp + t->trp) * (u64)t->tck_ps;
	mac = cols * t->tccd_l * cg * (u64)t->tck_ps + act;
	/* One partial score per token, q head and chip, on the rank bus. */
	comm = pim_bus_ps(t, (u64)ctx * l->gqa * chips * t->psum_bytes);
	sm = pim_div_up((u64)ctx * l->gqa * heads, t->sm_per_tck) * t->tck_ps;
	fill = pim_bus_ps(t, (u64)chunk * l->gqa * chips * t->psum_bytes);
	score = pim_overlap(dm, mac, comm, sm, fill);
	context = pim_overlap(dm, mac, comm, 0, fill);
	/* Each bank holds FP32 partial sums of the 4 elements per chip of
	 * every burst position it received, per q head of the group.
	 */
	acc = pim_max32(1, l->kb / dm->nbanks) * (u64)l->gqa;
	drain = pim_bus_ps(t, acc * dm->nbanks * PIM_CHIPS * 4 * 4);
	return score + context + drain;
}

static void pim_lay_of(const struct pim_dm *dm, const struct pim_kv_alloc *s,
		       struct pim_kv_lay *l)
{
	struct pim_kv_alloc one = *s;

	one.max_tokens = 1;
	pim_kv_layout(dm, &one, l);
}

u64 pim_model_attn_ns(const struct pim_dm *dm,
		      const struct pim_kv_alloc *s, u32 ctx_len)
{
	struct pim_kv_lay l;

	pim_lay_of(dm, s, &l);
	return pim_div_up(pim_attn_ps(dm, &l, l.hpg, ctx_len), 1000);
}

/* A host transfer of bytes to or from one rank, with row overheads. */
static u64 pim_xfer_ps(const struct pim_dm *dm, u64 bytes, bool write,
		       u32 flags)
{
	const struct pim_timing *t = &dm->t;
	u64 ps = pim_bus_ps(t, bytes);
	u32 lat = write ? t->trcd + t->cwl + t->bl / 2 + t->twr + t->trp :
			  t->trcd + t->cl + t->bl / 2 + t->trp;

	if (!(flags & PIM_CMD_F_NO_RELAYOUT) &&
	    ((flags & PIM_CMD_F_HOST_RELAYOUT) ||
	     !(dm->features & PIM_TF_INFLIGHT_RELAYOUT)))
		ps += t->relayout_passes * pim_bus_ps(t, bytes);
	return ps + (u64)lat * t->tck_ps;
}

u64 pim_model_append_ns(const struct pim_dm *dm,
			const struct pim_kv_alloc *s, u32 ntok, u32 flags)
{
	struct pim_kv_lay l;

	pim_lay_of(dm, s, &l);
	return pim_div_up(pim_xfer_ps(dm, 2ULL * ntok * l.kb * PIM_BURST_BYTES,
				      true, flags), 1000);
}

u64 pim_model_read_ns(const struct pim_dm *dm,
		      const struct pim_kv_alloc *s, u32 ntok)
{
	struct pim_kv_lay l;

	pim_lay_of(dm, s, &l);
	return pim_div_up(pim_xfer_ps(dm, 2ULL * ntok * l.kb * PIM_BURST_BYTES,
				      false, 0), 1000);
}

/* ---- per-command timelines ---- */

size_t pim_timeline_bytes(const struct pim_geometry *g)
{
	return sizeof(struct pim_timeline) +
	       ((size_t)pim_geom_ranks(g) + g->channels) * sizeof(u64);
}

void pim_tl_reset(struct pim_timeline *tl, const struct pim_dm *dm)
{
	tl->dm = dm;
	tl->nranks = dm->nranks;
	tl->nchan = dm->g.channels;
	memset(tl->busy_ps, 0, (tl->nranks + tl->nchan) * sizeof(u64));
}

/*
 * A host transfer to a rank. One rank per channel talks to the host at a
 * time: the channel's bus time adds up, and a transfer starts once the
 * rank is ready and the bus has carried everything queued before it (the
 * controller fills bus idle time with whichever transfer is ready, so the
 * bus is modeled as work-conserving rather than as a strict FIFO). The rank
 * does not compute meanwhile. Without rankset overlap the channel's bus is
 * in host mode for the whole transfer, which stalls every rank on it.
 */
static void pim_tl_stall(struct pim_timeline *tl, u32 rank, u32 ch,
			 u64 start, u64 ps)
{
	u32 r, rs = tl->dm->g.ranksets;

	for (r = ch * rs; r < (ch + 1) * rs; r++)
		if (r != rank)
			tl->busy_ps[r] = pim_max64(tl->busy_ps[r], start) + ps;
}

/* Inlined: the simulator times millions of these per run. */
static __always_inline void pim_tl_xfer_ch(struct pim_timeline *tl, u32 rank,
					   u32 ch, u64 ps)
{
	u64 *chan = &tl->busy_ps[tl->nranks + ch];
	u64 start = pim_max64(tl->busy_ps[rank], *chan);

	*chan += ps;
	tl->busy_ps[rank] = start + ps;
	if (!(tl->dm->features & PIM_TF_RANKSET_OVERLAP))
		pim_tl_stall(tl, rank, ch, start, ps);
}

static __always_inline void pim_tl_xfer(struct pim_timeline *tl, u32 rank,
					u64 ps)
{
	pim_tl_xfer_ch(tl, rank, rank / tl->dm->g.ranksets, ps);
}

/* Host transfers and rank time of one group's attention, by head count. */
struct pim_tl_group {
	u32 heads;
	u64 in_ps, attn_ps, out_ps;
};

static void pim_tl_group_cost(const struct pim_dm *dm, const struct pim_kv *kv,
			      u32 heads, u32 ctx_len, struct pim_tl_group *c)
{
	/* The PIM request and q in, the group's outputs back. */
	u64 io = (u64)heads * kv->lay.gqa * kv->shape.head_dim * 4;

	c->heads = heads;
	c->in_ps = pim_xfer_ps(dm, PIM_BURST_BYTES + io, true,
			       PIM_CMD_F_NO_RELAYOUT);
	c->attn_ps = pim_attn_ps(dm, &kv->lay, heads, ctx_len);
	c->out_ps = pim_xfer_ps(dm, io, false, PIM_CMD_F_NO_RELAYOUT);
}

void pim_tl_attn(struct pim_timeline *tl, const struct pim_kv *kv, u32 layer,
		 u32 ctx_len)
{
	struct pim_tl_group full, last;
	const struct pim_tl_group *c;
	u32 gi, r, ch, groups = kv->lay.groups;

	if (layer >= kv->shape.layers || !ctx_len || !groups)
		return;
	/* Every group has hpg heads but the last, which may have fewer. */
	pim_tl_group_cost(tl->dm, kv, kv->lay.hpg, ctx_len, &full);
	last = full;
	if (pim_kv_group_heads(kv, groups - 1) != full.heads)
		pim_tl_group_cost(tl->dm, kv,
				  pim_kv_group_heads(kv, groups - 1),
				  ctx_len, &last);
	for (gi = 0; gi < groups; gi++) {
		c = gi == groups - 1 ? &last : &full;
		r = pim_kv_slot(kv, layer, gi)->rank;
		ch = r / tl->dm->g.ranksets;
		pim_tl_xfer_ch(tl, r, ch, c->in_ps);
		tl->busy_ps[r] += c->attn_ps;
		pim_tl_xfer_ch(tl, r, ch, c->out_ps);
	}
}

void pim_tl_append(struct pim_timeline *tl, const struct pim_kv *kv,
		   u32 layer, u32 ntok, u32 flags)
{
	u64 bytes = 2ULL * ntok * kv->lay.kb * PIM_BURST_BYTES;
	u32 gi;
	u64 ps;

	if (layer >= kv->shape.layers || !ntok)
		return;
	ps = pim_xfer_ps(tl->dm, bytes, true, flags);
	for (gi = 0; gi < kv->lay.groups; gi++)
		pim_tl_xfer(tl, pim_kv_slot(kv, layer, gi)->rank, ps);
}

void pim_tl_read(struct pim_timeline *tl, const struct pim_kv *kv, u32 layer,
		 u32 ntok)
{
	u64 bytes = 2ULL * ntok * kv->lay.kb * PIM_BURST_BYTES;
	u32 gi;
	u64 ps;

	if (layer >= kv->shape.layers || !ntok)
		return;
	ps = pim_xfer_ps(tl->dm, bytes, false, 0);
	for (gi = 0; gi < kv->lay.groups; gi++)
		pim_tl_xfer(tl, pim_kv_slot(kv, layer, gi)->rank, ps);
}

void pim_tl_raw(struct pim_timeline *tl, u32 rank, u64 len, bool write)
{
	if (rank >= tl->nranks || !len)
		return;
	pim_tl_xfer(tl, rank, pim_xfer_ps(tl->dm, len, write,
					  PIM_CMD_F_NO_RELAYOUT));
}

u64 pim_tl_end_ns(const struct pim_timeline *tl)
{
	u64 end = 0;
	u32 i;

	for (i = 0; i < tl->nranks + tl->nchan; i++)
		end = pim_max64(end, tl->busy_ps[i]);
	return pim_div_up(end, 1000);
}
