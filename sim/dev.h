/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * dev.h - the attention device of one replica in pimsim: where KV lives,
 * and how long a sub-batch's decode attention takes there.
 */
#ifndef PIM_SIM_DEV_H
#define PIM_SIM_DEV_H

#include "sim.h"

struct sim_dev;

struct sim_dev_ops {
	/*
	 * Place KV for max_tokens tokens, layer l on rankset (rankset + l)
	 * mod ranksets: 0, -ENOSPC, or -E2BIG (never fits).
	 */
	int (*alloc)(struct sim_dev *d, uint32_t slot, uint32_t max_tokens,
		     uint32_t rankset);
	void (*release)(struct sim_dev *d, uint32_t slot);
	/*
	 * Nanoseconds of sub-batch i's PIM side: its decodes' KV appends and
	 * attention, the other sub-batch's prefill KV moving in (kv_sub), and
	 * the GPU link traffic of both.
	 */
	uint64_t (*time)(struct sim_dev *d, const struct sched_sub *sub,
			 const struct sched_sub *kv_sub);
	void (*destroy)(struct sim_dev *d);
};

struct sim_dev {
	const struct sim_dev_ops *ops;
	double capacity;	/* KV bytes */
	uint32_t ranksets;	/* for the scheduler's placement; 0: none */
	bool costly;		/* time() is worth memoizing (engine.c) */
	double used;		/* KV bytes placed */
	double peak;
};

/* One replica's device: 1/dp of the system's attention memory. */
int sim_dev_new(const struct sim_config *cfg, uint32_t max_slots,
		struct sim_dev **out);
int sim_dev_l3_new(const struct sim_config *cfg, uint32_t max_slots,
		   struct sim_dev **out);

/* Link time of a sub-batch: decode q/k/v/out, and prefill KV moving in. */
double sim_link_decode_s(const struct sim_config *cfg,
			 const struct sched_sub *sub);
double sim_link_kv_s(const struct sim_config *cfg, uint64_t tokens);

#endif /* PIM_SIM_DEV_H */
