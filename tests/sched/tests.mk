# SPDX-License-Identifier: GPL-2.0
# Scheduler and GPU-model host tests and the planning benchmark.

SCHED_TESTS	:= $(BUILD)/tests/sched/test_predict $(BUILD)/tests/sched/test_sched
SCHED_BENCH	:= $(BUILD)/tests/sched/bench_plan

$(BUILD)/tests/sched/%.o: CPPFLAGS += -Isched -Igpu

$(SCHED_TESTS) $(SCHED_BENCH): $(BUILD)/tests/sched/%: \
		$(BUILD)/tests/sched/%.o $(SCHED_LIB) $(GPU_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

HOST_TESTS	+= $(SCHED_TESTS)
BENCHES		+= $(SCHED_BENCH)
