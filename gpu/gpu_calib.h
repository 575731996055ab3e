/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * gpu_calib.h - measured GPU operator times (pim-gpucal's data files,
 * data/gpu/) and a timing model that uses them in place of the roofline.
 *
 * A data file is TSV: a header of "# key: value" comments, then one row
 * per measurement of one operator of one layer on one tensor-parallel
 * shard (one GPU):
 *
 *   op model tp tokens ctx work flops bytes seconds min_s max_s reps
 *
 * op is one of gpu_calib_op_name(); tokens is the GEMM row count, the
 * prefill chunk, or the decode batch; ctx the prefill prefix or the decode
 * context (0 for GEMMs); work the interpolation key (tokens for GEMMs,
 * causal query-key pairs for prefill, KV tokens read for decode); flops
 * and bytes what the shard's operator does; seconds the median time.
 * pim-gpucal (cuBLAS GEMMs, unfused attention) and gpu/calib/attn_sdpa.py
 * (fused attention) write such files; gpu/calib/merge_attn.py makes one
 * of them, the faster attention kernel at each shape (data/gpu/h200.tsv).
 */
#ifndef PIM_GPU_CALIB_H
#define PIM_GPU_CALIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "gpu.h"

enum gpu_calib_op {
	GC_QKV,			/* [T x h] x [h x (heads + 2 kv) d / tp] */
	GC_OUT_PROJ,		/* [T x h / tp] x [h / tp x h] */
	GC_FFN_IN,		/* [T x h] x [h x (ffn_mats - 1) ffn / tp] */
	GC_FFN_OUT,		/* [T x ffn / tp] x [ffn / tp x h] */
	GC_LM_HEAD,		/* [T x h] x [h x vocab (64-padded) / tp] */
	GC_PREFILL_ATTN,	/* causal, chunk T after a prefix of ctx */
	GC_DECODE_ATTN,		/* T requests of ctx tokens each */
	GC_NR_OPS,
};

struct gpu_calib_row {
	enum gpu_calib_op op;
	char model[32];
	uint32_t tp;
	uint64_t tokens, ctx;
	double work, flops, bytes;
	double seconds, min_s, max_s;	/* median, fastest, slowest */
	uint32_t reps;
};

struct gpu_calib {
	char path[256];
	char gpu[64];		/* "# gpu:" as the driver names it */
	char preset[32];	/* "# preset:": the gpu_spec it calibrates */
	struct gpu_calib_row *row;
	size_t nr, cap;
};

const char *gpu_calib_op_name(enum gpu_calib_op op);
/* -EINVAL for an unknown name. */
int gpu_calib_op_parse(const char *name, enum gpu_calib_op *op);

/*
 * Read a data file: 0, or -errno with "FILE:LINE: why" in err. The file
 * must name its preset and hold at least one row; rows must be in
 * increasing work within each (op, model, tp).
 */
int gpu_calib_load(const char *path, struct gpu_calib **out, char *err,
		   size_t errlen);
void gpu_calib_free(struct gpu_calib *c);

/* A GEMM operator's weight on one shard: k x n; -EINVAL for attention. */
int gpu_calib_gemm_dims(const struct gpu_model *m, enum gpu_calib_op op,
			double *k, double *n);

/*
 * The shard-level shape of a measurement: per-GPU flops and bytes and the
 * interpolation key, as pim-gpucal records them.
 */
void gpu_calib_shape(const struct gpu_model *m, enum gpu_calib_op op,
		     uint64_t tokens, uint64_t ctx, double *work,
		     double *flops, double *bytes);

/*
 * Roofline seconds of one operator of one layer (the LM head: once), for
 * one replica, split the way gpu_roofline_time() splits it; the sum over
 * a batch's operators plus the all-reduces is gpu_roofline_time(). For
 * prefill, t is the batch's FC tokens (roofline.c counts their q and out).
 */
double gpu_calib_roofline_op(const struct gpu_spec *hw,
			     const struct gpu_model *m, enum gpu_calib_op op,
			     double work, double kv_tokens, double t);
/* The roofline time of a data row's shape (its own chunk as t). */
double gpu_calib_roofline_row(const struct gpu_spec *hw,
			      const struct gpu_model *m,
			      const struct gpu_calib_row *r);

/*
 * 0 if c calibrates hw (by preset name) and holds every operator of m at
 * m->tp, with flops that match m's shape; else -EINVAL and why in err.
 */
int gpu_calib_check(const struct gpu_calib *c, const struct gpu_spec *hw,
		    const struct gpu_model *m, char *err, size_t errlen);

/*
 * Measured seconds of one operator at (work, kv_tokens, t): the roofline
 * time times measured/roofline, interpolated log-linearly in work between
 * the rows of (op, m->name, m->tp) and held at the end rows beyond them.
 * So it is exact at measured points, lies between neighbouring
 * measurements for the GEMMs and decode, and grows linearly in work past
 * the largest. A negative value if c holds no such rows.
 */
double gpu_calib_op_time(const struct gpu_calib *c,
			 const struct gpu_spec *hw, const struct gpu_model *m,
			 enum gpu_calib_op op, double work, double kv_tokens,
			 double t);

/*
 * gpu_roofline_time() with measured operator times: the same per-layer
 * decomposition; the two all-reduces per layer stay modeled (one GPU
 * cannot measure tensor-parallel communication). Check c first.
 */
double gpu_calib_time(const struct gpu_calib *c, const struct gpu_spec *hw,
		      const struct gpu_model *m, const struct gpu_work *w);

/* Output of pim-gpucal (and of tests): the header, then rows. */
void gpu_calib_write_header(FILE *f, const char *const *kv, size_t n);
void gpu_calib_write_row(FILE *f, const struct gpu_calib_row *r);

#endif /* PIM_GPU_CALIB_H */
