// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_geometry.c - geometry defaults and validation, and the address map:
 * decode/encode round trips, byte striping across chips, row-sets.
 */
#include "../tap.h"
#include "dm_test.h"

static void paper_default(void)
{
	struct pim_geometry g;

	pim_geom_default(&g, 2ULL << 40);
	tap_ok(g.channels == 16 && g.dimms_per_channel == 2 &&
	       g.ranks_per_dimm == 2 && g.ranksets == 4 &&
	       pim_geom_ranks(&g) == 64,
	       "2 TiB default is the paper's 16 ch x 2 DIMMs x 2 ranks");
	tap_ok(g.rank_bytes == 32ULL << 30 && g.chips_per_rank == 8 &&
	       pim_geom_banks(&g) == 16 && g.row_bytes == 1024,
	       "32 GiB ranks of 8 x8 chips, 4 x 4 banks, 1 KiB rows");
	tap_ok(!pim_geom_check(&g, NULL), "paper geometry is valid");
	pim_geom_default(&g, 256 << 20);
	tap_ok(!pim_geom_check(&g, NULL) && g.ranksets == 4 &&
	       g.rank_bytes * pim_geom_ranks(&g) <= 256 << 20,
	       "256 MiB default: %u channels x 4 ranksets, valid",
	       g.channels);
	pim_geom_default(&g, 3 << 20);
	tap_ok(!pim_geom_check(&g, NULL) && pim_geom_ranks(&g) == 1,
	       "3 MiB default: one rank");
	pim_geom_default(&g, 4096);
	tap_ok(pim_geom_check(&g, NULL) == -EINVAL,
	       "capacity below one row-set gives an invalid geometry");
}

static void bad_geometry(void)
{
	static const struct {
		const char *name;
		size_t off;
		u64 val;
	} cases[] = {
#define F(f, v) { #f " = " #v, offsetof(struct pim_geometry, f), v }
		F(channels, 0), F(channels, 17), F(dimms_per_channel, 0),
		F(ranks_per_dimm, 0), F(chips_per_rank, 4),
		F(chips_per_rank, 9), F(bank_groups, 3), F(bank_groups, 0),
		F(bank_groups, 16), F(banks_per_group, 5),
		F(row_bytes, 1000), F(row_bytes, 256), F(row_bytes, 32768),
		F(ranksets, 3), F(rank_bytes, 0), F(rank_bytes, 4096),
		F(rank_bytes, (32ULL << 30) + 8192),
		F(rank_bytes, 1ULL << 41), F(channels, 0xffffffffULL),
#undef F
	};
	struct pim_geometry g, b;
	const char *why;
	u32 i;

	pim_geom_default(&g, 2ULL << 40);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = g;
		if (cases[i].off == offsetof(struct pim_geometry, rank_bytes))
			b.rank_bytes = cases[i].val;
		else
			*(u32 *)((char *)&b + cases[i].off) = cases[i].val;
		why = NULL;
		tap_ok(pim_geom_check(&b, &why) == -EINVAL && why,
		       "rejects %s: %s", cases[i].name, why ? why : "-");
	}
	tap_ok(pim_geom_check(NULL, &why) == -EINVAL, "rejects no geometry");
}

static void addr_map(void)
{
	struct pim_geometry g;
	struct pim_dram_addr a, b;
	u64 off, back, total;
	bool ok = true, stripe = true, rowset = true;
	u32 i;

	pim_geom_default(&g, 2ULL << 40);
	total = g.rank_bytes * pim_geom_ranks(&g);
	for (i = 0; i < 200000 && ok; i++) {
		off = dmt_rand() % total;
		ok = !pim_addr_decode(&g, off, &a) &&
		     !pim_addr_encode(&g, &a, &back) && back == off &&
		     a.grank == a.channel * g.ranksets + a.rankset &&
		     a.rankset == a.dimm * g.ranks_per_dimm + a.rank;
		/* Byte 8b + c of a burst is beat b of chip c. */
		stripe = stripe && a.chip == off % 8 &&
			 a.column % 8 == off % 64 / 8;
	}
	tap_ok(ok, "decode/encode round trip at 200000 random offsets");
	tap_ok(stripe, "host bytes are striped across the 8 chips by burst beat");
	/* A row-set (one row of every bank) is 128 KiB of contiguous host
	 * memory, one bank row of 8 KiB after the other.
	 */
	for (i = 0; i < 128 * 1024 && rowset; i += 64) {
		pim_addr_decode(&g, 5 * 131072ULL + i, &a);
		rowset = a.row == 5 && a.bank_group == i / 8192 % 4 &&
			 a.bank == i / 8192 / 4 &&
			 a.column == i % 8192 / 64 * 8;
	}
	tap_ok(rowset, "a row-set is contiguous, bank rows in bank-group order");
	tap_ok(pim_addr_decode(&g, total, &a) == -ERANGE,
	       "decode past the last rank: -ERANGE");
	pim_addr_decode(&g, 12345, &a);
	b = a;
	b.chip = 8;
	tap_ok(pim_addr_encode(&g, &b, &back) == -ERANGE, "encode chip 8: -ERANGE");
	b = a;
	b.row = g.rank_bytes / 131072;
	tap_ok(pim_addr_encode(&g, &b, &back) == -ERANGE,
	       "encode past the last row: -ERANGE");
	b = a;
	b.column = g.row_bytes;
	tap_ok(pim_addr_encode(&g, &b, &back) == -ERANGE,
	       "encode column row_bytes: -ERANGE");
	g.row_bytes = 1000;
	tap_ok(pim_addr_decode(&g, 0, &a) == -EINVAL,
	       "decode with an invalid geometry: -EINVAL");
}

int main(void)
{
	tap_plan(6 + 20 + 8);
	paper_default();
	bad_geometry();
	addr_map();
	return tap_done();
}
