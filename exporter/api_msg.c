/* /api/v1 messages: the builders that turn a snapshot (and its hint report)
 * into numalens.proto messages, the C-enum-to-proto mapping tables, and a
 * decoded Profile back into the engine's struct. api.c routes and replies.
 * See api.h and docs/api.md. */
#include "api_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

/* ---- C enums to numalens.proto enums ----
 * One row per C value, by name (policies by their name alone); a C value
 * without a row maps to the proto's UNSPECIFIED, which test_api.c's enum
 * test refuses. */

static const Numalens__V1__HintKind pb_hint_kinds[NL_HINT_KIND_COUNT] = {
	[NL_HINT_PIN_VCPUS] = NUMALENS__V1__HINT_KIND__PIN_VCPUS,
	[NL_HINT_MIGRATE_MEMORY] = NUMALENS__V1__HINT_KIND__MIGRATE_MEMORY,
	[NL_HINT_PIN_VMM_THREADS] = NUMALENS__V1__HINT_KIND__PIN_VMM_THREADS,
	[NL_HINT_EVICT] = NUMALENS__V1__HINT_KIND__EVICT,
};

static const Numalens__V1__ActionOp pb_action_ops[NL_ACT_COUNT] = {
	[NL_ACT_PIN_VCPU] = NUMALENS__V1__ACTION_OP__PIN_VCPU,
	[NL_ACT_PIN_EMULATOR] = NUMALENS__V1__ACTION_OP__PIN_EMULATOR,
	[NL_ACT_PIN_IOTHREAD] = NUMALENS__V1__ACTION_OP__PIN_IOTHREAD,
	[NL_ACT_PIN_THREAD] = NUMALENS__V1__ACTION_OP__PIN_THREAD,
	[NL_ACT_NUMATUNE] = NUMALENS__V1__ACTION_OP__NUMATUNE,
	[NL_ACT_MIGRATE_PAGES] = NUMALENS__V1__ACTION_OP__MIGRATE_PAGES,
	[NL_ACT_MOVE_PAGES] = NUMALENS__V1__ACTION_OP__MOVE_PAGES,
	[NL_ACT_MIGRATE_VM] = NUMALENS__V1__ACTION_OP__MIGRATE_VM,
};

static const Numalens__V1__Inputs pb_inputs[NL_API_INPUTS_COUNT] = {
	[NL_INPUTS_PMU] = NUMALENS__V1__INPUTS__INPUTS_PMU,
	[NL_INPUTS_PLACEMENT] = NUMALENS__V1__INPUTS__INPUTS_PLACEMENT,
};

/* Policies map by name (the engine's "dino" is the proto's POLICY_DINO), so
 * that a new policy needs no row here: only its .proto value, which
 * test_api.c's enum test demands. */
Numalens__V1__Policy nl_api_pb_policy(enum nl_policy p)
{
	const ProtobufCEnumValue *v;
	const char *name = (unsigned)p < NL_POLICY_COUNT ? nl_policy_name(p) : NULL;
	char pb[64];
	size_t i, n;

	if (!name)
		return NUMALENS__V1__POLICY__POLICY_UNSPECIFIED;
	n = (size_t)snprintf(pb, sizeof(pb), "POLICY_%s", name);
	if (n >= sizeof(pb))
		return NUMALENS__V1__POLICY__POLICY_UNSPECIFIED;
	for (i = 0; pb[i]; i++)
		if (pb[i] >= 'a' && pb[i] <= 'z')
			pb[i] = (char)(pb[i] - 'a' + 'A');
	v = protobuf_c_enum_descriptor_get_value_by_name(&numalens__v1__policy__descriptor, pb);
	return v ? (Numalens__V1__Policy)v->value : NUMALENS__V1__POLICY__POLICY_UNSPECIFIED;
}

int nl_api_policy_from_pb(Numalens__V1__Policy v, enum nl_policy *out)
{
	for (int i = 0; i < NL_POLICY_COUNT; i++)
		if (v != NUMALENS__V1__POLICY__POLICY_UNSPECIFIED &&
		    nl_api_pb_policy((enum nl_policy)i) == v) {
			*out = (enum nl_policy)i;
			return 0;
		}
	return -EINVAL;
}

Numalens__V1__ArrivalState nl_api_pb_arrival_state(enum nl_arrival_state st)
{
	switch (st) {
	case NL_ARRIVAL_PENDING:
		return NUMALENS__V1__ARRIVAL_STATE__ARRIVAL_STATE_PENDING;
	case NL_ARRIVAL_ARRIVED:
		return NUMALENS__V1__ARRIVAL_STATE__ARRIVAL_STATE_ARRIVED;
	}
	return NUMALENS__V1__ARRIVAL_STATE__ARRIVAL_STATE_UNSPECIFIED;
}

Numalens__V1__HintKind nl_api_pb_hint_kind(enum nl_hint_kind k)
{
	return (unsigned)k < NL_HINT_KIND_COUNT ? pb_hint_kinds[k]
						 : NUMALENS__V1__HINT_KIND__HINT_KIND_UNSPECIFIED;
}

Numalens__V1__ActionOp nl_api_pb_action_op(enum nl_action_op op)
{
	return (unsigned)op < NL_ACT_COUNT ? pb_action_ops[op]
					    : NUMALENS__V1__ACTION_OP__ACTION_OP_UNSPECIFIED;
}

Numalens__V1__Inputs nl_api_pb_inputs(enum nl_hint_inputs i)
{
	return (unsigned)i < NL_API_INPUTS_COUNT ? pb_inputs[i]
						  : NUMALENS__V1__INPUTS__INPUTS_UNSPECIFIED;
}

/* ---- building messages ---- */

static char *S(struct nl_api_bld *b, const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		b->err = -ENOMEM;
	return p;
}

void *nl_api_msg_new(struct nl_api_bld *b, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = malloc(d->sizeof_message);

	if (!m) {
		b->err = -ENOMEM;
		return NULL;
	}
	protobuf_c_message_init(d, m);
	return m;
}

static void *arr_new(struct nl_api_bld *b, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		b->err = -ENOMEM;
	return p;
}

void nl_api_msg_free(void *m)
{
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
}

static int node_id(const struct nl_snapshot *s, int idx)
{
	return idx >= 0 && idx < s->topo.nnodes ? s->topo.nodes[idx].id : idx;
}

static Numalens__V1__NodeBytes **node_bytes(struct nl_api_bld *b, const struct nl_snapshot *s,
					    const uint64_t *bytes, size_t *n)
{
	int nn = s->topo_valid ? s->topo.nnodes : 0;
	Numalens__V1__NodeBytes **v = arr_new(b, (size_t)nn, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (int i = 0; i < nn; i++) {
		Numalens__V1__NodeBytes *e = nl_api_msg_new(b, &numalens__v1__node_bytes__descriptor);

		if (!e)
			break;
		OPT(e, node, s->topo.nodes[i].id);
		OPT(e, bytes, bytes[i]);
		v[(*n)++] = e;
	}
	return v;
}

static Numalens__V1__NodeValue **node_values(struct nl_api_bld *b, const struct nl_snapshot *s,
					     const double *vals, size_t *n)
{
	int nn = s->topo_valid ? s->topo.nnodes : 0;
	Numalens__V1__NodeValue **v = arr_new(b, (size_t)nn, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (int i = 0; i < nn; i++) {
		Numalens__V1__NodeValue *e = nl_api_msg_new(b, &numalens__v1__node_value__descriptor);

		if (!e)
			break;
		OPT(e, node, s->topo.nodes[i].id);
		OPT_D(e, value, vals[i]);
		v[(*n)++] = e;
	}
	return v;
}

static char *cpus_str(struct nl_api_bld *b, const struct nl_cpuset *set)
{
	char buf[NL_MAX_CPUS * 5];

	return S(b, nl_cpuset_format(set, buf, sizeof(buf)));
}

static Numalens__V1__Evidence *pb_evidence(struct nl_api_bld *b, const struct nl_hint_evidence *ev)
{
	Numalens__V1__Evidence *m = nl_api_msg_new(b, &numalens__v1__evidence__descriptor);

	if (!m)
		return NULL;
	OPT(m, inputs, nl_api_pb_inputs(ev->inputs));
	if (ev->intensity_metric)
		m->intensity_metric = S(b, ev->intensity_metric);
	OPT_D(m, intensity, ev->intensity);
	OPT_D(m, llc_mpki, ev->llc_mpki);
	OPT_D(m, llc_misses_per_second, ev->llc_misses_per_second);
	OPT_D(m, dram_bytes_per_second, ev->dram_bytes_per_second);
	OPT_D(m, pmu_locality, ev->pmu_locality);
	OPT_D(m, proxy, ev->proxy);
	OPT_D(m, locality, ev->locality);
	OPT_D(m, locality_after, ev->locality_after);
	OPT_D(m, access_distance, ev->access_distance);
	OPT_D(m, cpu_cores, ev->cpu_cores);
	OPT_D(m, vmm_cpu_cores, ev->vmm_cpu_cores);
	m->memory = node_bytes(b, b->s, ev->mem_bytes, &m->n_memory);
	m->vcpu_share = node_values(b, b->s, ev->cpu_share, &m->n_vcpu_share);
	if (ev->target_free_bytes)
		OPT(m, target_free_bytes, ev->target_free_bytes);
	if (ev->target_free_bytes || ev->target_spare_cpus != 0)
		OPT_D(m, target_spare_cpus, ev->target_spare_cpus);
	OPT_D(m, contention_before, ev->contention_before);
	OPT_D(m, contention_after, ev->contention_after);
	OPT(m, windows, ev->windows);
	return m;
}

static Numalens__V1__Action *pb_action(struct nl_api_bld *b, const struct nl_hint *h,
				       const struct nl_hint_action *a)
{
	Numalens__V1__Action *x = nl_api_msg_new(b, &numalens__v1__action__descriptor);
	char buf[32];

	if (!x)
		return NULL;
	OPT(x, op, nl_api_pb_action_op(a->op));
	OPT(x, index, a->index);
	switch (a->op) {
	case NL_ACT_PIN_VCPU:
	case NL_ACT_PIN_EMULATOR:
	case NL_ACT_PIN_IOTHREAD:
	case NL_ACT_PIN_THREAD:
		x->cpus = cpus_str(b, &h->target_cpus);
		break;
	case NL_ACT_NUMATUNE:
		snprintf(buf, sizeof(buf), "%d", h->target_node);
		x->nodes = S(b, buf);
		break;
	case NL_ACT_MIGRATE_PAGES:
	case NL_ACT_MOVE_PAGES:
		x->from_nodes = arr_new(b, (size_t)h->nfrom, sizeof(int32_t));
		for (int k = 0; x->from_nodes && k < h->nfrom; k++)
			x->from_nodes[x->n_from_nodes++] = h->from_nodes[k];
		OPT(x, to_node, h->target_node);
		OPT(x, bytes, h->bytes);
		break;
	case NL_ACT_MIGRATE_VM:
		OPT(x, bytes, h->bytes);
		break;
	case NL_ACT_COUNT:
		break;
	}
	OPT(x, pid, h->pid);
	x->libvirt = S(b, a->libvirt);
	x->command = S(b, a->command);
	OPT(x, fallback, a->fallback);
	return x;
}

static Numalens__V1__Hint *pb_hint(struct nl_api_bld *b, const struct nl_hint *h)
{
	const struct nl_snapshot *s = b->s;
	const struct nl_vm_snap *vm = nl_snapshot_find_vm(s, h->vm);
	Numalens__V1__Hint *m = nl_api_msg_new(b, &numalens__v1__hint__descriptor);
	Numalens__V1__Target *t;

	if (!m)
		return NULL;
	m->id = S(b, h->id);
	m->vm = S(b, h->vm);
	m->uuid = S(b, h->uuid);
	OPT(m, pid, h->pid);
	OPT(m, kind, nl_api_pb_hint_kind(h->kind));
	OPT(m, policy, nl_api_pb_policy(h->policy));
	t = m->target = nl_api_msg_new(b, &numalens__v1__target__descriptor);
	if (t) {
		OPT(t, node, h->target_node);
		if (h->target_node >= 0)
			t->cpus = cpus_str(b, &h->target_cpus);
		t->from_nodes = arr_new(b, (size_t)h->nfrom, sizeof(int32_t));
		for (int i = 0; t->from_nodes && i < h->nfrom; i++)
			t->from_nodes[t->n_from_nodes++] = h->from_nodes[i];
		if (h->kind == NL_HINT_MIGRATE_MEMORY || h->kind == NL_HINT_EVICT)
			OPT(t, bytes, h->bytes);
		if (vm && (h->kind == NL_HINT_PIN_VCPUS || h->kind == NL_HINT_PIN_VMM_THREADS)) {
			t->vcpus = arr_new(b, vm->nseries, sizeof(int32_t));
			t->iothreads = arr_new(b, vm->nseries, sizeof(int32_t));
			for (size_t i = 0; t->vcpus && t->iothreads && i < vm->nseries; i++) {
				const struct nl_series *se = &vm->series[i];

				if (h->kind == NL_HINT_PIN_VCPUS && se->role == NL_ROLE_VCPU &&
				    (!h->has_cell || (se->index >= 0 && se->index < 64 &&
						      (h->cell_vcpus >> se->index & 1))))
					t->vcpus[t->n_vcpus++] = se->index;
				if (h->kind == NL_HINT_PIN_VMM_THREADS &&
				    se->role == NL_ROLE_IOTHREAD && se->index >= 0)
					t->iothreads[t->n_iothreads++] = se->index;
			}
		}
		if (h->has_cell)
			OPT(t, cell, h->cell);
		t->roles = arr_new(b, NL_ROLE_COUNT, sizeof(char *));
		for (int r = 0; t->roles && r < NL_ROLE_COUNT; r++)
			if (h->roles >> r & 1)
				t->roles[t->n_roles++] = S(b, nl_role_name((enum nl_role)r));
	}
	m->reason_code = S(b, h->reason_code);
	m->reason = S(b, h->reason);
	m->evidence = pb_evidence(b, &h->ev);
	OPT_D(m, expected_gain, h->expected_gain);
	if (h->gain_metric)
		m->gain_metric = S(b, h->gain_metric);
	OPT(m, cost_bytes, h->cost_bytes);
	OPT_D(m, cost_seconds, h->cost_seconds);
	OPT_D(m, confidence, h->confidence);
	OPT_D(m, created, h->created);
	OPT_D(m, expires, h->expires);
	OPT(m, step, h->step);
	if (h->beneficiary[0])
		m->beneficiary = S(b, h->beneficiary);
	m->actions = arr_new(b, h->nactions, sizeof(*m->actions));
	for (size_t i = 0; m->actions && i < h->nactions; i++) {
		m->actions[m->n_actions] = pb_action(b, h, &h->actions[i]);
		if (!m->actions[m->n_actions])
			break;
		m->n_actions++;
	}
	return m;
}

static bool hint_matches(const struct nl_hint *h, const struct nl_api_hint_filter *f)
{
	if (f->vm && strcmp(h->vm, f->vm) && strcmp(h->beneficiary, f->vm))
		return false;
	if (f->kind_set && h->kind != f->kind)
		return false;
	return !f->id || strcmp(h->id, f->id) == 0;
}

/* Is there a hint with this id among the first n? */
static bool id_listed(const struct nl_hint *h, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(h[i].id, id) == 0)
			return true;
	return false;
}

/* The report's hints of f->policy, then f->extra's whose id the report
 * does not have, that match f. */
static Numalens__V1__Hint **pb_hints(struct nl_api_bld *b, const struct nl_api_hint_filter *f,
				     size_t *n)
{
	const struct nl_hint_report *r = b->s->hints;
	const struct nl_hint *rh = r->hints[f->policy];
	size_t nr = r->nhints[f->policy];
	Numalens__V1__Hint **v = arr_new(b, nr + f->nextra, sizeof(*v));

	*n = 0;
	for (size_t i = 0; v && i < nr + f->nextra; i++) {
		const struct nl_hint *h = i < nr ? &rh[i] : &f->extra[i - nr];

		if (!hint_matches(h, f))
			continue;
		if (i >= nr && (id_listed(rh, nr, h->id) || id_listed(f->extra, i - nr, h->id)))
			continue;
		v[*n] = pb_hint(b, h);
		if (!v[*n])
			break;
		(*n)++;
	}
	return v;
}

/* A VM's threads of one role (or all, NL_ROLE_ALL); NULL for a role it
 * has no thread of, or with b->err set. */
static Numalens__V1__RoleInfo *pb_role(struct nl_api_bld *b, const struct nl_vm_snap *vm,
				       int role)
{
	const struct nl_snapshot *s = b->s;
	Numalens__V1__RoleInfo *ri;
	struct nl_cpuset set;
	uint64_t mems = 0, ns[NL_MAX_NODES] = { 0 };
	double secs[NL_MAX_NODES];
	uint32_t threads = 0;
	char nodes[NL_MAX_NODES * 8] = "";
	size_t o = 0;

	nl_cpuset_zero(&set);
	for (size_t j = 0; j < vm->nseries; j++) {
		const struct nl_series *se = &vm->series[j];

		if (role != NL_ROLE_ALL && (int)se->role != role)
			continue;
		threads += se->nthreads;
		nl_cpuset_or(&set, &se->cpus_allowed);
		mems |= se->mems_allowed;
		for (int n = 0; n < NL_MAX_NODES; n++)
			ns[n] += se->node_ns[n];
	}
	if (role != NL_ROLE_ALL && threads == 0)
		return NULL;
	ri = nl_api_msg_new(b, &numalens__v1__role_info__descriptor);
	if (!ri)
		return NULL;
	ri->role = S(b, nl_role_name((enum nl_role)role));
	OPT(ri, threads, threads);
	OPT_D(ri, locality, vm->locality[role]);
	OPT_D(ri, access_distance, vm->distance[role]);
	ri->cpus = cpus_str(b, &set);
	for (int n = 0; n < (s->topo_valid ? s->topo.nnodes : 0); n++) {
		int w;

		if (!(mems >> n & 1))
			continue;
		w = snprintf(nodes + o, sizeof(nodes) - o, "%s%d", o ? "," : "", node_id(s, n));
		if (w < 0 || (size_t)w >= sizeof(nodes) - o)
			break;
		o += (size_t)w;
	}
	ri->nodes = S(b, nodes);
	for (int n = 0; n < NL_MAX_NODES; n++)
		secs[n] = (double)ns[n] / 1e9;
	ri->cpu_seconds = node_values(b, s, secs, &ri->n_cpu_seconds);
	return ri;
}

/* What VFIO forbids (docs/api.md, "Passthrough (VFIO) VMs"). */
static const char *const vfio_constraints[] = {
	"vfio: memory pinned",
	"vfio: not live-migratable",
};

/* A VM's devices, and the constraints they bring (none without). */
static Numalens__V1__Device **pb_devices(struct nl_api_bld *b, const struct nl_vm_device *dv,
					 int ndevices, size_t *n, char ***cons, size_t *ncons)
{
	size_t nd = ndevices < NL_MAX_VM_DEVICES ? (size_t)ndevices : NL_MAX_VM_DEVICES;
	size_t nc = sizeof(vfio_constraints) / sizeof(vfio_constraints[0]);
	Numalens__V1__Device **v;

	*n = *ncons = 0;
	if (ndevices <= 0)
		return NULL;
	*cons = arr_new(b, nc, sizeof(**cons));
	for (size_t i = 0; *cons && i < nc; i++)
		(*cons)[(*ncons)++] = S(b, vfio_constraints[i]);
	v = arr_new(b, nd, sizeof(*v));
	for (size_t i = 0; v && i < nd; i++) {
		Numalens__V1__Device *d = nl_api_msg_new(b, &numalens__v1__device__descriptor);

		if (!d)
			break;
		d->device = S(b, dv[i].device);
		if (dv[i].node >= 0)
			OPT(d, node, dv[i].node);
		v[(*n)++] = d;
	}
	return v;
}

static int32_t *mask_ids(struct nl_api_bld *b, uint64_t mask, size_t *n)
{
	int32_t *v = arr_new(b, (size_t)__builtin_popcountll(mask), sizeof(int32_t));

	*n = 0;
	for (int i = 0; v && i < 64; i++)
		if (mask >> i & 1)
			v[(*n)++] = i;
	return v;
}

/* A wide VM's cells: their configuration and where they sit. */
static Numalens__V1__Cell **pb_cells(struct nl_api_bld *b, const struct nl_vm_snap *vm, size_t *n)
{
	const struct nl_snapshot *s = b->s;
	Numalens__V1__Cell **v;

	*n = 0;
	if (vm->ncells <= 0)
		return NULL;
	v = arr_new(b, (size_t)vm->ncells, sizeof(*v));
	for (int k = 0; v && k < vm->ncells; k++) {
		const struct nl_cell_snap *x = &vm->cells[k];
		Numalens__V1__Cell *c = nl_api_msg_new(b, &numalens__v1__cell__descriptor);

		if (!c)
			break;
		OPT(c, cell, x->cfg.id);
		c->vcpus = mask_ids(b, x->cfg.vcpus, &c->n_vcpus);
		OPT(c, memory_configured_bytes, x->cfg.mem_bytes);
		c->bound_nodes = mask_ids(b, x->cfg.host_nodes, &c->n_bound_nodes);
		if (x->mem_known) {
			c->memory = node_bytes(b, s, x->mem_bytes, &c->n_memory);
			OPT_D(c, locality, x->locality);
			OPT_D(c, weight, x->weight);
			if (x->home >= 0)
				OPT(c, home, node_id(s, x->home));
		}
		v[(*n)++] = c;
	}
	return v;
}

Numalens__V1__Vm *nl_api_pb_vm(struct nl_api_bld *b, const struct nl_vm_snap *vm, bool detail,
			       enum nl_policy pol)
{
	const struct nl_snapshot *s = b->s;
	const struct nl_vm_features *f = nl_hints_vm_features(s, vm);
	const struct nl_hint_report *r = s->hints;
	Numalens__V1__Vm *m = nl_api_msg_new(b, &numalens__v1__vm__descriptor);
	uint32_t nh = 0;

	if (!m)
		return NULL;
	m->name = S(b, vm->name);
	m->uuid = S(b, vm->uuid);
	OPT(m, pid, vm->pid);
	m->backend = S(b, nl_backend_name(vm->backend));
	m->memory_source = S(b, nl_mem_source_name(vm->mem_source));
	OPT(m, memory_bytes, vm->mem_total_bytes);
	m->memory = node_bytes(b, s, vm->mem_bytes, &m->n_memory);
	if (vm->mem_split) {
		m->memory_guest = node_bytes(b, s, vm->mem_guest_bytes, &m->n_memory_guest);
		m->memory_vmm = node_bytes(b, s, vm->mem_vmm_bytes, &m->n_memory_vmm);
	}
	if (f) {
		OPT(m, vcpus, (uint32_t)f->nvcpus);
		OPT(m, iothreads, (uint32_t)f->niothreads);
		if (f->measured) {
			OPT_D(m, cpu_cores, f->cpu_cores);
			OPT_D(m, vmm_cpu_cores, f->vmm_cpu_cores);
		}
		OPT(m, inputs, nl_api_pb_inputs(f->inputs));
		if (f->intensity_metric)
			m->intensity_metric = S(b, f->intensity_metric);
		OPT_D(m, intensity, f->intensity);
		OPT(m, memory_intensive, f->intensive);
		OPT_D(m, locality, f->locality);
		OPT_D(m, llc_mpki, f->llc_mpki);
		OPT_D(m, llc_misses_per_second, f->llc_misses_per_second);
		OPT_D(m, dram_bytes_per_second, f->dram_bytes_per_second);
		OPT_D(m, pmu_locality, f->pmu_locality);
		OPT_D(m, page_faults_per_second, f->page_faults_per_second);
		OPT_D(m, proxy, f->proxy);
	}
	OPT_D(m, vcpu_host_cycles_ratio, vm->vcpu_host_cycles_ratio);
	for (size_t i = 0; r && i < r->nhints[pol]; i++)
		nh += !strcmp(r->hints[pol][i].vm, vm->name);
	OPT(m, nhints, nh);
	m->devices = pb_devices(b, vm->devices, vm->ndevices, &m->n_devices,
				&m->constraints, &m->n_constraints);
	m->cells = pb_cells(b, vm, &m->n_cells);
	if (vm->cells_invalid)
		m->cells_invalid = S(b, vm->cells_why);
	if (!detail)
		return m;
	m->roles = arr_new(b, NL_ROLE_COUNT + 1, sizeof(*m->roles));
	for (int role = 0; m->roles && role <= NL_ROLE_ALL; role++) {
		Numalens__V1__RoleInfo *ri = pb_role(b, vm, role);

		if (ri)
			m->roles[m->n_roles++] = ri;
		if (b->err)
			break;
	}
	if (r) {
		struct nl_api_hint_filter hf = { .policy = pol, .vm = vm->name };

		m->hints = pb_hints(b, &hf, &m->n_hints);
	}
	return m;
}

Numalens__V1__Node **nl_api_pb_nodes(struct nl_api_bld *b, size_t *n)
{
	const struct nl_snapshot *s = b->s;
	const struct nl_hint_report *r = s->hints;
	int nn = s->topo_valid ? s->topo.nnodes : 0;
	Numalens__V1__Node **v = arr_new(b, (size_t)nn, sizeof(*v));

	*n = 0;
	for (int i = 0; v && i < nn; i++) {
		Numalens__V1__Node *x = nl_api_msg_new(b, &numalens__v1__node__descriptor);

		if (!x)
			break;
		v[(*n)++] = x;
		OPT(x, node, s->topo.nodes[i].id);
		x->cpus = cpus_str(b, &s->topo.nodes[i].cpus);
		OPT(x, memory_total_bytes, s->topo.nodes[i].mem_total_bytes);
		OPT(x, memory_free_bytes, s->topo.nodes[i].mem_free_bytes);
		if (r && i < r->nnodes) {
			OPT_D(x, cpu_cores_used, r->nodes[i].cpu_cores_used);
			OPT_D(x, spare_cpus, r->nodes[i].spare_cpus);
			OPT_D(x, intensity_sum, r->nodes[i].intensity_sum);
		}
	}
	return v;
}

Numalens__V1__Profile *nl_api_pb_profile(struct nl_api_bld *b, const struct nl_profile *p)
{
	Numalens__V1__Profile *m = nl_api_msg_new(b, &numalens__v1__profile__descriptor);

	if (!m)
		return NULL;
	m->vm = S(b, p->vm);
	m->uuid = S(b, p->uuid);
	m->source_host = S(b, p->source_host);
	OPT(m, vcpus, p->vcpus);
	if (p->iothreads)
		OPT(m, iothreads, p->iothreads);
	OPT(m, memory_bytes, p->memory_bytes);
	m->memory = arr_new(b, (size_t)p->nnodes, sizeof(*m->memory));
	for (int i = 0; m->memory && i < p->nnodes; i++) {
		Numalens__V1__NodeBytes *e = nl_api_msg_new(b, &numalens__v1__node_bytes__descriptor);

		if (!e)
			break;
		OPT(e, node, p->node_ids[i]);
		OPT(e, bytes, p->node_bytes[i]);
		m->memory[m->n_memory++] = e;
	}
	OPT_D(m, cpu_cores, p->cpu_cores);
	OPT_D(m, vmm_cpu_cores, p->vmm_cpu_cores);
	OPT(m, inputs, nl_api_pb_inputs(p->inputs));
	m->intensity_metric = S(b, p->intensity_metric);
	OPT_D(m, intensity, p->intensity);
	if (p->has_memory_intensive)
		OPT(m, memory_intensive, p->memory_intensive);
	OPT_D(m, llc_mpki, p->llc_mpki);
	OPT_D(m, llc_misses_per_second, p->llc_misses_per_second);
	OPT_D(m, dram_bytes_per_second, p->dram_bytes_per_second);
	OPT_D(m, instructions_per_second, p->instructions_per_second);
	OPT_D(m, page_faults_per_second, p->page_faults_per_second);
	OPT_D(m, proxy, p->proxy);
	OPT_D(m, locality, p->locality);
	OPT_D(m, window_seconds, p->window_seconds);
	OPT_D(m, timestamp, p->timestamp);
	m->devices = pb_devices(b, p->devices, p->ndevices, &m->n_devices,
				&m->constraints, &m->n_constraints);
	m->history = arr_new(b, (size_t)p->nhistory, sizeof(*m->history));
	for (int i = 0; m->history && i < p->nhistory; i++) {
		Numalens__V1__Sample *x = nl_api_msg_new(b, &numalens__v1__sample__descriptor);

		if (!x)
			break;
		OPT_D(x, t, p->history[i].t);
		OPT_D(x, cpu_cores, p->history[i].cpu_cores);
		OPT_D(x, intensity, p->history[i].intensity);
		m->history[m->n_history++] = x;
	}
	return m;
}

/* One node of a ranking. Moves name their VM through b->ranked_on (the
 * snapshot the ranking was made on), else through `hints` (the room-making
 * hints, which carry names), else by nodes and bytes alone. */
static Numalens__V1__NodeRank *pb_node_rank(struct nl_api_bld *b, const struct nl_node_rank *rk,
					    const struct nl_hint *hints, size_t nhints)
{
	const struct nl_snapshot *s = b->ranked_on;
	Numalens__V1__NodeRank *x = nl_api_msg_new(b, &numalens__v1__node_rank__descriptor);

	if (!x)
		return NULL;
	OPT(x, node, rk->node);
	OPT_D(x, score, rk->score);
	OPT(x, feasible, rk->feasible);
	x->reason_code = S(b, rk->reason_code ? rk->reason_code : "");
	x->reason = S(b, rk->reason);
	OPT(x, free_bytes, rk->free_bytes);
	OPT_D(x, spare_cpus, rk->spare_cpus);
	OPT(x, bytes_to_free, rk->bytes_to_free);
	x->moves = arr_new(b, (size_t)rk->nmoves, sizeof(*x->moves));
	for (int k = 0; x->moves && k < rk->nmoves; k++) {
		const struct nl_place_move *mv = &rk->moves[k];
		Numalens__V1__Move *m = nl_api_msg_new(b, &numalens__v1__move__descriptor);
		const char *name = NULL, *uuid = NULL;

		if (!m)
			break;
		x->moves[x->n_moves++] = m;
		if (s && mv->vm < s->nvms) {
			name = s->vms[mv->vm].name;
			uuid = s->vms[mv->vm].uuid;
		}
		for (size_t i = 0; !name && i < nhints; i++)
			if (hints[i].target_node == mv->to_node && hints[i].bytes == mv->bytes &&
			    hints[i].nfrom > 0 && hints[i].from_nodes[0] == mv->from_node) {
				name = hints[i].vm;
				uuid = hints[i].uuid;
			}
		if (name) {
			m->vm = S(b, name);
			m->uuid = S(b, uuid);
		}
		OPT(m, from_node, mv->from_node);
		OPT(m, to_node, mv->to_node);
		OPT(m, bytes, mv->bytes);
	}
	return x;
}

static Numalens__V1__NodeRank **pb_ranking(struct nl_api_bld *b, const struct nl_placement *pl,
					   size_t *n)
{
	Numalens__V1__NodeRank **v = arr_new(b, (size_t)pl->nnodes, sizeof(*v));

	*n = 0;
	for (int i = 0; v && i < pl->nnodes; i++) {
		v[*n] = pb_node_rank(b, &pl->nodes[i], pl->hints, pl->nhints);
		if (!v[*n])
			break;
		(*n)++;
	}
	return v;
}

static Numalens__V1__Hint **pb_hint_array(struct nl_api_bld *b, const struct nl_hint *h,
					  size_t nh, size_t *n)
{
	Numalens__V1__Hint **v = arr_new(b, nh, sizeof(*v));

	*n = 0;
	for (size_t i = 0; v && i < nh; i++) {
		v[*n] = pb_hint(b, &h[i]);
		if (!v[*n])
			break;
		(*n)++;
	}
	return v;
}

Numalens__V1__Placement *nl_api_pb_placement(struct nl_api_bld *b, const struct nl_placement *pl)
{
	const struct nl_snapshot *ranked_on = b->ranked_on;
	Numalens__V1__Placement *m = nl_api_msg_new(b, &numalens__v1__placement__descriptor);

	if (!m)
		return NULL;
	m->vm = S(b, pl->vm);
	OPT(m, fits, pl->fits);
	OPT(m, recommended_node, pl->recommended_node);
	OPT_D(m, timestamp, b->s->timestamp);
	OPT(m, policy, nl_api_pb_policy(pl->policy));
	m->chosen_nodes = arr_new(b, (size_t)pl->nchosen, sizeof(*m->chosen_nodes));
	for (int i = 0; m->chosen_nodes && i < pl->nchosen; i++)
		m->chosen_nodes[m->n_chosen_nodes++] = pl->chosen[i];
	m->reason = S(b, pl->reason);
	b->ranked_on = b->s;
	m->nodes = pb_ranking(b, pl, &m->n_nodes);
	b->ranked_on = ranked_on;
	m->hints = pb_hint_array(b, pl->hints, pl->nhints, &m->n_hints);
	return m;
}

static Numalens__V1__DestinationPlacement *pb_dest(struct nl_api_bld *b,
						   const struct nl_dest_placement *d)
{
	Numalens__V1__DestinationPlacement *m =
		nl_api_msg_new(b, &numalens__v1__destination_placement__descriptor);

	if (!m)
		return NULL;
	m->numatune_xml = S(b, d->numatune_xml);
	m->cputune_xml = S(b, d->cputune_xml);
	m->migrate_param = S(b, d->migrate_param);
	m->virsh_usage = S(b, d->virsh_usage);
	return m;
}

Numalens__V1__Arrival *nl_api_pb_arrival(struct nl_api_bld *b, const struct nl_arrival_entry *e)
{
	Numalens__V1__Arrival *m = nl_api_msg_new(b, &numalens__v1__arrival__descriptor);

	if (!m)
		return NULL;
	m->vm = S(b, e->vm);
	m->uuid = S(b, e->uuid);
	OPT(m, policy, nl_api_pb_policy(e->policy));
	m->nodes = arr_new(b, (size_t)e->nnodes, sizeof(*m->nodes));
	for (int i = 0; m->nodes && i < e->nnodes; i++)
		m->nodes[m->n_nodes++] = e->nodes[i];
	if (e->ranking) {
		m->ranking = pb_ranking(b, e->ranking, &m->n_ranking);
		m->hints = pb_hint_array(b, e->ranking->hints, e->ranking->nhints, &m->n_hints);
	}
	m->reason = S(b, e->reason);
	m->placement = pb_dest(b, &e->placement);
	OPT_D(m, created, e->created);
	OPT_D(m, expires, e->expires);
	OPT(m, state, nl_api_pb_arrival_state(e->state));
	m->profile = nl_api_pb_profile(b, &e->profile);
	if (e->state == NL_ARRIVAL_ARRIVED) {
		OPT_D(m, arrived, e->arrived);
		m->how = S(b, nl_arrival_name(e->how));
	}
	return m;
}

Numalens__V1__ArrivalList *nl_api_pb_arrival_list(struct nl_api_bld *b,
						  const struct nl_arrival_entry *e, size_t n,
						  double now)
{
	Numalens__V1__ArrivalList *m = nl_api_msg_new(b, &numalens__v1__arrival_list__descriptor);

	if (!m)
		return NULL;
	OPT_D(m, timestamp, now);
	m->arrivals = arr_new(b, n, sizeof(*m->arrivals));
	for (size_t i = 0; m->arrivals && i < n; i++) {
		m->arrivals[m->n_arrivals] = nl_api_pb_arrival(b, &e[i]);
		if (!m->arrivals[m->n_arrivals])
			break;
		m->n_arrivals++;
	}
	return m;
}

#define CHECK_D(field, lo, hi) do { \
	if (pm->has_##field && !(pm->field >= (lo) && pm->field <= (hi))) \
		return snprintf(err, errlen, #field " must be in [%g, %g]", (double)(lo), (double)(hi)), -EINVAL; \
	} while (0)

/* A decoded Profile message to the engine's struct. Return 0 or -EINVAL. */
int nl_api_profile_from_pb(const Numalens__V1__Profile *pm, struct nl_profile *p,
			   char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (!pm->vm || !pm->vm[0])
		return snprintf(err, errlen, "vm is required"), -EINVAL;
	if (strlen(pm->vm) >= sizeof(p->vm))
		return snprintf(err, errlen, "vm is longer than %zu bytes", sizeof(p->vm) - 1), -EINVAL;
	if (pm->uuid && strlen(pm->uuid) >= sizeof(p->uuid))
		return snprintf(err, errlen, "uuid is longer than %zu bytes", sizeof(p->uuid) - 1), -EINVAL;
	if (pm->n_memory > NL_MAX_NODES)
		return snprintf(err, errlen, "memory lists more than %d nodes", NL_MAX_NODES), -EINVAL;
	if (pm->n_history > NL_PROFILE_HISTORY)
		return snprintf(err, errlen, "history has more than %d samples", NL_PROFILE_HISTORY), -EINVAL;
	if (!pm->has_memory_bytes && !pm->n_memory)
		return snprintf(err, errlen, "memory_bytes (or memory) is required"), -EINVAL;
	CHECK_D(cpu_cores, 0, 65536);
	CHECK_D(vmm_cpu_cores, 0, 65536);
	CHECK_D(intensity, 0, 1e18);
	CHECK_D(llc_mpki, 0, 1e6);
	CHECK_D(llc_misses_per_second, 0, 1e15);
	CHECK_D(dram_bytes_per_second, 0, 1e15);
	CHECK_D(instructions_per_second, 0, 1e18);
	CHECK_D(page_faults_per_second, 0, 1e15);
	CHECK_D(proxy, 0, 1e12);
	CHECK_D(locality, 0, 1);
	CHECK_D(window_seconds, 0, 1e9);
	if (pm->has_vcpus && pm->vcpus > 65536)
		return snprintf(err, errlen, "vcpus must be at most 65536"), -EINVAL;
	if (pm->has_iothreads && pm->iothreads > 65536)
		return snprintf(err, errlen, "iothreads must be at most 65536"), -EINVAL;
	if (pm->has_memory_bytes && pm->memory_bytes > (1ULL << 56))
		return snprintf(err, errlen, "memory_bytes is implausibly large"), -EINVAL;
	snprintf(p->vm, sizeof(p->vm), "%s", pm->vm);
	snprintf(p->uuid, sizeof(p->uuid), "%s", pm->uuid ? pm->uuid : "");
	snprintf(p->source_host, sizeof(p->source_host), "%s", pm->source_host ? pm->source_host : "");
	p->vcpus = pm->has_vcpus ? pm->vcpus : 0;
	p->iothreads = pm->has_iothreads ? pm->iothreads : 0;
	p->memory_bytes = pm->has_memory_bytes ? pm->memory_bytes : 0;
#define GET_D(field) p->field = pm->has_##field ? pm->field : NAN
	GET_D(cpu_cores);
	GET_D(vmm_cpu_cores);
	GET_D(intensity);
	GET_D(llc_mpki);
	GET_D(llc_misses_per_second);
	GET_D(dram_bytes_per_second);
	GET_D(instructions_per_second);
	GET_D(page_faults_per_second);
	GET_D(proxy);
	GET_D(locality);
	GET_D(window_seconds);
	GET_D(timestamp);
#undef GET_D
	p->inputs = pm->has_inputs && pm->inputs == NUMALENS__V1__INPUTS__INPUTS_PMU ?
		    NL_INPUTS_PMU : NL_INPUTS_PLACEMENT;
	snprintf(p->intensity_metric, sizeof(p->intensity_metric), "%s",
		 pm->intensity_metric ? pm->intensity_metric : "");
	p->has_memory_intensive = pm->has_memory_intensive;
	p->memory_intensive = pm->has_memory_intensive && pm->memory_intensive;
	p->nnodes = (int)pm->n_memory;
	for (size_t i = 0; i < pm->n_memory; i++) {
		if (!pm->memory[i]->has_node || !pm->memory[i]->has_bytes)
			return snprintf(err, errlen, "memory[%zu] needs node and bytes", i), -EINVAL;
		if (pm->memory[i]->bytes > (1ULL << 56))
			return snprintf(err, errlen, "memory[%zu].bytes is implausibly large", i), -EINVAL;
		p->node_ids[i] = pm->memory[i]->node;
		p->node_bytes[i] = pm->memory[i]->bytes;
	}
	if (pm->n_devices > NL_MAX_VM_DEVICES)
		return snprintf(err, errlen, "devices lists more than %d devices", NL_MAX_VM_DEVICES), -EINVAL;
	for (size_t i = 0; i < pm->n_devices; i++) {
		const Numalens__V1__Device *d = pm->devices[i];

		if (!d->device || !d->device[0] || strlen(d->device) >= sizeof(p->devices[0].device))
			return snprintf(err, errlen, "devices[%zu].device must be a PCI address of 1 to %zu bytes",
					i, sizeof(p->devices[0].device) - 1), -EINVAL;
		if (d->has_node && (d->node < -1 || d->node >= 1 << 15))
			return snprintf(err, errlen, "devices[%zu].node must be a node id, or -1 or absent when unknown", i), -EINVAL;
		snprintf(p->devices[i].device, sizeof(p->devices[i].device), "%s", d->device);
		p->devices[i].node = d->has_node ? d->node : -1;
	}
	p->ndevices = (int)pm->n_devices;
	p->nhistory = (int)pm->n_history;
	for (size_t i = 0; i < pm->n_history; i++) {
		p->history[i].t = pm->history[i]->has_t ? pm->history[i]->t : NAN;
		p->history[i].cpu_cores = pm->history[i]->has_cpu_cores ? pm->history[i]->cpu_cores : NAN;
		p->history[i].intensity = pm->history[i]->has_intensity ? pm->history[i]->intensity : NAN;
	}
	return 0;
}

Numalens__V1__HintList *nl_api_pb_hint_list(struct nl_api_bld *b,
					    const struct nl_api_hint_filter *f)
{
	Numalens__V1__HintList *m = nl_api_msg_new(b, &numalens__v1__hint_list__descriptor);

	if (!m)
		return NULL;
	OPT(m, policy, nl_api_pb_policy(f->policy));
	OPT(m, timestamp, b->s->timestamp);
	OPT(m, inputs, nl_api_pb_inputs(b->s->hints->inputs));
	m->hints = pb_hints(b, f, &m->n_hints);
	return m;
}

Numalens__V1__VmList *nl_api_pb_vm_list(struct nl_api_bld *b)
{
	const struct nl_snapshot *s = b->s;
	Numalens__V1__VmList *m = nl_api_msg_new(b, &numalens__v1__vm_list__descriptor);

	if (!m)
		return NULL;
	OPT(m, timestamp, s->timestamp);
	m->nodes = nl_api_pb_nodes(b, &m->n_nodes);
	m->vms = arr_new(b, s->nvms, sizeof(*m->vms));
	for (size_t i = 0; m->vms && i < s->nvms; i++) {
		m->vms[m->n_vms] = nl_api_pb_vm(b, &s->vms[i], false, s->hints->default_policy);
		if (!m->vms[m->n_vms])
			break;
		m->n_vms++;
	}
	return m;
}
