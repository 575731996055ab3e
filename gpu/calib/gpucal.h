/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * gpucal.h - the CUDA half of pim-gpucal (measure.cu): one GPU, FP16
 * operators with FP32 accumulation, timed with CUDA events.
 */
#ifndef PIM_GPUCAL_H
#define PIM_GPUCAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gc_info {
	char name[256];
	int cc_major, cc_minor;
	size_t mem_bytes, l2_bytes;
	int runtime, driver, cublas;	/* versions, CUDA's encoding */
};

struct gc_timing {
	unsigned int warmup;	/* untimed runs first */
	unsigned int min_reps;	/* timed runs, at least */
	unsigned int max_reps;	/* and at most */
	double target_s;	/* aim for this much timed work */
};

struct gc_times {
	double median, min, max;	/* seconds */
	unsigned int reps;
};

/* 0, or -1 with a message in err ("no CUDA device: ..."). */
int gc_open(int device, struct gc_info *info, char *err, size_t errlen);
void gc_close(void);

/* Y[t x n] = X[t x k] W^T, W stored n x k (torch Linear's layout). */
int gc_gemm(uint64_t t, uint64_t k, uint64_t n, const struct gc_timing *tm,
	    struct gc_times *out, char *err, size_t errlen);

/*
 * Unfused causal attention of `batch` independent groups, each of grp
 * query heads sharing one KV head: chunk query rows after a prefix of
 * ctx keys, head dimension d. Prefill of one shard: batch = KV heads;
 * decode of B requests of L tokens: batch = B * KV heads, chunk 1,
 * ctx L - 1.
 */
int gc_attn(uint64_t batch, uint32_t grp, uint64_t chunk, uint64_t ctx,
	    uint32_t d, const struct gc_timing *tm, struct gc_times *out,
	    char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* PIM_GPUCAL_H */
