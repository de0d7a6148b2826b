/* Profile transfer for live migration: the source host's profile of a VM,
 * and the destination's ranking of its nodes for that profile under a
 * policy, with the moves of resident VMs' memory that make room
 * (docs/api.md). One node's rank under each policy: place_rank.c. */
#include "place_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB (1024.0 * 1024 * 1024)

int nl_hints_profile(const struct nl_snapshot *s, const struct nl_vm_snap *vm,
		     struct nl_profile *out)
{
	const struct nl_vm_features *f = nl_hints_vm_features(s, vm);
	int nn = s->topo_valid ? s->topo.nnodes : 0;

	if (!f)
		return -ENODATA;
	memset(out, 0, sizeof(*out));
	memcpy(out->vm, vm->name, sizeof(out->vm));
	memcpy(out->uuid, vm->uuid, sizeof(out->uuid));
	if (gethostname(out->source_host, sizeof(out->source_host) - 1) < 0)
		out->source_host[0] = '\0';
	out->vcpus = (uint32_t)f->nvcpus;
	out->iothreads = (uint32_t)f->niothreads;
	out->memory_bytes = vm->mem_total_bytes;
	out->cpu_cores = f->measured ? f->cpu_cores : NAN;
	out->vmm_cpu_cores = f->measured ? f->vmm_cpu_cores : NAN;
	out->inputs = f->inputs;
	snprintf(out->intensity_metric, sizeof(out->intensity_metric), "%s",
		 f->intensity_metric ? f->intensity_metric : "proxy");
	out->intensity = f->intensity;
	out->memory_intensive = f->intensive;
	out->has_memory_intensive = true;
	out->llc_mpki = f->llc_mpki;
	out->llc_misses_per_second = f->llc_misses_per_second;
	out->dram_bytes_per_second = f->dram_bytes_per_second;
	out->instructions_per_second = f->instructions_per_second;
	out->page_faults_per_second = f->page_faults_per_second;
	out->proxy = f->proxy;
	out->locality = f->locality;
	out->window_seconds = s->window_seconds;
	out->timestamp = s->timestamp;
	out->nnodes = nn;
	for (int n = 0; n < nn; n++) {
		out->node_ids[n] = s->topo.nodes[n].id;
		out->node_bytes[n] = vm->mem_bytes[n];
	}
	out->ndevices = vm->ndevices < NL_MAX_VM_DEVICES ? vm->ndevices : NL_MAX_VM_DEVICES;
	memcpy(out->devices, vm->devices, sizeof(out->devices));
	out->nhistory = f->nhistory < NL_PROFILE_HISTORY ? f->nhistory : NL_PROFILE_HISTORY;
	for (int h = 0; h < out->nhistory; h++) {
		out->history[h].t = f->history[h].t;
		out->history[h].cpu_cores = f->history[h].cpu_cores;
		out->history[h].intensity = f->history[h].intensity;
	}
	return 0;
}

/* Is the incoming VM memory-intensive? The source's verdict when it sent
 * one, else this host's thresholds on what it sent. */
static bool profile_intensive(const struct nl_profile *p,
			      const struct nl_hint_config *cfg)
{
	if (p->has_memory_intensive)
		return p->memory_intensive;
	if (!isnan(p->llc_mpki))
		return p->llc_mpki >= cfg->mpki_threshold;
	if (!isnan(p->dram_bytes_per_second))
		return p->dram_bytes_per_second >= cfg->bandwidth_threshold;
	if (!isnan(p->proxy))
		return p->proxy >= cfg->proxy_threshold;
	return false;
}

static bool same_vm(const struct nl_vm_snap *vm, const struct nl_profile *p)
{
	if (p->uuid[0] && vm->uuid[0])
		return strcmp(p->uuid, vm->uuid) == 0;
	return strcmp(p->vm, vm->name) == 0;
}

uint64_t nl_hints_key_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL;

	for (const unsigned char *b = (const unsigned char *)key; *b; b++) {
		h ^= *b;
		h *= 1099511628211ULL;
	}
	return h;
}

static int rank_cmp(const void *a, const void *b)
{
	const struct nl_node_rank *x = a, *y = b;

	if (x->feasible != y->feasible)
		return x->feasible ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->node - y->node;
}

static int move_hint(const struct nl_place_ctx *pc, const struct nl_place_move *m,
		     struct nl_hint *x)
{
	const struct nl_snapshot *s = pc->s;
	const struct nl_hint_report *r = s->hints;
	const struct nl_vm_snap *vm = &s->vms[m->vm];
	const struct nl_vm_features *f = &r->vmf[m->vm];
	int to = nl_topology_node_index(&s->topo, m->to_node);

	memset(x, 0, sizeof(*x));
	x->target_node = m->to_node;
	nl_hints_make_id(vm->uuid[0] ? vm->uuid : vm->name, NL_HINT_MIGRATE_MEMORY,
			 m->to_node, x->id);
	memcpy(x->vm, vm->name, sizeof(x->vm));
	memcpy(x->uuid, vm->uuid, sizeof(x->uuid));
	x->pid = vm->pid;
	x->backend = vm->backend;
	x->kind = NL_HINT_MIGRATE_MEMORY;
	x->policy = pc->pol;
	if (to >= 0)
		x->target_cpus = s->topo.nodes[to].cpus;
	x->from_nodes[0] = m->from_node;
	x->nfrom = 1;
	x->bytes = x->cost_bytes = m->bytes;
	x->cost_seconds = (double)m->bytes / NL_HINT_MOVE_RATE;
	snprintf(x->reason_code, sizeof(x->reason_code), "make_room");
	snprintf(x->reason, sizeof(x->reason),
		 "frees %.2f GiB on node %d for incoming VM %.80s before it arrives; ",
		 (double)m->bytes / GIB, m->from_node, pc->p->vm);
	if (pc->pol == NL_POLICY_SIMPLE && !isnan(f->llc_misses_per_second))
		nl_hints_appendf(x->reason, sizeof(x->reason),
				 "this VM's LLC miss rate is lower (%.3g/s), so under simple it makes room",
				 f->llc_misses_per_second);
	else
		nl_hints_appendf(x->reason, sizeof(x->reason),
				 "this VM's memory traffic is low (%s %.3g)",
				 f->intensity_metric ? f->intensity_metric : "proxy", f->intensity);
	x->ev.inputs = f->inputs;
	x->ev.intensity_metric = f->intensity_metric;
	x->ev.intensity = f->intensity;
	x->ev.llc_mpki = f->llc_mpki;
	x->ev.llc_misses_per_second = f->llc_misses_per_second;
	x->ev.dram_bytes_per_second = f->dram_bytes_per_second;
	x->ev.pmu_locality = f->pmu_locality;
	x->ev.proxy = f->proxy;
	x->ev.locality = f->locality;
	x->ev.locality_after = NAN;
	x->ev.access_distance = vm->distance[NL_ROLE_VCPU];
	x->ev.cpu_cores = f->cpu_cores;
	x->ev.vmm_cpu_cores = f->vmm_cpu_cores;
	for (int n = 0; n < s->topo.nnodes; n++) {
		x->ev.mem_bytes[n] = vm->mem_bytes[n];
		x->ev.cpu_share[n] = f->vcpu_share[n];
	}
	if (to >= 0) {
		x->ev.target_free_bytes = r->nodes[to].mem_free_bytes;
		x->ev.target_spare_cpus = r->nodes[to].spare_cpus;
	}
	x->ev.contention_before = x->ev.contention_after = NAN;
	x->expected_gain = NAN;
	x->gain_metric = "locality";
	x->confidence = f->inputs == NL_INPUTS_PMU ? 0.9 : 0.6;
	x->created = s->timestamp;
	x->expires = s->timestamp + r->cfg.ttl_seconds;
	x->step = 1;
	snprintf(x->beneficiary, sizeof(x->beneficiary), "%s", pc->p->vm);
	return nl_hints_build_actions(x, vm, &s->topo);
}

double nl_hints_profile_mem_need(const struct nl_profile *p)
{
	double m = (double)p->memory_bytes;

	if (m <= 0)
		for (int n = 0; n < p->nnodes && n < NL_MAX_NODES; n++)
			m += (double)p->node_bytes[n];
	return m;
}

double nl_hints_profile_cpu_need(const struct nl_profile *p)
{
	double c = !isnan(p->cpu_cores) ? p->cpu_cores : p->vcpus ? (double)p->vcpus : 1;

	if (!isnan(p->vmm_cpu_cores) && !isnan(p->cpu_cores))
		c += p->vmm_cpu_cores;
	return c;
}

/* The context of one ranking; -EINVAL when the profile is unusable. */
static int ctx_init(struct nl_place_ctx *pc, const struct nl_snapshot *s,
		    const struct nl_profile *p, enum nl_policy policy,
		    const struct nl_place_reserve *rv)
{
	const struct nl_hint_report *r = s->hints;

	memset(pc, 0, sizeof(*pc));
	pc->s = s;
	pc->r = r;
	pc->cfg = &r->cfg;
	pc->p = p;
	pc->pol = policy;
	pc->rv = rv;
	pc->nn = s->topo.nnodes;
	pc->self = -1;
	pc->mem_need = nl_hints_profile_mem_need(p);
	if (!(pc->mem_need > 0) || !p->vm[0])
		return -EINVAL;
	pc->cpu_need = nl_hints_profile_cpu_need(p);
	pc->intensive = profile_intensive(p, pc->cfg);
	for (size_t i = 0; i < s->nvms; i++)
		if (same_vm(&s->vms[i], p))
			pc->self = (ssize_t)i;
	for (int n = 0; n < pc->nn; n++) {
		pc->avail[n] = (double)r->nodes[n].mem_free_bytes - pc->cfg->memory_reserve -
			       (rv ? rv->mem_bytes[n] : 0);
		pc->spare[n] = r->nodes[n].spare_cpus - (rv ? rv->cpu_cores[n] : 0);
		pc->total_int += r->nodes[n].intensity_sum;
		if (pc->self >= 0) {
			pc->own_mem[n] = (double)s->vms[pc->self].mem_bytes[n];
			pc->own_cpu[n] = r->vmf[pc->self].cpu_node_cores[n];
		}
	}
	return 0;
}

/* Why the first node won, against the runner-up. */
static void single_reason(const struct nl_place_ctx *pc, struct nl_placement *pl)
{
	const struct nl_node_rank *b = &pl->nodes[0], *n = pl->nnodes > 1 ? &pl->nodes[1] : NULL;
	static const char *const why[NL_POLICY_COUNT] = {
		[NL_POLICY_LOCALITY] = "all its memory local, the least moved",
		[NL_POLICY_SIMPLE] = "all its memory local; VMs with a lower LLC miss rate make room",
		[NL_POLICY_DINO] = "the least memory-intensive load",
		[NL_POLICY_ASYMSCHED] = "the least bandwidth contention by SLIT distance",
	};

	snprintf(pl->reason, sizeof(pl->reason), "%s: node %d scores %.2f, %s",
		 nl_policy_name(pc->pol), b->node, b->score, why[pc->pol]);
	if (n && n->feasible)
		nl_hints_appendf(pl->reason, sizeof(pl->reason), "; next node %d scores %.2f (%s)",
				 n->node, n->score, n->reason_code);
	else
		nl_hints_appendf(pl->reason, sizeof(pl->reason), "; the only node that fits");
}

static int room_hints(const struct nl_place_ctx *pc, struct nl_placement *pl)
{
	const struct nl_node_rank *best = &pl->nodes[0];

	if (!best->nmoves)
		return 0;
	pl->hints = calloc((size_t)best->nmoves, sizeof(*pl->hints));
	if (!pl->hints)
		return -ENOMEM;
	for (int m = 0; m < best->nmoves; m++) {
		int rc;

		pl->nhints++;
		rc = move_hint(pc, &best->moves[m], &pl->hints[m]);
		if (rc)
			return rc;
	}
	return 0;
}

int nl_hints_place_with(const struct nl_snapshot *s, const struct nl_profile *p,
			enum nl_policy policy, const struct nl_place_reserve *rv,
			struct nl_placement **out)
{
	struct nl_placement *pl = NULL;
	struct nl_place_ctx pc;
	int rc;

	*out = NULL;
	if (!s->hints || !s->topo_valid || s->topo.nnodes == 0)
		return -ENODATA;
	if ((unsigned)policy >= NL_POLICY_COUNT)
		return -EINVAL;
	rc = ctx_init(&pc, s, p, policy, rv);
	if (rc)
		return rc;
	pl = calloc(1, sizeof(*pl));
	if (!pl)
		return -ENOMEM;
	snprintf(pl->vm, sizeof(pl->vm), "%s", p->vm);
	pl->policy = policy;
	pl->recommended_node = -1;
	pl->nnodes = pc.nn;
	for (int h = 0; h < pc.nn; h++)
		nl_place_rank_node(&pc, h, &pl->nodes[h]);
	qsort(pl->nodes, (size_t)pl->nnodes, sizeof(pl->nodes[0]), rank_cmp);
	pl->fits = pl->nodes[0].feasible;
	if (pl->fits) {
		pl->recommended_node = pl->chosen[0] = pl->nodes[0].node;
		pl->nchosen = 1;
		single_reason(&pc, pl);
		rc = room_hints(&pc, pl);
		if (rc)
			goto cleanup;
	} else if (!nl_place_wide(&pc, pl)) {
		snprintf(pl->reason, sizeof(pl->reason),
			 "%s: nothing fits, not even several nodes together; node %d: %.180s",
			 nl_policy_name(policy), pl->nodes[0].node, pl->nodes[0].reason);
	}
	*out = pl;
	pl = NULL;
cleanup:
	nl_placement_free(pl);
	return rc;
}

int nl_hints_place(const struct nl_snapshot *s, const struct nl_profile *p,
		   struct nl_placement **out)
{
	enum nl_policy pol = s->hints && (unsigned)s->hints->default_policy < NL_POLICY_COUNT ?
			     s->hints->default_policy : NL_POLICY_LOCALITY;

	return nl_hints_place_with(s, p, pol, NULL, out);
}

void nl_placement_free(struct nl_placement *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nhints; i++)
		nl_hint_free_contents(&p->hints[i]);
	free(p->hints);
	free(p);
}
