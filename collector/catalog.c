/* Per-CPU-model event catalogs: see catalog.h. Every event string here was
 * checked against libpfm4 4.13's own tables (tests/unit/test_catalog.c
 * encodes each one for its PMU and compares the event/umask codes with the
 * vendors': Intel's perfmon event lists, AMD's PPRs / the kernel's amdzen*
 * event files). */
#include "catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <perfmon/pfmlib.h>

#include "paths.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Software events, the same on every host (the kernel counts them). */
#define SW_EVENTS \
	{ "task_clock",       "perf::PERF_COUNT_SW_TASK_CLOCK", NL_FIXED_NONE }, \
	{ "context_switches", "perf::PERF_COUNT_SW_CONTEXT_SWITCHES", NL_FIXED_NONE }, \
	{ "cpu_migrations",   "perf::PERF_COUNT_SW_CPU_MIGRATIONS", NL_FIXED_NONE }, \
	{ "page_faults",      "perf::PERF_COUNT_SW_PAGE_FAULTS", NL_FIXED_NONE }

/* Order matters: groups are filled in catalog order (perf_plan.c), so the events
 * one score divides (cycles and instructions; dram_local and dram_remote;
 * llc_misses and instructions) come first and share a group. */

/* Intel server cores: the architectural cycle/instruction events (fixed
 * counters 1 and 0), retired loads by L3-miss data source (event 0xd3),
 * and the architectural LLC events (0x2e). */
#define INTEL_EVENTS(P, LLC_REF) \
	{ "cycles",         P "::UNHALTED_CORE_CYCLES", NL_FIXED_CYCLES }, \
	{ "instructions",   P "::INSTRUCTION_RETIRED", NL_FIXED_INSTRUCTIONS }, \
	{ "dram_local",     P "::MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM", NL_FIXED_NONE }, \
	{ "dram_remote",    P "::MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM", NL_FIXED_NONE }, \
	{ "llc_misses",     P "::LONGEST_LAT_CACHE:MISS", NL_FIXED_NONE }, \
	{ "llc_references", P "::LONGEST_LAT_CACHE:" LLC_REF, NL_FIXED_NONE }, \
	{ "remote_hitm",    P "::MEM_LOAD_L3_MISS_RETIRED:REMOTE_HITM", NL_FIXED_NONE }, \
	{ "remote_fwd",     P "::MEM_LOAD_L3_MISS_RETIRED:REMOTE_FWD", NL_FIXED_NONE }, \
	SW_EVENTS

static const struct nl_catalog_event skx_events[] = {
	INTEL_EVENTS("skx", "REFERENCE")
};
/* libpfm4's icx table spells the umask REFERENCES (same code 0x4f) */
static const struct nl_catalog_event icx_events[] = {
	INTEL_EVENTS("icx", "REFERENCES")
};
static const struct nl_catalog_event spr_events[] = {
	INTEL_EVENTS("spr", "REFERENCE")
};

/* AMD Zen: the L3 is per CCX, so per-thread "LLC" figures come from the
 * data-cache fill sources: references are fills from beyond the L2,
 * misses fills from beyond the thread's own CCX (another CCX, DRAM, IO).
 * Zen 2 has the demand-fill event (0x43) only; Zen 3 and 4 count demand
 * and prefetch fills (0x44). Fill-source umask bits:
 *   Zen 2: 0x02 local cache (own L3, or another CCX on this die), 0x08
 *          local DRAM/IO, 0x10 remote cache, 0x40 remote DRAM/IO
 *   Zen 3: 0x02 own CCX, 0x04 other CCX same node, 0x08 DRAM/IO same
 *          node, 0x10 other CCX other node, 0x40 DRAM/IO other node
 *   Zen 4: as Zen 3 ("near"/"far" = same/other NUMA node), plus 0x80
 *          extension memory (CXL), counted as a miss but neither local
 *          nor remote DRAM. */
#define ZEN2 "amd64_fam17h_zen2::"
static const struct nl_catalog_event zen2_events[] = {
	{ "cycles",         ZEN2 "CYCLES_NOT_IN_HALT", NL_FIXED_NONE },
	{ "instructions",   ZEN2 "RETIRED_INSTRUCTIONS", NL_FIXED_NONE },
	{ "dram_local",     ZEN2 "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_LCL_DRAM", NL_FIXED_NONE },
	{ "dram_remote",    ZEN2 "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_RMT_DRAM", NL_FIXED_NONE },
	{ "llc_misses",     ZEN2 "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_LCL_DRAM:"
			    "LS_MABRESP_RMT_CACHE:LS_MABRESP_RMT_DRAM", NL_FIXED_NONE },
	{ "llc_references", ZEN2 "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_LCL_CACHE:"
			    "LS_MABRESP_LCL_DRAM:LS_MABRESP_RMT_CACHE:LS_MABRESP_RMT_DRAM",
	  NL_FIXED_NONE },
	{ "remote_cache",   ZEN2 "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_RMT_CACHE", NL_FIXED_NONE },
	SW_EVENTS
};

#define ZEN3 "amd64_fam19h_zen3::"
static const struct nl_catalog_event zen3_events[] = {
	{ "cycles",         ZEN3 "CYCLES_NOT_IN_HALT", NL_FIXED_NONE },
	{ "instructions",   ZEN3 "RETIRED_INSTRUCTIONS", NL_FIXED_NONE },
	{ "dram_local",     ZEN3 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_LCL", NL_FIXED_NONE },
	{ "dram_remote",    ZEN3 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_RMT", NL_FIXED_NONE },
	{ "llc_misses",     ZEN3 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:EXT_CACHE_LCL:"
			    "MEM_IO_LCL:EXT_CACHE_RMT:MEM_IO_RMT", NL_FIXED_NONE },
	{ "llc_references", ZEN3 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:INT_CACHE:EXT_CACHE_LCL:"
			    "MEM_IO_LCL:EXT_CACHE_RMT:MEM_IO_RMT", NL_FIXED_NONE },
	{ "remote_cache",   ZEN3 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:EXT_CACHE_RMT", NL_FIXED_NONE },
	SW_EVENTS
};

#define ZEN4 "amd64_fam19h_zen4::"
static const struct nl_catalog_event zen4_events[] = {
	{ "cycles",         ZEN4 "CYCLES_NOT_IN_HALT", NL_FIXED_NONE },
	{ "instructions",   ZEN4 "RETIRED_INSTRUCTIONS", NL_FIXED_NONE },
	{ "dram_local",     ZEN4 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_NEAR", NL_FIXED_NONE },
	{ "dram_remote",    ZEN4 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_FAR", NL_FIXED_NONE },
	{ "llc_misses",     ZEN4 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:NEAR_CACHE_NEAR_FAR:"
			    "DRAM_IO_NEAR:FAR_CACHE_NEAR_FAR:DRAM_IO_FAR:ALT_MEM_NEAR_FAR",
	  NL_FIXED_NONE },
	{ "llc_references", ZEN4 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:LOCAL_CCX:NEAR_CACHE_NEAR_FAR:"
			    "DRAM_IO_NEAR:FAR_CACHE_NEAR_FAR:DRAM_IO_FAR:ALT_MEM_NEAR_FAR",
	  NL_FIXED_NONE },
	{ "remote_cache",   ZEN4 "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:FAR_CACHE_NEAR_FAR", NL_FIXED_NONE },
	SW_EVENTS
};

/* Any CPU: the kernel's generic events (what `perf stat` shows by default);
 * no DRAM source, so no PMU-based locality. */
static const struct nl_catalog_event generic_events[] = {
	{ "cycles",         "perf::PERF_COUNT_HW_CPU_CYCLES", NL_FIXED_NONE },
	{ "instructions",   "perf::PERF_COUNT_HW_INSTRUCTIONS", NL_FIXED_NONE },
	{ "llc_misses",     "perf::PERF_COUNT_HW_CACHE_MISSES", NL_FIXED_NONE },
	{ "llc_references", "perf::PERF_COUNT_HW_CACHE_REFERENCES", NL_FIXED_NONE },
	SW_EVENTS
};

/* General-purpose counters per hardware thread (Intel SDM vol. 3 ch. 20,
 * CPUID.0AH:EAX[15:8]; AMD PPRs, PerfCtr0-5): Skylake-SP has 8 per core,
 * 4 per thread with SMT on; Ice Lake-SP and Sapphire Rapids 8 per thread;
 * Zen 2-4 6 core counters per thread. The generic catalog assumes 4. */
static const struct nl_catalog catalogs[] = {
	{ "skx", "skx", "Intel Skylake-SP / Cascade Lake-SP / Cooper Lake",
	  NL_VENDOR_INTEL, 4, 8, skx_events, ARRAY_LEN(skx_events) },
	{ "icx", "icx", "Intel Ice Lake-SP / Ice Lake-D",
	  NL_VENDOR_INTEL, 8, 8, icx_events, ARRAY_LEN(icx_events) },
	{ "spr", "spr", "Intel Sapphire Rapids / Emerald Rapids",
	  NL_VENDOR_INTEL, 8, 8, spr_events, ARRAY_LEN(spr_events) },
	{ "zen2", "amd64_fam17h_zen2", "AMD Zen 2 (EPYC 7002, Ryzen 3000/4000)",
	  NL_VENDOR_AMD, 6, 6, zen2_events, ARRAY_LEN(zen2_events) },
	{ "zen3", "amd64_fam19h_zen3", "AMD Zen 3 (EPYC 7003, Ryzen 5000)",
	  NL_VENDOR_AMD, 6, 6, zen3_events, ARRAY_LEN(zen3_events) },
	{ "zen4", "amd64_fam19h_zen4", "AMD Zen 4 (EPYC 9004/8004, Ryzen 7000)",
	  NL_VENDOR_AMD, 6, 6, zen4_events, ARRAY_LEN(zen4_events) },
	{ "generic", NULL, "any CPU: the kernel's generic hardware events",
	  NL_VENDOR_OTHER, 4, 4, generic_events, ARRAY_LEN(generic_events) },
};

#define GENERIC (&catalogs[ARRAY_LEN(catalogs) - 1])

/* x86 family/model ranges (the kernel's and the vendors' model lists:
 * arch/x86/include/asm/intel-family.h, arch/x86/kernel/cpu/amd.c). */
static const struct {
	enum nl_cpu_vendor vendor;
	int family, model_lo, model_hi;
	const char *catalog;
} models[] = {
	{ NL_VENDOR_INTEL, 6, 0x55, 0x55, "skx" },   /* SKX, CLX, CPX */
	{ NL_VENDOR_INTEL, 6, 0x6a, 0x6a, "icx" },   /* Ice Lake-SP */
	{ NL_VENDOR_INTEL, 6, 0x6c, 0x6c, "icx" },   /* Ice Lake-D */
	{ NL_VENDOR_INTEL, 6, 0x8f, 0x8f, "spr" },   /* Sapphire Rapids */
	{ NL_VENDOR_INTEL, 6, 0xcf, 0xcf, "spr" },   /* Emerald Rapids */
	{ NL_VENDOR_AMD, 0x17, 0x30, 0x4f, "zen2" }, /* Rome, Castle Peak */
	{ NL_VENDOR_AMD, 0x17, 0x60, 0x7f, "zen2" }, /* Renoir, Matisse */
	{ NL_VENDOR_AMD, 0x17, 0x90, 0x91, "zen2" }, /* Van Gogh */
	{ NL_VENDOR_AMD, 0x17, 0xa0, 0xaf, "zen2" }, /* Mendocino */
	{ NL_VENDOR_AMD, 0x19, 0x00, 0x0f, "zen3" }, /* Milan, Chagall */
	{ NL_VENDOR_AMD, 0x19, 0x20, 0x5f, "zen3" }, /* Vermeer, Cezanne ... */
	{ NL_VENDOR_AMD, 0x19, 0x10, 0x1f, "zen4" }, /* Genoa, Storm Peak */
	{ NL_VENDOR_AMD, 0x19, 0x60, 0xaf, "zen4" }, /* Raphael, Phoenix,
							Bergamo, Siena */
};

size_t nl_catalog_count(void)
{
	return ARRAY_LEN(catalogs);
}

const struct nl_catalog *nl_catalog_at(size_t i)
{
	return i < ARRAY_LEN(catalogs) ? &catalogs[i] : NULL;
}

const struct nl_catalog *nl_catalog_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(catalogs); i++)
		if (strcmp(catalogs[i].name, name) == 0 ||
		    (catalogs[i].pmu && strcmp(catalogs[i].pmu, name) == 0))
			return &catalogs[i];
	return NULL;
}

const struct nl_catalog *nl_catalog_for_cpu(const struct nl_cpuid *id)
{
	if (!id)
		return GENERIC;
	for (size_t i = 0; i < ARRAY_LEN(models); i++)
		if (models[i].vendor == id->vendor &&
		    models[i].family == id->family &&
		    id->model >= models[i].model_lo &&
		    id->model <= models[i].model_hi)
			return nl_catalog_find(models[i].catalog);
	return GENERIC;
}

static int parse_int(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (end == s || errno || v < 0 || v > 0xffff)
		return -EINVAL;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int nl_catalog_cpuid(struct nl_cpuid *id)
{
	char path[NL_PATH_MAX];
	char *text = NULL, *line, *save = NULL;
	size_t cap = 0;
	bool seen = false;
	ssize_t n;
	int rc;

	memset(id, 0, sizeof(*id));
	id->family = id->model = -1;
	rc = nl_path_proc(path, sizeof(path), "cpuinfo");
	if (rc < 0)
		goto cleanup;
	n = nl_read_file_alloc(path, &text, &cap);
	if (n < 0) {
		rc = (int)n;
		goto cleanup;
	}
	/* the first processor block: all CPUs of a host are one model */
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		char *val;

		if (!colon)
			continue;
		*colon = '\0';
		nl_rstrip(line);
		val = colon + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		nl_rstrip(val);
		if (strcmp(line, "processor") == 0) {
			if (seen)
				break;
			seen = true;
		} else if (strcmp(line, "vendor_id") == 0 ||
			   strcmp(line, "CPU implementer") == 0) {
			snprintf(id->vendor_id, sizeof(id->vendor_id), "%s", val);
		} else if (strcmp(line, "cpu family") == 0) {
			snprintf(id->family_str, sizeof(id->family_str), "%s", val);
			if (parse_int(val, &id->family) < 0)
				id->family = -1;
		} else if (strcmp(line, "model") == 0) {
			snprintf(id->model_str, sizeof(id->model_str), "%s", val);
			if (parse_int(val, &id->model) < 0)
				id->model = -1;
		} else if (strcmp(line, "CPU architecture") == 0) {
			/* ARM: named in the model string, no x86 family/model */
			snprintf(id->family_str, sizeof(id->family_str), "%s", val);
		} else if (strcmp(line, "CPU part") == 0) {
			snprintf(id->model_str, sizeof(id->model_str), "%s", val);
		}
	}
	if (strcmp(id->vendor_id, "GenuineIntel") == 0)
		id->vendor = NL_VENDOR_INTEL;
	else if (strcmp(id->vendor_id, "AuthenticAMD") == 0)
		id->vendor = NL_VENDOR_AMD;
	rc = id->family >= 0 && id->model >= 0 ? 0 : -ENODATA;
cleanup:
	free(text);
	return rc;
}

static int pfm_errno(int rc)
{
	return rc == PFM_ERR_NOMEM ? -ENOMEM : -ENODEV;
}

/* Whether libpfm4 (as initialized now) has c's PMU and detected it. */
static int pmu_state(const char *name, bool *exists, bool *present)
{
	pfm_pmu_t i;

	*exists = *present = false;
	pfm_for_all_pmus(i) {
		pfm_pmu_info_t info;

		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (pfm_get_pmu_info(i, &info) != PFM_SUCCESS || !info.name ||
		    strcmp(info.name, name) != 0)
			continue;
		*exists = true;
		*present = info.is_present;
		return 0;
	}
	return 0;
}

int nl_catalog_pfm_prepare(const struct nl_catalog *c, bool *native)
{
	const char *inactive = getenv("LIBPFM_ENCODE_INACTIVE");
	bool exists, present;
	int rc;

	if (native)
		*native = true;
	rc = pfm_initialize();
	if (rc != PFM_SUCCESS)
		return pfm_errno(rc);
	if (!c || !c->pmu)
		return 0;
	pmu_state(c->pmu, &exists, &present);
	if (!exists)
		return -ENOENT;     /* a libpfm4 built without this PMU */
	if (present)
		return 0;
	if (native)
		*native = false;
	if (inactive && strcmp(inactive, "1") == 0)
		return 0;
	/* libpfm4 reads its environment in pfm_initialize() only */
	if (setenv("LIBPFM_ENCODE_INACTIVE", "1", 1) < 0)
		return -errno;
	pfm_terminate();
	rc = pfm_initialize();
	return rc == PFM_SUCCESS ? 0 : pfm_errno(rc);
}

/* First line of a /proc or /sys file as an integer, or `dfl`. */
static long read_flag(const char *path, long dfl)
{
	char buf[32];
	char *end;
	long v;

	if (nl_read_file(path, buf, sizeof(buf)) <= 0)
		return dfl;
	errno = 0;
	v = strtol(buf, &end, 10);
	return end == buf || errno ? dfl : v;
}

void nl_catalog_budget(const struct nl_catalog *c, struct nl_counter_budget *b)
{
	char path[NL_PATH_MAX];
	bool intel_fixed;

	memset(b, 0, sizeof(*b));
	if (!c)
		c = GENERIC;
	b->watchdog = nl_path_proc(path, sizeof(path),
				   "sys/kernel/nmi_watchdog") == 0 &&
		      read_flag(path, 0) > 0;
	/* unknown SMT state: assume on (fewer counters, never too many) */
	b->smt = nl_path_sys(path, sizeof(path),
			     "devices/system/cpu/smt/active") < 0 ||
		 read_flag(path, 1) != 0;
	b->gp = b->smt ? c->gp_counters : c->gp_counters_nosmt;
	intel_fixed = c->vendor == NL_VENDOR_INTEL;
	b->fixed_instructions = intel_fixed;
	b->fixed_cycles = intel_fixed;
	/* the watchdog's pinned cycles event takes Intel's fixed cycles
	 * counter, and a general-purpose counter everywhere else */
	if (b->watchdog) {
		if (intel_fixed)
			b->fixed_cycles = false;
		else if (b->gp > 1)
			b->gp--;
	}
}
