# SPDX-License-Identifier: GPL-2.0
#
# Device model: build/libpimdm.a from the same sources the module builds
# (dm/Kbuild.inc), its host tests and its benchmark.

DM_SRCS		:= dm/geometry.c dm/dm.c dm/kv.c dm/kv_io.c dm/timing.c \
		   dm/attn_unit.c dm/attn.c dm/attn_avx2.c dm/cpu_user.c
DM_OBJS		:= $(DM_SRCS:%.c=$(BUILD)/%.o)
DM_LIB		:= $(BUILD)/libpimdm.a

# The AVX2 + F16C variant of attn.c; -ffp-contract=off comes from CFLAGS.
# -Wno-psabi: 8-lane vectors only pass between always-inlined helpers.
$(BUILD)/dm/attn_avx2.o: CFLAGS += -mavx2 -mf16c
$(BUILD)/dm/attn.o: CFLAGS += -Wno-psabi

$(DM_LIB): $(DM_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

DM_TESTS	:= $(patsubst tests/dm/%.c,$(BUILD)/tests/dm/%, \
		     $(filter-out tests/dm/dm_test.c,$(wildcard tests/dm/test_*.c)))
DM_TEST_LIB	:= $(BUILD)/tests/dm/dm_test.o

$(BUILD)/tests/dm/%: $(BUILD)/tests/dm/%.o $(DM_TEST_LIB) $(DM_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

$(BUILD)/bench/dm/bench_attn: $(BUILD)/bench/dm/bench_attn.o $(DM_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

USER_BINS	+= $(DM_LIB) $(DM_TESTS)
HOST_TESTS	+= $(DM_TESTS)
BENCHES		+= $(BUILD)/bench/dm/bench_attn
