/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * gpu_cuda.h - the CUDA backend: the CPU backend's model (gpu_cpu.h), same
 * weights from the same seed, computed on an NVIDIA GPU.
 *
 * The GPU code lives in a plugin (libpimgpu-cuda.so) built only where nvcc
 * exists and opened with dlopen() at run time, so nothing here needs CUDA
 * to build or to run: without the plugin, a driver or a GPU the
 * constructor fails with an errno and a reason, and callers skip cleanly.
 *
 * time() returns the GPU seconds (CUDA events) of the compute callbacks
 * since the previous time() call. One thread at a time may use a backend.
 */
#ifndef PIM_GPU_CUDA_H
#define PIM_GPU_CUDA_H

#include <stdint.h>

#include "gpu.h"

/*
 * Environment variable naming the plugin file (a path; relative to the
 * working directory); unset or empty: the installed one,
 * $(PREFIX)/lib/pim/libpimgpu-cuda.so. In the source tree use
 * PIM_CUDA_PLUGIN=build/libpimgpu-cuda.so.
 */
#define GPU_CUDA_PLUGIN_ENV	"PIM_CUDA_PLUGIN"

/*
 * The backend for m (checked as gpu_cpu_model_check() does), weights from
 * seed (gpu_weights.h, as the CPU backend's). 0, or -EINVAL (model),
 * -ENOENT (no plugin), -ENOEXEC (not a plugin, or another ABI), -ENODEV
 * (no driver or no GPU), -ENOMEM or -EIO (CUDA failed), with *why (a
 * static string or a thread-local buffer valid until the next call) saying
 * what was missing. why may be NULL.
 *
 * Its ops return -EINVAL for a bad layer or token and -EIO or -ENOMEM when
 * CUDA fails; gpu_cuda_backend_error() then says why.
 */
int gpu_cuda_backend_new(const struct gpu_model *m, uint64_t seed,
			 struct gpu_backend **out, const char **why);

/* The CUDA error behind the last failed op of b (a CUDA backend). */
const char *gpu_cuda_backend_error(struct gpu_backend *b);

#endif /* PIM_GPU_CUDA_H */
