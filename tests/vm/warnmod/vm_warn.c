// SPDX-License-Identifier: GPL-2.0
/*
 * vm_warn: a throwaway module for the QEMU harness's own test. Loaded with
 * warn=1 it raises a WARNING, which the harness's kernel log scan must turn
 * into a failed run. Loaded with fail_alloc=1 it asks vmalloc for more than
 * all of RAM, which fails with warn_alloc's "vmalloc error" backtrace: the
 * scan accepts that only inside a test's injection window. Loaded with
 * neither, it does nothing.
 */
#include <linux/bug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/vmalloc.h>

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "Raise a WARNING at load time");

static bool fail_alloc;
module_param(fail_alloc, bool, 0444);
MODULE_PARM_DESC(fail_alloc, "Make a vmalloc fail (with its backtrace) at load time");

static int __init vm_warn_init(void)
{
	WARN(warn, "vm_warn: warning on request\n");
	if (fail_alloc) {
		/* Twice the RAM: refused before anything is mapped. */
		void *p = vmalloc((totalram_pages() << PAGE_SHIFT) * 2);

		if (p) {
			vfree(p);
			return -EINVAL;
		}
	}
	return 0;
}

static void __exit vm_warn_exit(void)
{
}

module_init(vm_warn_init);
module_exit(vm_warn_exit);

MODULE_DESCRIPTION("QEMU harness self-test: WARN or fail an allocation on request");
MODULE_LICENSE("GPL");
