/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pim/prng.h - the seeded generator of test and benchmark data
 * (xorshift64*): the same values on every run and every machine.
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

#endif /* PIM_PRNG_H */
