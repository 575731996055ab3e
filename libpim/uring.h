/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uring.h - kernel queues: one io_uring ring (SQE128 | CQE32) per queue.
 */
#ifndef LIBPIM_URING_H
#define LIBPIM_URING_H

#include "private.h"

int pim_uring_init(struct pim_queue *q);
void pim_uring_exit(struct pim_queue *q);
int pim_uring_fd(struct pim_queue *q);
int pim_uring_stage(struct pim_queue *q, const struct pim_cmd *cmd,
		    uint64_t tag);
int pim_uring_submit(struct pim_queue *q);
int pim_uring_reap(struct pim_queue *q, struct pim_cqe *cqe, unsigned int nr,
		   bool wait);

#endif /* LIBPIM_URING_H */
