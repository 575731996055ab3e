#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build pimd and pimd-demo and put them, with everything they need that a
# GPU machine may lack, into one folder (default .gpurun/) that
# scripts/gpu-demo.sh runs there:
#
#   bin/  pimd, pimd-demo, dbus-daemon, dbus-run-session
#   lib/  their shared libraries (the ldd closure, less glibc's own), and
#         the CUDA plugin libpimgpu-cuda.so when nvcc could build it
#   etc/  session.conf: a private session bus for pimd and the client
#
#   scripts/gpu-bundle.sh [DIR]
#
# The CUDA plugin's own libraries (CUDA runtime, cuBLAS, the driver) are
# not copied: the GPU machine has them, and they are large.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
dir=${1:-.gpurun}

die()
{
	echo "gpu-bundle: $*" >&2
	exit 1
}

make -j2 build/daemon/pimd build/daemon/pimd-demo >/dev/null ||
	die "make failed"
plugin=build/libpimgpu-cuda.so
if make -n "$plugin" >/dev/null 2>&1; then
	make -j2 "$plugin" >/dev/null || die "make $plugin failed"
else
	echo "gpu-bundle: no CUDA plugin (nvcc not found): compute cuda will" \
	     "report it" >&2
	plugin=
fi
for b in dbus-daemon dbus-run-session; do
	command -v $b >/dev/null || die "$b not found (package dbus)"
done

rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/lib" "$dir/etc"
cp build/daemon/pimd build/daemon/pimd-demo "$dir/bin/"
cp "$(command -v dbus-daemon)" "$(command -v dbus-run-session)" "$dir/bin/"
[ -z "$plugin" ] || cp "$plugin" "$dir/lib/"

# The closure, less what every glibc system has (and must match itself).
for b in "$dir"/bin/*; do
	ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r lib; do
	case ${lib##*/} in
	libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | \
	ld-linux*.so.* | librt.so.*) ;;
	*) cp -L "$lib" "$dir/lib/" ;;
	esac
done
strip --strip-unneeded "$dir"/bin/* "$dir"/lib/*.so* 2>/dev/null || true

cat >"$dir/etc/session.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- A private session bus for pimd and pimd-demo (scripts/gpu-demo.sh). -->
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF

echo "gpu-bundle: $dir: $(ls "$dir/bin" | wc -l) programs," \
     "$(ls "$dir/lib" | wc -l) libraries, $(du -sh "$dir" | cut -f1)"
