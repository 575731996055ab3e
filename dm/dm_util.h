/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * dm_util.h - small integer helpers shared by the device-model sources.
 * Not part of the API.
 */
#ifndef PIM_DM_UTIL_H
#define PIM_DM_UTIL_H

#include "dm_types.h"

/* Kernel spellings; glibc's <sys/cdefs.h> has __always_inline. */
#ifndef __KERNEL__
#define noinline	__attribute__((__noinline__))
#define __aligned(x)	__attribute__((__aligned__(x)))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define PIM_BURST_BYTES		64	/* one BL8 burst on a 64-bit bus */
#define PIM_CHIPS		8	/* x8 chips per rank */
#define PIM_BEAT_BYTES		8	/* bytes per chip per burst */

static inline u32 pim_min32(u32 a, u32 b)
{
	return a < b ? a : b;
}

static inline u32 pim_max32(u32 a, u32 b)
{
	return a > b ? a : b;
}

static inline u64 pim_max64(u64 a, u64 b)
{
	return a > b ? a : b;
}

static inline u64 pim_div_up(u64 a, u64 b)
{
	return (a + b - 1) / b;
}

/* Index of the lowest set bit; x must not be 0. */
static inline u32 pim_ctz64(u64 x)
{
	return __builtin_ctzll(x);
}

/* Clear bits above the highest set bit; x must not be 0. */
static inline u32 pim_clz64(u64 x)
{
	return __builtin_clzll(x);
}

static inline bool pim_is_pow2(u64 x)
{
	return x && !(x & (x - 1));
}

#endif /* PIM_DM_UTIL_H */
