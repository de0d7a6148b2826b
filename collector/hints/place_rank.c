/* Ranking one node for an incoming VM under a policy (docs/api.md,
 * "Profile transfer and placement"), and the set of nodes for a VM that no
 * single node can take.
 *
 * Feasibility is the same for every policy: the node's spare CPU and its
 * free memory above --hints.memory-reserve, both less what pending
 * arrivals hold, plus the memory resident VMs can give up. Who gives up
 * memory and the score are the policy's:
 *   locality   cold residents (not memory-intensive), coldest first;
 *              1 - 0.5 moved/M - 0.1 util - 0.05 spill
 *   simple     residents with a lower LLC miss rate than the incoming VM,
 *              lowest first (the higher miss rate gets the good layout);
 *              same score
 *   dino       cold residents; 1 - 0.4 load - 0.3 moved/M - 0.1 util
 *              - 0.05 spill, load = the node's share of the host's
 *              memory-intensive load (memory-intensive VMs only)
 *   asymsched  cold residents; 1 - 0.3 near - 0.3 moved/M - 0.1 util
 *              - 0.2 spill, near = that load weighted by SLIT nearness
 *              (1 on the node, 0 at the farthest distance): the node with
 *              the least contention on its links
 * clamped to [0.01, 1]. */
#include "place_priv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GIB (1024.0 * 1024 * 1024)

static const char *vm_key(const struct nl_vm_snap *vm)
{
	return vm->uuid[0] ? vm->uuid : vm->name;
}

static bool reserved_donor(const struct nl_place_ctx *pc, size_t u)
{
	const struct nl_place_reserve *rv = pc->rv;
	uint64_t k;

	if (!rv || rv->ndonors <= 0)
		return false;
	k = nl_hints_key_hash(vm_key(&pc->s->vms[u]));
	for (int i = 0; i < rv->ndonors && i < NL_PLACE_RESERVE_DONORS; i++)
		if (rv->donors[i] == k)
			return true;
	return false;
}

/* A resident's LLC miss rate and the incoming VM's (*mine), in one unit:
 * misses per second when both have them, else the intensity when both
 * measure it the same way; NaN when they cannot be compared. */
static double miss_pair(const struct nl_vm_features *f, const struct nl_profile *p,
			double *mine)
{
	*mine = NAN;
	if (!isnan(p->llc_misses_per_second) && !isnan(f->llc_misses_per_second)) {
		*mine = p->llc_misses_per_second;
		return f->llc_misses_per_second;
	}
	if (!isnan(p->intensity) && !isnan(f->intensity) && f->intensity_metric &&
	    strcmp(p->intensity_metric, f->intensity_metric) == 0) {
		*mine = p->intensity;
		return f->intensity;
	}
	return NAN;
}

static bool donor_ok(const struct nl_place_ctx *pc, size_t u, int h,
		     const struct nl_node_rank *rk)
{
	const struct nl_vm_features *f = &pc->r->vmf[u];
	const struct nl_vm_snap *vm = &pc->s->vms[u];
	uint64_t mems = 0;

	for (int m = 0; m < rk->nmoves; m++)
		if (rk->moves[m].vm == u)
			return false;
	for (size_t j = 0; j < vm->nseries; j++)
		mems |= vm->series[j].mems_allowed;
	/* bound to node h only: its policy would pull the memory back; a
	 * passthrough VM's memory is pinned by VFIO */
	if ((ssize_t)u == pc->self || !f->measured || vm->mem_bytes[h] == 0 ||
	    mems == (1ULL << h) || reserved_donor(pc, u) || vm->ndevices > 0)
		return false;
	if (pc->pol == NL_POLICY_SIMPLE) {
		double mine, theirs = miss_pair(f, pc->p, &mine);

		if (!isnan(theirs))
			return theirs < mine;
	}
	return !f->intensive;
}

/* Lower gives up memory first: the LLC miss rate under simple, else the
 * intensity. */
static double donor_key(const struct nl_place_ctx *pc, size_t u)
{
	const struct nl_vm_features *f = &pc->r->vmf[u];

	if (pc->pol == NL_POLICY_SIMPLE && !isnan(f->llc_misses_per_second))
		return f->llc_misses_per_second;
	return isnan(f->intensity) ? 0 : f->intensity;
}

/* The resident whose memory on node h goes next; -1 when none is left. */
static ssize_t next_donor(const struct nl_place_ctx *pc, int h,
			  const struct nl_node_rank *rk)
{
	const struct nl_snapshot *s = pc->s;
	ssize_t pick = -1;

	for (size_t u = 0; u < s->nvms; u++) {
		double ku, kp;

		if (!donor_ok(pc, u, h, rk))
			continue;
		if (pick < 0) {
			pick = (ssize_t)u;
			continue;
		}
		ku = donor_key(pc, u);
		kp = donor_key(pc, (size_t)pick);
		if (ku < kp || (ku == kp && s->vms[u].mem_bytes[h] > s->vms[pick].mem_bytes[h]))
			pick = (ssize_t)u;
	}
	return pick;
}

/* Moves of residents' memory off node h until `room` bytes are free there
 * (tmp[]: room per node, updated). Returns the bytes still missing;
 * *moved gets the bytes moved. */
static double make_room(const struct nl_place_ctx *pc, int h, double room,
			double *tmp, double *moved, struct nl_node_rank *rk)
{
	const struct nl_snapshot *s = pc->s;

	*moved = 0;
	while (room > 0.5 && rk->nmoves < NL_PLACE_MAX_MOVES) {
		ssize_t pick = next_donor(pc, h, rk);
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

static int max_distance(const struct nl_topology *t)
{
	int dmax = 10;

	for (int i = 0; i < t->nnodes; i++)
		for (int j = 0; j < t->nnodes; j++)
			if (t->distance[i][j] > dmax)
				dmax = t->distance[i][j];
	return dmax;
}

/* How far the VM would spill if it outgrew node h: the SLIT distance to the
 * nearest other node that still has memory above the reserve (room[] after
 * the moves), scaled to 0 (as near as local memory) .. 1 (the farthest
 * distance on this host, or no node with room at all). */
static double spill_penalty(const struct nl_topology *t, const double *room, int h)
{
	int nn = t->nnodes, dmin = -1, dmax = max_distance(t);

	if (nn < 2)
		return 0;
	for (int n = 0; n < nn; n++)
		if (n != h && room[n] > 0 && (dmin < 0 || t->distance[h][n] < dmin))
			dmin = t->distance[h][n];
	if (dmin < 0 || dmax <= 10)
		return 1;
	return (double)(dmin - 10) / (dmax - 10);
}

/* The node's share of the host's memory-intensive load; with `slit`, the
 * load of every node weighted by its nearness to h. */
static double node_load(const struct nl_place_ctx *pc, int h, bool slit)
{
	const struct nl_topology *t = &pc->s->topo;
	int dmax = max_distance(t);
	double l = 0;

	if (!pc->intensive || !(pc->total_int > 0))
		return 0;
	for (int n = 0; n < pc->nn; n++) {
		double w = n == h ? 1 : 0;

		if (slit && n != h && dmax > 10)
			w = 1 - (double)(t->distance[h][n] - 10) / (dmax - 10);
		l += w * pc->r->nodes[n].intensity_sum;
	}
	return fmin(1, l / pc->total_int);
}

static void infeasible_cpu(const struct nl_place_ctx *pc, int h, double have,
			   struct nl_node_rank *rk)
{
	double held = pc->rv ? pc->rv->cpu_cores[h] : 0;

	rk->reason_code = "cpu";
	snprintf(rk->reason, sizeof(rk->reason),
		 "needs %.2f cores, %.2f spare at --hints.cpu-limit %.2f%s",
		 pc->cpu_need, have, pc->cfg->cpu_limit,
		 held > 0 ? " after the pending arrivals" : "");
}

static void infeasible_memory(const struct nl_place_ctx *pc, int h,
			      struct nl_node_rank *rk)
{
	double held = pc->rv ? pc->rv->mem_bytes[h] : 0;

	rk->nmoves = 0;
	rk->reason_code = "memory";
	snprintf(rk->reason, sizeof(rk->reason),
		 "needs %.2f GiB, %.2f GiB free above the reserve%s, and %s memory cannot make up the rest",
		 (pc->mem_need - pc->own_mem[h]) / GIB, fmax(0, pc->avail[h]) / GIB,
		 held > 0 ? " after the pending arrivals" : "",
		 pc->pol == NL_POLICY_SIMPLE ? "lower-LLC-miss VMs'" : "resident VMs' cold");
}

/* A VM with passthrough devices belongs on their node: its vCPUs run
 * there, and its memory, pinned by VFIO once it runs, must be allocated
 * there. True (and the reason) when node h is not that node. Devices of
 * no known node, or on several nodes, place nothing. */
static bool device_elsewhere(const struct nl_place_ctx *pc, struct nl_node_rank *rk)
{
	const struct nl_profile *p = pc->p;
	int dev = -1;

	for (int i = 0; i < p->ndevices && i < NL_MAX_VM_DEVICES; i++) {
		if (p->devices[i].node < 0)
			continue;
		if (dev >= 0 && p->devices[dev].node != p->devices[i].node)
			return false;
		if (dev < 0)
			dev = i;
	}
	if (dev < 0 || p->devices[dev].node == rk->node)
		return false;
	rk->reason_code = "device";
	snprintf(rk->reason, sizeof(rk->reason),
		 "its passthrough device %s is on node %d: the vCPUs and the memory VFIO pins belong there",
		 p->devices[dev].device, p->devices[dev].node);
	return true;
}

void nl_place_rank_node(const struct nl_place_ctx *pc, int h, struct nl_node_rank *rk)
{
	const struct nl_node_summary *ns = &pc->r->nodes[h];
	double tmp[NL_MAX_NODES], room, moved = 0, have, util, frac, spill, load = 0;
	double held_cpu = pc->rv ? pc->rv->cpu_cores[h] : 0;

	rk->node = pc->s->topo.nodes[h].id;
	rk->free_bytes = ns->mem_free_bytes;
	rk->spare_cpus = pc->spare[h];
	have = pc->spare[h] + pc->own_cpu[h];
	if (device_elsewhere(pc, rk))
		return;
	if (pc->cpu_need > have + 1e-6) {
		infeasible_cpu(pc, h, have, rk);
		return;
	}
	memcpy(tmp, pc->avail, sizeof(tmp));
	room = make_room(pc, h, (pc->mem_need - pc->own_mem[h]) - tmp[h], tmp, &moved, rk);
	if (room > 0.5) {
		infeasible_memory(pc, h, rk);
		return;
	}
	rk->feasible = true;
	rk->bytes_to_free = (uint64_t)moved;
	util = ns->ncpus > 0 ?
	       (ns->cpu_cores_used + held_cpu - pc->own_cpu[h] + pc->cpu_need) / ns->ncpus : 1;
	util = fmin(1, fmax(0, util));
	frac = moved / pc->mem_need;
	spill = spill_penalty(&pc->s->topo, tmp, h);
	switch (pc->pol) {
	case NL_POLICY_DINO:
		load = node_load(pc, h, false);
		rk->score = 1 - 0.4 * load - 0.3 * frac - 0.1 * util - 0.05 * spill;
		break;
	case NL_POLICY_ASYMSCHED:
		load = node_load(pc, h, true);
		rk->score = 1 - 0.3 * load - 0.3 * frac - 0.1 * util - 0.2 * spill;
		break;
	default:
		rk->score = 1 - 0.5 * frac - 0.1 * util - 0.05 * spill;
		break;
	}
	rk->score = fmin(1, fmax(0.01, rk->score));
	rk->reason_code = moved > 0 ? "fits_after_moves" : "fits";
	if (moved > 0)
		snprintf(rk->reason, sizeof(rk->reason),
			 "fits after moving %.2f GiB of %s memory to other nodes", moved / GIB,
			 pc->pol == NL_POLICY_SIMPLE ? "lower-LLC-miss VMs'" : "resident VMs' cold");
	else
		snprintf(rk->reason, sizeof(rk->reason),
			 "fits: %.2f GiB free above the reserve, %.2f cores spare",
			 pc->avail[h] / GIB, have);
	if (pc->pol == NL_POLICY_DINO && pc->intensive)
		nl_hints_appendf(rk->reason, sizeof(rk->reason),
				 "; %.0f%% of the host's memory-intensive load runs here", 100 * load);
	else if (pc->pol == NL_POLICY_ASYMSCHED)
		nl_hints_appendf(rk->reason, sizeof(rk->reason),
				 "; contention %.2f by SLIT distance, overflow distance %.2f", load, spill);
}

/* ---- wide VMs ---- */

/* Grow a set from node h, nearest nodes (SLIT) first, until it has the
 * memory and CPU the VM needs. Returns its size, 0 when even all nodes
 * with room fall short. */
static int grow_set(const struct nl_place_ctx *pc, int h, int *set, double *mem_out)
{
	const struct nl_topology *t = &pc->s->topo;
	bool in[NL_MAX_NODES] = { false };
	double mem = 0, cpu = 0;
	int n = 0;

	for (int k = h; k >= 0;) {
		in[k] = true;
		set[n++] = k;
		mem += fmax(0, pc->avail[k] + pc->own_mem[k]);
		cpu += fmax(0, pc->spare[k] + pc->own_cpu[k]);
		if (mem >= pc->mem_need - 0.5 && cpu >= pc->cpu_need - 1e-6)
			break;
		k = -1;
		for (int m = 0; m < pc->nn; m++) {
			if (in[m] || pc->avail[m] + pc->own_mem[m] <= 0)
				continue;
			if (k < 0 || t->distance[h][m] < t->distance[h][k] ||
			    (t->distance[h][m] == t->distance[h][k] && pc->avail[m] > pc->avail[k]))
				k = m;
		}
	}
	*mem_out = mem;
	return mem >= pc->mem_need - 0.5 && cpu >= pc->cpu_need - 1e-6 ? n : 0;
}

/* Score of a set: 0.5 at most (a single node that fits always ranks
 * above), less for a larger SLIT distance within it and for more nodes,
 * and under dino and asymsched for its share of the memory-intensive load. */
static double set_score(const struct nl_place_ctx *pc, const int *set, int n, int *dist)
{
	const struct nl_topology *t = &pc->s->topo;
	int dmax = max_distance(t), d = 10;
	double load = 0, sc;

	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (t->distance[set[i]][set[j]] > d)
				d = t->distance[set[i]][set[j]];
	if (pc->pol == NL_POLICY_DINO || pc->pol == NL_POLICY_ASYMSCHED)
		for (int i = 0; i < n; i++)
			load += node_load(pc, set[i], false);
	*dist = d;
	sc = 0.5 - 0.25 * (dmax > 10 ? (double)(d - 10) / (dmax - 10) : 0) -
	     0.05 * (n - 2) - 0.1 * fmin(1, load);
	return fmax(0.01, sc);
}

bool nl_place_wide(const struct nl_place_ctx *pc, struct nl_placement *pl)
{
	int best[NL_MAX_NODES], nbest = 0, bdist = 10;
	double bscore = -1, bmem = 0;
	char list[NL_MAX_NODES * 5];

	for (int h = 0; h < pc->nn; h++) {
		int set[NL_MAX_NODES], n, d;
		double mem, sc;

		if (pc->avail[h] + pc->own_mem[h] <= 0)
			continue;
		n = grow_set(pc, h, set, &mem);
		if (n < 2)
			continue;
		sc = set_score(pc, set, n, &d);
		if (sc > bscore + 1e-9 || (fabs(sc - bscore) <= 1e-9 && n < nbest)) {
			memcpy(best, set, sizeof(int) * (size_t)n);
			nbest = n;
			bscore = sc;
			bdist = d;
			bmem = mem;
		}
	}
	if (nbest < 2)
		return false;
	list[0] = '\0';
	for (int i = 0; i < nbest; i++) {
		pl->chosen[i] = pc->s->topo.nodes[best[i]].id;
		nl_hints_appendf(list, sizeof(list), "%s%d", i ? "," : "", pl->chosen[i]);
	}
	pl->nchosen = nbest;
	pl->fits = true;
	pl->recommended_node = pl->chosen[0];
	snprintf(pl->reason, sizeof(pl->reason),
		 "%s: no single node can take %.2f GiB and %.2f cores; nodes %.60s together have %.2f GiB free above the reserve, at SLIT distance %d (score %.2f)",
		 nl_policy_name(pc->pol), pc->mem_need / GIB, pc->cpu_need, list, bmem / GIB,
		 bdist, bscore);
	return true;
}
