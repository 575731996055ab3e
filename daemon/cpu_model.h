/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cpu_model.h - the models pimd serves with a compute backend and the CPU
 * transformer that computes them, shared by pimd and the demo client's
 * reference decode (both must build the same weights from the same seed).
 */
#ifndef PIMD_CPU_MODEL_H
#define PIMD_CPU_MODEL_H

#include <stdint.h>

#include "gpu/gpu.h"

/* "tiny": a small GQA Llama shape the device and a TCG guest can serve. */
extern const struct gpu_model pimd_tiny_model;
/*
 * "small": 8 layers, hidden 768, GQA 12/4, 57M parameters: enough work
 * per token for a real GPU to have something to do, within the CPU
 * backend's limits so its tokens can still be checked on the CPU.
 */
extern const struct gpu_model pimd_small_model;

/* "tiny", "small", or a gpu/ preset (which only compute none serves). */
const struct gpu_model *pimd_model_find(const char *name);

/* The CPU backend (gpu/gpu_cpu.h) for model m, weights from seed. */
int pimd_cpu_backend_new(const struct gpu_model *m, uint64_t seed,
			 struct gpu_backend **out);

#endif /* PIMD_CPU_MODEL_H */
