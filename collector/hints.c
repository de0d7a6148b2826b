/* The migration-hint engine: features per VM, four placement policies, and
 * the stability rules that turn their per-cycle opinions into hints an
 * orchestrator can act on. See hints.h and docs/api.md.
 *
 * One cycle:
 *  1. features: per VM, CPU time per node (smoothed), memory per node, and
 *     memory intensity from the PMU events when they count (DRAM bandwidth,
 *     LLC misses) or from a documented proxy otherwise;
 *  2. for each policy, over a copy of the host's free memory and spare CPU:
 *     VMs in priority order choose a home node (vCPUs, VMM threads and
 *     memory all there). Resident VMs with little memory traffic may give
 *     up memory on that node ("make room"). Every choice is charged to the
 *     copy, so no plan overcommits a node, and one plan per VM cannot
 *     conflict with itself;
 *  3. stability: a choice becomes a published plan only after it held for
 *     --hints.confirm-windows windows with at least --hints.enter-gain; it
 *     stays published while its gain is at least --hints.exit-gain and it
 *     still fits; it moves to another node only after --hints.cooldown.
 */
#include "hints_priv.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "clock.h"

#define GIB (1024.0 * 1024 * 1024)
#define MIB (1024.0 * 1024)
#define HOME_NONE (-1)
#define HOME_EVICT (-2)
#define EPS 1e-9

/* ---- names ---- */

static const char *const policy_names[NL_POLICY_COUNT] = {
	"locality", "simple", "dino", "asymsched",
};
static const char *const kind_names[NL_HINT_KIND_COUNT] = {
	"pin_vcpus", "migrate_memory", "pin_vmm_threads", "evict",
};
static const char *const op_names[NL_ACT_COUNT] = {
	"pin_vcpu", "pin_emulator", "pin_iothread", "pin_thread", "numatune",
	"migrate_pages", "move_pages", "migrate_vm",
};

const char *nl_policy_name(enum nl_policy p)
{
	return (unsigned)p < NL_POLICY_COUNT ? policy_names[p] : "unknown";
}

/* The index of s in a name table, or -EINVAL. */
static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

int nl_policy_parse(const char *s, enum nl_policy *out)
{
	int i = name_index(policy_names, NL_POLICY_COUNT, s);

	if (i < 0)
		return i;
	*out = (enum nl_policy)i;
	return 0;
}

const char *nl_hint_kind_name(enum nl_hint_kind k)
{
	return (unsigned)k < NL_HINT_KIND_COUNT ? kind_names[k] : "unknown";
}

int nl_hint_kind_parse(const char *s, enum nl_hint_kind *out)
{
	int i = name_index(kind_names, NL_HINT_KIND_COUNT, s);

	if (i < 0)
		return i;
	*out = (enum nl_hint_kind)i;
	return 0;
}

const char *nl_hint_inputs_name(enum nl_hint_inputs i)
{
	return i == NL_INPUTS_PMU ? "pmu" : "placement";
}

const char *nl_action_op_name(enum nl_action_op op)
{
	return (unsigned)op < NL_ACT_COUNT ? op_names[op] : "unknown";
}

void nl_hint_config_defaults(struct nl_hint_config *c)
{
	memset(c, 0, sizeof(*c));
	c->policy = NL_POLICY_LOCALITY;
	c->enter_gain = 0.2;
	c->exit_gain = 0.05;
	c->confirm_windows = 3;
	c->cooldown_seconds = 300;
	c->ttl_seconds = 120;
	c->mpki_threshold = 5;
	c->bandwidth_threshold = 1e9;
	c->proxy_threshold = 1.0;
	c->memory_reserve = 512 * MIB;
	c->cpu_limit = 0.9;
	c->min_move = 64 * MIB;
}

const char *nl_hint_config_check(const struct nl_hint_config *c)
{
	if ((unsigned)c->policy >= NL_POLICY_COUNT)
		return "--hints.policy must be locality, simple, dino or asymsched";
	if (!(c->enter_gain > 0 && c->enter_gain <= 1))
		return "--hints.enter-gain must be in (0, 1]";
	if (!(c->exit_gain >= 0 && c->exit_gain < c->enter_gain))
		return "--hints.exit-gain must be at least 0 and below --hints.enter-gain";
	if (c->confirm_windows < 1 || c->confirm_windows > 1000)
		return "--hints.confirm-windows must be 1..1000";
	if (!(c->cooldown_seconds >= 0) || !(c->ttl_seconds > 0))
		return "--hints.cooldown must be >= 0 and --hints.ttl > 0";
	if (!(c->mpki_threshold > 0) || !(c->bandwidth_threshold > 0) ||
	    !(c->proxy_threshold > 0))
		return "--hints.mpki-threshold, --hints.bandwidth-threshold and --hints.proxy-threshold must be positive";
	if (!(c->memory_reserve >= 0) || !(c->min_move >= 0))
		return "--hints.memory-reserve and --hints.min-move must be >= 0";
	if (!(c->cpu_limit > 0 && c->cpu_limit <= 64))
		return "--hints.cpu-limit must be in (0, 64]";
	return NULL;
}

/* ---- engine state ---- */

struct donor {
	uint64_t key;          /* keyhash of the donor VM */
	int dest;              /* node index its memory goes to */
};

/* The stability state of one VM under one policy (guest plan or VMM-only
 * plan). Homes are node indexes, HOME_EVICT, or HOME_NONE. */
struct plan {
	int home, cand;
	unsigned cand_n;       /* consecutive windows `cand` was the choice */
	unsigned held;         /* windows published */
	unsigned weak_n;       /* consecutive windows below --hints.exit-gain */
	bool active, changed_ever;
	double created;        /* wall clock of publication */
	uint64_t changed_ns;   /* monotonic: last publication or withdrawal */
	uint64_t confirmed_ns; /* monotonic: last window the plan held */
	struct donor donors[NL_HINT_MAX_DONORS];
	int ndonors;
};

struct vm_state {
	char key[NL_NAME_MAX + 48];    /* uuid or name, plus "#pid" */
	uint64_t keyhash;
	bool have_prev;
	uint64_t prev_ns;
	uint64_t ev_vcpu[NL_MAX_EVENTS], ev_all[NL_MAX_EVENTS];
	uint32_t valid_vcpu, valid_all;
	bool mbm_valid, mbm_local_valid;   /* resctrl totals below were read */
	uint64_t mbm_total, mbm_local;
	bool smoothed;                 /* CPU arrays hold a value */
	double vcpu_node[NL_MAX_NODES], vmm_node[NL_MAX_NODES];
	double pmu_loc;
	const char *metric;            /* of `intensity` */
	double intensity;
	int class_kind;                /* 0 none, 1 MPKI, 2 bandwidth, 3 proxy */
	double class_val;
	bool intensive;
	double hist_t[NL_HINT_HISTORY], hist_cpu[NL_HINT_HISTORY],
	       hist_int[NL_HINT_HISTORY];
	int nhist;
	struct plan guest[NL_POLICY_COUNT], vmm[NL_POLICY_COUNT];
};

struct nl_hints {
	struct nl_hint_config cfg;
	struct vm_state *vms;          /* sorted by key */
	size_t nvms;
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

#define FNV_SEED 14695981039346656037ULL

void nl_hints_make_id(const char *vm_key, enum nl_hint_kind kind,
		      int target_node, char out[NL_HINT_ID_LEN])
{
	char tail[32];
	uint64_t h = fnv1a(FNV_SEED, vm_key, strlen(vm_key) + 1);

	snprintf(tail, sizeof(tail), "%s/%d", nl_hint_kind_name(kind), target_node);
	h = fnv1a(h, tail, strlen(tail));
	snprintf(out, NL_HINT_ID_LEN, "%016llx", (unsigned long long)h);
}

void nl_hints_shell_quote(const char *s, char *out, size_t len)
{
	size_t o = 0;
	bool plain = *s != '\0';

	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-+:@/=", *p))
			plain = false;
	if (len == 0)
		return;
	if (plain) {
		snprintf(out, len, "%s", s);
		return;
	}
	/* 'it'\''s' */
	out[o++] = '\'';
	for (const char *p = s; *p && o + 5 < len; p++) {
		if (*p == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			out[o++] = *p;
		}
	}
	if (o + 1 < len)
		out[o++] = '\'';
	out[o < len ? o : len - 1] = '\0';
}

/* The id key of a VM: its UUID when known, else its name. */
static const char *vm_id_key(const struct nl_vm_snap *vm)
{
	return vm->uuid[0] ? vm->uuid : vm->name;
}

static int state_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vm_state *)a)->key,
		      ((const struct vm_state *)b)->key);
}

/* The plan of VM state st under policy pol (guest or VMM-only). */
static struct plan *plan_of(struct vm_state *st, enum nl_policy pol, bool vmm)
{
	unsigned p = (unsigned)pol < NL_POLICY_COUNT ? (unsigned)pol : 0;

	return vmm ? &st->vmm[p] : &st->guest[p];
}

static void plan_reset(struct plan *p)
{
	memset(p, 0, sizeof(*p));
	p->home = HOME_NONE;
	p->cand = HOME_NONE;
}

static void state_init(struct vm_state *st, const char *key)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->key, sizeof(st->key), "%s", key);
	st->keyhash = fnv1a(FNV_SEED, key, strlen(key));
	st->pmu_loc = NAN;
	st->intensity = NAN;
	st->class_val = NAN;
	for (int p = 0; p < NL_POLICY_COUNT; p++) {
		plan_reset(&st->guest[p]);
		plan_reset(&st->vmm[p]);
	}
}

struct nl_hints *nl_hints_new(const struct nl_hint_config *cfg)
{
	struct nl_hints *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	if (cfg)
		e->cfg = *cfg;
	else
		nl_hint_config_defaults(&e->cfg);
	return e;
}

void nl_hints_free(struct nl_hints *e)
{
	if (!e)
		return;
	free(e->vms);
	free(e);
}

void nl_hint_free_contents(struct nl_hint *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nactions; i++) {
		free(h->actions[i].libvirt);
		free(h->actions[i].command);
	}
	free(h->actions);
	h->actions = NULL;
	h->nactions = 0;
}

void nl_hint_report_free(struct nl_hint_report *r)
{
	if (!r)
		return;
	for (int p = 0; p < NL_POLICY_COUNT; p++) {
		for (size_t i = 0; i < r->nhints[p]; i++)
			nl_hint_free_contents(&r->hints[p][i]);
		free(r->hints[p]);
	}
	free(r->vmf);
	free(r);
}

const struct nl_vm_features *nl_hints_vm_features(const struct nl_snapshot *s,
						  const struct nl_vm_snap *vm)
{
	size_t i;

	if (!s->hints || !vm || vm < s->vms || vm >= s->vms + s->nvms)
		return NULL;
	i = (size_t)(vm - s->vms);
	return i < s->hints->nvmf ? &s->hints->vmf[i] : NULL;
}

/* ---- features ---- */

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

static bool cpus_within(const struct nl_cpuset *a, const struct nl_cpuset *b)
{
	bool any = false;

	for (size_t i = 0; i < NL_MAX_CPUS / 64; i++) {
		if (a->bits[i] & ~b->bits[i])
			return false;
		any |= a->bits[i] != 0;
	}
	return any;
}

static bool cpus_intersect(const struct nl_cpuset *a, const struct nl_cpuset *b)
{
	for (size_t i = 0; i < NL_MAX_CPUS / 64; i++)
		if (a->bits[i] & b->bits[i])
			return true;
	return false;
}

static double delta(const struct vm_state *st, const uint64_t *prev,
		    uint32_t prev_valid, const uint64_t *cur, uint32_t cur_valid,
		    int k)
{
	if (k < 0 || !st->have_prev || !((prev_valid & cur_valid) >> k & 1) ||
	    cur[k] < prev[k])
		return NAN;
	return (double)(cur[k] - prev[k]);
}

/* resctrl memory bandwidth monitoring of a VM (resctrl source): rate of
 * mbm_total and the local share of the window, NaN when not monitored. */
static void mbm_rates(const struct nl_snapshot *s, const struct nl_vm_snap *vm,
		      struct vm_state *st, double dt, double *rate, double *loc)
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

/* Locality of CPU time spread `cpu` against memory `mem` (shares). */
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

static void compute_features(const struct nl_hints *e,
			     const struct nl_snapshot *s, size_t i,
			     struct vm_state *st, struct nl_vm_features *f)
{
	const struct nl_vm_snap *vm = &s->vms[i];
	const struct nl_hint_config *cfg = &e->cfg;
	int nn = s->topo_valid ? s->topo.nnodes : 0;
	int k_instr = event_index(s, "instructions"), k_llc = event_index(s, "llc_misses");
	int k_dl = event_index(s, "dram_local"), k_dr = event_index(s, "dram_remote");
	int k_pf = event_index(s, "page_faults");
	uint64_t ev_vcpu[NL_MAX_EVENTS] = { 0 }, ev_all[NL_MAX_EVENTS] = { 0 };
	uint32_t valid_vcpu = 0, valid_all = 0;
	double vcpu_ns[NL_MAX_NODES] = { 0 }, vmm_ns[NL_MAX_NODES] = { 0 };
	double win = s->window_seconds, dt = NAN, vsum = 0, msum = 0;
	struct nl_cpuset vcpu_allowed;
	double d_instr, d_llc, d_dl, d_dr, d_pf, raw, cls, mbm_rate, mbm_loc;
	const char *metric;
	int kind;

	memset(f, 0, sizeof(*f));
	nl_cpuset_zero(&vcpu_allowed);
	f->mem_home = -1;
	f->instructions_per_second = f->llc_misses_per_second = f->llc_mpki = NAN;
	f->dram_bytes_per_second = f->pmu_locality = f->page_faults_per_second = NAN;
	f->proxy = f->intensity = f->locality = f->vmm_locality = NAN;

	for (size_t j = 0; j < vm->nseries; j++) {
		const struct nl_series *se = &vm->series[j];
		bool is_vcpu = se->role == NL_ROLE_VCPU;

		if (is_vcpu) {
			f->nvcpus++;
			nl_cpuset_or(&vcpu_allowed, &se->cpus_allowed);
		} else if (se->role == NL_ROLE_IOTHREAD) {
			f->niothreads++;
		}
		for (int n = 0; n < nn; n++) {
			if (is_vcpu)
				vcpu_ns[n] += (double)se->win_node_ns[n];
			else
				vmm_ns[n] += (double)se->win_node_ns[n];
		}
		for (int k = 0; k < NL_MAX_EVENTS; k++) {
			if (!(se->events_valid >> k & 1))
				continue;
			ev_all[k] += se->events[k];
			if (is_vcpu)
				ev_vcpu[k] += se->events[k];
		}
		valid_all |= se->events_valid;
		if (is_vcpu)
			valid_vcpu |= se->events_valid;
	}

	/* CPU time per node, smoothed */
	if (win > 0 && nn > 0) {
		for (int n = 0; n < nn; n++) {
			st->vcpu_node[n] = ewma(st->smoothed, st->vcpu_node[n], vcpu_ns[n] / 1e9 / win);
			st->vmm_node[n] = ewma(st->smoothed, st->vmm_node[n], vmm_ns[n] / 1e9 / win);
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
		if (nl_cpuset_count(&vcpu_allowed) &&
		    cpus_intersect(&vcpu_allowed, &s->topo.nodes[n].cpus))
			f->vcpu_nodes |= 1ULL << n;
	}
	if (msum <= 0)
		f->mem_home = -1;
	f->cpu_cores = f->vcpu_cores + f->vmm_cpu_cores;
	vsum = f->vcpu_cores;
	for (int n = 0; n < nn; n++)
		f->vcpu_share[n] = vsum > 0 ? st->vcpu_node[n] / vsum : 0;

	/* counter rates over the time since our last look at this VM */
	if (st->have_prev && s->mono_ns > st->prev_ns)
		dt = (double)(s->mono_ns - st->prev_ns) / 1e9;
	d_instr = delta(st, st->ev_vcpu, st->valid_vcpu, ev_vcpu, valid_vcpu, k_instr);
	d_llc = delta(st, st->ev_vcpu, st->valid_vcpu, ev_vcpu, valid_vcpu, k_llc);
	d_dl = delta(st, st->ev_all, st->valid_all, ev_all, valid_all, k_dl);
	d_dr = delta(st, st->ev_all, st->valid_all, ev_all, valid_all, k_dr);
	d_pf = delta(st, st->ev_all, st->valid_all, ev_all, valid_all, k_pf);
	if (dt > 0) {
		f->instructions_per_second = d_instr / dt;
		f->llc_misses_per_second = d_llc / dt;
		if (d_instr > 0)
			f->llc_mpki = d_llc * 1000 / d_instr;
		f->dram_bytes_per_second = (d_dl + d_dr) * NL_HINT_LINE_BYTES / dt;
		if (d_dl + d_dr > 0)
			f->pmu_locality = d_dl / (d_dl + d_dr);
		f->page_faults_per_second = d_pf / dt;
	}
	mbm_rates(s, vm, st, dt, &mbm_rate, &mbm_loc);
	if (!isnan(mbm_loc))
		f->pmu_locality = mbm_loc;
	memcpy(st->ev_vcpu, ev_vcpu, sizeof(ev_vcpu));
	memcpy(st->ev_all, ev_all, sizeof(ev_all));
	st->valid_vcpu = valid_vcpu;
	st->valid_all = valid_all;
	st->prev_ns = s->mono_ns;
	st->have_prev = true;

	/* memory intensity: PMU when it counts, else the proxy */
	if (st->smoothed && msum > 0)
		f->proxy = f->vcpu_cores * msum / GIB +
			   (isnan(f->page_faults_per_second) ? 0 :
			    f->page_faults_per_second * (double)sysconf(_SC_PAGESIZE) / GIB);
	if (!isnan(mbm_rate)) {
		/* resctrl counts what reaches the memory controllers: reads,
		 * writes and prefetches, per VM */
		metric = "mbm_bytes_per_second";
		raw = mbm_rate;
	} else if (!isnan(f->dram_bytes_per_second)) {
		metric = "dram_bytes_per_second";
		raw = f->dram_bytes_per_second;
	} else if (!isnan(f->llc_misses_per_second)) {
		metric = "llc_bytes_per_second";
		raw = f->llc_misses_per_second * NL_HINT_LINE_BYTES;
	} else if (k_dl >= 0 || k_llc >= 0) {
		metric = k_dl >= 0 ? "dram_bytes_per_second" : "llc_bytes_per_second";
		raw = NAN;    /* counts, but no window yet */
	} else {
		metric = "proxy";
		raw = f->proxy;
	}
	f->inputs = strcmp(metric, "proxy") ? NL_INPUTS_PMU : NL_INPUTS_PLACEMENT;
	if (!isnan(f->llc_mpki) && isnan(mbm_rate)) {
		kind = 1;
		cls = f->llc_mpki;
	} else if (f->inputs == NL_INPUTS_PMU) {
		kind = 2;
		cls = raw;
	} else {
		kind = 3;
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
	else if ((k_dl < 0 || k_dr < 0) && !st->mbm_local_valid)
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

	/* locality: the PMU's when it measures it, else CPU time vs memory */
	if (!isnan(st->pmu_loc))
		f->locality = st->pmu_loc;
	else if (vsum > 0)
		f->locality = overlap(st->vcpu_node, vm->mem_bytes, nn);
	else
		f->locality = vm->locality[NL_ROLE_VCPU];
	f->vmm_locality = overlap(st->vmm_node, vm->mem_bytes, nn);
	f->measured = st->smoothed && msum > 0 && nn > 0;

	/* history, oldest first */
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

static void node_summaries(const struct nl_snapshot *s, struct nl_hint_report *r)
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

/* ---- planning ---- */

struct move {
	size_t vm;
	int from, to;          /* node indexes */
	double bytes;
};

struct option {
	int home;              /* node index or HOME_EVICT */
	bool feasible;
	const char *why;       /* "cpu" / "memory" when not feasible */
	double bytes_self, bytes_total;
	struct move donors[NL_HINT_MAX_DONORS];
	int ndonors;
	double gain, l_after, cont_before, cont_after;
	const char *gain_metric;
	bool pin_vcpus, pin_vmm;
};

struct hint_vec {
	struct nl_hint *v;
	size_t n, cap;
	int err;
};

struct pctx {
	const struct nl_hints *e;
	const struct nl_hint_config *cfg;
	const struct nl_snapshot *s;
	struct nl_hint_report *r;
	struct vm_state *st;           /* parallel to s->vms */
	enum nl_policy pol;
	int nn;
	uint64_t now;
	double mem_avail[NL_MAX_NODES];
	double cpu_avail[NL_MAX_NODES];
	double assigned[NL_MAX_NODES]; /* dino: intensity placed per node */
	double (*mem)[NL_MAX_NODES];   /* planned memory per VM */
	bool *busy;                    /* planned or donating this cycle */
	struct hint_vec out;
};

static double vm_mem_total(const struct pctx *c, size_t v)
{
	double m = 0;

	for (int n = 0; n < c->nn; n++)
		m += c->mem[v][n];
	return m;
}

/* Union of the CPUs the VM's threads of the roles in `roles` may use. */
static struct nl_cpuset role_cpus(const struct nl_vm_snap *vm, uint32_t roles,
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

#define VMM_ROLES ((1u << NL_ROLE_EMULATOR) | (1u << NL_ROLE_IOTHREAD) | (1u << NL_ROLE_VHOST))

static uint64_t mems_allowed_mask(const struct nl_vm_snap *vm)
{
	uint64_t m = 0;

	for (size_t j = 0; j < vm->nseries; j++)
		m |= vm->series[j].mems_allowed;
	return m;
}

static bool donor_ok(const struct pctx *c, size_t u, size_t v, int h)
{
	const struct nl_vm_features *f = &c->r->vmf[u];

	if (u == v || c->busy[u] || !f->measured || f->intensive ||
	    c->mem[u][h] <= 0)
		return false;
	/* bound to node h only: its policy would pull the memory back */
	return mems_allowed_mask(&c->s->vms[u]) != (1ULL << h);
}

static size_t find_vm_by_keyhash(const struct pctx *c, uint64_t key)
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

static void try_donor(const struct pctx *c, struct option *o, size_t u,
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
	o->donors[o->ndonors++] = (struct move){ u, h, dest, amt };
	tmp[dest] -= amt;
	*room -= amt;
}

/* Evaluate moving VM v to node h (vCPUs, VMM threads, memory) against the
 * current accounting. `sticky` lists donors to try first (the plan's
 * donors of the last cycle), so an unchanged plan keeps its moves.
 *
 * Capacity has hysteresis too: a new plan must leave --hints.cpu-limit of
 * the node's CPUs and --hints.memory-reserve free; a published plan (sticky
 * and active) is kept while it fits the node's real CPU count and half the
 * reserve, so noise in CPU time does not withdraw it. */
static void eval_home(const struct pctx *c, size_t v, int h, bool allow_room,
		      const struct plan *sticky, struct option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct nl_cpuset *ncpus = &c->s->topo.nodes[h].cpus;
	double total = vm_mem_total(c, v), in = total - c->mem[v][h];
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
	if (room > 0.5) {
		double tmp[NL_MAX_NODES];

		if (!allow_room) {
			o->why = "memory";
			return;
		}
		for (int n = 0; n < c->nn; n++)
			tmp[n] = c->mem_avail[n] + (n != h ? c->mem[v][n] : 0) + mem_slack;
		for (int d = 0; sticky && d < sticky->ndonors && room > 0.5; d++) {
			size_t u = find_vm_by_keyhash(c, sticky->donors[d].key);

			if (u < c->s->nvms && donor_ok(c, u, v, h))
				try_donor(c, o, u, sticky->donors[d].dest, h, tmp, &room);
		}
		/* then the coldest VMs first, largest share on h first */
		while (room > 0.5 && o->ndonors < NL_HINT_MAX_DONORS) {
			size_t pick = (size_t)-1;

			for (size_t u = 0; u < c->s->nvms; u++) {
				bool used = false;

				for (int d = 0; d < o->ndonors; d++)
					used |= o->donors[d].vm == u;
				if (used || !donor_ok(c, u, v, h))
					continue;
				if (pick == (size_t)-1) {
					pick = u;
					continue;
				}
				double iu = c->r->vmf[u].intensity, ip = c->r->vmf[pick].intensity;

				if (isnan(iu))
					iu = 0;
				if (isnan(ip))
					ip = 0;
				if (iu < ip - EPS ||
				    (fabs(iu - ip) <= EPS && c->mem[u][h] > c->mem[pick][h]))
					pick = u;
			}
			if (pick == (size_t)-1)
				break;
			{
				int before = o->ndonors;

				try_donor(c, o, pick, -1, h, tmp, &room);
				if (o->ndonors == before)
					break;   /* nowhere to put it */
			}
		}
		if (room > 0.5) {
			o->ndonors = 0;
			o->why = "memory";
			return;
		}
	}
	o->feasible = true;
	o->bytes_self = in;
	o->bytes_total = in;
	for (int d = 0; d < o->ndonors; d++)
		o->bytes_total += o->donors[d].bytes;
	vc = role_cpus(vm, 1u << NL_ROLE_VCPU, NULL);
	mc = role_cpus(vm, VMM_ROLES, &present);
	o->pin_vcpus = f->nvcpus > 0 && !cpus_within(&vc, ncpus);
	o->pin_vmm = present && !cpus_within(&mc, ncpus);
	o->l_after = 1.0;
	o->gain = isnan(f->locality) ? 0 : o->l_after - f->locality;
	/* nothing to do for the guest: no vCPU pin, no memory worth moving */
	if (!o->pin_vcpus && in < c->cfg->min_move)
		o->gain = 0;
}

static void commit(struct pctx *c, size_t v, const struct option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	int h = o->home;
	double total;

	if (h < 0)
		return;
	total = vm_mem_total(c, v);
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
		const struct move *m = &o->donors[d];

		c->mem[m->vm][m->from] -= m->bytes;
		c->mem[m->vm][m->to] += m->bytes;
		c->mem_avail[m->from] += m->bytes;
		c->mem_avail[m->to] -= m->bytes;
		c->busy[m->vm] = true;
	}
	c->busy[v] = true;
}

/* ---- hint construction ---- */

static struct nl_hint *hint_push(struct hint_vec *hv)
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

__attribute__((format(printf, 5, 6)))
static int action_add(struct nl_hint *h, enum nl_action_op op, int index,
		      const char *libvirt, const char *fmt, ...)
{
	struct nl_hint_action *a, *p;
	va_list ap;
	char cmd[NL_NAME_MAX * 4 + NL_MAX_CPUS * 5 + 512];

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = realloc(h->actions, (h->nactions + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	h->actions = p;
	a = &h->actions[h->nactions];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->index = index;
	a->libvirt = strdup(libvirt);
	a->command = strdup(cmd);
	h->nactions++;
	if (!a->libvirt || !a->command)
		return -ENOMEM;
	return 0;
}

static int last_fallback(struct nl_hint *h)
{
	if (h->nactions)
		h->actions[h->nactions - 1].fallback = true;
	return 0;
}

static void node_list(const int *ids, int n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%d", i ? "," : "", ids[i]);

		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

/* The exact libvirt calls and the equivalent commands for a hint. */
int nl_hints_build_actions(struct nl_hint *h, const struct nl_vm_snap *vm,
			   const struct nl_topology *topo)
{
	bool lv = vm->backend == NL_BACKEND_LIBVIRT;
	char q[NL_NAME_MAX * 4 + 8], cpus[NL_MAX_CPUS * 5];
	char call[NL_MAX_CPUS * 5 + 256];
	char from[NL_MAX_NODES * 5];
	int rc = 0;

	nl_hints_shell_quote(vm->name, q, sizeof(q));
	nl_cpuset_format(&h->target_cpus, cpus, sizeof(cpus));
	node_list(h->from_nodes, h->nfrom, from, sizeof(from));
	switch (h->kind) {
	case NL_HINT_PIN_VCPUS:
		for (size_t j = 0; j < vm->nseries && !rc; j++) {
			const struct nl_series *se = &vm->series[j];

			if (se->role != NL_ROLE_VCPU)
				continue;
			if (lv) {
				snprintf(call, sizeof(call),
					 "virDomainPinVcpuFlags(dom, %d, cpumap(%s), maplen, VIR_DOMAIN_AFFECT_LIVE)",
					 se->index, cpus);
				rc = action_add(h, NL_ACT_PIN_VCPU, se->index, call,
						"virsh vcpupin %s %d %s --live", q, se->index, cpus);
			} else {
				for (size_t t = 0; t < vm->nthreads && !rc; t++)
					if (vm->threads[t].role == NL_ROLE_VCPU &&
					    vm->threads[t].index == se->index)
						rc = action_add(h, NL_ACT_PIN_THREAD, vm->threads[t].tid, "",
								"taskset -pc %s %d", cpus, (int)vm->threads[t].tid);
			}
		}
		break;
	case NL_HINT_PIN_VMM_THREADS:
		if (lv && (h->roles >> NL_ROLE_EMULATOR & 1)) {
			snprintf(call, sizeof(call),
				 "virDomainPinEmulator(dom, cpumap(%s), maplen, VIR_DOMAIN_AFFECT_LIVE)", cpus);
			rc = action_add(h, NL_ACT_PIN_EMULATOR, -1, call,
					"virsh emulatorpin %s %s --live", q, cpus);
		}
		for (size_t j = 0; lv && j < vm->nseries && !rc; j++) {
			const struct nl_series *se = &vm->series[j];

			if (se->role != NL_ROLE_IOTHREAD || se->index < 0)
				continue;
			snprintf(call, sizeof(call),
				 "virDomainPinIOThread(dom, %d, cpumap(%s), maplen, VIR_DOMAIN_AFFECT_LIVE)",
				 se->index, cpus);
			rc = action_add(h, NL_ACT_PIN_IOTHREAD, se->index, call,
					"virsh iothreadpin %s %d %s --live", q, se->index, cpus);
		}
		/* libvirt cannot pin vhost workers (nor anything of a VM it
		 * does not manage): per-thread affinity */
		for (size_t t = 0; t < vm->nthreads && !rc; t++) {
			const struct nl_thread *th = &vm->threads[t];

			if (th->role == NL_ROLE_VCPU || !(h->roles >> th->role & 1))
				continue;
			if (lv && th->role != NL_ROLE_VHOST)
				continue;
			rc = action_add(h, NL_ACT_PIN_THREAD, th->tid, "",
					"taskset -pc %s %d", cpus, (int)th->tid);
		}
		break;
	case NL_HINT_MIGRATE_MEMORY:
		if (h->beneficiary[0]) {
			/* room-making: part of this VM's memory on one node.
			 * Nearly all of it: migrate_pages(2); a share: only
			 * move_pages(2) can move part of it, page by page */
			int fi = nl_topology_node_index(topo, h->from_nodes[0]);
			double on = fi >= 0 ? (double)vm->mem_bytes[fi] : 0;

			if ((double)h->bytes >= 0.95 * on)
				rc = action_add(h, NL_ACT_MIGRATE_PAGES, -1, "",
						"migratepages %d %s %d", (int)vm->pid, from,
						h->target_node);
			else
				rc = action_add(h, NL_ACT_MOVE_PAGES, -1, "",
						"numalens apply --id=%s --yes  # move_pages(2) of %llu bytes from node %s to %d",
						h->id, (unsigned long long)h->bytes, from, h->target_node);
			break;
		}
		if (lv) {
			snprintf(call, sizeof(call),
				 "virDomainSetNumaParameters(dom, {numa_nodeset=\"%d\"}, 1, VIR_DOMAIN_AFFECT_LIVE)",
				 h->target_node);
			rc = action_add(h, NL_ACT_NUMATUNE, -1, call,
					"virsh numatune %s --nodeset %d --live", q, h->target_node);
			if (!rc)
				rc = action_add(h, NL_ACT_MIGRATE_PAGES, -1, "",
						"migratepages %d %s %d", (int)vm->pid, from, h->target_node);
			if (!rc)
				rc = last_fallback(h);
		} else {
			rc = action_add(h, NL_ACT_MIGRATE_PAGES, -1, "",
					"migratepages %d %s %d", (int)vm->pid, from, h->target_node);
		}
		break;
	case NL_HINT_EVICT:
		rc = action_add(h, NL_ACT_MIGRATE_VM, -1,
				lv ? "virDomainMigrateToURI3(dom, \"qemu+ssh://DESTINATION/system\", params, nparams, VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST)" : "",
				lv ? "virsh migrate --live --persistent %s qemu+ssh://DESTINATION/system"
				   : "# live-migrate %s to another host",
				q);
		break;
	case NL_HINT_KIND_COUNT:
		break;
	}
	return rc;
}

static void fill_evidence(const struct pctx *c, size_t v, int target,
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

static double confidence(const struct pctx *c, size_t v, unsigned windows)
{
	double base = c->r->vmf[v].inputs == NL_INPUTS_PMU ? 0.9 : 0.6;
	double w = (double)windows / (2.0 * c->cfg->confirm_windows);

	return base * (w < 1 ? w : 1);
}

static struct nl_hint *new_hint(struct pctx *c, size_t v, enum nl_hint_kind kind,
				int target, const struct plan *g,
				const struct option *o)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	struct nl_hint *h = hint_push(&c->out);
	unsigned windows = g->active ? g->held + c->cfg->confirm_windows - 1 : g->cand_n;

	if (!h)
		return NULL;
	h->target_node = target >= 0 ? c->s->topo.nodes[target].id : -1;
	nl_hints_make_id(vm_id_key(vm), kind, h->target_node, h->id);
	memcpy(h->vm, vm->name, sizeof(h->vm));
	memcpy(h->uuid, vm->uuid, sizeof(h->uuid));
	h->pid = vm->pid;
	h->backend = vm->backend;
	h->kind = kind;
	h->policy = c->pol;
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

static void fmt_bytes(double b, char *buf, size_t len)
{
	if (b >= GIB)
		snprintf(buf, len, "%.1f GiB", b / GIB);
	else
		snprintf(buf, len, "%.0f MiB", b / MIB);
}

static void emit_plan(struct pctx *c, size_t v, const struct plan *g,
		      const struct option *o, bool vmm_only)
{
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct nl_vm_features *f = &c->r->vmf[v];
	int h = o->home, hid = h >= 0 ? c->s->topo.nodes[h].id : -1;
	char b1[32];
	struct nl_hint *x;

	if (h == HOME_EVICT) {
		x = new_hint(c, v, NL_HINT_EVICT, -1, g, o);
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
		if (nl_hints_build_actions(x, vm, &c->s->topo))
			c->out.err = -ENOMEM;
		return;
	}
	if (vmm_only) {
		uint32_t present;

		x = new_hint(c, v, NL_HINT_PIN_VMM_THREADS, h, g, o);
		if (!x)
			return;
		role_cpus(vm, VMM_ROLES, &present);
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
		if (nl_hints_build_actions(x, vm, &c->s->topo))
			c->out.err = -ENOMEM;
		return;
	}
	for (int d = 0; d < o->ndonors; d++) {
		const struct move *m = &o->donors[d];
		const struct nl_vm_features *df = &c->r->vmf[m->vm];

		x = new_hint(c, m->vm, NL_HINT_MIGRATE_MEMORY, m->to, g, o);
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
		snprintf(x->reason, sizeof(x->reason),
			 "frees %s on node %d for memory-intensive VM %.80s; this VM's memory traffic is low (%s %.3g), so its memory can live on node %d",
			 b1, x->from_nodes[0], vm->name, df->intensity_metric, df->intensity,
			 x->target_node);
		if (nl_hints_build_actions(x, &c->s->vms[m->vm], &c->s->topo)) {
			c->out.err = -ENOMEM;
			return;
		}
	}
	fmt_bytes(o->bytes_self, b1, sizeof(b1));
	if (o->pin_vcpus) {
		x = new_hint(c, v, NL_HINT_PIN_VCPUS, h, g, o);
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
		if (nl_hints_build_actions(x, vm, &c->s->topo)) {
			c->out.err = -ENOMEM;
			return;
		}
	}
	if (o->pin_vmm) {
		uint32_t present;

		x = new_hint(c, v, NL_HINT_PIN_VMM_THREADS, h, g, o);
		if (!x)
			return;
		role_cpus(vm, VMM_ROLES, &present);
		x->roles = present;
		x->step = 2;
		x->cost_seconds = 0.001;
		/* the VMM threads' own gain: their CPU time away from h */
		if (f->vmm_cpu_cores >= NL_HINT_VMM_MIN_CORES)
			x->expected_gain = 1 - c->st[v].vmm_node[h] / f->vmm_cpu_cores;
		snprintf(x->reason_code, sizeof(x->reason_code), "vmm_remote");
		snprintf(x->reason, sizeof(x->reason),
			 "keep the VMM threads (emulator, iothreads, vhost; %.0f%% of their CPU time elsewhere) next to the guest's memory on node %d",
			 100 * x->expected_gain, hid);
		if (nl_hints_build_actions(x, vm, &c->s->topo)) {
			c->out.err = -ENOMEM;
			return;
		}
	}
	if (o->bytes_self >= c->cfg->min_move) {
		x = new_hint(c, v, NL_HINT_MIGRATE_MEMORY, h, g, o);
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
		snprintf(x->reason, sizeof(x->reason),
			 "move %s of memory to node %d%s (locality %.2f -> %.2f)", b1, hid,
			 o->ndonors ? " after the room-making moves" : "",
			 f->locality, o->l_after);
		if (nl_hints_build_actions(x, vm, &c->s->topo)) {
			c->out.err = -ENOMEM;
			return;
		}
	}
}

/* ---- stability ---- */

static bool cooled(const struct pctx *c, const struct plan *g)
{
	return !g->changed_ever ||
	       (double)(c->now - g->changed_ns) >= c->cfg->cooldown_seconds * 1e9;
}

static void keep_donors(const struct pctx *c, struct plan *g,
			const struct option *o)
{
	g->ndonors = o->ndonors;
	for (int d = 0; d < o->ndonors; d++) {
		g->donors[d].key = c->st[o->donors[d].vm].keyhash;
		g->donors[d].dest = o->donors[d].to;
	}
}

static void activate(struct pctx *c, struct plan *g, const struct option *o)
{
	g->active = true;
	g->home = o->home;
	g->created = c->s->timestamp;
	g->changed_ns = c->now;
	g->changed_ever = true;
	g->confirmed_ns = c->now;
	g->held = 0;
	g->weak_n = 0;
	g->cand = HOME_NONE;
	g->cand_n = 0;
	keep_donors(c, g, o);
}

static void withdraw(struct pctx *c, struct plan *g)
{
	bool was = g->active;

	g->active = false;
	g->home = HOME_NONE;
	g->held = g->weak_n = g->cand_n = 0;
	g->cand = HOME_NONE;
	g->ndonors = 0;
	if (was) {
		g->changed_ns = c->now;
		g->changed_ever = true;
	}
}

static bool same_home(int a, int b)
{
	return a == b;
}

/* One window of the stability rules. `cur` is the published plan evaluated
 * now (only read when g->active), `best` this window's choice or NULL.
 * Returns the option to charge to the accounting (NULL: none); *publish
 * tells whether its hints are listed. */
static const struct option *stabilise(struct pctx *c, struct plan *g,
				      const struct option *cur,
				      const struct option *best, bool *publish)
{
	const struct nl_hint_config *cfg = c->cfg;

	*publish = false;
	if (g->active) {
		/* never keep a plan that no longer fits the host */
		if (!cur->feasible) {
			withdraw(c, g);
			return NULL;
		}
		if (cur->gain < cfg->exit_gain) {
			if (++g->weak_n >= cfg->confirm_windows) {
				withdraw(c, g);
				return NULL;
			}
		} else {
			g->weak_n = 0;
		}
		if (best && best->feasible && !same_home(best->home, g->home) &&
		    best->gain >= cur->gain + cfg->enter_gain) {
			if (g->cand == best->home) {
				g->cand_n++;
			} else {
				g->cand = best->home;
				g->cand_n = 1;
			}
			if (g->cand_n >= cfg->confirm_windows && cooled(c, g)) {
				activate(c, g, best);
				g->held++;
				*publish = true;
				return best;
			}
		} else {
			g->cand = HOME_NONE;
			g->cand_n = 0;
		}
		g->held++;
		g->confirmed_ns = c->now;
		keep_donors(c, g, cur);
		*publish = true;
		return cur;
	}
	if (!best || !best->feasible || best->gain < cfg->enter_gain) {
		g->cand = HOME_NONE;
		g->cand_n = 0;
		return NULL;
	}
	if (g->cand == best->home) {
		g->cand_n++;
	} else {
		g->cand = best->home;
		g->cand_n = 1;
	}
	if (g->cand_n >= cfg->confirm_windows && cooled(c, g)) {
		activate(c, g, best);
		g->held++;
		*publish = true;
	} else {
		/* being confirmed: hold the room, publish nothing yet */
		keep_donors(c, g, best);
	}
	return best;
}

/* ---- policies ---- */

static double spare_after(const struct pctx *c, size_t v, int h)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	return c->cpu_avail[h] - (f->cpu_cores - f->cpu_node_cores[h]);
}

/* Better for the locality-style policies: more gain, then fewer bytes,
 * then more spare CPU left on the node. */
static bool better(const struct pctx *c, size_t v, const struct option *a,
		   const struct option *b)
{
	if (fabs(a->gain - b->gain) > EPS)
		return a->gain > b->gain;
	if (fabs(a->bytes_total - b->bytes_total) > 1)
		return a->bytes_total < b->bytes_total;
	return spare_after(c, v, a->home) > spare_after(c, v, b->home) + EPS;
}

static void evict_option(const struct pctx *c, size_t v, struct option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	memset(o, 0, sizeof(*o));
	o->home = HOME_EVICT;
	o->feasible = true;
	o->gain_metric = "locality";
	o->l_after = 1.0;
	o->cont_before = o->cont_after = NAN;
	o->gain = isnan(f->locality) ? 0 : 1 - f->locality;
	o->bytes_self = o->bytes_total = vm_mem_total(c, v);
}

/* The plan's preferred home (its published or candidate home) wins over a
 * marginally better one, so noise does not move a recommendation. */
static int preferred_home(const struct plan *g)
{
	return g->active ? g->home : g->cand;
}

static bool choose_greedy(const struct pctx *c, size_t v, const struct plan *g,
			  bool allow_room, struct option *best)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	struct option o;
	bool found = false, any_fit = false;
	int pref = preferred_home(g);

	if (!f->intensive)
		return false;
	for (int h = 0; h < c->nn; h++) {
		eval_home(c, v, h, allow_room, pref == h ? g : NULL, &o);
		if (!o.feasible)
			continue;
		any_fit = true;
		if (o.gain <= EPS)
			continue;
		if (!found || better(c, v, &o, best)) {
			*best = o;
			found = true;
		}
	}
	if (found && pref >= 0 && pref != best->home) {
		eval_home(c, v, pref, allow_room, g, &o);
		if (o.feasible && o.gain >= best->gain - EPS &&
		    o.bytes_total <= best->bytes_total * 1.1 + c->cfg->min_move)
			*best = o;
	}
	if (!found && !any_fit && c->nn > 0) {
		evict_option(c, v, best);
		found = best->gain >= c->cfg->enter_gain;
	}
	return found;
}

/* dino: intensity of the other memory-intensive VMs per node, as planned
 * so far (c->assigned), without v's own share. */
static void dino_load_without(const struct pctx *c, size_t v, double *p)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	double iv = f->intensive && !isnan(f->intensity) ? f->intensity : 0;

	for (int n = 0; n < c->nn; n++) {
		double share = c->busy[v] ? 0 : f->vcpu_share[n];

		p[n] = c->assigned[n] - iv * share;
		if (p[n] < 0)
			p[n] = 0;
	}
}

static double dino_total(const struct pctx *c)
{
	double t = 0;

	for (int n = 0; n < c->nn; n++)
		t += c->assigned[n];
	return t;
}

static int dino_cur(const struct pctx *c, size_t v)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	int cur = -1;

	for (int n = 0; n < c->nn; n++)
		if (f->vcpu_share[n] > 0 && (cur < 0 || f->vcpu_share[n] > f->vcpu_share[cur]))
			cur = n;
	return cur >= 0 ? cur : f->mem_home;
}

/* dino for VM v at home h: contention before (where it runs now) and after
 * (on h), as shares of the host's memory-intensive load. */
static void dino_score(const struct pctx *c, size_t v, struct option *o)
{
	double p[NL_MAX_NODES], total = dino_total(c);
	int cur = dino_cur(c, v);

	dino_load_without(c, v, p);
	if (total <= 0 || cur < 0 || o->home < 0)
		return;
	o->cont_before = p[cur] / total;
	o->cont_after = p[o->home] / total;
	if (o->home != cur) {
		o->gain = o->cont_before - o->cont_after;
		o->gain_metric = "contention";
	}
}

static bool choose_dino(const struct pctx *c, size_t v, const struct plan *g,
			struct option *best)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	double p[NL_MAX_NODES], total = dino_total(c);
	struct option o;
	bool found = false, any_fit = false;
	int cur = dino_cur(c, v), pref = preferred_home(g);

	if (!f->intensive || cur < 0)
		return false;
	dino_load_without(c, v, p);
	/* spread: the least loaded node that fits, if it cuts contention */
	for (int h = 0; h < c->nn; h++) {
		eval_home(c, v, h, true, pref == h ? g : NULL, &o);
		if (!o.feasible)
			continue;
		any_fit = true;
		dino_score(c, v, &o);
		if (h != cur && o.gain < c->cfg->enter_gain)
			continue;
		if (h == cur && o.gain <= EPS)
			continue;
		if (!found || p[h] < p[best->home] - 0.1 * total ||
		    (fabs(p[h] - p[best->home]) <= 0.1 * total &&
		     (h == pref || (best->home != pref && better(c, v, &o, best))))) {
			*best = o;
			found = true;
		}
	}
	if (!found && !any_fit && c->nn > 0) {
		evict_option(c, v, best);
		found = best->gain >= c->cfg->enter_gain;
	}
	return found;
}

static double order_key(const struct pctx *c, size_t v)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	double i = isnan(f->intensity) ? 0 : f->intensity;
	double l = isnan(f->locality) ? 1 : f->locality;

	switch (c->pol) {
	case NL_POLICY_LOCALITY:
		return i * (1 - l);
	case NL_POLICY_SIMPLE:
		return isnan(f->llc_misses_per_second) ? i : f->llc_misses_per_second;
	case NL_POLICY_DINO:
		/* cheapest to move first */
		return -(double)c->s->vms[v].mem_total_bytes;
	case NL_POLICY_ASYMSCHED:
	case NL_POLICY_COUNT:
		break;
	}
	return i;
}

struct order_ent {
	size_t v;
	int group;             /* 0 published, 1 being confirmed, 2 other */
	double key;
	const char *name;
};

static int order_cmp(const void *a, const void *b)
{
	const struct order_ent *x = a, *y = b;

	if (x->group != y->group)
		return x->group - y->group;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return strcmp(x->name, y->name);
}

#define ASYM_MAX_K 4
#define ASYM_MAX_COMBOS 4096

/* asymsched: for the K highest-bandwidth memory-intensive VMs, every
 * combination of "stay" or a home per VM (a VM that already has a plan keeps
 * its home). Score: the share of their memory traffic that is local. Among
 * combinations within 10% of the best score, the one that moves the least
 * memory wins. Marks pre[v] with the chosen option of each VM without a
 * plan that moves. */
static void asym_prechoose(struct pctx *c, const struct order_ent *ord, size_t nord,
			   struct option *pre, bool *has_pre)
{
	size_t sel[ASYM_MAX_K];
	int radixes[ASYM_MAX_K];
	struct option (*opt)[NL_MAX_NODES + 1] = NULL;
	int k = 0, K = ASYM_MAX_K, radix = c->nn + 1;
	long combos = 1, best_combo = -1, pick = -1;
	double best_score = -1, pick_cost = 0, pick_score = 0, isum = 0;
	const struct order_ent **top = NULL;
	size_t ntop = 0;

	while (K > 0) {
		long p = 1;

		for (int i = 0; i < K; i++)
			p *= radix;
		if (p <= ASYM_MAX_COMBOS)
			break;
		K--;
	}
	/* the top K by bandwidth, whatever their group */
	top = calloc(nord ? nord : 1, sizeof(*top));
	if (!top)
		return;
	for (size_t i = 0; i < nord; i++) {
		const struct nl_vm_features *f = &c->r->vmf[ord[i].v];

		if (f->measured && f->intensive && !isnan(f->locality) &&
		    !isnan(f->intensity))
			top[ntop++] = &ord[i];
	}
	for (int i = 0; i < K && (size_t)i < ntop; i++) {
		size_t m = (size_t)i;

		for (size_t j = (size_t)i + 1; j < ntop; j++)
			if (c->r->vmf[top[j]->v].intensity > c->r->vmf[top[m]->v].intensity)
				m = j;
		const struct order_ent *t = top[i];

		top[i] = top[m];
		top[m] = t;
		sel[k++] = top[i]->v;
	}
	if (k == 0)
		goto cleanup;
	opt = calloc((size_t)k, sizeof(*opt));
	if (!opt)
		goto cleanup;
	for (int i = 0; i < k; i++) {
		const struct nl_vm_features *f = &c->r->vmf[sel[i]];
		const struct plan *g = plan_of(&c->st[sel[i]], c->pol, false);
		int pref = preferred_home(g);

		memset(&opt[i][0], 0, sizeof(opt[i][0]));
		opt[i][0].home = HOME_NONE;
		opt[i][0].feasible = true;
		opt[i][0].l_after = f->locality;
		radixes[i] = radix;
		if (top[i]->group != 2 && pref >= 0) {
			/* a plan holds: its home is fixed (or "stay" when it
			 * does not fit right now) */
			eval_home(c, sel[i], pref, true, g, &opt[i][1]);
			radixes[i] = opt[i][1].feasible ? 2 : 1;
			if (opt[i][1].feasible)
				opt[i][0].feasible = false;
		} else if (top[i]->group != 2) {
			radixes[i] = 1;
		} else {
			for (int h = 0; h < c->nn; h++) {
				eval_home(c, sel[i], h, true, NULL, &opt[i][h + 1]);
				if (opt[i][h + 1].gain <= EPS)
					opt[i][h + 1].feasible = false;
			}
		}
		isum += f->intensity;
	}
	for (int i = 0; i < k; i++)
		combos *= radixes[i];
	/* two passes: the best score, then the cheapest within 10% of it */
	for (int pass = 0; pass < 2; pass++) {
		for (long cb = 0; cb < combos; cb++) {
			double mem[NL_MAX_NODES], cpu[NL_MAX_NODES], num = 0, cost = 0, score;
			size_t used[ASYM_MAX_K * NL_HINT_MAX_DONORS];
			int nused = 0;
			bool ok = true;
			long x = cb;

			memcpy(mem, c->mem_avail, sizeof(mem));
			memcpy(cpu, c->cpu_avail, sizeof(cpu));
			for (int i = 0; i < k && ok; i++) {
				int ch = (int)(x % radixes[i]);
				const struct option *o = &opt[i][ch];
				const struct nl_vm_features *f = &c->r->vmf[sel[i]];
				size_t v = sel[i];

				x /= radixes[i];
				if (!o->feasible) {
					ok = false;
					break;
				}
				if (ch == 0) {
					num += f->intensity * f->locality;
					continue;
				}
				num += f->intensity * o->l_after;
				cost += o->bytes_total;
				for (int n = 0; n < c->nn; n++) {
					if (n != o->home)
						mem[n] += c->mem[v][n];
					cpu[n] += f->cpu_node_cores[n];
				}
				mem[o->home] -= vm_mem_total(c, v) - c->mem[v][o->home];
				cpu[o->home] -= f->cpu_cores;
				for (int d = 0; d < o->ndonors; d++) {
					for (int u = 0; u < nused; u++)
						ok &= used[u] != o->donors[d].vm;
					for (int s2 = 0; s2 < k; s2++)
						ok &= sel[s2] != o->donors[d].vm;
					used[nused++] = o->donors[d].vm;
					mem[o->donors[d].from] += o->donors[d].bytes;
					mem[o->donors[d].to] -= o->donors[d].bytes;
				}
			}
			for (int n = 0; ok && n < c->nn; n++)
				ok = mem[n] >= -0.5 && cpu[n] >= -1e-6;
			if (!ok)
				continue;
			score = isum > 0 ? num / isum : 0;
			if (pass == 0) {
				if (score > best_score + EPS) {
					best_score = score;
					best_combo = cb;
				}
			} else if (score >= 0.9 * best_score - EPS &&
				   (pick < 0 || cost < pick_cost - 1 ||
				    (fabs(cost - pick_cost) <= 1 && score > pick_score + EPS))) {
				pick = cb;
				pick_cost = cost;
				pick_score = score;
			}
		}
		if (best_combo < 0)
			break;
	}
	if (pick >= 0) {
		long x = pick;

		for (int i = 0; i < k; i++) {
			int ch = (int)(x % radixes[i]);

			x /= radixes[i];
			if (ch > 0 && top[i]->group == 2) {
				pre[sel[i]] = opt[i][ch];
				has_pre[sel[i]] = true;
			}
		}
	}
cleanup:
	free(opt);
	free(top);
}

static void current_option(const struct pctx *c, size_t v, const struct plan *g,
			   bool allow_room, struct option *cur)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	if (g->home == HOME_EVICT) {
		/* still valid while no node fits */
		struct option o;
		bool fits = false;

		for (int h = 0; h < c->nn && !fits; h++) {
			eval_home(c, v, h, allow_room, NULL, &o);
			fits = o.feasible;
		}
		evict_option(c, v, cur);
		if (fits || !f->intensive)
			cur->gain = 0;
		return;
	}
	eval_home(c, v, g->home, allow_room, g, cur);
	if (c->pol == NL_POLICY_DINO && cur->feasible)
		dino_score(c, v, cur);
	if (!f->intensive)
		cur->gain = 0;
}

static void dino_charge(struct pctx *c, size_t v, int home, bool was_busy)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	double iv = f->intensive && !isnan(f->intensity) ? f->intensity : 0;

	if (home < 0 || was_busy)
		return;
	for (int n = 0; n < c->nn; n++)
		c->assigned[n] -= iv * f->vcpu_share[n];
	c->assigned[home] += iv;
}

static void eval_vmm(const struct pctx *c, size_t v, int m, struct option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	const struct nl_vm_snap *vm = &c->s->vms[v];
	const struct vm_state *st = &c->st[v];
	struct nl_cpuset mc;
	uint32_t present;

	memset(o, 0, sizeof(*o));
	o->home = m;
	o->gain_metric = "locality";
	o->cont_before = o->cont_after = NAN;
	if (m < 0)
		return;
	mc = role_cpus(vm, VMM_ROLES, &present);
	o->feasible = f->vmm_cpu_cores - st->vmm_node[m] <= c->cpu_avail[m] + 1e-6;
	o->pin_vmm = present && !cpus_within(&mc, &c->s->topo.nodes[m].cpus);
	o->l_after = 1.0;
	if (!o->pin_vmm || f->vmm_cpu_cores < NL_HINT_VMM_MIN_CORES)
		return;
	if (vm->dev_nodes == (1ULL << m)) {
		/* next to the VM's passthrough devices: the share of VMM CPU
		 * time spent elsewhere */
		o->gain = 1 - st->vmm_node[m] / f->vmm_cpu_cores;
		o->gain_metric = "device_locality";
	} else if (!isnan(f->vmm_locality) && vm->mem_total_bytes > 0 &&
		   (double)vm->mem_bytes[m] >= 0.5 * (double)vm->mem_total_bytes) {
		o->gain = 1 - f->vmm_locality;
	}
}

/* Where a VM's VMM threads belong without a guest plan: next to its
 * passthrough devices when they all sit on one node, else next to the
 * node holding most of the guest's memory. */
static int vmm_home(const struct pctx *c, size_t v)
{
	uint64_t d = c->s->vms[v].dev_nodes;

	if (d && !(d & (d - 1)))
		return __builtin_ctzll(d);
	return c->r->vmf[v].mem_home;
}

static void commit_vmm(struct pctx *c, size_t v, const struct option *o)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	for (int n = 0; n < c->nn; n++)
		c->cpu_avail[n] += c->st[v].vmm_node[n];
	c->cpu_avail[o->home] -= f->vmm_cpu_cores;
}

static bool expired(const struct pctx *c, const struct plan *g)
{
	return g->active &&
	       (double)(c->now - g->confirmed_ns) > c->cfg->ttl_seconds * 1e9;
}

static int plan_policy(struct pctx *c)
{
	size_t nv = c->s->nvms;
	struct order_ent *ord = calloc(nv ? nv : 1, sizeof(*ord));
	struct option *pre = calloc(nv ? nv : 1, sizeof(*pre));
	bool *has_pre = calloc(nv ? nv : 1, sizeof(*has_pre));
	bool *guest_busy = calloc(nv ? nv : 1, sizeof(*guest_busy));
	bool room = c->pol != NL_POLICY_SIMPLE;
	int rc = -ENOMEM;

	if ((unsigned)c->pol >= NL_POLICY_COUNT) {
		rc = -EINVAL;
		goto cleanup;
	}
	if (!ord || !pre || !has_pre || !guest_busy)
		goto cleanup;
	for (int n = 0; n < c->nn; n++) {
		c->mem_avail[n] = (double)c->r->nodes[n].mem_free_bytes - c->cfg->memory_reserve;
		c->cpu_avail[n] = c->r->nodes[n].spare_cpus;
		c->assigned[n] = 0;
	}
	for (size_t v = 0; v < nv; v++) {
		const struct nl_vm_features *f = &c->r->vmf[v];
		const struct plan *g = plan_of(&c->st[v], c->pol, false);

		for (int n = 0; n < NL_MAX_NODES; n++)
			c->mem[v][n] = n < c->nn ? (double)c->s->vms[v].mem_bytes[n] : 0;
		c->busy[v] = false;
		if (f->measured && f->intensive && !isnan(f->intensity))
			for (int n = 0; n < c->nn; n++)
				c->assigned[n] += f->intensity * f->vcpu_share[n];
		ord[v].v = v;
		ord[v].group = g->active ? 0 : g->cand_n > 0 ? 1 : 2;
		ord[v].key = order_key(c, v);
		ord[v].name = c->s->vms[v].name;
	}
	qsort(ord, nv, sizeof(*ord), order_cmp);
	if (c->pol == NL_POLICY_ASYMSCHED)
		asym_prechoose(c, ord, nv, pre, has_pre);

	for (size_t i = 0; i < nv; i++) {
		size_t v = ord[i].v;
		const struct nl_vm_features *f = &c->r->vmf[v];
		struct plan *g = plan_of(&c->st[v], c->pol, false);
		struct option best, cur;
		const struct option *o;
		bool found = false, publish, was_busy;

		if (!f->measured || isnan(f->locality) || c->nn == 0) {
			/* unmeasured this window: the plan holds until it
			 * expires, unlisted */
			if (expired(c, g))
				withdraw(c, g);
			guest_busy[v] = g->active;
			continue;
		}
		if (!f->intensive && !g->active && g->cand_n == 0)
			continue;
		switch (c->pol) {
		case NL_POLICY_DINO:
			found = choose_dino(c, v, g, &best);
			break;
		case NL_POLICY_ASYMSCHED:
			if (ord[i].group == 2) {
				/* only the joint choice moves a new VM */
				if (has_pre[v]) {
					eval_home(c, v, pre[v].home, true, NULL, &best);
					found = best.feasible && best.gain > EPS;
				}
				break;
			}
			found = choose_greedy(c, v, g, true, &best);
			break;
		case NL_POLICY_LOCALITY:
		case NL_POLICY_SIMPLE:
		case NL_POLICY_COUNT:
			found = choose_greedy(c, v, g, room, &best);
			break;
		}
		if (g->active)
			current_option(c, v, g, room, &cur);
		was_busy = c->busy[v];
		o = stabilise(c, g, &cur, found ? &best : NULL, &publish);
		if (!o)
			continue;
		guest_busy[v] = true;
		if (c->pol == NL_POLICY_DINO)
			dino_charge(c, v, o->home, was_busy);
		commit(c, v, o);
		if (publish)
			emit_plan(c, v, g, o, false);
		if (c->out.err)
			break;
	}
	/* VMM-only plans, after every guest plan and room-making move is known */
	for (size_t i = 0; i < nv && !c->out.err; i++) {
		size_t v = ord[i].v;
		const struct nl_vm_features *f = &c->r->vmf[v];
		struct plan *g = plan_of(&c->st[v], c->pol, true);
		struct option best, cur;
		const struct option *o;
		bool publish;

		if (guest_busy[v] || c->busy[v] || !f->measured || c->nn == 0) {
			if (g->active && (guest_busy[v] || c->busy[v] || expired(c, g)))
				withdraw(c, g);
			if (guest_busy[v] || c->busy[v]) {
				g->cand = HOME_NONE;
				g->cand_n = 0;
			}
			continue;
		}
		eval_vmm(c, v, vmm_home(c, v), &best);
		if (g->active)
			eval_vmm(c, v, g->home, &cur);
		o = stabilise(c, g, &cur, &best, &publish);
		if (!o)
			continue;
		commit_vmm(c, v, o);
		if (publish)
			emit_plan(c, v, g, o, true);
	}
	rc = c->out.err;
cleanup:
	free(ord);
	free(pre);
	free(has_pre);
	free(guest_busy);
	return rc;
}

static int hint_cmp(const void *a, const void *b)
{
	const struct nl_hint *x = a, *y = b;
	const char *kx = x->beneficiary[0] ? x->beneficiary : x->vm;
	const char *ky = y->beneficiary[0] ? y->beneficiary : y->vm;
	int c = strcmp(kx, ky);

	if (c)
		return c;
	if (x->step != y->step)
		return x->step - y->step;
	c = strcmp(x->vm, y->vm);
	if (c)
		return c;
	return (int)x->kind - (int)y->kind;
}

static const struct vm_state *find_state(const struct nl_hints *e, const char *key)
{
	struct vm_state k;

	if (!e->nvms)
		return NULL;
	snprintf(k.key, sizeof(k.key), "%s", key);
	return bsearch(&k, e->vms, e->nvms, sizeof(*e->vms), state_cmp);
}

int nl_hints_update(struct nl_hints *e, struct nl_snapshot *s)
{
	uint64_t t0 = nl_now_ns();
	size_t nv = s->nvms;
	struct nl_hint_report *r = calloc(1, sizeof(*r));
	struct vm_state *ns = calloc(nv ? nv : 1, sizeof(*ns));
	struct pctx c;
	int rc = -ENOMEM;

	memset(&c, 0, sizeof(c));
	c.mem = calloc(nv ? nv : 1, sizeof(*c.mem));
	c.busy = calloc(nv ? nv : 1, sizeof(*c.busy));
	if (!r || !ns || !c.mem || !c.busy)
		goto cleanup;
	r->cfg = e->cfg;
	r->default_policy = (enum nl_policy)e->cfg.policy;
	r->vmf = calloc(nv ? nv : 1, sizeof(*r->vmf));
	if (!r->vmf)
		goto cleanup;
	r->nvmf = nv;
	r->inputs = NL_INPUTS_PLACEMENT;
	for (size_t i = 0; i < nv; i++) {
		const struct nl_vm_snap *vm = &s->vms[i];
		char key[sizeof(ns[0].key)];
		const struct vm_state *old;

		snprintf(key, sizeof(key), "%.*s#%d", NL_NAME_MAX, vm_id_key(vm), (int)vm->pid);
		old = find_state(e, key);
		if (old)
			ns[i] = *old;
		else
			state_init(&ns[i], key);
		compute_features(e, s, i, &ns[i], &r->vmf[i]);
		if (r->vmf[i].inputs == NL_INPUTS_PMU)
			r->inputs = NL_INPUTS_PMU;
	}
	node_summaries(s, r);

	c.e = e;
	c.cfg = &e->cfg;
	c.s = s;
	c.r = r;
	c.st = ns;
	c.nn = s->topo_valid ? s->topo.nnodes : 0;
	c.now = s->mono_ns;
	for (int p = 0; p < NL_POLICY_COUNT; p++) {
		c.pol = (enum nl_policy)p;
		memset(&c.out, 0, sizeof(c.out));
		rc = plan_policy(&c);
		if (rc) {
			for (size_t i = 0; i < c.out.n; i++)
				nl_hint_free_contents(&c.out.v[i]);
			free(c.out.v);
			goto cleanup;
		}
		if (c.out.n)
			qsort(c.out.v, c.out.n, sizeof(*c.out.v), hint_cmp);
		r->hints[p] = c.out.v;
		r->nhints[p] = c.out.n;
	}
	qsort(ns, nv, sizeof(*ns), state_cmp);
	free(e->vms);
	e->vms = ns;
	e->nvms = nv;
	ns = NULL;
	r->duration_seconds = (double)(nl_now_ns() - t0) / 1e9;
	s->hints = r;
	r = NULL;
	rc = 0;
cleanup:
	free(ns);
	free(c.mem);
	free(c.busy);
	nl_hint_report_free(r);
	return rc;
}
