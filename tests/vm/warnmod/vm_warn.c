// SPDX-License-Identifier: GPL-2.0
/*
 * vm_warn: a throwaway module for the QEMU harness's own test. Loaded with
 * warn=1 it raises a WARNING, which the harness's kernel log scan must turn
 * into a failed run; loaded without it, it does nothing.
 */
#include <linux/bug.h>
#include <linux/module.h>

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "Raise a WARNING at load time");

static int __init vm_warn_init(void)
{
	WARN(warn, "vm_warn: warning on request\n");
	return 0;
}

static void __exit vm_warn_exit(void)
{
}

module_init(vm_warn_init);
module_exit(vm_warn_exit);

MODULE_DESCRIPTION("QEMU harness self-test: WARN on request");
MODULE_LICENSE("GPL");
