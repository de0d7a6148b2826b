# numalens — plain Makefile, objects under build/, auto-dependencies.
#   make            build build/numalens
#   make check      quick: unit + golden + api + clients (no root, no libvirt, no VMs, no apt)
#   make test       the full suite the README and CI run (installs packages, VMs)
#   make demo       real demo VMs under libvirt + the daemon in the foreground
#   make bench      scrape/sampler benchmark against prometheus-libvirt-exporter
#   make SANITIZE=address,undefined test ; make valgrind
#   make WERROR=0   for packagers

BUILD    ?= build
# The test scripts record their closing lines under $(BUILD) too.
export BUILD
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
WERROR   ?= 1
SANITIZE ?=
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

PKGS     := libvirt libmicrohttpd libprotobuf-c libcjson libcurl libxml-2.0 gnutls yaml-0.1 libsystemd libcrypt
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lvirt -lmicrohttpd -lprotobuf-c -lcjson -lcurl -lxml2 -lgnutls -lyaml -lsystemd -lcrypt)

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

COLLECTOR_SRC := $(wildcard collector/*.c collector/*/*.c)
# exporter/cmd/: the actuator (`numalens apply`), a client, not an encoder
EXPORTER_SRC  := $(filter-out exporter/main.c,$(wildcard exporter/*.c)) \
                 $(wildcard exporter/cmd/*.c)
LIB_OBJ := $(COLLECTOR_SRC:%.c=$(BUILD)/%.o) $(EXPORTER_SRC:%.c=$(BUILD)/%.o)
# The HTTP API's protobuf schema: protoc-c writes C under $(BUILD)/gen (not
# committed); everything that includes the header waits for it.
PROTO  := exporter/numalens.proto
PB_C   := $(BUILD)/gen/numalens.pb-c.c
PB_H   := $(BUILD)/gen/numalens.pb-c.h
PB_OBJ := $(BUILD)/gen/numalens.pb-c.o
LIB_OBJ += $(PB_OBJ)
CFLAGS  += -I$(BUILD)/gen
MAIN_OBJ := $(BUILD)/exporter/main.o
BIN := $(BUILD)/numalens

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test test-all test-reset unit golden golden-update integration \
        demo bench bench-tools valgrind clean install uninstall deps test-deploy \
        perfstat
all: $(BIN)

# Every object depends on a stamp of the build settings: a change of CC,
# CFLAGS, LDFLAGS, LDLIBS or SANITIZE rewrites it and so rebuilds everything
# (make SANITIZE=address,undefined all in the default build/ instruments
# every object, not only the ones that happened to be stale).
BUILD_SETTINGS := $(CC) | $(CFLAGS) | $(LDFLAGS) | $(LDLIBS) | $(SANITIZE)
$(BUILD)/flags.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(subst ','\'',$(BUILD_SETTINGS))' | cmp -s - $@ || \
		echo '$(subst ','\'',$(BUILD_SETTINGS))' > $@

$(BUILD)/%.o: %.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The version lives in one object, rebuilt when `git describe` changes.
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(BUILD)/exporter/version.o: exporter/version.c $(BUILD)/version.stamp $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DNL_VERSION='"$(VERSION)"' -c -o $@ $<
FORCE:

$(PB_C): $(PROTO)
	@mkdir -p $(dir $@)
	protoc-c --c_out=$(BUILD)/gen --proto_path=$(dir $(PROTO)) $(PROTO)
$(PB_H): $(PB_C)
$(PB_OBJ): $(PB_C) $(PB_H) $(BUILD)/flags.stamp
	$(CC) $(CFLAGS) -c -o $@ $<
$(filter-out $(PB_OBJ),$(LIB_OBJ)) $(MAIN_OBJ) \
	$(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%.o): | $(PB_H)

$(BUILD)/libnumalens.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(MAIN_OBJ) $(BUILD)/libnumalens.a $(BUILD)/flags.stamp
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libnumalens.a $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/unit/%.o: tests/unit/%.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -DNL_SRCDIR='"$(CURDIR)"' -c -o $@ $<

include tests/guest/guest.mk

# Unit tests: every tests/unit/test_*.c, one summed closing line.
unit: $(TEST_BIN)
	@tests/unit/run.sh $(TEST_BIN)

# The quick check for people changing code: no root, no libvirt, no VMs, no
# apt-get (missing build packages are named, not installed).
.PHONY: check
check: test-reset
	@$(MAKE) --no-print-directory unit golden api clients security
	@tests/unit/summary.sh check

golden: $(BIN)
	@tests/e2e/golden.sh $(BIN)

golden-update: $(BIN)
	@tests/e2e/golden.sh --update $(BIN)

integration: $(BIN) guests
	@tests/integration/run.sh $(BIN)

# The /api/v1 HTTP API end to end on a fixture host (protoc --decode, bad
# requests, apply dry run), and `numalens apply` on real libvirt guests.
.PHONY: api apply clients security
api: $(BIN)
	@tests/api/run.sh $(BIN)
# `numalens place` across fixture hosts and `numalens apply --follow
# --dry-run` through a server restart and signals (no root, no libvirt).
clients: $(BIN)
	@tests/clients/run.sh $(BIN)
apply: $(BIN) guests
	@tests/apply/run.sh $(BIN)
# --web.config.file against curl, openssl and a real Prometheus (TLS, mTLS,
# basic auth, reload), socket activation and sd_notify (no root, no VMs).
security: $(BIN)
	@tests/security/run.sh $(BIN)

# The perf source's software counters against `perf stat -t` on a real
# guest vCPU thread (a plain QEMU, no libvirt).
PERFSTAT_PROBE := $(BUILD)/tests/perfstat_probe
$(PERFSTAT_PROBE): tests/perfstat/probe.c $(BUILD)/libnumalens.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libnumalens.a $(LDLIBS)
perfstat: $(PERFSTAT_PROBE) guests
	@tests/perfstat/run.sh $(PERFSTAT_PROBE)

# Dashboards, Prometheus rules, systemd unit, install, Kubernetes manifests:
# promtool, a real Prometheus scraping numalens with real guests, jq/yq.
test-deploy: $(BIN) guests
	@tests/deploy/run.sh $(BIN)

# The Kubernetes image without a container runtime: the Containerfile's
# stages replayed in debootstrap chroots of its Debian release (root; the
# base chroot is cached in build/container). And build settings that stick:
# SANITIZE, CFLAGS and CC each rebuild every object (a throwaway BUILD).
.PHONY: test-container test-buildflags
test-container:
	@tests/deploy/containerfile.sh
test-buildflags:
	@tests/deploy/buildflags.sh

# `make test` and `make demo` install missing Debian packages first, then
# re-enter make so that pkg-config sees them.
test:
	@tests/lib/deps.sh test
	@$(MAKE) --no-print-directory test-all

test-all: test-reset unit golden integration test-deploy perfstat api clients apply security
	@tests/unit/summary.sh

test-reset:
	@rm -f $(BUILD)/.test-*

demo:
	@tests/lib/deps.sh demo
	@$(MAKE) --no-print-directory all guests
	@NUMALENS_BIN=$(BIN) tests/demo/demo.sh

# `make demo` run and checked as a new user would (both VMs, their vCPU,
# emulator and iothread series, Ctrl-C); .ci/run runs it with KVM and with
# NL_KVM_FIX=0 (TCG). EXPECT=kvm|qemu checks the accelerator the guests got.
.PHONY: test-demo
test-demo:
	@tests/demo/smoke.sh $(EXPECT)

bench:
	@tests/lib/deps.sh test
	@$(MAKE) --no-print-directory all guests bench-tools
	@tests/bench/bench.sh $(BIN)

# Multi-node NUMA lab: a 2-node and a 4-node QEMU guest (TCG) on Debian's
# kernel, numalens inside it against real QEMU processes placed with
# numactl, taskset and cpusets (tests/lab/lab.sh).
.PHONY: lab
lab:
	@tests/lib/deps.sh lab
	@$(MAKE) --no-print-directory all guests
	@tests/lab/lab.sh $(BIN)

BENCH_TOOLS := $(BUILD)/bench/bench_perf $(BUILD)/bench/bench_memplace $(BUILD)/bench/rss_floor
bench-tools: $(BENCH_TOOLS)
$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libnumalens.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libnumalens.a $(LDLIBS)

valgrind: $(TEST_BIN)
	@VALGRIND="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99" \
		tests/unit/run.sh $(TEST_BIN)

# `make install` also installs the systemd unit (ExecStart pointing at
# $(PREFIX)/bin), the sysusers.d entry for its user, /etc/default/numalens
# (kept when it exists), and under $(DATADIR) the Grafana dashboards and
# provisioning files and the Prometheus rules. DESTDIR prefixes every path.
DATADIR     ?= $(PREFIX)/share/numalens
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DASHBOARDS  := $(wildcard dashboards/*.json)
PROM_FILES  := deploy/prometheus/prometheus.yml deploy/prometheus/numalens.rules.yml \
               deploy/prometheus/numalens.alerts.yml
GRAFANA_DS  := deploy/grafana/provisioning/datasources/numalens-prometheus.yaml
ENVFILE     := $(DESTDIR)$(SYSCONFDIR)/default/numalens

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/numalens
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(DATADIR)/dashboards $(DESTDIR)$(DATADIR)/prometheus \
		$(DESTDIR)$(DATADIR)/grafana/provisioning/dashboards \
		$(DESTDIR)$(DATADIR)/grafana/provisioning/datasources
	sed 's|/usr/local/bin/numalens|$(PREFIX)/bin/numalens|' deploy/systemd/numalens.service \
		> $(DESTDIR)$(UNITDIR)/numalens.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/numalens.service
	install -m 0644 deploy/systemd/numalens.sysusers $(DESTDIR)$(SYSUSERSDIR)/numalens.conf
	install -m 0644 $(DASHBOARDS) $(DESTDIR)$(DATADIR)/dashboards/
	install -m 0644 $(PROM_FILES) $(DESTDIR)$(DATADIR)/prometheus/
	sed 's|/usr/local/share/numalens/dashboards|$(DATADIR)/dashboards|' \
		deploy/grafana/provisioning/dashboards/numalens.yaml \
		> $(DESTDIR)$(DATADIR)/grafana/provisioning/dashboards/numalens.yaml
	chmod 0644 $(DESTDIR)$(DATADIR)/grafana/provisioning/dashboards/numalens.yaml
	install -m 0644 $(GRAFANA_DS) $(DESTDIR)$(DATADIR)/grafana/provisioning/datasources/
	@if [ -e $(ENVFILE) ]; then echo "keeping $(ENVFILE)"; \
	else echo "install -D -m 0644 deploy/systemd/numalens.default $(ENVFILE)"; \
		install -D -m 0644 deploy/systemd/numalens.default $(ENVFILE); fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/numalens
	rm -f $(DESTDIR)$(UNITDIR)/numalens.service $(DESTDIR)$(SYSUSERSDIR)/numalens.conf \
		$(addprefix $(DESTDIR)$(DATADIR)/dashboards/,$(notdir $(DASHBOARDS))) \
		$(addprefix $(DESTDIR)$(DATADIR)/prometheus/,$(notdir $(PROM_FILES))) \
		$(DESTDIR)$(DATADIR)/grafana/provisioning/dashboards/numalens.yaml \
		$(DESTDIR)$(DATADIR)/grafana/provisioning/datasources/$(notdir $(GRAFANA_DS))
	-rmdir $(DESTDIR)$(DATADIR)/dashboards $(DESTDIR)$(DATADIR)/prometheus \
		$(DESTDIR)$(DATADIR)/grafana/provisioning/dashboards \
		$(DESTDIR)$(DATADIR)/grafana/provisioning/datasources \
		$(DESTDIR)$(DATADIR)/grafana/provisioning $(DESTDIR)$(DATADIR)/grafana \
		$(DESTDIR)$(DATADIR) 2>/dev/null
	@if cmp -s deploy/systemd/numalens.default $(ENVFILE); then \
		echo "rm -f $(ENVFILE)"; rm -f $(ENVFILE); \
	elif [ -e $(ENVFILE) ]; then echo "keeping $(ENVFILE) (changed since install)"; fi

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) \( -path $(BUILD)/lab -o -path $(BUILD)/container \) -prune -o -type f -name '*.d' -print 2>/dev/null)
