/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kqueue.h - the kernel backend's queue transports: io_uring rings
 * (uring.c, the default) and the module's ioctl-driven queues (ioctlq.c).
 */
#ifndef LIBPIM_KQUEUE_H
#define LIBPIM_KQUEUE_H

#include "private.h"

extern const struct pim_queue_ops pim_uring_ops;
extern const struct pim_queue_ops pim_ioctlq_ops;

#endif /* LIBPIM_KQUEUE_H */
