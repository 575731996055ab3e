/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * predict.h - the scheduler's online latency predictors.
 *
 * Both are weighted least squares with weight 1 / y^2, so they minimise
 * relative error, and a forgetting factor so they follow drift:
 *  - PIM: linear models over (1, sum ctx, #decodes, KV tokens moving in),
 *    the paper's features (VI-B), plus the busiest rankset class's excess
 *    context and decodes: each layer waits for its slowest rankset.
 *  - GPU: a model tree. The roofline of a batch is piecewise linear in its
 *    token count (each operator turns from memory- to compute-bound at its
 *    own batch size), so the tree splits on log2(tokens) into half-octave
 *    leaves and fits a linear model per leaf over (1, tokens, prefill
 *    query-key pairs, tokens with logits, GPU decode context). Unlike constant-leaf forests it
 *    extrapolates sensibly, learns from few samples, and refits in O(1).
 */
#ifndef PIM_SCHED_PREDICT_H
#define PIM_SCHED_PREDICT_H

#include <stdbool.h>
#include <stdint.h>

#define PRED_NFEAT	6
#define PRED_LEAVES	48
#define PRED_MIN_FIT	8	/* samples before a model predicts */

struct wls {
	double a[PRED_NFEAT][PRED_NFEAT];	/* sum w x x^T */
	double b[PRED_NFEAT];			/* sum w x y */
	double beta[PRED_NFEAT];
	uint32_t n;
	bool fitted;
};

void wls_add(struct wls *w, const double x[PRED_NFEAT], double y);
double wls_eval(const struct wls *w, const double x[PRED_NFEAT]);

struct pred_tree {
	struct wls root;
	struct wls leaf[PRED_LEAVES];
};

unsigned int pred_tree_leaf(double tokens);
void pred_tree_add(struct pred_tree *t, const double x[PRED_NFEAT], double y);
double pred_tree_eval(const struct pred_tree *t, const double x[PRED_NFEAT]);

#endif /* PIM_SCHED_PREDICT_H */
