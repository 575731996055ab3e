/* SPDX-License-Identifier: GPL-2.0 */
/*
 * host_attn.h - attention on the host over FP16 KV, in double precision:
 * pimd's prefill ("GPU") attention and the demo's reference decode use
 * this one implementation.
 */
#ifndef PIMD_HOST_ATTN_H
#define PIMD_HOST_ATTN_H

#include <stdint.h>

#include "gpu/gpu.h"

uint16_t host_f32_to_fp16(float f);
double host_fp16_to_f64(uint16_t h);

/*
 * out (heads x head_dim) = attention of one query row q over the first ctx
 * tokens of k and v (ctx x kv_heads x head_dim FP16), scale
 * 1/sqrt(head_dim); score holds ctx doubles of scratch.
 */
void host_attn(const struct gpu_model *m, const float *q, const uint16_t *k,
	       const uint16_t *v, uint32_t ctx, double *score, float *out);

#endif /* PIMD_HOST_ATTN_H */
