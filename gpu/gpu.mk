# SPDX-License-Identifier: GPL-2.0
# GPU side: presets, roofline timing model and backends (build/libpimgpu.a).

GPU_SRCS	:= gpu/presets.c gpu/roofline.c
GPU_LIB		:= $(BUILD)/libpimgpu.a

$(GPU_LIB): $(GPU_SRCS:%.c=$(BUILD)/%.o)
	$(AR) rcs $@ $^

$(BUILD)/gpu/%.o: CPPFLAGS += -Igpu
