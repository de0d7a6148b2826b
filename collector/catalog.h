/* Per-CPU-model event catalogs: which libpfm4 event string counts each
 * semantic event (cycles, dram_local, ...) on which core PMU, how many
 * general-purpose counters that PMU gives each hardware thread, and how the
 * host's CPU model maps to a catalog. Tables and sources: docs/events.md. */
#ifndef NL_CATALOG_H
#define NL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

/* Fixed counters an event may use instead of a general-purpose one (Intel:
 * IA32_FIXED_CTR0 counts instructions, IA32_FIXED_CTR1 core cycles). */
enum nl_fixed_slot {
	NL_FIXED_NONE = 0,
	NL_FIXED_INSTRUCTIONS,
	NL_FIXED_CYCLES,
};

enum nl_cpu_vendor { NL_VENDOR_OTHER, NL_VENDOR_INTEL, NL_VENDOR_AMD };

struct nl_catalog_event {
	const char *name;           /* semantic name */
	const char *pfm;            /* libpfm4 event string, with PMU prefix */
	enum nl_fixed_slot fixed;
};

struct nl_catalog {
	const char *name;           /* skx, icx, spr, zen2, zen3, zen4, generic */
	const char *pmu;            /* libpfm4 core PMU; NULL: perf:: only */
	const char *desc;
	enum nl_cpu_vendor vendor;
	int gp_counters;            /* per hardware thread, SMT on */
	int gp_counters_nosmt;      /* per hardware thread, SMT off */
	const struct nl_catalog_event *events;
	size_t nevents;
};

/* Family/model of the host CPU as <procfs>/cpuinfo shows them. */
struct nl_cpuid {
	enum nl_cpu_vendor vendor;
	char vendor_id[32];         /* "GenuineIntel", "AuthenticAMD", ... */
	int family, model;          /* -1 when unknown */
	char family_str[32];        /* as cpuinfo writes them ("6", "0xd0c"): */
	char model_str[32];         /* x86 cpu family/model, ARM architecture/part */
};

/* Read the first processor block of <procfs>/cpuinfo (x86 vendor_id, cpu
 * family, model; for the model string also ARM's CPU implementer, CPU
 * architecture, CPU part). Return 0 or -errno (-ENOENT no cpuinfo, -ENODATA
 * no x86 family/model in it). */
int nl_catalog_cpuid(struct nl_cpuid *id);

/* The catalog for a CPU; the generic one when no model-specific one fits. */
const struct nl_catalog *nl_catalog_for_cpu(const struct nl_cpuid *id);

/* A catalog by its name (skx, zen3, generic ...) or by its libpfm4 PMU name
 * (amd64_fam19h_zen3 ...); NULL if none. */
const struct nl_catalog *nl_catalog_find(const char *name);

size_t nl_catalog_count(void);
const struct nl_catalog *nl_catalog_at(size_t i);

/* Set libpfm4 up to encode catalog c's events. When libpfm4 does not
 * detect c->pmu on this CPU (4.13 knows no Emerald Rapids and few Zen 4
 * models) this turns on LIBPFM_ENCODE_INACTIVE and reinitializes libpfm4:
 * call it before other threads run, the variable stays for the process
 * lifetime. *native (may be NULL) tells whether libpfm4 detected the PMU
 * itself. Return 0 or -errno. */
int nl_catalog_pfm_prepare(const struct nl_catalog *c, bool *native);

/* What the host leaves of the PMU for per-thread counting. */
struct nl_counter_budget {
	int gp;                     /* general-purpose counters per thread */
	bool fixed_cycles;          /* cycles may use a fixed counter */
	bool fixed_instructions;
	bool watchdog;              /* NMI watchdog holds a counter */
	bool smt;                   /* SMT active (or unknown) */
};

/* Budget for catalog c on this host: its counters, less the one the NMI
 * watchdog pins (<procfs>/sys/kernel/nmi_watchdog; on Intel it holds the
 * fixed cycles counter, elsewhere a general-purpose one), with SMT from
 * <sysfs>/devices/system/cpu/smt/active. */
void nl_catalog_budget(const struct nl_catalog *c,
		       struct nl_counter_budget *b);

#endif
