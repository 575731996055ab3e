# SPDX-License-Identifier: GPL-2.0
#
# pimctl: build/pimctl, on top of libpim (libpim/libpim.mk).

ifneq ($(DM_LIB),)

PIMCTL_SRCS	:= $(wildcard tools/pimctl/*.c)
PIMCTL_OBJS	:= $(PIMCTL_SRCS:%.c=$(BUILD)/%.o)
PIMCTL		:= $(BUILD)/pimctl

# The raw io_uring path of `pimctl bench` uses liburing directly.
$(PIMCTL): $(PIMCTL_OBJS) $(BUILD)/libpim.so
	$(CC) $(LDFLAGS) -o $@ $(PIMCTL_OBJS) -L$(BUILD) \
		-Wl,-rpath,'$$ORIGIN' -lpim -luring -lm

$(BUILD)/man/pimctl.1: man/pimctl.1.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@

USER_BINS	+= $(PIMCTL) $(BUILD)/man/pimctl.1
HOST_TESTS	+= tests/libpim/pimctl.sh
tests/libpim/pimctl.sh: $(PIMCTL)
VM_DEPS		+= $(PIMCTL)

.PHONY: install-pimctl
install-pimctl: $(PIMCTL) $(BUILD)/man/pimctl.1
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(PIMCTL) $(DESTDIR)$(PREFIX)/bin/pimctl
	install -m 0644 $(BUILD)/man/pimctl.1 \
		$(DESTDIR)$(PREFIX)/share/man/man1/

INSTALL_TARGETS	+= install-pimctl

endif
