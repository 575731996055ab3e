/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * plugin_path.h - for programs run from the build tree (the CUDA test and
 * benchmark, both two directories below build/): find build/, and point
 * PIM_CUDA_PLUGIN at build/libpimgpu-cuda.so unless it is set already.
 */
#ifndef PIMGPU_CUDA_PLUGIN_PATH_H
#define PIMGPU_CUDA_PLUGIN_PATH_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu_cuda.h"

/* build/ as an absolute path into dir (PATH_MAX bytes); 0 or -1. */
static inline int cuda_build_dir(char *dir)
{
	char exe[PATH_MAX + 8];
	ssize_t len;
	char *slash;

	len = readlink("/proc/self/exe", exe, PATH_MAX - 1);
	if (len <= 0)
		return -1;
	exe[len] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	strcpy(slash, "/../..");
	return realpath(exe, dir) ? 0 : -1;
}

static inline void cuda_plugin_default(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];

	if (getenv(GPU_CUDA_PLUGIN_ENV) || cuda_build_dir(dir))
		return;
	snprintf(path, sizeof(path), "%s/libpimgpu-cuda.so", dir);
	setenv(GPU_CUDA_PLUGIN_ENV, path, 0);
}

#endif /* PIMGPU_CUDA_PLUGIN_PATH_H */
