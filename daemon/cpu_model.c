// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_model.c - the models served with a compute backend, and the CPU
 * backend that computes them.
 */
#include <string.h>

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

const struct gpu_model pimd_small_model = {
	.name = "small",
	.layers = 8,
	.heads = 12,
	.kv_heads = 4,
	.hidden = 768,
	.head_dim = 64,
	.ffn = 2048,
	.ffn_mats = 3,
	.vocab = 4096,
	.tp = 1,
	.dp = 1,
};

const struct gpu_model *pimd_model_find(const char *name)
{
	if (!strcmp(name, pimd_tiny_model.name))
		return &pimd_tiny_model;
	if (!strcmp(name, pimd_small_model.name))
		return &pimd_small_model;
	return gpu_model_find(name);
}

int pimd_cpu_backend_new(const struct gpu_model *m, uint64_t seed,
			 struct gpu_backend **out)
{
	return gpu_cpu_backend_new(m, seed, out);
}
