// SPDX-License-Identifier: GPL-2.0 OR MIT
/* cpu_user.c - userspace only: may the AVX2 + F16C attention build run? */
#include <cpuid.h>

#include "pim_dm.h"

bool pim_cpu_has_avx2(void)
{
	unsigned int a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	/* OSXSAVE and F16C, then YMM state enabled by the OS. */
	if (!(c & bit_OSXSAVE) || !(c & bit_F16C))
		return false;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6)
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return b & bit_AVX2;
}
