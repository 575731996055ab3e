/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * dm_types.h - the few types and helpers the device model needs, from the
 * kernel or from libc. The device model includes nothing else.
 */
#ifndef PIM_DM_TYPES_H
#define PIM_DM_TYPES_H

#ifdef __KERNEL__
/* build_bug.h first: some 6.1.y configs reach ARRAY_SIZE without it. */
#include <linux/build_bug.h>
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/string.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef int16_t s16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;
#endif

#include <linux/pim.h>

#endif /* PIM_DM_TYPES_H */
