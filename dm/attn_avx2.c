// SPDX-License-Identifier: GPL-2.0 OR MIT
/* attn_avx2.c - attn.c built with -mavx2 -mf16c: same source, same bits. */
#define ATTN_FN(x)	x##_avx2
#include "attn.c"
