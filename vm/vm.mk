# SPDX-License-Identifier: GPL-2.0
#
# QEMU harness (vm/README.md): make check-vm boots the guest kernel that
# scripts/setup.sh fetched in three configurations and runs $(VM_SUITES)
# in each; make bench-vm runs $(VM_BENCH_SUITES) in one boot.

# The region of the memmap configurations, guest RAM, and time limits in
# seconds per boot and per suite.
VM_MEMMAP	?= 256M$$1G
VM_MEM		?= 2G
VM_TIMEOUT	?= 420
VM_SUITE_TIMEOUT ?= 240
VM_ENV		= VM_MEMMAP='$(VM_MEMMAP)' VM_MEM='$(VM_MEM)' \
		  VM_TIMEOUT='$(VM_TIMEOUT)' VM_SUITE_TIMEOUT='$(VM_SUITE_TIMEOUT)'

# The harness's own guest suite runs first in every configuration.
VM_SELFTESTS	:= tests/vm/guest-selftest.sh
VM_SUITES	:= $(VM_SELFTESTS) $(VM_SUITES)

# The kernel log scan's rules, checked on the host.
HOST_TESTS	+= tests/vm/klog-scan-test.sh

# A module that WARNs on request, for the scanner's test. 6.1's Kbuild
# builds external modules in place, so build a copy under build/.
VM_WARN_DIR	:= $(BUILD)/tests/vm/warnmod
VM_WARN_KO	:= $(VM_WARN_DIR)/vm_warn.ko

$(VM_WARN_KO): tests/vm/warnmod/vm_warn.c tests/vm/warnmod/Kbuild
	@mkdir -p $(VM_WARN_DIR)
	cp $^ $(VM_WARN_DIR)/
	$(MAKE) -C $(KDIR) M=$(abspath $(VM_WARN_DIR)) W=1 modules

# The debug kernel (vm/debug-kernel/: KASAN, lockdep, UBSAN, kmemleak,
# fault injection) is a configuration of check-vm unless DEBUG_KERNEL=0;
# it is built once into a cache outside the checkout (about 11-20 min on
# two cores), and the module against it from a copy of its sources under
# build/. It runs every suite but the harness's self-test, which insists
# on Debian's kernel.
DEBUG_KERNEL	?= 1
DEBUG_KDIR_CACHE := $(shell vm/debug-kernel/build.sh --print-dir)
PIM_DEBUG_DIR	:= $(BUILD)/kmod-debug
PIM_DEBUG_KO	:= $(PIM_DEBUG_DIR)/pim.ko
PIM_DEBUG_SRCS	:= Kbuild $(wildcard kmod/*.[ch] dm/*.[ch] dm/Kbuild.inc) \
		   include/uapi/linux/pim.h
VM_DEBUG_SUITES	= $(filter-out tests/vm/%,$(VM_SUITES))
VM_DEBUG_ENV	= VM_DEBUG_KERNEL=$(DEBUG_KDIR_CACHE) \
		  VM_DEBUG_KO=$(abspath $(PIM_DEBUG_KO)) \
		  VM_DEBUG_SUITES='$(VM_DEBUG_SUITES)'

# The guest kernel is fetched again after make clean (no root needed).
# Fragments included after this one still add to VM_DEPS, so build the
# dependencies in a sub-make, which sees every fragment.
check-vm:
	@if [ -z "$(PIM_KO)" ]; then \
		echo "check-vm: PIM_KO is not set: kmod/kmod.mk (the module's build) is missing" >&2; \
		exit 1; \
	fi
	@case "$(DEBUG_KERNEL)" in 0|1) ;; *) \
		echo "check-vm: DEBUG_KERNEL=$(DEBUG_KERNEL): want 1 (run the debug kernel's configuration) or 0" >&2; \
		exit 1 ;; \
	esac
	@vm/fetch-kernel.sh
	@if [ "$(DEBUG_KERNEL)" = 1 ]; then vm/debug-kernel/build.sh >/dev/null; fi
	@$(MAKE) --no-print-directory module $(VM_DEPS) $(VM_WARN_KO) \
		$(if $(filter 1,$(DEBUG_KERNEL)),$(PIM_DEBUG_KO))
	@$(VM_ENV) PIM_KO=$(abspath $(PIM_KO)) \
		VM_WARN_KO=$(abspath $(VM_WARN_KO)) \
		VM_SYSTEMD_SUITES='$(VM_SYSTEMD_SUITES)' \
		$(if $(filter 1,$(DEBUG_KERNEL)),$(VM_DEBUG_ENV)) \
		vm/check.sh check $(VM_SUITES)

bench-vm:
	@if [ -z "$(PIM_KO)" ]; then \
		echo "bench-vm: PIM_KO is not set: kmod/kmod.mk (the module's build) is missing" >&2; \
		exit 1; \
	fi
	@vm/fetch-kernel.sh
	@$(MAKE) --no-print-directory module $(VM_DEPS)
	@$(VM_ENV) PIM_KO=$(abspath $(PIM_KO)) \
		vm/check.sh bench $(VM_BENCH_SUITES)

.PHONY: debug-kernel check-debug
debug-kernel:
	@vm/debug-kernel/build.sh >/dev/null

$(PIM_DEBUG_KO): $(PIM_DEBUG_SRCS) $(DEBUG_KDIR_CACHE)/done
	@rm -rf $(PIM_DEBUG_DIR)/src
	@mkdir -p $(PIM_DEBUG_DIR)/src
	cp --parents $(PIM_DEBUG_SRCS) $(PIM_DEBUG_DIR)/src/
	$(MAKE) -C $(DEBUG_KDIR_CACHE)/obj M=$(abspath $(PIM_DEBUG_DIR)/src) \
		W=1 modules
	cp $(PIM_DEBUG_DIR)/src/pim.ko $@

$(DEBUG_KDIR_CACHE)/done:
	vm/debug-kernel/build.sh >/dev/null

# The debug kernel's configuration of check-vm alone.
check-debug:
	@vm/fetch-kernel.sh
	@vm/debug-kernel/build.sh >/dev/null
	@$(MAKE) --no-print-directory module $(VM_DEPS) $(PIM_DEBUG_KO)
	@$(VM_ENV) $(VM_DEBUG_ENV) vm/check.sh check-debug
