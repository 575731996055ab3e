# SPDX-License-Identifier: GPL-2.0
#
# Concurrency soak (tests/soak/): processes x queues x both asynchronous
# transports, results against the reference, exact completion accounting.
# A short soak runs in every guest configuration of make check-vm.

SOAK_BIN	:= $(BUILD)/tests/soak/pim-soak

$(SOAK_BIN): $(BUILD)/tests/soak/pim_soak.o $(BUILD)/tests/kmod/pimt.o
	$(CC) $(LDFLAGS) -static -o $@ $^ -luring -lm

.PRECIOUS: $(BUILD)/tests/soak/%.o

VM_DEPS		+= $(SOAK_BIN)
VM_SUITES	+= tests/soak/guest-soak.sh
