/* Emitting: a published plan becomes hints in apply order (room-making
 * moves, then pins, then the VM's own memory), each with the evidence it
 * was decided on, its cost, its confidence, a reason code and a reason
 * text, and its actions (actions.c). The plan of an expected arrival has
 * the profile as evidence and its confidence from it; a plan confirmed
 * over fewer windows because its VM had just arrived says so. */
#include "arrivals_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024.0 * 1024 * 1024)
#define MIB (1024.0 * 1024)

static struct nl_hint *hint_push(struct nl_hint_vec *hv)
{
	if (hv->err)
		return NULL;
	if (hv->n == hv->cap) {
		size_t cap = hv->cap ? hv->cap * 2 : 16;
		struct nl_hint *p = realloc(hv->v, cap * sizeof(*p));

		if (!p) {
			hv->err = -ENOMEM;
			return NULL;
		}
		hv->v = p;
		hv->cap = cap;
	}
	memset(&hv->v[hv->n], 0, sizeof(hv->v[0]));
	return &hv->v[hv->n++];
}

static void fill_evidence(const struct nl_plan_ctx *c, size_t v, int target,
			  struct nl_hint_evidence *ev)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	const struct nl_vm_snap *vm = &c->s->vms[v];

	ev->inputs = f->inputs;
	ev->intensity_metric = f->intensity_metric;
	ev->intensity = f->intensity;
	ev->llc_mpki = f->llc_mpki;
	ev->llc_misses_per_second = f->llc_misses_per_second;
	ev->dram_bytes_per_second = f->dram_bytes_per_second;
	ev->pmu_locality = f->pmu_locality;
	ev->proxy = f->proxy;
	ev->locality = f->locality;
	ev->locality_after = NAN;
	ev->access_distance = vm->distance[NL_ROLE_VCPU];
	ev->cpu_cores = f->cpu_cores;
	ev->vmm_cpu_cores = f->vmm_cpu_cores;
	for (int n = 0; n < c->nn; n++) {
		ev->mem_bytes[n] = vm->mem_bytes[n];
		ev->cpu_share[n] = f->vcpu_share[n];
	}
	ev->contention_before = ev->contention_after = NAN;
	if (target >= 0) {
		ev->target_free_bytes = c->r->nodes[target].mem_free_bytes;
		ev->target_spare_cpus = c->r->nodes[target].spare_cpus;
	}
}

/* PMU inputs are trusted more than the placement proxy; both grow with
 * the windows the plan held, full at twice the confirmation. */
static double confidence(const struct nl_plan_ctx *c, size_t v, unsigned windows)
{
	double base = c->r->vmf[v].inputs == NL_INPUTS_PMU ? 0.9 : 0.6;
	double w = (double)windows / (2.0 * c->cfg->confirm_windows);

	return base * (w < 1 ? w : 1);
}

/* An expected arrival's hint: the profile's numbers where this host has
 * none yet (the first window after arriving counts no rates). */
static void arrival_evidence(const struct nl_arrival_dir *d, struct nl_hint_evidence *ev)
{
	ev->inputs = d->inputs;
	if (isnan(ev->intensity)) {
		ev->intensity_metric = d->metric;
		ev->intensity = d->intensity;
	}
	if (isnan(ev->llc_mpki))
		ev->llc_mpki = d->llc_mpki;
	if (isnan(ev->llc_misses_per_second))
		ev->llc_misses_per_second = d->llc_misses_per_second;
	if (isnan(ev->dram_bytes_per_second))
		ev->dram_bytes_per_second = d->dram_bytes_per_second;
	if (isnan(ev->proxy))
		ev->proxy = d->proxy;
}

static struct nl_hint *new_hint(struct nl_plan_ctx *c, size_t v, enum nl_hint_kind kind,
				int target, const struct nl_plan *g,
				const struct nl_plan_option *o)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	struct nl_hint *h = hint_push(&c->out);
	unsigned windows = g->active ? g->held + g->confirm_used - 1 : g->cand_n;

	if (!h)
		return NULL;
	h->target_node = target >= 0 ? c->s->topo.nodes[target].id : -1;
	nl_hints_make_id(nl_hints_vm_id_key(vm), kind, h->target_node, h->id);
	memcpy(h->vm, vm->name, sizeof(h->vm));
	memcpy(h->uuid, vm->uuid, sizeof(h->uuid));
	h->pid = vm->pid;
	h->backend = vm->backend;
	h->kind = kind;
	h->policy = (enum nl_policy)c->pol;
	if (target >= 0)
		h->target_cpus = c->s->topo.nodes[target].cpus;
	fill_evidence(c, v, target, &h->ev);
	h->ev.windows = windows;
	h->ev.locality_after = o->l_after;
	h->ev.contention_before = o->cont_before;
	h->ev.contention_after = o->cont_after;
	h->expected_gain = o->gain;
	h->gain_metric = o->gain_metric;
	h->confidence = confidence(c, v, windows);
	if (c->emit_dir && v == c->emit_vm) {
		/* PMU inputs on the source are trusted more than its proxy;
		 * no windows here to weigh them by */
		arrival_evidence(c->emit_dir, &h->ev);
		h->confidence = c->emit_dir->inputs == NL_INPUTS_PMU ? 0.9 : 0.6;
	}
	h->created = g->created;
	h->expires = c->s->timestamp + c->cfg->ttl_seconds;
	return h;
}

/* The actions of hint x about snapshot VM u, and the arrival's prefix of
 * its reason; a failure fails the pass. */
static void finish(struct nl_plan_ctx *c, struct nl_hint *x, size_t u)
{
	if (c->emit_prefix[0] && u == c->emit_vm) {
		char why[sizeof(x->reason)];

		memcpy(why, x->reason, sizeof(why));
		snprintf(x->reason, sizeof(x->reason), "%s", c->emit_prefix);
		nl_hints_appendf(x->reason, sizeof(x->reason), "%s", why);
	}
	if (nl_hints_build_actions(x, &c->s->vms[u], &c->s->topo))
		c->out.err = -ENOMEM;
}

static void fmt_bytes(double b, char *buf, size_t len)
{
	if (b >= GIB)
		snprintf(buf, len, "%.1f GiB", b / GIB);
	else
		snprintf(buf, len, "%.0f MiB", b / MIB);
}

static void emit_evict(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
		       const struct nl_plan_option *o)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct nl_vm_features *f = &c->r->vmf[v];
	struct nl_hint *x = new_hint(c, v, NL_HINT_EVICT, -1, g, o);
	char b1[32];

	if (!x)
		return;
	x->step = 1;
	x->bytes = x->cost_bytes = vm->mem_total_bytes;
	x->cost_seconds = (double)vm->mem_total_bytes / NL_HINT_MOVE_RATE;
	snprintf(x->reason_code, sizeof(x->reason_code), "no_node_fits");
	fmt_bytes((double)vm->mem_total_bytes, b1, sizeof(b1));
	snprintf(x->reason, sizeof(x->reason),
		 "memory-intensive (%s %.3g) with locality %.2f, and no node can take its %s and %.2f cores even after moving other VMs' cold memory: move it to another host",
		 f->intensity_metric, f->intensity, f->locality, b1, f->cpu_cores);
	finish(c, x, v);
}

/* A VMM-only plan: the VM's VMM threads to node o->home. */
static void emit_vmm_only(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			  const struct nl_plan_option *o)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct nl_vm_features *f = &c->r->vmf[v];
	int h = o->home, hid = h >= 0 ? c->s->topo.nodes[h].id : -1;
	struct nl_hint *x = new_hint(c, v, NL_HINT_PIN_VMM_THREADS, h, g, o);
	uint32_t present;

	if (!x)
		return;
	nl_plan_role_cpus(vm, NL_PLAN_VMM_ROLES, &present);
	x->roles = present;
	x->step = 1;
	x->cost_seconds = 0.001;
	snprintf(x->reason_code, sizeof(x->reason_code), "vmm_remote");
	snprintf(x->reason, sizeof(x->reason),
		 "VMM threads (%.2f cores) run with locality %.2f against guest memory; node %d holds %.0f%% of it",
		 f->vmm_cpu_cores, f->vmm_guest_locality, hid,
		 100.0 * (double)vm->mem_bytes[h] / (double)(vm->mem_total_bytes ? vm->mem_total_bytes : 1));
	finish(c, x, v);
}

/* Step 1: the resident VMs' memory that makes room for VM v. */
static void emit_donors(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			const struct nl_plan_option *o)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	char b1[32];

	for (int d = 0; d < o->ndonors && !c->out.err; d++) {
		const struct nl_plan_move *m = &o->donors[d];
		const struct nl_vm_features *df = &c->r->vmf[m->vm];
		struct nl_hint *x = new_hint(c, m->vm, NL_HINT_MIGRATE_MEMORY, m->to, g, o);

		if (!x)
			return;
		x->confidence = c->emit_dir ? (c->emit_dir->inputs == NL_INPUTS_PMU ? 0.9 : 0.6)
					    : confidence(c, v, x->ev.windows);
		x->step = 1;
		x->from_nodes[0] = c->s->topo.nodes[m->from].id;
		x->nfrom = 1;
		x->bytes = x->cost_bytes = (uint64_t)m->bytes;
		x->cost_seconds = m->bytes / NL_HINT_MOVE_RATE;
		x->ev.locality_after = NAN;
		memcpy(x->beneficiary, vm->name, sizeof(x->beneficiary));
		snprintf(x->reason_code, sizeof(x->reason_code), "make_room");
		fmt_bytes(m->bytes, b1, sizeof(b1));
		x->reason[0] = '\0';
		if (c->policy->donor_key)
			nl_hints_appendf(x->reason, sizeof(x->reason),
					 "frees %s on node %d for VM %.80s, whose LLC miss rate is higher (%.3g against %.3g): under %s it gets the good layout first; this VM's memory goes to node %d",
					 b1, x->from_nodes[0], vm->name, c->policy->donor_key(c, v),
					 c->policy->donor_key(c, m->vm), c->policy->name, x->target_node);
		else
			snprintf(x->reason, sizeof(x->reason),
				 "frees %s on node %d for memory-intensive VM %.80s; this VM's memory traffic is low (%s %.3g), so its memory can live on node %d",
				 b1, x->from_nodes[0], vm->name, df->intensity_metric, df->intensity,
				 x->target_node);
		finish(c, x, m->vm);
	}
}

/* Step 2: the vCPUs to node o->home. */
static void emit_pin_vcpus(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			   const struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	int hid = c->s->topo.nodes[o->home].id;
	struct nl_hint *x = new_hint(c, v, NL_HINT_PIN_VCPUS, o->home, g, o);

	if (!x)
		return;
	x->step = 2;
	x->cost_seconds = 0.001;
	if (o->per_cell) {
		const struct nl_cell_snap *cl = &c->s->vms[v].cells[o->cell];
		char key[NL_NAME_MAX + 48];

		x->has_cell = true;
		x->cell = cl->cfg.id;
		x->cell_vcpus = cl->cfg.vcpus;
		/* one hint per cell: the cell is part of its id */
		snprintf(key, sizeof(key), "%s/cell%d", nl_hints_vm_id_key(&c->s->vms[v]), x->cell);
		nl_hints_make_id(key, NL_HINT_PIN_VCPUS, x->target_node, x->id);
		x->ev.locality = cl->locality;
		for (int n = 0; n < c->nn; n++) {
			x->ev.mem_bytes[n] = cl->mem_bytes[n];
			x->ev.cpu_share[n] = cl->cpu_share[n];
		}
		snprintf(x->reason_code, sizeof(x->reason_code), "cell_crossed");
		snprintf(x->reason, sizeof(x->reason),
			 "guest NUMA cell %d has its memory on node %d but its vCPUs run %.0f%% of the time elsewhere (cell locality %.2f): run that cell's vCPUs on node %d; the other cells stay where they are",
			 x->cell, hid, 100 * (1 - cl->cpu_share[o->home]), cl->locality, hid);
		finish(c, x, v);
		return;
	}
	if (!strcmp(o->gain_metric, "device_locality")) {
		int nd = c->s->vms[v].ndevices;

		snprintf(x->reason_code, sizeof(x->reason_code), "vfio_device");
		snprintf(x->reason, sizeof(x->reason),
			 "the VM's %d passthrough device%s sit%s on node %d and its vCPUs run %.0f%% of the time elsewhere: run them there; VFIO pins the memory, which stays where it is",
			 nd, nd == 1 ? "" : "s", nd == 1 ? "s" : "", hid, 100 * o->gain);
	} else if (!strcmp(o->gain_metric, "contention")) {
		snprintf(x->reason_code, sizeof(x->reason_code), "contention");
		snprintf(x->reason, sizeof(x->reason),
			 "memory-intensive VMs share its node (%.0f%% of their load); node %d carries %.0f%%: run the vCPUs there, with the memory",
			 100 * o->cont_before, hid, 100 * o->cont_after);
	} else {
		snprintf(x->reason_code, sizeof(x->reason_code), "remote_memory");
		snprintf(x->reason, sizeof(x->reason),
			 "locality %.2f (%s %.3g): run the vCPUs on node %d, where the VM's memory %s",
			 f->locality, x->ev.intensity_metric, x->ev.intensity, hid,
			 o->bytes_self >= c->cfg->min_move ? "will be" : "is");
	}
	finish(c, x, v);
}

/* Step 2: the VMM threads along with the guest. */
static void emit_pin_vmm(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			 const struct nl_plan_option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	int h = o->home;
	struct nl_hint *x = new_hint(c, v, NL_HINT_PIN_VMM_THREADS, h, g, o);
	uint32_t present;

	if (!x)
		return;
	nl_plan_role_cpus(&c->s->vms[v], NL_PLAN_VMM_ROLES, &present);
	x->roles = present;
	x->step = 2;
	x->cost_seconds = 0.001;
	/* the VMM threads' own gain: their CPU time away from h */
	if (f->vmm_cpu_cores >= NL_HINT_VMM_MIN_CORES)
		x->expected_gain = 1 - c->st[v].vmm_node[h] / f->vmm_cpu_cores;
	snprintf(x->reason_code, sizeof(x->reason_code), "vmm_remote");
	snprintf(x->reason, sizeof(x->reason),
		 "keep the VMM threads (emulator, iothreads, vhost; %.0f%% of their CPU time elsewhere) next to the guest's memory on node %d",
		 100 * x->expected_gain, c->s->topo.nodes[h].id);
	finish(c, x, v);
}

/* Step 3: the VM's own memory to node o->home. */
static void emit_migrate(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			 const struct nl_plan_option *o)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct nl_vm_features *f = &c->r->vmf[v];
	int h = o->home;
	struct nl_hint *x = new_hint(c, v, NL_HINT_MIGRATE_MEMORY, h, g, o);
	char b1[32];

	if (!x)
		return;
	x->step = 3;
	for (int n = 0; n < c->nn; n++)
		if (n != h && vm->mem_bytes[n] > 0)
			x->from_nodes[x->nfrom++] = c->s->topo.nodes[n].id;
	x->bytes = x->cost_bytes = (uint64_t)o->bytes_self;
	x->cost_seconds = o->bytes_self / NL_HINT_MOVE_RATE;
	snprintf(x->reason_code, sizeof(x->reason_code), "%s",
		 strcmp(o->gain_metric, "contention") ? "remote_memory" : "contention");
	fmt_bytes(o->bytes_self, b1, sizeof(b1));
	snprintf(x->reason, sizeof(x->reason),
		 "move %s of memory to node %d%s (locality %.2f -> %.2f)", b1,
		 c->s->topo.nodes[h].id, o->ndonors ? " after the room-making moves" : "",
		 f->locality, o->l_after);
	finish(c, x, v);
}

static void emit_begin(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g)
{
	c->emit_vm = v;
	c->emit_dir = g->arrival ? nl_arrival_dir_of(c, v, false) : NULL;
	nl_arrival_prefix(c, v, g, c->emit_prefix, sizeof(c->emit_prefix));
}

static void emit_end(struct nl_plan_ctx *c)
{
	c->emit_vm = (size_t)-1;
	c->emit_dir = NULL;
	c->emit_prefix[0] = '\0';
}

void nl_hints_emit_plan(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			const struct nl_plan_option *o, bool vmm_only)
{
	emit_begin(c, v, g);
	if (o->home == NL_PLAN_HOME_EVICT) {
		emit_evict(c, v, g, o);
	} else if (vmm_only) {
		emit_vmm_only(c, v, g, o);
	} else {
		emit_donors(c, v, g, o);
		if (o->pin_vcpus && !c->out.err)
			emit_pin_vcpus(c, v, g, o);
		if (o->pin_vmm && !c->out.err)
			emit_pin_vmm(c, v, g, o);
		if (o->bytes_self >= c->cfg->min_move && !c->out.err)
			emit_migrate(c, v, g, o);
	}
	emit_end(c);
}

void nl_hints_emit_wide(struct nl_plan_ctx *c, size_t v, const int *nodes, int n,
			bool vcpus, bool vmm)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	struct nl_plan g;
	struct nl_plan_option o;
	struct nl_cpuset all;
	char list[NL_MAX_NODES * 5] = "";
	uint32_t present;

	if (n < 1)
		return;
	nl_plan_reset(&g);
	g.active = g.arrival = true;
	g.held = 1;
	g.home = nodes[0];
	g.created = c->s->timestamp;
	memset(&o, 0, sizeof(o));
	o.home = nodes[0];
	o.feasible = true;
	o.gain_metric = "locality";
	o.l_after = 1;
	o.cont_before = o.cont_after = NAN;
	o.gain = isnan(f->locality) ? NAN : 1 - f->locality;
	nl_cpuset_zero(&all);
	for (int i = 0; i < n; i++) {
		nl_cpuset_or(&all, &c->s->topo.nodes[nodes[i]].cpus);
		nl_hints_appendf(list, sizeof(list), "%s%d", i ? "," : "", c->s->topo.nodes[nodes[i]].id);
	}
	emit_begin(c, v, &g);
	for (int k = 0; k < 2 && !c->out.err; k++) {
		struct nl_hint *x;

		if (!(k == 0 ? vcpus : vmm))
			continue;
		x = new_hint(c, v, k == 0 ? NL_HINT_PIN_VCPUS : NL_HINT_PIN_VMM_THREADS, nodes[0], &g, &o);
		if (!x)
			break;
		x->target_cpus = all;
		x->step = 2;
		x->cost_seconds = 0.001;
		if (k == 1) {
			nl_plan_role_cpus(&c->s->vms[v], NL_PLAN_VMM_ROLES, &present);
			x->roles = present;
		}
		snprintf(x->reason_code, sizeof(x->reason_code), "remote_memory");
		snprintf(x->reason, sizeof(x->reason),
			 "a VM wider than one node: run its %s on nodes %.160s, where its memory is to be",
			 k == 0 ? "vCPUs" : "VMM threads", list);
		finish(c, x, v);
	}
	emit_end(c);
}
