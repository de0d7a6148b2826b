/* The sampler: a registry of sources run in order every interval by one
 * thread, which then publishes an immutable snapshot. */
#ifndef NL_SAMPLER_H
#define NL_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "model.h"

/* A QEMU process found by the /proc scan. */
struct nl_qproc {
	pid_t pid;
	uint64_t starttime;
	char name[NL_NAME_MAX];      /* -name guest=NAME, else "" */
	char uuid[NL_UUID_LEN];      /* -uuid, else "" */
};

/* A vhost worker that is its own (kernel) process: comm "vhost-OWNERPID". */
struct nl_kworker {
	pid_t pid;
	pid_t owner;
	char comm[16];
};

/* A running libvirt domain. */
struct nl_domain {
	char name[NL_NAME_MAX];
	char uuid[NL_UUID_LEN];
	pid_t pid;                   /* resolved from the /proc scan, 0 unknown */
};

/* Mutable state owned by the sampler thread. Sources read and write it;
 * nobody else touches it. */
struct nl_state {
	const struct nl_config *cfg;
	uint64_t gen;                /* incremented at the start of a cycle */
	uint64_t now_ns, prev_ns;    /* CLOCK_MONOTONIC of this / last cycle */

	struct nl_topology topo;
	bool topo_valid;

	/* procscan results, rebuilt every cycle */
	struct nl_qproc *qprocs;
	size_t nqprocs, cap_qprocs;
	struct nl_kworker *kworkers;
	size_t nkworkers, cap_kworkers;

	/* libvirt results, rebuilt every cycle the connection works */
	struct nl_domain *domains;
	size_t ndomains, cap_domains;
	bool domains_valid;          /* this cycle's list came from libvirt */
	int libvirt_up;              /* 1, 0; -1 when not configured */

	/* tracked VMs (pointers stay valid while the VM is tracked) */
	struct nl_vm **vms;
	size_t nvms, cap_vms;

	/* perf */
	struct nl_event_desc events[NL_MAX_EVENTS];
	int nevents;
	uint64_t perf_fds;
	char pmu_name[64];
	char cpu_model[128];
	char perf_catalog[16];       /* catalog name, "" before perf init */
	int perf_gp_counters;
	struct nl_perf_group_desc perf_groups[NL_MAX_GROUPS];
	int nperf_groups;

	/* uncore source: per-socket totals, rebuilt every cycle */
	struct nl_uncore uncore;
	/* resctrl source: resctrl.vms is owned by the source */
	struct nl_resctrl resctrl;

	/* set by a source (e.g. a libvirt lifecycle event) to ask for an
	 * immediate extra cycle; see nl_sampler_wake() */
	struct nl_sampler *sampler;
};

struct nl_source {
	const char *name;
	bool default_enabled;
	bool required;               /* cannot be switched off by flag */
	/* Called once. May set *priv. Return 0, or -errno: the source is
	 * then disabled and reported as failing. */
	int (*init)(struct nl_state *st, void **priv);
	/* Called every cycle. Return 0 on success, -errno on failure (the
	 * rest of the cycle still runs). */
	int (*sample)(struct nl_state *st, void *priv);
	void (*free)(struct nl_state *st, void *priv);
};

/* The static registry, in run order. */
extern const struct nl_source nl_sources[];
extern const int nl_nsources;
int nl_source_index(const char *name);

struct nl_sampler;

struct nl_sampler *nl_sampler_new(const struct nl_config *cfg);
void nl_sampler_free(struct nl_sampler *s);
/* Run one cycle synchronously (tests, and the first cycle at start). */
int nl_sampler_cycle(struct nl_sampler *s);
int nl_sampler_start(struct nl_sampler *s);   /* background thread */
void nl_sampler_stop(struct nl_sampler *s);
/* Ask the background thread to run a cycle now (thread-safe). */
void nl_sampler_wake(struct nl_sampler *s);
/* Newest published snapshot with a reference held, or NULL before the first
 * cycle. Release with nl_snapshot_put(). Thread-safe. */
struct nl_snapshot *nl_sampler_get(struct nl_sampler *s);
void nl_snapshot_put(struct nl_snapshot *snap);

/* VM / thread helpers for sources. */
struct nl_vm *nl_state_find_vm(struct nl_state *st, pid_t pid);

#endif
