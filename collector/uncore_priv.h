/* Internals of the uncore source, for tests only. */
#ifndef NL_UNCORE_PRIV_H
#define NL_UNCORE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <perfmon/perf_event.h>

#include "catalog.h"
#include "log.h"
#include "state.h"
#include "uncore.h"

/* The registry row (uncore.c). */
extern const struct nl_source nl_source_uncore;

/* ---- sysfs event encoding (pure) ---- */

/* One file of <pmu>/format/: which attr bits a term's value fills. The
 * value's bit i goes to bit[i] of config (reg 0), config1 (1) or config2
 * (2), lowest first, as the perf tool spreads a value over "config:0-7,
 * 32-35". */
struct nl_uncore_format {
	char name[32];
	int reg;
	int nbits;
	uint8_t bit[64];
};

/* Parse the text of format file `name` ("config:0-7,32-35\n", "config1:5",
 * "config2:0-63"). Return 0, or -EINVAL for a malformed text (unknown
 * register, bad range, bit beyond 63, a bit listed twice). */
int nl_uncore_format_parse(const char *name, const char *text,
			   struct nl_uncore_format *out);

/* Encode a comma-separated term list ("event=0x04,umask=0x03", the text of
 * an events/ alias or what `perf stat -e pmu/terms/` takes) into cfg[0..2]
 * (config, config1, config2; zeroed first). A term without "=value" means
 * 1; "config=", "config1=", "config2=" set a whole register. Return 0, or
 * -ENOENT a term names no format file, -ERANGE the value does not fit its
 * field, -EINVAL a syntax error (also a "?" placeholder: a parametrised
 * alias). */
int nl_uncore_encode_terms(const char *terms,
			   const struct nl_uncore_format *fmt, size_t nfmt,
			   uint64_t cfg[3]);

/* Bytes per count for a kernel .scale/.unit pair ("6.103515625e-5",
 * "MiB" -> 64). Return 0, or -EINVAL when the unit is not a size. */
int nl_uncore_unit_bytes(double scale, const char *unit, double *bytes);

/* ---- sysfs readers (through --path.sysfs) ---- */

#define NL_UNCORE_MAX_FORMATS 32

/* Read every file of <sysfs>/bus/event_source/devices/<pmu>/format.
 * Return the number read, or -errno (-ENOENT: no format directory). */
int nl_uncore_read_formats(const char *pmu, struct nl_uncore_format *fmt,
			   size_t cap);

struct nl_uncore_alias {
	uint64_t config[3];
	double scale;              /* 0: no .scale file */
	char unit[16];             /* "": no .unit file */
};

/* Resolve events/<alias> of PMU `pmu` the way `perf stat -e pmu/alias/`
 * does. Return 0, -ENOENT (no such alias, or a term without format file),
 * or what nl_uncore_encode_terms() returns. */
int nl_uncore_resolve_alias(const char *pmu, const char *alias,
			    struct nl_uncore_alias *out);

/* ---- CPU identification ---- */

struct nl_uncore_cpu {
	enum nl_cpu_vendor vendor;     /* catalog.h; NL_VENDOR_OTHER unknown */
	unsigned family, model;
};

/* Parse <sysfs>/devices/system/cpu/modalias
 * ("cpu:type:x86,ven0000fam0006mod0055:feature:..."). Return 0 or -EINVAL. */
int nl_uncore_parse_modalias(const char *text, struct nl_uncore_cpu *out);

/* "uncore_imc_12" -> "uncore_imc", 12; "amd_df" -> "amd_df", -1. */
void nl_uncore_split_pmu(const char *name, char *family, size_t len,
			 int *box);

/* ---- discovery (uncore_sysfs.c) ---- */

#define NL_UNCORE_PMU_CPUS (NL_MAX_SOCKETS * 8)

/* A PMU with a cpumask, and the socket of each CPU it lists. */
struct nl_uncore_pmu {
	char name[64];
	char family[64];
	int box;
	uint32_t type;
	int ncpu;
	int cpu[NL_UNCORE_PMU_CPUS];
	int socket[NL_UNCORE_PMU_CPUS];
};

/* Every PMU with a cpumask (uncore PMUs have one; core PMUs do not), sorted
 * by family and box. *out is freed by the caller. Return 0 (also when
 * there is no PMU directory) or -ENOMEM. */
int nl_uncore_discover(struct nl_uncore_pmu **out, size_t *n);

/* ---- the source (uncore_setup.c sets up, uncore.c reads) ---- */

/* Stand-ins for perf_event_open(pid -1, cpu), read() and close() of one
 * counter, so tests can feed counts. open returns an fd or -errno; read
 * fills value, time_enabled, time_running and returns 0 or -errno. */
struct nl_uncore_ops {
	int (*open)(const struct perf_event_attr *attr, int cpu, void *arg);
	int (*read)(int fd, uint64_t v[3], void *arg);
	void (*close)(int fd, void *arg);
	void *arg;
};

enum nl_uncore_metric {
	NL_UNCORE_M_DRAM,          /* dir: NL_UNCORE_READ/WRITE/ALL */
	NL_UNCORE_M_LINK,          /* link: link index */
	NL_UNCORE_M_USER,          /* user: index of an [uncore] event */
};

/* One counter: one event of one box on one CPU (= one socket). */
struct nl_uncore_counter {
	int fd;                    /* -1 closed */
	enum nl_uncore_metric metric;
	int sub;                   /* direction, link or user index */
	int slot;                  /* index into nl_uncore.sockets */
	int cpu;
	char pmu[64];              /* box, e.g. uncore_imc_3 */
	struct perf_event_attr attr;
	uint64_t num, den;         /* bytes (or units) per count: num/den */
	uint64_t prev[3];          /* value, enabled, running at last read */
	uint64_t count;            /* cumulative, multiplex-scaled */
	double ratio;              /* running/enabled of the last window,
				      NaN when it did not run */
};

struct nl_uncore_priv {
	struct nl_uncore_ops ops;
	struct nl_uncore_cpu cpu;
	struct nl_uncore_counter *ctr;
	size_t nctr, cap_ctr;
	uint64_t opens;            /* open attempts (tests: never retried) */
	struct nl_complaint c_read;
	struct nl_uncore u;        /* the summary; the row's publish hook
				      copies it into the snapshot */
};

/* A source with `ops` (NULL: the real syscalls). Free with
 * nl_source_uncore.free(NULL, p). */
struct nl_uncore_priv *nl_uncore_priv_new(const struct nl_uncore_ops *ops);

/* Discover the PMUs under --path.sysfs, resolve and open everything; the
 * [uncore] entries of --perf.config (cfg may be NULL) come last. Return 0
 * (also when nothing exists here) or -ENOMEM. */
int nl_uncore_setup(struct nl_uncore_priv *p, const struct nl_config *cfg);

/* raw_delta * enabled / running, rounded, saturating; 0 when running is 0
 * (the counter was not scheduled: add nothing rather than guess). */
uint64_t nl_uncore_scale(uint64_t raw_delta, uint64_t enabled,
			 uint64_t running);

#endif
