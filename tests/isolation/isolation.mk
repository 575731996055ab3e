# SPDX-License-Identifier: GPL-2.0
#
# Isolation between clients of /dev/pimN (tests/isolation/), in every
# guest configuration of make check-vm.

ISO_BIN		:= $(BUILD)/tests/isolation/pim-isolation

$(ISO_BIN): $(BUILD)/tests/isolation/pim_isolation.o $(BUILD)/tests/kmod/pimt.o
	$(CC) $(LDFLAGS) -static -o $@ $^ -luring -lm

.PRECIOUS: $(BUILD)/tests/isolation/%.o

VM_DEPS		+= $(ISO_BIN)
VM_SUITES	+= tests/isolation/guest-isolation.sh
