/* Fixture hosts for the hint engine's tests (test_hints.c,
 * test_arrivals.c): a host of N nodes built in C and fed with counter
 * traces window by window, the snapshot laid out as snapshot.c lays it
 * out, and the checks every hint list must pass. Functions are static
 * inline so that each test uses only what it needs. */
#ifndef NL_TEST_HINTS_FIXTURE_H
#define NL_TEST_HINTS_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hints.h"
#include "score.h"
#include "snapshot.h"

#define GiB (1024.0 * 1024 * 1024)
#define MAXVM 16
#define INTERVAL 2.0

enum { EV_INSTR, EV_LLC, EV_DL, EV_DR, EV_PF, EV_N };

struct fx_vm {
	const char *name;
	char uuid[NL_UUID_LEN];
	pid_t pid;
	int nvcpus, niothreads;
	bool emulator;
	double mem[NL_MAX_NODES];        /* bytes per node index */
	double vmm_mem[NL_MAX_NODES];    /* the VMM's own memory; when set, mem[]
					    is guest RAM and the split known */
	double vcpu[NL_MAX_NODES];       /* busy vCPU cores per node index */
	double vmm[NL_MAX_NODES];        /* busy VMM cores per node index */
	int vcpu_pin, vmm_pin;           /* node index the threads are pinned to, -1 */
	double mpki;                     /* LLC misses per 1000 instructions */
	double ipc_rate;                 /* instructions per second */
	double dram_bw;                  /* bytes/s; 0 = use llc */
	bool unmeasured;                 /* memory placement unknown */
	uint64_t dev_nodes;              /* passthrough devices, node indexes */
	int dev_unknown;                 /* more devices, of no known node */
	int ncells;                      /* guest NUMA cells (snapshot.c's cells[]): */
	struct {
		uint64_t vcpus;          /* bit i: vCPU i */
		double mem[NL_MAX_NODES];/* bytes per node index (mem[] is their sum) */
		int node;                /* node index its vCPUs run on, pinned */
	} cell[4];
	enum nl_arrival arrival;         /* how it came, seen at host time arrived_t */
	double arrived_t;
	uint64_t ev[EV_N];               /* cumulative counters */
	uint64_t win[EV_N];              /* their last window */
	int windows;                     /* snapshots it was in */
};

struct fx_host {
	int nnodes, cpn;
	double node_mem, other_used[NL_MAX_NODES];
	int dist[NL_MAX_NODES][NL_MAX_NODES];
	bool pmu, dram;
	struct fx_vm vm[MAXVM];
	int nvms;
	double t;
	uint64_t mono;
	double noise;                    /* +-fraction on rates and cores */
	unsigned rng;
};

static inline double rnd(struct fx_host *h)
{
	h->rng = h->rng * 1103515245u + 12345u;
	return ((h->rng >> 8) & 0xffff) / 65535.0;
}

static inline double jitter(struct fx_host *h)
{
	return h->noise > 0 ? 1 + h->noise * (2 * rnd(h) - 1) : 1;
}

/* Set the first n x n SLIT distances from a table of rows of n. */
static inline void host_slit(struct fx_host *h, int n, const int *d)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			h->dist[i][j] = d[i * n + j];
}

static inline void host_init(struct fx_host *h, int nnodes, int cpn, double node_mem)
{
	memset(h, 0, sizeof(*h));
	h->nnodes = nnodes;
	h->cpn = cpn;
	h->node_mem = node_mem;
	h->pmu = true;
	h->t = 1.7e9;
	h->mono = 1000000000000ULL;
	h->rng = 12345;
	for (int i = 0; i < nnodes; i++) {
		h->other_used[i] = 1 * GiB;
		for (int j = 0; j < nnodes; j++)
			h->dist[i][j] = i == j ? 10 : 21;
	}
}

static inline struct fx_vm *add_vm(struct fx_host *h, const char *name, int nvcpus)
{
	struct fx_vm *v = &h->vm[h->nvms];

	memset(v, 0, sizeof(*v));
	v->name = name;
	snprintf(v->uuid, sizeof(v->uuid), "00000000-0000-4000-8000-%012d", h->nvms + 1);
	v->pid = 1000 + h->nvms;
	v->nvcpus = nvcpus;
	v->niothreads = 1;
	v->emulator = true;
	v->vcpu_pin = v->vmm_pin = -1;
	v->ipc_rate = 2e9;
	h->nvms++;
	return v;
}

static inline void node_cpus(const struct fx_host *h, int n, struct nl_cpuset *s)
{
	nl_cpuset_zero(s);
	for (int c = 0; c < h->cpn; c++)
		nl_cpuset_set(s, n * h->cpn + c);
}

static inline void all_cpus(const struct fx_host *h, struct nl_cpuset *s)
{
	nl_cpuset_zero(s);
	for (int c = 0; c < h->cpn * h->nnodes; c++)
		nl_cpuset_set(s, c);
}

/* The PMU scores per role from the series' window deltas, as snapshot.c
 * computes them from the threads' (score.c). */
static inline void fx_pmu_scores(const struct nl_snapshot *s, struct nl_vm_snap *v)
{
	struct nl_pmu_score_events ix;

	nl_score_pmu_events(s->events, s->nevents, &ix);
	for (int r = 0; r <= NL_ROLE_ALL; r++) {
		uint64_t win[NL_MAX_EVENTS] = { 0 };
		uint32_t valid = 0;

		for (size_t j = 0; j < v->nseries; j++) {
			const struct nl_series *se = &v->series[j];

			if (r != NL_ROLE_ALL && (int)se->role != r)
				continue;
			for (int k = 0; k < NL_MAX_EVENTS; k++)
				if (se->win_valid >> k & 1)
					win[k] += se->win_events[k];
			valid |= se->win_valid;
		}
		nl_score_pmu(&ix, win, valid, &v->pmu_locality[r], &v->llc_mpki[r],
			     &v->cpi[r]);
	}
}

/* A wide VM's cells as snapshot.c scores them: each cell's vCPUs (all on
 * its node) against its own memory, the vCPU role's locality their
 * weighted sum (by vCPU time: every vCPU equally busy here). */
static inline void fx_cells(const struct fx_host *h, const struct fx_vm *f,
			    const struct nl_snapshot *s, struct nl_vm_snap *v)
{
	double loc = 0, dist = 0;

	v->ncells = f->ncells;
	for (int k = 0; k < f->ncells; k++) {
		struct nl_cell_snap *x = &v->cells[k];
		uint64_t cpu[NL_MAX_NODES] = { 0 }, mem[NL_MAX_NODES] = { 0 }, best = 0;
		double d;

		memset(x, 0, sizeof(*x));
		x->cfg.id = k;
		x->cfg.vcpus = f->cell[k].vcpus;
		x->mem_known = true;
		x->home = -1;
		cpu[f->cell[k].node] = 1;
		x->cpu_share[f->cell[k].node] = 1;
		for (int n = 0; n < h->nnodes; n++) {
			mem[n] = x->mem_bytes[n] = (uint64_t)f->cell[k].mem[n];
			x->cfg.mem_bytes += mem[n];
			if (mem[n] > best) {
				best = mem[n];
				x->home = n;
			}
		}
		nl_score_placement(cpu, mem, &s->topo, &x->locality, &d);
		x->weight = (double)__builtin_popcountll(x->cfg.vcpus) / f->nvcpus;
		loc += x->weight * x->locality;
		dist += x->weight * d;
	}
	if (f->ncells) {
		v->locality[NL_ROLE_VCPU] = loc;
		v->distance[NL_ROLE_VCPU] = dist;
	}
}

static inline int vm_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct nl_vm_snap *)a)->name,
		      ((const struct nl_vm_snap *)b)->name);
}

/* One window: advance time and counters, build a heap snapshot the way
 * snapshot.c lays it out (VMs sorted by name). */
static inline struct nl_snapshot *host_snapshot(struct fx_host *h)
{
	struct nl_snapshot *s = calloc(1, sizeof(*s));
	static const char *const evn[EV_N] = { "instructions", "llc_misses",
					       "dram_local", "dram_remote", "page_faults" };

	h->t += INTERVAL;
	h->mono += (uint64_t)(INTERVAL * 1e9);
	s->refs = 1;
	s->gen = h->mono;
	s->timestamp = h->t;
	s->mono_ns = h->mono;
	s->window_seconds = INTERVAL;
	s->topo_valid = true;
	s->topo.nnodes = h->nnodes;
	s->topo.ncpus = h->nnodes * h->cpn;
	for (int n = 0; n < h->nnodes; n++) {
		double used = h->other_used[n];

		s->topo.nodes[n].id = n;
		node_cpus(h, n, &s->topo.nodes[n].cpus);
		for (int c = 0; c < h->cpn; c++)
			s->topo.cpu_node[n * h->cpn + c] = (int16_t)n;
		for (int i = 0; i < h->nvms; i++)
			used += h->vm[i].mem[n] + h->vm[i].vmm_mem[n];
		s->topo.nodes[n].mem_total_bytes = (uint64_t)h->node_mem;
		s->topo.nodes[n].mem_free_bytes = used < h->node_mem ? (uint64_t)(h->node_mem - used) : 0;
		for (int m = 0; m < h->nnodes; m++)
			s->topo.distance[n][m] = h->dist[n][m];
	}
	s->nevents = EV_N;
	for (int k = 0; k < EV_N; k++) {
		snprintf(s->events[k].name, sizeof(s->events[k].name), "%s", evn[k]);
		s->events[k].hardware = k != EV_PF;
		s->events[k].supported = k == EV_PF ? 1 :
					 (k == EV_DL || k == EV_DR) ? (h->pmu && h->dram) : h->pmu;
	}
	s->vms = calloc(MAXVM, sizeof(*s->vms));
	for (int i = 0; i < h->nvms; i++) {
		struct fx_vm *f = &h->vm[i];
		struct nl_vm_snap *v = &s->vms[s->nvms++];
		double j = jitter(h), vsum = 0, msum = 0, loc = 0;
		uint64_t cpu_ns[NL_MAX_NODES] = { 0 }, memb[NL_MAX_NODES] = { 0 };
		struct nl_cpuset vset, mset;
		size_t ns = 0;
		uint32_t valid = 0;

		snprintf(v->name, sizeof(v->name), "%s", f->name);
		memcpy(v->uuid, f->uuid, sizeof(v->uuid));
		v->pid = f->pid;
		v->backend = NL_BACKEND_LIBVIRT;
		v->mem_source = f->unmeasured ? NL_MEM_NONE : NL_MEM_CGROUP_V2;
		v->dev_nodes = f->dev_nodes;
		v->ndevices = __builtin_popcountll(f->dev_nodes) + f->dev_unknown;
		v->arrival = f->arrival;
		v->arrival_age_seconds = f->arrival != NL_ARRIVAL_NONE ? h->t - f->arrived_t : NAN;
		for (int n = 0; n < h->nnodes && !f->unmeasured; n++) {
			v->mem_bytes[n] = (uint64_t)(f->mem[n] * (h->noise > 0 ? jitter(h) : 1));
			v->mem_guest_bytes[n] = v->mem_bytes[n];
			v->mem_vmm_bytes[n] = (uint64_t)f->vmm_mem[n];
			v->mem_split |= f->vmm_mem[n] > 0;
			v->mem_bytes[n] += v->mem_vmm_bytes[n];
			v->mem_total_bytes += v->mem_bytes[n];
			memb[n] = v->mem_bytes[n];
		}
		/* counters */
		for (int n = 0; n < h->nnodes; n++) {
			vsum += f->vcpu[n];
			msum += f->mem[n];
		}
		for (int n = 0; n < h->nnodes && vsum > 0 && msum > 0 && !f->ncells; n++)
			loc += f->vcpu[n] / vsum * (f->mem[n] / msum);
		for (int k = 0; k < f->ncells; k++) {
			double cm = 0;

			for (int n = 0; n < h->nnodes; n++)
				cm += f->cell[k].mem[n];
			if (cm > 0)
				loc += (double)__builtin_popcountll(f->cell[k].vcpus) / f->nvcpus *
				       f->cell[k].mem[f->cell[k].node] / cm;
		}
		{
			double instr = f->ipc_rate * INTERVAL * j * (vsum > 0);
			double llc = instr * f->mpki / 1000 * jitter(h);
			double dram = f->dram_bw > 0 ? f->dram_bw * INTERVAL * jitter(h) / 64 : llc;

			uint64_t before[EV_N];

			memcpy(before, f->ev, sizeof(before));
			f->ev[EV_INSTR] += (uint64_t)instr;
			f->ev[EV_LLC] += (uint64_t)llc;
			f->ev[EV_DL] += (uint64_t)(dram * loc);
			f->ev[EV_DR] += (uint64_t)(dram * (1 - loc));
			/* the perf source opens a new thread's counters and
			 * reads them at once: its first window counts ~0 */
			for (int k = 0; k < EV_N; k++)
				f->win[k] = f->windows ? f->ev[k] - before[k] : 0;
			f->windows++;
		}
		for (int k = 0; k < EV_N; k++)
			if (s->events[k].supported == 1)
				valid |= 1u << k;
		v->series = calloc((size_t)f->nvcpus + (size_t)f->niothreads + 2, sizeof(*v->series));
		v->threads = calloc(1, sizeof(*v->threads));
		if (f->vcpu_pin >= 0)
			node_cpus(h, f->vcpu_pin, &vset);
		else
			all_cpus(h, &vset);
		if (f->vmm_pin >= 0)
			node_cpus(h, f->vmm_pin, &mset);
		else
			all_cpus(h, &mset);
		for (int c = 0; c < f->nvcpus; c++) {
			struct nl_series *se = &v->series[ns++];
			int cell = -1;

			for (int k = 0; k < f->ncells; k++)
				if (f->cell[k].vcpus >> c & 1)
					cell = k;
			se->role = NL_ROLE_VCPU;
			se->index = c;
			se->nthreads = 1;
			se->cpus_allowed = vset;
			se->mems_allowed = (1ULL << h->nnodes) - 1;
			if (cell >= 0)
				node_cpus(h, f->cell[cell].node, &se->cpus_allowed);
			for (int n = 0; n < h->nnodes; n++) {
				/* a cell's vCPUs: all their time on its node */
				double cores = cell < 0 ? f->vcpu[n] / f->nvcpus
					       : n == f->cell[cell].node ? vsum / f->nvcpus : 0;

				se->win_node_ns[n] = (uint64_t)(cores * INTERVAL * 1e9 * jitter(h));
				cpu_ns[n] += se->win_node_ns[n];
			}
			if (c == 0) {
				memcpy(se->events, f->ev, sizeof(f->ev));
				se->events_valid = valid;
				memcpy(se->win_events, f->win, sizeof(f->win));
				se->win_valid = valid;
			}
		}
		for (int k = 0; k < f->niothreads + (f->emulator ? 1 : 0); k++) {
			struct nl_series *se = &v->series[ns++];
			bool emu = f->emulator && k == 0;

			se->role = emu ? NL_ROLE_EMULATOR : NL_ROLE_IOTHREAD;
			se->index = emu ? -1 : k + (f->emulator ? 0 : 1);
			se->nthreads = 1;
			se->cpus_allowed = mset;
			se->mems_allowed = (1ULL << h->nnodes) - 1;
			for (int n = 0; n < h->nnodes; n++)
				se->win_node_ns[n] = (uint64_t)(f->vmm[n] / (f->niothreads + f->emulator) *
							       INTERVAL * 1e9 * j);
		}
		v->nseries = ns;
		for (int r = 0; r <= NL_ROLE_ALL; r++)
			v->locality[r] = v->distance[r] = NAN;
		nl_score_placement(cpu_ns, memb, &s->topo, &v->locality[NL_ROLE_VCPU],
				   &v->distance[NL_ROLE_VCPU]);
		fx_cells(h, f, s, v);
		fx_pmu_scores(s, v);
	}
	qsort(s->vms, s->nvms, sizeof(*s->vms), vm_name_cmp);
	return s;
}

static inline struct nl_hint_config test_cfg(void)
{
	struct nl_hint_config c;

	nl_hint_config_defaults(&c);
	return c;
}

/* ---- invariant checks ---- */

static inline const struct fx_vm *fx_by_name(const struct fx_host *h, const char *name)
{
	for (int i = 0; i < h->nvms; i++)
		if (!strcmp(h->vm[i].name, name))
			return &h->vm[i];
	return NULL;
}

/* No VM has hints aiming at two different nodes, a donor has no plan of
 * its own, evict stands alone; and applying the whole list overcommits no
 * node: a node that receives memory keeps half the reserve free (new plans
 * keep all of it, published ones may use half), a node that receives CPU
 * demand stays within its CPUs (new plans: within --hints.cpu-limit). */
static inline int check_invariants(const struct fx_host *h, const struct nl_snapshot *s,
			    enum nl_policy p)
{
	const struct nl_hint_report *r = s->hints;
	double mem[NL_MAX_NODES], cpu[NL_MAX_NODES];
	int bad = 0;

	if (!r)
		return 1;
	for (int n = 0; n < h->nnodes; n++) {
		mem[n] = (double)s->topo.nodes[n].mem_free_bytes;
		cpu[n] = 0;
		for (int i = 0; i < h->nvms; i++)
			cpu[n] += h->vm[i].vcpu[n] + h->vm[i].vmm[n];
	}
	for (size_t i = 0; i < r->nhints[p]; i++) {
		const struct nl_hint *x = &r->hints[p][i];
		const struct fx_vm *v = fx_by_name(h, x->vm);

		for (size_t j = 0; j < r->nhints[p]; j++) {
			const struct nl_hint *y = &r->hints[p][j];

			if (i == j || strcmp(x->vm, y->vm))
				continue;
			/* a wide VM's cells are planned apart: each its own node */
			if (x->has_cell && y->has_cell && x->cell != y->cell)
				continue;
			if (x->kind == NL_HINT_EVICT || y->kind == NL_HINT_EVICT) {
				fprintf(stderr, "  evict with another hint for %s\n", x->vm);
				bad++;
			}
			if (x->target_node != y->target_node ||
			    (x->beneficiary[0] != 0) != (y->beneficiary[0] != 0)) {
				fprintf(stderr, "  conflicting hints for %s: %s->%d and %s->%d\n",
					x->vm, nl_hint_kind_name(x->kind), x->target_node,
					nl_hint_kind_name(y->kind), y->target_node);
				bad++;
			}
			if (x->kind == y->kind && x->beneficiary[0] == y->beneficiary[0] && i < j) {
				fprintf(stderr, "  two %s hints for %s\n", nl_hint_kind_name(x->kind), x->vm);
				bad++;
			}
		}
		if (!v)
			continue;
		if (x->kind == NL_HINT_MIGRATE_MEMORY) {
			double left = (double)x->bytes;

			mem[x->target_node] -= (double)x->bytes;
			for (int k = 0; k < x->nfrom && left > 0; k++) {
				double b = fmin(left, v->mem[x->from_nodes[k]]);

				mem[x->from_nodes[k]] += b;
				left -= b;
			}
		}
		if (x->kind == NL_HINT_PIN_VCPUS && x->has_cell && x->cell >= 0 && x->cell < v->ncells) {
			double all = 0, cores;

			for (int n = 0; n < h->nnodes; n++)
				all += v->vcpu[n];
			cores = all * __builtin_popcountll(x->cell_vcpus) / v->nvcpus;
			cpu[v->cell[x->cell].node] -= cores;
			cpu[x->target_node] += cores;
		} else if (x->kind == NL_HINT_PIN_VCPUS)
			for (int n = 0; n < h->nnodes; n++) {
				cpu[n] -= v->vcpu[n];
				cpu[x->target_node] += v->vcpu[n];
			}
		if (x->kind == NL_HINT_PIN_VMM_THREADS)
			for (int n = 0; n < h->nnodes; n++) {
				cpu[n] -= v->vmm[n];
				cpu[x->target_node] += v->vmm[n];
			}
	}
	for (int n = 0; n < h->nnodes; n++) {
		double before = (double)s->topo.nodes[n].mem_free_bytes;

		if (mem[n] < before - 1 && mem[n] < r->cfg.memory_reserve / 2 - 1) {
			fprintf(stderr, "  node %d memory overcommitted: %.2f GiB free after hints\n",
				n, mem[n] / GiB);
			bad++;
		}
		if (cpu[n] > h->cpn + 1e-6) {
			double was = 0;

			for (int i = 0; i < h->nvms; i++)
				was += h->vm[i].vcpu[n] + h->vm[i].vmm[n];
			if (cpu[n] > was + 1e-6) {
				fprintf(stderr, "  node %d CPU overcommitted: %.2f cores\n", n, cpu[n]);
				bad++;
			}
		}
	}
	return bad;
}

static inline const struct nl_hint *find_hint(const struct nl_snapshot *s, enum nl_policy p,
				       const char *vm, enum nl_hint_kind k)
{
	const struct nl_hint_report *r = s->hints;

	for (size_t i = 0; r && i < r->nhints[p]; i++)
		if (!strcmp(r->hints[p][i].vm, vm) && r->hints[p][i].kind == k)
			return &r->hints[p][i];
	return NULL;
}

static inline size_t count_vm(const struct nl_snapshot *s, enum nl_policy p, const char *vm)
{
	size_t n = 0;

	for (size_t i = 0; s->hints && i < s->hints->nhints[p]; i++)
		n += !strcmp(s->hints->hints[p][i].vm, vm);
	return n;
}

/* Run `windows` windows; keep the last snapshot in *last (caller puts it).
 * Checks the invariants of every policy in every window. */
static inline int run(struct fx_host *h, struct nl_hints *e, int windows,
	       struct nl_snapshot **last)
{
	int bad = 0;

	for (int w = 0; w < windows; w++) {
		struct nl_snapshot *s = host_snapshot(h);

		CHECK(nl_hints_update(e, s) == 0);
		for (int p = 0; p < NL_POLICY_COUNT; p++)
			bad += check_invariants(h, s, (enum nl_policy)p);
		if (last && w == windows - 1) {
			nl_snapshot_put(*last);
			*last = s;
		} else {
			nl_snapshot_put(s);
		}
	}
	return bad;
}

/* A settled 2-node host of two CPU-bound VMs, r1-cpu (8 GiB on node 0)
 * and r2-cpu (5 GiB on node 1); arrive_mem() adds the memory-intensive
 * m-mem, split 6/5 GiB, that needs room from r2-cpu (test_hints.c). */
static inline void full_host(struct fx_host *h)
{
	struct fx_vm *r1, *r2;

	host_init(h, 2, 8, 16 * GiB);
	r1 = add_vm(h, "r1-cpu", 2);
	r1->mem[0] = 8 * GiB;
	r1->vcpu[0] = 2;
	r1->vmm[0] = 0.05;
	r1->mpki = 0.2;
	r2 = add_vm(h, "r2-cpu", 2);
	r2->mem[1] = 5 * GiB;
	r2->vcpu[1] = 2;
	r2->vmm[1] = 0.05;
	r2->mpki = 0.3;
}

static inline void arrive_mem(struct fx_host *h)
{
	struct fx_vm *m = add_vm(h, "m-mem", 4);

	m->mem[0] = 6 * GiB;
	m->mem[1] = 5 * GiB;
	m->vcpu[0] = 2;
	m->vcpu[1] = 2;
	m->vmm[0] = m->vmm[1] = 0.05;
	m->mpki = 20;
}

/* A profile as a source host sends it: PMU inputs, 2e9 instructions/s. */
static inline void prof(struct nl_profile *p, const char *vm, const char *uuid, double gib,
		 uint32_t vcpus, double cores, double mpki)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->vm, sizeof(p->vm), "%s", vm);
	snprintf(p->uuid, sizeof(p->uuid), "%s", uuid);
	snprintf(p->source_host, sizeof(p->source_host), "src-host");
	p->vcpus = vcpus;
	p->iothreads = 1;
	p->memory_bytes = (uint64_t)(gib * GiB);
	p->cpu_cores = cores;
	p->vmm_cpu_cores = NAN;
	p->inputs = NL_INPUTS_PMU;
	snprintf(p->intensity_metric, sizeof(p->intensity_metric), "llc_bytes_per_second");
	p->llc_mpki = mpki;
	p->llc_misses_per_second = 2e9 * mpki / 1000;
	p->intensity = p->llc_misses_per_second * 64;
	p->memory_intensive = mpki >= 5;
	p->has_memory_intensive = true;
	p->dram_bytes_per_second = p->instructions_per_second = NAN;
	p->page_faults_per_second = p->proxy = p->locality = NAN;
	p->window_seconds = p->timestamp = NAN;
}

#endif
