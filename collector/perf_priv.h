/* Internals of the perf source, for tests and the benchmark only. */
#ifndef NL_PERF_PRIV_H
#define NL_PERF_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <perfmon/perf_event.h>

#include "catalog.h"
#include "evconf.h"
#include "log.h"
#include "perf.h"
#include "state.h"
#include "types.h"

/* The registry row (perf.c). */
extern const struct nl_source nl_source_perf;

/* One perf group of one thread: leader is fd[0]. */
struct nl_perf_group {
	int nfds;
	int fd[NL_MAX_EVENTS];          /* -1 when closed */
	int ev[NL_MAX_EVENTS];          /* catalog index of each member */
	uint64_t id[NL_MAX_EVENTS];     /* kernel event id of each member */
	uint64_t prev[NL_MAX_EVENTS];   /* raw value at the last read */
	uint64_t prev_enabled, prev_running;
};

struct nl_perf_thread {
	pid_t tid;
	uint64_t gen;                   /* last nl_perf_priv.gen it was seen */
	uint64_t plan_gen;              /* plan its groups were opened with */
	int ngroups;
	struct nl_perf_group grp[];     /* one per plan group */
};

/* Which events go into which perf group, the same for every thread.
 * Hardware groups come first, in catalog order, each holding at most the
 * budget's general-purpose counters (plus the fixed counters it may use);
 * all software events share the last group. */
struct nl_perf_plan {
	int ngroups;
	bool hardware[NL_MAX_GROUPS];
	int nev[NL_MAX_GROUPS];
	int ev[NL_MAX_GROUPS][NL_MAX_EVENTS];
	uint64_t gen;                   /* bumped on every change */
};

/* perf_event_open() stand-in: returns an fd or -1 with errno set. */
typedef int (*nl_perf_open_fn)(struct perf_event_attr *attr, pid_t tid,
			       int cpu, int group_fd, unsigned long flags,
			       void *arg);

struct nl_perf_priv {
	struct perf_event_attr attr[NL_MAX_EVENTS]; /* by catalog index */
	enum nl_fixed_slot fixed[NL_MAX_EVENTS];
	const struct nl_catalog *catalog;  /* the detected one */
	bool native;                       /* libpfm4 detected its PMU */
	struct nl_counter_budget budget;
	struct nl_perf_plan plan;
	struct nl_perf_thread **threads;   /* sorted by tid */
	size_t nthreads, cap_threads;
	uint64_t gen;
	uint64_t nfds;                     /* open perf fds */
	uint64_t open_attempts;            /* perf_event_open() calls */
	uint64_t event_open_attempts[NL_MAX_EVENTS];
	uint64_t group_reads;              /* group read()s, cumulative */
	bool rlimit_raised;                /* RLIMIT_NOFILE bumped once */
	struct nl_complaint c_emfile, c_open, c_read, c_starved;
	nl_perf_open_fn open_fn;           /* NULL: the real syscall */
	void *open_arg;
};

/* One parsed PERF_FORMAT_GROUP | TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING |
 * ID read. */
struct nl_perf_read {
	uint64_t nr, enabled, running;
	uint64_t value[NL_MAX_EVENTS], id[NL_MAX_EVENTS];
};

/* raw_delta * enabled_delta / running_delta, rounded, saturating at
 * UINT64_MAX; 0 when running_delta is 0 (nothing measured). */
uint64_t nl_perf_scale_delta(uint64_t raw_delta, uint64_t enabled_delta,
			     uint64_t running_delta);

/* Parse len bytes of a group read. Return 0 or -EINVAL (short/garbled)
 * / -E2BIG (more members than NL_MAX_EVENTS). */
int nl_perf_parse_read(const uint64_t *buf, size_t len,
		       struct nl_perf_read *out);

/* Account one read of group g: add the window's scaled deltas to
 * events[ev] and win[ev] and set the members' bits in *valid. Returns the
 * window's time_running/time_enabled: NaN when the group was not enabled
 * in the window (the thread did not run), 0 when it was but never got on
 * the PMU (nothing is added then: no estimate, and no spike later). */
double nl_perf_group_update(struct nl_perf_group *g,
			    const struct nl_perf_read *r, uint64_t *events,
			    uint64_t *win, uint32_t *valid);

/* Fill pi->events[] from a --perf.events list ("name=pfm,...") or, when
 * spec is NULL, from catalog c (NULL: the generic one). Return 0 or
 * -EINVAL / -E2BIG. */
int nl_perf_catalog_load(struct nl_perf_info *pi, const char *spec,
			 const struct nl_catalog *c);

/* Merge the [thread] entries of conf into pi->events: a name already there
 * gets the user's event, others are appended. Return 0 or -E2BIG. */
int nl_perf_user_events(struct nl_perf_info *pi, const struct nl_evconf *conf);

/* --perf.host-mode: add cycles_guest / cycles_host and instructions_guest
 * / instructions_host, the same events as cycles and instructions counted
 * in guest mode only and host mode only, for the events present. Return
 * the number added, or -E2BIG (none added) when they do not fit. */
int nl_perf_host_mode_events(struct nl_perf_info *pi);

/* Set attr's exclude_host / exclude_guest for an event of mode m (after
 * nl_perf_encode(), which counts both modes). */
void nl_perf_apply_mode(struct perf_event_attr *attr, enum nl_event_mode m);

/* The fixed counter an encoded event may use under budget b, if any. */
enum nl_fixed_slot nl_perf_fixed_slot(const struct perf_event_attr *a,
				      const struct nl_counter_budget *b);

/* Build the group plan for events[0..n) (fixed[i] their fixed slots):
 * events with supported == 0 are left out; hardware events that fit in no
 * group (NL_MAX_GROUPS reached) are marked unsupported with -E2BIG. Sets
 * events[i].group. */
void nl_perf_plan_build(struct nl_perf_plan *plan, struct nl_event_desc *events,
			const enum nl_fixed_slot *fixed, int n,
			const struct nl_counter_budget *b);

/* Move the members of group g from position pos on into a new group right
 * after it. Return 0, -EINVAL (nothing to split) or -E2BIG (no room). */
int nl_perf_plan_split(struct nl_perf_plan *plan, struct nl_event_desc *events,
		       int nevents, int g, int pos);

/* Copy the plan into pi->groups. */
void nl_perf_plan_publish(const struct nl_perf_plan *plan,
			  struct nl_perf_info *pi);

/* libpfm4 keeps its own "initialized" flag, so this is cheap to repeat.
 * Return 0 or -errno. */
int nl_perf_pfm_init(void);

/* The catalog for this host, with libpfm4 prepared for it (the generic
 * one when libpfm4 cannot encode for the host's PMU). */
const struct nl_catalog *nl_perf_host_catalog(struct nl_cpuid *id,
					      int *id_err, bool *native);

/* Load the events (catalog c or cfg's --perf.events, then cfg's
 * --perf.config) into pi, encode them into p, and plan the groups. Return
 * 0 or -errno (a bad --perf.events or --perf.config; logged). */
int nl_perf_setup_events(struct nl_perf_info *pi, struct nl_perf_priv *p,
			 const struct nl_config *cfg,
			 const struct nl_catalog *c);

/* perf_event_open(2). Returns an fd or -1 with errno set. */
int nl_perf_event_open(struct perf_event_attr *attr, pid_t tid, int cpu,
		       int group_fd, unsigned long flags);

/* "vendor family/model" from <procfs>/cpuinfo into buf ("" unknown). */
void nl_perf_cpu_model(char *buf, size_t len);

/* Name of the core PMU libpfm4 detects, if the kernel exposes a core PMU
 * under <sysfs>/bus/event_source/devices; else "". */
void nl_perf_pmu_name(char *buf, size_t len);

#endif
