// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_relayout.c - the rank PU's re-layout: the burst transpose, where
 * elements land (whole in one chip, K vertical in one bank, V across
 * banks), bit-exact read-back in every mode, and bad KV I/O.
 */
#include <stdlib.h>

#include "../tap.h"
#include "dm_test.h"

static struct dmt t;

static void transpose(void)
{
	u8 a[4096], b[4096], c[4096];
	bool prop = true;
	u32 i;

	for (i = 0; i < sizeof(a); i++)
		a[i] = dmt_rand();
	pim_relayout_bursts(b, a, sizeof(a));
	pim_relayout_bursts(c, b, sizeof(b));
	for (i = 0; i < sizeof(a); i++)
		prop = prop && b[i / 64 * 64 + i % 8 * 8 + i % 64 / 8] == a[i];
	tap_ok(!memcmp(a, c, sizeof(a)), "burst transpose is an involution");
	tap_ok(prop, "burst transpose: byte 8i + j goes to 8j + i");
}

/* Where the two bytes of the only nonzero element of a write landed. */
static int find_element(u32 rank, struct pim_dram_addr *lo,
			struct pim_dram_addr *hi)
{
	const u8 *m = (const u8 *)t.mem + (u64)rank * t.dm.g.rank_bytes;
	u64 i;
	int n = 0;

	for (i = 0; i < t.dm.g.rank_bytes; i++) {
		if (m[i] == 0xcd)
			n += !pim_addr_decode(&t.dm.g,
					      rank * t.dm.g.rank_bytes + i, lo);
		else if (m[i] == 0xab)
			n += !pim_addr_decode(&t.dm.g,
					      rank * t.dm.g.rank_bytes + i, hi);
	}
	return n;
}

static void where(void)
{
	struct pim_kv_alloc s = {
		.layers = 1, .q_heads = 4, .kv_heads = 4, .head_dim = 128,
		.dtype = PIM_DTYPE_FP16, .max_tokens = 64,
		.rankset_hint = PIM_RANKSET_ANY,
	};
	u16 k[4 * 128] = { 0 }, v[4 * 128] = { 0 };
	struct pim_dram_addr lo, hi, a;
	u32 rank, banks = 0, i, chips = 0;
	const u8 *m;
	struct pim_kv *kv;
	int ret, n;

	kv = dmt_kv(&t, &s, &ret);
	if (!kv) {
		tap_ok(0, "placement failed: %d", ret);
		return;
	}
	k[1 * 128 + 77] = 0xabcd;	/* head 1, element 77 */
	pim_kv_append(&t.dm, kv, 0, 1, k, v, 0);
	rank = pim_kv_group_rank(kv, 0, 1);
	n = find_element(rank, &lo, &hi);
	tap_ok(n == 2 && lo.chip == hi.chip && lo.bank == hi.bank &&
	       lo.row == hi.row && hi.column == lo.column + 1 && lo.column % 2 == 0,
	       "re-laid FP16 element lands whole in one chip (chip %u, beats %u-%u)",
	       lo.chip, lo.column % 8, hi.column % 8);
	tap_ok(lo.chip == 77 / 16, "N_hc 8: element 77 of 128 is on chip 77 / 16");
	pim_kv_release(&t.dm, kv);

	kv = dmt_kv(&t, &s, &ret);
	pim_kv_append(&t.dm, kv, 0, 1, k, v, PIM_CMD_F_NO_RELAYOUT);
	rank = pim_kv_group_rank(kv, 0, 1);
	n = find_element(rank, &lo, &hi);
	tap_ok(n == 2 && lo.chip != hi.chip,
	       "without re-layout the element is split over chips %u and %u",
	       lo.chip, hi.chip);
	pim_kv_release(&t.dm, kv);

	/* One token of all-ones K and V: which chips and banks hold it. */
	memset(k, 0xff, sizeof(k));
	memset(v, 0xff, sizeof(v));
	kv = dmt_kv(&t, &s, &ret);
	memset(t.mem, 0, t.dm.g.rank_bytes * t.dm.nranks);
	pim_kv_append(&t.dm, kv, 0, 1, k, v, 0);
	rank = pim_kv_group_rank(kv, 0, 0);
	m = (const u8 *)t.mem + (u64)rank * t.dm.g.rank_bytes;
	for (i = 0; i < 65536 * 2; i++) {
		if (!m[i])
			continue;
		pim_addr_decode(&t.dm.g, rank * t.dm.g.rank_bytes + i, &a);
		chips |= 1U << a.chip;
		banks |= 1U << (a.bank * t.dm.g.bank_groups + a.bank_group);
	}
	tap_ok(chips == 0xff && banks == 1,
	       "K of one token: vertical across all 8 chips, all in bank 0");
	banks = 0;
	m += 128 * 1024;	/* the V row-set of a one-row-set cache */
	for (i = 0; i < 128 * 1024; i++)
		if (m[i])
			banks |= 1U << (i / 8192);
	tap_ok(banks == 0xf, "V of one token: its 4 bursts in 4 different banks");
	pim_kv_release(&t.dm, kv);
	free(kv);
}

static void readback(u8 dtype, u32 q, u32 kvh, u32 d, u32 nhc, u32 flags)
{
	struct pim_kv_alloc s = {
		.layers = 2, .q_heads = q, .kv_heads = kvh, .head_dim = d,
		.dtype = dtype, .chips_per_head = nhc, .max_tokens = 1500,
		.rankset_hint = PIM_RANKSET_ANY,
	};
	u64 n = (u64)s.max_tokens * kvh * d;
	u16 *k = malloc(n * 2), *v = malloc(n * 2);
	u16 *k2 = calloc(n, 2), *v2 = calloc(n, 2);
	u32 done = 0, step[] = { 1, 7, 500, 511, 481 }, i;
	int ret;
	struct pim_kv *kv = dmt_kv(&t, &s, &ret);
	bool ok = kv && k && v && k2 && v2;

	for (i = 0; ok && i < n; i++) {
		k[i] = dmt_rand();
		v[i] = dmt_rand();
	}
	for (i = 0; ok && i < 5; i++) {
		ok = !pim_kv_append(&t.dm, kv, 1, step[i],
				    k + (u64)done * kvh * d,
				    v + (u64)done * kvh * d, flags);
		done += step[i];
	}
	ok = ok && pim_kv_len(kv, 1) == done && pim_kv_len(kv, 0) == 0 &&
	     !pim_kv_read(&t.dm, kv, 1, 0, done, k2, v2) &&
	     !memcmp(k, k2, (u64)done * kvh * d * 2) &&
	     !memcmp(v, v2, (u64)done * kvh * d * 2) &&
	     !pim_kv_read(&t.dm, kv, 1, 700, 3, k2, NULL) &&
	     !memcmp(k + 700ULL * kvh * d, k2, 3ULL * kvh * d * 2);
	tap_ok(ok, "%s q %u kv %u d %u N_hc %u (%u) flags %u: %u tokens read back bit-exact",
	       dtype == PIM_DTYPE_BF16 ? "BF16" : "FP16", q, kvh, d,
	       kv ? pim_kv_nhc(kv) : 0, nhc, flags, done);
	if (kv)
		pim_kv_release(&t.dm, kv);
	free(kv);
	free(k);
	free(v);
	free(k2);
	free(v2);
}

static void bad_io(void)
{
	struct pim_kv_alloc s = {
		.layers = 2, .q_heads = 8, .kv_heads = 8, .head_dim = 64,
		.dtype = PIM_DTYPE_BF16, .max_tokens = 100,
		.rankset_hint = PIM_RANKSET_ANY,
	};
	static u16 k[200 * 8 * 64], v[200 * 8 * 64];
	u8 raw[256];
	struct pim_kv *kv;
	u64 rb = t.dm.g.rank_bytes;
	int ret;

	kv = dmt_kv(&t, &s, &ret);
	if (!kv) {
		tap_ok(0, "placement failed: %d", ret);
		return;
	}
	tap_ok(pim_kv_append(&t.dm, kv, 0, 10, k, v, PIM_CMD_F_ALL) == -EINVAL,
	       "append with both re-layout flags: -EINVAL");
	tap_ok(pim_kv_append(&t.dm, kv, 0, 10, k, v, 1U << 5) == -EINVAL,
	       "append with an unknown flag: -EINVAL");
	tap_ok(pim_kv_append(&t.dm, kv, 2, 10, k, v, 0) == -EINVAL,
	       "append to a layer past the end: -EINVAL");
	tap_ok(pim_kv_append(&t.dm, kv, 0, 10, NULL, v, 0) == -EINVAL,
	       "append without K data: -EINVAL");
	tap_ok(!pim_kv_append(&t.dm, kv, 0, 60, k, v, PIM_CMD_F_HOST_RELAYOUT) &&
	       !pim_kv_append(&t.dm, kv, 0, 10, k, v, 0),
	       "host and in-flight re-layout mix in one layer");
	tap_ok(pim_kv_append(&t.dm, kv, 0, 10, k, v, PIM_CMD_F_NO_RELAYOUT) ==
	       -EINVAL && pim_kv_len(kv, 0) == 70,
	       "un-re-laid data after re-laid data: -EINVAL, nothing added");
	tap_ok(pim_kv_append(&t.dm, kv, 0, 31, k, v, 0) == -ENOSPC &&
	       pim_kv_len(kv, 0) == 70,
	       "append beyond max_tokens: -ENOSPC, nothing added");
	tap_ok(pim_kv_append(&t.dm, kv, 0, 0xffffffff, k, v, 0) == -ENOSPC,
	       "append of 2^32 - 1 tokens: -ENOSPC");
	tap_ok(!pim_kv_append(&t.dm, kv, 0, 0, k, v, 0) && pim_kv_len(kv, 0) == 70,
	       "append of 0 tokens is a no-op");
	tap_ok(pim_kv_read(&t.dm, kv, 0, 60, 11, k, v) == -ERANGE &&
	       pim_kv_read(&t.dm, kv, 0, 71, 0, k, v) == -ERANGE &&
	       pim_kv_read(&t.dm, kv, 0, 0xffffffff, 2, k, v) == -ERANGE,
	       "read beyond the layer's length: -ERANGE");
	tap_ok(pim_kv_read(&t.dm, kv, 1, 0, 1, k, v) == -ERANGE,
	       "read of an empty layer: -ERANGE");
	tap_ok(pim_kv_read(&t.dm, kv, 5, 0, 1, k, v) == -EINVAL,
	       "read of a layer past the end: -EINVAL");
	tap_ok(!pim_kv_append(&t.dm, kv, 1, 5, k, v, PIM_CMD_F_NO_RELAYOUT) &&
	       pim_kv_mode(kv, 1) == PIM_KV_UNRELAID &&
	       pim_kv_append(&t.dm, kv, 1, 5, k, v, 0) == -EINVAL,
	       "re-laid data after un-re-laid data: -EINVAL");
	pim_kv_release(&t.dm, kv);
	free(kv);

	memset(raw, 0x5a, sizeof(raw));
	tap_ok(!pim_raw_write(&t.dm, 3, rb - 256, raw, 256) &&
	       !pim_raw_read(&t.dm, 3, rb - 256, raw + 128, 128) &&
	       !memcmp((u8 *)t.mem + 4 * rb - 256, raw, 256),
	       "raw write/read at the end of a rank");
	tap_ok(pim_raw_read(&t.dm, 3, rb - 255, raw, 256) == -ERANGE &&
	       pim_raw_write(&t.dm, 3, ~0ULL, raw, 2) == -ERANGE &&
	       pim_raw_read(&t.dm, 3, 1, raw, ~0ULL) == -ERANGE,
	       "raw access past the rank or overflowing: -ERANGE");
	tap_ok(pim_raw_read(&t.dm, t.dm.nranks, 0, raw, 1) == -EINVAL &&
	       pim_raw_write(&t.dm, 0, 0, NULL, 1) == -EINVAL,
	       "raw access to no rank or from no buffer: -EINVAL");
}

int main(void)
{
	struct pim_geometry g;
	static const u32 cfg[][4] = {	/* q, kv, d, N_hc */
		{ 32, 32, 128, 0 }, { 64, 8, 128, 0 }, { 12, 3, 48, 0 },
		{ 8, 8, 256, 2 }, { 4, 4, 16, 0 }, { 16, 16, 64, 8 },
		{ 40, 5, 80, 4 }, { 6, 6, 96, 1 },
	};
	u32 i, f;

	tap_plan(2 + 5 + 8 * 2 * 3 + 16);
	pim_geom_default(&g, 256 << 20);
	if (dmt_init(&t, &g, true))
		return 1;
	transpose();
	where();
	for (i = 0; i < 8; i++)
		for (f = 0; f < 3; f++) {
			readback(PIM_DTYPE_FP16, cfg[i][0], cfg[i][1], cfg[i][2],
				 cfg[i][3], f == 2 ? PIM_CMD_F_NO_RELAYOUT : f);
			readback(PIM_DTYPE_BF16, cfg[i][0], cfg[i][1], cfg[i][2],
				 cfg[i][3], f == 2 ? PIM_CMD_F_NO_RELAYOUT : f);
		}
	bad_io();
	dmt_fini(&t);
	return tap_done();
}
