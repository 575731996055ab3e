# SPDX-License-Identifier: GPL-2.0
#
# The kernel module, built by Kbuild (top-level Kbuild) against KDIR and
# copied to build/kmod/pim.ko. W=1 is on: the module builds without warnings.

PIM_KO		:= $(BUILD)/kmod/pim.ko

.PHONY: module
module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules
	@mkdir -p $(dir $(PIM_KO))
	cp pim.ko $(PIM_KO)
