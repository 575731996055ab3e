# SPDX-License-Identifier: GPL-2.0
#
# Fault injection (tests/fault/): a short run in every guest configuration
# of make check-vm; make fault kills 1,000 clients per transport.

FAULT_BIN	:= $(BUILD)/tests/fault/pim-fault

$(FAULT_BIN): $(BUILD)/tests/fault/pim_fault.o $(BUILD)/tests/kmod/pimt.o
	$(CC) $(LDFLAGS) -static -pthread -o $@ $^ -luring -lm

.PRECIOUS: $(BUILD)/tests/fault/%.o

VM_DEPS		+= $(FAULT_BIN)
VM_SUITES	+= tests/fault/guest-fault.sh

FAULT_ROUNDS	?= 1000

.PHONY: fault
fault:
	@vm/fetch-kernel.sh
	@$(MAKE) --no-print-directory module $(FAULT_BIN)
	@PIM_KO=$(abspath $(PIM_KO)) PIM_FAULT_ROUNDS=$(FAULT_ROUNDS) \
		vm/run.sh --memmap '256M$$1G' --timeout 3600 \
		--suite-timeout 3300 --suite tests/fault/guest-fault.sh
