#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest suite of tests/vm/harness-test.sh: vm_warn.ko warn=1 WARNs at load
# time, inside an injection window (which excuses allocation failures, not
# warnings). Its own tests pass; the kernel log scan after it must fail it.
top=$(cd "$(dirname "$0")/../.." && pwd -P)
. "$top/tests/vm/tap.sh"

echo "vm-inject-begin vm_warn" >/dev/kmsg
tap_ok "insmod vm_warn.ko warn=1" insmod "$VM_WARN_KO" warn=1
tap_ok "rmmod vm_warn" rmmod vm_warn
echo "vm-inject-end" >/dev/kmsg
tap_done
