/* Internals of the perf source, for tests and the benchmark only. */
#ifndef NL_PERF_PRIV_H
#define NL_PERF_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <perfmon/perf_event.h>

#include "log.h"
#include "model.h"
#include "sampler.h"

enum nl_perf_kind { NL_PERF_HW, NL_PERF_SW, NL_PERF_NKINDS };

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
	struct nl_perf_group grp[NL_PERF_NKINDS];
};

/* perf_event_open() stand-in: returns an fd or -1 with errno set. */
typedef int (*nl_perf_open_fn)(struct perf_event_attr *attr, pid_t tid,
			       int cpu, int group_fd, unsigned long flags,
			       void *arg);

struct nl_perf_priv {
	struct perf_event_attr attr[NL_MAX_EVENTS]; /* by catalog index */
	struct nl_perf_thread **threads;   /* sorted by tid */
	size_t nthreads, cap_threads;
	uint64_t gen;
	uint64_t nfds;                     /* open perf fds */
	uint64_t open_attempts;            /* perf_event_open() calls */
	uint64_t event_open_attempts[NL_MAX_EVENTS];
	bool rlimit_raised;                /* RLIMIT_NOFILE bumped once */
	struct nl_complaint c_emfile, c_open, c_read;
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
 * events[ev] and set the members' bits in *valid. Returns the window's
 * running/enabled ratio, NaN when the group did not run in the window. */
double nl_perf_group_update(struct nl_perf_group *g,
			    const struct nl_perf_read *r, uint64_t *events,
			    uint32_t *valid);

/* Fill st->events[] from a --perf.events list ("name=pfm,...") or, when
 * spec is NULL, from the catalog for the libpfm4 core PMU `pmu` ("" for
 * the generic one). Return 0 or -EINVAL / -E2BIG. */
int nl_perf_catalog_load(struct nl_state *st, const char *spec,
			 const char *pmu);

/* "vendor family/model" from <procfs>/cpuinfo into buf ("" unknown). */
void nl_perf_cpu_model(char *buf, size_t len);

/* Name of the core PMU libpfm4 detects, if the kernel exposes a core PMU
 * under <sysfs>/bus/event_source/devices; else "". */
void nl_perf_pmu_name(char *buf, size_t len);

#endif
