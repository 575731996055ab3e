// SPDX-License-Identifier: GPL-2.0
/*
 * uring.c - IORING_OP_URING_CMD passthrough. The whole struct pim_cmd rides
 * in a 128-byte SQE and the completion carries the modeled device time in
 * the second half of a 32-byte CQE, so rings without SQE128 and CQE32 are
 * refused. Commands of one file run in submission order (NOP completes at
 * once, inline); results are copied out from task work in the submitting
 * task.
 */
#include <linux/build_bug.h>
#include <linux/fs.h>
#include <linux/sched.h>

#include "pim_drv.h"
#include "compat.h"

struct pim_uring_pdu {
	struct pim_req *req;
};

static struct pim_uring_pdu *pim_uring_pdu(struct io_uring_cmd *ioucmd)
{
	BUILD_BUG_ON(sizeof(struct pim_uring_pdu) > sizeof(ioucmd->pdu));
	return (struct pim_uring_pdu *)ioucmd->pdu;
}

static void pim_uring_tw(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	struct pim_req *req = pim_uring_pdu(ioucmd)->req;
	struct pim_cqe cqe;

	/* An exiting task's io_uring runs this from a kworker: no mm. */
	if (current->mm && !(current->flags & PF_EXITING))
		pim_req_finish(req);
	cqe = req->cqe;
	/* Before done: the file (and with it the module) is still pinned. */
	pim_req_put(req);
	pim_iou_done(ioucmd, cqe.res, cqe.device_ns, issue_flags);
}

PIM_IOU_TW_WRAPPER(pim_uring_tw)

void pim_uring_deliver(struct pim_req *req)
{
	io_uring_cmd_complete_in_task(req->ioucmd, PIM_IOU_TW(pim_uring_tw));
}

int pim_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	const unsigned int need = IO_URING_F_SQE128 | IO_URING_F_CQE32;
	struct pim_file *pf = ioucmd->file->private_data;
	struct pim_req *req;
	struct pim_cqe cqe;
	struct pim_cmd cmd;

	if (ioucmd->cmd_op != PIM_URING_CMD_IO)
		return -ENOTTY;
	if ((issue_flags & need) != need || issue_flags & IO_URING_F_IOPOLL)
		return -EOPNOTSUPP;
	/* The SQE is shared with userspace: read it exactly once. */
	memcpy(&cmd, pim_iou_payload(ioucmd), sizeof(cmd));
	if (pim_cmd_nop(pf, &cmd, PIM_XPORT_URING, &cqe))
		return 0;
	req = pim_req_new(pf, &cmd, PIM_XPORT_URING);
	if (!req)
		return -ENOMEM;
	if (pim_req_is_inline(req)) {
		pim_req_run_inline(req, &cqe);
		return cqe.res;
	}
	req->ioucmd = ioucmd;
	pim_uring_pdu(ioucmd)->req = req;
	pim_req_submit(req, &pf->ustream);
	return -EIOCBQUEUED;
}
