/* The data model shared by sources, analysis and encoders.
 *
 * The sampler thread owns one mutable `struct nl_state`. Sources update it in
 * registry order each cycle; then nl_snapshot_build() deep-copies what the
 * encoders need into an immutable, reference-counted `struct nl_snapshot`
 * that HTTP threads read without locks. */
#ifndef NL_MODEL_H
#define NL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NL_MAX_NODES   64     /* NUMA nodes; node masks are uint64_t */
#define NL_MAX_CPUS    1024   /* logical CPUs */
#define NL_MAX_EVENTS  24     /* per-thread events in the catalog */
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

enum nl_mem_source {
	NL_MEM_NONE,           /* not measured (yet) */
	NL_MEM_CGROUP_V1,      /* memory.numa_stat, cgroup v1 */
	NL_MEM_CGROUP_V2,      /* memory.numa_stat, cgroup v2 */
	NL_MEM_NUMA_MAPS,      /* /proc/PID/numa_maps fallback */
};

const char *nl_role_name(enum nl_role r);
const char *nl_backend_name(enum nl_backend b);
const char *nl_mem_source_name(enum nl_mem_source s);

struct nl_cpuset {
	uint64_t bits[NL_MAX_CPUS / 64];
};

void nl_cpuset_zero(struct nl_cpuset *s);
void nl_cpuset_set(struct nl_cpuset *s, int cpu);
bool nl_cpuset_isset(const struct nl_cpuset *s, int cpu);
int nl_cpuset_count(const struct nl_cpuset *s);
void nl_cpuset_or(struct nl_cpuset *dst, const struct nl_cpuset *src);
/* Parse a kernel list ("0-3,8,10-11"). Return 0 or -EINVAL / -ERANGE. */
int nl_cpuset_parse(struct nl_cpuset *s, const char *list);
/* Format as a kernel list into buf ("" when empty). Returns buf. */
char *nl_cpuset_format(const struct nl_cpuset *s, char *buf, size_t len);
/* Node masks use the same list syntax. */
int nl_nodemask_parse(uint64_t *mask, const char *list);
char *nl_nodemask_format(uint64_t mask, char *buf, size_t len);

/* ---- host topology (topology source) ---- */

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

/* ---- events (perf source) ---- */

struct nl_event_desc {
	char name[64];         /* semantic name: cycles, instructions, ... */
	char pfm[160];         /* libpfm4 event string */
	bool hardware;         /* needs a PMU (vs software event) */
	int supported;         /* -1 not tried yet, 0 cannot open, 1 counts */
	int err;               /* -errno of the failed open/encode, else 0 */
};

/* ---- VMs and their threads ---- */

struct nl_thread {
	pid_t tid;
	enum nl_role role;
	int index;                 /* vCPU index / iothread id, else -1 */
	char comm[16];
	bool kernel_thread;        /* vhost kernel worker (own process) */
	uint64_t seen_gen;         /* last sampler generation seen */

	/* scheduler placement (schedstat source) */
	uint64_t run_ns;           /* cumulative on-CPU time from schedstat */
	bool run_valid;            /* run_ns read at least once */
	int last_cpu;              /* CPU it last ran on, -1 unknown */
	uint64_t node_ns[NL_MAX_NODES];      /* cumulative, by node index */
	uint64_t win_node_ns[NL_MAX_NODES];  /* last window, by node index */
	struct nl_cpuset cpus_allowed;
	uint64_t mems_allowed;     /* by node index */

	/* counters (perf source): cumulative, scaled for multiplexing */
	uint64_t events[NL_MAX_EVENTS];
	uint32_t events_valid;     /* bit i: events[i] counts on this thread */
	double scaling_ratio;      /* last window time_running/time_enabled of
				      the hardware group; 1 when only software
				      events count; NaN when nothing counts */
};

struct nl_vm {
	char name[NL_NAME_MAX];
	char uuid[NL_UUID_LEN];    /* "" when unknown */
	pid_t pid;                 /* QEMU process */
	uint64_t starttime;        /* /proc/PID/stat field 22: detects reuse */
	enum nl_backend backend;
	uint64_t seen_gen;

	struct nl_thread *threads;
	size_t nthreads, cap_threads;

	/* Totals of threads that exited, per role, so summed role counters
	 * (emulator, vhost) stay monotonic. */
	uint64_t retired_run_ns[NL_ROLE_COUNT];
	uint64_t retired_node_ns[NL_ROLE_COUNT][NL_MAX_NODES];
	uint64_t retired_events[NL_ROLE_COUNT][NL_MAX_EVENTS];

	/* memory placement (memory source), by node index */
	uint64_t mem_bytes[NL_MAX_NODES];
	enum nl_mem_source mem_source;
	uint64_t mem_updated_ns;   /* monotonic time of the last update */
	char mem_cgroup[NL_NAME_MAX * 2]; /* cgroup dir below the memory
					     hierarchy root, "" unknown */
};

/* ---- one aggregated series (what /metrics shows per role/thread) ---- */

struct nl_series {
	enum nl_role role;
	int index;                 /* vCPU index / iothread id; -1 = summed */
	uint32_t nthreads;
	uint64_t run_ns;
	uint64_t node_ns[NL_MAX_NODES];
	uint64_t win_node_ns[NL_MAX_NODES];
	uint64_t events[NL_MAX_EVENTS];
	uint32_t events_valid;
	double scaling_ratio;
	struct nl_cpuset cpus_allowed;
	uint64_t mems_allowed;
};

struct nl_vm_snap {
	char name[NL_NAME_MAX];
	char uuid[NL_UUID_LEN];
	pid_t pid;
	enum nl_backend backend;
	enum nl_mem_source mem_source;
	uint64_t mem_bytes[NL_MAX_NODES];
	uint64_t mem_total_bytes;
	struct nl_series *series;
	size_t nseries;
	struct nl_thread *threads;   /* copies, for the API */
	size_t nthreads;
	/* placement locality and SLIT-weighted access distance per role and
	 * for NL_ROLE_ALL; NaN where undefined (no CPU time, no memory) */
	double locality[NL_ROLE_COUNT + 1];
	double distance[NL_ROLE_COUNT + 1];
};

struct nl_collector_stat {
	const char *name;
	bool enabled;
	bool success;
	double duration_seconds;
};

struct nl_snapshot {
	int refs;                     /* atomic; see snapshot.c */
	uint64_t gen;
	double timestamp;             /* wall clock, seconds */
	uint64_t mono_ns;             /* monotonic time of the sample */
	double window_seconds;        /* length of the last window */
	struct nl_topology topo;
	bool topo_valid;
	struct nl_vm_snap *vms;
	size_t nvms;
	struct nl_event_desc events[NL_MAX_EVENTS];
	int nevents;
	struct nl_collector_stat collectors[NL_MAX_SOURCES];
	int ncollectors;
	double sample_duration_seconds;
	double sample_cpu_seconds_total;  /* sampler thread CPU time, cumulative */
	int libvirt_up;               /* 1 / 0; -1 when libvirt is not used */
	uint64_t threads_tracked;
	uint64_t perf_fds;
	uint64_t samples_total;
	char pmu_name[64];            /* "" when no hardware PMU */
	char cpu_model[128];
};

#endif
