/* Profile transfer for live migration: the source host's profile of a VM,
 * and the destination's ranking of its nodes for that profile, with the
 * moves of resident VMs' cold memory that make room (docs/api.md).
 *
 * Ranking, per node h, for an incoming VM of M bytes and C cores:
 *   - not feasible when C exceeds the node's spare CPU (--hints.cpu-limit),
 *     or when M exceeds its free memory (less --hints.memory-reserve) and
 *     moving resident VMs' cold memory elsewhere cannot make up the rest;
 *   - else score = 1 - 0.5 * (bytes moved / M)
 *                    - 0.3 * (share of the host's memory-intensive load on h,
 *                             for a memory-intensive VM only)
 *                    - 0.1 * (CPU utilisation of h after arrival),
 *     clamped to [0.01, 1]. "Cold" memory is the memory of resident VMs that
 *     are not memory-intensive. */
#include "hints_priv.h"

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

static int rank_cmp(const void *a, const void *b)
{
	const struct nl_node_rank *x = a, *y = b;

	if (x->feasible != y->feasible)
		return x->feasible ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->node - y->node;
}

/* How far the VM would spill if it outgrew node h: the SLIT distance to the
 * nearest other node that still has memory above the reserve (room[] after
 * the moves), scaled to 0 (as near as local memory) .. 1 (the
 * farthest distance on this host, or no node with room at all). */
static double spill_penalty(const struct nl_snapshot *s, const double *room,
			    int h)
{
	int nn = s->topo.nnodes, dmin = -1, dmax = 10;

	if (nn < 2)
		return 0;
	for (int n = 0; n < nn; n++) {
		if (s->topo.distance[h][n] > dmax)
			dmax = s->topo.distance[h][n];
		if (n != h && room[n] > 0 &&
		    (dmin < 0 || s->topo.distance[h][n] < dmin))
			dmin = s->topo.distance[h][n];
	}
	if (dmin < 0 || dmax <= 10)
		return 1;
	return (double)(dmin - 10) / (dmax - 10);
}

/* The resident VM whose cold memory on node h goes next for an incoming
 * VM: the coldest, the largest share on h first; -1 when none is left. */
static ssize_t coldest_resident(const struct nl_snapshot *s, ssize_t self, int h,
				const struct nl_node_rank *rk)
{
	const struct nl_hint_report *r = s->hints;
	ssize_t pick = -1;

	for (size_t u = 0; u < s->nvms; u++) {
		const struct nl_vm_features *f = &r->vmf[u];
		bool used = false;
		uint64_t mems = 0;
		double iu, ip;

		for (int m = 0; m < rk->nmoves; m++)
			used |= rk->moves[m].vm == u;
		for (size_t j = 0; j < s->vms[u].nseries; j++)
			mems |= s->vms[u].series[j].mems_allowed;
		if (used || (ssize_t)u == self || !f->measured || f->intensive ||
		    s->vms[u].mem_bytes[h] == 0 || mems == (1ULL << h))
			continue;
		if (pick < 0) {
			pick = (ssize_t)u;
			continue;
		}
		iu = isnan(f->intensity) ? 0 : f->intensity;
		ip = isnan(r->vmf[pick].intensity) ? 0 : r->vmf[pick].intensity;
		if (iu < ip || (iu == ip && s->vms[u].mem_bytes[h] > s->vms[pick].mem_bytes[h]))
			pick = (ssize_t)u;
	}
	return pick;
}

/* Moves of resident VMs' cold memory off node h until `room` bytes are
 * free there (tmp[]: room above the reserve per node, updated). Returns
 * the bytes still missing; *moved gets the bytes moved. */
static double place_make_room(const struct nl_snapshot *s, ssize_t self, int h,
			      double room, double *tmp, double *moved,
			      struct nl_node_rank *rk)
{
	*moved = 0;
	while (room > 0.5 && rk->nmoves < NL_PLACE_MAX_MOVES) {
		ssize_t pick = coldest_resident(s, self, h, rk);
		int k;
		double amt;

		if (pick < 0)
			break;
		k = nl_hints_nearest_room(&s->topo, tmp, h);
		if (k < 0)
			break;
		amt = fmin(room, (double)s->vms[pick].mem_bytes[h]);
		amt = fmin(amt, tmp[k]);
		if (amt < 1)
			break;
		rk->moves[rk->nmoves++] = (struct nl_place_move){
			(size_t)pick, rk->node, s->topo.nodes[k].id, (uint64_t)amt };
		tmp[k] -= amt;
		room -= amt;
		*moved += amt;
	}
	return room;
}

static void rank_node(const struct nl_snapshot *s, double mem_need, double cpu_need,
		      bool intensive, ssize_t self, int h, struct nl_node_rank *rk)
{
	const struct nl_hint_report *r = s->hints;
	const struct nl_hint_config *cfg = &r->cfg;
	int nn = s->topo.nnodes;
	double tmp[NL_MAX_NODES], room, moved = 0, total_int = 0, cpu_have;
	double own_mem = 0, own_cpu = 0, util;

	rk->node = s->topo.nodes[h].id;
	rk->free_bytes = r->nodes[h].mem_free_bytes;
	rk->spare_cpus = r->nodes[h].spare_cpus;
	if (self >= 0) {
		own_mem = (double)s->vms[self].mem_bytes[h];
		own_cpu = r->vmf[self].cpu_node_cores[h];
	}
	cpu_have = r->nodes[h].spare_cpus + own_cpu;
	if (cpu_need > cpu_have + 1e-6) {
		rk->reason_code = "cpu";
		snprintf(rk->reason, sizeof(rk->reason),
			 "needs %.2f cores, %.2f spare at --hints.cpu-limit %.2f",
			 cpu_need, cpu_have, cfg->cpu_limit);
		return;
	}
	for (int n = 0; n < nn; n++)
		tmp[n] = (double)r->nodes[n].mem_free_bytes - cfg->memory_reserve;
	room = place_make_room(s, self, h, (mem_need - own_mem) - tmp[h], tmp, &moved, rk);
	if (room > 0.5) {
		rk->nmoves = 0;
		rk->reason_code = "memory";
		snprintf(rk->reason, sizeof(rk->reason),
			 "needs %.2f GiB, %.2f GiB free above the reserve, and resident VMs' cold memory cannot make up the rest",
			 (mem_need - own_mem) / GIB,
			 fmax(0, (double)r->nodes[h].mem_free_bytes - cfg->memory_reserve) / GIB);
		return;
	}
	rk->feasible = true;
	rk->bytes_to_free = (uint64_t)moved;
	for (int n = 0; n < nn; n++)
		total_int += r->nodes[n].intensity_sum;
	util = r->nodes[h].ncpus > 0 ?
	       (r->nodes[h].cpu_cores_used - own_cpu + cpu_need) / r->nodes[h].ncpus : 1;
	rk->score = 1 - 0.5 * moved / mem_need -
		    (intensive && total_int > 0 ? 0.3 * r->nodes[h].intensity_sum / total_int : 0) -
		    0.1 * fmin(1, fmax(0, util)) - 0.05 * spill_penalty(s, tmp, h);
	rk->score = fmin(1, fmax(0.01, rk->score));
	rk->reason_code = moved > 0 ? "fits_after_moves" : "fits";
	if (moved > 0)
		snprintf(rk->reason, sizeof(rk->reason),
			 "fits after moving %.2f GiB of resident VMs' cold memory to other nodes",
			 moved / GIB);
	else
		snprintf(rk->reason, sizeof(rk->reason), "fits: %.2f GiB free above the reserve, %.2f cores spare",
			 ((double)r->nodes[h].mem_free_bytes - cfg->memory_reserve) / GIB, cpu_have);
}

static int move_hint(const struct nl_snapshot *s, const struct nl_profile *p,
		     const struct nl_place_move *m, struct nl_hint *x)
{
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
	x->policy = r->default_policy;
	if (to >= 0)
		x->target_cpus = s->topo.nodes[to].cpus;
	x->from_nodes[0] = m->from_node;
	x->nfrom = 1;
	x->bytes = x->cost_bytes = m->bytes;
	x->cost_seconds = (double)m->bytes / NL_HINT_MOVE_RATE;
	snprintf(x->reason_code, sizeof(x->reason_code), "make_room");
	snprintf(x->reason, sizeof(x->reason),
		 "frees %.2f GiB on node %d for incoming VM %.80s before it arrives; this VM's memory traffic is low (%s %.3g)",
		 (double)m->bytes / GIB, m->from_node, p->vm,
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
	snprintf(x->beneficiary, sizeof(x->beneficiary), "%s", p->vm);
	return nl_hints_build_actions(x, vm, &s->topo);
}

int nl_hints_place(const struct nl_snapshot *s, const struct nl_profile *p,
		   struct nl_placement **out)
{
	struct nl_placement *pl = NULL;
	double mem_need = (double)p->memory_bytes, cpu_need;
	ssize_t self = -1;
	bool intensive;
	int rc = 0;

	*out = NULL;
	if (!s->hints || !s->topo_valid || s->topo.nnodes == 0)
		return -ENODATA;
	if (mem_need <= 0)
		for (int n = 0; n < p->nnodes; n++)
			mem_need += (double)p->node_bytes[n];
	if (!(mem_need > 0) || !p->vm[0])
		return -EINVAL;
	cpu_need = !isnan(p->cpu_cores) ? p->cpu_cores : p->vcpus ? (double)p->vcpus : 1;
	if (!isnan(p->vmm_cpu_cores) && !isnan(p->cpu_cores))
		cpu_need += p->vmm_cpu_cores;
	intensive = profile_intensive(p, &s->hints->cfg);
	for (size_t i = 0; i < s->nvms; i++)
		if (same_vm(&s->vms[i], p))
			self = (ssize_t)i;
	pl = calloc(1, sizeof(*pl));
	if (!pl)
		return -ENOMEM;
	snprintf(pl->vm, sizeof(pl->vm), "%s", p->vm);
	pl->recommended_node = -1;
	pl->nnodes = s->topo.nnodes;
	for (int h = 0; h < s->topo.nnodes; h++)
		rank_node(s, mem_need, cpu_need, intensive, self, h, &pl->nodes[h]);
	qsort(pl->nodes, (size_t)pl->nnodes, sizeof(pl->nodes[0]), rank_cmp);
	pl->fits = pl->nodes[0].feasible;
	if (pl->fits) {
		const struct nl_node_rank *best = &pl->nodes[0];

		pl->recommended_node = best->node;
		if (best->nmoves) {
			pl->hints = calloc((size_t)best->nmoves, sizeof(*pl->hints));
			if (!pl->hints) {
				rc = -ENOMEM;
				goto cleanup;
			}
			for (int m = 0; m < best->nmoves; m++) {
				pl->nhints++;
				rc = move_hint(s, p, &best->moves[m], &pl->hints[m]);
				if (rc)
					goto cleanup;
			}
		}
	}
	*out = pl;
	pl = NULL;
cleanup:
	nl_placement_free(pl);
	return rc;
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
