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

# A module that WARNs on request, for the scanner's test. 6.1's Kbuild
# builds external modules in place, so build a copy under build/.
VM_WARN_DIR	:= $(BUILD)/tests/vm/warnmod
VM_WARN_KO	:= $(VM_WARN_DIR)/vm_warn.ko

$(VM_WARN_KO): tests/vm/warnmod/vm_warn.c tests/vm/warnmod/Kbuild
	@mkdir -p $(VM_WARN_DIR)
	cp $^ $(VM_WARN_DIR)/
	$(MAKE) -C $(KDIR) M=$(abspath $(VM_WARN_DIR)) W=1 modules

# The guest kernel is fetched again after make clean (no root needed).
# Fragments included after this one still add to VM_DEPS, so build the
# dependencies in a sub-make, which sees every fragment.
check-vm:
	@if [ -z "$(PIM_KO)" ]; then \
		echo "check-vm: PIM_KO is not set: kmod/kmod.mk (the module's build) is missing" >&2; \
		exit 1; \
	fi
	@vm/fetch-kernel.sh
	@$(MAKE) --no-print-directory module $(VM_DEPS) $(VM_WARN_KO)
	@$(VM_ENV) PIM_KO=$(abspath $(PIM_KO)) \
		VM_WARN_KO=$(abspath $(VM_WARN_KO)) vm/check.sh check $(VM_SUITES)

bench-vm:
	@if [ -z "$(PIM_KO)" ]; then \
		echo "bench-vm: PIM_KO is not set: kmod/kmod.mk (the module's build) is missing" >&2; \
		exit 1; \
	fi
	@vm/fetch-kernel.sh
	@$(MAKE) --no-print-directory module $(VM_DEPS)
	@$(VM_ENV) PIM_KO=$(abspath $(PIM_KO)) \
		vm/check.sh bench $(VM_BENCH_SUITES)
