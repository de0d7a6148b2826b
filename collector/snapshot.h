/* The snapshot: what one sample cycle measured, immutable once published
 * and reference counted, so HTTP threads read it without locks. This is
 * the header exporter/ includes from the collector (with hints.h for the
 * hint report the snapshot carries). The sampler's mutable state, which
 * the snapshot is built from, is in state.h and stays inside collector/. */
#ifndef NL_SNAPSHOT_H
#define NL_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "resctrl.h"
#include "types.h"
#include "uncore.h"

/* Which locality scores a VM role has (nl_vm_snap.locality_sources). */
#define NL_LOCALITY_SRC_PLACEMENT 1u   /* locality[] from placement */
#define NL_LOCALITY_SRC_PMU       2u   /* pmu_locality[] from DRAM events */

/* Which PMU scores of a VM role are defined (nl_vm_snap.pmu_scores). */
#define NL_PMU_SCORE_LOCALITY 1u
#define NL_PMU_SCORE_MPKI     2u
#define NL_PMU_SCORE_CPI      4u

/* One thread of a VM. The sampler keeps one per tracked thread in its
 * state (struct nl_vm, state.h) and the snapshot publishes verbatim copies
 * (nl_vm_snap.threads), so the record is defined here, with the snapshot. */
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

/* One aggregated series (what /metrics shows per role/thread). */
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

/* A passthrough (VFIO) PCI device of a VM (devices source). */
#define NL_MAX_VM_DEVICES 8
struct nl_vm_device {
	char device[16];           /* PCI address, 0000:3b:00.0 */
	int node;                  /* kernel node id; -1: firmware gives none */
};

/* A guest NUMA cell (libvirt <cpu><numa><cell>, QEMU -numa node): which
 * vCPUs and how much memory, and the host nodes its memory is bound to. */
#define NL_MAX_CELLS 8
struct nl_vm_cell {
	int id;                    /* the guest's node id */
	uint64_t vcpus;            /* bit i: vCPU i (the first 64) */
	uint64_t mem_bytes;        /* as configured */
	uint64_t host_nodes;       /* kernel node ids it is bound to; 0 none */
	char memdev[48];           /* its memory backend's id, "" none */
};

/* A VM's cells as configured. n == 0: none (or not read yet); invalid: the
 * configuration did not add up (`why`), and the VM is scored whole. */
struct nl_vm_cells {
	int n;
	bool invalid;
	char why[96];
	struct nl_vm_cell cell[NL_MAX_CELLS];
};

/* A cell as the snapshot scores it: where its vCPUs ran and its memory
 * is, by node index (mem_known false: its memory was not told apart). */
struct nl_cell_snap {
	struct nl_vm_cell cfg;
	bool mem_known;
	uint64_t mem_bytes[NL_MAX_NODES];
	double cpu_share[NL_MAX_NODES];  /* its vCPUs' CPU time by node */
	double locality;                 /* vCPU placement locality; NaN */
	double weight;                   /* its share of the VM's vCPU time */
	int home;                        /* node index with most of its memory, -1 */
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
	int ndevices;                /* all of them; the first
					NL_MAX_VM_DEVICES in devices[] */
	struct nl_vm_device devices[NL_MAX_VM_DEVICES];
	enum nl_arrival arrival;     /* how it came to run here */
	double arrival_age_seconds;  /* since the arrival was seen; NaN: none */
	/* PMU scores over the last window per role and NL_ROLE_ALL (score.h);
	 * NaN where the events do not count or saw too little */
	double pmu_locality[NL_ROLE_COUNT + 1];  /* dram_local share */
	double llc_mpki[NL_ROLE_COUNT + 1];      /* LLC misses / 1000 instr */
	double cpi[NL_ROLE_COUNT + 1];           /* cycles / instruction */
	uint32_t locality_sources[NL_ROLE_COUNT + 1]; /* NL_LOCALITY_SRC_* */
	uint32_t pmu_scores[NL_ROLE_COUNT + 1];       /* NL_PMU_SCORE_*: the
							 defined ones */
	/* guest RAM and the VMM's own memory by node index; they add up to
	 * mem_bytes[] (snapshot.c: the last numa_maps split applied to the
	 * current figures); mem_split false: not known */
	bool mem_split;
	bool numa_maps_capped;        /* numa_maps longer than NL_NUMA_MAPS_MAX: its
					 figures are of the first part */
	uint64_t mem_guest_bytes[NL_MAX_NODES], mem_vmm_bytes[NL_MAX_NODES];
	/* --perf.host-mode: share of the vCPU threads' cycles in host mode
	 * (exits, in-kernel emulation) over the last window; NaN unmeasured */
	double vcpu_host_cycles_ratio;
	/* guest NUMA cells (two or more, valid) and where they sit; the vCPU
	 * role's placement locality is then the cells' own, weighted by their
	 * vCPU time */
	int ncells;
	struct nl_cell_snap cells[NL_MAX_CELLS];
	bool cells_invalid;          /* configured, but did not add up: */
	char cells_why[96];          /* why */
	const char *cells_source;    /* "libvirt", "cmdline", "" */
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
	struct nl_collector_stat collectors[NL_MAX_SOURCES];  /* run order */
	int ncollectors;
	double sample_duration_seconds;
	double sample_cpu_seconds_total;  /* sampler thread CPU time, cumulative */
	int libvirt_up;               /* 1 / 0; -1 when libvirt is not used */
	uint64_t threads_tracked;
	uint64_t samples_total;
	/* the perf source's nl_perf_info (perf.h), copied field by field */
	struct nl_event_desc events[NL_MAX_EVENTS];
	int nevents;
	uint64_t perf_fds;
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
	/* summaries that sources publish through their row's publish hook
	 * (state.h); zero when the source is off or failed to start */
	struct nl_uncore uncore;      /* uncore source (uncore.h) */
	struct nl_resctrl resctrl;    /* resctrl source (resctrl.h); vms owned
					 by the snapshot */
};

/* Take / drop a reference; the last put frees the snapshot (NULL is
 * fine). Thread-safe. */
void nl_snapshot_get(struct nl_snapshot *snap);
void nl_snapshot_put(struct nl_snapshot *snap);

/* Find a VM by name (snapshot VMs are sorted by name), or NULL. */
const struct nl_vm_snap *nl_snapshot_find_vm(const struct nl_snapshot *s,
					     const char *name);

#endif
