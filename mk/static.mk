# The static initrd binary: musl-gcc against dependencies built from Debian's
# source packages (tools/build-static-deps.sh).  Owned by the foundation work.
STATIC_DIR := $(BUILD)/static
STATIC_BIN := $(STATIC_DIR)/initrd-provision

static: $(STATIC_BIN)

$(STATIC_BIN):
	@echo "static build not yet wired" && exit 1

.PHONY: static
