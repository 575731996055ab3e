# SPDX-License-Identifier: GPL-2.0
#
# libpim: build/libpim.so.1 (+ build/libpim.so), build/libpim.a (with the
# device model inside, so static users need nothing else), build/libpim.pc,
# the man pages, and the host and guest tests of tests/libpim/.

# The in-process backend links the device model (dm/dm.mk's DM_LIB).
ifeq ($(DM_LIB),)
$(warning libpim: DM_LIB is not set (dm/dm.mk missing): libpim is not built)
else

LIBPIM_VERSION	:= 1.0.0
LIBPIM_SRCS	:= ctx.c device.c kernel.c uring.c kvcache.c batch.c queue.c \
		   inproc.c inproc_queue.c rank_pool.c
LIBPIM_OBJS	:= $(LIBPIM_SRCS:%.c=$(BUILD)/libpim/%.o)
LIBPIM_SO	:= $(BUILD)/libpim.so.1
LIBPIM_A	:= $(BUILD)/libpim.a
LIBPIM_PC	:= $(BUILD)/libpim.pc
LIBPIM_DEPLIBS	:= -ludev -luring -lpthread

$(LIBPIM_OBJS): CFLAGS += -fPIC -fvisibility=hidden

$(LIBPIM_SO): $(LIBPIM_OBJS) $(DM_LIB) libpim/libpim.sym
	$(CC) -shared -o $@ -Wl,-soname,libpim.so.1 \
		-Wl,--version-script=libpim/libpim.sym -Wl,-z,defs \
		$(LDFLAGS) $(LIBPIM_OBJS) $(DM_LIB) $(LIBPIM_DEPLIBS)

$(BUILD)/libpim.so: $(LIBPIM_SO)
	ln -sf libpim.so.1 $@

$(LIBPIM_A): $(LIBPIM_OBJS) $(DM_LIB)
	rm -f $@
	{ echo "create $@"; for o in $(LIBPIM_OBJS); do echo "addmod $$o"; done; \
	  echo "addlib $(DM_LIB)"; echo save; echo end; } | $(AR) -M

$(LIBPIM_PC): libpim/libpim.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIBPIM_VERSION)|' \
		$< > $@

USER_BINS	+= $(LIBPIM_SO) $(BUILD)/libpim.so $(LIBPIM_A) $(LIBPIM_PC)

# ---- tests ----

LIBPIM_TESTS	:= $(patsubst tests/libpim/%.c,$(BUILD)/tests/libpim/%, \
		   $(wildcard tests/libpim/test_*.c))

$(BUILD)/tests/libpim/%: $(BUILD)/tests/libpim/%.o $(BUILD)/libpim.so
	$(CC) $(LDFLAGS) -o $@ $< -L$(BUILD) -Wl,-rpath,'$$ORIGIN/../..' \
		-lpim -lpthread -lm

# Keep the objects: they are not intermediate files to throw away.
.SECONDARY: $(LIBPIM_TESTS:%=%.o) $(BUILD)/tests/libpim/removal.o

HOST_TESTS	+= $(LIBPIM_TESTS) tests/libpim/valgrind.sh
tests/libpim/valgrind.sh: $(LIBPIM_TESTS)

VM_DEPS		+= $(LIBPIM_TESTS) $(BUILD)/tests/libpim/removal $(BUILD)/libpim.so
VM_SUITES	+= tests/libpim/guest-suite.sh
VM_BENCH_SUITES	+= tests/libpim/guest-bench.sh

# ---- install ----

.PHONY: install-libpim
install-libpim: $(LIBPIM_SO) $(LIBPIM_A) $(LIBPIM_PC)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/linux
	install -m 0755 $(LIBPIM_SO) \
		$(DESTDIR)$(PREFIX)/lib/libpim.so.$(LIBPIM_VERSION)
	ln -sf libpim.so.$(LIBPIM_VERSION) $(DESTDIR)$(PREFIX)/lib/libpim.so.1
	ln -sf libpim.so.1 $(DESTDIR)$(PREFIX)/lib/libpim.so
	install -m 0644 $(LIBPIM_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 $(LIBPIM_PC) $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 0644 include/libpim.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 include/uapi/linux/pim.h \
		$(DESTDIR)$(PREFIX)/include/linux/

INSTALL_TARGETS	+= install-libpim

endif
