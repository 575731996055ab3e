# SPDX-License-Identifier: GPL-2.0
#
# pimd under systemd (tests/systemd/): in the guest configuration of
# make check-vm that boots systemd as PID 1, pimd.service is SIGKILLed
# under load and must come back; see docs/reliability.md.

SD_LOAD		:= $(BUILD)/tests/systemd/pim-sd-load

$(BUILD)/tests/systemd/pim_sd_load.o: CPPFLAGS += -I.

$(SD_LOAD): $(BUILD)/tests/systemd/pim_sd_load.o
	$(CC) $(LDFLAGS) -o $@ $^ -lsystemd

.PRECIOUS: $(BUILD)/tests/systemd/%.o

VM_DEPS		+= $(SD_LOAD) $(PIMD)
VM_SYSTEMD_SUITES += tests/systemd/guest-restart.sh
