# numalens — plain Makefile, objects under build/, auto-dependencies.
#   make            build build/numalens
#   make test       unit tests + fixture golden test + real libvirt integration test
#   make demo       real demo VMs under libvirt + the daemon in the foreground
#   make bench      scrape/sampler benchmark against prometheus-libvirt-exporter
#   make SANITIZE=address,undefined test ; make valgrind
#   make WERROR=0   for packagers

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
WERROR   ?= 1
SANITIZE ?=
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

PKGS     := libvirt libmicrohttpd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lvirt -lmicrohttpd)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wwrite-strings -Wformat=2 -Wimplicit-fallthrough -Wvla \
        -Wnull-dereference
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -fstack-protector-strong \
           -MMD -MP -Icollector -Iexporter $(PKG_CFLAGS)
LDFLAGS += -Wl,-z,relro,-z,now
LDLIBS  += $(PKG_LIBS) -lpfm -lpthread -lm

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

COLLECTOR_SRC := $(wildcard collector/*.c)
EXPORTER_SRC  := $(filter-out exporter/main.c,$(wildcard exporter/*.c))
LIB_OBJ := $(COLLECTOR_SRC:%.c=$(BUILD)/%.o) $(EXPORTER_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/exporter/main.o
BIN := $(BUILD)/numalens

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test test-all test-reset unit golden golden-update integration \
        demo bench bench-tools valgrind clean install uninstall deps
all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The version lives in one object, rebuilt when `git describe` changes.
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(BUILD)/exporter/version.o: exporter/version.c $(BUILD)/version.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DNL_VERSION='"$(VERSION)"' -c -o $@ $<
FORCE:

$(BUILD)/libnumalens.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(MAIN_OBJ) $(BUILD)/libnumalens.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libnumalens.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -DNL_SRCDIR='"$(CURDIR)"' -c -o $@ $<

include tests/guest/guest.mk

# Unit tests: every tests/unit/test_*.c, one summed closing line.
unit: $(TEST_BIN)
	@tests/unit/run.sh $(TEST_BIN)

golden: $(BIN)
	@tests/e2e/golden.sh $(BIN)

golden-update: $(BIN)
	@tests/e2e/golden.sh --update $(BIN)

integration: $(BIN) guests
	@tests/integration/run.sh $(BIN)

# `make test` and `make demo` install missing Debian packages first, then
# re-enter make so that pkg-config sees them.
test:
	@tests/lib/deps.sh test
	@$(MAKE) --no-print-directory test-all

test-all: test-reset unit golden integration
	@tests/unit/summary.sh

test-reset:
	@rm -f $(BUILD)/.test-* build/.test-*

demo:
	@tests/lib/deps.sh demo
	@$(MAKE) --no-print-directory all guests
	@NUMALENS_BIN=$(BIN) tests/demo/demo.sh

bench:
	@tests/lib/deps.sh test
	@$(MAKE) --no-print-directory all guests bench-tools
	@tests/bench/bench.sh $(BIN)

BENCH_TOOLS := $(BUILD)/bench/bench_perf $(BUILD)/bench/bench_memplace
bench-tools: $(BENCH_TOOLS)
$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libnumalens.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libnumalens.a $(LDLIBS)

valgrind: $(TEST_BIN)
	@VALGRIND="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99" \
		tests/unit/run.sh $(TEST_BIN)

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/numalens

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/numalens

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
