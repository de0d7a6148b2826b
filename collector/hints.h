/* The migration-hint engine.
 *
 * Runs in the sampler thread after each snapshot is built and before it is
 * published: nl_hints_update() reads the snapshot, keeps what it needs from
 * earlier cycles in its own state (smoothed CPU time and intensities,
 * resctrl totals for bandwidth rates, the stability state of every VM
 * under every policy) and attaches a `struct nl_hint_report` to the
 * snapshot. Encoders read the report like the rest of the snapshot,
 * without locks. No HTTP in here.
 *
 * Four policies run every cycle, each with its own stability state, so an
 * API request can ask for any of them; --hints.policy picks the default one
 * (metrics, and GET /api/v1/hints without ?policy=). docs/api.md describes
 * the model, the policies and every threshold; docs/internals-hints.md
 * which file holds which part and how to add a policy. */
#ifndef NL_HINTS_H
#define NL_HINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hints_config.h"
#include "snapshot.h"

/* Policies one engine can run: the built-in NL_POLICY_COUNT, or a table of
 * its own (nl_hints_new_with(), collector/hints/policy.h). */
#define NL_POLICY_MAX 8

/* A row of a policy table: collector/hints/policy.h. */
struct nl_hint_policy;

enum nl_hint_kind {
	NL_HINT_PIN_VCPUS,
	NL_HINT_MIGRATE_MEMORY,
	NL_HINT_PIN_VMM_THREADS,
	NL_HINT_EVICT,
	NL_HINT_KIND_COUNT
};

/* What a hint's policy measured memory intensity and locality with. */
enum nl_hint_inputs { NL_INPUTS_PMU, NL_INPUTS_PLACEMENT };

/* One concrete step of a hint, in order. */
enum nl_action_op {
	NL_ACT_PIN_VCPU,       /* virDomainPinVcpuFlags; index = vCPU */
	NL_ACT_PIN_EMULATOR,   /* virDomainPinEmulator */
	NL_ACT_PIN_IOTHREAD,   /* virDomainPinIOThread; index = iothread id */
	NL_ACT_PIN_THREAD,     /* sched_setaffinity; index = TID (vhost) */
	NL_ACT_NUMATUNE,       /* virDomainSetNumaParameters nodeset, live */
	NL_ACT_MIGRATE_PAGES,  /* migrate_pages(2) of the QEMU process */
	NL_ACT_MOVE_PAGES,     /* move_pages(2) of up to `bytes` */
	NL_ACT_MIGRATE_VM,     /* live-migrate to another host */
	NL_ACT_COUNT
};

struct nl_hint_action {
	enum nl_action_op op;
	int index;             /* vCPU index, iothread id or TID; else -1 */
	bool fallback;         /* only when the action before it failed */
	char *libvirt;         /* the exact libvirt call, "" when none */
	char *command;         /* equivalent command line (virsh, ...) */
};

/* The numbers a hint was decided on. Node arrays are by node index (the
 * snapshot's topology); NaN where not measured. */
struct nl_hint_evidence {
	enum nl_hint_inputs inputs;
	const char *intensity_metric;
	double intensity;
	double llc_mpki, llc_misses_per_second, dram_bytes_per_second;
	double pmu_locality, proxy;
	double locality, locality_after, access_distance;
	double cpu_cores, vmm_cpu_cores;
	uint64_t mem_bytes[NL_MAX_NODES];
	double cpu_share[NL_MAX_NODES];
	uint64_t target_free_bytes;
	double target_spare_cpus;
	double contention_before, contention_after;
	unsigned windows;      /* consecutive windows the plan held */
};

#define NL_HINT_ID_LEN 17

struct nl_hint {
	char id[NL_HINT_ID_LEN];   /* 16 hex digits, stable over cycles */
	char vm[NL_NAME_MAX];
	char uuid[NL_UUID_LEN];
	pid_t pid;
	enum nl_backend backend;
	enum nl_hint_kind kind;
	enum nl_policy policy;
	int target_node;           /* kernel node id; -1 for evict */
	struct nl_cpuset target_cpus;  /* the target node's CPUs (pins) */
	int from_nodes[NL_MAX_NODES];  /* kernel node ids (migrate_memory) */
	int nfrom;
	uint64_t bytes;            /* memory to move (migrate_memory, evict) */
	uint32_t roles;            /* pin_vmm_threads: 1 << enum nl_role */
	char reason_code[32];
	char reason[256];
	struct nl_hint_evidence ev;
	double expected_gain;
	const char *gain_metric;   /* "locality" or "contention" */
	uint64_t cost_bytes;
	double cost_seconds;
	double confidence;         /* 0..1 */
	double created, expires;   /* wall clock, seconds */
	int step;                  /* order to apply in; lower first */
	char beneficiary[NL_NAME_MAX]; /* VM a room-making move is for, or "" */
	bool has_cell;             /* for one guest NUMA cell of a wide VM: */
	int cell;                  /* its id, and its vCPUs (bit i: vCPU i) */
	uint64_t cell_vcpus;
	struct nl_hint_action *actions;
	size_t nactions;
};

#define NL_HINT_HISTORY 8

/* What the engine derived for one VM this cycle (parallel to
 * snapshot->vms). Rates are the snapshot's window deltas over the window
 * (none in the first window the engine sees the VM); llc_mpki is the
 * snapshot's llc_mpki[vCPU] and pmu_locality its pmu_locality[all]
 * (score.c, with its floors) unless resctrl measures the local share. NaN
 * when their inputs are missing. */
struct nl_vm_features {
	bool measured;             /* had a window with CPU time and memory */
	int nvcpus, niothreads;
	double cpu_cores;          /* all roles, smoothed */
	double vcpu_cores, vmm_cpu_cores;
	double cpu_node_cores[NL_MAX_NODES];  /* all roles, by node index */
	double vcpu_share[NL_MAX_NODES];      /* vCPU time share by node */
	double instructions_per_second, llc_misses_per_second, llc_mpki;
	double dram_bytes_per_second, pmu_locality, page_faults_per_second;
	double proxy;              /* busy vCPU cores x resident GiB + GiB/s faulted */
	enum nl_hint_inputs inputs;
	const char *intensity_metric;  /* unit of `intensity` */
	double intensity;          /* the policies' weight, smoothed */
	bool intensive;            /* memory-intensive (with hysteresis) */
	double locality;           /* guest (vCPU) locality the engine uses */
	double vmm_locality;       /* emulator + iothread + vhost, against the
				      VMM's own memory when the split is known */
	double vmm_guest_locality; /* the same threads against guest RAM: what
				      pinning them next to it changes */
	int mem_home;              /* node index holding most memory, -1 */
	uint64_t vcpu_nodes;       /* node indexes the vCPUs may run on; 0 unknown */
	struct {
		double t, cpu_cores, intensity;
	} history[NL_HINT_HISTORY];  /* oldest first */
	int nhistory;
};

struct nl_node_summary {
	int id;
	int ncpus;
	uint64_t mem_total_bytes, mem_free_bytes;
	double cpu_cores_used;     /* by tracked VM threads */
	double spare_cpus;         /* ncpus x cpu-limit - used */
	double intensity_sum;      /* of memory-intensive VMs running there */
	int nintensive;
};

struct nl_hint_report {
	struct nl_hint_config cfg;
	enum nl_policy default_policy;
	enum nl_hint_inputs inputs;  /* PMU when the host's events count */
	struct nl_vm_features *vmf;  /* snapshot->nvms entries */
	size_t nvmf;
	struct nl_node_summary nodes[NL_MAX_NODES];
	int nnodes;
	/* by policy (enum nl_policy for the built-in table); npolicies of
	 * them are filled, NL_POLICY_COUNT with the built-in table */
	struct nl_hint *hints[NL_POLICY_MAX];
	size_t nhints[NL_POLICY_MAX];
	int npolicies;
	const struct nl_hint_policy *const *policies;  /* the engine's table */
	double duration_seconds;     /* engine time this cycle */
};

/* The built-in policy table (collector/hints/policies.c), by enum
 * nl_policy; read-only. */
extern const struct nl_hint_policy *const nl_hint_policies[NL_POLICY_COUNT];

const char *nl_policy_name(enum nl_policy p);
int nl_policy_parse(const char *s, enum nl_policy *out);     /* 0 / -EINVAL */
/* The built-in policies' names in table order, for error and help texts:
 * "locality, simple, dino or asymsched". */
const char *nl_policy_names(void);
const char *nl_hint_kind_name(enum nl_hint_kind k);
int nl_hint_kind_parse(const char *s, enum nl_hint_kind *out);
const char *nl_hint_inputs_name(enum nl_hint_inputs i);
const char *nl_action_op_name(enum nl_action_op op);

struct nl_hints;

struct nl_hints *nl_hints_new(const struct nl_hint_config *cfg);
void nl_hints_free(struct nl_hints *e);
/* Run one engine cycle over `snap` (built, not yet published) and attach
 * the report as snap->hints. Return 0 or -ENOMEM (snap->hints stays NULL,
 * the engine state is kept for the next cycle). */
int nl_hints_update(struct nl_hints *e, struct nl_snapshot *snap);
void nl_hint_report_free(struct nl_hint_report *r);
void nl_hint_free_contents(struct nl_hint *h);

/* The features of a snapshot VM, or NULL (no report). */
const struct nl_vm_features *nl_hints_vm_features(const struct nl_snapshot *s,
						  const struct nl_vm_snap *vm);

/* ---- profile transfer for live migration (hints/place.c) ---- */

#define NL_PROFILE_HISTORY 16

/* A VM's recent counters and placement summary, as the source host sends
 * it to the destination. Doubles are NaN when unknown. */
struct nl_profile {
	char vm[NL_NAME_MAX];
	char uuid[NL_UUID_LEN];
	char source_host[256];
	uint32_t vcpus;
	uint32_t iothreads;                  /* 0: unknown */
	uint64_t memory_bytes;
	double cpu_cores, vmm_cpu_cores;
	enum nl_hint_inputs inputs;
	char intensity_metric[32];
	double intensity;
	bool memory_intensive;
	bool has_memory_intensive;
	double llc_mpki, llc_misses_per_second, dram_bytes_per_second;
	double instructions_per_second, page_faults_per_second, proxy;
	double locality, window_seconds, timestamp;
	int nnodes;                          /* source layout */
	int node_ids[NL_MAX_NODES];
	uint64_t node_bytes[NL_MAX_NODES];
	int nhistory;
	struct {
		double t, cpu_cores, intensity;
	} history[NL_PROFILE_HISTORY];
	/* passthrough (VFIO) devices: on the source, the VM's; in a placement
	 * request, the devices it will get here (node: this host's kernel
	 * node id, -1 unknown) */
	int ndevices;
	struct nl_vm_device devices[NL_MAX_VM_DEVICES];
};

#define NL_PLACE_MAX_MOVES 8

struct nl_place_move {
	size_t vm;                 /* index into snapshot->vms */
	int from_node, to_node;    /* kernel node ids */
	uint64_t bytes;
};

struct nl_node_rank {
	int node;                  /* kernel node id */
	double score;              /* 0..1; 0 when not feasible */
	bool feasible;
	const char *reason_code;
	char reason[200];
	uint64_t free_bytes;
	double spare_cpus;
	uint64_t bytes_to_free;    /* room the moves below make */
	struct nl_place_move moves[NL_PLACE_MAX_MOVES];
	int nmoves;
};

struct nl_placement {
	char vm[NL_NAME_MAX];
	bool fits;
	int recommended_node;      /* kernel node id, -1 when nothing fits */
	enum nl_policy policy;     /* ranked under this policy */
	/* the chosen node (kernel id), or several for a VM that fits no
	 * single node but a set of them (a "wide" VM); 0 when nothing fits.
	 * recommended_node is chosen[0]. */
	int chosen[NL_MAX_NODES];
	int nchosen;
	char reason[256];          /* why the chosen node(s) won */
	struct nl_node_rank nodes[NL_MAX_NODES];   /* best first */
	int nnodes;
	struct nl_hint *hints;     /* the recommended node's moves as hints */
	size_t nhints;
};

/* Memory and CPU promised to others (the pending arrivals of
 * collector/arrivals.h), counted as taken when ranking: by node index of
 * the snapshot ranked on. donors: id-key hashes (nl_hints_key_hash()) of
 * resident VMs already giving up memory for one of them, which give up
 * no more. */
#define NL_PLACE_RESERVE_DONORS 512
struct nl_place_reserve {
	double mem_bytes[NL_MAX_NODES];
	double cpu_cores[NL_MAX_NODES];
	uint64_t donors[NL_PLACE_RESERVE_DONORS];
	int ndonors;
};

/* FNV-1a of a VM's id key (its UUID, else its name). */
uint64_t nl_hints_key_hash(const char *key);

/* Fill *out with the profile of snapshot VM `vm`. Return 0 or -ENODATA
 * (the engine has no report in this snapshot). */
int nl_hints_profile(const struct nl_snapshot *s, const struct nl_vm_snap *vm,
		     struct nl_profile *out);
/* Rank this host's nodes for an incoming VM under `policy` (docs/api.md,
 * "Profile transfer and placement"), with the memory and CPU of r (may be
 * NULL) counted as taken. *out is heap-allocated; free with
 * nl_placement_free(). Read-only. Return 0, -ENODATA (no topology or
 * report), -EINVAL (profile unusable, policy out of range) or -ENOMEM. */
int nl_hints_place_with(const struct nl_snapshot *s, const struct nl_profile *p,
			enum nl_policy policy, const struct nl_place_reserve *r,
			struct nl_placement **out);
/* nl_hints_place_with() under the report's default policy, nothing
 * reserved: the "what if" of POST /api/v1/placement. */
int nl_hints_place(const struct nl_snapshot *s, const struct nl_profile *p,
		   struct nl_placement **out);
void nl_placement_free(struct nl_placement *p);

#endif
