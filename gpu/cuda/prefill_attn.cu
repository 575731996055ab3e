// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * prefill_attn.cu - causal prefill attention in double (kernels.cuh), the
 * math of ref_attn_scratch() in pim/ref_attn.h: scores q . k * scale in
 * double with the dot in index order, the maximum subtracted, exp, their
 * sum, and sum_t p_t v_t / sum, both sums in token order as there. Only
 * exp (CUDA's, within 1 ulp) differs from the host's.
 */
#include <math.h>
#include <stdint.h>
#include <cuda_fp16.h>

#include "kernels.cuh"

#define ATTN_THREADS	256

__device__ static double kv_elem(const uint16_t *p, size_t i)
{
	return (double)__half2float(__ushort_as_half(p[i]));
}

__device__ static double score(const float *q, const uint16_t *k,
			       size_t stride, uint32_t hd, uint32_t t,
			       double scale)
{
	const uint16_t *kt = k + (size_t)t * stride;
	double dot = 0;
	uint32_t d;

#pragma unroll 8
	for (d = 0; d < hd; d++)
		dot = __dadd_rn(dot, __dmul_rn((double)q[d], kv_elem(kt, d)));
	return __dmul_rn(dot, scale);
}

/*
 * One block per (query row, head). Pass 1 finds the maximum score; pass 2
 * takes ATTN_THREADS tokens at a time: their weights into shared memory,
 * then thread 0 adds them to the sum and each thread its dimensions' acc.
 */
__global__ static void prefill_attn_k(const float *q, const uint16_t *k,
				      const uint16_t *v, uint32_t ctx,
				      uint32_t kv_heads, uint32_t hd,
				      double scale, double *acc, float *out)
{
	__shared__ double red[ATTN_THREADS], p[ATTN_THREADS], sum;
	uint32_t j = blockIdx.x, h = blockIdx.y, heads = gridDim.y;
	uint32_t group = heads / kv_heads, tid = threadIdx.x;
	uint32_t total = ctx + j + 1, t0, t, d, s, cnt;
	size_t stride = (size_t)kv_heads * hd, row = (size_t)j * heads + h;
	const float *qh = q + row * hd;
	const uint16_t *kh = k + (size_t)(h / group) * hd;
	const uint16_t *vh = v + (size_t)(h / group) * hd;
	double *ah = acc + row * hd, max = -INFINITY;

	for (t = tid; t < total; t += blockDim.x)
		max = fmax(max, score(qh, kh, stride, hd, t, scale));
	red[tid] = max;
	__syncthreads();
	for (s = blockDim.x / 2; s; s /= 2) {
		if (tid < s)
			red[tid] = fmax(red[tid], red[tid + s]);
		__syncthreads();
	}
	max = red[0];
	for (d = tid; d < hd; d += blockDim.x)
		ah[d] = 0;
	if (!tid)
		sum = 0;
	for (t0 = 0; t0 < total; t0 += blockDim.x) {
		cnt = min(total - t0, blockDim.x);
		if (tid < cnt)
			p[tid] = exp(__dsub_rn(score(qh, kh, stride, hd,
						     t0 + tid, scale), max));
		__syncthreads();
		if (!tid)
			for (t = 0; t < cnt; t++)
				sum = __dadd_rn(sum, p[t]);
		for (d = tid; d < hd; d += blockDim.x) {
			double a = ah[d];

			/* unrolled: V loads run ahead of the dependent adds */
#pragma unroll 8
			for (t = 0; t < cnt; t++)
				a = __dadd_rn(a, __dmul_rn(p[t], kv_elem(vh,
					(size_t)(t0 + t) * stride + d)));
			ah[d] = a;
		}
		__syncthreads();
	}
	for (d = tid; d < hd; d += blockDim.x)
		out[row * hd + d] = __double2float_rn(__ddiv_rn(ah[d], sum));
}

cudaError_t kern_prefill_attn(const float *q, const uint16_t *k,
			      const uint16_t *v, uint32_t ctx, uint32_t ntok,
			      uint32_t heads, uint32_t kv_heads, uint32_t hd,
			      double scale, double *acc, float *out)
{
	dim3 grid(ntok, heads);

	prefill_attn_k<<<grid, ATTN_THREADS>>>(q, k, v, ctx, kv_heads, hd,
					       scale, acc, out);
	return cudaGetLastError();
}
