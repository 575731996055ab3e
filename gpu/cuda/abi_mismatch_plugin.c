// SPDX-License-Identifier: GPL-2.0
/*
 * abi_mismatch_plugin.c - build/gpu/cuda/abi-mismatch-plugin.so, for
 * tests/gpu/test_cuda_backend: a plugin whose entry point reports an ABI
 * version this loader does not speak, which it must refuse before calling
 * anything in the table.
 */
#include "pimgpu_cuda_abi.h"

const struct pimgpu_cuda_plugin *pimgpu_cuda_plugin_v1(void);

static const struct pimgpu_cuda_plugin old = {
	.abi = PIMGPU_CUDA_ABI_VERSION + 1,
	.size = sizeof(struct pimgpu_cuda_plugin),
};

const struct pimgpu_cuda_plugin *pimgpu_cuda_plugin_v1(void)
{
	return &old;
}
