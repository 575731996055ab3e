#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole GPU calibration, on a machine with an NVIDIA GPU, from the
# repository root:
#
#	gpu/calib/gpu-calib.sh OUTDIR
#
# Builds pim-gpucal with that machine's nvcc and cc (no make, no Debian
# packages), records the GPU, driver and clocks with nvidia-smi, runs the
# measurements (a few minutes at most on an H200) and writes:
#   OUTDIR/h200.tsv        the data file (commit it as data/gpu/h200.tsv)
#   OUTDIR/gpu-calib.log   build and run log, one line per measurement
#   OUTDIR/clocks.csv      SM/memory clocks, power, temperature every 0.5 s
# PRESET (default H200) names the gpu preset being calibrated, and the
# file: OUTDIR/<preset in lower case>.tsv. Extra arguments go to pim-gpucal.
set -euo pipefail

out=${1:?usage: gpu/calib/gpu-calib.sh OUTDIR [pim-gpucal options]}
shift
preset=${PRESET:-H200}
file="$out/$(echo "$preset" | tr 'A-Z' 'a-z').tsv"
[ -f gpu/calib/measure.cu ] || {
	echo "gpu-calib.sh: run me from the repository root" >&2
	exit 2
}
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
CC=${CC:-cc}
mkdir -p "$out"
log="$out/gpu-calib.log"
: >"$log"
exec > >(tee -a "$log") 2>&1

say() { printf '== %s\n' "$*"; }

command -v nvidia-smi >/dev/null || { echo "gpu-calib.sh: no nvidia-smi" >&2; exit 1; }
[ -x "$NVCC" ] || { echo "gpu-calib.sh: no nvcc (set NVCC)" >&2; exit 1; }

say "GPU"
q=name,driver_version,pstate,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,power.limit,temperature.gpu,persistence_mode
nvidia-smi --query-gpu=$q --format=csv
smi=$(nvidia-smi -i 0 --query-gpu=$q --format=csv,noheader | tr -d '\n')
IFS=',' read -r g_name g_drv g_ps g_sm g_mem g_maxsm g_maxmem g_pow g_temp \
	g_pers <<<"$smi"
trim() { echo "$1" | sed 's/^ *//; s/ *$//'; }

say "build ($NVCC, $CC)"
"$NVCC" --version | tail -n 2
bld=$(mktemp -d)
trap 'rm -rf "$bld"; [ -n "${mon:-}" ] && kill "$mon" 2>/dev/null || true' EXIT
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

say "measure"
nvidia-smi -i 0 --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu \
	--format=csv -lms 500 >"$out/clocks.csv" 2>/dev/null &
mon=$!
start=$(date +%s)
"$bld/pim-gpucal" -o "$file.raw" --preset "$preset" \
	--meta "nvidia_smi_name=$(trim "$g_name")" \
	--meta "driver=$(trim "$g_drv")" \
	--meta "clocks_before=SM $(trim "$g_sm"), memory $(trim "$g_mem"), max SM $(trim "$g_maxsm"), max memory $(trim "$g_maxmem"), $(trim "$g_ps")" \
	--meta "power_limit=$(trim "$g_pow")" \
	--meta "persistence_mode=$(trim "$g_pers")" \
	--meta "nvcc=$("$NVCC" --version | tail -n 1)" \
	--meta "host=$(uname -sr)" \
	"$@"
kill "$mon" 2>/dev/null || true
wait "$mon" 2>/dev/null || true
mon=
secs=$(($(date +%s) - start))

# The clocks seen while measuring go into the header, before the columns.
col() {	# min median max of column $1 of clocks.csv
	awk -F', ' -v c="$1" 'NR > 1 && $c + 0 > 0 { print $c + 0 }' \
		"$out/clocks.csv" | sort -n | awk '{ a[NR] = $1 } END {
		if (NR) printf "%g %g %g %d", a[1], a[int((NR + 1) / 2)], a[NR], NR }'
}
read -r sm_lo sm_med sm_hi n_s <<<"$(col 2)" || true
read -r _ mem_med _ _ <<<"$(col 3)" || true
read -r _ _ pow_hi _ <<<"$(col 4)" || true
if [ -n "${n_s:-}" ]; then
	during="SM MHz min $sm_lo median $sm_med max $sm_hi, memory MHz median $mem_med, power max $pow_hi W, $n_s samples"
else
	during="not recorded"
fi
awk -v d="$during" -v s="$secs" '!done && !/^#/ {
	print "# clocks_during_run: " d; print "# run_seconds: " s; done = 1 }
	{ print }' "$file.raw" >"$file"
rm -f "$file.raw"
say "done in ${secs}s: $file ($(grep -vc '^#' "$file") lines), $log, $out/clocks.csv"
