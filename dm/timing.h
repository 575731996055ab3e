/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * timing.h - the DDR4 timing model of the emulated L3 DIMM-PIM.
 *
 * Every constant below is either a DDR4-3200 timing from DRAMsim3's
 * configs/DDR4_8Gb_x8_3200.ini (the config the paper's CHIME-PIM-sim is
 * built on, L3 v2 tab-simulator) or a rank/bank-PU parameter of the paper;
 * docs/device-model.md gives the derivation of each figure.
 *
 * Derived rates at the defaults:
 *   host (channel) bus:  64 B per BL8 burst = 4 tCK = 2.5 ns -> 25.6 GB/s
 *   bank PU:             8 B per tCCD_L = 8 tCK = 5 ns        ->  1.6 GB/s
 *   rank, bank-level:    8 chips x 16 banks x 1.6 GB/s        -> 204.8 GB/s
 * so the paper's 16 ch x 2 DIMMs x 2 ranks give 1.64 TB/s rank-level and
 * 13.1 TB/s bank-level (Table I: "1.6 TB/s" and "13.0 TB/s").
 */
#ifndef PIM_DM_TIMING_H
#define PIM_DM_TIMING_H

#include "pim_dm.h"

struct pim_timing {
	u32 tck_ps;		/* 625: DDR4-3200 clock */
	u32 bl;			/* 8: burst length in beats (BL/2 tCK on the bus) */
	u32 cl;			/* 22 */
	u32 cwl;		/* 16 */
	u32 trcd;		/* 22 */
	u32 trp;		/* 22 */
	u32 tras;		/* 52 */
	u32 tccd_s;		/* 4 */
	u32 tccd_l;		/* 8: bank-PU column interval (same bank group) */
	u32 trrd_s;		/* 4 */
	u32 trrd_l;		/* 8 */
	u32 twtr_s;		/* 4 */
	u32 twtr_l;		/* 12 */
	u32 twr;		/* 24 */
	u32 trtp;		/* 12 */
	/*
	 * Bank PU: compute-memory ratio N_cmr (MACs per K/V element read).
	 * 0 = the layer's GQA group size, as in the paper (N_cmr = n for
	 * GQA-n), so the bank PU keeps up with one column per tCCD_L.
	 */
	u32 n_cmr;
	/*
	 * Bytes of one per-chip partial score O_s sent to the rank PU, and of
	 * one softmax output S sent back: FP32. This is the factor 2 that
	 * makes Eq. 1 give the paper's N_hc = 8 (MHA) and 1 (GQA-8).
	 */
	u32 psum_bytes;
	/*
	 * Rank-PU softmax unit: scores per tCK. Not published; 8 keeps the
	 * softmax off the critical path for every configuration of the paper
	 * (GQA-8 needs >= 4), which is what the paper reports.
	 */
	u32 sm_per_tck;
	/* Tokens per rank-PU softmax chunk (SRAM): the pipeline fill. */
	u32 chunk_tokens;
	/*
	 * Host software re-layout (UPMEM byte_interleave): the host reads the
	 * data and writes it back transposed before it goes out, i.e. one
	 * extra read and one extra write of the data on the channel (Facil's
	 * cost model, digest 11.1): relayout_passes = 2.
	 */
	u32 relayout_passes;
};

/* The DDR4-3200 x8 8Gb preset (DRAMsim3 DDR4_8Gb_x8_3200.ini). */
void pim_timing_ddr4_3200(struct pim_timing *t);

/*
 * A command's timeline: per-rank and per-channel "busy until" times in
 * picoseconds from the command's start. Work on one rank serialises, ranks
 * run in parallel, host transfers serialise per channel, and the command
 * ends when its slowest rank or channel ends.
 */
struct pim_timeline {
	const struct pim_dm *dm;
	u32 nranks;
	u32 nchan;
	u64 busy_ps[];		/* nranks ranks, then nchan channels */
};

#endif /* PIM_DM_TIMING_H */
