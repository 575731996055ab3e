/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - io_uring passthrough API drift. Kbuild probes the headers it
 * builds against and defines:
 *   PIM_IOU_ISSUE_FLAGS  io_uring_cmd_done() and the task-work callback take
 *                        issue_flags (v6.3, backported to later 6.1.y such
 *                        as Debian's 6.1.192; v6.1.0 lacks it);
 *   PIM_IOU_SQE_CMD      the payload is reached with io_uring_sqe_cmd()
 *                        (newer kernels) instead of io_uring_cmd.cmd;
 *   PIM_IOU_CMD_H        the uring_cmd API lives in <linux/io_uring/cmd.h>.
 */
#ifndef PIM_COMPAT_H
#define PIM_COMPAT_H

#include <linux/io_uring.h>
#ifdef PIM_IOU_CMD_H
#include <linux/io_uring/cmd.h>
#endif

#ifdef PIM_IOU_SQE_CMD
#define pim_iou_payload(ioucmd)	io_uring_sqe_cmd((ioucmd)->sqe)
#else
#define pim_iou_payload(ioucmd)	((ioucmd)->cmd)
#endif

#ifdef PIM_IOU_ISSUE_FLAGS
#define pim_iou_done(ioucmd, ret, res2, flags) \
	io_uring_cmd_done(ioucmd, ret, res2, flags)
#define PIM_IOU_TW(fn)		fn
#define PIM_IOU_TW_WRAPPER(fn)
#else
#define pim_iou_done(ioucmd, ret, res2, flags) \
	io_uring_cmd_done(ioucmd, ret, res2)
#define PIM_IOU_TW(fn)		fn##_noflags
#define PIM_IOU_TW_WRAPPER(fn)						\
static void fn##_noflags(struct io_uring_cmd *ioucmd)			\
{									\
	fn(ioucmd, 0);							\
}
#endif

#endif /* PIM_COMPAT_H */
