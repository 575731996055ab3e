#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest suite of tests/vm/harness-test.sh: vm_warn.ko loads and unloads
# without a warning, so the kernel log scan after it must stay clean.
top=$(cd "$(dirname "$0")/../.." && pwd -P)
. "$top/tests/vm/tap.sh"

tap_ok "insmod vm_warn.ko" insmod "$VM_WARN_KO"
tap_ok "rmmod vm_warn" rmmod vm_warn
tap_done
