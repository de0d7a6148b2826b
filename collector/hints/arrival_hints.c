/* Arrivals in the engine's passes (docs/api.md, "Arrivals in the
 * engine"): an expected arrival that is here gets its plan toward the
 * chosen node(s) in the cycle it is matched, without confirmation, with
 * the profile as its evidence; a VM that arrived without an expectation
 * confirms its first plan over one window. The registry's side (expiry,
 * matching, reservations, room-making hints) is arrivals.c. */
#include "arrivals_priv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define DONE_LOCALITY 0.95

const struct nl_arrival_dir *nl_arrival_dir_of(const struct nl_plan_ctx *c, size_t v,
					       bool any_row)
{
	for (int i = 0; c->arr && i < c->arr->ndirs; i++) {
		const struct nl_arrival_dir *d = &c->arr->dirs[i];

		if (d->v == v && (any_row || d->pol == c->pol))
			return d;
	}
	return NULL;
}

unsigned nl_arrival_confirm(const struct nl_plan_ctx *c, size_t v, const struct nl_plan *g)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];

	if (vm->arrival == NL_ARRIVAL_NONE || isnan(vm->arrival_age_seconds) ||
	    vm->arrival_age_seconds > NL_ARRIVAL_NEW_SECONDS || g->active ||
	    g->changed_ever || nl_arrival_dir_of(c, v, false))
		return c->cfg->confirm_windows;
	return 1;
}

void nl_arrival_prefix(const struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
		       char *buf, size_t len)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct nl_arrival_dir *d;
	unsigned w = g->confirm_used;

	buf[0] = '\0';
	if (g->arrival && (d = nl_arrival_dir_of(c, v, false))) {
		snprintf(buf, len, "arrival expected (profile from %s): ", d->source_host);
		return;
	}
	if (!g->short_confirm || vm->arrival == NL_ARRIVAL_NONE)
		return;
	d = nl_arrival_dir_of(c, v, true);
	if (d)
		snprintf(buf, len, "arrived (%s), expected under %s only: confirmed over %u window%s; ",
			 nl_arrival_name(vm->arrival), c->r->policies[d->pol]->name, w,
			 w == 1 ? "" : "s");
	else
		snprintf(buf, len, "arrived (%s) without a profile: confirmed over %u window%s; ",
			 nl_arrival_name(vm->arrival), w, w == 1 ? "" : "s");
}

/* Share of the VM's memory on the node indexes nodes[0..n). */
static double mem_share(const struct nl_vm_snap *vm, const int *nodes, int n)
{
	double on = 0;

	if (!vm->mem_total_bytes)
		return NAN;
	for (int i = 0; i < n; i++)
		on += (double)vm->mem_bytes[nodes[i]];
	return on / (double)vm->mem_total_bytes;
}

/* Already where it was to go: its memory there, and its vCPUs confined
 * there or running there with locality >= 0.95. */
static bool arrived_in_place(const struct nl_plan_ctx *c, size_t v,
			     const struct nl_plan_option *o)
{
	double loc = c->r->vmf[v].locality;

	if (o->bytes_self >= c->cfg->min_move)
		return false;
	if (!o->pin_vcpus && !o->pin_vmm)
		return true;
	return !isnan(loc) && loc >= DONE_LOCALITY;
}

/* The pins of a VM placed over several nodes; no memory hint (its
 * numatune nodeset is the destination placement's). While the arrival is
 * listed, the set stands: no plan of its own. */
static bool plan_wide(struct nl_plan_ctx *c, size_t v, const struct nl_arrival_dir *d,
		      bool *guest_busy)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	struct nl_cpuset all, vc, mc;
	uint32_t present;
	bool pv, pm;

	nl_cpuset_zero(&all);
	for (int i = 0; i < d->nnodes; i++)
		nl_cpuset_or(&all, &c->s->topo.nodes[d->nodes[i]].cpus);
	vc = nl_plan_role_cpus(vm, 1u << NL_ROLE_VCPU, NULL);
	mc = nl_plan_role_cpus(vm, NL_PLAN_VMM_ROLES, &present);
	pv = c->r->vmf[v].nvcpus > 0 && !nl_cpuset_within(&vc, &all);
	pm = present && !nl_cpuset_within(&mc, &all);
	if (pv || pm)
		nl_hints_emit_wide(c, v, d->nodes, d->nnodes, pv, pm);
	else if (d->matched_now)
		nl_debug("arrival of VM %s: already on its %d nodes, no hints", vm->name, d->nnodes);
	guest_busy[v] = true;
	c->busy[v] = true;
	return true;
}

static void set_gain(const struct nl_plan_ctx *c, size_t v, const struct nl_arrival_dir *d,
		     struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	double share = mem_share(&c->s->vms[v], d->nodes, d->nnodes);

	if (!isnan(f->locality))
		o->gain = 1 - f->locality;
	else if (!isnan(share))
		o->gain = 1 - share;
}

static void keep(struct nl_plan_ctx *c, size_t v, struct nl_plan *g,
		 const struct nl_arrival_dir *d, struct nl_plan_option *o, bool force,
		 bool *guest_busy)
{
	set_gain(c, v, d, o);
	if (force)
		nl_plan_force(c, g, o);
	else
		nl_plan_hold(c, g, o);
	if (c->policy->charge)
		c->policy->charge(c, v, o->home, c->busy[v]);
	nl_plan_commit(c, v, o);
	nl_hints_emit_plan(c, v, g, o, false);
	guest_busy[v] = true;
}

bool nl_arrival_plan(struct nl_plan_ctx *c, size_t v, const struct nl_arrival_dir *d,
		     bool *guest_busy)
{
	struct nl_hint_vm *st = &c->st[v];
	struct nl_plan *g = &st->guest[c->pol];
	const char *name = c->s->vms[v].name;
	bool room = c->policy->makes_room;
	struct nl_plan_option o;
	int h = d->nodes[0];

	if (d->nnodes > 1)
		return plan_wide(c, v, d, guest_busy);
	if (g->active && g->arrival && g->home == h) {
		/* published: kept while there is something left to do */
		nl_plan_eval_home(c, v, h, room, g, &o);
		if (!o.feasible || arrived_in_place(c, v, &o)) {
			nl_plan_withdraw(c, g);
			return false;
		}
		keep(c, v, g, d, &o, false, guest_busy);
		return true;
	}
	if (st->arrival_forced[c->pol])
		return false;            /* once; the normal rules from then on */
	st->arrival_forced[c->pol] = true;
	nl_plan_eval_home(c, v, h, room, NULL, &o);
	if (!o.feasible) {
		nl_info("arrival of VM %s: node %d cannot take it now (%s), the %s rules apply",
			name, c->s->topo.nodes[h].id, o.why ? o.why : "?", c->policy->name);
		return false;
	}
	if (arrived_in_place(c, v, &o)) {
		nl_debug("arrival of VM %s: already on node %d (locality %.2f), no hints under %s",
			 name, c->s->topo.nodes[h].id, c->r->vmf[v].locality, c->policy->name);
		return false;
	}
	if (g->active)
		nl_plan_withdraw(c, g);
	keep(c, v, g, d, &o, true, guest_busy);
	return true;
}
