#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# What a GPU calibration says, in one command (make calib-report):
#
#	gpu/calib/report.sh PIMSIM DATAFILE [MODEL [TRACES]]
#
# prints the roofline against every measurement of DATAFILE with a
# summary per operator, then GPU-only and L3 on the file's GPU, with the
# roofline and with the measured times (default GPT-175B, all traces).
set -eu
sim=${1:?usage: report.sh PIMSIM DATAFILE [MODEL [TRACES]]}
data=${2:?usage: report.sh PIMSIM DATAFILE [MODEL [TRACES]]}
model=${3:-GPT-175B}
traces=${4:-openr1 dolphin openthoughts dolphin-short}
if [ ! -f "$data" ]; then
	echo "report.sh: $data: no such file (run gpu/calib/gpu-calib.sh on a GPU machine)" >&2
	exit 1
fi
gpu=$(sed -n 's/^# preset: *//p' "$data" | head -n 1)

"$sim" --gpu-calib "$data" --calib-report
echo
echo "L3 / GPU-only throughput, $model on 8 x $gpu: roofline, then measured GPU times"
printf '%-14s %9s %9s %9s %9s %8s %8s\n' trace gpu-roof l3-roof gpu-meas \
	l3-meas l3/gpu l3/gpu
for t in $traces; do
	row=""
	for calib in "" "--gpu-calib $data"; do
		for s in gpu-only l3; do
			# shellcheck disable=SC2086
			tok=$("$sim" -s "$s" -m "$model" -g "$gpu" $calib -t "$t" \
			      -f csv | awk -F, 'NR == 2 { print $10 }')
			row="$row $tok"
		done
	done
	# shellcheck disable=SC2086
	set -- $row
	awk -v t="$t" -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN {
		printf "%-14s %9.1f %9.1f %9.1f %9.1f %7.2fx %7.2fx\n",
			t, a, b, c, d, b / a, d / c }'
done
