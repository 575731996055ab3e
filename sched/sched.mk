# SPDX-License-Identifier: GPL-2.0
# The adaptive GPU-PIM scheduler, shared by pimd and pimsim
# (build/libpimsched.a, header sched/sched.h).

SCHED_SRCS	:= sched/sched.c sched/plan.c sched/predict.c
SCHED_LIB	:= $(BUILD)/libpimsched.a

$(SCHED_LIB): $(SCHED_SRCS:%.c=$(BUILD)/%.o)
	$(AR) rcs $@ $^

$(BUILD)/sched/%.o: CPPFLAGS += -Isched

-include tests/sched/tests.mk
