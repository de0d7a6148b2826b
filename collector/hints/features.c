/* Features: what the policies know about each VM this cycle.
 *
 * Every counter number is the snapshot's own: rates are the last window's
 * event deltas (nl_series.win_events, the perf source's scaled deltas)
 * over the window; LLC MPKI and the PMU locality are the snapshot's
 * nl_vm_snap.llc_mpki[vCPU] and pmu_locality[all] (score.c, with its
 * floors), the numbers /metrics shows as numalens_vm_llc_mpki and
 * numalens_vm_locality{source="pmu"}. The engine adds smoothing, the
 * resctrl bandwidth rate (the snapshot has only its totals), the proxy,
 * the memory-intensive class and a short history. */
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "score.h"

#define GIB (1024.0 * 1024 * 1024)

/* Sums over a VM's series for one window. */
struct vm_window {
	double vcpu_ns[NL_MAX_NODES], vmm_ns[NL_MAX_NODES];
	uint64_t ev_vcpu[NL_MAX_EVENTS], ev_all[NL_MAX_EVENTS];
	uint32_t valid_vcpu, valid_all;
	struct nl_cpuset vcpu_allowed;
};

/* Counter indexes the features use; -1 where the event does not count. */
struct feature_events {
	struct nl_pmu_score_events pmu;
	int page_faults;
};

static int event_index(const struct nl_snapshot *s, const char *name)
{
	int n = s->nevents < NL_MAX_EVENTS ? s->nevents : NL_MAX_EVENTS;

	for (int k = 0; k < n; k++)
		if (s->events[k].supported == 1 && strcmp(s->events[k].name, name) == 0)
			return k;
	return -1;
}

static double ewma(bool have, double old, double x)
{
	if (!have || isnan(old))
		return x;
	if (isnan(x))
		return old;
	return NL_HINT_EWMA * x + (1 - NL_HINT_EWMA) * old;
}

static bool cpus_intersect(const struct nl_cpuset *a, const struct nl_cpuset *b)
{
	for (size_t i = 0; i < NL_MAX_CPUS / 64; i++)
		if (a->bits[i] & b->bits[i])
			return true;
	return false;
}

/* Event k of a window sum per second; NaN when not read or no window. */
static double win_rate(const uint64_t *win, uint32_t valid, int k, double dt)
{
	if (k < 0 || !(valid >> k & 1) || !(dt > 0))
		return NAN;
	return (double)win[k] / dt;
}

/* DRAM bytes per second: local and remote accesses, one line each. */
static double dram_rate(const struct vm_window *w, const struct nl_pmu_score_events *p,
			double dt)
{
	double l = win_rate(w->ev_all, w->valid_all, p->dram_local, 1);
	double r = win_rate(w->ev_all, w->valid_all, p->dram_remote, 1);

	return dt > 0 ? (l + r) * NL_HINT_LINE_BYTES / dt : NAN;
}

static void sum_window(const struct nl_vm_snap *vm, int nn, struct vm_window *w,
		       struct nl_vm_features *f)
{
	memset(w, 0, sizeof(*w));
	nl_cpuset_zero(&w->vcpu_allowed);
	for (size_t j = 0; j < vm->nseries; j++) {
		const struct nl_series *se = &vm->series[j];
		bool is_vcpu = se->role == NL_ROLE_VCPU;

		if (is_vcpu) {
			f->nvcpus++;
			nl_cpuset_or(&w->vcpu_allowed, &se->cpus_allowed);
		} else if (se->role == NL_ROLE_IOTHREAD) {
			f->niothreads++;
		}
		for (int n = 0; n < nn; n++) {
			if (is_vcpu)
				w->vcpu_ns[n] += (double)se->win_node_ns[n];
			else
				w->vmm_ns[n] += (double)se->win_node_ns[n];
		}
		for (int k = 0; k < NL_MAX_EVENTS; k++) {
			if (!(se->win_valid >> k & 1))
				continue;
			w->ev_all[k] += se->win_events[k];
			if (is_vcpu)
				w->ev_vcpu[k] += se->win_events[k];
		}
		w->valid_all |= se->win_valid;
		if (is_vcpu)
			w->valid_vcpu |= se->win_valid;
	}
}

/* CPU time per node, smoothed; memory home; nodes the vCPUs may use. */
static double cpu_features(const struct nl_snapshot *s, const struct nl_vm_snap *vm,
			   int nn, const struct vm_window *w,
			   struct nl_hint_vm *st, struct nl_vm_features *f)
{
	double win = s->window_seconds, msum = 0;

	if (win > 0 && nn > 0) {
		for (int n = 0; n < nn; n++) {
			st->vcpu_node[n] = ewma(st->smoothed, st->vcpu_node[n], w->vcpu_ns[n] / 1e9 / win);
			st->vmm_node[n] = ewma(st->smoothed, st->vmm_node[n], w->vmm_ns[n] / 1e9 / win);
		}
		st->smoothed = true;
	}
	for (int n = 0; n < nn; n++) {
		f->cpu_node_cores[n] = st->vcpu_node[n] + st->vmm_node[n];
		f->vcpu_cores += st->vcpu_node[n];
		f->vmm_cpu_cores += st->vmm_node[n];
		msum += (double)vm->mem_bytes[n];
		if (f->mem_home < 0 || vm->mem_bytes[n] > vm->mem_bytes[f->mem_home])
			f->mem_home = n;
		if (nl_cpuset_count(&w->vcpu_allowed) &&
		    cpus_intersect(&w->vcpu_allowed, &s->topo.nodes[n].cpus))
			f->vcpu_nodes |= 1ULL << n;
	}
	if (msum <= 0)
		f->mem_home = -1;
	f->cpu_cores = f->vcpu_cores + f->vmm_cpu_cores;
	for (int n = 0; n < nn; n++)
		f->vcpu_share[n] = f->vcpu_cores > 0 ? st->vcpu_node[n] / f->vcpu_cores : 0;
	return msum;
}

/* resctrl memory bandwidth monitoring of a VM (resctrl source): rate of
 * mbm_total and the local share of the window, NaN when not monitored.
 * The snapshot carries only the totals, so the engine keeps the last. */
static void mbm_rates(const struct nl_snapshot *s, const struct nl_vm_snap *vm,
		      struct nl_hint_vm *st, double dt, double *rate, double *loc)
{
	const struct nl_resctrl_vm *rv = NULL;
	uint64_t tot = 0, lcl = 0;
	bool have_t = false, have_l = false;

	*rate = *loc = NAN;
	for (size_t i = 0; s->resctrl.active && i < s->resctrl.nvms; i++)
		if (strcmp(s->resctrl.vms[i].name, vm->name) == 0)
			rv = &s->resctrl.vms[i];
	if (!rv || rv->state != NL_RESCTRL_MONITORED) {
		st->mbm_valid = st->mbm_local_valid = false;
		return;
	}
	for (int d = 0; d < rv->ndom && d < NL_MAX_L3_DOMAINS; d++) {
		if (rv->dom[d].valid & NL_RESCTRL_TOTAL) {
			tot += rv->dom[d].mbm_total;
			have_t = true;
		}
		if (rv->dom[d].valid & NL_RESCTRL_LOCAL) {
			lcl += rv->dom[d].mbm_local;
			have_l = true;
		}
	}
	if (have_t && st->mbm_valid && tot >= st->mbm_total && dt > 0) {
		double dtot = (double)(tot - st->mbm_total);

		*rate = dtot / dt;
		if (have_l && st->mbm_local_valid && lcl >= st->mbm_local && dtot > 0)
			*loc = fmin(1, (double)(lcl - st->mbm_local) / dtot);
	}
	st->mbm_valid = have_t;
	st->mbm_local_valid = have_l;
	st->mbm_total = tot;
	st->mbm_local = lcl;
}

/* Counter rates of the last window. The first window the engine sees a
 * VM gives none: its counters were opened during it. */
static void counter_rates(const struct nl_vm_snap *vm, const struct feature_events *ix,
			  const struct vm_window *w, double dt,
			  struct nl_vm_features *f)
{
	const struct nl_pmu_score_events *p = &ix->pmu;

	f->instructions_per_second = win_rate(w->ev_vcpu, w->valid_vcpu, p->instructions, dt);
	f->llc_misses_per_second = win_rate(w->ev_vcpu, w->valid_vcpu, p->llc_misses, dt);
	f->dram_bytes_per_second = dram_rate(w, p, dt);
	f->page_faults_per_second = win_rate(w->ev_all, w->valid_all, ix->page_faults, dt);
	f->llc_mpki = vm->llc_mpki[NL_ROLE_VCPU];
	f->pmu_locality = vm->pmu_locality[NL_ROLE_ALL];
}

/* The intensity metric and its raw value this window: resctrl bandwidth,
 * DRAM bandwidth, LLC bandwidth (PMU), else the proxy. */
static const char *intensity_raw(const struct feature_events *ix, double mbm_rate,
				 const struct nl_vm_features *f, double *raw)
{
	if (!isnan(mbm_rate)) {
		/* resctrl counts what reaches the memory controllers: reads,
		 * writes and prefetches, per VM */
		*raw = mbm_rate;
		return "mbm_bytes_per_second";
	}
	if (!isnan(f->dram_bytes_per_second)) {
		*raw = f->dram_bytes_per_second;
		return "dram_bytes_per_second";
	}
	if (!isnan(f->llc_misses_per_second)) {
		*raw = f->llc_misses_per_second * NL_HINT_LINE_BYTES;
		return "llc_bytes_per_second";
	}
	if (ix->pmu.dram_local >= 0 || ix->pmu.llc_misses >= 0) {
		*raw = NAN;    /* counts, but no window yet */
		return ix->pmu.dram_local >= 0 ? "dram_bytes_per_second" : "llc_bytes_per_second";
	}
	*raw = f->proxy;
	return "proxy";
}

/* Memory intensity (smoothed) and the memory-intensive class, with
 * hysteresis: by MPKI when it is defined, else by the intensity. */
static void intensity(const struct nl_hint_config *cfg, const struct feature_events *ix,
		      double mbm_rate, struct nl_hint_vm *st, struct nl_vm_features *f)
{
	double raw, cls;
	const char *metric = intensity_raw(ix, mbm_rate, f, &raw);
	int kind;

	f->inputs = strcmp(metric, "proxy") ? NL_INPUTS_PMU : NL_INPUTS_PLACEMENT;
	if (!isnan(f->llc_mpki) && isnan(mbm_rate)) {
		kind = 1;
		cls = f->llc_mpki;
	} else {
		kind = f->inputs == NL_INPUTS_PMU ? 2 : 3;
		cls = raw;
	}
	if (!st->metric || strcmp(st->metric, metric) != 0)
		st->intensity = NAN;
	st->metric = metric;
	st->intensity = ewma(true, st->intensity, raw);
	if (st->class_kind != kind)
		st->class_val = NAN;
	st->class_kind = kind;
	st->class_val = ewma(true, st->class_val, cls);
	if (!isnan(f->pmu_locality))
		st->pmu_loc = ewma(true, st->pmu_loc, f->pmu_locality);
	else if ((ix->pmu.dram_local < 0 || ix->pmu.dram_remote < 0) && !st->mbm_local_valid)
		st->pmu_loc = NAN;
	f->intensity_metric = metric;
	f->intensity = st->intensity;
	if (!isnan(st->class_val)) {
		double thr = kind == 1 ? cfg->mpki_threshold :
			     kind == 2 ? cfg->bandwidth_threshold : cfg->proxy_threshold;

		st->intensive = st->intensive ? st->class_val >= thr * NL_HINT_INTENSITY_EXIT
					      : st->class_val >= thr;
	}
	f->intensive = st->intensive;
}

/* Locality of CPU time spread `cpu` against memory `mem` (shares). */
/* A wide VM whose every cell was scored on its own (snapshot.c): its
 * vCPU locality is the cells' weighted one. */
static bool cells_scored(const struct nl_vm_snap *vm)
{
	if (vm->ncells < 2 || isnan(vm->locality[NL_ROLE_VCPU]))
		return false;
	for (int k = 0; k < vm->ncells; k++)
		if (!vm->cells[k].mem_known || isnan(vm->cells[k].locality))
			return false;
	return true;
}

static double overlap(const double *cpu, const uint64_t *mem, int nn)
{
	double cs = 0, ms = 0, l = 0;

	for (int n = 0; n < nn; n++) {
		cs += cpu[n];
		ms += (double)mem[n];
	}
	if (cs <= 0 || ms <= 0)
		return NAN;
	for (int n = 0; n < nn; n++)
		l += cpu[n] / cs * ((double)mem[n] / ms);
	return l;
}

/* The last NL_HINT_HISTORY measured windows, oldest first. */
static void history(const struct nl_snapshot *s, struct nl_hint_vm *st,
		    struct nl_vm_features *f)
{
	if (f->measured) {
		if (st->nhist == NL_HINT_HISTORY) {
			memmove(st->hist_t, st->hist_t + 1, sizeof(double) * (NL_HINT_HISTORY - 1));
			memmove(st->hist_cpu, st->hist_cpu + 1, sizeof(double) * (NL_HINT_HISTORY - 1));
			memmove(st->hist_int, st->hist_int + 1, sizeof(double) * (NL_HINT_HISTORY - 1));
			st->nhist--;
		}
		st->hist_t[st->nhist] = s->timestamp;
		st->hist_cpu[st->nhist] = f->cpu_cores;
		st->hist_int[st->nhist] = f->intensity;
		st->nhist++;
	}
	f->nhistory = st->nhist;
	for (int h = 0; h < st->nhist; h++) {
		f->history[h].t = st->hist_t[h];
		f->history[h].cpu_cores = st->hist_cpu[h];
		f->history[h].intensity = st->hist_int[h];
	}
}

void nl_hints_features(const struct nl_hint_config *cfg,
		       const struct nl_snapshot *s, size_t i,
		       struct nl_hint_vm *st, struct nl_vm_features *f)
{
	const struct nl_vm_snap *vm = &s->vms[i];
	/* guest RAM: what vCPUs access, and where the VMM belongs */
	const uint64_t *guest_mem = vm->mem_split ? vm->mem_guest_bytes : vm->mem_bytes;
	int nn = s->topo_valid ? s->topo.nnodes : 0;
	double dt = st->seen ? s->window_seconds : NAN, msum, mbm_rate, mbm_loc;
	struct feature_events ix;
	struct vm_window w;

	memset(f, 0, sizeof(*f));
	f->mem_home = -1;
	f->instructions_per_second = f->llc_misses_per_second = f->llc_mpki = NAN;
	f->dram_bytes_per_second = f->pmu_locality = f->page_faults_per_second = NAN;
	f->proxy = f->intensity = f->locality = f->vmm_locality = NAN;
	f->vmm_guest_locality = NAN;
	nl_score_pmu_events(s->events, s->nevents, &ix.pmu);
	ix.page_faults = event_index(s, "page_faults");

	sum_window(vm, nn, &w, f);
	msum = cpu_features(s, vm, nn, &w, st, f);
	counter_rates(vm, &ix, &w, dt, f);
	mbm_rates(s, vm, st, dt, &mbm_rate, &mbm_loc);
	if (!isnan(mbm_loc))
		f->pmu_locality = mbm_loc;
	st->seen = true;

	/* the proxy: busy vCPU cores x resident GiB + GiB/s faulted in */
	if (st->smoothed && msum > 0)
		f->proxy = f->vcpu_cores * msum / GIB +
			   (isnan(f->page_faults_per_second) ? 0 :
			    f->page_faults_per_second * (double)sysconf(_SC_PAGESIZE) / GIB);
	intensity(cfg, &ix, mbm_rate, st, f);

	/* locality: the PMU's when it measures it, else CPU time vs memory;
	 * a wide VM's, cell by cell (snapshot.c), not as one blob */
	if (!isnan(st->pmu_loc))
		f->locality = st->pmu_loc;
	else if (cells_scored(vm))
		f->locality = vm->locality[NL_ROLE_VCPU];
	else if (f->vcpu_cores > 0)
		f->locality = overlap(st->vcpu_node, guest_mem, nn);
	else
		f->locality = vm->locality[NL_ROLE_VCPU];
	f->vmm_locality = overlap(st->vmm_node, vm->mem_split ? vm->mem_vmm_bytes : vm->mem_bytes, nn);
	f->vmm_guest_locality = overlap(st->vmm_node, guest_mem, nn);
	f->measured = st->smoothed && msum > 0 && nn > 0;
	history(s, st, f);
}

void nl_hints_node_summaries(const struct nl_snapshot *s, struct nl_hint_report *r)
{
	int nn = s->topo_valid ? s->topo.nnodes : 0;

	r->nnodes = nn;
	for (int n = 0; n < nn; n++) {
		struct nl_node_summary *ns = &r->nodes[n];

		ns->id = s->topo.nodes[n].id;
		ns->ncpus = nl_cpuset_count(&s->topo.nodes[n].cpus);
		ns->mem_total_bytes = s->topo.nodes[n].mem_total_bytes;
		ns->mem_free_bytes = s->topo.nodes[n].mem_free_bytes;
		for (size_t i = 0; i < r->nvmf; i++) {
			const struct nl_vm_features *f = &r->vmf[i];

			ns->cpu_cores_used += f->cpu_node_cores[n];
			if (f->intensive && f->measured && !isnan(f->intensity) &&
			    f->vcpu_share[n] > 0) {
				ns->intensity_sum += f->intensity * f->vcpu_share[n];
				if (f->vcpu_share[n] >= 0.5)
					ns->nintensive++;
			}
		}
		ns->spare_cpus = ns->ncpus * r->cfg.cpu_limit - ns->cpu_cores_used;
	}
}
