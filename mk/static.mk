# The static initrd binary: every stage1/src/**/*.c compiled with musl-gcc and
# linked -static against libraries built from Debian's source packages by
# tools/build-static-deps.sh (pinned versions, cached in $(BUILD)/deps and in
# /var/cache/initrd-provision).
#
#   $(STATIC_BIN)        stripped: the file that goes into the initrd
#   $(STATIC_DEBUG_BIN)  the same link before stripping, with -g (for gdb and
#                        addr2line on a crash report from the stripped one)
MUSL_CC ?= musl-gcc
STRIP   ?= strip
STATIC_DIR := $(BUILD)/static
STATIC_BIN := $(STATIC_DIR)/initrd-provision
STATIC_DEBUG_BIN := $(STATIC_DIR)/initrd-provision.debug

STATIC_DEPS_DIR := $(BUILD)/deps
STATIC_PREFIX := $(STATIC_DEPS_DIR)/prefix
STATIC_KHDR := $(STATIC_DEPS_DIR)/kernel-headers
STATIC_DEPS_STAMP := $(STATIC_PREFIX)/.complete
# pkg-config modules in static link order (pkg-config --static keeps it).
STATIC_PKGS := libcurl libnl-route-3.0 libnl-3.0 libsodium libzstd liblzma zlib \
	bzip2 libbrotlidec liblz4 mbedtls

# Only the deps prefix's .pc files, never glibc's (PKG_CONFIG_LIBDIR); the
# .pc files are relocatable (${pcfiledir}).  Evaluated once, on first use in a
# recipe, i.e. after the deps exist; a pkg-config failure stops make.
STATIC_PKG_CONFIG = PKG_CONFIG_LIBDIR=$(abspath $(STATIC_PREFIX))/lib/pkgconfig PKG_CONFIG_PATH= \
	$(PKG_CONFIG) --static
static_pkg_config = $(or $(shell $(STATIC_PKG_CONFIG) $(1) $(STATIC_PKGS) 2>/dev/null || echo __fail__), \
	__fail__)
static_checked = $(if $(filter __fail__,$(1)),$(error pkg-config --static $(2) $(STATIC_PKGS) \
	failed against $(STATIC_PREFIX); rerun tools/build-static-deps.sh),$(1))
STATIC_PKG_CFLAGS = $(eval STATIC_PKG_CFLAGS := \
	$(call static_checked,$(call static_pkg_config,--cflags),--cflags))$(STATIC_PKG_CFLAGS)
STATIC_PKG_LDLIBS = $(eval STATIC_PKG_LDLIBS := \
	$(call static_checked,$(call static_pkg_config,--libs),--libs))$(STATIC_PKG_LDLIBS)

# Same warnings and -Werror as the dev build (BASE_CFLAGS).  The kernel's
# uapi headers (linux/, asm/) are a folder of symlinks: libnl needs them and
# musl-gcc does not search /usr/include.  Sections let the link drop what is
# unused, also in the libraries (built the same way).
STATIC_CFLAGS = $(BASE_CFLAGS) -O2 -g -fstack-protector-strong -ffunction-sections \
	-fdata-sections $(STATIC_PKG_CFLAGS) -isystem $(STATIC_KHDR)
STATIC_LDFLAGS := -static -pthread -Wl,--gc-sections
STATIC_OBJS := $(SRCS:stage1/src/%.c=$(STATIC_DIR)/obj/%.o)

static: $(STATIC_BIN)

static-deps: $(STATIC_DEPS_STAMP)

# The script decides what to rebuild (a stamp per package); it always
# refreshes the stamp file's time, so objects recompile after a deps change.
$(STATIC_DEPS_STAMP): tools/build-static-deps.sh $(wildcard tools/static/*)
	tools/build-static-deps.sh $(STATIC_DEPS_DIR)

$(STATIC_DIR)/obj/%.o: stage1/src/%.c $(STATIC_DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(STATIC_CFLAGS) -MMD -MP -c -o $@ $<

$(STATIC_DEBUG_BIN): $(STATIC_OBJS)
	$(MUSL_CC) $(STATIC_LDFLAGS) -o $@ $(STATIC_OBJS) $(STATIC_PKG_LDLIBS)

$(STATIC_BIN): $(STATIC_DEBUG_BIN)
	$(STRIP) --strip-all -o $@ $<
	@echo "static: $@ $$(stat -c %s $@) bytes stripped"

.PHONY: static static-deps

-include $(STATIC_OBJS:.o=.d)
