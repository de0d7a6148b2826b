/* Per-thread perf counters (libpfm4 + perf_event_open).
 *
 * The events come from the catalog of the host's CPU model (catalog.h),
 * or --perf.events, plus the [thread] section of --perf.config. For every
 * tracked thread the source opens one perf group per entry of the group
 * plan: hardware events split into groups that fit the PMU's counters,
 * software events in one more group. Each group is read with one read()
 * per cycle; the deltas, scaled for multiplexing, are added to
 * nl_thread.events[] (and win_events[] for the window). Events the host
 * cannot count are marked unsupported once (perf.events[i].supported = 0)
 * and never retried; an event the kernel refuses to add to a group but
 * opens alone moves to a group of its own (the plan is split).
 *
 * This header is what the rest of numalens (the snapshot builder, `numalens
 * events`, main.c) needs; the source's row and internals are in
 * perf_priv.h. */
#ifndef NL_PERF_H
#define NL_PERF_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "types.h"

struct nl_config;
struct perf_event_attr;

/* What the perf source resolved and keeps up to date: the event list the
 * per-thread counters (nl_thread.events[]) are indexed by, and the group
 * plan. It lives in the sampler state (nl_state.perf), because the
 * snapshot builder aggregates and scores the counters by it; the snapshot
 * carries a copy (nl_snapshot.events, perf_fds, pmu_name, ...). */
struct nl_perf_info {
	struct nl_event_desc events[NL_MAX_EVENTS];
	int nevents;
	uint64_t fds;                /* open perf fds */
	char pmu_name[64];           /* core PMU, "" none */
	char cpu_model[128];
	char catalog[16];            /* catalog name, "" before perf init */
	int gp_counters;             /* general-purpose counters budgeted */
	struct nl_perf_group_desc groups[NL_MAX_GROUPS];
	int ngroups;
};

/* Encode a libpfm4 event string into *attr (counting user + kernel) so
 * that it counts guest mode too: attr->exclude_guest is always 0 (and
 * exclude_host 0). *hardware (may be NULL) tells whether the event needs a
 * PMU (any perf type but PERF_TYPE_SOFTWARE). Return 0 or -errno (-ENOENT:
 * no such event on the PMUs libpfm4 may encode for). */
int nl_perf_encode(const char *pfm, struct perf_event_attr *attr,
		   bool *hardware);

/* Detect the host's catalog and set libpfm4 up for it (see
 * nl_catalog_pfm_prepare): call once before other threads start. The perf
 * source calls it again at init; it is idempotent. */
void nl_perf_prepare(void);

/* How one event of a resolved catalog encodes and whether it opens. */
struct nl_perf_event_info {
	char name[64];
	char pfm[256];
	bool user;                 /* from --perf.config */
	bool hardware;
	int group;                 /* plan group, -1 none */
	enum nl_fixed_slot fixed;
	int encode_err;            /* 0 or -errno */
	uint32_t type;
	uint64_t config, config1;
	bool exclude_user, exclude_kernel, exclude_hv;
	bool exclude_guest, exclude_host;
	int open_err;              /* 0 opens here, -errno, 1 not tried */
};

struct nl_perf_resolved {
	struct nl_cpuid cpuid;
	int cpuid_err;             /* 0 or -errno of reading cpuinfo */
	char cpu_model[128];
	const struct nl_catalog *catalog;
	bool detected;             /* catalog chosen from cpuinfo */
	bool native;               /* libpfm4 itself detected its PMU */
	bool custom;               /* --perf.events replaced the catalog */
	char pmu_detected[64];     /* core PMU libpfm4 + kernel have, "" */
	struct nl_counter_budget budget;
	int nevents;
	struct nl_perf_event_info ev[NL_MAX_EVENTS];
	int ngroups;
	struct nl_perf_group_desc groups[NL_MAX_GROUPS];
};

/* Resolve what the perf source would count: the catalog named `catalog`
 * (a catalog or libpfm4 PMU name) or, when NULL, the host's; cfg's
 * --perf.events and --perf.config on top (cfg may be NULL). When try_open,
 * each encoded event is opened alone on the calling thread to see whether
 * it counts here. Return 0, or -errno with a message in err (unknown
 * catalog, unreadable config). */
int nl_perf_resolve(const struct nl_config *cfg, const char *catalog,
		    bool try_open, struct nl_perf_resolved *out, char *err,
		    size_t errlen);

#endif
