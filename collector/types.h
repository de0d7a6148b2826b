/* Value types every layer shares: limits, roles, CPU sets and node masks,
 * the host topology and the description of a per-thread event. Plain
 * values, no state and no behaviour beyond parsing and formatting
 * (types.c). Who owns the rest: docs/internals.md. */
#ifndef NL_TYPES_H
#define NL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NL_MAX_NODES   64     /* NUMA nodes; node masks are uint64_t */
#define NL_MAX_CPUS    1024   /* logical CPUs */
#define NL_MAX_EVENTS  24     /* per-thread events in the catalog */
#define NL_MAX_GROUPS  8      /* perf groups per thread (perf source) */
#define NL_MAX_SOURCES 16
#define NL_NAME_MAX    256    /* libvirt domain names are at most 255 */
#define NL_UUID_LEN    37

enum nl_role {
	NL_ROLE_VCPU,
	NL_ROLE_EMULATOR,
	NL_ROLE_IOTHREAD,
	NL_ROLE_VHOST,
	NL_ROLE_COUNT
};
/* Index used for "all roles of the VM together" in per-role score arrays. */
#define NL_ROLE_ALL NL_ROLE_COUNT

enum nl_backend { NL_BACKEND_LIBVIRT, NL_BACKEND_PROC };

/* How a VM came to run here, when it did not simply boot: the arrival path
 * of live migration (docs/api.md, arrivals). Set by the libvirt source from
 * lifecycle events and by the /proc scan from QEMU's -incoming. */
enum nl_arrival {
	NL_ARRIVAL_NONE,       /* booted here, or not known */
	NL_ARRIVAL_MIGRATED,   /* VIR_DOMAIN_EVENT_STARTED_MIGRATED */
	NL_ARRIVAL_RESTORED,   /* VIR_DOMAIN_EVENT_STARTED_RESTORED */
	NL_ARRIVAL_SNAPSHOT,   /* VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT */
	NL_ARRIVAL_INCOMING,   /* /proc scan: QEMU started with -incoming, now running */
	NL_ARRIVAL_COUNT
};

enum nl_mem_source {
	NL_MEM_NONE,           /* not measured (yet) */
	NL_MEM_CGROUP_V1,      /* memory.numa_stat, cgroup v1 */
	NL_MEM_CGROUP_V2,      /* memory.numa_stat, cgroup v2 */
	NL_MEM_NUMA_MAPS,      /* /proc/PID/numa_maps fallback */
};

const char *nl_role_name(enum nl_role r);
const char *nl_backend_name(enum nl_backend b);
const char *nl_arrival_name(enum nl_arrival a);   /* "none", "migrated", ... */
const char *nl_mem_source_name(enum nl_mem_source s);

struct nl_cpuset {
	uint64_t bits[NL_MAX_CPUS / 64];
};

void nl_cpuset_zero(struct nl_cpuset *s);
void nl_cpuset_set(struct nl_cpuset *s, int cpu);
bool nl_cpuset_isset(const struct nl_cpuset *s, int cpu);
int nl_cpuset_count(const struct nl_cpuset *s);
void nl_cpuset_or(struct nl_cpuset *dst, const struct nl_cpuset *src);
/* a is not empty and every CPU of a is in b. */
bool nl_cpuset_within(const struct nl_cpuset *a, const struct nl_cpuset *b);
/* Parse a kernel list ("0-3,8,10-11"). Return 0 or -EINVAL / -ERANGE. */
int nl_cpuset_parse(struct nl_cpuset *s, const char *list);
/* Format as a kernel list into buf ("" when empty). Returns buf. */
char *nl_cpuset_format(const struct nl_cpuset *s, char *buf, size_t len);
/* Node masks use the same list syntax. */
int nl_nodemask_parse(uint64_t *mask, const char *list);
char *nl_nodemask_format(uint64_t mask, char *buf, size_t len);

/* ---- host topology (filled by the topology source) ---- */

struct nl_numastat {
	uint64_t numa_hit, numa_miss, numa_foreign;
	uint64_t interleave_hit, local_node, other_node;
};

struct nl_node {
	int id;                       /* kernel node id (may be sparse) */
	struct nl_cpuset cpus;
	uint64_t mem_total_bytes;
	uint64_t mem_free_bytes;
	struct nl_numastat numastat;  /* pages, cumulative */
	bool has_numastat;
};

struct nl_topology {
	int nnodes;                          /* valid entries in nodes[] */
	struct nl_node nodes[NL_MAX_NODES];  /* sorted by id */
	/* SLIT, by node *index* (not id): distance[i][j]; 10 = local. */
	int distance[NL_MAX_NODES][NL_MAX_NODES];
	int ncpus;                           /* highest online cpu + 1 */
	int16_t cpu_node[NL_MAX_CPUS];       /* cpu -> node index, -1 unknown */
};

/* Node index for a kernel node id, or -1. */
int nl_topology_node_index(const struct nl_topology *t, int node_id);

/* ---- per-thread events (resolved by the perf source) ---- */

/* Which CPU mode a per-thread event counts: both (the default: a vCPU
 * thread's guest and host work alike), guest mode only (exclude_host), or
 * host mode only (exclude_guest): --perf.host-mode. */
enum nl_event_mode { NL_MODE_ALL, NL_MODE_GUEST, NL_MODE_HOST };

struct nl_event_desc {
	char name[64];         /* semantic name: cycles, instructions, ... */
	char pfm[256];         /* libpfm4 event string */
	bool hardware;         /* needs a PMU (vs software event) */
	int supported;         /* -1 not tried yet, 0 cannot open, 1 counts */
	int err;               /* -errno of the failed open/encode, else 0 */
	int group;             /* index in the perf group plan, -1 none */
	bool user;             /* from the [thread] section of --perf.config */
	enum nl_event_mode mode;   /* which CPU mode it counts */
};

/* One perf group of the per-thread plan: every tracked thread opens one
 * perf group per entry (perf_plan.c; hardware events split by counter
 * budget). */
struct nl_perf_group_desc {
	bool hardware;
	uint32_t events;       /* bit i: events[i] is a member */
};

#endif
