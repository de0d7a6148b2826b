/* Tests of the per-CPU-model event catalogs (collector/catalog.c) and of
 * what the perf source makes of them: model detection from real cpuinfo
 * files, every catalog entry encoded through libpfm4 4.13 to the event /
 * umask codes the vendors publish, guest mode counted, the counter budget
 * and the group plan per model.
 *
 * libpfm4 encodes events of PMUs that are not this machine's only with
 * LIBPFM_ENCODE_INACTIVE=1, which it reads once at initialization and
 * keeps for the life of the process: such checks run in a forked child. */
#include "harness.h"
#include "pfm_raw.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <perfmon/pfmlib_perf_event.h>

#include "catalog.h"
#include "config.h"
#include "log.h"
#include "paths.h"
#include "perf.h"
#include "perf_priv.h"

#define FIXTURES NL_SRCDIR "/tests/fixtures/cpus"


/* ---- model detection ---- */

static void test_detect_models(void)
{
	static const struct {
		const char *dir;
		enum nl_cpu_vendor vendor;
		int family, model;
		const char *catalog;
	} want[] = {
		{ "skx", NL_VENDOR_INTEL, 6, 85, "skx" },
		{ "clx", NL_VENDOR_INTEL, 6, 85, "skx" },
		{ "icx", NL_VENDOR_INTEL, 6, 106, "icx" },
		{ "icx-d", NL_VENDOR_INTEL, 6, 108, "icx" },
		{ "spr", NL_VENDOR_INTEL, 6, 143, "spr" },
		{ "emr", NL_VENDOR_INTEL, 6, 207, "spr" },
		{ "gnr", NL_VENDOR_INTEL, 6, 173, "generic" },
		{ "zen1", NL_VENDOR_AMD, 23, 1, "generic" },
		{ "zen2", NL_VENDOR_AMD, 23, 49, "zen2" },
		{ "zen2-client", NL_VENDOR_AMD, 23, 113, "zen2" },
		{ "zen3", NL_VENDOR_AMD, 25, 1, "zen3" },
		{ "zen3-client", NL_VENDOR_AMD, 25, 33, "zen3" },
		{ "zen4", NL_VENDOR_AMD, 25, 17, "zen4" },
		{ "zen4-client", NL_VENDOR_AMD, 25, 97, "zen4" },
	};
	char dir[PATH_MAX];
	struct nl_cpuid id;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(dir, sizeof(dir), FIXTURES "/%s/proc", want[i].dir);
		CHECK_EQ_INT(nl_paths_set(dir, NULL), 0);
		CHECK_EQ_INT(nl_catalog_cpuid(&id), 0);
		CHECK_EQ_INT(id.vendor, want[i].vendor);
		CHECK_EQ_INT(id.family, want[i].family);
		CHECK_EQ_INT(id.model, want[i].model);
		CHECK_STR(nl_catalog_for_cpu(&id)->name, want[i].catalog);
		if (strcmp(nl_catalog_for_cpu(&id)->name, want[i].catalog))
			fprintf(stderr, "  (%s)\n", want[i].dir);
	}
	/* ARM: no x86 family/model, generic catalog */
	CHECK_EQ_INT(nl_paths_set(FIXTURES "/arm64/proc", NULL), 0);
	CHECK_EQ_INT(nl_catalog_cpuid(&id), -ENODATA);
	CHECK_STR(nl_catalog_for_cpu(&id)->name, "generic");
	/* no cpuinfo at all */
	CHECK_EQ_INT(nl_paths_set(FIXTURES, NULL), 0);
	CHECK_EQ_INT(nl_catalog_cpuid(&id), -ENOENT);
	CHECK_STR(nl_catalog_for_cpu(NULL)->name, "generic");
	CHECK_EQ_INT(nl_paths_set("/proc", NULL), 0);
}

/* Family/model boundaries, from the vendors' model lists. */
static void test_model_ranges(void)
{
	static const struct { enum nl_cpu_vendor v; int f, m; const char *c; } t[] = {
		{ NL_VENDOR_INTEL, 6, 84, "generic" },
		{ NL_VENDOR_INTEL, 6, 86, "generic" },   /* Broadwell-DE */
		{ NL_VENDOR_INTEL, 6, 107, "generic" },
		{ NL_VENDOR_INTEL, 6, 167, "generic" },  /* Rocket Lake */
		{ NL_VENDOR_AMD, 6, 85, "generic" },     /* wrong vendor */
		{ NL_VENDOR_INTEL, 25, 1, "generic" },
		{ NL_VENDOR_AMD, 23, 0x2f, "generic" },  /* Zen+ */
		{ NL_VENDOR_AMD, 23, 0x30, "zen2" },
		{ NL_VENDOR_AMD, 23, 0x60, "zen2" },
		{ NL_VENDOR_AMD, 23, 0xa0, "zen2" },
		{ NL_VENDOR_AMD, 25, 0x0f, "zen3" },
		{ NL_VENDOR_AMD, 25, 0x10, "zen4" },
		{ NL_VENDOR_AMD, 25, 0x1f, "zen4" },
		{ NL_VENDOR_AMD, 25, 0x20, "zen3" },
		{ NL_VENDOR_AMD, 25, 0x5f, "zen3" },
		{ NL_VENDOR_AMD, 25, 0x60, "zen4" },
		{ NL_VENDOR_AMD, 25, 0xa0, "zen4" },     /* Bergamo */
		{ NL_VENDOR_AMD, 25, 0xb0, "generic" },
		{ NL_VENDOR_AMD, 26, 0x02, "generic" },  /* Zen 5 */
		{ NL_VENDOR_OTHER, 24, 0, "generic" },   /* Hygon */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct nl_cpuid id = { .vendor = t[i].v, .family = t[i].f,
				       .model = t[i].m };

		CHECK_STR(nl_catalog_for_cpu(&id)->name, t[i].c);
	}
	CHECK(nl_catalog_find("amd64_fam19h_zen4") == nl_catalog_find("zen4"));
	CHECK(nl_catalog_find("skx") != NULL);
	CHECK(nl_catalog_find("emr") == NULL);
	CHECK(nl_catalog_find(NULL) == NULL);
	CHECK_STR(nl_catalog_at(nl_catalog_count() - 1)->name, "generic");
	CHECK(nl_catalog_at(nl_catalog_count()) == NULL);
}

/* ---- catalog contents ---- */

static const struct nl_catalog_event *cat_event(const struct nl_catalog *c,
						const char *name)
{
	for (size_t i = 0; i < c->nevents; i++)
		if (strcmp(c->events[i].name, name) == 0)
			return &c->events[i];
	return NULL;
}

static void test_catalog_contents(void)
{
	static const char *const every[] = {
		"cycles", "instructions", "llc_references", "llc_misses",
		"task_clock", "context_switches", "cpu_migrations", "page_faults",
	};
	static const char *const dram[] = { "dram_local", "dram_remote" };

	for (size_t i = 0; i < nl_catalog_count(); i++) {
		const struct nl_catalog *c = nl_catalog_at(i);
		char prefix[64];

		CHECK(c->nevents <= NL_MAX_EVENTS);
		CHECK(c->gp_counters >= 1 && c->gp_counters <= c->gp_counters_nosmt);
		for (size_t k = 0; k < sizeof(every) / sizeof(every[0]); k++)
			CHECK(cat_event(c, every[k]) != NULL);
		for (size_t a = 0; a < c->nevents; a++)
			for (size_t b = a + 1; b < c->nevents; b++)
				CHECK(strcmp(c->events[a].name, c->events[b].name) != 0);
		if (!c->pmu) {
			CHECK_STR(c->name, "generic");
			CHECK(cat_event(c, "dram_local") == NULL);
			continue;
		}
		for (size_t k = 0; k < 2; k++)
			CHECK(cat_event(c, dram[k]) != NULL);
		if (c->vendor == NL_VENDOR_INTEL) {
			CHECK(cat_event(c, "remote_hitm") != NULL);
			CHECK(cat_event(c, "remote_fwd") != NULL);
		} else {
			CHECK(cat_event(c, "remote_cache") != NULL);
		}
		/* hardware events name their PMU explicitly */
		snprintf(prefix, sizeof(prefix), "%s::", c->pmu);
		for (size_t k = 0; k < c->nevents; k++)
			CHECK(strncmp(c->events[k].pfm, prefix, strlen(prefix)) == 0 ||
			      strncmp(c->events[k].pfm, "perf::PERF_COUNT_SW_", 20) == 0);
	}
}

/* ---- encoding: every entry of every model, against the vendors' codes ----
 *
 * config = event select | unit mask << 8 (Intel IA32_PERFEVTSELx, AMD
 * PERF_CTLx bits 0-7 and 8-15), from Intel's perfmon event lists (SKX,
 * ICX, SPR) and AMD's PPRs for family 17h model 31h, 19h models 01h and
 * 11h (the kernel's amdzen2/3/4 event files carry the same codes):
 *   Intel 0x3c core cycles (fixed counter 1), 0xc0 instructions (fixed 0),
 *   0x2e/0x41 LONGEST_LAT_CACHE.MISS, 0x2e/0x4f .REFERENCE,
 *   0xd3 MEM_LOAD_L3_MISS_RETIRED: 0x01 LOCAL_DRAM, 0x02 REMOTE_DRAM,
 *   0x04 REMOTE_HITM, 0x08 REMOTE_FWD
 *   AMD 0x76 cycles not in halt, 0xc0 retired instructions,
 *   Zen 2 0x43 demand DC fills: 0x08 local DRAM, 0x40 remote DRAM,
 *   0x10 remote cache, 0x02 local cache (L3 and CCXs of the die);
 *   Zen 3 0x44 any DC fills: 0x08 MemIoLcl, 0x40 MemIoRmt, 0x02 IntCache,
 *   0x04 ExtCacheLcl, 0x10 ExtCacheRmt;
 *   Zen 4 0x44 any DC fills: 0x08 DramIoNear, 0x40 DramIoFar, 0x02
 *   LocalCcx, 0x04 NearCache, 0x10 FarCache, 0x80 AltMem. */
struct want_code {
	const char *catalog, *name;
	uint64_t config;
	enum nl_fixed_slot fixed;
};

static const struct want_code codes[] = {
#define INTEL(c) \
	{ c, "cycles", 0x003c, NL_FIXED_CYCLES }, \
	{ c, "instructions", 0x00c0, NL_FIXED_INSTRUCTIONS }, \
	{ c, "dram_local", 0x01d3, NL_FIXED_NONE }, \
	{ c, "dram_remote", 0x02d3, NL_FIXED_NONE }, \
	{ c, "llc_misses", 0x412e, NL_FIXED_NONE }, \
	{ c, "llc_references", 0x4f2e, NL_FIXED_NONE }, \
	{ c, "remote_hitm", 0x04d3, NL_FIXED_NONE }, \
	{ c, "remote_fwd", 0x08d3, NL_FIXED_NONE }
	INTEL("skx"), INTEL("icx"), INTEL("spr"),
	{ "zen2", "cycles", 0x0076, NL_FIXED_NONE },
	{ "zen2", "instructions", 0x00c0, NL_FIXED_NONE },
	{ "zen2", "dram_local", 0x0843, NL_FIXED_NONE },
	{ "zen2", "dram_remote", 0x4043, NL_FIXED_NONE },
	{ "zen2", "llc_misses", 0x5843, NL_FIXED_NONE },
	{ "zen2", "llc_references", 0x5a43, NL_FIXED_NONE },
	{ "zen2", "remote_cache", 0x1043, NL_FIXED_NONE },
	{ "zen3", "cycles", 0x0076, NL_FIXED_NONE },
	{ "zen3", "instructions", 0x00c0, NL_FIXED_NONE },
	{ "zen3", "dram_local", 0x0844, NL_FIXED_NONE },
	{ "zen3", "dram_remote", 0x4044, NL_FIXED_NONE },
	{ "zen3", "llc_misses", 0x5c44, NL_FIXED_NONE },
	{ "zen3", "llc_references", 0x5e44, NL_FIXED_NONE },
	{ "zen3", "remote_cache", 0x1044, NL_FIXED_NONE },
	{ "zen4", "cycles", 0x0076, NL_FIXED_NONE },
	{ "zen4", "instructions", 0x00c0, NL_FIXED_NONE },
	{ "zen4", "dram_local", 0x0844, NL_FIXED_NONE },
	{ "zen4", "dram_remote", 0x4044, NL_FIXED_NONE },
	{ "zen4", "llc_misses", 0xdc44, NL_FIXED_NONE },
	{ "zen4", "llc_references", 0xde44, NL_FIXED_NONE },
	{ "zen4", "remote_cache", 0x1044, NL_FIXED_NONE },
};

static const struct want_code *want_for(const char *catalog, const char *name)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].catalog, catalog) == 0 &&
		    strcmp(codes[i].name, name) == 0)
			return &codes[i];
	return NULL;
}

static void encode_all_checks(void)
{
	struct nl_counter_budget fixed_ok = { 4, true, true, false, true };
	struct nl_counter_budget no_fixed = { 6, false, false, false, true };
	size_t checked = 0;

	pfm_terminate();
	setenv("LIBPFM_ENCODE_INACTIVE", "1", 1);
	for (size_t i = 0; i < nl_catalog_count(); i++) {
		const struct nl_catalog *c = nl_catalog_at(i);

		for (size_t k = 0; k < c->nevents; k++) {
			const struct nl_catalog_event *ce = &c->events[k];
			const struct want_code *w = want_for(c->name, ce->name);
			struct perf_event_attr a, plain;
			bool hw = false;
			int rc = nl_perf_encode(ce->pfm, &a, &hw);

			CHECK_EQ_INT(rc, 0);
			if (rc < 0) {
				fprintf(stderr, "  (%s: %s)\n", c->name, ce->pfm);
				continue;
			}
			/* every entry counts guest mode, user and kernel */
			CHECK_EQ_INT(a.exclude_guest, 0);
			CHECK_EQ_INT(a.exclude_host, 0);
			CHECK_EQ_INT(a.exclude_user, 0);
			CHECK_EQ_INT(a.exclude_kernel, 0);
			if (strncmp(ce->pfm, "perf::PERF_COUNT_SW_", 20) == 0) {
				CHECK(!hw);
				CHECK_EQ_INT(a.type, PERF_TYPE_SOFTWARE);
				continue;
			}
			CHECK(hw);
			/* the modifiers change the guest bit only */
			CHECK_EQ_INT(nl_t_raw_encode(ce->pfm, &plain), PFM_SUCCESS);
			CHECK_EQ_INT(plain.exclude_guest, 1);
			CHECK_EQ_U64(plain.config, a.config);
			CHECK_EQ_U64(plain.config1, a.config1);
			if (!c->pmu)
				continue;   /* generic: checked in test_perf */
			CHECK(w != NULL);
			if (!w) {
				fprintf(stderr, "  (no vendor code for %s %s)\n",
					c->name, ce->name);
				continue;
			}
			checked++;
			CHECK_EQ_INT(a.type, PERF_TYPE_RAW);
			CHECK_EQ_U64(a.config, w->config);
			CHECK_EQ_U64(a.config1, 0);
			if (a.config != w->config)
				fprintf(stderr, "  (%s %s: 0x%llx)\n", c->name,
					ce->name, (unsigned long long)a.config);
			/* the fixed slot the planner derives is the table's
			 * (AMD has no fixed counters) */
			CHECK_EQ_INT(nl_perf_fixed_slot(&a, c->vendor == NL_VENDOR_INTEL ?
							&fixed_ok : &no_fixed),
				     ce->fixed);
			CHECK_EQ_INT(ce->fixed, w->fixed);
		}
	}
	CHECK_EQ_U64(checked, sizeof(codes) / sizeof(codes[0]));
}

static void test_encode_every_model(void)
{
	struct perf_event_attr a;

	nl_t_in_child(encode_all_checks);
	/* without the variable (this process) an inactive PMU's event does
	 * not encode: the child really went through the inactive tables */
	for (size_t i = 0; i < nl_catalog_count(); i++) {
		const struct nl_catalog *c = nl_catalog_at(i);
		bool exists = false, present = false;
		pfm_pmu_t p;

		if (!c->pmu)
			continue;
		CHECK_EQ_INT(pfm_initialize(), PFM_SUCCESS);
		pfm_for_all_pmus(p) {
			pfm_pmu_info_t info;

			memset(&info, 0, sizeof(info));
			info.size = sizeof(info);
			if (pfm_get_pmu_info(p, &info) == PFM_SUCCESS &&
			    strcmp(info.name, c->pmu) == 0) {
				exists = true;
				present = info.is_present;
			}
		}
		CHECK(exists);
		if (!present)
			CHECK_EQ_INT(nl_perf_encode(c->events[2].pfm, &a, NULL),
				     -ENOENT);
	}
}

/* The offcore-response examples docs/events.md gives for [thread]
 * overrides: Intel's OCR.READS_TO_CORE.{LOCAL,REMOTE}_DRAM (ICX: event
 * 0xb7 umask 0x01; SPR: 0x2a/0x01; the response mask in config1). */
static void docs_examples_checks(void)
{
	static const struct { const char *pfm; uint64_t config, config1; } ex[] = {
		{ "icx::OCR:READS_TO_CORE_LOCAL_DRAM", 0x01b7, 0x104000477 },
		{ "icx::OCR:READS_TO_CORE_REMOTE_DRAM", 0x01b7, 0x730000477 },
		{ "spr::OCR:READS_TO_CORE_LOCAL_DRAM", 0x012a, 0x104004477 },
		{ "spr::OCR:READS_TO_CORE_REMOTE_DRAM", 0x012a, 0x730004477 },
	};

	pfm_terminate();
	setenv("LIBPFM_ENCODE_INACTIVE", "1", 1);
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		struct perf_event_attr a;

		CHECK_EQ_INT(nl_perf_encode(ex[i].pfm, &a, NULL), 0);
		CHECK_EQ_U64(a.config, ex[i].config);
		CHECK_EQ_U64(a.config1, ex[i].config1);
		CHECK_EQ_INT(a.exclude_guest, 0);
	}
}

static void test_docs_examples(void)
{
	nl_t_in_child(docs_examples_checks);
}

/* ---- libpfm4 preparation ---- */

static void prepare_checks(void)
{
	const struct nl_catalog *emr;
	struct perf_event_attr a;
	struct nl_cpuid id;
	bool native = true;

	/* Emerald Rapids: libpfm4 4.13 does not detect it (nor anything
	 * here); the spr catalog is encoded with the inactive tables */
	CHECK_EQ_INT(nl_paths_set(FIXTURES "/emr/proc", NULL), 0);
	CHECK_EQ_INT(nl_catalog_cpuid(&id), 0);
	emr = nl_catalog_for_cpu(&id);
	CHECK_STR(emr->name, "spr");
	CHECK(getenv("LIBPFM_ENCODE_INACTIVE") == NULL);
	CHECK_EQ_INT(nl_catalog_pfm_prepare(emr, &native), 0);
	CHECK(!native);
	CHECK_STR(getenv("LIBPFM_ENCODE_INACTIVE"), "1");
	CHECK_EQ_INT(nl_perf_encode("spr::MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM",
				    &a, NULL), 0);
	CHECK_EQ_U64(a.config, 0x02d3);
	/* generic: nothing to prepare */
	CHECK_EQ_INT(nl_catalog_pfm_prepare(nl_catalog_find("generic"), &native), 0);
	CHECK(native);
	/* idempotent */
	CHECK_EQ_INT(nl_catalog_pfm_prepare(emr, &native), 0);
	CHECK(!native);
	CHECK_EQ_INT(nl_paths_set("/proc", NULL), 0);
}

static void test_pfm_prepare(void)
{
	nl_t_in_child(prepare_checks);
	/* the parent's environment is untouched */
	CHECK(getenv("LIBPFM_ENCODE_INACTIVE") == NULL);
}

/* ---- counter budget ---- */

static char *mktree(const char *watchdog, const char *smt)
{
	char tmpl[] = "/tmp/nl_catalog_XXXXXX";
	char *dir = mkdtemp(tmpl), path[PATH_MAX + 64];
	FILE *fp;

	if (!dir)
		return NULL;
	dir = strdup(dir);
	snprintf(path, sizeof(path), "mkdir -p %s/proc/sys/kernel "
		 "%s/sys/devices/system/cpu/smt", dir, dir);
	CHECK_EQ_INT(system(path), 0);
	if (watchdog) {
		snprintf(path, sizeof(path), "%s/proc/sys/kernel/nmi_watchdog", dir);
		fp = fopen(path, "w");
		CHECK(fp != NULL);
		if (fp) {
			fputs(watchdog, fp);
			fclose(fp);
		}
	}
	if (smt) {
		snprintf(path, sizeof(path), "%s/sys/devices/system/cpu/smt/active", dir);
		fp = fopen(path, "w");
		CHECK(fp != NULL);
		if (fp) {
			fputs(smt, fp);
			fclose(fp);
		}
	}
	return dir;
}

static void use_tree(const char *dir)
{
	char p[PATH_MAX], s[PATH_MAX];

	snprintf(p, sizeof(p), "%s/proc", dir);
	snprintf(s, sizeof(s), "%s/sys", dir);
	CHECK_EQ_INT(nl_paths_set(p, s), 0);
}

static void rm_tree(char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ_INT(system(cmd), 0);
	free(dir);
	CHECK_EQ_INT(nl_paths_set("/proc", "/sys"), 0);
}

static void test_budget(void)
{
	struct nl_counter_budget b;
	char *dir;

	/* no watchdog, SMT on */
	dir = mktree("0\n", "1\n");
	if (!dir)
		return;
	use_tree(dir);
	nl_catalog_budget(nl_catalog_find("skx"), &b);
	CHECK_EQ_INT(b.gp, 4);
	CHECK(b.fixed_cycles && b.fixed_instructions && !b.watchdog && b.smt);
	nl_catalog_budget(nl_catalog_find("icx"), &b);
	CHECK_EQ_INT(b.gp, 8);
	nl_catalog_budget(nl_catalog_find("zen3"), &b);
	CHECK_EQ_INT(b.gp, 6);
	CHECK(!b.fixed_cycles && !b.fixed_instructions);
	nl_catalog_budget(nl_catalog_find("generic"), &b);
	CHECK_EQ_INT(b.gp, 4);
	CHECK(!b.fixed_cycles);
	rm_tree(dir);

	/* NMI watchdog on, SMT off: Skylake-SP gets 8 per thread, the
	 * watchdog takes the fixed cycles counter on Intel and a
	 * general-purpose one on AMD */
	dir = mktree("1\n", "0\n");
	if (!dir)
		return;
	use_tree(dir);
	nl_catalog_budget(nl_catalog_find("skx"), &b);
	CHECK_EQ_INT(b.gp, 8);
	CHECK(!b.fixed_cycles && b.fixed_instructions && b.watchdog && !b.smt);
	nl_catalog_budget(nl_catalog_find("zen4"), &b);
	CHECK_EQ_INT(b.gp, 5);
	nl_catalog_budget(nl_catalog_find("generic"), &b);
	CHECK_EQ_INT(b.gp, 3);
	rm_tree(dir);

	/* neither file: no watchdog, SMT assumed on */
	dir = mktree(NULL, NULL);
	if (!dir)
		return;
	use_tree(dir);
	nl_catalog_budget(nl_catalog_find("skx"), &b);
	CHECK_EQ_INT(b.gp, 4);
	CHECK(b.fixed_cycles && !b.watchdog && b.smt);
	rm_tree(dir);
}

/* ---- the group plan each model gets ---- */

/* "a,b|c|d": names per group, groups separated by '|' */
static void plan_string(const struct nl_perf_resolved *r, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int g = 0; g < r->ngroups; g++) {
		bool first = true;

		off += (size_t)snprintf(buf + off, len - off, "%s", g ? "|" : "");
		for (int i = 0; i < r->nevents && off < len; i++) {
			if (!(r->groups[g].events & (1u << i)))
				continue;
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						first ? "" : ",", r->ev[i].name);
			first = false;
		}
	}
}

#define SW "task_clock,context_switches,cpu_migrations,page_faults"

static void plan_checks(void)
{
	static const struct { const char *watchdog, *catalog, *plan; } t[] = {
		{ "0", "skx", "cycles,instructions,dram_local,dram_remote,llc_misses,"
			      "llc_references|remote_hitm,remote_fwd|" SW },
		{ "1", "skx", "cycles,instructions,dram_local,dram_remote,llc_misses|"
			      "llc_references,remote_hitm,remote_fwd|" SW },
		{ "0", "icx", "cycles,instructions,dram_local,dram_remote,llc_misses,"
			      "llc_references,remote_hitm,remote_fwd|" SW },
		{ "1", "spr", "cycles,instructions,dram_local,dram_remote,llc_misses,"
			      "llc_references,remote_hitm,remote_fwd|" SW },
		{ "0", "zen2", "cycles,instructions,dram_local,dram_remote,llc_misses,"
			       "llc_references|remote_cache|" SW },
		{ "1", "zen3", "cycles,instructions,dram_local,dram_remote,llc_misses|"
			       "llc_references,remote_cache|" SW },
		{ "0", "zen4", "cycles,instructions,dram_local,dram_remote,llc_misses,"
			       "llc_references|remote_cache|" SW },
		{ "0", "generic", "cycles,instructions,llc_misses,llc_references|" SW },
		{ "1", "generic", "cycles,instructions,llc_misses|llc_references|" SW },
	};
	struct nl_perf_resolved *r = calloc(1, sizeof(*r));
	char buf[1024], err[256];

	CHECK(r != NULL);
	if (!r)
		return;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *dir = mktree(t[i].watchdog, "1");

		if (!dir)
			break;
		use_tree(dir);
		CHECK_EQ_INT(nl_perf_resolve(NULL, t[i].catalog, false, r, err,
					     sizeof(err)), 0);
		plan_string(r, buf, sizeof(buf));
		CHECK_STR(buf, t[i].plan);
		CHECK(r->catalog == nl_catalog_find(t[i].catalog));
		CHECK(!r->detected);
		for (int k = 0; k < r->nevents; k++) {
			CHECK_EQ_INT(r->ev[k].encode_err, 0);
			CHECK_EQ_INT(r->ev[k].exclude_guest, 0);
			CHECK_EQ_INT(r->ev[k].open_err, 1);
		}
		rm_tree(dir);
	}
	CHECK_EQ_INT(nl_perf_resolve(NULL, "nosuchpmu", false, r, err,
				     sizeof(err)), -ENOENT);
	CHECK(strstr(err, "nosuchpmu") != NULL);
	free(r);
}

static void test_plan_per_model(void)
{
	nl_t_in_child(plan_checks);
}

/* --perf.host-mode on every catalog model: cycles and instructions once
 * more guest-only (exclude_host) and once host-only (exclude_guest), with
 * the base event's encoding; every group within the counter budget; and
 * none of it without the flag. */
static int event_ix(const struct nl_perf_resolved *r, const char *name)
{
	for (int k = 0; k < r->nevents; k++)
		if (!strcmp(r->ev[k].name, name))
			return k;
	return -1;
}

static void host_mode_checks(void)
{
	static const char *const base[] = { "cycles", "instructions" };
	struct nl_perf_resolved *r = calloc(1, sizeof(*r));
	struct nl_config cfg;
	char err[256], *dir = mktree("0", "1");

	CHECK(r && dir);
	if (!r || !dir)
		goto out;
	use_tree(dir);
	nl_config_defaults(&cfg);
	for (size_t i = 0; i < nl_catalog_count(); i++) {
		const struct nl_catalog *c = nl_catalog_at(i);

		cfg.perf_host_mode = false;
		CHECK_EQ_INT(nl_perf_resolve(&cfg, c->name, false, r, err, sizeof(err)), 0);
		CHECK(event_ix(r, "cycles_guest") < 0 && event_ix(r, "cycles_host") < 0);
		cfg.perf_host_mode = true;
		CHECK_EQ_INT(nl_perf_resolve(&cfg, c->name, false, r, err, sizeof(err)), 0);
		for (size_t b = 0; b < 2; b++) {
			char g[64], h[64];
			int ib = event_ix(r, base[b]), ig, ih;

			snprintf(g, sizeof(g), "%s_guest", base[b]);
			snprintf(h, sizeof(h), "%s_host", base[b]);
			ig = event_ix(r, g);
			ih = event_ix(r, h);
			CHECK(ib >= 0 && ig >= 0 && ih >= 0);
			if (ib < 0 || ig < 0 || ih < 0)
				continue;
			CHECK_EQ_INT(r->ev[ig].encode_err, 0);
			CHECK_EQ_INT(r->ev[ih].encode_err, 0);
			CHECK(r->ev[ig].hardware && r->ev[ih].hardware);
			/* the base event counts both modes */
			CHECK(!r->ev[ib].exclude_guest && !r->ev[ib].exclude_host);
			CHECK(!r->ev[ig].exclude_guest && r->ev[ig].exclude_host);
			CHECK(r->ev[ih].exclude_guest && !r->ev[ih].exclude_host);
			CHECK_EQ_INT(r->ev[ig].type, r->ev[ib].type);
			CHECK_EQ_U64(r->ev[ig].config, r->ev[ib].config);
			CHECK_EQ_U64(r->ev[ih].config, r->ev[ib].config);
			CHECK(r->ev[ig].group >= 0 && r->ev[ih].group >= 0);
		}
		/* budget: general-purpose counters per hardware group */
		for (int gi = 0; gi < r->ngroups; gi++) {
			int gp = 0;

			for (int k = 0; k < r->nevents; k++)
				if ((r->groups[gi].events >> k & 1) && r->ev[k].hardware &&
				    r->ev[k].fixed == NL_FIXED_NONE)
					gp++;
			if (r->groups[gi].hardware)
				CHECK(gp <= r->budget.gp);
		}
		plan_string(r, err, sizeof(err));
		fprintf(stderr, "  %s with --perf.host-mode: %s\n", c->name, err);
	}
out:
	if (dir)
		rm_tree(dir);
	free(r);
}

static void test_host_mode_every_model(void)
{
	nl_t_in_child(host_mode_checks);
}

/* The host: the catalog nl_perf_resolve picks is the one for cpuinfo. */
static void test_resolve_host(void)
{
	struct nl_perf_resolved *r = calloc(1, sizeof(*r));
	struct nl_cpuid id;
	char err[256];
	int id_err = nl_catalog_cpuid(&id);

	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_EQ_INT(nl_perf_resolve(NULL, NULL, true, r, err, sizeof(err)), 0);
	CHECK(r->detected);
	CHECK(r->catalog == nl_catalog_for_cpu(id_err == 0 ? &id : NULL));
	CHECK_EQ_INT(r->nevents, (int)r->catalog->nevents);
	/* software events open anywhere */
	for (int i = 0; i < r->nevents; i++)
		if (!r->ev[i].hardware)
			CHECK_EQ_INT(r->ev[i].open_err, 0);
	free(r);
}

NL_TEST_MAIN(NL_T(test_detect_models),
	     NL_T(test_model_ranges),
	     NL_T(test_catalog_contents),
	     NL_T(test_encode_every_model),
	     NL_T(test_docs_examples),
	     NL_T(test_pfm_prepare),
	     NL_T(test_budget),
	     NL_T(test_plan_per_model), NL_T(test_host_mode_every_model),
	     NL_T(test_resolve_host))
