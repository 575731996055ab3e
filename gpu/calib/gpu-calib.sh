#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole GPU calibration, on a machine with an NVIDIA GPU, from the
# repository root:
#
#	gpu/calib/gpu-calib.sh OUTDIR
#
# Builds pim-gpucal with that machine's nvcc and cc (no make, no Debian
# packages), records the GPU, driver and clocks with nvidia-smi, measures
# the GEMMs (cuBLAS) and unfused attention with it, then fused attention
# with gpu/calib/attn_sdpa.py (python3 with torch), and merges the two
# (a few minutes at most on an H200). Writes:
#   OUTDIR/h200.tsv              the data file: cuBLAS GEMMs, fused
#                                attention (commit it as data/gpu/h200.tsv)
#   OUTDIR/h200-unfused-attn.tsv pim-gpucal's file, unfused attention
#   OUTDIR/h200-sdpa-attn.tsv    attn_sdpa.py's file, fused attention
#   OUTDIR/gpu-calib.log         build and run log, one line per measurement
#   OUTDIR/clocks.csv, OUTDIR/clocks-sdpa.csv
#                                SM/memory clocks, power, temperature every
#                                0.5 s while each tool runs
# PRESET (default H200) names the gpu preset being calibrated, and the
# files. Extra arguments go to pim-gpucal, ATTN_ARGS to attn_sdpa.py.
# SDPA=0 skips the fused measurement: OUTDIR/h200.tsv is pim-gpucal's.
# GEMMS_FROM=FILE takes pim-gpucal's file from FILE instead of measuring
# again (no nvcc needed), to redo only the fused attention.
set -euo pipefail

out=${1:?usage: gpu/calib/gpu-calib.sh OUTDIR [pim-gpucal options]}
shift
preset=${PRESET:-H200}
base="$out/$(echo "$preset" | tr 'A-Z' 'a-z')"
file="$base.tsv"
sdpa=${SDPA:-1}
gemms_from=${GEMMS_FROM:-}
PYTHON=${PYTHON:-python3}
[ -f gpu/calib/measure.cu ] || {
	echo "gpu-calib.sh: run me from the repository root" >&2
	exit 2
}
case $sdpa in
0) unfused=$file ;;
1) unfused=$base-unfused-attn.tsv ;;
*) echo "gpu-calib.sh: SDPA must be 0 or 1" >&2; exit 2 ;;
esac
if [ -n "$gemms_from" ]; then
	[ -f "$gemms_from" ] || {
		echo "gpu-calib.sh: GEMMS_FROM=$gemms_from: no such file" >&2
		exit 2
	}
	if [ "$sdpa" != 1 ] || [ $# != 0 ]; then
		echo "gpu-calib.sh: GEMMS_FROM measures only the fused attention (SDPA=1, no pim-gpucal options)" >&2
		exit 2
	fi
fi
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
CC=${CC:-cc}
mkdir -p "$out"
log="$out/gpu-calib.log"
: >"$log"
exec > >(tee -a "$log") 2>&1

say() { printf '== %s\n' "$*"; }

command -v nvidia-smi >/dev/null || { echo "gpu-calib.sh: no nvidia-smi" >&2; exit 1; }
[ -n "$gemms_from" ] || [ -x "$NVCC" ] ||
	{ echo "gpu-calib.sh: no nvcc (set NVCC)" >&2; exit 1; }
# Fail now, not after the GEMMs, if the fused half cannot run.
if [ "$sdpa" = 1 ] && ! "$PYTHON" -c 'import torch.nn.attention' 2>/dev/null
then
	echo "gpu-calib.sh: $PYTHON has no torch (set PYTHON, or SDPA=0 to keep the unfused attention)" >&2
	exit 1
fi

say "GPU"
q=name,driver_version,pstate,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,power.limit,temperature.gpu,persistence_mode
nvidia-smi --query-gpu=$q --format=csv
smi=$(nvidia-smi -i 0 --query-gpu=$q --format=csv,noheader | tr -d '\n')
IFS=',' read -r g_name g_drv g_ps g_sm g_mem g_maxsm g_maxmem g_pow _ \
	g_pers <<<"$smi"
trim() { echo "$1" | sed 's/^ *//; s/ *$//'; }
meta=(--meta "nvidia_smi_name=$(trim "$g_name")"
      --meta "driver=$(trim "$g_drv")"
      --meta "clocks_before=SM $(trim "$g_sm"), memory $(trim "$g_mem"), max SM $(trim "$g_maxsm"), max memory $(trim "$g_maxmem"), $(trim "$g_ps")"
      --meta "power_limit=$(trim "$g_pow")"
      --meta "persistence_mode=$(trim "$g_pers")"
      --meta "host=$(uname -sr)")

bld=$(mktemp -d)
trap 'rm -rf "$bld"; [ -n "${mon:-}" ] && kill "$mon" 2>/dev/null || true' EXIT

# Sample the clocks into $1 while the rest of the arguments run.
monitored() {
	local csv=$1 rc=0

	shift
	nvidia-smi -i 0 --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu \
		--format=csv -lms 500 >"$csv" 2>/dev/null &
	mon=$!
	start=$(date +%s)
	"$@" || rc=$?
	kill "$mon" 2>/dev/null || true
	wait "$mon" 2>/dev/null || true
	mon=
	secs=$(($(date +%s) - start))
	return $rc
}

col() {	# min median max of column $2 of the clocks file $1
	awk -F', ' -v c="$2" 'NR > 1 && $c + 0 > 0 { print $c + 0 }' "$1" |
		sort -n | awk '{ a[NR] = $1 } END {
		if (NR) printf "%g %g %g %d", a[1], a[int((NR + 1) / 2)], a[NR], NR }'
}

# The clocks seen while measuring go into the header of $1.raw, before
# the columns; the result is $1.
stamp() {
	local csv=$2 sm_lo sm_med sm_hi n_s mem_med pow_hi during

	read -r sm_lo sm_med sm_hi n_s <<<"$(col "$csv" 2)" || true
	read -r _ mem_med _ _ <<<"$(col "$csv" 3)" || true
	read -r _ _ pow_hi _ <<<"$(col "$csv" 4)" || true
	if [ -n "${n_s:-}" ]; then
		during="SM MHz min $sm_lo median $sm_med max $sm_hi, memory MHz median $mem_med, power max $pow_hi W, $n_s samples"
	else
		during="not recorded"
	fi
	awk -v d="$during" -v s="$secs" '!done && !/^#/ {
		print "# clocks_during_run: " d; print "# run_seconds: " s
		done = 1 } { print }' "$1.raw" >"$1"
	rm -f "$1.raw"
}

if [ -n "$gemms_from" ]; then
	say "GEMMs and unfused attention from $gemms_from"
	[ "$gemms_from" -ef "$unfused" ] || cp "$gemms_from" "$unfused"
else
	say "build ($NVCC, $CC)"
	"$NVCC" --version | tail -n 2
	for c in gpu/calib/gpucal.c gpu/calib.c gpu/presets.c; do
		"$CC" -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Igpu -c -o \
			"$bld/$(basename "$c" .c).o" "$c"
	done
	cudalib=$(dirname "$(readlink -f "$NVCC")")/../lib64
	"$NVCC" -O2 -std=c++17 -gencode arch=compute_90,code=sm_90 \
		-gencode arch=compute_90,code=compute_90 -c -o "$bld/measure.o" \
		gpu/calib/measure.cu
	"$NVCC" -o "$bld/pim-gpucal" "$bld"/*.o -L"$cudalib" -lcublas -lm \
		-Xlinker -rpath="$cudalib"

	say "measure: GEMMs and unfused attention (pim-gpucal)"
	monitored "$out/clocks.csv" "$bld/pim-gpucal" -o "$unfused.raw" \
		--preset "$preset" "${meta[@]}" \
		--meta "nvcc=$("$NVCC" --version | tail -n 1)" "$@"
	stamp "$unfused" "$out/clocks.csv"
fi

if [ "$sdpa" = 1 ]; then
	say "measure: fused attention (attn_sdpa.py)"
	# shellcheck disable=SC2086
	monitored "$out/clocks-sdpa.csv" "$PYTHON" gpu/calib/attn_sdpa.py \
		-o "$base-sdpa-attn.tsv.raw" --preset "$preset" "${meta[@]}" \
		${ATTN_ARGS:-}
	stamp "$base-sdpa-attn.tsv" "$out/clocks-sdpa.csv"
	say "merge"
	"$PYTHON" gpu/calib/merge_attn.py "$unfused" "$base-sdpa-attn.tsv" \
		-o "$file"
fi
say "done: $file ($(grep -vc '^#' "$file") lines), $log"
