/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz.h - the /dev/pimN ABI fuzzer: command generation and mutation
 * (fuzz_gen.c), one worker's rounds over every transport (fuzz_worker.c),
 * the functional check after a run (fuzz_check.c), the driver
 * (pim_fuzz.c).
 */
#ifndef PIM_TESTS_FUZZ_H
#define PIM_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/pim.h>

#define FZ_HANDLES	16
#define FZ_MAX_LAYERS	4
#define FZ_JOBS		8
#define FZ_BUF_BYTES	(1U << 20)
#define FZ_BASE		(1ULL << 40)

/* Counters a worker shares with the parent (MAP_SHARED, survives kills). */
struct fz_slot {
	uint64_t cmds;		/* commands handed to the driver */
	uint64_t ok;		/* completions with res >= 0 */
	uint64_t err;		/* completions or calls with an error */
	uint64_t raw;		/* raw-byte commands and ioctls */
	uint64_t closes;	/* files closed with work in flight */
	uint64_t round_seed;	/* seed of the round in progress */
	uint64_t round;
	int pid;
	int failed;		/* set with a message in why[] */
	char why[192];
};

/* A KV cache this worker placed, with the lengths it believes. */
struct fz_kv {
	uint32_t handle;
	struct pim_kv_alloc shape;
	uint32_t len[FZ_MAX_LAYERS];
};

struct fz_ctx {
	uint64_t rng;
	int fd;
	struct pim_info info;
	struct fz_kv kv[FZ_HANDLES];
	int nkv;
	/*
	 * All memory commands point at lies at FZ_BASE, far from anything
	 * else, so a mutated pointer that stays mapped stays in here.
	 */
	uint8_t *buf;		/* FZ_BUF_BYTES of data for K, V, q, out, raw */
	uint8_t *ro;		/* one read-only page: outputs there fault */
	uint8_t *hole;		/* one unmapped page */
	struct pim_attn_job *jobs;	/* FZ_JOBS */
	struct pim_kv_place *place;	/* FZ_MAX_LAYERS */
	struct fz_slot *slot;
};

/* What the generator made, for the completion's oracle. */
enum fz_expect {
	FZ_ANY,			/* mutated: any result, no kernel report */
	FZ_EINVAL,		/* a reserved header field is set */
	FZ_SUCCESS,		/* a well-formed NOP */
};

uint64_t fz_rand(struct fz_ctx *c);
uint32_t fz_below(struct fz_ctx *c, uint32_t n);
bool fz_chance(struct fz_ctx *c, uint32_t one_in);
uint64_t fz_mix(uint64_t seed, uint64_t a, uint64_t b);

/* A command: valid for the worker's state, then perhaps mutated. */
enum fz_expect fz_gen(struct fz_ctx *c, struct pim_cmd *cmd);
/* Random bytes for an ioctl argument of n bytes. */
void fz_fill(struct fz_ctx *c, void *p, size_t n);
/* A user address that is wrong in some way. */
uint64_t fz_bad_addr(struct fz_ctx *c);
/* Learn from a completed command (handles, layer lengths). */
void fz_learn(struct fz_ctx *c, const struct pim_cmd *cmd, int res);

/* One round: open, fuzz every transport for ops steps, close. */
int fz_round(struct fz_ctx *c, const char *dev, uint32_t ops);

/* alloc / append / read back / attention against the reference. */
int fz_check_device(const char *dev);

#endif /* PIM_TESTS_FUZZ_H */
