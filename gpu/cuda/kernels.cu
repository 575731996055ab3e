// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kernels.cu - the CUDA backend's FP32 kernels (kernels.cuh).
 *
 * Exactness over speed: one thread owns each output value and runs its
 * sum in index order, as the CPU backend does; tiling only stages the
 * operands in shared memory. Built with -fmad=false and IEEE division and
 * square root, and every operation is spelled as a rounded intrinsic.
 */
#include <math.h>
#include <stdint.h>

#include "glibc_expf.cuh"
#include "kernels.cuh"

#define RMS_EPS		1e-5f

/* matmul tiles: MM_R rows of w by MM_T rows of x, MM_K columns a step */
#define MM_R		32
#define MM_T		8
#define MM_K		128
#define MM_THREADS	(MM_R * MM_T)
#define MM_WPT		(MM_R * MM_K / MM_THREADS)	/* w loads a thread */
#define MM_XPT		(MM_T * MM_K / MM_THREADS)

#define ROW_THREADS	256

/* The expf table lives in this unit's constant memory. */
cudaError_t kern_init(void)
{
	return glibc_expf_init();
}

/* ---- elementwise and row kernels ---- */

__global__ static void embed_k(const float *embed, const uint32_t *tok,
			       uint32_t h, float *x)
{
	const float *src = embed + (size_t)tok[blockIdx.x] * h;
	float *dst = x + (size_t)blockIdx.x * h;
	uint32_t i;

	for (i = threadIdx.x; i < h; i += blockDim.x)
		dst[i] = src[i];
}

cudaError_t kern_embed(const float *embed, const uint32_t *tok, uint32_t n,
		       uint32_t h, float *x)
{
	embed_k<<<n, ROW_THREADS>>>(embed, tok, h, x);
	return cudaGetLastError();
}

/*
 * One block a row: the row is staged in shared memory, thread 0 sums the
 * squares in order, all threads scale.
 */
__global__ static void rmsnorm_k(const float *x, const float *g, uint32_t h,
				 float *y)
{
	extern __shared__ float row[];
	__shared__ float r;
	const float *xr = x + (size_t)blockIdx.x * h;
	float *yr = y + (size_t)blockIdx.x * h;
	uint32_t i;

	for (i = threadIdx.x; i < h; i += blockDim.x)
		row[i] = xr[i];
	__syncthreads();
	if (threadIdx.x == 0) {
		float ss = 0;

#pragma unroll 16
		for (i = 0; i < h; i++)
			ss = __fadd_rn(ss, __fmul_rn(row[i], row[i]));
		r = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(
			__fdiv_rn(ss, (float)h), RMS_EPS)));
	}
	__syncthreads();
	for (i = threadIdx.x; i < h; i += blockDim.x)
		yr[i] = __fmul_rn(__fmul_rn(row[i], r), g[i]);
}

cudaError_t kern_rmsnorm(const float *x, const float *g, uint32_t n,
			 uint32_t h, float *y)
{
	rmsnorm_k<<<n, ROW_THREADS, h * sizeof(float)>>>(x, g, h, y);
	return cudaGetLastError();
}

/*
 * Thread (r, t) of a block owns y[t0 + t][r0 + r]; each step stages MM_K
 * columns of MM_R rows of w and MM_T rows of x and adds them in order,
 * while the next step's operands are already being loaded.
 */
__device__ static void matmul_load(const float *w, const float *x,
				   uint32_t n, uint32_t rows, uint32_t cols,
				   uint32_t r0, uint32_t t0, uint32_t k0,
				   uint32_t lin, float *wr, float *xr)
{
	uint32_t j, i, kk;

	for (j = 0; j < MM_WPT; j++) {
		i = lin + j * MM_THREADS;
		kk = k0 + i % MM_K;
		wr[j] = r0 + i / MM_K < rows && kk < cols ?
			w[(size_t)(r0 + i / MM_K) * cols + kk] : 0.0f;
	}
	for (j = 0; j < MM_XPT; j++) {
		i = lin + j * MM_THREADS;
		kk = k0 + i % MM_K;
		xr[j] = t0 + i / MM_K < n && kk < cols ?
			x[(size_t)(t0 + i / MM_K) * cols + kk] : 0.0f;
	}
}

__global__ static void matmul_k(const float *w, const float *x,
				const float *add, uint32_t n, uint32_t rows,
				uint32_t cols, float *y)
{
	__shared__ float ws[MM_R][MM_K + 1], xs[MM_T][MM_K + 1];
	uint32_t tr = threadIdx.x, tt = threadIdx.y;
	uint32_t r0 = blockIdx.y * MM_R, t0 = blockIdx.x * MM_T;
	uint32_t lin = tt * MM_R + tr, k0, k, j, i;
	float acc = 0, wr[MM_WPT], xr[MM_XPT];

	matmul_load(w, x, n, rows, cols, r0, t0, 0, lin, wr, xr);
	for (k0 = 0; k0 < cols; k0 += MM_K) {
		for (j = 0; j < MM_WPT; j++) {
			i = lin + j * MM_THREADS;
			ws[i / MM_K][i % MM_K] = wr[j];
		}
		for (j = 0; j < MM_XPT; j++) {
			i = lin + j * MM_THREADS;
			xs[i / MM_K][i % MM_K] = xr[j];
		}
		__syncthreads();
		if (k0 + MM_K < cols)
			matmul_load(w, x, n, rows, cols, r0, t0, k0 + MM_K,
				    lin, wr, xr);
		if (k0 + MM_K <= cols) {
			/* unrolled: the shared loads run ahead of the adds */
#pragma unroll
			for (k = 0; k < MM_K; k++)
				acc = __fadd_rn(acc, __fmul_rn(ws[tr][k],
							       xs[tt][k]));
		} else {
			for (k = 0; k0 + k < cols; k++)
				acc = __fadd_rn(acc, __fmul_rn(ws[tr][k],
							       xs[tt][k]));
		}
		__syncthreads();
	}
	if (r0 + tr < rows && t0 + tt < n) {
		size_t at = (size_t)(t0 + tt) * rows + r0 + tr;

		y[at] = add ? __fadd_rn(add[at], acc) : acc;
	}
}

cudaError_t kern_matmul(const float *w, const float *x, const float *add,
			uint32_t n, uint32_t rows, uint32_t cols, float *y)
{
	dim3 grid((n + MM_T - 1) / MM_T, (rows + MM_R - 1) / MM_R);
	dim3 block(MM_R, MM_T);

	matmul_k<<<grid, block>>>(w, x, add, n, rows, cols, y);
	return cudaGetLastError();
}

/* One thread per (row, head, pair i): pairs (i, i + d / 2). */
__global__ static void rope_k(float *x, const float *cos_t,
			      const float *sin_t, uint32_t n, uint32_t nh,
			      uint32_t d)
{
	uint32_t half = d / 2;
	size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	size_t row = id / ((size_t)nh * half);
	uint32_t i = id % half;
	float c, s, x0, x1, *p;

	if (row >= n)
		return;
	p = x + id / half * d;
	c = cos_t[row * half + i];
	s = sin_t[row * half + i];
	x0 = p[i];
	x1 = p[i + half];
	p[i] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
	p[i + half] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
}

cudaError_t kern_rope(float *x, const float *cos_t, const float *sin_t,
		      uint32_t n, uint32_t nh, uint32_t d)
{
	size_t count = (size_t)n * nh * (d / 2);

	rope_k<<<(count + ROW_THREADS - 1) / ROW_THREADS, ROW_THREADS>>>(
		x, cos_t, sin_t, n, nh, d);
	return cudaGetLastError();
}

__global__ static void swiglu_k(float *gate, const float *up, size_t count)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	float g;

	if (i >= count)
		return;
	g = gate[i];
	gate[i] = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, glibc_expf(-g))),
			    up[i]);
}

cudaError_t kern_swiglu(float *gate, const float *up, size_t count)
{
	swiglu_k<<<(count + ROW_THREADS - 1) / ROW_THREADS, ROW_THREADS>>>(
		gate, up, count);
	return cudaGetLastError();
}

/*
 * The CPU's argmax keeps the first of the largest non-NaN values, and
 * ends on the last index when all are NaN: a maximum under one total
 * order, so any reduction order gives it.
 */
__device__ static bool argmax_better(float a, uint32_t ia, float b,
				     uint32_t ib)
{
	if (isnan(a) || isnan(b))
		return isnan(b) ? !isnan(a) || ia > ib : false;
	return a > b || (a == b && ia < ib);
}

__global__ static void argmax_k(const float *logits, uint32_t vocab,
				uint32_t *tok)
{
	__shared__ float bv[ROW_THREADS];
	__shared__ uint32_t bi[ROW_THREADS];
	const float *p = logits + (size_t)blockIdx.x * vocab;
	uint32_t i, t = threadIdx.x, best = t < vocab ? t : 0;
	uint32_t s;

	for (i = t + blockDim.x; i < vocab; i += blockDim.x)
		if (argmax_better(p[i], i, p[best], best))
			best = i;
	bv[t] = p[best];
	bi[t] = best;
	__syncthreads();
	for (s = blockDim.x / 2; s; s /= 2) {
		if (t < s && argmax_better(bv[t + s], bi[t + s], bv[t],
					   bi[t])) {
			bv[t] = bv[t + s];
			bi[t] = bi[t + s];
		}
		__syncthreads();
	}
	if (!t)
		tok[blockIdx.x] = bi[0];
}

cudaError_t kern_argmax(const float *logits, uint32_t n, uint32_t vocab,
			uint32_t *tok)
{
	argmax_k<<<n, ROW_THREADS>>>(logits, vocab, tok);
	return cudaGetLastError();
}
