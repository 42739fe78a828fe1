# The static initrd binary: every stage1/src/**/*.c compiled with musl-gcc and
# linked -static against libraries built from Debian's source packages by
# tools/build-static-deps.sh (pinned versions, cached in $(BUILD)/deps and in
# /var/cache/initrd-provision).
#
#   $(STATIC_BIN)        stripped: the file that goes into the initrd
#   $(STATIC_DEBUG_BIN)  the same link before stripping, with -g (for gdb and
#                        addr2line on a crash report from the stripped one)
#
# ARCH=aarch64 cross-builds the same from x86_64 (Graviton; issue 17) into
# $(BUILD)/static-aarch64 with deps in $(BUILD)/deps-aarch64: the compiler is
# gcc-aarch64-linux-gnu with Debian's musl for arm64, behind a wrapper that
# tools/build-static-deps.sh writes.  `make static-unit-build ARCH=aarch64`
# builds the unit tests the same way (no sanitizers) for qemu-aarch64-static.
ARCH ?= x86_64
ifeq ($(ARCH),x86_64)
MUSL_CC ?= musl-gcc
STRIP   ?= strip
STATIC_AR := ar
STATIC_DIR := $(BUILD)/static
STATIC_DEPS_DIR := $(BUILD)/deps
else ifeq ($(ARCH),aarch64)
STATIC_DIR := $(BUILD)/static-aarch64
STATIC_DEPS_DIR := $(BUILD)/deps-aarch64
MUSL_CC := $(abspath $(STATIC_DEPS_DIR))/bin/aarch64-linux-musl-gcc
STRIP   := aarch64-linux-gnu-strip
STATIC_AR := aarch64-linux-gnu-ar
else
$(error ARCH=$(ARCH) is not supported (x86_64, aarch64))
endif
STATIC_BIN := $(STATIC_DIR)/initrd-provision
STATIC_DEBUG_BIN := $(STATIC_DIR)/initrd-provision.debug

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
	tools/build-static-deps.sh $(STATIC_DEPS_DIR) $(ARCH)

$(STATIC_DIR)/obj/%.o: stage1/src/%.c $(STATIC_DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(STATIC_CFLAGS) -MMD -MP -c -o $@ $<

$(STATIC_DEBUG_BIN): $(STATIC_OBJS)
	$(MUSL_CC) $(STATIC_LDFLAGS) -o $@ $(STATIC_OBJS) $(STATIC_PKG_LDLIBS)

$(STATIC_BIN): $(STATIC_DEBUG_BIN)
	$(STRIP) --strip-all -o $@ $<
	@echo "static: $@ $$(stat -c %s $@) bytes stripped"

# The unit tests against the static objects, for running under qemu-user.
STATIC_LIB := $(STATIC_DIR)/libip.a
STATIC_TEST_BINS := $(TEST_SRCS:stage1/tests/%.c=$(STATIC_DIR)/tests/%)
STATIC_SUPPORT_OBJS := $(TEST_SUPPORT_SRCS:stage1/tests/support/%.c=$(STATIC_DIR)/tests/support/%.o)

static-unit-build: $(STATIC_TEST_BINS)

# The tests also compress (tests/support/compressors.c): brotli's encoder,
# built beside the decoder for them.
STATIC_TEST_LDLIBS = $(shell $(STATIC_PKG_CONFIG) --libs libbrotlienc 2>/dev/null)

$(STATIC_LIB): $(filter-out $(STATIC_DIR)/obj/main.o,$(STATIC_OBJS))
	@rm -f $@
	$(STATIC_AR) rcs $@ $^

$(STATIC_DIR)/tests/support/%.o: stage1/tests/support/%.c $(STATIC_DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(STATIC_CFLAGS) -Istage1/tests -MMD -MP -c -o $@ $<

$(STATIC_DIR)/tests/%: stage1/tests/%.c $(STATIC_SUPPORT_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(STATIC_CFLAGS) -Istage1/tests -MMD -MP $(STATIC_LDFLAGS) -o $@ $< \
		$(STATIC_SUPPORT_OBJS) $(STATIC_LIB) $(STATIC_TEST_LDLIBS) $(STATIC_PKG_LDLIBS)

.PHONY: static static-deps static-unit-build

-include $(STATIC_OBJS:.o=.d) $(STATIC_SUPPORT_OBJS:.o=.d) $(STATIC_TEST_BINS:=.d)
