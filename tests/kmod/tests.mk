# SPDX-License-Identifier: GPL-2.0
#
# Driver tests and the transport benchmark. They run inside the QEMU guest
# (tests/kmod/guest-suite.sh, tests/kmod/guest-bench.sh) against the module
# loaded there; the guest sees the host tree, so they are built here and
# linked statically so nothing depends on the guest's libraries.

KTEST_DIR	:= $(BUILD)/tests/kmod
DM_LIB		?= $(BUILD)/libpimdm.a
KTEST_LDLIBS	:= -luring -lm

KTEST_PROGS	:= $(addprefix $(KTEST_DIR)/,test_basic test_kv test_attn \
		   test_queue test_uring test_procs)
KTEST_BENCH	:= $(KTEST_DIR)/bench_transport

$(KTEST_DIR)/test_%: $(KTEST_DIR)/test_%.o $(KTEST_DIR)/pimt.o
	$(CC) $(LDFLAGS) -static -o $@ $^ $(KTEST_LDLIBS)

# Bit-identity with the userspace device model.
$(KTEST_DIR)/test_attn: $(KTEST_DIR)/test_attn.o $(KTEST_DIR)/pimt.o \
			$(DM_LIB)
	$(CC) $(LDFLAGS) -static -o $@ $^ $(KTEST_LDLIBS)

$(KTEST_BENCH): $(KTEST_DIR)/bench_transport.o $(KTEST_DIR)/pimt.o
	$(CC) $(LDFLAGS) -static -o $@ $^ $(KTEST_LDLIBS)

# Keep the objects: they are intermediate files of the pattern rule.
.PRECIOUS: $(KTEST_DIR)/%.o

.PHONY: ktests
ktests: $(KTEST_PROGS) $(KTEST_BENCH)

VM_DEPS		+= $(KTEST_PROGS) $(KTEST_BENCH)
VM_SUITES	+= tests/kmod/guest-suite.sh
VM_BENCH_SUITES	+= tests/kmod/guest-bench.sh
