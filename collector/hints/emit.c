/* Emitting: a published plan becomes hints in apply order (room-making
 * moves, then pins, then the VM's own memory), each with the evidence it
 * was decided on, its cost, its confidence, a reason code and a reason
 * text, and its actions (actions.c). */
#include "engine.h"

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

static struct nl_hint *new_hint(struct nl_plan_ctx *c, size_t v, enum nl_hint_kind kind,
				int target, const struct nl_plan *g,
				const struct nl_plan_option *o)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	struct nl_hint *h = hint_push(&c->out);
	unsigned windows = g->active ? g->held + c->cfg->confirm_windows - 1 : g->cand_n;

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
	h->created = g->created;
	h->expires = c->s->timestamp + c->cfg->ttl_seconds;
	return h;
}

/* The actions of hint x about snapshot VM u; a failure fails the pass. */
static void finish(struct nl_plan_ctx *c, struct nl_hint *x, size_t u)
{
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
	if (!strcmp(o->gain_metric, "device_locality")) {
		snprintf(x->reason_code, sizeof(x->reason_code), "vmm_device");
		snprintf(x->reason, sizeof(x->reason),
			 "VMM threads (%.2f cores) run %.0f%% of the time away from node %d, where the VM's %d passthrough device%s sit%s",
			 f->vmm_cpu_cores, 100 * o->gain, hid, vm->ndevices,
			 vm->ndevices == 1 ? "" : "s", vm->ndevices == 1 ? "s" : "");
	} else {
		snprintf(x->reason_code, sizeof(x->reason_code), "vmm_remote");
		snprintf(x->reason, sizeof(x->reason),
			 "VMM threads (%.2f cores) run with locality %.2f against guest memory; node %d holds %.0f%% of it",
			 f->vmm_cpu_cores, f->vmm_locality, hid,
			 100.0 * (double)vm->mem_bytes[h] / (double)(vm->mem_total_bytes ? vm->mem_total_bytes : 1));
	}
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
		x->confidence = confidence(c, v, x->ev.windows);
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
	if (!strcmp(o->gain_metric, "contention")) {
		snprintf(x->reason_code, sizeof(x->reason_code), "contention");
		snprintf(x->reason, sizeof(x->reason),
			 "memory-intensive VMs share its node (%.0f%% of their load); node %d carries %.0f%%: run the vCPUs there, with the memory",
			 100 * o->cont_before, hid, 100 * o->cont_after);
	} else {
		snprintf(x->reason_code, sizeof(x->reason_code), "remote_memory");
		snprintf(x->reason, sizeof(x->reason),
			 "locality %.2f (%s %.3g): run the vCPUs on node %d, where the VM's memory %s",
			 f->locality, f->intensity_metric, f->intensity, hid,
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

void nl_hints_emit_plan(struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			const struct nl_plan_option *o, bool vmm_only)
{
	if (o->home == NL_PLAN_HOME_EVICT) {
		emit_evict(c, v, g, o);
		return;
	}
	if (vmm_only) {
		emit_vmm_only(c, v, g, o);
		return;
	}
	emit_donors(c, v, g, o);
	if (o->pin_vcpus && !c->out.err)
		emit_pin_vcpus(c, v, g, o);
	if (o->pin_vmm && !c->out.err)
		emit_pin_vmm(c, v, g, o);
	if (o->bytes_self >= c->cfg->min_move && !c->out.err)
		emit_migrate(c, v, g, o);
}
