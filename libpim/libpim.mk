# SPDX-License-Identifier: GPL-2.0
#
# libpim: build/libpim.so.1 (+ build/libpim.so), build/libpim.a (with the
# device model inside: static users add -ludev -luring -lpthread), the man
# pages in build/man/, and the host and guest tests of tests/libpim/;
# make install adds libpim.pc for PREFIX.

# The in-process backend links the device model (dm/dm.mk's DM_LIB).
ifeq ($(DM_LIB),)
$(warning libpim: DM_LIB is not set (dm/dm.mk missing): libpim is not built)
else

LIBPIM_VERSION	:= 1.0.0
LIBPIM_SRCS	:= ctx.c device.c kernel.c uring.c ioctlq.c kvcache.c batch.c \
		   queue.c inproc.c inproc_queue.c rank_pool.c
LIBPIM_OBJS	:= $(LIBPIM_SRCS:%.c=$(BUILD)/libpim/%.o)
LIBPIM_SO	:= $(BUILD)/libpim.so.1
LIBPIM_A	:= $(BUILD)/libpim.a
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

USER_BINS	+= $(LIBPIM_SO) $(BUILD)/libpim.so $(LIBPIM_A)

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

# ---- man pages: one scdoc page per group of calls, and for every other
# call of the group a page that includes it (.so), so each call has one ----

MAN3_GROUPS	:= $(patsubst man/%.3.scd,%,$(wildcard man/*.3.scd))
MAN3_PAGES	:= $(MAN3_GROUPS:%=$(BUILD)/man/%.3)
# The calls a group's page documents: the NAME section's comma list.
man3_calls	= $(shell sed -n '/^\# NAME/,/ - /p' man/$(1).3.scd | \
		    sed -e '1d' -e 's/ - .*//' | tr ',' ' ')
MAN3_ALIASES	:= $(foreach g,$(MAN3_GROUPS),$(foreach c,$(filter-out $(g), \
		     $(call man3_calls,$(g))),$(BUILD)/man/$(c).3))

$(BUILD)/man/%.3: man/%.3.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@

# An alias page names its group in its own recipe (see below).
define man3_alias
$(BUILD)/man/$(2).3: man/$(1).3.scd
	@mkdir -p $$(dir $$@)
	echo '.so man3/$(1).3' > $$@
endef
$(foreach g,$(MAN3_GROUPS),$(foreach c,$(filter-out $(g) $(MAN3_GROUPS), \
	$(call man3_calls,$(g))),$(eval $(call man3_alias,$(g),$(c)))))

USER_BINS	+= $(MAN3_PAGES) $(MAN3_ALIASES)

# ---- install ----

.PHONY: install-libpim
install-libpim: $(LIBPIM_SO) $(LIBPIM_A) $(MAN3_PAGES) \
		$(MAN3_ALIASES)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/linux
	install -m 0755 $(LIBPIM_SO) \
		$(DESTDIR)$(PREFIX)/lib/libpim.so.$(LIBPIM_VERSION)
	ln -sf libpim.so.$(LIBPIM_VERSION) $(DESTDIR)$(PREFIX)/lib/libpim.so.1
	ln -sf libpim.so.1 $(DESTDIR)$(PREFIX)/lib/libpim.so
	install -m 0644 $(LIBPIM_A) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIBPIM_VERSION)|' \
		libpim/libpim.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libpim.pc
	install -m 0644 include/libpim.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 include/uapi/linux/pim.h \
		$(DESTDIR)$(PREFIX)/include/linux/
	install -d $(DESTDIR)$(PREFIX)/share/man/man3
	install -m 0644 $(MAN3_PAGES) $(MAN3_ALIASES) \
		$(DESTDIR)$(PREFIX)/share/man/man3/

INSTALL_TARGETS	+= install-libpim

endif
