#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# gpu/cuda/gpu-check.sh OUTDIR - the CUDA backend's whole check on a GPU
# machine, run from the repository root. It shows the GPU; builds the
# plugin, the tests and the benchmark with this machine's nvcc and cc (only
# build/libpimgpu.a, -lm and -ldl are linked: no liburing, libudev or
# libsystemd needed); runs the CPU backend tests, the CUDA backend test,
# the exhaustive expf check and the benchmark. Everything goes to
# OUTDIR/cuda-check.log, the benchmark lines also to OUTDIR/bench-cuda.txt.
# Exit status 0 when every test passed.
set -euo pipefail

usage() {
	echo "usage: $0 OUTDIR   (from the repository root)" >&2
	exit 2
}

[ $# -eq 1 ] && [ -n "$1" ] || usage
[ -f gpu/cuda/plugin.cu ] && [ -f Makefile ] || {
	echo "$0: run this from the repository root" >&2
	exit 2
}
out=$1
mkdir -p "$out"
log=$out/cuda-check.log

step() {
	echo
	echo "== $*"
}

# Called in a condition, where set -e does not apply: every step checks.
run() {
	local failed=0

	step "system"
	uname -a
	ldd --version 2>&1 | head -n 1	# glibc: its expf is what SiLU matches
	if command -v nvidia-smi >/dev/null; then
		nvidia-smi
	else
		echo "nvidia-smi not found"
	fi

	step "tools"
	NVCC=${NVCC:-$(command -v nvcc ||
		ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)}
	if [ -z "$NVCC" ]; then
		echo "gpu-check: nvcc not found (set NVCC=/path/to/nvcc)"
		return 1
	fi
	for tool in make cc ar; do
		command -v "$tool" >/dev/null || {
			echo "gpu-check: $tool not found"
			return 1
		}
	done
	"$NVCC" --version | tail -n 2
	cc --version | head -n 1

	step "build (make: only the GPU side's targets)"
	local t=build/tests/gpu
	local tests="$t/test_cpu_backend $t/test_cpu_reference $t/test_cuda_backend
		build/gpu/cuda/expf_check"
	make -j"$(nproc)" NVCC="$NVCC" build/libpimgpu-cuda.so $tests \
		build/gpu/cuda/bench_cuda || return 1

	step "tests"
	PIM_CUDA_PLUGIN=build/libpimgpu-cuda.so scripts/run-tap.sh $tests ||
		failed=1

	step "benchmark"
	PIM_CUDA_PLUGIN=build/libpimgpu-cuda.so build/gpu/cuda/bench_cuda |
		tee "$out/bench-cuda.txt" || failed=1
	return $failed
}

if run 2>&1 | tee "$log"; then
	echo "gpu-check: all passed; log in $log" | tee -a "$log"
else
	echo "gpu-check: FAILED (see $log)" | tee -a "$log"
	exit 1
fi
