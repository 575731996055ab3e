// SPDX-License-Identifier: GPL-2.0
/*
 * file.c - an open /dev/pimN: its KV caches, ioctl dispatch, poll and
 * teardown. Everything a file creates is found through the file's own
 * tables, so no other file can name it, and release() frees all of it.
 */
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pim_drv.h"

static void pim_kvobj_free(struct kref *ref)
{
	struct pim_kvobj *kvo = container_of(ref, struct pim_kvobj, ref);
	struct pim_device *pdev = kvo->pdev;

	if (kvo->placed) {
		mutex_lock(&pdev->dm_lock);
		pim_kv_release(pdev->dm, kvo->kv);
		mutex_unlock(&pdev->dm_lock);
	}
	kvfree(kvo);
}

void pim_kv_put(struct pim_kvobj *kvo)
{
	kref_put(&kvo->ref, pim_kvobj_free);
}

struct pim_kvobj *pim_kv_get(struct pim_file *pf, u32 handle)
{
	struct pim_kvobj *kvo;

	if (!handle || handle > INT_MAX)
		return NULL;
	mutex_lock(&pf->lock);
	kvo = idr_find(&pf->kvs, handle);
	if (kvo)
		kref_get(&kvo->ref);
	mutex_unlock(&pf->lock);
	return kvo;
}

/* Give a placed cache its handle; the table holds a reference. */
int pim_kv_publish(struct pim_file *pf, struct pim_kvobj *kvo)
{
	int id;

	mutex_lock(&pf->lock);
	id = idr_alloc(&pf->kvs, kvo, 1, 0, GFP_KERNEL);
	if (id > 0) {
		kref_get(&kvo->ref);
		kvo->handle = id;
	}
	mutex_unlock(&pf->lock);
	return id < 0 ? id : 0;
}

static void pim_kv_kill(struct pim_kvobj *kvo)
{
	mutex_lock(&kvo->io_lock);
	WRITE_ONCE(kvo->dead, true);
	mutex_unlock(&kvo->io_lock);
	pim_kv_put(kvo);
}

/* KV_FREE: the handle goes at once, the capacity when the last user ends. */
int pim_kv_unpublish(struct pim_file *pf, struct pim_kvobj *kvo)
{
	bool found;

	mutex_lock(&pf->lock);
	found = idr_find(&pf->kvs, kvo->handle) == kvo;
	if (found)
		idr_remove(&pf->kvs, kvo->handle);
	mutex_unlock(&pf->lock);
	if (!found)
		return -ENOENT;
	pim_kv_kill(kvo);
	return 0;
}

void pim_kv_drop(struct pim_file *pf, u32 handle)
{
	struct pim_kvobj *kvo;

	mutex_lock(&pf->lock);
	kvo = idr_remove(&pf->kvs, handle);
	mutex_unlock(&pf->lock);
	if (kvo)
		pim_kv_kill(kvo);
}

static int pim_open(struct inode *inode, struct file *file)
{
	struct pim_device *pdev = container_of(inode->i_cdev,
					       struct pim_device, cdev);
	struct pim_file *pf;

	pf = kzalloc(sizeof(*pf), GFP_KERNEL);
	if (!pf)
		return -ENOMEM;
	pf->pdev = pdev;
	mutex_init(&pf->lock);
	idr_init(&pf->kvs);
	idr_init(&pf->queues);
	pim_stream_init(&pf->ustream, true);
	init_waitqueue_head(&pf->poll_wq);
	atomic_set(&pf->inflight, 1);
	init_completion(&pf->idle);
	file->private_data = pf;
	return nonseekable_open(inode, file);
}

/*
 * The last reference is gone, so no ioctl and no io_uring command is in
 * flight (io_uring holds the file until its commands complete). What is
 * left are queued commands and sync commands whose caller was killed: cancel
 * what has not started, wait for the rest, then free every object.
 */
static int pim_release(struct inode *inode, struct file *file)
{
	struct pim_file *pf = file->private_data;
	struct pim_kvobj *kvo;
	int id;

	WRITE_ONCE(pf->dying, true);
	pim_queues_release(pf);
	if (!atomic_dec_and_test(&pf->inflight))
		wait_for_completion(&pf->idle);
	idr_for_each_entry(&pf->kvs, kvo, id)
		pim_kv_kill(kvo);
	idr_destroy(&pf->kvs);
	idr_destroy(&pf->queues);
	kfree(pf);
	return 0;
}

static long pim_ioctl_info(struct pim_file *pf, void __user *arg)
{
	struct pim_device *pdev = pf->pdev;
	struct pim_info info;

	memset(&info, 0, sizeof(info));
	info.abi_version = PIM_ABI_VERSION;
	info.dev_id = pdev->id;
	info.features = pim_device_features(pim_raw_allowed());
	info.capacity = pim_dm_capacity(pdev->dm);
	info.free = pim_device_free_bytes(pdev);
	info.geom = pdev->geom;
	info.max_queues = PIM_MAX_QUEUES;
	info.max_queue_depth = PIM_MAX_QUEUE_DEPTH;
	info.max_attn_jobs = PIM_MAX_ATTN_JOBS;
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

/* PIM_IOC_SUBMIT: run one command, wait killably, return its result. */
static long pim_ioctl_submit(struct pim_file *pf, struct pim_sync __user *arg)
{
	struct pim_cmd cmd;
	struct pim_cqe cqe;
	struct pim_req *req;

	if (copy_from_user(&cmd, &arg->cmd, sizeof(cmd)))
		return -EFAULT;
	if (pim_cmd_nop(pf, &cmd, PIM_XPORT_SYNC, &cqe))
		goto out;
	req = pim_req_new(pf, &cmd, PIM_XPORT_SYNC);
	if (!req)
		return -ENOMEM;
	if (pim_req_is_inline(req)) {
		pim_req_run_inline(req, &cqe);
	} else {
		init_completion(&req->done);
		refcount_inc(&req->ref);
		pim_req_submit(req, NULL);
		if (wait_for_completion_killable(&req->done)) {
			pim_req_put(req);
			return -EINTR;
		}
		pim_req_finish(req);
		cqe = req->cqe;
		pim_req_put(req);
	}
out:
	if (copy_to_user(&arg->cqe, &cqe, sizeof(cqe)))
		return -EFAULT;
	return cqe.res;
}

static long pim_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pim_file *pf = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case PIM_IOC_GET_INFO:
		return pim_ioctl_info(pf, argp);
	case PIM_IOC_SUBMIT:
		return pim_ioctl_submit(pf, argp);
	case PIM_IOC_QUEUE_CREATE:
	case PIM_IOC_QUEUE_DESTROY:
	case PIM_IOC_QUEUE_SUBMIT:
	case PIM_IOC_QUEUE_REAP:
		return pim_queue_ioctl(pf, cmd, argp);
	default:
		return -ENOTTY;
	}
}

static __poll_t pim_poll(struct file *file, struct poll_table_struct *wait)
{
	struct pim_file *pf = file->private_data;

	poll_wait(file, &pf->poll_wq, wait);
	return atomic_read(&pf->nr_ready) ? EPOLLIN | EPOLLRDNORM : 0;
}

const struct file_operations pim_fops = {
	.owner		= THIS_MODULE,
	.open		= pim_open,
	.release	= pim_release,
	.unlocked_ioctl	= pim_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.poll		= pim_poll,
	.uring_cmd	= pim_uring_cmd,
	.llseek		= no_llseek,
};
