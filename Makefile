# SPDX-License-Identifier: GPL-2.0
#
# Top-level build. Userspace goes to build/, the module is built by Kbuild
# (see Kbuild) against KDIR. Each part adds its own rules in a fragment:
#   dm/dm.mk        device model library, host tests, engine benchmark
#   kmod/kmod.mk    kernel module, guest tests, guest benchmark
#   vm/vm.mk        QEMU harness (guest kernel, initramfs, runner)
#   libpim/libpim.mk, daemon/daemon.mk, sim/sim.mk, ...
# Fragments append to USER_BINS (built by `make`), HOST_TESTS (run by
# `make check-host`), BENCHES (run by `make bench`), INSTALL_TARGETS, and
# for the guest: VM_DEPS (built before a boot), VM_SUITES (guest scripts run
# by `make check-vm`) and VM_BENCH_SUITES (run by `make bench-vm`).

CC		?= gcc
BUILD		:= build
PREFIX		?= /usr/local
DESTDIR		?=

# The guest kernel the tests boot; KDIR defaults to its headers.
KVER		?= $(shell scripts/kver.sh)
KDIR		?= /lib/modules/$(KVER)/build

WARN		:= -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes
# -ffp-contract=off and no -ffast-math: results must match the kernel bit for bit.
CFLAGS		?= -O2 -g
CFLAGS		+= -std=gnu11 $(WARN) -ffp-contract=off -D_GNU_SOURCE
CPPFLAGS	+= -Iinclude/uapi -Iinclude -Idm
LDFLAGS		?=

USER_BINS	:=
HOST_TESTS	:=
BENCHES		:=
INSTALL_TARGETS	:=
VM_DEPS		:=
VM_SUITES	:=
VM_BENCH_SUITES	:=

.PHONY: all userspace module check check-host check-vm bench bench-vm demo \
	install clean setup

all: userspace module

-include dm/dm.mk
-include kmod/kmod.mk
-include tests/kmod/tests.mk
-include tests/fuzz/fuzz.mk
-include tests/fault/fault.mk
-include tests/isolation/isolation.mk
-include tests/soak/soak.mk
-include vm/vm.mk
-include libpim/libpim.mk
-include tools/tools.mk
-include gpu/gpu.mk
-include sched/sched.mk
-include daemon/daemon.mk
-include sim/sim.mk
-include tests/systemd/systemd.mk
-include gpu/calib/calib.mk

userspace: $(USER_BINS)

# Host unit tests, then the driver tests in QEMU (in that order, even with -j).
check:
	@$(MAKE) --no-print-directory check-host
	@$(MAKE) --no-print-directory check-vm

check-host: $(HOST_TESTS)
	@scripts/run-tap.sh $(HOST_TESTS)

bench: $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done

setup:
	scripts/setup.sh

install: $(INSTALL_TARGETS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

clean:
	rm -rf $(BUILD)
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || true

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
