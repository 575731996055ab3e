/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * sim.h - pimsim: a trace-driven, virtual-time simulator of L3 and its
 * baselines, running the real scheduler (sched/) and, for DIMM-PIM, the
 * real device model (dm/) at paper scale.
 */
#ifndef PIM_SIM_H
#define PIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "gpu.h"
#include "gpu_calib.h"
#include "sched.h"

/* Where decode attention runs. */
enum sim_dev_kind {
	DEV_GPU,		/* GPU-only: the GPUs' HBM holds KV */
	DEV_HBM_PIM,		/* bank-level PIM in the GPUs' HBM (AttAcc) */
	DEV_HBM_PIM_EXT,	/* extra HBM-PIM that holds only KV */
	DEV_RPIM,		/* rank-level DIMM-PIM */
	DEV_CPU,		/* host CPU over DDR (NEO-style) */
	DEV_L3,			/* L3 DIMM-PIM: the device model */
	DEV_NR_KINDS,
};

struct sim_system {
	char name[32];
	enum sim_dev_kind kind;
	struct gpu_spec gpu;
	uint32_t gpus;		/* GPUs in the server (tp * dp of the model) */
	double dev_bytes;	/* attention memory outside the GPUs, bytes */
	double dev_bw;		/* its bandwidth, bytes/s (not L3) */
	double hbm_pim_x;	/* HBM-PIM: internal bandwidth / HBM bandwidth */
	double link_bw;		/* GPUs <-> attention device, bytes/s */
	double cap_scale;	/* sweeps: capacity and bandwidth factors */
	double bw_scale;
	uint32_t features;	/* L3: PIM_TF_* */
	enum sched_policy policy;
};

struct sim_req {
	double arrival;		/* seconds */
	uint32_t in, out;	/* prompt and output tokens */
};

struct sim_workload {
	char name[32];
	struct sim_req *req;
	uint32_t nr;
};

struct sim_config {
	struct sim_system sys;
	struct gpu_model model;
	char model_name[32];		/* storage for model.name */
	char trace[32];			/* preset, when trace_file is empty */
	char trace_file[256];
	uint32_t requests;		/* generated traces */
	uint64_t seed;
	uint32_t profile_samples;	/* offline predictor profile */
	bool pim_exact;			/* no device-time interpolation */
	bool one_batch;			/* L3 may fall back to one batch */
	FILE *timeline;			/* per-iteration CSV, or NULL */
	/* Measured GPU operator times in place of the roofline, or NULL. */
	const struct gpu_calib *gpu_calib;
};

struct sim_result {
	char system[32], model[32], trace[32], policy[16];
	uint32_t requests, rejected;
	uint32_t mismatched;		/* ended with other than its tokens */
	uint64_t tokens, iterations;
	double time_s, throughput;	/* output tokens per second */
	double batch_avg, batch_peak;	/* requests per iteration */
	double tbt_mean, tbt_p50, tbt_p99;	/* seconds */
	double gpu_busy, pim_busy, overlap;	/* fractions of time */
	double pim_err_med, gpu_err_med;
	double kv_capacity;		/* bytes of KV memory, all replicas */
	double kv_peak;			/* peak bytes placed */
	double wall_s;			/* host time the run took */
};

/* system.c: presets and config files */
void sim_config_default(struct sim_config *cfg);
int sim_system_preset(const char *name, struct sim_system *sys);
const char *sim_system_preset_at(unsigned int i);
int sim_model_preset(const char *name, struct sim_config *cfg);
/* One "key = value" setting; -EINVAL with *why. */
int sim_config_apply(struct sim_config *cfg, const char *key,
		     const char *val, const char **why);
/* Apply a file of settings; errors name FILE:LINE. */
int sim_config_load(const char *path, struct sim_config *cfg, char *err,
		    size_t errlen);
/* 0, or -EINVAL with *why. */
int sim_config_check(const struct sim_config *cfg, const char **why);

/* trace.c: workloads */
const char *sim_trace_preset_at(unsigned int i);
int sim_trace_generate(const char *name, uint32_t nr, uint64_t seed,
		       struct sim_workload *w);
/* The workload cfg names: its trace file, or a generated preset. */
int sim_workload_load(const struct sim_config *cfg, struct sim_workload *w,
		      char *err, size_t errlen);
int sim_trace_load(const char *path, struct sim_workload *w, char *err,
		   size_t errlen);
void sim_workload_free(struct sim_workload *w);

/* engine.c */
int sim_run(const struct sim_config *cfg, const struct sim_workload *w,
	    struct sim_result *res);

/* calib_report.c: the roofline against a calibration's measurements */
struct sim_calib_err {
	unsigned int n;
	double median, max;	/* roofline / measured - 1: median, max |.| */
};
/* Over the rows of op (GC_NR_OPS: every op) of model m (NULL: all). */
void sim_calib_err(const struct gpu_calib *c, const struct gpu_spec *hw,
		   const struct gpu_model *m, unsigned int op,
		   struct sim_calib_err *e);
/* Every row, then per op a summary; the rows' models are presets. */
void sim_calib_report(FILE *f, const struct gpu_calib *c,
		      const struct gpu_spec *hw);
/* One "# gpu: ..." line for a run's output. */
void sim_calib_line(FILE *f, const struct gpu_calib *c,
		    const struct gpu_spec *hw, const struct gpu_model *m);

/* report.c */
void sim_print_table_header(FILE *f);
void sim_print_table_row(FILE *f, const struct sim_result *r);
void sim_print_csv_header(FILE *f);
void sim_print_csv_row(FILE *f, const struct sim_result *r);
void sim_print_json(FILE *f, const struct sim_result *r, bool last);

#endif /* PIM_SIM_H */
