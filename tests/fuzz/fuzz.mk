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

# The long run: make fuzz on Debian's kernel, make fuzz-debug on the debug
# kernel (vm/debug-kernel/). FUZZ_ITERS bounds it in commands,
# FUZZ_SECONDS in time.
FUZZ_ITERS	?= 1000000
FUZZ_SECONDS	?= 3000
FUZZ_RUN	= PIM_FUZZ_ITERS=$(FUZZ_ITERS) PIM_FUZZ_SECONDS=$(FUZZ_SECONDS) \
		  vm/run.sh --memmap '256M$$1G' \
		  --timeout $$(($(FUZZ_SECONDS) * 2 + 600)) \
		  --suite-timeout $$(($(FUZZ_SECONDS) * 2 + 300))

.PHONY: fuzz fuzz-debug
fuzz:
	@vm/fetch-kernel.sh
	@$(MAKE) --no-print-directory module $(FUZZ_BIN) ktests
	@PIM_KO=$(abspath $(PIM_KO)) $(FUZZ_RUN) \
		--suite tests/fuzz/guest-fuzz-long.sh

fuzz-debug:
	@vm/fetch-kernel.sh
	@vm/debug-kernel/build.sh >/dev/null
	@$(MAKE) --no-print-directory $(PIM_DEBUG_KO) $(FUZZ_BIN) ktests
	@PIM_KO=$(abspath $(PIM_DEBUG_KO)) $(FUZZ_RUN) \
		--kernel $(DEBUG_KDIR_CACHE) --suite tests/fuzz/guest-fuzz-long.sh
