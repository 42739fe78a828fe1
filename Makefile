# initrd-provision — see README.md.  Targets:
#   make          dev build (dynamic, Debian -dev libraries): build/initrd-provision
#   make static   the initrd binary (musl, fully static):   build/static/initrd-provision
#   make deps     install every Debian/npm package the build, tests and demo need
#   make check    all tests (CI runs this); ends with "N passed, N failed[, N skipped]"
#   make demo     boot the whole thing in QEMU
#   make bench    benchmarks against Nix and against the floor
#   make fuzz     long fuzzing campaign (FUZZ_SECONDS per target, default 300)

VERSION := $(shell cat VERSION)
BUILD   ?= build

CC      ?= cc
NPROC   := $(shell nproc 2>/dev/null || echo 2)
PKG_CONFIG ?= pkg-config
PKG_LIBS := libcurl libzstd libnl-3.0 libnl-route-3.0 libsodium liblzma zlib libbrotlidec liblz4

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wformat=2 -Wvla
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DIP_VERSION='"$(VERSION)"' -Istage1/src -pthread \
	$(WARNINGS)
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKG_LIBS) 2>/dev/null)
# libbz2 has no pkg-config file; the engine decodes bzip2 NARs with it directly.
PKG_LDLIBS = $(shell $(PKG_CONFIG) --libs $(PKG_LIBS) 2>/dev/null) -lbz2

SRCS      := $(sort $(shell find stage1/src -name '*.c'))
LIB_SRCS  := $(filter-out stage1/src/main.c,$(SRCS))
TEST_SRCS := $(sort $(wildcard stage1/tests/test-*.c))
TEST_SUPPORT_SRCS := $(sort $(wildcard stage1/tests/support/*.c))

# --- dev build -------------------------------------------------------------
DEV_DIR := $(BUILD)/dev
DEV_CFLAGS := $(BASE_CFLAGS) -O2 -g $(PKG_CFLAGS)
DEV_OBJS := $(SRCS:stage1/src/%.c=$(DEV_DIR)/%.o)

all: $(BUILD)/initrd-provision

$(BUILD)/initrd-provision: $(DEV_OBJS)
	$(CC) -pthread -o $@ $^ $(PKG_LDLIBS)

$(DEV_DIR)/%.o: stage1/src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(DEV_CFLAGS) -MMD -MP -c -o $@ $<

# --- sanitizer build: unit tests and the binary the integration tests run --
ASAN_DIR := $(BUILD)/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) $(PKG_CFLAGS) -Istage1/tests
ASAN_LIB_OBJS := $(LIB_SRCS:stage1/src/%.c=$(ASAN_DIR)/%.o)
ASAN_SUPPORT_OBJS := $(TEST_SUPPORT_SRCS:stage1/tests/support/%.c=$(ASAN_DIR)/tests/support/%.o)
TEST_BINS := $(TEST_SRCS:stage1/tests/%.c=$(ASAN_DIR)/tests/%)

$(ASAN_DIR)/libip.a: $(ASAN_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(ASAN_DIR)/initrd-provision: $(ASAN_DIR)/main.o $(ASAN_DIR)/libip.a
	$(CC) $(SAN_FLAGS) -pthread -o $@ $^ $(PKG_LDLIBS)

# The tests also compress (tests/support/compressors.c): brotli's encoder.
TEST_LDLIBS = $(shell $(PKG_CONFIG) --libs libbrotlienc 2>/dev/null)

$(ASAN_DIR)/tests/%: stage1/tests/%.c $(ASAN_SUPPORT_OBJS) $(ASAN_DIR)/libip.a
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -MMD -MP -o $@ $< $(ASAN_SUPPORT_OBJS) $(ASAN_DIR)/libip.a $(PKG_LDLIBS) $(TEST_LDLIBS)

$(ASAN_DIR)/tests/support/%.o: stage1/tests/support/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -MMD -MP -c -o $@ $<

$(ASAN_DIR)/%.o: stage1/src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -MMD -MP -c -o $@ $<

test-build: $(ASAN_DIR)/initrd-provision $(TEST_BINS)

# --- the static initrd binary, fuzzing (own files) --------------------------
include mk/static.mk
include mk/fuzz.mk

# --- user-facing targets ---------------------------------------------------
deps:
	tools/deps.sh

# CHECK_DEPS=0 skips the package step (for quick local re-runs).
CHECK_DEPS ?= 1
check:
	@if [ "$(CHECK_DEPS)" = 1 ]; then tools/deps.sh; fi
	$(MAKE) -j$(NPROC) all test-build static fuzz-build ARCH=x86_64
	$(MAKE) -j$(NPROC) static static-unit-build ARCH=aarch64
	IP_BIN=$(abspath $(ASAN_DIR)/initrd-provision) \
	IP_STATIC_BIN=$(abspath $(STATIC_BIN)) \
	IP_BUILD=$(abspath $(BUILD)) \
	IP_FUZZ_DIR=$(abspath $(FUZZ_DIR)) \
	IP_AARCH64_DIR=$(abspath $(BUILD))/static-aarch64 \
	tools/run-tests $(TESTS)

# make demo ARCH=aarch64: the Graviton build, booted through UEFI.
demo:
	IP_QEMU_ARCH=$(ARCH) tools/demo

# Benchmarks (issue 9): bench/bench.py documents the variables; results go to
# bench/results.md.  Needs root (real Nix, loop mounts); not part of `make check`.
BENCH_PROFILES ?= loopback region far
BENCH_CACHES   ?= zstd xz
BENCH_RUNS     ?= 5
# Settable so that two binaries can be compared on one corpus, e.g.
# make bench BENCH_BIN=/elsewhere/initrd-provision BENCH_OUT=/tmp/before.md
BENCH_BIN      ?= $(BUILD)/static/initrd-provision
BENCH_DIR      ?= $(BUILD)/bench
bench:
	tools/deps.sh
	$(MAKE) static
	BENCH_PROFILES="$(BENCH_PROFILES)" BENCH_CACHES="$(BENCH_CACHES)" BENCH_RUNS="$(BENCH_RUNS)" \
	BENCH_BIN=$(abspath $(BENCH_BIN)) BENCH_DIR=$(abspath $(BENCH_DIR)) \
	bench/bench.py

clean:
	rm -rf $(DEV_DIR) $(ASAN_DIR) $(FUZZ_DIR) $(BUILD)/initrd-provision $(BUILD)/static \
		$(BUILD)/static-aarch64

.PHONY: all deps check demo bench clean test-build

-include $(DEV_OBJS:.o=.d) $(ASAN_LIB_OBJS:.o=.d) $(ASAN_DIR)/main.d $(TEST_BINS:=.d)
.SECONDARY:
