/* Planning: one policy's pass over the host, shared by every row of the
 * policy table.
 *
 * Over a copy of the host's free memory and spare CPU, VMs in the
 * policy's order choose a home node (vCPUs, VMM threads and memory all
 * there). Resident VMs with little memory traffic may give up memory on
 * that node ("make room") when the policy makes room. Every kept choice is
 * charged to the copy, so no plan overcommits a node, and one plan per VM
 * cannot conflict with itself. VMM-only plans come last, once every guest
 * plan and room-making move is known. The stability rules (stability.c)
 * decide which choices become published plans; emit.c turns them into
 * hints. */
#include "arrivals_priv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

double nl_plan_vm_mem(const struct nl_plan_ctx *c, size_t v)
{
	double m = 0;

	for (int n = 0; n < c->nn; n++)
		m += c->mem[v][n];
	return m;
}

static struct nl_plan *plan_of(const struct nl_plan_ctx *c, size_t v, bool vmm)
{
	return vmm ? &c->st[v].vmm[c->pol] : &c->st[v].guest[c->pol];
}

const struct nl_plan *nl_plan_guest(const struct nl_plan_ctx *c, size_t v)
{
	return plan_of(c, v, false);
}

int nl_plan_group(const struct nl_plan *g)
{
	return g->active ? NL_PLAN_PUBLISHED : g->cand_n > 0 ? NL_PLAN_CONFIRMING
							     : NL_PLAN_OTHER;
}

int nl_plan_preferred_home(const struct nl_plan *g)
{
	return g->active ? g->home : g->cand;
}

struct nl_cpuset nl_plan_role_cpus(const struct nl_vm_snap *vm, uint32_t roles,
				   uint32_t *present)
{
	struct nl_cpuset set;

	nl_cpuset_zero(&set);
	if (present)
		*present = 0;
	for (size_t j = 0; j < vm->nseries; j++) {
		const struct nl_series *se = &vm->series[j];

		if (!(roles >> se->role & 1) || se->nthreads == 0)
			continue;
		nl_cpuset_or(&set, &se->cpus_allowed);
		if (present)
			*present |= 1u << se->role;
	}
	return set;
}

/* ---- making room: resident VMs' cold memory ---- */

static uint64_t mems_allowed_mask(const struct nl_vm_snap *vm)
{
	uint64_t m = 0;

	for (size_t j = 0; j < vm->nseries; j++)
		m |= vm->series[j].mems_allowed;
	return m;
}

static bool donor_ok(const struct nl_plan_ctx *c, size_t u, size_t v, int h)
{
	const struct nl_vm_features *f = &c->r->vmf[u];

	/* VFIO pins a passthrough VM's memory: it cannot give any up */
	if (u == v || c->busy[u] || !f->measured || c->mem[u][h] <= 0 ||
	    plan_of(c, u, false)->active || c->s->vms[u].ndevices > 0)
		return false;
	/* bound to node h only: its policy would pull the memory back */
	if (mems_allowed_mask(&c->s->vms[u]) == (1ULL << h))
		return false;
	return c->policy->donor_ok ? c->policy->donor_ok(c, u, v) : !f->intensive;
}

static double donor_key(const struct nl_plan_ctx *c, size_t u)
{
	double k = c->policy->donor_key ? c->policy->donor_key(c, u) : c->r->vmf[u].intensity;

	return isnan(k) ? 0 : k;
}

static size_t find_vm_by_keyhash(const struct nl_plan_ctx *c, uint64_t key)
{
	for (size_t i = 0; i < c->s->nvms; i++)
		if (c->st[i].keyhash == key)
			return i;
	return (size_t)-1;
}

int nl_hints_nearest_room(const struct nl_topology *t, const double *room,
			  int h)
{
	int k = -1;

	for (int n = 0; n < t->nnodes; n++) {
		if (n == h || room[n] <= 0)
			continue;
		if (k < 0 || t->distance[h][n] < t->distance[h][k] ||
		    (t->distance[h][n] == t->distance[h][k] && room[n] > room[k]))
			k = n;
	}
	return k;
}

static void try_donor(const struct nl_plan_ctx *c, struct nl_plan_option *o, size_t u,
		      int dest, int h, double *tmp, double *room)
{
	double amt;

	if (o->ndonors >= NL_HINT_MAX_DONORS)
		return;
	for (int d = 0; d < o->ndonors; d++)
		if (o->donors[d].vm == u)
			return;
	if (dest < 0 || dest == h || dest >= c->nn)
		dest = nl_hints_nearest_room(&c->s->topo, tmp, h);
	if (dest < 0)
		return;
	amt = fmin(*room, c->mem[u][h]);
	amt = fmin(amt, tmp[dest]);
	if (amt < 1)
		return;
	o->donors[o->ndonors++] = (struct nl_plan_move){ u, h, dest, amt };
	tmp[dest] -= amt;
	*room -= amt;
}

/* The next donor for node h: the coldest VM (the policy's donor_key), the
 * largest share on h first; (size_t)-1 when none is left. */
static size_t coldest_donor(const struct nl_plan_ctx *c, const struct nl_plan_option *o,
			    size_t v, int h)
{
	size_t pick = (size_t)-1;

	for (size_t u = 0; u < c->s->nvms; u++) {
		bool used = false;
		double iu, ip;

		for (int d = 0; d < o->ndonors; d++)
			used |= o->donors[d].vm == u;
		if (used || !donor_ok(c, u, v, h))
			continue;
		if (pick == (size_t)-1) {
			pick = u;
			continue;
		}
		iu = donor_key(c, u);
		ip = donor_key(c, pick);
		if (iu < ip - NL_PLAN_EPS ||
		    (fabs(iu - ip) <= NL_PLAN_EPS && c->mem[u][h] > c->mem[pick][h]))
			pick = u;
	}
	return pick;
}

/* Find `room` bytes on node h for VM v among the resident VMs' cold
 * memory: the sticky plan's donors first, then the coldest. Returns false
 * (and no donors) when the room cannot be made. */
static bool make_room(const struct nl_plan_ctx *c, size_t v, int h, double room,
		      double mem_slack, const struct nl_plan *sticky,
		      struct nl_plan_option *o)
{
	double tmp[NL_MAX_NODES];

	for (int n = 0; n < c->nn; n++)
		tmp[n] = c->mem_avail[n] + (n != h ? c->mem[v][n] : 0) + mem_slack;
	for (int d = 0; sticky && d < sticky->ndonors && room > 0.5; d++) {
		size_t u = find_vm_by_keyhash(c, sticky->donors[d].key);

		if (u < c->s->nvms && donor_ok(c, u, v, h))
			try_donor(c, o, u, sticky->donors[d].dest, h, tmp, &room);
	}
	while (room > 0.5 && o->ndonors < NL_HINT_MAX_DONORS) {
		size_t pick = coldest_donor(c, o, v, h);
		int before = o->ndonors;

		if (pick == (size_t)-1)
			break;
		try_donor(c, o, pick, -1, h, tmp, &room);
		if (o->ndonors == before)
			break;   /* nowhere to put it */
	}
	if (room > 0.5) {
		o->ndonors = 0;
		return false;
	}
	return true;
}

/* ---- evaluating a home ---- */

/* Evaluate moving VM v to node h (vCPUs, VMM threads, memory) against the
 * current accounting. `sticky` lists donors to try first (the plan's
 * donors of the last cycle), so an unchanged plan keeps its moves.
 *
 * Capacity has hysteresis too: a new plan must leave --hints.cpu-limit of
 * the node's CPUs and --hints.memory-reserve free; a published plan (sticky
 * and active) is kept while it fits the node's real CPU count and half the
 * reserve, so noise in CPU time does not withdraw it. */
void nl_plan_eval_home(const struct nl_plan_ctx *c, size_t v, int h,
		       bool allow_room, const struct nl_plan *sticky,
		       struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct nl_cpuset *ncpus = &c->s->topo.nodes[h].cpus;
	double total = nl_plan_vm_mem(c, v), in = total - c->mem[v][h];
	double need_cpu = f->cpu_cores - f->cpu_node_cores[h], room;
	double cpu_slack = 0, mem_slack = 0;
	struct nl_cpuset vc, mc;
	uint32_t present;

	memset(o, 0, sizeof(*o));
	o->home = h;
	o->gain_metric = "locality";
	o->cont_before = o->cont_after = NAN;
	if (sticky && sticky->active && sticky->home == h) {
		cpu_slack = c->r->nodes[h].ncpus * fmax(0, 1 - c->cfg->cpu_limit);
		mem_slack = c->cfg->memory_reserve / 2;
	}
	if (need_cpu > c->cpu_avail[h] + cpu_slack + 1e-6) {
		o->why = "cpu";
		return;
	}
	room = in - c->mem_avail[h] - mem_slack;
	if (room > 0.5 && (!allow_room || !make_room(c, v, h, room, mem_slack, sticky, o))) {
		o->why = "memory";
		return;
	}
	o->feasible = true;
	o->bytes_self = in;
	o->bytes_total = in;
	for (int d = 0; d < o->ndonors; d++)
		o->bytes_total += o->donors[d].bytes;
	vc = nl_plan_role_cpus(vm, 1u << NL_ROLE_VCPU, NULL);
	mc = nl_plan_role_cpus(vm, NL_PLAN_VMM_ROLES, &present);
	o->pin_vcpus = f->nvcpus > 0 && !nl_cpuset_within(&vc, ncpus);
	o->pin_vmm = present && !nl_cpuset_within(&mc, ncpus);
	o->l_after = 1.0;
	o->gain = isnan(f->locality) ? 0 : o->l_after - f->locality;
	/* nothing to do for the guest: no vCPU pin, no memory worth moving */
	if (!o->pin_vcpus && in < c->cfg->min_move)
		o->gain = 0;
}

void nl_plan_evict_option(const struct nl_plan_ctx *c, size_t v,
			  struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	memset(o, 0, sizeof(*o));
	o->home = NL_PLAN_HOME_EVICT;
	o->feasible = true;
	o->gain_metric = "locality";
	o->l_after = 1.0;
	o->cont_before = o->cont_after = NAN;
	o->gain = isnan(f->locality) ? 0 : 1 - f->locality;
	o->bytes_self = o->bytes_total = nl_plan_vm_mem(c, v);
}

static double spare_after(const struct nl_plan_ctx *c, size_t v, int h)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	return c->cpu_avail[h] - (f->cpu_cores - f->cpu_node_cores[h]);
}

bool nl_plan_better(const struct nl_plan_ctx *c, size_t v,
		    const struct nl_plan_option *a,
		    const struct nl_plan_option *b)
{
	if (fabs(a->gain - b->gain) > NL_PLAN_EPS)
		return a->gain > b->gain;
	if (fabs(a->bytes_total - b->bytes_total) > 1)
		return a->bytes_total < b->bytes_total;
	return spare_after(c, v, a->home) > spare_after(c, v, b->home) + NL_PLAN_EPS;
}

bool nl_plan_choose_greedy(const struct nl_plan_ctx *c, size_t v,
			   const struct nl_plan *g, struct nl_plan_option *best)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	bool room = c->policy->makes_room, found = false, any_fit = false;
	int pref = nl_plan_preferred_home(g);
	struct nl_plan_option o;

	if (!f->intensive)
		return false;
	for (int h = 0; h < c->nn; h++) {
		nl_plan_eval_home(c, v, h, room, pref == h ? g : NULL, &o);
		if (!o.feasible)
			continue;
		any_fit = true;
		if (o.gain <= NL_PLAN_EPS)
			continue;
		if (!found || nl_plan_better(c, v, &o, best)) {
			*best = o;
			found = true;
		}
	}
	if (found && pref >= 0 && pref != best->home) {
		nl_plan_eval_home(c, v, pref, room, g, &o);
		if (o.feasible && o.gain >= best->gain - NL_PLAN_EPS &&
		    o.bytes_total <= best->bytes_total * 1.1 + c->cfg->min_move)
			*best = o;
	}
	if (!found && !any_fit && c->nn > 0) {
		nl_plan_evict_option(c, v, best);
		found = best->gain >= c->cfg->enter_gain;
	}
	return found;
}

/* The published plan g of VM v, evaluated now. */
static void current_option(const struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			   struct nl_plan_option *cur)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	bool room = c->policy->makes_room;

	if (g->home == NL_PLAN_HOME_EVICT) {
		/* still valid while no node fits */
		struct nl_plan_option o;
		bool fits = false;

		for (int h = 0; h < c->nn && !fits; h++) {
			nl_plan_eval_home(c, v, h, room, NULL, &o);
			fits = o.feasible;
		}
		nl_plan_evict_option(c, v, cur);
		if (fits || !f->intensive)
			cur->gain = 0;
		return;
	}
	nl_plan_eval_home(c, v, g->home, room, g, cur);
	if (c->policy->rescore && cur->feasible)
		c->policy->rescore(c, v, cur);
	if (!f->intensive)
		cur->gain = 0;
}

void nl_plan_commit(struct nl_plan_ctx *c, size_t v, const struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	int h = o->home;
	double total;

	if (h < 0)
		return;
	total = nl_plan_vm_mem(c, v);
	for (int n = 0; n < c->nn; n++) {
		if (n != h)
			c->mem_avail[n] += c->mem[v][n];
		c->cpu_avail[n] += f->cpu_node_cores[n];
	}
	c->mem_avail[h] -= total - c->mem[v][h];
	for (int n = 0; n < c->nn; n++)
		c->mem[v][n] = n == h ? total : 0;
	c->cpu_avail[h] -= f->cpu_cores;
	for (int d = 0; d < o->ndonors; d++) {
		const struct nl_plan_move *m = &o->donors[d];

		c->mem[m->vm][m->from] -= m->bytes;
		c->mem[m->vm][m->to] += m->bytes;
		c->mem_avail[m->from] += m->bytes;
		c->mem_avail[m->to] -= m->bytes;
		c->busy[m->vm] = true;
	}
	c->busy[v] = true;
}

/* ---- VMM-only plans ---- */

static void eval_vmm(const struct nl_plan_ctx *c, size_t v, int m, struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct nl_hint_vm *st = &c->st[v];
	struct nl_cpuset mc;
	uint32_t present;

	memset(o, 0, sizeof(*o));
	o->home = m;
	o->gain_metric = "locality";
	o->cont_before = o->cont_after = NAN;
	if (m < 0)
		return;
	mc = nl_plan_role_cpus(vm, NL_PLAN_VMM_ROLES, &present);
	o->feasible = f->vmm_cpu_cores - st->vmm_node[m] <= c->cpu_avail[m] + 1e-6;
	o->pin_vmm = present && !nl_cpuset_within(&mc, &c->s->topo.nodes[m].cpus);
	o->l_after = 1.0;
	if (!o->pin_vmm || f->vmm_cpu_cores < NL_HINT_VMM_MIN_CORES)
		return;
	if (!isnan(f->vmm_guest_locality) && vm->mem_total_bytes > 0 &&
	    (double)vm->mem_bytes[m] >= 0.5 * (double)vm->mem_total_bytes)
		o->gain = 1 - f->vmm_guest_locality;
}

/* Where a VM's VMM threads belong without a guest plan: next to the node
 * holding most of the guest's memory, passthrough devices or not. Device
 * I/O bypasses the VMM (only interrupt injection goes through it), so the
 * VMM's work is on guest memory. */
static int vmm_home(const struct nl_plan_ctx *c, size_t v)
{
	return c->r->vmf[v].mem_home;
}

static void commit_vmm(struct nl_plan_ctx *c, size_t v, const struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	for (int n = 0; n < c->nn; n++)
		c->cpu_avail[n] += c->st[v].vmm_node[n];
	c->cpu_avail[o->home] -= f->vmm_cpu_cores;
}

/* ---- passthrough (VFIO) VMs ---- */

int nl_plan_device_home(const struct nl_vm_snap *vm)
{
	uint64_t d = vm->dev_nodes;

	return d && !(d & (d - 1)) ? __builtin_ctzll(d) : -1;
}

/* VFIO pins all of a passthrough VM's memory and such a VM cannot be
 * live-migrated: no memory move, no evict, and it gives up no memory for
 * others. Its one guest plan runs its vCPUs on its devices' node h: gain
 * = the share of vCPU time spent elsewhere. No plan when h < 0 (no device
 * node known, or devices on several nodes). Its VMM threads are planned
 * on their own, next to the guest's memory (plan_vmm), not the device. */
static bool vfio_option(const struct nl_plan_ctx *c, size_t v, int h,
			struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	const struct nl_vm_snap *vm = &c->s->vms[v];
	double total = nl_plan_vm_mem(c, v);
	struct nl_cpuset vc;

	memset(o, 0, sizeof(*o));
	o->home = h;
	o->gain_metric = "device_locality";
	o->cont_before = o->cont_after = NAN;
	o->l_after = NAN;
	if (h < 0 || f->nvcpus <= 0)
		return false;
	vc = nl_plan_role_cpus(vm, 1u << NL_ROLE_VCPU, NULL);
	o->pin_vcpus = !nl_cpuset_within(&vc, &c->s->topo.nodes[h].cpus);
	o->feasible = f->vcpu_cores * (1 - f->vcpu_share[h]) <= c->cpu_avail[h] + 1e-6;
	/* the memory stays where it is */
	o->l_after = total > 0 ? c->mem[v][h] / total : NAN;
	o->gain = o->pin_vcpus ? 1 - f->vcpu_share[h] : 0;
	return o->feasible && o->gain > NL_PLAN_EPS;
}

/* A passthrough VM's vCPUs to node o->home; its memory does not move. */
static void commit_vfio(struct nl_plan_ctx *c, size_t v, const struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	if (o->home < 0)
		return;
	for (int n = 0; n < c->nn; n++)
		c->cpu_avail[n] += f->vcpu_cores * f->vcpu_share[n];
	c->cpu_avail[o->home] -= f->vcpu_cores;
}

/* The guest plan of passthrough VM v, instead of the policy's. It leaves
 * the VMM threads to plan_vmm. */
static void plan_vfio(struct nl_plan_ctx *c, size_t v)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	struct nl_plan *g = plan_of(c, v, false);
	struct nl_plan_option best, cur;
	const struct nl_plan_option *o;
	bool found, publish;

	c->confirm = nl_arrival_confirm(c, v, g);
	if (!f->measured || c->nn == 0) {
		if (nl_plan_expired(c, g))
			nl_plan_withdraw(c, g);
		return;
	}
	found = vfio_option(c, v, nl_plan_device_home(&c->s->vms[v]), &best);
	if (g->active)
		vfio_option(c, v, g->home, &cur);
	o = nl_plan_stabilise(c, g, &cur, found ? &best : NULL, &publish);
	if (!o)
		return;
	commit_vfio(c, v, o);
	if (publish)
		nl_hints_emit_plan(c, v, g, o, false);
}

/* ---- wide VMs: guest NUMA cells ---- */

/* A wide VM's cells, each with its memory known. */
static bool cells_known(const struct nl_vm_snap *vm)
{
	if (vm->ncells < 2)
		return false;
	for (int k = 0; k < vm->ncells; k++)
		if (!vm->cells[k].mem_known || vm->cells[k].home < 0)
			return false;
	return true;
}

/* Running cell k's vCPUs on the node holding its memory: gain = what the
 * cell's own locality lacks, also for a cell whose vCPUs are idle now (a
 * pin costs nothing, and the guest schedules work there when it will;
 * the VM's locality after is the weighted one). The memory stays: each
 * cell is bound where the VM was laid out, and libvirt changes a cell's
 * memnode only in the persistent definition. */
static bool cell_option(const struct nl_plan_ctx *c, size_t v, int k, struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct nl_cell_snap *x = &vm->cells[k];
	int h = x->home;
	double cores;

	memset(o, 0, sizeof(*o));
	o->home = h;
	o->per_cell = true;
	o->cell = k;
	o->gain_metric = "locality";
	o->cont_before = o->cont_after = NAN;
	o->l_after = NAN;
	if (h < 0 || isnan(x->locality))
		return false;
	cores = f->vcpu_cores * x->weight;
	o->pin_vcpus = x->cpu_share[h] < 1 - NL_PLAN_EPS;
	o->feasible = cores * (1 - x->cpu_share[h]) <= c->cpu_avail[h] + 1e-6;
	o->gain = o->pin_vcpus ? 1 - x->locality : 0;
	o->l_after = isnan(f->locality) ? NAN : fmin(1, f->locality + x->weight * o->gain);
	return o->feasible && o->gain > NL_PLAN_EPS;
}

static void commit_cell(struct nl_plan_ctx *c, size_t v, const struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	const struct nl_cell_snap *x = &c->s->vms[v].cells[o->cell];
	double cores = f->vcpu_cores * x->weight;

	for (int n = 0; n < c->nn; n++)
		c->cpu_avail[n] += cores * x->cpu_share[n];
	c->cpu_avail[o->home] -= cores;
}

/* The guest plans of a wide VM whose cells are known, instead of the
 * policy's whole-VM one (which would pull every cell onto one node): one
 * plan per cell, each confirmed and withdrawn on its own, so a crossed VM
 * gets a hint per crossed cell and each cell keeps its own history. No
 * memory move, no evict: a VM laid out cell by cell scores 1 and gets
 * nothing. A whole-VM plan from before the cells were known is withdrawn. */
static void plan_cells(struct nl_plan_ctx *c, size_t v)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	const struct nl_vm_snap *vm = &c->s->vms[v];
	struct nl_plan *whole = plan_of(c, v, false);

	if (whole->active)
		nl_plan_withdraw(c, whole);
	for (int k = 0; k < NL_MAX_CELLS && !c->out.err; k++) {
		struct nl_plan *g = &c->st[v].cell[k][c->pol];
		struct nl_plan_option best, cur;
		const struct nl_plan_option *pick;
		bool found, publish;

		if (k >= vm->ncells) {
			if (g->active)
				nl_plan_withdraw(c, g);
			continue;
		}
		c->confirm = nl_arrival_confirm(c, v, g);
		if (!f->measured || c->nn == 0) {
			if (nl_plan_expired(c, g))
				nl_plan_withdraw(c, g);
			continue;
		}
		found = cell_option(c, v, k, &best) && (f->intensive || g->active);
		if (g->active)
			cell_option(c, v, k, &cur);
		pick = nl_plan_stabilise(c, g, &cur, found ? &best : NULL, &publish);
		if (!pick)
			continue;
		commit_cell(c, v, pick);
		if (publish)
			nl_hints_emit_plan(c, v, g, pick, false);
	}
}

/* A wide VM's cell plans, withdrawn once its cells are no longer known. */
static void drop_cells(struct nl_plan_ctx *c, size_t v)
{
	for (int k = 0; k < NL_MAX_CELLS; k++)
		if (c->st[v].cell[k][c->pol].active)
			nl_plan_withdraw(c, &c->st[v].cell[k][c->pol]);
}

/* ---- the pass ---- */

static int order_cmp(const void *a, const void *b)
{
	const struct nl_plan_order *x = a, *y = b;

	if (x->group != y->group)
		return x->group - y->group;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The accounting before any plan (less what pending arrivals hold), and
 * the planning order. */
static void setup(struct nl_plan_ctx *c, struct nl_plan_order *ord)
{
	size_t nv = c->s->nvms;

	for (int n = 0; n < c->nn; n++) {
		c->mem_avail[n] = (double)c->r->nodes[n].mem_free_bytes - c->cfg->memory_reserve;
		c->cpu_avail[n] = c->r->nodes[n].spare_cpus;
		if (c->arr) {
			c->mem_avail[n] -= c->arr->rv.mem_bytes[n];
			c->cpu_avail[n] -= c->arr->rv.cpu_cores[n];
		}
	}
	memset(c->load, 0, sizeof(c->load));
	for (size_t v = 0; v < nv; v++)
		c->held[v] = false;
	for (int i = 0; c->arr && i < c->arr->nheld; i++)
		if (c->arr->held[i].pol == c->pol && c->arr->held[i].v < nv)
			c->held[c->arr->held[i].v] = true;
	for (size_t v = 0; v < nv; v++) {
		for (int n = 0; n < NL_MAX_NODES; n++)
			c->mem[v][n] = n < c->nn ? (double)c->s->vms[v].mem_bytes[n] : 0;
		c->busy[v] = c->held[v];
		ord[v].v = v;
		ord[v].group = nl_plan_group(plan_of(c, v, false));
		ord[v].key = c->policy->order_key(c, v);
		ord[v].name = c->s->vms[v].name;
	}
	qsort(ord, nv, sizeof(*ord), order_cmp);
}

/* Guest plans in order; guest_busy[v] is set for VMs whose guest plan
 * holds (VMM-only plans leave them alone). */
static void plan_guests(struct nl_plan_ctx *c, const struct nl_plan_order *ord,
			bool *guest_busy)
{
	for (size_t i = 0; i < c->s->nvms && !c->out.err; i++) {
		size_t v = ord[i].v;
		const struct nl_vm_features *f = &c->r->vmf[v];
		struct nl_plan *g = plan_of(c, v, false);
		struct nl_plan_option best, cur;
		const struct nl_plan_option *o;
		const struct nl_arrival_dir *d = nl_arrival_dir_of(c, v, false);
		bool found, publish, was_busy;

		if (c->s->vms[v].ndevices > 0) {
			plan_vfio(c, v);
			continue;
		}
		if (cells_known(&c->s->vms[v]) && !c->held[v]) {
			plan_cells(c, v);
			for (int k = 0; k < NL_MAX_CELLS; k++)
				guest_busy[v] |= c->st[v].cell[k][c->pol].active;
			continue;
		}
		drop_cells(c, v);
		if (c->held[v]) {
			/* gives up memory for a pending arrival */
			if (g->active)
				nl_plan_withdraw(c, g);
			guest_busy[v] = true;
			continue;
		}
		if (d && nl_arrival_plan(c, v, d, guest_busy))
			continue;
		c->confirm = nl_arrival_confirm(c, v, g);
		if (!f->measured || isnan(f->locality) || c->nn == 0) {
			/* unmeasured this window: the plan holds until it
			 * expires, unlisted */
			if (nl_plan_expired(c, g))
				nl_plan_withdraw(c, g);
			guest_busy[v] = g->active;
			continue;
		}
		if (!f->intensive && !g->active && g->cand_n == 0)
			continue;
		/* gave up memory for another VM this cycle: no plan of its own */
		if (c->busy[v] && !g->active)
			continue;
		found = c->policy->choose(c, v, g, &best);
		if (g->active)
			current_option(c, v, g, &cur);
		was_busy = c->busy[v];
		o = nl_plan_stabilise(c, g, &cur, found ? &best : NULL, &publish);
		if (!o)
			continue;
		guest_busy[v] = true;
		if (c->policy->charge)
			c->policy->charge(c, v, o->home, was_busy);
		nl_plan_commit(c, v, o);
		if (publish)
			nl_hints_emit_plan(c, v, g, o, false);
	}
}

/* VMM-only plans, after every guest plan and room-making move is known. */
static void plan_vmm(struct nl_plan_ctx *c, const struct nl_plan_order *ord,
		     const bool *guest_busy)
{
	for (size_t i = 0; i < c->s->nvms && !c->out.err; i++) {
		size_t v = ord[i].v;
		const struct nl_vm_features *f = &c->r->vmf[v];
		struct nl_plan *g = plan_of(c, v, true);
		struct nl_plan_option best, cur;
		const struct nl_plan_option *o;
		bool publish, taken = guest_busy[v] || c->busy[v];

		c->confirm = nl_arrival_confirm(c, v, g);
		if (taken || !f->measured || c->nn == 0) {
			if (g->active && (taken || nl_plan_expired(c, g)))
				nl_plan_withdraw(c, g);
			if (taken) {
				g->cand = NL_PLAN_HOME_NONE;
				g->cand_n = 0;
			}
			continue;
		}
		eval_vmm(c, v, vmm_home(c, v), &best);
		if (g->active)
			eval_vmm(c, v, g->home, &cur);
		o = nl_plan_stabilise(c, g, &cur, &best, &publish);
		if (!o)
			continue;
		commit_vmm(c, v, o);
		if (publish)
			nl_hints_emit_plan(c, v, g, o, true);
	}
}

int nl_plan_policy(struct nl_plan_ctx *c)
{
	size_t nv = c->s->nvms, na = nv ? nv : 1;
	struct nl_plan_order *ord = calloc(na, sizeof(*ord));
	bool *guest_busy = calloc(na, sizeof(*guest_busy));
	int rc = -ENOMEM;

	c->pre = calloc(na, sizeof(*c->pre));
	c->has_pre = calloc(na, sizeof(*c->has_pre));
	c->held = calloc(na, sizeof(*c->held));
	c->confirm = c->cfg->confirm_windows;
	if (!ord || !c->pre || !c->has_pre || !c->held || !guest_busy)
		goto cleanup;
	setup(c, ord);
	if (c->policy->prepare)
		c->policy->prepare(c, ord, nv);
	plan_guests(c, ord, guest_busy);
	plan_vmm(c, ord, guest_busy);
	rc = c->out.err;
cleanup:
	free(ord);
	free(c->pre);
	free(c->has_pre);
	free(c->held);
	c->pre = NULL;
	c->has_pre = NULL;
	c->held = NULL;
	free(guest_busy);
	return rc;
}
