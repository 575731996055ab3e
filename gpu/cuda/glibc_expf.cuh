/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * glibc_expf.cuh - glibc's expf on the GPU, bit for bit, for SiLU.
 *
 * glibc's expf (sysdeps/ieee754/flt-32/e_expf.c, unchanged since 2.28) as
 * its x86-64 FMA variant computes it on every CPU with FMA and AVX2:
 * x * 32 / ln2 = k + r, exp(x) = 2^(k/32) * p(r) with 2^(j/32) from a
 * table and a cubic p, in double, with the same fused operations. CUDA's
 * expf differs from glibc's by up to 2 ulp, and a correctly rounded expf
 * differs from glibc's on rare inputs too. expf_check.cu compares this
 * one with the host's expf on all 2^32 inputs.
 *
 * The table is bits(2^(j/32)) - (j << 47); glibc_expf_init() uploads it.
 */
#ifndef PIMGPU_CUDA_GLIBC_EXPF_CUH
#define PIMGPU_CUDA_GLIBC_EXPF_CUH

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <cuda_runtime.h>

__constant__ uint64_t glibc_expf_tab[32];

static const double EXPF_INV_LN2_N = 0x1.71547652b82fep+0 * 32;
static const double EXPF_SHIFT = 0x1.8p+52;
static const double EXPF_C0 = 0x1.c6af84b912394p-5 / (32 * 32 * 32);
static const double EXPF_C1 = 0x1.ebfce50fac4f3p-3 / (32 * 32);
static const double EXPF_C2 = 0x1.62e42ff0c52d6p-1 / 32;

static __device__ __forceinline__ float glibc_expf(float x)
{
	uint32_t top = (__float_as_uint(x) >> 20) & 0x7ff;
	double xd = x, kd, r, z, r2, y;
	uint64_t ki, t;

	if (top >= 0x42b) {			/* |x| >= 88, inf or NaN */
		if (__float_as_uint(x) == 0xff800000u)
			return 0.0f;
		if (top >= 0x7f8)
			return x + x;
		if (x > 0x1.62e42ep6f)
			return __uint_as_float(0x7f800000u);
		if (x < -0x1.9fe368p6f)
			return 0.0f;
		if (x < -0x1.9d1d9ep6f)
			return 0x1p-149f;
	}
	kd = __fma_rn(EXPF_INV_LN2_N, xd, EXPF_SHIFT);
	ki = __double_as_longlong(kd);
	kd = __dsub_rn(kd, EXPF_SHIFT);
	r = __fma_rn(EXPF_INV_LN2_N, xd, -kd);
	t = glibc_expf_tab[ki % 32] + (ki << 47);
	z = __fma_rn(r, EXPF_C0, EXPF_C1);
	r2 = __dmul_rn(r, r);
	y = __fma_rn(r, EXPF_C2, 1.0);
	y = __fma_rn(z, r2, y);
	y = __dmul_rn(y, __longlong_as_double(t));
	return __double2float_rn(y);
}

static inline cudaError_t glibc_expf_init(void)
{
	uint64_t tab[32];
	double d;
	int j;

	/* exp2l is exact enough that rounding it gives the nearest double */
	for (j = 0; j < 32; j++) {
		d = (double)exp2l(j / 32.0L);
		memcpy(&tab[j], &d, sizeof(d));
		tab[j] -= (uint64_t)j << 47;
	}
	return cudaMemcpyToSymbol(glibc_expf_tab, tab, sizeof(tab));
}

#endif /* PIMGPU_CUDA_GLIBC_EXPF_CUH */
