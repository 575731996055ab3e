# SPDX-License-Identifier: GPL-2.0
#
# pimd (build/daemon/pimd), its tests (tests/daemon/) and the files that
# make it a system service (data/), installed by `make install`.

PIMD_SRCS	:= main.c errors.c manager.c udev.c session.c serve.c \
		   serve_model.c serve_step.c serve_pipe.c serve_timeline.c \
		   cpu_model.c
PIMD_OBJS	:= $(PIMD_SRCS:%.c=$(BUILD)/daemon/%.o)
PIMD		:= $(BUILD)/daemon/pimd
PIMD_LIBS	:= $(LIBPIM_A) $(SCHED_LIB) $(GPU_LIB)
# -ldl: the CUDA backend's loader (gpu/gpu_cuda.c) in GPU_LIB.
PIMD_LDLIBS	:= -lsystemd -ludev -luring -lpthread -lm -ldl

# sd-bus and sd-event callbacks have fixed signatures.
$(PIMD_OBJS): CPPFLAGS += -I.
$(PIMD_OBJS): CFLAGS += -Wno-unused-parameter

$(PIMD): $(PIMD_OBJS) $(PIMD_LIBS)
	$(CC) $(LDFLAGS) -o $@ $(PIMD_OBJS) $(PIMD_LIBS) $(PIMD_LDLIBS)

USER_BINS	+= $(PIMD)

# ---- tests ----

PIMD_TEST	:= $(BUILD)/tests/daemon/test_pimd

$(PIMD_TEST): $(BUILD)/tests/daemon/test_pimd.o $(BUILD)/daemon/cpu_model.o \
		$(GPU_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lsystemd -lm

PIMD_OVERLAP_TEST := $(BUILD)/tests/daemon/test_overlap

$(PIMD_OVERLAP_TEST): $(BUILD)/tests/daemon/test_overlap.o \
		$(BUILD)/daemon/cpu_model.o $(GPU_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lsystemd -lm

$(BUILD)/tests/daemon/%.o: CPPFLAGS += -I.
$(BUILD)/tests/daemon/%.o: CFLAGS += -Wno-unused-parameter

tests/daemon/host-test.sh: $(PIMD) $(PIMD_TEST) $(PIMD_OVERLAP_TEST)

HOST_TESTS	+= tests/daemon/host-test.sh

# ---- system integration (data/) ----

BINDIR		?= $(PREFIX)/bin
UNITDIR		?= $(PREFIX)/lib/systemd/system
UDEVRULESDIR	?= $(PREFIX)/lib/udev/rules.d
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d
DBUSPOLICYDIR	?= $(PREFIX)/share/dbus-1/system.d
DBUSSERVICEDIR	?= $(PREFIX)/share/dbus-1/system-services
.PHONY: install-pimd
install-pimd: $(PIMD)
	install -D -m 0755 $(PIMD) $(DESTDIR)$(BINDIR)/pimd
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|@BINDIR@|$(BINDIR)|' data/systemd/pimd.service.in \
		> $(DESTDIR)$(UNITDIR)/pimd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/pimd.service
	install -D -m 0644 data/udev/70-pim.rules \
		$(DESTDIR)$(UDEVRULESDIR)/70-pim.rules
	install -D -m 0644 data/sysusers.d/pim.conf \
		$(DESTDIR)$(SYSUSERSDIR)/pim.conf
	install -D -m 0644 data/dbus/org.l3pim.Pim1.conf \
		$(DESTDIR)$(DBUSPOLICYDIR)/org.l3pim.Pim1.conf
	install -D -m 0644 data/dbus/org.l3pim.Pim1.service \
		$(DESTDIR)$(DBUSSERVICEDIR)/org.l3pim.Pim1.service

INSTALL_TARGETS	+= install-pimd

VM_DEPS		+= $(PIMD) $(PIMD_TEST) $(PIMD_OVERLAP_TEST)
VM_SUITES	+= tests/daemon/guest-suite.sh

# ---- the main job: make demo (guest, kernel module) and make demo-host ----

PIMD_DEMO	:= $(BUILD)/daemon/pimd-demo
PIMD_DEMO_OBJS	:= $(BUILD)/daemon/demo/pimd_demo.o \
		   $(BUILD)/daemon/demo/timeline.o $(BUILD)/daemon/cpu_model.o

$(BUILD)/daemon/demo/%.o: CPPFLAGS += -I.

$(PIMD_DEMO): $(PIMD_DEMO_OBJS) $(GPU_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lsystemd -lm

USER_BINS	+= $(PIMD_DEMO)
VM_DEPS		+= $(PIMD_DEMO)

.PHONY: demo-host
demo: $(PIMD) $(PIMD_DEMO)
	@$(MAKE) --no-print-directory module
	PIM_KO=$(abspath $(PIM_KO)) scripts/demo.sh

demo-host: $(PIMD) $(PIMD_DEMO)
	scripts/demo.sh --host
