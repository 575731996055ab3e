/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cpu_model.h - the model pimd serves by default and the CPU transformer
 * that computes it, shared by pimd and the demo client's reference decode
 * (both must build the same weights from the same seed).
 */
#ifndef PIMD_CPU_MODEL_H
#define PIMD_CPU_MODEL_H

#include <stdint.h>

#include "gpu/gpu.h"

/* "tiny": a small GQA Llama shape the device and a TCG guest can serve. */
extern const struct gpu_model pimd_tiny_model;

/* The CPU backend (gpu/gpu_cpu.h) for model m, weights from seed. */
int pimd_cpu_backend_new(const struct gpu_model *m, uint64_t seed,
			 struct gpu_backend **out);

#endif /* PIMD_CPU_MODEL_H */
