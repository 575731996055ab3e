// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The CUDA half of pim-gpucal: FP16 GEMMs with FP32 accumulation through
 * cublasGemmEx, and an unfused attention (two cuBLAS strided-batched
 * GEMMs around a masked softmax kernel), timed with CUDA events.
 *
 * Each timed batch of runs is queued behind a delay kernel, so the GPU
 * runs them back to back and the events see GPU time, not the host's
 * launch rate. Inputs that a real model reads cold (a layer's weights,
 * its KV) rotate over enough copies to exceed twice the L2 cache.
 */
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include "gpucal.h"

static cublasHandle_t handle;
static size_t l2_bytes;

#define MAX_COPIES	16

static int cuda_err(cudaError_t e, const char *what, char *err,
		    size_t errlen)
{
	if (e == cudaSuccess)
		return 0;
	snprintf(err, errlen, "%s: %s", what, cudaGetErrorString(e));
	return -1;
}

static int blas_err(cublasStatus_t s, const char *what, char *err,
		    size_t errlen)
{
	if (s == CUBLAS_STATUS_SUCCESS)
		return 0;
	snprintf(err, errlen, "%s: cuBLAS status %d", what, (int)s);
	return -1;
}

/* Device buffers of one measurement, freed on every way out. */
struct buffers {
	std::vector<void *> p;

	~buffers()
	{
		for (void *q : p)
			cudaFree(q);
	}
};

__global__ void fill_kernel(__half *p, size_t n, uint32_t seed)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;

	for (; i < n; i += (size_t)gridDim.x * blockDim.x) {
		uint32_t x = (uint32_t)i * 2654435761u ^ seed;

		x ^= x >> 15;
		x *= 2246822519u;
		x ^= x >> 13;
		/* small values: no overflow in long FP16 dot products */
		p[i] = __float2half(((x & 0xffff) / 65536.0f - 0.5f) * 0.1f);
	}
}

/* n FP16 values of noise, or FP32 scratch when f16 is false. */
static int alloc(buffers &b, size_t n, bool f16, void **out, char *err,
		 size_t errlen)
{
	size_t bytes = n * (f16 ? 2 : 4);
	void *p;

	if (cuda_err(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc", err,
		     errlen))
		return -1;
	b.p.push_back(p);
	*out = p;
	if (f16 && n) {
		fill_kernel<<<1024, 256>>>((__half *)p, n,
					   (uint32_t)b.p.size() * 7919u);
		return cuda_err(cudaGetLastError(), "fill", err, errlen);
	}
	return 0;
}

static unsigned int copies_for(size_t bytes)
{
	size_t want = 2 * l2_bytes, n = bytes ? (want + bytes - 1) / bytes : 1;

	return (unsigned int)std::min<size_t>(std::max<size_t>(n, 1),
					      MAX_COPIES);
}

__global__ void delay_kernel(unsigned long long ns)
{
	unsigned long long start, now;

	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
	do {
		__nanosleep(1000);
		asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
	} while (now - start < ns);
}

/*
 * Warm up, estimate one run, then time reps runs queued behind a delay,
 * an event between each two: per-run GPU times, their median and range.
 */
template <typename Op>
static int time_op(Op op, unsigned int copies, const struct gc_timing *tm,
		   struct gc_times *out, char *err, size_t errlen)
{
	std::vector<cudaEvent_t> ev;
	std::vector<double> t;
	unsigned int i, reps;
	float ms, est_ms;
	int ret = -1;

	for (i = 0; i < tm->warmup; i++)
		if (op(i % copies, err, errlen))
			return -1;
	ev.resize(tm->max_reps + 1);
	for (i = 0; i <= tm->max_reps; i++) {
		if (cuda_err(cudaEventCreate(&ev[i]), "cudaEventCreate", err,
			     errlen)) {
			ev.resize(i);
			goto out;
		}
	}
	if (cuda_err(cudaEventRecord(ev[0]), "cudaEventRecord", err, errlen) ||
	    op(0, err, errlen) ||
	    cuda_err(cudaEventRecord(ev[1]), "cudaEventRecord", err, errlen) ||
	    cuda_err(cudaEventSynchronize(ev[1]), "estimate", err, errlen) ||
	    cuda_err(cudaEventElapsedTime(&est_ms, ev[0], ev[1]),
		     "cudaEventElapsedTime", err, errlen))
		goto out;
	reps = (unsigned int)std::min<double>(tm->max_reps,
		std::max<double>(tm->min_reps, tm->target_s * 1e3 /
				 std::max(est_ms, 1e-3f)));
	/* long enough for the host to queue every run behind it */
	delay_kernel<<<1, 1>>>(2000000ULL + reps * 40000ULL);
	if (cuda_err(cudaGetLastError(), "delay", err, errlen))
		goto out;
	for (i = 0; i < reps; i++) {
		if (cuda_err(cudaEventRecord(ev[i]), "cudaEventRecord", err,
			     errlen) ||
		    op(i % copies, err, errlen))
			goto out;
	}
	if (cuda_err(cudaEventRecord(ev[reps]), "cudaEventRecord", err,
		     errlen) ||
	    cuda_err(cudaEventSynchronize(ev[reps]), "timed runs", err, errlen))
		goto out;
	for (i = 0; i < reps; i++) {
		if (cuda_err(cudaEventElapsedTime(&ms, ev[i], ev[i + 1]),
			     "cudaEventElapsedTime", err, errlen))
			goto out;
		t.push_back(ms * 1e-3);
	}
	std::sort(t.begin(), t.end());
	out->reps = reps;
	out->min = t.front();
	out->max = t.back();
	out->median = reps % 2 ? t[reps / 2] :
				 (t[reps / 2 - 1] + t[reps / 2]) / 2;
	ret = 0;
out:
	for (cudaEvent_t e : ev)
		cudaEventDestroy(e);
	return ret;
}

extern "C" int gc_open(int device, struct gc_info *info, char *err,
		       size_t errlen)
{
	cudaDeviceProp prop;
	cudaError_t e;
	int n = 0;

	e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || !n) {
		snprintf(err, errlen, "no CUDA device: %s",
			 e != cudaSuccess ? cudaGetErrorString(e) :
			 "the driver reports none");
		return -1;
	}
	if (device < 0 || device >= n) {
		snprintf(err, errlen, "no CUDA device %d (%d present)", device,
			 n);
		return -1;
	}
	if (cuda_err(cudaSetDevice(device), "cudaSetDevice", err, errlen) ||
	    cuda_err(cudaGetDeviceProperties(&prop, device),
		     "cudaGetDeviceProperties", err, errlen) ||
	    blas_err(cublasCreate(&handle), "cublasCreate", err, errlen))
		return -1;
	snprintf(info->name, sizeof(info->name), "%s", prop.name);
	info->cc_major = prop.major;
	info->cc_minor = prop.minor;
	info->mem_bytes = prop.totalGlobalMem;
	info->l2_bytes = l2_bytes = prop.l2CacheSize;
	cudaRuntimeGetVersion(&info->runtime);
	cudaDriverGetVersion(&info->driver);
	cublasGetVersion(handle, &info->cublas);
	return 0;
}

extern "C" void gc_close(void)
{
	if (handle)
		cublasDestroy(handle);
	handle = NULL;
}

extern "C" int gc_gemm(uint64_t t, uint64_t k, uint64_t n,
		       const struct gc_timing *tm, struct gc_times *out,
		       char *err, size_t errlen)
{
	unsigned int copies = copies_for(2 * k * n), c;
	const float one = 1, zero = 0;
	void *w[MAX_COPIES], *x, *y;
	buffers b;

	if (t > INT32_MAX || k > INT32_MAX || n > INT32_MAX) {
		snprintf(err, errlen, "GEMM %llux%llux%llu too large for cuBLAS",
			 (unsigned long long)t, (unsigned long long)k,
			 (unsigned long long)n);
		return -1;
	}
	for (c = 0; c < copies; c++)
		if (alloc(b, k * n, true, &w[c], err, errlen))
			return -1;
	if (alloc(b, t * k, true, &x, err, errlen) ||
	    alloc(b, t * n, true, &y, err, errlen))
		return -1;
	/* column-major: Y^T (n x t) = W (n x k, stored k-major) X^T */
	auto op = [&](unsigned int i, char *e, size_t elen) {
		return blas_err(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N,
					     (int)n, (int)t, (int)k, &one,
					     w[i], CUDA_R_16F, (int)k,
					     x, CUDA_R_16F, (int)k, &zero,
					     y, CUDA_R_16F, (int)n,
					     CUBLAS_COMPUTE_32F,
					     CUBLAS_GEMM_DEFAULT),
				"cublasGemmEx", e, elen);
	};
	return time_op(op, copies, tm, out, err, errlen);
}

static __device__ float block_reduce(float v, bool max, float *shm)
{
	unsigned int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
	int off;

	for (off = 16; off; off /= 2) {
		float o = __shfl_xor_sync(0xffffffff, v, off);

		v = max ? fmaxf(v, o) : v + o;
	}
	__syncthreads();	/* shm may still be read from the last call */
	if (!lane)
		shm[warp] = v;
	__syncthreads();
	v = lane < blockDim.x / 32 ? shm[lane] : (max ? -INFINITY : 0.0f);
	for (off = 16; off; off /= 2) {
		float o = __shfl_xor_sync(0xffffffff, v, off);

		v = max ? fmaxf(v, o) : v + o;
	}
	return v;
}

/*
 * One block per score row: softmax over the keys the row's query sees
 * (prefix plus its own position in the chunk), zero beyond them.
 */
__global__ void softmax_kernel(const float *s, __half *p, uint64_t keys,
			       uint64_t chunk, uint64_t ctx, uint64_t rows)
{
	__shared__ float shm[32];
	uint64_t row = blockIdx.x, i;
	const float *sr = s + row * keys;
	__half *pr = p + row * keys;
	uint64_t seen = ctx + (row % rows) % chunk + 1;
	float mx = -INFINITY, sum = 0, inv;

	for (i = threadIdx.x; i < seen; i += blockDim.x)
		mx = fmaxf(mx, sr[i]);
	mx = block_reduce(mx, true, shm);
	for (i = threadIdx.x; i < seen; i += blockDim.x)
		sum += __expf(sr[i] - mx);
	sum = block_reduce(sum, false, shm);
	inv = 1.0f / sum;
	for (i = threadIdx.x; i < keys; i += blockDim.x)
		pr[i] = __float2half(i < seen ? __expf(sr[i] - mx) * inv :
					       0.0f);
}

extern "C" int gc_attn(uint64_t batch, uint32_t grp, uint64_t chunk,
		       uint64_t ctx, uint32_t d, const struct gc_timing *tm,
		       struct gc_times *out, char *err, size_t errlen)
{
	uint64_t keys = ctx + chunk, rows = (uint64_t)grp * chunk;
	unsigned int copies = copies_for(2 * 2 * batch * keys * d), c;
	const float scale = 1.0f / sqrtf((float)d), one = 1, zero = 0;
	void *k[MAX_COPIES], *v[MAX_COPIES], *q, *s, *p, *o;
	buffers b;

	if (keys > INT32_MAX || rows > INT32_MAX || batch > INT32_MAX ||
	    batch * rows > INT32_MAX) {
		snprintf(err, errlen, "attention shape too large");
		return -1;
	}
	for (c = 0; c < copies; c++)
		if (alloc(b, batch * keys * d, true, &k[c], err, errlen) ||
		    alloc(b, batch * keys * d, true, &v[c], err, errlen))
			return -1;
	if (alloc(b, batch * rows * d, true, &q, err, errlen) ||
	    alloc(b, batch * rows * keys, false, &s, err, errlen) ||
	    alloc(b, batch * rows * keys, true, &p, err, errlen) ||
	    alloc(b, batch * rows * d, true, &o, err, errlen))
		return -1;
	/*
	 * Head-major: a group's grp query heads are one rows x d matrix.
	 * Column-major views: S^T (keys x rows) = K Q^T scaled, then
	 * O^T (d x rows) = V^T P^T.
	 */
	auto op = [&](unsigned int i, char *e, size_t elen) {
		if (blas_err(cublasGemmStridedBatchedEx(handle, CUBLAS_OP_T,
				CUBLAS_OP_N, (int)keys, (int)rows, (int)d,
				&scale, k[i], CUDA_R_16F, (int)d,
				(long long)(keys * d), q, CUDA_R_16F, (int)d,
				(long long)(rows * d), &zero, s, CUDA_R_32F,
				(int)keys, (long long)(rows * keys),
				(int)batch, CUBLAS_COMPUTE_32F,
				CUBLAS_GEMM_DEFAULT), "scores GEMM", e, elen))
			return -1;
		softmax_kernel<<<(unsigned int)(batch * rows), 256>>>(
			(const float *)s, (__half *)p, keys, chunk, ctx, rows);
		if (cuda_err(cudaGetLastError(), "softmax", e, elen))
			return -1;
		return blas_err(cublasGemmStridedBatchedEx(handle, CUBLAS_OP_N,
				CUBLAS_OP_N, (int)d, (int)rows, (int)keys,
				&one, v[i], CUDA_R_16F, (int)d,
				(long long)(keys * d), p, CUDA_R_16F,
				(int)keys, (long long)(rows * keys), &zero, o,
				CUDA_R_16F, (int)d, (long long)(rows * d),
				(int)batch, CUBLAS_COMPUTE_32F,
				CUBLAS_GEMM_DEFAULT), "output GEMM", e, elen);
	};
	return time_op(op, copies, tm, out, err, errlen);
}
