/* The sampler's mutable state and the source registry row: collector/
 * only. exporter/ never includes this header (it reads snapshots,
 * snapshot.h).
 *
 * The sampler thread owns one `struct nl_state`. Sources update it in run
 * order each cycle (sampler.c); then nl_snapshot_build() deep-copies what
 * the encoders need into an immutable `struct nl_snapshot`, and every
 * source with a publish hook adds its own summary to it. Only data that
 * several sources or the snapshot builder share lives here; a source keeps
 * the rest in its private data. */
#ifndef NL_STATE_H
#define NL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "perf.h"
#include "snapshot.h"
#include "types.h"

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

/* A tracked VM. Its threads are the records the snapshot copies
 * (struct nl_thread, snapshot.h). */
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

	/* memory placement (numa_stat / numa_maps sources), by node index */
	uint64_t mem_bytes[NL_MAX_NODES];
	enum nl_mem_source mem_source;
	uint64_t mem_updated_ns;   /* monotonic time of the last update */
	char mem_cgroup[NL_NAME_MAX * 2]; /* cgroup dir below the memory
					     hierarchy root, "" unknown */

	/* guest RAM and the VMM's own memory by node index, as the last
	 * numa_maps reading split them (numa_maps source, at its interval,
	 * also for VMs the cgroup measures); split_valid once read */
	bool split_valid;
	bool numa_maps_capped;      /* its last numa_maps read hit NL_NUMA_MAPS_MAX */
	uint64_t split_guest[NL_MAX_NODES], split_vmm[NL_MAX_NODES];
	uint64_t split_updated_ns;
	uint64_t split_key;        /* which mappings were guest RAM then */
	uint64_t split_at[NL_MAX_NODES];  /* mem_bytes[] when it was read */

	/* guest NUMA cells (cells source from the command line; libvirt's
	 * domain XML replaces them) and each cell's memory by node index as
	 * the last numa_maps reading found it (cell_mem_valid) */
	struct nl_vm_cells cells;
	enum nl_cells_from { NL_CELLS_UNREAD, NL_CELLS_CMDLINE, NL_CELLS_LIBVIRT } cells_from;
	bool cells_xml_tried;      /* the domain XML was asked for */
	bool cells_warned;         /* an invalid configuration was reported */
	bool cell_mem_valid;
	uint64_t cell_mem[NL_MAX_CELLS][NL_MAX_NODES];

	/* passthrough (VFIO) devices (devices source) */
	uint64_t dev_nodes;        /* node indexes of the VM's devices */
	int ndevices;              /* the first NL_MAX_VM_DEVICES in devices[] */
	struct nl_vm_device devices[NL_MAX_VM_DEVICES];

	/* arrival (libvirt lifecycle event, or -incoming in the /proc scan):
	 * how, and the monotonic time it was seen; kept while tracked */
	enum nl_arrival arrival;
	uint64_t arrived_ns;
};

/* Mutable state owned by the sampler thread. Sources read and write it;
 * nobody else touches it. */
struct nl_state {
	const struct nl_config *cfg;
	uint64_t gen;                /* incremented at the start of a cycle */
	uint64_t now_ns, prev_ns;    /* CLOCK_MONOTONIC of this / last cycle */

	/* topology source */
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

	/* tracked VMs (vms source; pointers stay valid while the VM is
	 * tracked) */
	struct nl_vm **vms;
	size_t nvms, cap_vms;

	/* perf source: the event list nl_thread.events[] is indexed by */
	struct nl_perf_info perf;

	/* set by a source (e.g. a libvirt lifecycle event) to ask for an
	 * immediate extra cycle; see nl_sampler_wake() */
	struct nl_sampler *sampler;
};

/* One row of the source registry. Each source file defines its own
 * `const struct nl_source nl_source_<name>`; sampler.c lists the rows in
 * run order. docs/internals.md has the recipe for a new one. */
struct nl_source {
	const char *name;            /* --collector.NAME, collector="NAME" */
	bool default_enabled;
	bool required;               /* cannot be switched off by flag */
	/* Whether this configuration can use the source at all, before the
	 * flags are looked at (libvirt: not with --discovery=proc). NULL:
	 * always. A required source is always wanted. */
	bool (*wanted)(const struct nl_config *cfg);
	/* Called once. May set *priv. Return 0, or -errno: the source is
	 * then disabled and reported as failing. NULL: nothing to set up. */
	int (*init)(struct nl_state *st, void **priv);
	/* Called every cycle. Return 0 on success, -errno on failure (the
	 * rest of the cycle still runs). */
	int (*sample)(struct nl_state *st, void *priv);
	/* Called every cycle on the snapshot just built (not yet visible to
	 * anyone), for sources whose results live in their private data:
	 * copy them into the snapshot. Runs whether this cycle's sample
	 * worked or not (a failed sample keeps its last summary), never when
	 * init failed. Return 0 or -ENOMEM (the cycle then publishes
	 * nothing). NULL: nothing to publish. */
	int (*publish)(const struct nl_state *st, void *priv,
		       struct nl_snapshot *snap);
	/* Called once when the sampler is freed (in reverse run order), if
	 * init succeeded. NULL: nothing to free. */
	void (*free)(struct nl_state *st, void *priv);
};

/* A sampler running `list` (n rows, at most NL_MAX_SOURCES) in that order
 * instead of the built-in registry, for tests. The rows must outlive the
 * sampler. NULL on allocation failure or a bad list. */
struct nl_sampler *nl_sampler_new_with_sources(const struct nl_config *cfg,
					       const struct nl_source *const *list,
					       int n);

/* Deep copy of what encoders need, with series aggregated and scores
 * computed. stats are copied. Returns NULL on allocation failure. The
 * snapshot starts with one reference. Sources' publish hooks are not run
 * (the sampler runs them). */
struct nl_snapshot *nl_snapshot_build(const struct nl_state *st,
				      const struct nl_collector_stat *stats,
				      int nstats, double sample_duration);

#endif
