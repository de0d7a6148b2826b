/* Per-socket uncore counters: memory-controller read/write bytes and
 * inter-socket link traffic, plus the [uncore] events of --perf.config.
 *
 * Every box of a PMU family (uncore_imc_0..N, uncore_upi_0..N, amd_umc_N,
 * amd_df) is opened system-wide (pid -1) on each CPU its sysfs cpumask
 * lists, one per socket, and the counts are summed per socket (the socket
 * of a CPU is its topology/physical_package_id). Events are resolved from
 * libpfm4's tables where libpfm4 4.13 knows the uncore PMU (Skylake-SP /
 * Cascade Lake), else from the kernel's sysfs aliases (events/<name>, with
 * .scale/.unit, encoded through format/), else from built-in event codes
 * for the CPU model. All opens happen once at start; a counter that cannot
 * be opened is reported (numalens_uncore_event_supported 0) and never
 * retried. A host without uncore PMUs (any VM) is a normal state.
 * docs/events.md describes the choices per CPU model.
 *
 * This header is the source's public face (what the snapshot carries);
 * the source's row and internals are in uncore_priv.h. */
#ifndef NL_UNCORE_H
#define NL_UNCORE_H

#include <stdbool.h>
#include <stdint.h>

/* ---- the summary the source publishes (nl_snapshot.uncore) ---- */

#define NL_MAX_SOCKETS        16  /* physical packages */
#define NL_MAX_UNCORE_LINKS   8   /* inter-socket links per socket */
#define NL_MAX_UNCORE_USER    16  /* [uncore] events of --perf.config */
#define NL_MAX_UNCORE_STATS   32  /* (event, PMU) rows of nl_uncore.stats */

/* Which memory-controller traffic a DRAM counter measures. */
enum nl_uncore_dir {
	NL_UNCORE_READ,
	NL_UNCORE_WRITE,
	NL_UNCORE_ALL,         /* reads + writes, where they cannot be told
				  apart (AMD Zen 2/3 data fabric) */
	NL_UNCORE_NDIR
};

const char *nl_uncore_dir_name(enum nl_uncore_dir d);

/* Cumulative, multiplex-scaled totals of one socket, summed over the boxes
 * (uncore_imc_0..N, ...) of the socket. */
struct nl_uncore_socket {
	int id;                                 /* physical_package_id */
	uint32_t dram_valid;                    /* bit d: dram_bytes[d] counts */
	uint64_t dram_bytes[NL_UNCORE_NDIR];
	uint32_t link_valid;                    /* bit l: link_bytes[l] counts */
	uint64_t link_bytes[NL_MAX_UNCORE_LINKS];
	uint32_t user_valid;                    /* bit u: user[u] counts */
	uint64_t user[NL_MAX_UNCORE_USER];      /* raw event counts */
};

/* How one event resolved and opened on one PMU family. */
struct nl_uncore_stat {
	char event[64];        /* dram_read, dram_write, dram_all, link_tx, or a
				  [uncore] NAME of --perf.config */
	char pmu[64];          /* PMU without box number: uncore_imc, amd_df */
	char source[16];       /* libpfm4, sysfs, builtin; "" unresolved */
	int supported;         /* 1 counts on at least one box, 0 not */
	int err;               /* -errno of the first failure, else 0 */
	double scale;          /* kernel .scale of the alias; 0 none */
	char unit[16];         /* kernel .unit of the alias; "" none */
};

struct nl_uncore {
	bool supported;        /* at least one uncore counter counts */
	int nsockets;          /* sorted by id */
	struct nl_uncore_socket sockets[NL_MAX_SOCKETS];
	int nuser;
	char user[NL_MAX_UNCORE_USER][64];      /* names of user[] */
	int nstats;
	struct nl_uncore_stat stats[NL_MAX_UNCORE_STATS];
	uint64_t fds;          /* open uncore perf fds */
};

/* Stat row of (event, pmu; NULL: any PMU), or NULL. */
const struct nl_uncore_stat *nl_uncore_find_stat(const struct nl_uncore *u,
						 const char *event,
						 const char *pmu);

/* Socket slot of physical package `id`, or NULL. */
const struct nl_uncore_socket *nl_uncore_find_socket(const struct nl_uncore *u,
						     int id);

#endif
