/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* eval.h - the paper's evaluation set in one command (pimsim --eval). */
#ifndef PIM_SIM_EVAL_H
#define PIM_SIM_EVAL_H

#include <stdint.h>
#include "gpu_calib.h"

/*
 * Writes into dir: main.csv/.json (every system x model x trace),
 * h100.csv, ablation.csv, scaling.csv, timeline.csv, the gnuplot data
 * files and report.gp, and prints the tables. Generated traces have
 * `requests` requests (the paper: 1,000). With a GPU calibration (or
 * NULL), also calib.csv/.json: GPU-only and L3 on its GPU, roofline and
 * measured. 0 or -errno.
 */
int sim_eval(const char *dir, unsigned int jobs, uint32_t requests,
	     const struct gpu_calib *calib);

#endif /* PIM_SIM_EVAL_H */
