// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Online weighted least squares and the GPU model tree (see predict.h).
 */
#include <math.h>
#include <string.h>
#include "predict.h"

/* Old samples fade with a half-life of about 2,800 observations. */
#define PRED_FORGET	(1.0 - 1.0 / 4096)
#define PRED_RIDGE	1e-9

/*
 * Solve a beta = b after Jacobi scaling, so features of very different
 * magnitude (1 vs. millions of tokens) stay well conditioned. A feature
 * never seen non-zero keeps coefficient 0.
 */
static bool wls_solve(struct wls *w)
{
	double l[PRED_NFEAT][PRED_NFEAT], d[PRED_NFEAT], y[PRED_NFEAT];
	int i, j, k;

	for (i = 0; i < PRED_NFEAT; i++)
		d[i] = w->a[i][i] > 0 ? 1 / sqrt(w->a[i][i]) : 0;
	/* Cholesky of D A D + ridge, lower triangle. */
	for (i = 0; i < PRED_NFEAT; i++) {
		for (j = 0; j <= i; j++) {
			double s = w->a[i][j] * d[i] * d[j];

			if (i == j)
				s += d[i] ? PRED_RIDGE : 1;
			for (k = 0; k < j; k++)
				s -= l[i][k] * l[j][k];
			if (i == j) {
				if (s <= 0)
					return false;
				l[i][i] = sqrt(s);
			} else {
				l[i][j] = s / l[j][j];
			}
		}
	}
	for (i = 0; i < PRED_NFEAT; i++) {
		double s = w->b[i] * d[i];

		for (k = 0; k < i; k++)
			s -= l[i][k] * y[k];
		y[i] = s / l[i][i];
	}
	for (i = PRED_NFEAT - 1; i >= 0; i--) {
		double s = y[i];

		for (k = i + 1; k < PRED_NFEAT; k++)
			s -= l[k][i] * y[k];
		y[i] = s / l[i][i];
	}
	for (i = 0; i < PRED_NFEAT; i++)
		w->beta[i] = y[i] * d[i];
	return true;
}

void wls_add(struct wls *w, const double x[PRED_NFEAT], double y)
{
	double wt;
	int i, j;

	if (!(y > 0))
		return;
	wt = 1 / (y * y);
	for (i = 0; i < PRED_NFEAT; i++) {
		for (j = 0; j < PRED_NFEAT; j++)
			w->a[i][j] = w->a[i][j] * PRED_FORGET +
				     wt * x[i] * x[j];
		w->b[i] = w->b[i] * PRED_FORGET + wt * x[i] * y;
	}
	w->n++;
	if (w->n >= PRED_MIN_FIT)
		w->fitted = wls_solve(w) || w->fitted;
}

double wls_eval(const struct wls *w, const double x[PRED_NFEAT])
{
	double y = 0;
	int i;

	for (i = 0; i < PRED_NFEAT; i++)
		y += w->beta[i] * x[i];
	return y > 0 ? y : 0;
}

/* Half-octave leaves: 0 tokens, then [2^(k/2), 2^((k+1)/2)). */
unsigned int pred_tree_leaf(double tokens)
{
	int e;
	double m;
	unsigned int leaf;

	if (tokens < 1)
		return 0;
	m = frexp(tokens, &e);		/* tokens = m 2^e, m in [0.5, 1) */
	leaf = 1 + 2 * (unsigned int)(e - 1) + (m >= M_SQRT1_2);
	return leaf < PRED_LEAVES ? leaf : PRED_LEAVES - 1;
}

void pred_tree_add(struct pred_tree *t, const double x[PRED_NFEAT], double y)
{
	wls_add(&t->root, x, y);
	wls_add(&t->leaf[pred_tree_leaf(x[1])], x, y);
}

double pred_tree_eval(const struct pred_tree *t, const double x[PRED_NFEAT])
{
	const struct wls *leaf = &t->leaf[pred_tree_leaf(x[1])];

	return wls_eval(leaf->fitted ? leaf : &t->root, x);
}
