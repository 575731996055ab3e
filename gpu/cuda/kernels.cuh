/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * kernels.cuh - the CUDA backend's kernels: the CPU backend's FP32 math
 * (gpu/cpu_backend.c) operation for operation, so results are bit for bit
 * the same. Every sum runs in index order in one thread, every operation
 * is an explicitly rounded intrinsic (no FMA contraction), and expf is
 * glibc's algorithm (glibc_expf.cuh). Launchers return the launch's
 * cudaError_t; pointers are device memory, sizes are the model's.
 */
#ifndef PIMGPU_CUDA_KERNELS_CUH
#define PIMGPU_CUDA_KERNELS_CUH

#include <stdint.h>
#include <cuda_runtime.h>

/* Uploads glibc_expf's table; before any swiglu. */
cudaError_t kern_init(void);

/* x[i] = embed[tok[i]], n rows of h. */
cudaError_t kern_embed(const float *embed, const uint32_t *tok, uint32_t n,
		       uint32_t h, float *x);

/* y = rmsnorm(x) * g, row by row (n rows of h). */
cudaError_t kern_rmsnorm(const float *x, const float *g, uint32_t n,
			 uint32_t h, float *y);

/*
 * y[t][r] = (add ? add[t][r] : 0) + sum_c w[r][c] * x[t][c] for n rows
 * t of x and rows r of w; add may be y (in-place residual).
 */
cudaError_t kern_matmul(const float *w, const float *x, const float *add,
			uint32_t n, uint32_t rows, uint32_t cols, float *y);

/* RoPE on n rows of nh heads of d, by per-row tables of d / 2. */
cudaError_t kern_rope(float *x, const float *cos_t, const float *sin_t,
		      uint32_t n, uint32_t nh, uint32_t d);

/* gate = silu(gate) * up, count values. */
cudaError_t kern_swiglu(float *gate, const float *up, size_t count);

/* tok[i] = argmax of row i (n rows of vocab), the CPU's tie rules. */
cudaError_t kern_argmax(const float *logits, uint32_t n, uint32_t vocab,
			uint32_t *tok);

/*
 * Causal attention in double (pim/ref_attn.h's math) of ntok query rows
 * at positions ctx.. over FP16 k, v of ctx + ntok tokens; acc is ntok x
 * heads x hd doubles of scratch.
 */
cudaError_t kern_prefill_attn(const float *q, const uint16_t *k,
			      const uint16_t *v, uint32_t ctx, uint32_t ntok,
			      uint32_t heads, uint32_t kv_heads, uint32_t hd,
			      double scale, double *acc, float *out);

#endif /* PIMGPU_CUDA_KERNELS_CUH */
