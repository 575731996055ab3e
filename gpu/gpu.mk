# SPDX-License-Identifier: GPL-2.0
# GPU side: presets, roofline timing model and backends (build/libpimgpu.a),
# and the CUDA backend's plugin (build/libpimgpu-cuda.so) where nvcc exists.

GPU_SRCS	:= gpu/presets.c gpu/roofline.c
# The CPU backend (gpu_cpu.h): needs -lm where it is linked.
GPU_SRCS	+= gpu/weights.c gpu/cpu_backend.c
# The CUDA backend's loader (gpu_cuda.h): needs -ldl where it is linked.
GPU_SRCS	+= gpu/gpu_cuda.c
GPU_LIB		:= $(BUILD)/libpimgpu.a

$(GPU_LIB): $(GPU_SRCS:%.c=$(BUILD)/%.o)
	$(AR) rcs $@ $^

$(BUILD)/gpu/%.o: CPPFLAGS += -Igpu

# Where `make install` puts the plugin, and where the loader looks for it
# unless PIM_CUDA_PLUGIN names another file.
CUDA_PLUGIN_DIR	:= $(PREFIX)/lib/pim
$(BUILD)/gpu/gpu_cuda.o: CPPFLAGS += \
	-DPIM_CUDA_PLUGIN_DIR='"$(CUDA_PLUGIN_DIR)"'

# ---- the CUDA plugin: only where nvcc is found (`make NVCC=` skips it) ----

NVCC		?= $(shell command -v nvcc 2>/dev/null || \
		     ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_PLUGIN	:= $(BUILD)/libpimgpu-cuda.so
CUDA_SRCS	:= gpu/cuda/kernels.cu gpu/cuda/prefill_attn.cu \
		   gpu/cuda/plugin.cu
CUDA_OBJS	:= $(CUDA_SRCS:%.cu=$(BUILD)/%.cu.o)
# Bit-exact with the CPU backend: no FMA contraction, IEEE div and sqrt.
NVCCFLAGS	?= -O2
NVCCFLAGS	+= -std=c++20 -fmad=false -prec-div=true -prec-sqrt=true \
		   -ftz=false \
		   -gencode arch=compute_90,code=sm_90 \
		   -gencode arch=compute_90,code=compute_90 \
		   -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra

ifneq ($(NVCC),)
USER_BINS	+= $(CUDA_PLUGIN)

$(BUILD)/gpu/cuda/%.cu.o: gpu/cuda/%.cu gpu/cuda/kernels.cuh \
		gpu/cuda/glibc_expf.cuh gpu/cuda/pimgpu_cuda_abi.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

# Static runtime: at run time only the driver's libcuda.so.1 is needed.
$(CUDA_PLUGIN): $(CUDA_OBJS) gpu/cuda/plugin.map
	$(NVCC) -shared -cudart static -gencode arch=compute_90,code=sm_90 \
		-Xlinker --version-script=gpu/cuda/plugin.map \
		-o $@ $(CUDA_OBJS)

.PHONY: install-cuda-plugin
install-cuda-plugin: $(CUDA_PLUGIN)
	install -d $(DESTDIR)$(CUDA_PLUGIN_DIR)
	install -m 0755 $(CUDA_PLUGIN) $(DESTDIR)$(CUDA_PLUGIN_DIR)/

INSTALL_TARGETS	+= install-cuda-plugin

# TAP: the GPU's expf against the host's on all 2^32 inputs (skips
# without a GPU).
GPU_EXPF_CHECK	:= $(BUILD)/gpu/cuda/expf_check

$(GPU_EXPF_CHECK): gpu/cuda/expf_check.cu gpu/cuda/glibc_expf.cuh
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Xcompiler -fopenmp -o $@ $< -lgomp

HOST_TESTS	+= $(GPU_EXPF_CHECK)
endif

# ---- tests (tests/gpu/) and the CUDA benchmark ----

GPU_CPU_TESTS	:= $(BUILD)/tests/gpu/test_cpu_backend \
		   $(BUILD)/tests/gpu/test_cpu_reference
GPU_CUDA_TEST	:= $(BUILD)/tests/gpu/test_cuda_backend
GPU_CUDA_BENCH	:= $(BUILD)/gpu/cuda/bench_cuda

$(BUILD)/tests/gpu/%.o: CPPFLAGS += -Igpu

$(GPU_CPU_TESTS): $(BUILD)/tests/gpu/%: $(BUILD)/tests/gpu/%.o $(GPU_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

# A plugin of another ABI version, for the test's loader checks.
GPU_ABI_MISMATCH := $(BUILD)/gpu/cuda/abi-mismatch-plugin.so

$(GPU_ABI_MISMATCH): gpu/cuda/abi_mismatch_plugin.c \
		gpu/cuda/pimgpu_cuda_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $<

# They find the plugin next to themselves in build/ (PIM_CUDA_PLUGIN
# overrides): build it first where it can be built.
$(GPU_CUDA_TEST) $(GPU_CUDA_BENCH): %: %.o $(GPU_LIB) | \
		$(if $(NVCC),$(CUDA_PLUGIN))
	$(CC) $(LDFLAGS) -o $@ $^ -lm -ldl

$(GPU_CUDA_TEST): | $(GPU_ABI_MISMATCH)

HOST_TESTS	+= $(GPU_CPU_TESTS) $(GPU_CUDA_TEST)
BENCHES		+= $(GPU_CUDA_BENCH)
