// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_timing.c - the timing model: Table I aggregates, Eq. 1, scaling
 * with work, the slowest-rank and channel-bus rules, rankset overlap and
 * the ablation switches.
 */
#include <math.h>
#include <stdlib.h>

#include "../tap.h"
#include "dm_test.h"

static struct dmt t;

static struct pim_kv_alloc shape(u32 layers, u32 qh, u32 kvh, u32 tok)
{
	return (struct pim_kv_alloc){
		.layers = layers, .q_heads = qh, .kv_heads = kvh,
		.head_dim = 128, .dtype = PIM_DTYPE_FP16, .max_tokens = tok,
		.rankset_hint = 0,
	};
}

static bool near(double x, double want, double rel)
{
	return fabs(x - want) <= rel * want;
}

static void table1(void)
{
	const struct pim_dm *dm = &t.dm;
	double rank = pim_model_rank_bw(dm) / 1e12;
	double bank = pim_model_bank_bw(dm) / 1e12;
	double host = pim_model_host_bw(dm) / 1e9;

	tap_ok(near(rank, 1.6, 0.03),
	       "rank-level bandwidth %.3f TB/s ~ Table I's 1.6 TB/s", rank);
	tap_ok(near(bank, 13.0, 0.01),
	       "bank-level bandwidth %.2f TB/s ~ Table I's 13.0 TB/s", bank);
	tap_ok(near(host, 406, 0.01),
	       "host (CPU baseline) bandwidth %.1f GB/s ~ Table I's 406 GB/s",
	       host);
	tap_ok(pim_model_bank_bw(dm) / pim_model_rank_bw(dm) == 8,
	       "bank PUs give 8x the rank bus (13.1 / 1.64)");
}

static void scaling(void)
{
	struct pim_kv_alloc mha = shape(1, 32, 32, 1), gqa = shape(1, 64, 8, 1);
	u64 prev = 0, x;
	bool mono = true;
	double per_tok, want;
	u32 n;

	for (n = 1; n <= 200000; n += 1 + n / 7) {
		x = pim_model_attn_ns(&t.dm, &mha, n);
		mono = mono && x >= prev;
		prev = x;
	}
	tap_ok(mono, "attention time never falls as the context grows");
	tap_ok(pim_model_attn_ns(&t.dm, &mha, 20000) >
	       pim_model_attn_ns(&t.dm, &mha, 10000) * 19 / 10,
	       "attention time is linear in context");
	/* One MHA head on 8 chips streams K and V at 204.8 GB/s. */
	per_tok = pim_model_attn_ns(&t.dm, &mha, 100000) / 1e5;
	want = 2 * 128 * 2 / 204.8;
	tap_ok(near(per_tok, want, 0.1),
	       "MHA d 128: %.3f ns/token ~ K+V at the bank-level 204.8 GB/s (%.3f)",
	       per_tok, want);
	/* GQA-8 at N_hc 1: 8 heads on the 8 chips, same bound per token. */
	per_tok = pim_model_attn_ns(&t.dm, &gqa, 100000) / 1e5;
	tap_ok(near(per_tok, 8 * want, 0.1),
	       "GQA-8 d 128, 8 heads: %.3f ns/token ~ 8x MHA's", per_tok);
	/* N_hc above Eq. 1's bound: the partial scores saturate the bus. */
	gqa.chips_per_head = 8;
	per_tok = pim_model_attn_ns(&t.dm, &gqa, 100000) / 1e5;
	tap_ok(per_tok > 7 * want,
	       "GQA-8 at N_hc 8 is transfer-bound: one head takes %.2f ns/token",
	       per_tok);
	for (n = 1, mono = true, prev = 0; n < 100000; n += 97) {
		x = pim_model_append_ns(&t.dm, &mha, n, 0);
		mono = mono && x > prev;
		prev = x;
	}
	tap_ok(mono, "append time grows with the tokens appended");
	x = pim_model_append_ns(&t.dm, &mha, 10000, 0);
	tap_ok(near(x, 10000.0 * 512 / 25.6, 0.01),
	       "append runs at the channel's 25.6 GB/s (%llu ns for 5 MB)",
	       (unsigned long long)x);
	tap_ok(pim_model_read_ns(&t.dm, &mha, 10000) < x * 101 / 100,
	       "read-back costs what the append did");
}

static void ablations(void)
{
	struct pim_kv_alloc mha = shape(1, 32, 32, 1);
	u64 on = pim_model_attn_ns(&t.dm, &mha, 50000), off, a0, a1, a2;

	pim_dm_set_features(&t.dm, PIM_TF_ALL & ~PIM_TF_BUBBLE_FREE);
	off = pim_model_attn_ns(&t.dm, &mha, 50000);
	tap_ok(off > on * 19 / 10,
	       "without the bubble-free pipeline MHA attention takes %.2fx",
	       (double)off / on);
	a0 = pim_model_append_ns(&t.dm, &mha, 5000, 0);
	pim_dm_set_features(&t.dm, PIM_TF_ALL & ~PIM_TF_INFLIGHT_RELAYOUT);
	a1 = pim_model_append_ns(&t.dm, &mha, 5000, 0);
	pim_dm_set_features(&t.dm, PIM_TF_ALL);
	a2 = pim_model_append_ns(&t.dm, &mha, 5000, PIM_CMD_F_HOST_RELAYOUT);
	tap_ok(a1 > a0 * 29 / 10 && a2 == a1,
	       "host software re-layout makes append %.2fx slower", (double)a1 / a0);
	tap_ok(pim_model_append_ns(&t.dm, &mha, 5000, PIM_CMD_F_NO_RELAYOUT) == a0,
	       "writing without re-layout costs no more bus time");
	pim_dm_set_features(&t.dm, 0xff);
	tap_ok(pim_dm_features(&t.dm) == PIM_TF_ALL,
	       "unknown feature bits are ignored");
}

static void timelines(void)
{
	struct pim_kv_alloc s = shape(1, 2, 2, 20000);
	struct pim_timeline *tl = malloc(pim_timeline_bytes(&t.dm.g));
	struct pim_kv *kv, *kv2;
	u64 one, both, big, w, a;
	u32 r0, r1, rs = t.dm.g.ranksets;
	int ret;

	pim_tl_reset(tl, &t.dm);
	tap_ok(pim_tl_end_ns(tl) == 0, "an empty timeline ends at 0");
	kv = dmt_kv(&t, &s, &ret);
	kv2 = dmt_kv(&t, &s, &ret);
	pim_kv_append(&t.dm, kv, 0, 20000, NULL, NULL, 0);
	pim_kv_append(&t.dm, kv2, 0, 20000, NULL, NULL, 0);
	r0 = pim_kv_group_rank(kv, 0, 0);
	r1 = pim_kv_group_rank(kv, 0, 1);
	tap_ok(r0 != r1 && r0 / rs != r1 / rs,
	       "the two heads sit on ranks %u and %u of different channels",
	       r0, r1);

	/* Slowest rank: both groups run in parallel, the long one ends it. */
	pim_tl_reset(tl, &t.dm);
	pim_tl_attn(tl, kv, 0, 1000);
	one = pim_tl_end_ns(tl);
	pim_tl_reset(tl, &t.dm);
	pim_tl_attn(tl, kv, 0, 20000);
	big = pim_tl_end_ns(tl);
	pim_tl_attn(tl, kv2, 0, 1000);
	both = pim_tl_end_ns(tl);
	tap_ok(big > 10 * one && both == big,
	       "a batch ends with its slowest rank (%llu ns, not %llu)",
	       (unsigned long long)both, (unsigned long long)(big + one));
	pim_tl_attn(tl, kv, 0, 20000);
	tap_ok(pim_tl_end_ns(tl) >= 2 * big - 1,
	       "work on the same rank serialises");

	/* Channel bus: one rank per channel talks to the host at a time. */
	pim_tl_reset(tl, &t.dm);
	pim_tl_raw(tl, 0, 1 << 20, true);
	one = pim_tl_end_ns(tl);
	pim_tl_raw(tl, 1, 1 << 20, true);
	tap_ok(pim_tl_end_ns(tl) >= 2 * one,
	       "two ranks of one channel share its bus");
	pim_tl_reset(tl, &t.dm);
	pim_tl_raw(tl, 0, 1 << 20, true);
	pim_tl_raw(tl, rs, 1 << 20, true);
	tap_ok(pim_tl_end_ns(tl) == one, "ranks of two channels transfer in parallel");

	/* A rank being written does not compute; others keep computing. */
	pim_tl_reset(tl, &t.dm);
	pim_tl_append(tl, kv, 0, 5000, 0);
	w = pim_tl_end_ns(tl);
	pim_tl_reset(tl, &t.dm);
	pim_tl_attn(tl, kv, 0, 20000);
	a = pim_tl_end_ns(tl);
	pim_tl_append(tl, kv, 0, 5000, 0);
	tap_ok(pim_tl_end_ns(tl) >= a + w - 1,
	       "append to a computing rank waits for it (%llu + %llu ns)",
	       (unsigned long long)a, (unsigned long long)w);
	/* 1 MiB to the next rankset's rank on r0's channel: 41 us of bus. */
	pim_tl_reset(tl, &t.dm);
	pim_tl_raw(tl, r0 - r0 % rs + (r0 + 1) % rs, 1 << 20, true);
	w = pim_tl_end_ns(tl);
	pim_tl_reset(tl, &t.dm);
	pim_tl_attn(tl, kv, 0, 20000);
	pim_tl_raw(tl, r0 - r0 % rs + (r0 + 1) % rs, 1 << 20, true);
	tap_ok(pim_tl_end_ns(tl) < a + w / 10,
	       "rankset overlap: a transfer to another rankset overlaps compute (%llu ns)",
	       (unsigned long long)pim_tl_end_ns(tl));
	pim_dm_set_features(&t.dm, PIM_TF_ALL & ~PIM_TF_RANKSET_OVERLAP);
	pim_tl_reset(tl, &t.dm);
	pim_tl_attn(tl, kv, 0, 20000);
	pim_tl_raw(tl, r0 - r0 % rs + (r0 + 1) % rs, 1 << 20, true);
	tap_ok(pim_tl_end_ns(tl) >= a + w - 1,
	       "without rankset overlap it stalls the channel's ranks (%llu ns)",
	       (unsigned long long)pim_tl_end_ns(tl));
	pim_dm_set_features(&t.dm, PIM_TF_ALL);
	pim_tl_reset(tl, &t.dm);
	pim_tl_attn(tl, kv, 7, 100);
	pim_tl_append(tl, kv, 7, 100, 0);
	pim_tl_read(tl, kv, 7, 100);
	pim_tl_raw(tl, 99, 100, false);
	tap_ok(pim_tl_end_ns(tl) == 0, "commands on no layer or no rank add nothing");
	pim_tl_read(tl, kv, 0, 1000);
	tap_ok(pim_tl_end_ns(tl) > 0, "read-back takes time");
	pim_kv_release(&t.dm, kv);
	pim_kv_release(&t.dm, kv2);
	free(kv);
	free(kv2);
	free(tl);
}

/* One group's busy time on its rank, in ps, alone on the device. */
static u64 group_ps(struct pim_timeline *tl, const struct pim_kv *kv,
		    u32 group, u32 ctx)
{
	pim_tl_reset(tl, &t.dm);
	pim_tl_attn(tl, kv, 0, ctx);
	return tl->busy_ps[pim_kv_group_rank(kv, 0, group)];
}

/* GQA-8 with 12 KV heads: a group of 8 heads and a last one of 4. */
static void partial_group(void)
{
	struct pim_kv_alloc s12 = shape(1, 96, 12, 4096);
	struct pim_kv_alloc s8 = shape(1, 64, 8, 4096);
	struct pim_kv_alloc s4 = shape(1, 32, 4, 4096);
	struct pim_timeline *tl = malloc(pim_timeline_bytes(&t.dm.g));
	struct pim_kv *kv12, *kv8, *kv4;
	u64 full = 0, last = 0, p0 = 0, p1 = 0;
	int ret;

	kv12 = dmt_kv(&t, &s12, &ret);
	kv8 = dmt_kv(&t, &s8, &ret);
	kv4 = dmt_kv(&t, &s4, &ret);
	if (tl && kv12 && kv8 && kv4 && pim_kv_groups(kv12) == 2 &&
	    pim_kv_group_heads(kv12, 1) == 4) {
		full = group_ps(tl, kv8, 0, 3000);
		last = group_ps(tl, kv4, 0, 3000);
		p0 = group_ps(tl, kv12, 0, 3000);
		p1 = group_ps(tl, kv12, 1, 3000);
	}
	tap_ok(full && last && full != last && p0 == full && p1 == last,
	       "a short last group is timed by its own heads (%llu, %llu ps)",
	       (unsigned long long)p0, (unsigned long long)p1);
	if (kv12)
		pim_kv_release(&t.dm, kv12);
	if (kv8)
		pim_kv_release(&t.dm, kv8);
	if (kv4)
		pim_kv_release(&t.dm, kv4);
	free(kv12);
	free(kv8);
	free(kv4);
	free(tl);
}

int main(void)
{
	struct pim_geometry g;
	struct pim_timing tm;

	tap_plan(4 + 8 + 4 + 11 + 1 + 2);
	pim_geom_default(&g, 2ULL << 40);
	if (dmt_init(&t, &g, false))
		return 1;
	table1();
	scaling();
	ablations();
	timelines();
	partial_group();
	tm = t.dm.t;
	tm.tccd_l = 0;
	tap_ok(pim_dm_set_timing(&t.dm, &tm) == -EINVAL,
	       "a timing with tCCD_L 0 is rejected");
	tm.tccd_l = 16;		/* half the bank-PU rate */
	tap_ok(!pim_dm_set_timing(&t.dm, &tm) &&
	       pim_model_bank_bw(&t.dm) * 2 == pim_model_rank_bw(&t.dm) * 8,
	       "timings are configurable: tCCD_L 16 halves bank-level bandwidth");
	dmt_fini(&t);
	return tap_done();
}
