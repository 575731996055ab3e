/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * tap.h - minimal TAP 13 output for the project's test programs.
 *
 *	tap_plan(n);
 *	tap_ok(cond, "name %d", i);
 *	tap_skip("why");
 *	return tap_done();	// exit status: 0 if nothing failed
 */
#ifndef PIM_TESTS_TAP_H
#define PIM_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed, tap_planned;

static inline void tap_plan(int n)
{
	printf("TAP version 13\n1..%d\n", n);
	tap_planned = n;
}

__attribute__((format(printf, 2, 3)))
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

__attribute__((format(printf, 1, 2)))
static inline void tap_skip(const char *fmt, ...)
{
	va_list ap;

	printf("ok %d # SKIP ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

__attribute__((format(printf, 1, 2)))
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static inline int tap_done(void)
{
	if (!tap_planned)
		printf("1..%d\n", tap_n);
	else if (tap_n != tap_planned)
		printf("# planned %d tests, ran %d\n", tap_planned, tap_n);
	fflush(stdout);
	return tap_failed || (tap_planned && tap_n != tap_planned);
}

#endif /* PIM_TESTS_TAP_H */
