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
	char pfm[256];         /* libpfm4 event string */
	bool hardware;         /* needs a PMU (vs software event) */
	int supported;         /* -1 not tried yet, 0 cannot open, 1 counts */
	int err;               /* -errno of the failed open/encode, else 0 */
	int group;             /* index in the perf group plan, -1 none */
	bool user;             /* from the [thread] section of --perf.config */
};

/* One perf group of the per-thread plan: every tracked thread opens one
 * perf group per entry (perf.c; hardware events split by counter budget). */
struct nl_perf_group_desc {
	bool hardware;
	uint32_t events;       /* bit i: events[i] is a member */
};

/* Which locality scores a VM role has (nl_vm_snap.locality_sources). */
#define NL_LOCALITY_SRC_PLACEMENT 1u   /* locality[] from placement */
#define NL_LOCALITY_SRC_PMU       2u   /* pmu_locality[] from DRAM events */

/* Which PMU scores of a VM role are defined (nl_vm_snap.pmu_scores). */
#define NL_PMU_SCORE_LOCALITY 1u
#define NL_PMU_SCORE_MPKI     2u
#define NL_PMU_SCORE_CPI      4u

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
	/* perf source, last window only: event deltas (scaled), and each
	 * group's time_running/time_enabled (0 never on the PMU while the
	 * thread ran, NaN not read or did not run), by plan group index;
	 * scaling_ratio above is the lowest hardware one */
	uint64_t win_events[NL_MAX_EVENTS];
	uint32_t win_valid;        /* bit i: win_events[i] was read */
	double group_scaling[NL_MAX_GROUPS];
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

	/* passthrough (VFIO) devices (devices source) */
	uint64_t dev_nodes;        /* node indexes of the VM's devices */
	int ndevices;
};

/* ---- uncore counters (uncore source) ---- */

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

/* ---- resctrl monitoring (resctrl source) ---- */

#define NL_MAX_L3_DOMAINS 64

/* nl_resctrl_dom.valid bits */
#define NL_RESCTRL_LLC   1u
#define NL_RESCTRL_TOTAL 2u
#define NL_RESCTRL_LOCAL 4u

struct nl_resctrl_dom {
	int id;                    /* L3 cache id of mon_data/mon_L3_<id> */
	uint32_t valid;            /* NL_RESCTRL_* read this cycle */
	uint64_t llc_occupancy;    /* bytes, gauge */
	uint64_t mbm_total;        /* bytes, cumulative */
	uint64_t mbm_local;        /* bytes, cumulative */
};

enum nl_resctrl_state {
	NL_RESCTRL_MONITORED,      /* our group holds the VM's threads */
	NL_RESCTRL_FOREIGN,        /* threads in another resctrl group: skipped */
	NL_RESCTRL_NO_RMID,        /* no RMID free: retried with backoff */
	NL_RESCTRL_ERROR,          /* group creation failed otherwise */
	NL_RESCTRL_PENDING,        /* not created yet: resctrl is locked by
				      someone else (libvirt) this cycle */
};

const char *nl_resctrl_state_name(enum nl_resctrl_state s);

struct nl_resctrl_vm {
	char name[NL_NAME_MAX];
	char group[NL_NAME_MAX];   /* mon_groups/<group>, "" none */
	enum nl_resctrl_state state;
	int ndom;
	struct nl_resctrl_dom dom[NL_MAX_L3_DOMAINS];
};

struct nl_resctrl {
	bool active;               /* mounted with L3 monitoring */
	uint32_t features;         /* NL_RESCTRL_* the kernel offers */
	bool rmid_exhausted;       /* a group waits for a free RMID */
	uint64_t groups;           /* our monitoring groups */
	struct nl_resctrl_vm *vms; /* sorted by name */
	size_t nvms;
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
	uint64_t win_events[NL_MAX_EVENTS];   /* summed last-window deltas */
	uint32_t win_valid;
	double group_scaling[NL_MAX_GROUPS];  /* mean over the threads */
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
	uint64_t dev_nodes;          /* passthrough devices: node indexes */
	int ndevices;
	/* PMU scores over the last window per role and NL_ROLE_ALL (score.h);
	 * NaN where the events do not count or saw too little */
	double pmu_locality[NL_ROLE_COUNT + 1];  /* dram_local share */
	double llc_mpki[NL_ROLE_COUNT + 1];      /* LLC misses / 1000 instr */
	double cpi[NL_ROLE_COUNT + 1];           /* cycles / instruction */
	uint32_t locality_sources[NL_ROLE_COUNT + 1]; /* NL_LOCALITY_SRC_* */
	uint32_t pmu_scores[NL_ROLE_COUNT + 1];       /* NL_PMU_SCORE_*: the
							 defined ones */
};

struct nl_collector_stat {
	const char *name;
	bool enabled;
	bool success;
	double duration_seconds;
};

struct nl_hint_report;           /* hints.h */

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
	char perf_catalog[16];        /* event catalog in use, "" perf off */
	int perf_gp_counters;         /* general-purpose counters budgeted */
	struct nl_perf_group_desc perf_groups[NL_MAX_GROUPS];
	int nperf_groups;
	/* the hint engine's report for this snapshot (hints.h): hints of
	 * every policy and per-VM features; NULL when the engine did not run.
	 * Freed with the snapshot. */
	struct nl_hint_report *hints;
	struct nl_uncore uncore;      /* uncore source */
	struct nl_resctrl resctrl;    /* resctrl source; vms deep-copied */
};

#endif
