/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pimt.h - helpers shared by the /dev/pimN driver tests: opening the device,
 * one-call wrappers for each command on the synchronous ioctl path, test
 * data, and the double-precision attention reference.
 *
 * Wrappers return what the kernel reported: >= 0 on success, -errno on
 * failure, so a test can compare against the errno the spec demands.
 */
#ifndef PIM_TESTS_KMOD_PIMT_H
#define PIM_TESTS_KMOD_PIMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/pim.h>

/* Pointer the kernel can never copy from or to. */
#define PIMT_BAD_ADDR	((uint64_t)8)

struct pimt_dev {
	int fd;
	struct pim_info info;
	char path[64];		/* /dev/pimN */
	char sysfs[64];		/* /sys/class/pim/pimN */
};

/* Device under test: $PIM_DEV, else /dev/pim0. */
const char *pimt_dev_path(void);
/* Open and GET_INFO; exits the test (bail out) if the device is unusable. */
void pimt_open(struct pimt_dev *d);
int pimt_reopen(const struct pimt_dev *d);
void pimt_close(struct pimt_dev *d);

/* Run one command through PIM_IOC_SUBMIT; cqe may be NULL. */
int pimt_submit(int fd, const struct pim_cmd *cmd, struct pim_cqe *cqe);
int pimt_ioctl(int fd, unsigned long req, void *arg);

int pimt_nop(int fd);
int pimt_kv_alloc(int fd, const struct pim_kv_alloc *shape);
int pimt_kv_free(int fd, uint32_t handle);
int pimt_kv_append(int fd, uint32_t handle, uint32_t layer, uint32_t start,
		   uint32_t count, const void *k, const void *v, uint8_t flags);
int pimt_kv_read(int fd, uint32_t handle, uint32_t layer, uint32_t start,
		 uint32_t count, void *k, void *v);
int pimt_attn(int fd, const struct pim_attn_job *jobs, uint32_t nr,
	      uint64_t *device_ns);

/* Fill command bodies, for the queue and io_uring paths. */
void pimt_cmd_nop(struct pim_cmd *c, uint64_t user_data);
/* KV_APPEND or KV_READ of count tokens from start, host buffers k and v. */
void pimt_cmd_kv_io(struct pim_cmd *c, uint8_t opcode, uint32_t handle,
		    uint32_t layer, uint32_t start, uint32_t count,
		    const void *k, const void *v);
void pimt_cmd_attn(struct pim_cmd *c, const struct pim_attn_job *jobs,
		   uint32_t nr, uint64_t user_data);

/* A small KV shape; everything not named is zero. */
struct pim_kv_alloc pimt_shape(uint32_t layers, uint16_t q_heads,
			       uint16_t kv_heads, uint16_t head_dim,
			       uint8_t dtype, uint32_t max_tokens);
/* Bytes of K (or of V) for ntok tokens of one layer. */
size_t pimt_kv_bytes(const struct pim_kv_alloc *s, uint32_t ntok);

/* sysfs attribute of the device as an integer (hex accepted), or -1. */
long long pimt_sysfs_u64(const struct pimt_dev *d, const char *attr);
int pimt_sysfs_str(const struct pimt_dev *d, const char *attr, char *buf,
		   size_t len);
/* Poll sysfs free until it equals capacity; false after timeout_ms. */
bool pimt_wait_all_free(const struct pimt_dev *d, int timeout_ms);

/* Deterministic data: pim/prng.h's xorshift64* generator. */
uint64_t pimt_rand(uint64_t *state);
/* FP16 or BF16 values of magnitude [1/64, 2), random sign. */
void pimt_fill_kv(uint64_t *state, uint8_t dtype, uint16_t *dst, size_t n);
/* FP32 values in [-1, 1]. */
void pimt_fill_q(uint64_t *state, float *dst, size_t n);

/*
 * pim/ref_attn.h's decode attention in double for one (sequence, layer):
 * k and v are ntok x kv_heads x head_dim elements (host order), q and out
 * q_heads x head_dim. scale 0 means 1/sqrt(head_dim).
 */
void pimt_attn_ref(const struct pim_kv_alloc *s, const uint16_t *k,
		   const uint16_t *v, uint32_t ctx_len, const float *q,
		   float scale, double *out);
/* max |got - ref| / max |ref|; +inf if got holds a NaN or infinity. */
double pimt_rel_err(const float *got, const double *ref, size_t n);
/* Tolerance from docs/device-model.md (FP32 accumulation). */
#define PIMT_ATTN_TOL	2e-3

#endif /* PIM_TESTS_KMOD_PIMT_H */
