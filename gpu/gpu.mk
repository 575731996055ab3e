# SPDX-License-Identifier: GPL-2.0
# GPU side: presets, roofline timing model and backends (build/libpimgpu.a).

GPU_SRCS	:= gpu/presets.c gpu/roofline.c
# The CPU backend (gpu_cpu.h): needs -lm where it is linked.
GPU_SRCS	+= gpu/weights.c gpu/cpu_backend.c
GPU_LIB		:= $(BUILD)/libpimgpu.a

$(GPU_LIB): $(GPU_SRCS:%.c=$(BUILD)/%.o)
	$(AR) rcs $@ $^

$(BUILD)/gpu/%.o: CPPFLAGS += -Igpu

# ---- CPU backend tests (tests/gpu/) ----

GPU_CPU_TESTS	:= $(BUILD)/tests/gpu/test_cpu_backend \
		   $(BUILD)/tests/gpu/test_cpu_reference

$(BUILD)/tests/gpu/%.o: CPPFLAGS += -Igpu

$(GPU_CPU_TESTS): $(BUILD)/tests/gpu/%: $(BUILD)/tests/gpu/%.o $(GPU_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

HOST_TESTS	+= $(GPU_CPU_TESTS)
