// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * How far the roofline is from a calibration's measurements: per row, and
 * summed up per operator and model. The error is roofline / measured - 1,
 * so +50% means the roofline takes 1.5x the measured time.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sim.h"

/* The preset model a row measured, at the row's tp; NULL if none. */
static const struct gpu_model *row_model(const struct gpu_calib_row *r)
{
	const struct gpu_model *m = gpu_model_find(r->model);

	return m && m->tp == r->tp ? m : NULL;
}

static double row_err(const struct gpu_spec *hw, const struct gpu_model *m,
		      const struct gpu_calib_row *r)
{
	return gpu_calib_roofline_row(hw, m, r) / r->seconds - 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void sim_calib_err(const struct gpu_calib *c, const struct gpu_spec *hw,
		   const struct gpu_model *m, unsigned int op,
		   struct sim_calib_err *e)
{
	double *v = malloc((c->nr ? c->nr : 1) * sizeof(*v));
	size_t i;

	memset(e, 0, sizeof(*e));
	if (!v)
		return;
	for (i = 0; i < c->nr; i++) {
		const struct gpu_calib_row *r = &c->row[i];
		const struct gpu_model *rm = m;

		if (op != GC_NR_OPS && r->op != op)
			continue;
		if (m ? strcmp(r->model, m->name) || r->tp != m->tp :
			!(rm = row_model(r)))
			continue;
		v[e->n++] = row_err(hw, rm, r);
		if (fabs(v[e->n - 1]) > e->max)
			e->max = fabs(v[e->n - 1]);
	}
	if (e->n) {
		qsort(v, e->n, sizeof(*v), cmp_double);
		e->median = e->n % 2 ? v[e->n / 2] :
				       (v[e->n / 2 - 1] + v[e->n / 2]) / 2;
	}
	free(v);
}

void sim_calib_report(FILE *f, const struct gpu_calib *c,
		      const struct gpu_spec *hw)
{
	struct sim_calib_err e;
	unsigned int op, skipped = 0;
	size_t i;

	fprintf(f, "# %s: %s, preset %s; roofline of preset %s (%.0f TFLOP/s x %.2f, %.0f GB/s x %.2f)\n",
		c->path, c->gpu[0] ? c->gpu : "GPU unnamed", c->preset,
		hw->name, hw->flops / 1e12, hw->compute_util, hw->mem_bw / 1e9,
		hw->bw_util);
	fprintf(f, "# err = roofline / measured - 1; times of one layer (lm_head: once), one shard\n");
	fprintf(f, "%-12s %-9s %3s %6s %6s %12s %12s %8s %9s\n", "op", "model",
		"tp", "tokens", "ctx", "measured_us", "roofline_us", "err%",
		"TFLOP/s");
	for (i = 0; i < c->nr; i++) {
		const struct gpu_calib_row *r = &c->row[i];
		const struct gpu_model *m = row_model(r);

		if (!m) {
			skipped++;
			continue;
		}
		fprintf(f, "%-12s %-9s %3u %6llu %6llu %12.2f %12.2f %8.1f %9.1f\n",
			gpu_calib_op_name(r->op), r->model, r->tp,
			(unsigned long long)r->tokens,
			(unsigned long long)r->ctx, r->seconds * 1e6,
			gpu_calib_roofline_row(hw, m, r) * 1e6,
			row_err(hw, m, r) * 100, r->flops / r->seconds / 1e12);
	}
	if (skipped)
		fprintf(f, "# %u rows skipped: their model is no preset at that tp\n",
			skipped);
	fprintf(f, "\n%-12s %5s %12s %12s\n", "op", "rows", "median_err%",
		"max_|err|%");
	for (op = 0; op <= GC_NR_OPS; op++) {
		sim_calib_err(c, hw, NULL, op, &e);
		if (!e.n)
			continue;
		fprintf(f, "%-12s %5u %12.1f %12.1f\n",
			op < GC_NR_OPS ? gpu_calib_op_name(op) : "all", e.n,
			e.median * 100, e.max * 100);
	}
}

void sim_calib_line(FILE *f, const struct gpu_calib *c,
		    const struct gpu_spec *hw, const struct gpu_model *m)
{
	struct sim_calib_err e;

	sim_calib_err(c, hw, m, GC_NR_OPS, &e);
	fprintf(f, "# gpu: measured operator times from %s (%s); roofline error on %s's %u rows: median %+.1f%%, max |%.1f%%|\n",
		c->path, c->gpu[0] ? c->gpu : c->preset, m->name, e.n,
		e.median * 100, e.max * 100);
}
