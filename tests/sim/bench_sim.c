// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The headline pimsim run: 1,000 requests of OpenR1-Math (the longest
 * trace) on GPT-175B with L3, and the same on GPU-only; host seconds on
 * one core, plus the simulated throughput gain.
 */
#include <stdio.h>
#include <time.h>
#include "sim.h"

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int run(const char *sys, struct sim_result *r, double *cpu)
{
	struct sim_config cfg;
	struct sim_workload w;
	const char *why;
	double t;
	int ret;

	sim_config_default(&cfg);
	if (sim_config_apply(&cfg, "system", sys, &why) ||
	    sim_trace_generate("openr1", 1000, 1, &w))
		return 1;
	t = cpu_s();
	ret = sim_run(&cfg, &w, r);
	*cpu = cpu_s() - t;
	sim_workload_free(&w);
	return ret;
}

int main(void)
{
	struct sim_result l3, gpu;
	double c3, cg;

	if (run("l3", &l3, &c3) || run("gpu-only", &gpu, &cg))
		return 1;
	printf("bench pimsim-gpt175b-openr1-l3-cpu %.2f s\n", c3);
	printf("bench pimsim-gpt175b-openr1-gpuonly-cpu %.2f s\n", cg);
	printf("bench pimsim-gpt175b-openr1-l3-vs-gpuonly %.2f x\n",
	       l3.throughput / gpu.throughput);
	return 0;
}
