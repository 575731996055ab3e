# SPDX-License-Identifier: GPL-2.0
# pimsim: trace-driven simulator on the real scheduler and device model.

SIM_SRCS	:= sim/pimsim.c sim/system.c sim/trace.c sim/engine.c \
		   sim/dev_roofline.c sim/dev_l3.c sim/report.c sim/eval.c \
		   sim/calib_report.c
SIM_LIB_OBJS	:= $(filter-out $(BUILD)/sim/pimsim.o,$(SIM_SRCS:%.c=$(BUILD)/%.o))
# The calibrated GPU model (gpu/gpu_calib.h) travels with the simulator.
SIM_LIB_OBJS	+= $(BUILD)/gpu/calib.o
SIM_LIB		:= $(BUILD)/libpimsim.a
PIMSIM		:= $(BUILD)/pimsim
SIM_LIBS	:= $(SIM_LIB) $(SCHED_LIB) $(GPU_LIB) $(DM_LIB)

$(BUILD)/sim/%.o: CPPFLAGS += -Isim -Isched -Igpu

$(SIM_LIB): $(SIM_LIB_OBJS)
	$(AR) rcs $@ $^

$(PIMSIM): $(BUILD)/sim/pimsim.o $(SIM_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

USER_BINS	+= $(PIMSIM)

.PHONY: sim-report
# The whole evaluation, tables, CSV, JSON and PNG plots in build/sim/;
# with the measured H200 operator times when data/gpu/h200.tsv exists.
SIM_CALIB	:= $(wildcard data/gpu/h200.tsv)
sim-report: $(PIMSIM)
	$(PIMSIM) --eval $(BUILD)/sim --jobs 2 $(SIM_CALIB:%=--gpu-calib %)
	cd $(BUILD)/sim && gnuplot report.gp

-include tests/sim/tests.mk
