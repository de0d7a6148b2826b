#include "snapshot.h"
#include "state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hints.h"
#include "score.h"

static void snapshot_free(struct nl_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nvms; i++) {
		free(s->vms[i].series);
		free(s->vms[i].threads);
	}
	free(s->vms);
	nl_hint_report_free(s->hints);
	free(s->resctrl.vms);
	free(s);
}

void nl_snapshot_get(struct nl_snapshot *snap)
{
	__atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
}

void nl_snapshot_put(struct nl_snapshot *snap)
{
	if (snap && __atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL) == 0)
		snapshot_free(snap);
}

static struct nl_series *series_for(struct nl_vm_snap *v, enum nl_role role,
				    int index)
{
	for (size_t i = 0; i < v->nseries; i++)
		if (v->series[i].role == role && v->series[i].index == index)
			return &v->series[i];
	return NULL;
}

static struct nl_series *series_add(struct nl_vm_snap *v, enum nl_role role,
				    int index)
{
	struct nl_series *s = &v->series[v->nseries++];

	memset(s, 0, sizeof(*s));
	s->role = role;
	s->index = index;
	s->scaling_ratio = NAN;
	for (int g = 0; g < NL_MAX_GROUPS; g++)
		s->group_scaling[g] = NAN;
	return s;
}

static int series_cmp(const void *a, const void *b)
{
	const struct nl_series *x = a, *y = b;

	if (x->role != y->role)
		return (int)x->role - (int)y->role;
	return x->index - y->index;
}

/* vCPUs and iothreads are one series per index; emulator and vhost threads
 * are summed per role (TIDs would churn labels), with the totals of exited
 * threads included so the sums stay monotonic. */
static int build_series(const struct nl_vm *vm, struct nl_vm_snap *v)
{
	/* at most one series per thread plus two summed roles */
	size_t max = vm->nthreads + 2;
	double *ratio_sum = calloc(max, sizeof(*ratio_sum));
	int *ratio_n = calloc(max, sizeof(*ratio_n));
	double (*gsum)[NL_MAX_GROUPS] = calloc(max, sizeof(*gsum));
	int (*gn)[NL_MAX_GROUPS] = calloc(max, sizeof(*gn));
	int rc = -1;

	v->series = calloc(max, sizeof(*v->series));
	if (!v->series || !ratio_sum || !ratio_n || !gsum || !gn)
		goto cleanup;
	for (size_t i = 0; i < vm->nthreads; i++) {
		const struct nl_thread *t = &vm->threads[i];
		bool summed = t->role == NL_ROLE_EMULATOR || t->role == NL_ROLE_VHOST;
		int index = summed ? -1 : t->index;
		struct nl_series *s = series_for(v, t->role, index);

		if (!s)
			s = series_add(v, t->role, index);
		s->nthreads++;
		s->run_ns += t->run_ns;
		for (int n = 0; n < NL_MAX_NODES; n++) {
			s->node_ns[n] += t->node_ns[n];
			s->win_node_ns[n] += t->win_node_ns[n];
		}
		for (int e = 0; e < NL_MAX_EVENTS; e++)
			if (t->events_valid & (1u << e))
				s->events[e] += t->events[e];
		s->events_valid |= t->events_valid;
		nl_cpuset_or(&s->cpus_allowed, &t->cpus_allowed);
		s->mems_allowed |= t->mems_allowed;
		if (!isnan(t->scaling_ratio)) {
			size_t si = (size_t)(s - v->series);

			ratio_sum[si] += t->scaling_ratio;
			ratio_n[si]++;
		}
		for (int e = 0; e < NL_MAX_EVENTS; e++)
			if (t->win_valid & (1u << e))
				s->win_events[e] += t->win_events[e];
		s->win_valid |= t->win_valid;
		for (int g = 0; g < NL_MAX_GROUPS; g++) {
			size_t si = (size_t)(s - v->series);

			if (isnan(t->group_scaling[g]))
				continue;
			gsum[si][g] += t->group_scaling[g];
			gn[si][g]++;
		}
	}
	/* summed roles: the mean ratio of their threads */
	for (size_t i = 0; i < v->nseries; i++) {
		if (ratio_n[i])
			v->series[i].scaling_ratio = ratio_sum[i] / ratio_n[i];
		for (int g = 0; g < NL_MAX_GROUPS; g++)
			if (gn[i][g])
				v->series[i].group_scaling[g] =
					gsum[i][g] / gn[i][g];
	}

	for (int r = 0; r < NL_ROLE_COUNT; r++) {
		struct nl_series *s;

		if (r != NL_ROLE_EMULATOR && r != NL_ROLE_VHOST)
			continue;
		s = series_for(v, (enum nl_role)r, -1);
		if (!s && vm->retired_run_ns[r] == 0)
			continue;
		if (!s)
			s = series_add(v, (enum nl_role)r, -1);
		s->run_ns += vm->retired_run_ns[r];
		for (int n = 0; n < NL_MAX_NODES; n++)
			s->node_ns[n] += vm->retired_node_ns[r][n];
		for (int e = 0; e < NL_MAX_EVENTS; e++) {
			s->events[e] += vm->retired_events[r][e];
			if (vm->retired_events[r][e])
				s->events_valid |= 1u << e;
		}
	}
	qsort(v->series, v->nseries, sizeof(*v->series), series_cmp);
	rc = 0;
cleanup:
	free(ratio_sum);
	free(ratio_n);
	free(gsum);
	free(gn);
	return rc;
}

/* PMU scores per role and for all threads, from the last window's event
 * deltas of the VM's current threads. */
static void pmu_scores(const struct nl_vm *vm, const struct nl_state *st,
		       struct nl_vm_snap *v)
{
	struct nl_pmu_score_events ix;

	nl_score_pmu_events(st->perf.events, st->perf.nevents, &ix);
	v->vcpu_host_cycles_ratio = NAN;
	for (int r = 0; r <= NL_ROLE_ALL; r++) {
		uint64_t win[NL_MAX_EVENTS] = { 0 };
		uint32_t valid = 0;

		for (size_t i = 0; i < vm->nthreads; i++) {
			const struct nl_thread *t = &vm->threads[i];

			if (r != NL_ROLE_ALL && (int)t->role != r)
				continue;
			for (int e = 0; e < NL_MAX_EVENTS; e++)
				if (t->win_valid & (1u << e))
					win[e] += t->win_events[e];
			valid |= t->win_valid;
		}
		nl_score_pmu(&ix, win, valid, &v->pmu_locality[r],
			     &v->llc_mpki[r], &v->cpi[r]);
		if (r == NL_ROLE_VCPU)
			v->vcpu_host_cycles_ratio = nl_score_host_cycles_ratio(&ix, win, valid);
		v->locality_sources[r] =
			(isnan(v->locality[r]) ? 0 : NL_LOCALITY_SRC_PLACEMENT) |
			(isnan(v->pmu_locality[r]) ? 0 : NL_LOCALITY_SRC_PMU);
		v->pmu_scores[r] =
			(isnan(v->pmu_locality[r]) ? 0 : NL_PMU_SCORE_LOCALITY) |
			(isnan(v->llc_mpki[r]) ? 0 : NL_PMU_SCORE_MPKI) |
			(isnan(v->cpi[r]) ? 0 : NL_PMU_SCORE_CPI);
	}
}

/* Guest RAM and VMM memory now. The VMM's bytes on each node are those of
 * the last numa_maps split, no more than the node's current figure (the
 * cgroup's, every cycle; or that reading itself); the rest is guest RAM.
 * What moves or grows between two readings is the guest's: a boot
 * touching RAM, migrate_memory or the kernel's balancing moving it. The
 * VMM's few MiB stay put, and a drift of 5% re-reads the split
 * (numa_maps.c), so a stale split never holds a moved guest back. */
static void mem_split(const struct nl_vm *vm, struct nl_vm_snap *v)
{
	v->mem_split = vm->split_valid && vm->mem_source != NL_MEM_NONE;
	v->numa_maps_capped = vm->numa_maps_capped;
	if (!v->mem_split)
		return;
	for (int n = 0; n < NL_MAX_NODES; n++) {
		uint64_t tot = vm->mem_bytes[n];

		v->mem_vmm_bytes[n] = vm->split_vmm[n] < tot ? vm->split_vmm[n] : tot;
		v->mem_guest_bytes[n] = tot - v->mem_vmm_bytes[n];
	}
}

/* The memory a role's accesses go to: vCPUs to guest RAM, the VMM's
 * threads to its own memory, when the split is known; else all of it. */
static const uint64_t *role_mem(const struct nl_vm *vm, const struct nl_vm_snap *v, int role)
{
	if (!v->mem_split || role == NL_ROLE_ALL)
		return vm->mem_bytes;
	return role == NL_ROLE_VCPU ? v->mem_guest_bytes : v->mem_vmm_bytes;
}

/* CPU-time shares of a role over the last window. A role that did not run
 * in the window (an idle VM) is placed where its threads last ran. */
static void role_cpu(const struct nl_vm *vm, int role, const struct nl_topology *t,
		     uint64_t *cpu)
{
	uint64_t sum = 0;

	memset(cpu, 0, sizeof(uint64_t) * NL_MAX_NODES);
	for (size_t i = 0; i < vm->nthreads; i++) {
		const struct nl_thread *th = &vm->threads[i];

		if (role != NL_ROLE_ALL && (int)th->role != role)
			continue;
		for (int n = 0; n < t->nnodes; n++) {
			cpu[n] += th->win_node_ns[n];
			sum += th->win_node_ns[n];
		}
	}
	if (sum > 0)
		return;
	for (size_t i = 0; i < vm->nthreads; i++) {
		const struct nl_thread *th = &vm->threads[i];

		if (role != NL_ROLE_ALL && (int)th->role != role)
			continue;
		if (th->last_cpu >= 0 && th->last_cpu < NL_MAX_CPUS &&
		    t->cpu_node[th->last_cpu] >= 0)
			cpu[t->cpu_node[th->last_cpu]] += 1;
	}
}

/* The node an idle thread counts on: where it last ran, unless it may no
 * longer run there (pinned away while asleep: a halted vCPU wakes where
 * its affinity allows), then the first node its affinity allows; -1. */
static int idle_node(const struct nl_thread *th, const struct nl_topology *t)
{
	int n = th->last_cpu >= 0 && th->last_cpu < NL_MAX_CPUS ? t->cpu_node[th->last_cpu] : -1;

	if (n >= 0 && (nl_cpuset_count(&th->cpus_allowed) == 0 ||
		       nl_cpuset_isset(&th->cpus_allowed, th->last_cpu)))
		return n;
	for (int k = 0; k < t->nnodes; k++)
		for (int cpu = 0; cpu < NL_MAX_CPUS; cpu++)
			if (nl_cpuset_isset(&t->nodes[k].cpus, cpu) &&
			    nl_cpuset_isset(&th->cpus_allowed, cpu))
				return k;
	return n;
}

/* CPU time of the vCPU threads of one cell by node over the last window
 * (where an idle one would run, idle_node(), when none ran); returns the
 * window's sum. */
static uint64_t cell_cpu(const struct nl_vm *vm, uint64_t vcpus, const struct nl_topology *t,
			 uint64_t *cpu)
{
	uint64_t sum = 0;

	memset(cpu, 0, sizeof(uint64_t) * NL_MAX_NODES);
	for (int pass = 0; pass < 2 && sum == 0; pass++)
		for (size_t i = 0; i < vm->nthreads; i++) {
			const struct nl_thread *th = &vm->threads[i];

			if (th->role != NL_ROLE_VCPU || th->index < 0 || th->index > 63 ||
			    !(vcpus >> th->index & 1))
				continue;
			if (pass == 0) {
				for (int n = 0; n < t->nnodes; n++) {
					cpu[n] += th->win_node_ns[n];
					sum += th->win_node_ns[n];
				}
			} else {
				int n = idle_node(th, t);

				if (n >= 0)
					cpu[n] += 1;
			}
		}
	return sum;
}

/* A wide VM's cells, each scored on its own: its vCPUs against its own
 * memory. When every cell's memory is known, the vCPU role's locality and
 * distance are the cells', weighted by their vCPUs' time in the window (by
 * their vCPU count when the vCPUs were idle): a VM spread over two nodes
 * on purpose, each cell on its own node, scores 1. */
static void score_cells(const struct nl_vm *vm, const struct nl_topology *t, bool measured,
			struct nl_vm_snap *v)
{
	double wsum = 0, loc = 0, dist = 0, cdist[NL_MAX_CELLS];
	uint64_t tsum = 0, ns[NL_MAX_CELLS];

	v->cells_invalid = vm->cells.invalid;
	memcpy(v->cells_why, vm->cells.why, sizeof(v->cells_why));
	v->cells_source = vm->cells_from == NL_CELLS_LIBVIRT ? "libvirt"
			  : vm->cells_from == NL_CELLS_CMDLINE ? "cmdline" : "";
	v->ncells = vm->cells.invalid ? 0 : vm->cells.n;
	for (int c = 0; c < v->ncells; c++) {
		struct nl_cell_snap *x = &v->cells[c];
		uint64_t cpu[NL_MAX_NODES], mem = 0, best = 0;
		double csum = 0;

		memset(x, 0, sizeof(*x));
		x->cfg = vm->cells.cell[c];
		x->home = -1;
		x->locality = cdist[c] = NAN;
		ns[c] = cell_cpu(vm, x->cfg.vcpus, t, cpu);
		tsum += ns[c];
		for (int n = 0; n < t->nnodes; n++)
			csum += (double)cpu[n];
		for (int n = 0; n < t->nnodes; n++)
			x->cpu_share[n] = csum > 0 ? (double)cpu[n] / csum : 0;
		x->mem_known = measured && vm->cell_mem_valid;
		if (!x->mem_known)
			continue;
		memcpy(x->mem_bytes, vm->cell_mem[c], sizeof(x->mem_bytes));
		for (int n = 0; n < t->nnodes; n++) {
			mem += x->mem_bytes[n];
			if (x->mem_bytes[n] > best) {
				best = x->mem_bytes[n];
				x->home = n;
			}
		}
		if (mem > 0)
			nl_score_placement(cpu, x->mem_bytes, t, &x->locality, &cdist[c]);
	}
	if (v->ncells == 0 || !measured || !vm->cell_mem_valid)
		return;
	for (int c = 0; c < v->ncells; c++) {
		struct nl_cell_snap *x = &v->cells[c];

		x->weight = tsum > 0 ? (double)ns[c] : (double)__builtin_popcountll(x->cfg.vcpus);
		wsum += x->weight;
		if (isnan(x->locality))
			return;        /* a cell without memory or vCPU time: whole-VM */
	}
	for (int c = 0; c < v->ncells; c++) {
		struct nl_cell_snap *x = &v->cells[c];

		x->weight = wsum > 0 ? x->weight / wsum : 0;
		loc += x->weight * x->locality;
		dist += x->weight * cdist[c];
	}
	v->locality[NL_ROLE_VCPU] = loc;
	v->distance[NL_ROLE_VCPU] = dist;
}

static void copy_perf(const struct nl_perf_info *pi, struct nl_snapshot *s)
{
	memcpy(s->events, pi->events, sizeof(s->events));
	s->nevents = pi->nevents;
	s->perf_fds = pi->fds;
	memcpy(s->pmu_name, pi->pmu_name, sizeof(s->pmu_name));
	memcpy(s->cpu_model, pi->cpu_model, sizeof(s->cpu_model));
	memcpy(s->perf_catalog, pi->catalog, sizeof(s->perf_catalog));
	s->perf_gp_counters = pi->gp_counters;
	memcpy(s->perf_groups, pi->groups, sizeof(s->perf_groups));
	s->nperf_groups = pi->ngroups;
}

static int vm_cmp(const void *a, const void *b)
{
	const struct nl_vm_snap *x = a, *y = b;

	return strcmp(x->name, y->name);
}

struct nl_snapshot *nl_snapshot_build(const struct nl_state *st,
				      const struct nl_collector_stat *stats,
				      int nstats, double sample_duration)
{
	struct nl_snapshot *s = calloc(1, sizeof(*s));
	struct timespec ts;

	if (!s)
		return NULL;
	s->refs = 1;
	s->gen = st->gen;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->timestamp = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	s->mono_ns = st->now_ns;
	s->window_seconds = st->prev_ns ? (st->now_ns - st->prev_ns) / 1e9 : 0;
	s->topo = st->topo;
	s->topo_valid = st->topo_valid;
	if (nstats > NL_MAX_SOURCES)
		nstats = NL_MAX_SOURCES;
	memcpy(s->collectors, stats, sizeof(*stats) * (size_t)nstats);
	s->ncollectors = nstats;
	s->sample_duration_seconds = sample_duration;
	s->libvirt_up = st->libvirt_up;
	s->samples_total = st->gen;
	copy_perf(&st->perf, s);

	s->vms = calloc(st->nvms ? st->nvms : 1, sizeof(*s->vms));
	if (!s->vms)
		goto fail;
	for (size_t i = 0; i < st->nvms; i++) {
		const struct nl_vm *vm = st->vms[i];
		struct nl_vm_snap *v = &s->vms[s->nvms++];

		memcpy(v->name, vm->name, sizeof(v->name));
		memcpy(v->uuid, vm->uuid, sizeof(v->uuid));
		v->pid = vm->pid;
		v->backend = vm->backend;
		v->mem_source = vm->mem_source;
		memcpy(v->mem_bytes, vm->mem_bytes, sizeof(v->mem_bytes));
		v->dev_nodes = vm->dev_nodes;
		v->ndevices = vm->ndevices;
		memcpy(v->devices, vm->devices, sizeof(v->devices));
		v->arrival = vm->arrival;
		/* an event seen after this cycle began is 0 s old, not NaN */
		v->arrival_age_seconds = vm->arrival == NL_ARRIVAL_NONE ? NAN :
			st->now_ns > vm->arrived_ns ?
			(double)(st->now_ns - vm->arrived_ns) / 1e9 : 0;
		for (int n = 0; n < NL_MAX_NODES; n++)
			v->mem_total_bytes += vm->mem_bytes[n];
		v->threads = malloc((vm->nthreads ? vm->nthreads : 1) *
				    sizeof(*v->threads));
		if (!v->threads)
			goto fail;
		memcpy(v->threads, vm->threads, vm->nthreads * sizeof(*v->threads));
		v->nthreads = vm->nthreads;
		s->threads_tracked += vm->nthreads;
		if (build_series(vm, v) < 0)
			goto fail;
		mem_split(vm, v);
		for (int r = 0; r <= NL_ROLE_ALL; r++) {
			uint64_t cpu[NL_MAX_NODES];

			v->locality[r] = NAN;
			v->distance[r] = NAN;
			if (!st->topo_valid || vm->mem_source == NL_MEM_NONE)
				continue;
			role_cpu(vm, r, &st->topo, cpu);
			nl_score_placement(cpu, role_mem(vm, v, r), &st->topo,
					   &v->locality[r], &v->distance[r]);
		}
		score_cells(vm, &st->topo, st->topo_valid && vm->mem_source != NL_MEM_NONE, v);
		pmu_scores(vm, st, v);
	}
	qsort(s->vms, s->nvms, sizeof(*s->vms), vm_cmp);
	return s;
fail:
	snapshot_free(s);
	return NULL;
}

const struct nl_vm_snap *nl_snapshot_find_vm(const struct nl_snapshot *s,
					     const char *name)
{
	struct nl_vm_snap key;

	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, s->vms, s->nvms, sizeof(*s->vms), vm_cmp);
}
