# SPDX-License-Identifier: GPL-2.0
#
# The ABI fuzzer (tests/fuzz/): a short run in every guest configuration of
# make check-vm, a long one (>= 1,000,000 commands) by make fuzz.

FUZZ_DIR	:= $(BUILD)/tests/fuzz
FUZZ_BIN	:= $(FUZZ_DIR)/pim-fuzz
FUZZ_OBJS	:= $(addprefix $(FUZZ_DIR)/,pim_fuzz.o fuzz_gen.o \
		   fuzz_worker.o fuzz_check.o) $(BUILD)/tests/kmod/pimt.o

$(FUZZ_BIN): $(FUZZ_OBJS)
	$(CC) $(LDFLAGS) -static -o $@ $^ -luring -lm

.PRECIOUS: $(FUZZ_DIR)/%.o

VM_DEPS		+= $(FUZZ_BIN)
VM_SUITES	+= tests/fuzz/guest-fuzz.sh

# The long run, on the stock kernel (make fuzz) or the debug kernel
# (make fuzz VM_KERNEL=debug). FUZZ_SECONDS bounds it in time, FUZZ_ITERS
# in commands.
FUZZ_ITERS	?= 1000000
FUZZ_SECONDS	?= 3000

.PHONY: fuzz
fuzz:
	@$(MAKE) --no-print-directory module $(FUZZ_BIN)
	@vm/fetch-kernel.sh
	PIM_KO=$(abspath $(PIM_KO)) PIM_FUZZ_ITERS=$(FUZZ_ITERS) \
		PIM_FUZZ_SECONDS=$(FUZZ_SECONDS) \
		vm/run.sh --memmap '256M$$1G' --timeout $$(($(FUZZ_SECONDS) + 600)) \
		--suite-timeout $$(($(FUZZ_SECONDS) + 300)) \
		--suite tests/fuzz/guest-fuzz-long.sh
