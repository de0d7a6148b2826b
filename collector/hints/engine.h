/* The hint engine's own state and the functions its files share; nothing
 * outside collector/hints/ includes this. Which file holds which part:
 * docs/internals-hints.md. */
#ifndef NL_HINTS_ENGINE_H
#define NL_HINTS_ENGINE_H

#include "hints_priv.h"

#define NL_PLAN_VMM_ROLES ((1u << NL_ROLE_EMULATOR) | (1u << NL_ROLE_IOTHREAD) | \
			   (1u << NL_ROLE_VHOST))

/* What the engine keeps about one VM from cycle to cycle. */
struct nl_hint_vm {
	char key[NL_NAME_MAX + 48];    /* uuid or name, plus "#pid" */
	uint64_t keyhash;
	bool seen;                     /* looked at in an earlier cycle */
	bool mbm_valid, mbm_local_valid;   /* resctrl totals below were read */
	uint64_t mbm_total, mbm_local;
	bool smoothed;                 /* CPU arrays hold a value */
	double vcpu_node[NL_MAX_NODES], vmm_node[NL_MAX_NODES];
	double pmu_loc;
	const char *metric;            /* of `intensity` */
	double intensity;
	int class_kind;                /* 0 none, 1 MPKI, 2 bandwidth, 3 proxy */
	double class_val;
	bool intensive;
	double hist_t[NL_HINT_HISTORY], hist_cpu[NL_HINT_HISTORY],
	       hist_int[NL_HINT_HISTORY];
	int nhist;
	struct nl_plan guest[NL_POLICY_MAX], vmm[NL_POLICY_MAX];
	/* a wide VM's plans, one per guest NUMA cell (index in cells[]) */
	struct nl_plan cell[NL_MAX_CELLS][NL_POLICY_MAX];
	/* an expected arrival's plan was forced once under this row */
	bool arrival_forced[NL_POLICY_MAX];
};

struct nl_hints {
	struct nl_hint_config cfg;
	const struct nl_hint_policy *const *policies;
	int npolicies;
	struct nl_hint_vm *vms;        /* sorted by key */
	size_t nvms;
	struct nl_arrivals *arrivals;  /* expected arrivals, or NULL */
};

/* policies.c: "--hints.policy must be locality, simple, dino or
 * asymsched", from the table. */
const char *nl_hints_policy_error(void);

/* state.c: the id key of a VM, its UUID when known, else its name. */
const char *nl_hints_vm_id_key(const struct nl_vm_snap *vm);

/* features.c: fill f for snapshot VM i from the snapshot's window and the
 * VM's state st (updated for the next cycle). */
void nl_hints_features(const struct nl_hint_config *cfg,
		       const struct nl_snapshot *s, size_t i,
		       struct nl_hint_vm *st, struct nl_vm_features *f);
void nl_hints_node_summaries(const struct nl_snapshot *s,
			     struct nl_hint_report *r);

/* plan.c: one policy's plans and hints into c->out. Return 0 or -ENOMEM. */
int nl_plan_policy(struct nl_plan_ctx *c);
/* Charge a kept guest option to the accounting. */
void nl_plan_commit(struct nl_plan_ctx *c, size_t v, const struct nl_plan_option *o);
/* Union of the CPUs the VM's threads of the roles in `roles` may use;
 * *present (optional) gets the roles that have threads. */
/* The node index of a VM's passthrough devices when all of those with a
 * known node sit on one node, else -1 (plan.c). */
int nl_plan_device_home(const struct nl_vm_snap *vm);

struct nl_cpuset nl_plan_role_cpus(const struct nl_vm_snap *vm, uint32_t roles,
				   uint32_t *present);

/* stability.c */
void nl_plan_reset(struct nl_plan *g);
/* One window of the stability rules. `cur` is the published plan evaluated
 * now (only read when g->active), `best` this window's choice or NULL.
 * Returns the option to charge to the accounting (NULL: none); *publish
 * tells whether its hints are listed. */
const struct nl_plan_option *nl_plan_stabilise(struct nl_plan_ctx *c,
					       struct nl_plan *g,
					       const struct nl_plan_option *cur,
					       const struct nl_plan_option *best,
					       bool *publish);
void nl_plan_withdraw(struct nl_plan_ctx *c, struct nl_plan *g);
/* Publish option o as plan g at once, without confirmation (an expected
 * arrival); keep published plan g with option o for one more window. */
void nl_plan_force(struct nl_plan_ctx *c, struct nl_plan *g,
		   const struct nl_plan_option *o);
void nl_plan_hold(struct nl_plan_ctx *c, struct nl_plan *g,
		  const struct nl_plan_option *o);
/* A published plan not confirmed for --hints.ttl. */
bool nl_plan_expired(const struct nl_plan_ctx *c, const struct nl_plan *g);

/* emit.c: the hints of plan g, kept as option o, into c->out (c->out.err
 * on failure). vmm_only: a VMM-only plan. */
void nl_hints_emit_plan(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			const struct nl_plan_option *o, bool vmm_only);
/* The pins of a wide arrival (several chosen node indexes): vCPUs and/or
 * VMM threads to the union of their CPUs. */
void nl_hints_emit_wide(struct nl_plan_ctx *c, size_t v, const int *nodes, int n,
			bool vcpus, bool vmm);

#endif
