// SPDX-License-Identifier: GPL-2.0
/*
 * serve_cpu.c - the CPU transformer (gpu/gpu_cpu.h) as a session's compute
 * backend: its weights come from the session's seed, so a client with the
 * same seed can compute the reference decode itself.
 */
#include <errno.h>

#include "serve.h"

bool serve_cpu_available(void)
{
	return false;
}

int serve_cpu_new(struct serve_model *sm, sd_bus_error *error)
{
	return pimd_error(error, -ENOEXEC,
			  "this pimd was built without the CPU backend");
}
