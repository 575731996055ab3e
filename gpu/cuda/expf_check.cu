// SPDX-License-Identifier: GPL-2.0
/*
 * expf_check.cu - TAP: the GPU's glibc_expf (glibc_expf.cuh), which the
 * CUDA backend's SiLU uses, against this machine's glibc expf on all 2^32
 * float inputs; CUDA's own expf is measured beside it for the record.
 * NaN matches NaN whatever the payload. Skips without a GPU.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cuda_runtime.h>

#include "glibc_expf.cuh"

#define CHUNK	(1U << 28)

__global__ static void expf_k(uint32_t base, float *ours, float *cuda)
{
	uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
	float x = __uint_as_float(base + i);

	ours[i] = glibc_expf(x);
	cuda[i] = expf(x);
}

static uint32_t bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static float from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* Distance in representable floats; NaN against NaN is 0. */
static uint64_t ulps(float a, float b)
{
	int64_t ia = bits(a), ib = bits(b);

	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b) ? 0 : UINT32_MAX;
	ia = ia & 0x80000000 ? 0x80000000LL - ia : ia;
	ib = ib & 0x80000000 ? 0x80000000LL - ib : ib;
	return ia > ib ? ia - ib : ib - ia;
}

struct tally {
	uint64_t differ, max_ulp;
};

static void tally(struct tally *t, const float *got, const float *want,
		  uint32_t n)
{
	uint64_t differ = 0, max_ulp = 0;
	long i;

#pragma omp parallel for reduction(+:differ) reduction(max:max_ulp)
	for (i = 0; i < (long)n; i++) {
		uint64_t u = ulps(got[i], want[i]);

		differ += u != 0;
		max_ulp = u > max_ulp ? u : max_ulp;
	}
	t->differ += differ;
	if (max_ulp > t->max_ulp)
		t->max_ulp = max_ulp;
}

static int check(cudaError_t e, const char *what)
{
	if (e == cudaSuccess)
		return 0;
	printf("not ok 1 - %s: %s\n", what, cudaGetErrorString(e));
	return 1;
}

int main(void)
{
	struct tally ours = { 0, 0 }, cuda = { 0, 0 };
	float *d_ours, *d_cuda, *h_ours, *h_cuda, *want;
	uint64_t base;
	cudaError_t e;
	int n = 0;

	printf("TAP version 13\n1..1\n");
	e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n <= 0) {
		printf("ok 1 # SKIP no NVIDIA GPU: %s\n",
		       e != cudaSuccess ? cudaGetErrorString(e) :
		       "no CUDA device");
		return 0;
	}
	if (check(glibc_expf_init(), "expf table") ||
	    check(cudaMalloc(&d_ours, CHUNK * 4ULL), "cudaMalloc") ||
	    check(cudaMalloc(&d_cuda, CHUNK * 4ULL), "cudaMalloc") ||
	    check(cudaMallocHost(&h_ours, CHUNK * 4ULL), "cudaMallocHost") ||
	    check(cudaMallocHost(&h_cuda, CHUNK * 4ULL), "cudaMallocHost") ||
	    check(cudaMallocHost(&want, CHUNK * 4ULL), "cudaMallocHost"))
		return 1;
	for (base = 0; base < 1ULL << 32; base += CHUNK) {
		long i;

		expf_k<<<CHUNK / 256, 256>>>(base, d_ours, d_cuda);
		if (check(cudaGetLastError(), "launch"))
			return 1;
		/* the host's share runs while the GPU computes */
#pragma omp parallel for
		for (i = 0; i < (long)CHUNK; i++)
			want[i] = expf(from_bits(base + i));
		if (check(cudaMemcpy(h_ours, d_ours, CHUNK * 4ULL,
				     cudaMemcpyDeviceToHost), "copy") ||
		    check(cudaMemcpy(h_cuda, d_cuda, CHUNK * 4ULL,
				     cudaMemcpyDeviceToHost), "copy"))
			return 1;
		tally(&ours, h_ours, want, CHUNK);
		tally(&cuda, h_cuda, want, CHUNK);
	}
	printf("# CUDA's expf: %llu of 2^32 inputs differ from glibc's, max %llu ulp\n",
	       (unsigned long long)cuda.differ,
	       (unsigned long long)cuda.max_ulp);
	printf("%sok 1 - glibc_expf on the GPU equals the host's expf on all 2^32 inputs (%llu differ, max %llu ulp)\n",
	       ours.differ ? "not " : "", (unsigned long long)ours.differ,
	       (unsigned long long)ours.max_ulp);
	return ours.differ != 0;
}
