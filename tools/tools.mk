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

USER_BINS	+= $(PIMCTL)
VM_DEPS		+= $(PIMCTL)

.PHONY: install-pimctl
install-pimctl: $(PIMCTL)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PIMCTL) $(DESTDIR)$(PREFIX)/bin/pimctl

INSTALL_TARGETS	+= install-pimctl

endif
