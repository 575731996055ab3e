# SPDX-License-Identifier: GPL-2.0
# pim-gpucal (gpu/calib/): measures the GPU operator times pimsim's
# calibrated GPU model reads (data/gpu/). Built only where nvcc is found;
# gpu/calib/gpu-calib.sh builds and runs it on a GPU machine without make.

NVCC		?= $(shell command -v nvcc 2>/dev/null || \
			   ls /usr/local/cuda/bin/nvcc 2>/dev/null)
GPUCAL		:= $(BUILD)/pim-gpucal
GPUCAL_NVFLAGS	:= -O2 -std=c++17 -gencode arch=compute_90,code=sm_90 \
		   -gencode arch=compute_90,code=compute_90 \
		   -Xcompiler -Wall,-Wextra
GPUCAL_OBJS	:= $(BUILD)/gpu/calib/gpucal.o $(BUILD)/gpu/calib.o \
		   $(BUILD)/gpu/presets.o $(BUILD)/gpu/calib/measure.o
GPUCAL_TEST	:= $(BUILD)/tests/sim/test_gpucal

ifneq ($(NVCC),)
GPUCAL_LIBDIR	:= $(abspath $(dir $(NVCC))../lib64)

$(BUILD)/gpu/calib/measure.o: gpu/calib/measure.cu gpu/calib/gpucal.h
	@mkdir -p $(dir $@)
	$(NVCC) $(GPUCAL_NVFLAGS) -c -o $@ $<

$(GPUCAL): $(GPUCAL_OBJS)
	$(NVCC) -o $@ $^ -L$(GPUCAL_LIBDIR) -lcublas -lm \
		-Xlinker -rpath=$(GPUCAL_LIBDIR)

USER_BINS	+= $(GPUCAL)
$(GPUCAL_TEST): $(GPUCAL)
endif

# TAP: pim-gpucal's arguments, plan and its failure without a GPU.
$(GPUCAL_TEST): tests/sim/test_gpucal.sh
	@mkdir -p $(dir $@)
	install -m 755 $< $@

HOST_TESTS	+= $(GPUCAL_TEST)

.PHONY: calib-report
# Roofline against data/gpu/h200.tsv, and the calibrated L3 and GPU-only
# runs on H200 (docs/simulator.md).
calib-report: $(PIMSIM)
	gpu/calib/report.sh $(PIMSIM) data/gpu/h200.tsv
