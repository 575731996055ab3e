#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The end-to-end run on a GPU machine, from the repository root, with the
# folder scripts/gpu-bundle.sh made (no system D-Bus, liburing or
# libsystemd needed): a private session bus from the bundle, pimd with the
# in-process PIM backend, and pimd-demo serving a trace with the model
# "small" on compute cuda, its GPU and PIM sides ping-ponged; every token
# is checked against the pure-CPU reference. The same trace then runs
# with the sub-batches one after the other (--serial), for comparison.
#
#   scripts/gpu-demo.sh OUTDIR [PIMD-DEMO OPTIONS...]
#
# Options after OUTDIR go to both pimd-demo runs, after the defaults
# (so they win). Environment: GPU_BUNDLE (default .gpurun), GPU_DEMO_SERIAL
# (0 skips the serial run). OUTDIR gets demo.log (the overlapped run,
# with its Gantt chart), timeline.json (its Chrome trace: chrome://tracing
# or ui.perfetto.dev), serial.log and serial-timeline.json, pimd.log,
# gpu.txt (nvidia-smi), and status (one line per run: its exit status).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ $# -ge 1 ] || { echo "usage: scripts/gpu-demo.sh OUTDIR [OPTIONS...]" >&2
		  exit 2; }
out=$1
shift
bundle=$top/${GPU_BUNDLE:-.gpurun}
[ -x "$bundle/bin/pimd" ] || {
	echo "gpu-demo: no bundle in $bundle: run scripts/gpu-bundle.sh" >&2
	exit 1
}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
: >"$out/status"
if command -v nvidia-smi >/dev/null; then
	nvidia-smi >"$out/gpu.txt" 2>&1
else
	echo "nvidia-smi not found" >"$out/gpu.txt"
fi

export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PIM_CUDA_PLUGIN="$bundle/lib/libpimgpu-cuda.so"
export PIM_INPROC_MB=${PIM_INPROC_MB:-1024}
export PATH="$bundle/bin:$PATH"

# One pimd-demo run against a fresh pimd: NAME, then pimd-demo options.
run()
{
	name=$1
	shift
	"$bundle/bin/dbus-run-session" --dbus-daemon="$bundle/bin/dbus-daemon" \
		--config-file="$bundle/etc/session.conf" -- sh -c '
		out=$1 name=$2
		shift 2
		echo "== $name" >>"$out/pimd.log"
		pimd --user --backend inproc 2>>"$out/pimd.log" &
		pid=$!
		pimd-demo "$@" >"$out/$name.log" 2>&1
		rc=$?
		kill -TERM $pid
		wait $pid || rc=1
		exit $rc
	' sh "$out" "$name" "$@"
	rc=$?
	cat "$out/$name.log"
	echo "$name $rc" >>"$out/status"
	return $rc
}

defaults="--model small --gpu H200 --compute cuda --requests 6 --prompt 128:256
	  --new 12:20"
# shellcheck disable=SC2086
run demo $defaults --timeline-json "$out/timeline.json" "$@"
rc=$?
if [ "${GPU_DEMO_SERIAL:-1}" != 0 ]; then
	# shellcheck disable=SC2086
	run serial $defaults --serial --quiet \
		--timeline-json "$out/serial-timeline.json" "$@" || rc=1
fi
echo "gpu-demo: results in $out ($(tr '\n' ' ' <"$out/status"))"
exit $rc
