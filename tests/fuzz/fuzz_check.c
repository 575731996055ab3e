// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_check.c - is the device still right after a fuzz run? Place a KV
 * cache, append random tokens, read them back bit for bit, run decode
 * attention against the double-precision reference, free it, and find
 * the whole capacity free again.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "../kmod/pimt.h"
#include "../tap.h"

#define CK_TOKENS	48

int fz_check_device(const char *dev)
{
	struct pim_kv_alloc s = pimt_shape(2, 4, 2, 64, PIM_DTYPE_FP16, 64);
	size_t kv = pimt_kv_bytes(&s, CK_TOKENS);
	size_t nq = (size_t)s.q_heads * s.head_dim;
	uint16_t *k = malloc(kv), *v = malloc(kv);
	uint16_t *kb = malloc(kv), *vb = malloc(kv);
	float *q = malloc(nq * 4), *out = malloc(nq * 4);
	double *ref = malloc(nq * sizeof(*ref));
	uint64_t st = 0x6a09e667f3bcc909ULL, ns = 0;
	struct pim_attn_job job = { 0 };
	struct pimt_dev d;
	int h, ret, failed = tap_failed;
	double err;

	setenv("PIM_DEV", dev, 1);
	pimt_open(&d);
	if (!k || !v || !kb || !vb || !q || !out || !ref) {
		tap_ok(0, "check: memory for the functional check");
		goto out;
	}
	pimt_fill_kv(&st, s.dtype, k, kv / 2);
	pimt_fill_kv(&st, s.dtype, v, kv / 2);
	pimt_fill_q(&st, q, nq);
	h = pimt_kv_alloc(d.fd, &s);
	if (!tap_ok(h > 0, "check: KV_ALLOC after the fuzz (%d)", h))
		goto out;
	tap_ok(pimt_kv_append(d.fd, h, 1, 0, CK_TOKENS, k, v, 0) == 0 &&
	       pimt_kv_read(d.fd, h, 1, 0, CK_TOKENS, kb, vb) == 0 &&
	       !memcmp(k, kb, kv) && !memcmp(v, vb, kv),
	       "check: %d appended tokens read back bit for bit", CK_TOKENS);
	job.handle = h;
	job.layer = 1;
	job.ctx_len = CK_TOKENS;
	job.q_addr = (uintptr_t)q;
	job.out_addr = (uintptr_t)out;
	pimt_attn_ref(&s, k, v, CK_TOKENS, q, 0, ref);
	ret = pimt_attn(d.fd, &job, 1, &ns);
	err = pimt_rel_err(out, ref, nq);
	tap_ok(ret == 0 && err <= PIMT_ATTN_TOL,
	       "check: attention matches the reference (%d, rel err %.2g)",
	       ret, err);
	tap_ok(pimt_kv_free(d.fd, h) == 0 && pimt_wait_all_free(&d, 5000),
	       "check: KV_FREE gives the capacity back");
out:
	pimt_close(&d);
	free(k);
	free(v);
	free(kb);
	free(vb);
	free(q);
	free(out);
	free(ref);
	return tap_failed != failed;
}
