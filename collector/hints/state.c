/* The hint engine's state and its cycle: the per-VM state carried from one
 * snapshot to the next, the report, and nl_hints_update(), which runs the
 * features (features.c), reads the expected arrivals (arrivals.c), and
 * then runs every policy of the engine's table (plan.c over the rows of
 * policies.c). See hints.h and docs/api.md. */
#include "arrivals_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define MIB (1024.0 * 1024)

/* ---- names ---- */

static const char *const kind_names[NL_HINT_KIND_COUNT] = {
	"pin_vcpus", "migrate_memory", "pin_vmm_threads", "evict",
};
static const char *const op_names[NL_ACT_COUNT] = {
	"pin_vcpu", "pin_emulator", "pin_iothread", "pin_thread", "numatune",
	"migrate_pages", "move_pages", "migrate_vm",
};

const char *nl_hint_kind_name(enum nl_hint_kind k)
{
	return (unsigned)k < NL_HINT_KIND_COUNT ? kind_names[k] : "unknown";
}

int nl_hint_kind_parse(const char *s, enum nl_hint_kind *out)
{
	for (int i = 0; i < NL_HINT_KIND_COUNT; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum nl_hint_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *nl_hint_inputs_name(enum nl_hint_inputs i)
{
	return i == NL_INPUTS_PMU ? "pmu" : "placement";
}

const char *nl_action_op_name(enum nl_action_op op)
{
	return (unsigned)op < NL_ACT_COUNT ? op_names[op] : "unknown";
}

/* ---- configuration ---- */

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
		return nl_hints_policy_error();
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

/* ---- ids and keys ---- */

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

const char *nl_hints_vm_id_key(const struct nl_vm_snap *vm)
{
	return vm->uuid[0] ? vm->uuid : vm->name;
}

static int state_cmp(const void *a, const void *b)
{
	return strcmp(((const struct nl_hint_vm *)a)->key,
		      ((const struct nl_hint_vm *)b)->key);
}

static void state_init(struct nl_hint_vm *st, const char *key)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->key, sizeof(st->key), "%s", key);
	st->keyhash = fnv1a(FNV_SEED, key, strlen(key));
	st->pmu_loc = NAN;
	st->intensity = NAN;
	st->class_val = NAN;
	for (int p = 0; p < NL_POLICY_MAX; p++) {
		nl_plan_reset(&st->guest[p]);
		nl_plan_reset(&st->vmm[p]);
		for (int k = 0; k < NL_MAX_CELLS; k++)
			nl_plan_reset(&st->cell[k][p]);
	}
}

static const struct nl_hint_vm *find_state(const struct nl_hints *e, const char *key)
{
	struct nl_hint_vm k;

	if (!e->nvms)
		return NULL;
	snprintf(k.key, sizeof(k.key), "%s", key);
	return bsearch(&k, e->vms, e->nvms, sizeof(*e->vms), state_cmp);
}

/* ---- engine and report ---- */

struct nl_hints *nl_hints_new_with(const struct nl_hint_config *cfg,
				   const struct nl_hint_policy *const *table,
				   int n)
{
	struct nl_hints *e;

	if (!table || n < 1 || n > NL_POLICY_MAX)
		return NULL;
	for (int p = 0; p < n; p++)
		if (!table[p] || !table[p]->name || !table[p]->order_key ||
		    !table[p]->choose)
			return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	if (cfg)
		e->cfg = *cfg;
	else
		nl_hint_config_defaults(&e->cfg);
	if ((unsigned)e->cfg.policy >= (unsigned)n) {
		free(e);
		return NULL;
	}
	e->policies = table;
	e->npolicies = n;
	return e;
}

struct nl_hints *nl_hints_new(const struct nl_hint_config *cfg)
{
	return nl_hints_new_with(cfg, nl_hint_policies, NL_POLICY_COUNT);
}

void nl_hints_set_arrivals(struct nl_hints *e, struct nl_arrivals *a)
{
	if (e)
		e->arrivals = a;
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
	for (int p = 0; p < NL_POLICY_MAX; p++) {
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

/* ---- one cycle ---- */

/* Room-making moves list right before the plan they are for: by
 * beneficiary (or VM), then step, VM and kind. */
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

/* Features of every VM, with the state of the last cycle carried over
 * (a new VM, or one whose QEMU restarted, starts afresh). */
static void all_features(const struct nl_hints *e, const struct nl_snapshot *s,
			 struct nl_hint_vm *ns, struct nl_hint_report *r)
{
	for (size_t i = 0; i < s->nvms; i++) {
		const struct nl_vm_snap *vm = &s->vms[i];
		char key[sizeof(ns[0].key)];
		const struct nl_hint_vm *old;

		snprintf(key, sizeof(key), "%.*s#%d", NL_NAME_MAX,
			 nl_hints_vm_id_key(vm), (int)vm->pid);
		old = find_state(e, key);
		if (old)
			ns[i] = *old;
		else
			state_init(&ns[i], key);
		nl_hints_features(&e->cfg, s, i, &ns[i], &r->vmf[i]);
		if (r->vmf[i].inputs == NL_INPUTS_PMU)
			r->inputs = NL_INPUTS_PMU;
	}
}

/* Run every policy of the table into r. Return 0 or -ENOMEM. */
static int all_policies(const struct nl_hints *e, struct nl_plan_ctx *c,
			struct nl_hint_report *r)
{
	for (int p = 0; p < e->npolicies; p++) {
		int rc;

		c->pol = p;
		c->policy = e->policies[p];
		memset(&c->out, 0, sizeof(c->out));
		rc = nl_plan_policy(c);
		if (rc) {
			for (size_t i = 0; i < c->out.n; i++)
				nl_hint_free_contents(&c->out.v[i]);
			free(c->out.v);
			return rc;
		}
		if (c->out.n)
			qsort(c->out.v, c->out.n, sizeof(*c->out.v), hint_cmp);
		r->hints[p] = c->out.v;
		r->nhints[p] = c->out.n;
	}
	return 0;
}

/* The pending arrivals' room-making hints join the list of their policy
 * (taken over from c). */
static int merge_room(struct nl_arrival_cycle *a, struct nl_hint_report *r)
{
	for (int p = 0; p < r->npolicies; p++) {
		struct nl_hint_vec *hv = &a->room[p];
		struct nl_hint *v;

		if (!hv->n)
			continue;
		v = realloc(r->hints[p], (r->nhints[p] + hv->n) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memcpy(v + r->nhints[p], hv->v, hv->n * sizeof(*v));
		r->hints[p] = v;
		r->nhints[p] += hv->n;
		free(hv->v);
		memset(hv, 0, sizeof(*hv));
		qsort(r->hints[p], r->nhints[p], sizeof(*v), hint_cmp);
	}
	return 0;
}

int nl_hints_update(struct nl_hints *e, struct nl_snapshot *s)
{
	uint64_t t0 = nl_now_ns();
	size_t nv = s->nvms;
	struct nl_hint_report *r = calloc(1, sizeof(*r));
	struct nl_hint_vm *ns = calloc(nv ? nv : 1, sizeof(*ns));
	struct nl_arrival_cycle *arr = NULL;
	struct nl_plan_ctx c;
	int rc = -ENOMEM;

	memset(&c, 0, sizeof(c));
	c.mem = calloc(nv ? nv : 1, sizeof(*c.mem));
	c.busy = calloc(nv ? nv : 1, sizeof(*c.busy));
	if (!r || !ns || !c.mem || !c.busy)
		goto cleanup;
	r->cfg = e->cfg;
	r->default_policy = e->cfg.policy;
	r->npolicies = e->npolicies;
	r->policies = e->policies;
	r->vmf = calloc(nv ? nv : 1, sizeof(*r->vmf));
	if (!r->vmf)
		goto cleanup;
	r->nvmf = nv;
	r->inputs = NL_INPUTS_PLACEMENT;
	all_features(e, s, ns, r);
	nl_hints_node_summaries(s, r);

	c.cfg = &e->cfg;
	c.s = s;
	c.r = r;
	c.st = ns;
	c.nn = s->topo_valid ? s->topo.nnodes : 0;
	c.now = s->mono_ns;
	c.emit_vm = (size_t)-1;
	if (e->arrivals) {
		arr = malloc(sizeof(*arr));
		rc = arr ? nl_arrivals_cycle(e->arrivals, s, e->policies, e->npolicies, arr) : -ENOMEM;
		if (rc) {
			free(arr);
			arr = NULL;
			goto cleanup;
		}
		c.arr = arr;
	}
	rc = all_policies(e, &c, r);
	if (!rc && arr)
		rc = merge_room(arr, r);
	if (rc)
		goto cleanup;
	qsort(ns, nv, sizeof(*ns), state_cmp);
	free(e->vms);
	e->vms = ns;
	e->nvms = nv;
	ns = NULL;
	r->duration_seconds = (double)(nl_now_ns() - t0) / 1e9;
	s->hints = r;
	r = NULL;
cleanup:
	if (arr)
		nl_arrival_cycle_free(arr);
	free(arr);
	free(ns);
	free(c.mem);
	free(c.busy);
	nl_hint_report_free(r);
	return rc;
}
