#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm/check.sh check SUITE...	make check-vm: the harness's own host test,
#				then every SUITE in each of Debian's kernel's
#				three configurations, VM_SYSTEMD_SUITES in a
#				guest with systemd as PID 1, and, when
#				VM_DEBUG_KERNEL is set, VM_DEBUG_SUITES on the
#				debug kernel
# vm/check.sh bench SUITE...	make bench-vm: every SUITE in one guest
# vm/check.sh check-debug	make check-debug: the debug kernel's
#				configuration alone
#
# Passes all TAP through and ends, for check, with one "N passed, N failed"
# line (scripts/run-tap.sh's counting rules). Environment: VM_MEMMAP
# (default 256M$1G), VM_MEM (2G), VM_TIMEOUT (per boot, 420 s),
# VM_SUITE_TIMEOUT (per suite, 240 s); the debug kernel's configuration:
# VM_DEBUG_KERNEL (build.sh's cache directory), VM_DEBUG_KO (the module
# built against it), VM_DEBUG_SUITES (blank-separated); PIM_* variables
# reach the guest.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$top" || exit 1

what=${1:-}
shift
memmap=${VM_MEMMAP:-256M\$1G}
mem=${VM_MEM:-2G}
run_opts=(--mem "$mem" --timeout "${VM_TIMEOUT:-420}"
	  --suite-timeout "${VM_SUITE_TIMEOUT:-240}")

die()
{
	echo "$what-vm: $*" >&2
	exit 1
}

case "$what" in
check|bench|check-debug)	;;
*)		echo "usage: vm/check.sh check|bench|check-debug SUITE..." >&2
		exit 2 ;;
esac

# suite_opts ARRAY SUITE...: --suite options for vm/run.sh.
suite_opts()
{
	local -n opts=$1
	local s

	shift
	opts=()
	for s in "$@"; do
		[ -x "$s" ] || die "suite $s is missing or not executable"
		opts+=(--suite "$s")
	done
}

suites=()
sd_suites=()
debug_suites=()
suite_opts suites "$@"
# shellcheck disable=SC2086 # blank-separated lists from make
suite_opts sd_suites ${VM_SYSTEMD_SUITES:-}
# shellcheck disable=SC2086
suite_opts debug_suites ${VM_DEBUG_SUITES:-}
own=0
for s in "$@"; do
	[[ "$s" == tests/vm/* ]] && own=$((own + 1))
done
if [ "$what" = bench ] && [ $# -eq 0 ]; then
	die "no guest benchmarks: VM_BENCH_SUITES is empty"
fi
if [ "$what" = check ] && [ $# -eq "$own" ]; then
	die "no guest suites: VM_SUITES holds only the harness's own tests (tests/vm/); the driver's suites come from tests/*/ fragments"
fi
if [ "$what" = check-debug ] || [ -n "${VM_DEBUG_KERNEL:-}" ]; then
	[ -n "${VM_DEBUG_KERNEL:-}" ] || die "VM_DEBUG_KERNEL is not set"
	[ -f "${VM_DEBUG_KO:-}" ] ||
		die "VM_DEBUG_KO '${VM_DEBUG_KO:-}' is not the debug kernel's pim.ko"
	[ "${#debug_suites[@]}" -gt 0 ] ||
		die "no guest suites for the debug kernel: VM_DEBUG_SUITES is empty"
fi

log=$(mktemp)
one=$(mktemp)
trap 'rm -f "$log" "$one"' EXIT

now()
{
	date +%s.%N
}

# step NAME COMMAND...: run one step, pass its output through, and count
# a failed step without a "not ok" line of its own as one failure.
step()
{
	local name=$1 t0 rc

	shift
	t0=$(now)
	"$@" 2>&1 | tee "$one"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$one"; then
		echo "not ok - $name failed with status $rc" | tee -a "$one"
	fi
	printf '# vm: %s: %.1f s\n' "$name" "$(echo "$(now) - $t0" | bc)" |
		tee -a "$one"
	cat "$one" >>"$log"
	return "$rc"
}

if [ "$what" = bench ]; then
	step "bench boot (memmap $memmap, default CPU)" \
		vm/run.sh "${run_opts[@]}" --memmap "$memmap" "${suites[@]}"
	exit
fi

# The debug kernel: KASAN and lockdep make the guest several times slower.
debug_config()
{
	step "$1 (debug kernel, memmap $memmap, default CPU)" \
		env PIM_KO="$VM_DEBUG_KO" \
		vm/run.sh --mem "$mem" --timeout $((4 * ${VM_TIMEOUT:-420})) \
		--suite-timeout $((3 * ${VM_SUITE_TIMEOUT:-240})) \
		--kernel "$VM_DEBUG_KERNEL" --memmap "$memmap" \
		"${debug_suites[@]}"
}

t0=$(now)
if [ "$what" = check-debug ]; then
	debug_config "debug config"
else
	step "harness test" tests/vm/harness-test.sh
	step "config 1 (memmap $memmap, default CPU)" \
		vm/run.sh "${run_opts[@]}" --memmap "$memmap" "${suites[@]}"
	step "config 2 (RAM backing, default CPU)" \
		vm/run.sh "${run_opts[@]}" "${suites[@]}"
	step "config 3 (memmap $memmap, CPU max,-erms)" \
		vm/run.sh "${run_opts[@]}" --memmap "$memmap" \
		--cpu max,-erms "${suites[@]}"
	if [ "${#sd_suites[@]}" -gt 0 ]; then
		step "config 4 (systemd as PID 1, memmap $memmap)" \
			vm/run.sh "${run_opts[@]}" --systemd \
			--memmap "$memmap" "${sd_suites[@]}"
	fi
	if [ -n "${VM_DEBUG_KERNEL:-}" ]; then
		debug_config "config 5"
	else
		echo "# vm: debug kernel's configuration left out (DEBUG_KERNEL=0)"
	fi
fi
printf '# vm: check-vm: %.1f s\n' "$(echo "$(now) - $t0" | bc)"

pass=$(grep -cE '^ok [0-9]+' "$log")
skip=$(grep -cE '^ok [0-9]+.*# SKIP' "$log")
fail=$(grep -cE '^not ok' "$log")
[ "$skip" -gt 0 ] && echo "# $skip skipped (reasons above)"
echo "$((pass - skip)) passed, $fail failed"
[ "$fail" -eq 0 ]
