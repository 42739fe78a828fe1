# libFuzzer targets: stage1/tests/fuzz/fuzz-<name>.c, corpus in
# stage1/tests/fuzz/corpus/<name>/.  `make fuzz` runs each for FUZZ_SECONDS.
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 300
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := $(filter-out -Werror,$(BASE_CFLAGS)) -Werror -O1 -g $(FUZZ_SAN) $(PKG_CFLAGS)
FUZZ_SRCS := $(sort $(wildcard stage1/tests/fuzz/fuzz-*.c))
FUZZ_BINS := $(FUZZ_SRCS:stage1/tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:stage1/src/%.c=$(FUZZ_DIR)/obj/%.o)

$(FUZZ_DIR)/obj/%.o: stage1/src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libip.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz-%: stage1/tests/fuzz/fuzz-%.c $(FUZZ_DIR)/libip.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libip.a $(PKG_LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) IP_FUZZ_DIR=$(abspath $(FUZZ_DIR)) tools/run-fuzz

.PHONY: fuzz fuzz-build

-include $(FUZZ_LIB_OBJS:.o=.d)
