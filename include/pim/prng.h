/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pim/prng.h - the seeded generators of test, benchmark and model data:
 * the same values on every run and every machine. xorshift64* makes KV
 * and query data; splitmix64 makes the CPU backend's weights and pimd's
 * stand-in data.
 */
#ifndef PIM_PRNG_H
#define PIM_PRNG_H

#include <stdint.h>

/* *state must not be 0. */
static inline uint64_t prng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [-1, 1). */
static inline float prng_uniform(uint64_t *state)
{
	return (float)((double)(prng_next(state) >> 11) /
		       (double)(1ULL << 52)) - 1.0f;
}

static inline uint64_t prng_splitmix64(uint64_t *state)
{
	uint64_t x = (*state += 0x9e3779b97f4a7c15ULL);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#endif /* PIM_PRNG_H */
