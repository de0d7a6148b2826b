/* What a hint policy sees: the planning context of one policy in one
 * cycle, the options it weighs, the stability state it reads, and the row
 * it fills in the policy table.
 *
 * A policy is a `const struct nl_hint_policy` defined in a file of its own
 * (policy_<family>.c) plus its row in nl_hint_policies[] (policies.c), its
 * value in enum nl_policy (hints_config.h) and in the .proto. The engine runs every row
 * every cycle: it sets up the accounting (free memory and spare CPU per
 * node, planned memory per VM), orders the VMs, then for each VM asks the
 * row for this window's choice, applies the stability rules, charges the
 * kept option to the accounting and turns it into hints. A row varies only
 * what its hooks say; everything else is shared (plan.c). Recipe:
 * docs/internals-hints.md. */
#ifndef NL_HINTS_POLICY_H
#define NL_HINTS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hints.h"

#define NL_PLAN_HOME_NONE  (-1)
#define NL_PLAN_HOME_EVICT (-2)
#define NL_PLAN_EPS 1e-9
/* At most this many resident VMs give up memory for one plan. */
#define NL_HINT_MAX_DONORS 4

/* A resident VM giving up memory for a plan, kept across cycles so that
 * an unchanged plan keeps its moves. */
struct nl_plan_donor {
	uint64_t key;          /* keyhash of the donor VM */
	int dest;              /* node index its memory goes to */
};

/* The stability state of one VM under one policy (guest plan or VMM-only
 * plan). Homes are node indexes, NL_PLAN_HOME_EVICT, or NL_PLAN_HOME_NONE. */
struct nl_plan {
	int home, cand;
	unsigned cand_n;       /* consecutive windows `cand` was the choice */
	unsigned held;         /* windows published */
	unsigned weak_n;       /* consecutive windows below --hints.exit-gain */
	bool active, changed_ever;
	double created;        /* wall clock of publication */
	uint64_t changed_ns;   /* monotonic: last publication or withdrawal */
	uint64_t confirmed_ns; /* monotonic: last window the plan held */
	struct nl_plan_donor donors[NL_HINT_MAX_DONORS];
	int ndonors;
	unsigned confirm_used; /* windows it was confirmed over when published */
	bool arrival;          /* published at once for an expected arrival */
	bool short_confirm;    /* confirmed over fewer windows: it had arrived */
};

/* Memory a resident VM moves to make room (node indexes). */
struct nl_plan_move {
	size_t vm;
	int from, to;
	double bytes;
};

/* One evaluated choice for a VM: a home node (vCPUs, VMM threads and
 * memory all there) or eviction, what it costs and gains. */
struct nl_plan_option {
	int home;              /* node index or NL_PLAN_HOME_EVICT */
	bool feasible;
	const char *why;       /* "cpu" / "memory" when not feasible */
	double bytes_self, bytes_total;
	struct nl_plan_move donors[NL_HINT_MAX_DONORS];
	int ndonors;
	double gain, l_after, cont_before, cont_after;
	const char *gain_metric;   /* "locality", "contention", "device_locality" */
	bool pin_vcpus, pin_vmm;
	bool per_cell;         /* only cell `cell`'s vCPUs (index in cells[]) */
	int cell;
};

struct nl_hint_vec {
	struct nl_hint *v;
	size_t n, cap;
	int err;
};

struct nl_hint_vm;                 /* the engine's per-VM state (engine.h) */
struct nl_hint_policy;
struct nl_arrival_cycle;           /* expected arrivals (arrivals_priv.h) */
struct nl_arrival_dir;

/* One policy's planning pass over one snapshot. Node arrays are by node
 * index; per-VM arrays are parallel to s->vms. */
struct nl_plan_ctx {
	const struct nl_hint_config *cfg;
	const struct nl_snapshot *s;
	struct nl_hint_report *r;      /* features (r->vmf) and node summaries */
	struct nl_hint_vm *st;
	int pol;                       /* row index in the engine's table */
	const struct nl_hint_policy *policy;
	int nn;
	uint64_t now;                  /* s->mono_ns */
	double mem_avail[NL_MAX_NODES];  /* free above the reserve, as planned */
	double cpu_avail[NL_MAX_NODES];  /* spare cores, as planned */
	double load[NL_MAX_NODES];     /* the policy's own per-node load:
					  zero before prepare() */
	double (*mem)[NL_MAX_NODES];   /* planned memory per VM */
	bool *busy;                    /* planned or donating this cycle */
	struct nl_plan_option *pre;    /* joint choices made by prepare() */
	bool *has_pre;
	struct nl_hint_vec out;
	/* expected arrivals this cycle (NULL: none); held[v]: VM v gives up
	 * memory for a pending one under this policy, so it has no plan */
	const struct nl_arrival_cycle *arr;
	bool *held;
	/* windows to confirm the VM being planned with (--hints.confirm-
	 * windows, or 1 right after an arrival) */
	unsigned confirm;
	/* the VM being emitted, and what its hints say of its arrival */
	size_t emit_vm;
	const struct nl_arrival_dir *emit_dir;
	char emit_prefix[160];
};

/* Where a VM stands in the planning order: published plans first, then
 * plans being confirmed, then the rest; by the policy's key within each. */
enum nl_plan_group { NL_PLAN_PUBLISHED, NL_PLAN_CONFIRMING, NL_PLAN_OTHER };

struct nl_plan_order {
	size_t v;
	int group;             /* enum nl_plan_group */
	double key;
	const char *name;
};

struct nl_hint_policy {
	const char *name;      /* --hints.policy and ?policy= value */
	/* May move resident VMs' cold memory away to make room on a node;
	 * nl_plan_choose_greedy() and the re-evaluation of published plans
	 * follow it. */
	bool makes_room;
	/* Priority of VM v within its group: higher plans first. */
	double (*order_key)(const struct nl_plan_ctx *c, size_t v);
	/* Optional: once per cycle, after the accounting is set up and the VMs
	 * are ordered (ord[0..n)); for joint choices (c->pre) and per-node
	 * loads (c->load). */
	void (*prepare)(struct nl_plan_ctx *c, const struct nl_plan_order *ord,
			size_t n);
	/* This window's choice for VM v, whose guest plan is g, into *best.
	 * Return false for "no move". */
	bool (*choose)(const struct nl_plan_ctx *c, size_t v,
		       const struct nl_plan *g, struct nl_plan_option *best);
	/* Optional: re-score the published home's option (feasible, from
	 * nl_plan_eval_home()) with the policy's own gain. */
	void (*rescore)(const struct nl_plan_ctx *c, size_t v,
			struct nl_plan_option *cur);
	/* Optional: charge the kept option's home to the policy's own
	 * accounting, before the shared accounting takes it; was_busy: v had
	 * already given up memory this cycle. */
	void (*charge)(struct nl_plan_ctx *c, size_t v, int home, bool was_busy);
	/* Optional, with makes_room: may resident u give up memory for VM v
	 * (besides the shared rules: measured, memory on the node, not bound
	 * to it, no plan of its own, not yet planned this cycle)? Default: u
	 * is not memory-intensive. */
	bool (*donor_ok)(const struct nl_plan_ctx *c, size_t u, size_t v);
	/* Optional: the order donors give up memory in, lowest first.
	 * Default: the intensity (coldest first). */
	double (*donor_key)(const struct nl_plan_ctx *c, size_t u);
};

/* An engine that runs the n rows of `table` (at most NL_POLICY_MAX, each
 * with a name, order_key and choose); report slot p holds row p's hints
 * and cfg->policy names the default row. nl_hints_new() is this with
 * nl_hint_policies[]. NULL on a bad table or out of memory. */
struct nl_hints *nl_hints_new_with(const struct nl_hint_config *cfg,
				   const struct nl_hint_policy *const *table,
				   int n);

/* ---- planning helpers for policies (plan.c) ---- */

/* VM v's guest plan under the policy being planned. */
const struct nl_plan *nl_plan_guest(const struct nl_plan_ctx *c, size_t v);
int nl_plan_group(const struct nl_plan *g);
/* The plan's published or candidate home; it wins over a marginally
 * better one, so noise does not move a recommendation. */
int nl_plan_preferred_home(const struct nl_plan *g);
/* Memory of VM v as planned so far (bytes). */
double nl_plan_vm_mem(const struct nl_plan_ctx *c, size_t v);
/* Evaluate moving VM v to node h against the accounting (see plan.c);
 * sticky: the plan whose donors to try first, or NULL. */
void nl_plan_eval_home(const struct nl_plan_ctx *c, size_t v, int h,
		       bool allow_room, const struct nl_plan *sticky,
		       struct nl_plan_option *o);
/* The option "move the VM to another host". */
void nl_plan_evict_option(const struct nl_plan_ctx *c, size_t v,
			  struct nl_plan_option *o);
/* More gain, then fewer bytes moved, then more spare CPU left. */
bool nl_plan_better(const struct nl_plan_ctx *c, size_t v,
		    const struct nl_plan_option *a,
		    const struct nl_plan_option *b);
/* The locality-style choice: the best feasible home with a gain, the
 * preferred home when within reach of it, eviction when no node fits. */
bool nl_plan_choose_greedy(const struct nl_plan_ctx *c, size_t v,
			   const struct nl_plan *g, struct nl_plan_option *best);

#endif
