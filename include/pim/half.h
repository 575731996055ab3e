/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pim/half.h - FP16 and BF16 <-> FP32 conversions for userspace: the one
 * host-side implementation that libpim's tools, pimd, the GPU CPU backend
 * and the tests use to make and read KV elements. Round to nearest even,
 * as the device's KV writer does; NaN stays NaN. Plain integer code, so it
 * needs no _Float16 support from the compiler. (dm/ keeps its own
 * kernel-safe SIMD conversions.)
 */
#ifndef PIM_HALF_H
#define PIM_HALF_H

#include <stdint.h>
#include <string.h>
#include <linux/pim.h>

/* The bits of an FP32 value, and back. */
static inline uint32_t f32_to_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static inline float f32_from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* Keep m >> shift, rounding the dropped bits to nearest, ties to even. */
static inline uint32_t half_shift_rne(uint32_t m, uint32_t shift)
{
	uint32_t r = m >> shift, rem = m & ((1U << shift) - 1);
	uint32_t half = 1U << (shift - 1);

	return r + (rem > half || (rem == half && (r & 1)));
}

static inline uint16_t fp16_from_f32(float f)
{
	uint32_t x = f32_to_bits(f), sign = (x >> 16) & 0x8000;
	uint32_t e;

	x &= 0x7fffffff;
	if (x > 0x7f800000)			/* NaN: quiet */
		return sign | 0x7e00;
	if (x >= 0x47800000)			/* >= 2^16, or inf */
		return sign | 0x7c00;
	e = x >> 23;
	if (e >= 113)	/* normal: a carry out of the mantissa is right */
		return sign | half_shift_rne(((e - 112) << 23) |
					     (x & 0x7fffff), 13);
	if (e < 102)				/* below 2^-25 */
		return sign;
	return sign | half_shift_rne((x & 0x7fffff) | 0x800000, 126 - e);
}

static inline float fp16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;

	if (e == 0x1f)
		return f32_from_bits(sign | 0x7f800000 | m << 13);
	if (e)
		return f32_from_bits(sign | (e + 112) << 23 | m << 13);
	/* subnormal: m * 2^-24, exact in FP32 */
	return (sign ? -1.0f : 1.0f) * (float)m * 0x1p-24f;
}

static inline uint16_t bf16_from_f32(float f)
{
	uint32_t x = f32_to_bits(f);

	if ((x & 0x7fffffff) > 0x7f800000)	/* NaN: quiet, not rounded */
		return (x >> 16) | 0x40;
	return (x + 0x7fff + ((x >> 16) & 1)) >> 16;
}

static inline float bf16_to_f32(uint16_t h)
{
	return f32_from_bits((uint32_t)h << 16);
}

/* A KV element of dtype (PIM_DTYPE_FP16 or PIM_DTYPE_BF16) from f. */
static inline uint16_t elem_from_f32(unsigned int dtype, float f)
{
	return dtype == PIM_DTYPE_BF16 ? bf16_from_f32(f) : fp16_from_f32(f);
}

static inline float elem_to_f32(unsigned int dtype, uint16_t e)
{
	return dtype == PIM_DTYPE_BF16 ? bf16_to_f32(e) : fp16_to_f32(e);
}

#endif /* PIM_HALF_H */
