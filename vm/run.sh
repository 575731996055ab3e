#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot Debian's guest kernel under QEMU (TCG) and run a command, or a list
# of TAP suites, as root inside it. See usage() and docs in vm/README.md.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd -P)

usage()
{
	cat <<EOF
usage: vm/run.sh [options] -- COMMAND [ARG...]
       vm/run.sh [options] --suite SCRIPT [--suite SCRIPT...]
       vm/run.sh [options] --shell [-- COMMAND [ARG...]]

Boots build/vm/vmlinux under QEMU TCG with the host root (read-only, under
a tmpfs overlay) as the guest root, the repository at its host path, and
runs COMMAND, or each TAP suite in turn, as root. Output comes back on
stdout. The kernel log is scanned after the command and after each suite.

options:
  --memmap SIZE\$BASE  reserve guest RAM with memmap=SIZE\$BASE; the guest
                      gets PIM_BACKING=memmap, PIM_REGION_BASE/SIZE (hex)
  --cpu MODEL         QEMU CPU model (default: QEMU's; max,-erms for AVX2)
  --mem SIZE          guest RAM (default 2G; a bare number is MiB)
  --smp N             guest CPUs (default 2)
  --timeout SEC       kill the guest after SEC seconds (default 600, none
                      with --shell)
  --suite-timeout SEC per-suite limit inside the guest (default 300)
  --append ARGS       extra kernel command line
  --kernel DIR        boot the debug kernel that vm/debug-kernel/build.sh
                      built in DIR (its bzImage, modules and release)
  --systemd           the host's systemd is PID 1 of the guest and runs
                      the command or suites as a unit (not with --shell)
  --env NAME=VALUE    set a variable in the guest (PIM_* of the caller's
                      environment are passed on by default)
  --shell             interactive: the terminal is the guest's (default
                      COMMAND bash); leave it to power the guest off

exit status: the command's; in suite mode 0 when all suites passed, else 1;
1 also when the kernel log shows a warning; 124 when the guest timed out;
125 when the guest failed to boot, panicked or reported nothing.
EOF
}

die()
{
	echo "vm: $*" >&2
	exit 125
}

mode=
items=()
memmap=
cpu=
mem=2G
smp=2
timeout_s=
suite_timeout=300
append=
envs=()
shell=
kernel_dir=
systemd=

need_arg()
{
	[ "$#" -ge 2 ] || die "$1 needs an argument (see --help)"
}

while [ "$#" -gt 0 ]; do
	case "$1" in
	--memmap)	need_arg "$@"; memmap=$2; shift ;;
	--cpu)		need_arg "$@"; cpu=$2; shift ;;
	--mem)		need_arg "$@"; mem=$2; shift ;;
	--smp)		need_arg "$@"; smp=$2; shift ;;
	--timeout)	need_arg "$@"; timeout_s=$2; shift ;;
	--suite-timeout) need_arg "$@"; suite_timeout=$2; shift ;;
	--append)	need_arg "$@"; append="$append $2"; shift ;;
	--env)		need_arg "$@"; envs+=("$2"); shift ;;
	--kernel)	need_arg "$@"; kernel_dir=$2; shift ;;
	--suite)	need_arg "$@"; mode=suites; items+=("$2"); shift ;;
	--shell)	shell=1 ;;
	--systemd)	systemd=1 ;;
	-h|--help)	usage; exit 0 ;;
	--)		shift; break ;;
	*)		die "unknown option '$1' (see --help)" ;;
	esac
	shift
done

if [ "$#" -gt 0 ]; then
	[ "$mode" = suites ] && die "give either --suite or a command, not both"
	mode="command"
	items=("$@")
fi
if [ -n "$shell" ]; then
	[ "$mode" = suites ] && die "--shell runs a command, not suites"
	if [ ! -t 0 ] || [ ! -t 1 ]; then
		die "--shell needs a terminal"
	fi
	if [ -z "$mode" ]; then
		mode="command"
		items=(bash)
	fi
fi
[ -n "$mode" ] || { usage >&2; exit 125; }
if [ -n "$systemd" ]; then
	[ -n "$shell" ] && die "--systemd runs a command or suites, not --shell"
	[ -x /lib/systemd/systemd ] ||
		die "--systemd: /lib/systemd/systemd not found (run scripts/setup.sh)"
	# vm/init starts vm.target; the host's boot-time units that only
	# cost time here (coldplug of every device, clock, crash store)
	# are masked.
	append="$append vm.systemd=1 systemd.unit=vm.target"
	append="$append systemd.show_status=0"
	for u in systemd-udev-trigger systemd-timesyncd systemd-pstore \
		 systemd-firstboot systemd-repart; do
		append="$append systemd.mask=$u.service"
	done
fi
if [ -z "$timeout_s" ] && [ -z "$shell" ]; then
	timeout_s=600
fi

# memparse-like: decimal or 0x number, optional K/M/G/T suffix; a bare
# number is multiplied by $2 (default 1).
to_bytes()
{
	local n=$1 mul=${2:-1}

	case "$n" in
	*[kK]) mul=$((1 << 10)); n=${n%?} ;;
	*[mM]) mul=$((1 << 20)); n=${n%?} ;;
	*[gG]) mul=$((1 << 30)); n=${n%?} ;;
	*[tT]) mul=$((1 << 40)); n=${n%?} ;;
	esac
	[[ "$n" =~ ^(0[xX][0-9a-fA-F]+|[0-9]+)$ ]] || return 1
	echo $((n * mul))
}

is_uint()
{
	[[ "$1" =~ ^[1-9][0-9]*$ ]]
}

is_uint "$smp" || die "--smp '$smp': not a positive number"
if [ -n "$timeout_s" ] && ! is_uint "$timeout_s"; then
	die "--timeout '$timeout_s': not a positive number"
fi
is_uint "$suite_timeout" ||
	die "--suite-timeout '$suite_timeout': not a positive number"
# QEMU reads a bare -m number as MiB.
if ! mem_b=$(to_bytes "$mem" $((1 << 20))) || [ "$mem_b" -lt $((1 << 27)) ]
then
	die "--mem '$mem': not a size of at least 128M"
fi
for e in ${envs[@]+"${envs[@]}"}; do
	[[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] ||
		die "--env '$e': want NAME=VALUE"
done

region_env=()
if [ -n "$memmap" ]; then
	[[ "$memmap" == *'$'* ]] ||
		die "--memmap '$memmap': want SIZE\$BASE (e.g. 256M\$1G)"
	if ! size_b=$(to_bytes "${memmap%%\$*}") || [ "$size_b" -eq 0 ]; then
		die "--memmap '$memmap': bad SIZE"
	fi
	base_b=$(to_bytes "${memmap#*\$}") ||
		die "--memmap '$memmap': bad BASE"
	(( (size_b | base_b) & 0xfff )) &&
		die "--memmap '$memmap': SIZE and BASE must be page aligned"
	# QEMU's pc machine keeps at most 3 GiB below 4 GiB once RAM
	# reaches 3.5 GiB and puts the rest at 4 GiB. A region outside RAM
	# "reserves" nothing: writes there vanish.
	low=$mem_b
	high=0
	if [ "$mem_b" -ge $((0xe0000000)) ]; then
		low=$((0xc0000000))
		high=$((mem_b - low))
	fi
	end=$((base_b + size_b))
	if ! { [ "$base_b" -ge $((1 << 20)) ] && [ "$end" -le "$low" ]; } &&
	   ! { [ "$base_b" -ge $((1 << 32)) ] &&
	       [ "$end" -le $(((1 << 32) + high)) ]; }; then
		die "--memmap '$memmap': the region must lie inside guest RAM (--mem $mem)"
	fi
	region_env=(PIM_BACKING=memmap
		    "PIM_REGION_BASE=$(printf '0x%x' "$base_b")"
		    "PIM_REGION_SIZE=$(printf '0x%x' "$size_b")")
	append="memmap=$memmap$append"
else
	region_env=(PIM_BACKING=ram)
fi

vmdir=$top/build/vm
if [ -n "$kernel_dir" ]; then
	# A debug kernel: bzImage (its vmlinux does not boot through PVH),
	# 9p and overlay built in, so the initramfs carries no modules.
	[ -e "$kernel_dir/done" ] ||
		die "--kernel $kernel_dir: no finished debug kernel there (vm/debug-kernel/build.sh)"
	kver=$(cat "$kernel_dir/release")
	export KVER=$kver
	vmlinux=$kernel_dir/bzImage
	kmods=$kernel_dir/modules/lib/modules
	initrd=$vmdir/initramfs-$kver.cpio
	initrd_env=(KVER="$kver" VM_KMOD_ROOT="$kernel_dir/modules")
	stamp=$kernel_dir/done
else
	kver=${KVER:-$("$top/scripts/kver.sh")}
	vmlinux=$vmdir/vmlinux
	kmods=$vmdir/kernel/lib/modules
	initrd=$vmdir/initramfs.cpio
	initrd_env=()
	stamp=$vmdir/kernel.stamp
	[ -n "$kver" ] ||
		die "no kernel headers installed (run scripts/setup.sh)"
	if [ "$(cat "$vmdir/kernel.stamp" 2>/dev/null)" != "$kver" ] ||
	   [ ! -s "$vmlinux" ]; then
		die "guest kernel $kver not in build/vm (run scripts/setup.sh)"
	fi
fi
command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 not found (run scripts/setup.sh)"
# The kernel command line splits on blanks.
[[ "$top" =~ ^[[:graph:]]+$ ]] || die "repository path '$top' has blanks"

# Rebuild the initramfs when its inputs change.
stale=
[ -s "$initrd" ] || stale=1
for f in "$top/vm/init" "$top/vm/mkinitramfs.sh" "$stamp"; do
	[ "$f" -nt "$initrd" ] && stale=1
done
if [ -n "$stale" ]; then
	env ${initrd_env[@]+"${initrd_env[@]}"} "$top/vm/mkinitramfs.sh" \
		"$initrd" || die "cannot build the initramfs"
fi

mkdir -p "$vmdir/runs"
# Failed runs keep their logs; the newest 20 are plenty.
find "$vmdir/runs" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' |
	sort -rn | tail -n +21 | cut -d' ' -f2- | xargs -r rm -rf
run=$(mktemp -d "$vmdir/runs/XXXXXX") || die "cannot create a run directory"

# The job: environment, working directory and what to run, quoted for bash.
{
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	echo "export HOME=/root LC_ALL=C.UTF-8"
	[ -n "${KVER:-}" ] && printf 'export KVER=%q\n' "$KVER"
	for name in $(compgen -e); do
		[[ "$name" == PIM_* ]] &&
			printf 'export %s=%q\n' "$name" "${!name}"
	done
	echo "unset PIM_REGION_BASE PIM_REGION_SIZE"
	for e in "PIM_TOP=$top" "PIM_CPU=${cpu:-default}" "${region_env[@]}" \
		 ${envs[@]+"${envs[@]}"}; do
		printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
	done
	printf 'VM_MODE=%q\n' "$mode"
	printf 'VM_CWD=%q\n' "$PWD"
	printf 'VM_SUITE_TIMEOUT=%q\n' "$suite_timeout"
	if [ -n "$shell" ]; then
		printf 'VM_TTY=%q\n' "$(stty size) ${TERM:-vt100}"
	fi
	printf 'VM_ITEMS=('
	printf ' %q' "${items[@]}"
	printf ' )\n'
} >"$run/job"

# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
qemu=(qemu-system-x86_64 -accel tcg -nodefaults -nographic -no-reboot
      -net none -smp "$smp" -m "$((mem_b >> 20))M"
      -bios /usr/share/qemu/qboot.rom -kernel "$vmlinux" -initrd "$initrd"
      -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
      -virtfs "local,path=$run,mount_tag=vmout,security_model=none"
      -serial "file:$run/console.log"
      -chardev stdio,id=out,signal=off -serial chardev:out
      -append "console=ttyS0 panic=-1 quiet vm.top=$top vm.kmods=$kmods $append")
[ -n "$cpu" ] && qemu+=(-cpu "$cpu")

if [ -n "$shell" ]; then
	# QEMU puts the terminal in raw mode: ^C goes to the guest.
	if [ -n "$timeout_s" ]; then
		timeout --foreground "$timeout_s" "${qemu[@]}"
	else
		"${qemu[@]}"
	fi
	qrc=$?
	stty sane
else
	timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null
	qrc=$?
fi

# In suite mode failures are TAP lines, so that counting sees them.
report()
{
	if [ "$mode" = suites ]; then
		echo "not ok - vm: $*"
	else
		echo "vm: $*" >&2
	fi
}

# The console from its first alarming line on (40 lines), else its end.
console_tail()
{
	local c=$run/console.log re='Kernel panic|BUG:|Oops:|WARNING:|Call Trace'

	[ -s "$c" ] || return 0
	{
		if grep -qE "$re" "$c"; then
			tr -d '\r' <"$c" | awk -v re="$re" \
				'$0 ~ re { f = 1 } f && n++ < 40'
		else
			tail -n 30 "$c" | tr -d '\r'
		fi
	} | sed 's/^/# console: /' >&2
}

rc=
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	report "guest timed out after $timeout_s s and was killed"
	console_tail
	rc=124
elif [ ! -s "$run/status" ]; then
	if grep -q 'Kernel panic' "$run/console.log" 2>/dev/null; then
		report "guest kernel panic"
	else
		report "guest ended without a result (QEMU status $qrc)"
	fi
	console_tail
	rc=125
else
	read -r status hits <"$run/status"
	if [ "$mode" = command ]; then
		rc=$status
		[ "$hits" -gt 0 ] && [ "$rc" -eq 0 ] && rc=1
	else
		rc=$(( status > 0 || hits > 0 ))
	fi
fi

if [ "$rc" -eq 0 ]; then
	rm -rf "$run"
else
	echo "vm: logs kept in ${run#"$top"/}" >&2
fi
exit "$rc"
