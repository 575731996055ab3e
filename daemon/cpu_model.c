// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_model.c - the default model, and the CPU backend that computes it.
 */
#include "cpu_model.h"
#include "gpu/gpu_cpu.h"

const struct gpu_model pimd_tiny_model = {
	.name = "tiny",
	.layers = 2,
	.heads = 4,
	.kv_heads = 2,
	.hidden = 128,
	.head_dim = 32,
	.ffn = 256,
	.ffn_mats = 3,
	.vocab = 256,
	.tp = 1,
	.dp = 1,
};

int pimd_cpu_backend_new(const struct gpu_model *m, uint64_t seed,
			 struct gpu_backend **out)
{
	return gpu_cpu_backend_new(m, seed, out);
}
