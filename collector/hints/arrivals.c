/* The registry of expected arrivals (collector/arrivals.h): the only state
 * two threads write, all of it behind one mutex. The API registers and
 * withdraws (HTTP threads); the engine expires, matches and reads it once
 * per cycle (nl_arrivals_cycle(), sampler thread). Readers get deep
 * copies. A registration is ranked under the lock, so that two at once
 * each see the other's memory and CPU as taken. */
#include "arrivals_priv.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define GIB (1024.0 * 1024 * 1024)

/* One registration and what it holds while pending, by kernel node id. */
struct slot {
	struct nl_arrival_entry e;
	int rnode[NL_MAX_NODES];
	double rmem[NL_MAX_NODES], rcpu[NL_MAX_NODES];
	int nr;
};

struct nl_arrivals {
	pthread_mutex_t lock;
	struct slot *slots;            /* NL_ARRIVALS_MAX, oldest first */
	size_t n;
	unsigned long gen;
};

struct nl_arrivals *nl_arrivals_new(void)
{
	struct nl_arrivals *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->slots = calloc(NL_ARRIVALS_MAX, sizeof(*a->slots));
	if (!a->slots) {
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->lock, NULL);
	return a;
}

void nl_arrivals_free(struct nl_arrivals *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		nl_arrival_entry_free_contents(&a->slots[i].e);
	free(a->slots);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* ---- copies ---- */

void nl_arrival_entry_free_contents(struct nl_arrival_entry *e)
{
	if (!e)
		return;
	nl_placement_free(e->ranking);
	e->ranking = NULL;
	nl_dest_placement_free(&e->placement);
}

void nl_arrival_entries_free(struct nl_arrival_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		nl_arrival_entry_free_contents(&e[i]);
	free(e);
}

static int placement_copy(const struct nl_placement *src, struct nl_placement **out)
{
	struct nl_placement *d;

	*out = NULL;
	if (!src)
		return 0;
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = *src;
	d->hints = NULL;
	d->nhints = 0;
	if (src->nhints) {
		d->hints = calloc(src->nhints, sizeof(*d->hints));
		if (!d->hints) {
			free(d);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < src->nhints; i++) {
		d->nhints++;
		if (nl_hint_copy(&d->hints[i], &src->hints[i])) {
			nl_placement_free(d);
			return -ENOMEM;
		}
	}
	*out = d;
	return 0;
}

static int dup_str(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -ENOMEM : 0;
}

static int entry_copy(struct nl_arrival_entry *dst, const struct nl_arrival_entry *src)
{
	const struct nl_dest_placement *p = &src->placement;
	int rc;

	*dst = *src;
	dst->ranking = NULL;
	memset(&dst->placement, 0, sizeof(dst->placement));
	rc = placement_copy(src->ranking, &dst->ranking);
	if (!rc)
		rc = dup_str(&dst->placement.numatune_xml, p->numatune_xml);
	if (!rc)
		rc = dup_str(&dst->placement.cputune_xml, p->cputune_xml);
	if (!rc)
		rc = dup_str(&dst->placement.migrate_param, p->migrate_param);
	if (!rc)
		rc = dup_str(&dst->placement.virsh_usage, p->virsh_usage);
	if (rc)
		nl_arrival_entry_free_contents(dst);
	return rc;
}

/* ---- under the lock ---- */

static bool gone(const struct nl_arrival_entry *e, double now)
{
	if (e->state == NL_ARRIVAL_PENDING)
		return now >= e->expires;
	return now >= e->arrived + NL_ARRIVAL_KEEP_SECONDS;
}

static void expire_locked(struct nl_arrivals *a, double now)
{
	size_t w = 0;

	for (size_t i = 0; i < a->n; i++) {
		struct slot *x = &a->slots[i];

		if (gone(&x->e, now)) {
			nl_debug("arrival of VM %s (%s) %s", x->e.vm, x->e.uuid,
				 x->e.state == NL_ARRIVAL_PENDING ? "expired" : "dropped");
			nl_arrival_entry_free_contents(&x->e);
			a->gen++;
			continue;
		}
		if (w != i)
			a->slots[w] = *x;
		w++;
	}
	a->n = w;
}

static struct slot *find_locked(struct nl_arrivals *a, const char *uuid)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->slots[i].e.uuid, uuid) == 0)
			return &a->slots[i];
	return NULL;
}

static const char *hint_vm_key(const struct nl_hint *h)
{
	return h->uuid[0] ? h->uuid : h->vm;
}

/* What the pending arrivals hold on the nodes of snapshot s (skipping
 * UUID `skip`): their own memory and CPU, the memory their room-making
 * moves put on other nodes, and their donors. */
static void reserve_locked(const struct nl_arrivals *a, const struct nl_snapshot *s,
			   const char *skip, struct nl_place_reserve *rv)
{
	memset(rv, 0, sizeof(*rv));
	for (size_t i = 0; i < a->n; i++) {
		const struct slot *x = &a->slots[i];
		const struct nl_placement *pl = x->e.ranking;

		if (x->e.state != NL_ARRIVAL_PENDING || (skip && !strcmp(skip, x->e.uuid)))
			continue;
		for (int r = 0; r < x->nr; r++) {
			int ix = nl_topology_node_index(&s->topo, x->rnode[r]);

			if (ix >= 0) {
				rv->mem_bytes[ix] += x->rmem[r];
				rv->cpu_cores[ix] += x->rcpu[r];
			}
		}
		for (size_t k = 0; pl && k < pl->nhints; k++) {
			int ix = nl_topology_node_index(&s->topo, pl->hints[k].target_node);

			if (ix >= 0)
				rv->mem_bytes[ix] += (double)pl->hints[k].bytes;
			if (rv->ndonors < NL_PLACE_RESERVE_DONORS)
				rv->donors[rv->ndonors++] = nl_hints_key_hash(hint_vm_key(&pl->hints[k]));
		}
	}
}

/* ---- registration ---- */

/* The checks that need only the snapshot. */
static int check_request(const struct nl_snapshot *s, const struct nl_profile *p,
			 enum nl_policy policy, double ttl, char *err, size_t errlen)
{
	double mem = nl_hints_profile_mem_need(p), cpu = nl_hints_profile_cpu_need(p);
	uint64_t max_mem = 0;
	int max_cpus = 0, mn = -1, cn = -1;

	if (!p->uuid[0] || !p->vm[0]) {
		snprintf(err, errlen, "%s is required", p->uuid[0] ? "vm" : "uuid");
		return -EINVAL;
	}
	if (isnan(ttl) || ttl > NL_ARRIVAL_TTL_MAX) {
		snprintf(err, errlen, "ttl_seconds must be at most %.0f", NL_ARRIVAL_TTL_MAX);
		return -EINVAL;
	}
	if ((unsigned)policy >= NL_POLICY_COUNT) {
		snprintf(err, errlen, "unknown policy: must be %s", nl_policy_names());
		return -EINVAL;
	}
	if (!(mem > 0)) {
		snprintf(err, errlen, "memory must be above 0");
		return -EINVAL;
	}
	if (p->vcpus > NL_ARRIVAL_MAX_VCPUS || p->iothreads > NL_ARRIVAL_MAX_IOTHREADS) {
		snprintf(err, errlen, "vcpus must be at most %d and iothreads at most %d",
			 NL_ARRIVAL_MAX_VCPUS, NL_ARRIVAL_MAX_IOTHREADS);
		return -EINVAL;
	}
	if (!s || !s->hints || !s->topo_valid || s->topo.nnodes == 0) {
		snprintf(err, errlen, "no topology or hint report yet");
		return -ENODATA;
	}
	for (size_t i = 0; i < s->nvms; i++) {
		if (strcmp(s->vms[i].uuid, p->uuid) == 0) {
			snprintf(err, errlen, "a VM with UUID %s is already running here (%.200s)",
				 p->uuid, s->vms[i].name);
			return -EEXIST;
		}
	}
	for (int n = 0; n < s->topo.nnodes; n++) {
		int c = nl_cpuset_count(&s->topo.nodes[n].cpus);

		if (mn < 0 || s->topo.nodes[n].mem_total_bytes > max_mem) {
			max_mem = s->topo.nodes[n].mem_total_bytes;
			mn = s->topo.nodes[n].id;
		}
		if (cn < 0 || c > max_cpus) {
			max_cpus = c;
			cn = s->topo.nodes[n].id;
		}
	}
	if (mem > (double)max_mem) {
		snprintf(err, errlen, "the VM needs %.2f GiB, more than any node has in all (the largest, node %d, has %.2f GiB)",
			 mem / GIB, mn, (double)max_mem / GIB);
		return -E2BIG;
	}
	if (cpu > max_cpus) {
		snprintf(err, errlen, "the VM needs %.2f cores, more than any node has (the largest, node %d, has %d CPUs)",
			 cpu, cn, max_cpus);
		return -E2BIG;
	}
	return 0;
}

/* What the new arrival holds on each chosen node: all of it on one
 * node; over a set, each node's room in order, the rest on the last. */
static void slot_reserve(const struct nl_snapshot *s, const struct nl_profile *p,
			 const struct nl_place_reserve *rv, const struct nl_placement *pl,
			 struct slot *x)
{
	const struct nl_hint_report *r = s->hints;
	double m = nl_hints_profile_mem_need(p), c = nl_hints_profile_cpu_need(p);

	x->nr = pl->nchosen;
	for (int i = 0; i < pl->nchosen; i++) {
		int ix = nl_topology_node_index(&s->topo, pl->chosen[i]);
		double room = 0, spare = 0;

		if (ix >= 0) {
			room = fmax(0, (double)r->nodes[ix].mem_free_bytes - r->cfg.memory_reserve -
				       rv->mem_bytes[ix]);
			spare = fmax(0, r->nodes[ix].spare_cpus - rv->cpu_cores[ix]);
		}
		x->rnode[i] = pl->chosen[i];
		x->rmem[i] = i == pl->nchosen - 1 ? m : fmin(m, room);
		x->rcpu[i] = i == pl->nchosen - 1 ? c : fmin(c, spare);
		m -= x->rmem[i];
		c -= x->rcpu[i];
	}
}

/* The ranking's room-making moves become the arrival's own hints: ids of
 * their own, the arrival in the reason, its policy and expiry. */
static int relabel_room_hints(const struct nl_snapshot *s, const struct nl_profile *p,
			      const struct nl_arrival_entry *e, struct nl_placement *pl)
{
	const char *host = p->source_host[0] ? p->source_host : "an unnamed host";

	for (size_t i = 0; i < pl->nhints; i++) {
		struct nl_hint *h = &pl->hints[i];
		const struct nl_vm_snap *vm = nl_snapshot_find_vm(s, h->vm);
		char key[NL_NAME_MAX + NL_UUID_LEN + 4], why[sizeof(h->reason)];

		snprintf(key, sizeof(key), "%s>%s", hint_vm_key(h), p->uuid);
		nl_hints_make_id(key, NL_HINT_MIGRATE_MEMORY, h->target_node, h->id);
		memcpy(why, h->reason, sizeof(why));
		snprintf(h->reason, sizeof(h->reason), "arrival of VM %.64s (profile from %.64s): ",
			 p->vm, host);
		nl_hints_appendf(h->reason, sizeof(h->reason), "%s", why);
		h->policy = e->policy;
		h->created = e->created;
		h->expires = e->expires;
		nl_hint_free_contents(h);
		if (vm && nl_hints_build_actions(h, vm, &s->topo))
			return -ENOMEM;
	}
	return 0;
}

/* A new entry for placement pl (taken over). */
static int entry_build(const struct nl_snapshot *s, const struct nl_profile *p,
		       enum nl_policy policy, double ttl, double now,
		       struct nl_placement *pl, struct nl_arrival_entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->uuid, sizeof(e->uuid), "%s", p->uuid);
	snprintf(e->vm, sizeof(e->vm), "%s", p->vm);
	e->policy = policy;
	e->state = NL_ARRIVAL_PENDING;
	e->profile = *p;
	e->nnodes = pl->nchosen;
	memcpy(e->nodes, pl->chosen, sizeof(e->nodes));
	memcpy(e->reason, pl->reason, sizeof(e->reason));
	e->ranking = pl;
	e->created = now;
	e->expires = now + ttl;
	e->how = NL_ARRIVAL_NONE;
	if (relabel_room_hints(s, p, e, pl))
		return -ENOMEM;
	return nl_arrival_dest_build(s, p, e->nodes, e->nnodes, &e->placement);
}

/* Rank and keep, under the lock. */
static int register_locked(struct nl_arrivals *a, const struct nl_snapshot *s,
			   const struct nl_profile *p, enum nl_policy policy, double ttl,
			   double now, struct nl_place_reserve *rv,
			   struct nl_arrival_entry **out, char *err, size_t errlen)
{
	struct nl_placement *pl = NULL;
	struct slot x;
	struct nl_arrival_entry *copy = NULL;
	size_t pending = 0;
	int rc;

	memset(&x, 0, sizeof(x));
	expire_locked(a, now);
	if (find_locked(a, p->uuid)) {
		snprintf(err, errlen, "an arrival of UUID %s is already registered; withdraw it first (DELETE /api/v1/arrivals/%s)",
			 p->uuid, p->uuid);
		return -EALREADY;
	}
	if (a->n >= NL_ARRIVALS_MAX) {
		snprintf(err, errlen, "the registry is full (%d arrivals)", NL_ARRIVALS_MAX);
		return -ENOSPC;
	}
	for (size_t i = 0; i < a->n; i++)
		pending += a->slots[i].e.state == NL_ARRIVAL_PENDING;
	reserve_locked(a, s, NULL, rv);
	rc = nl_hints_place_with(s, p, policy, rv, &pl);
	if (rc == -EINVAL)
		snprintf(err, errlen, "profile unusable: memory must be above 0");
	if (rc)
		goto cleanup;
	if (!pl->fits) {
		snprintf(err, errlen, "nothing fits now, with %zu other pending arrival%s counted: %.200s",
			 pending, pending == 1 ? "" : "s", pl->reason);
		rc = -ENOSPC;
		goto cleanup;
	}
	slot_reserve(s, p, rv, pl, &x);
	rc = entry_build(s, p, policy, ttl, now, pl, &x.e);
	pl = NULL;                  /* x.e owns it */
	if (!rc && out) {
		copy = calloc(1, sizeof(*copy));
		rc = copy ? entry_copy(copy, &x.e) : -ENOMEM;
	}
	if (rc)
		goto cleanup;
	a->slots[a->n++] = x;
	memset(&x, 0, sizeof(x));
	a->gen++;
	if (out) {
		*out = copy;
		copy = NULL;
	}
cleanup:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(copy);
	nl_arrival_entry_free_contents(&x.e);
	nl_placement_free(pl);
	return rc;
}

int nl_arrivals_register(struct nl_arrivals *a, const struct nl_snapshot *s,
			 const struct nl_profile *p, enum nl_policy policy,
			 double ttl, double now, struct nl_arrival_entry **out,
			 char *err, size_t errlen)
{
	struct nl_place_reserve *rv = NULL;
	char dummy[8];
	int rc;

	if (out)
		*out = NULL;
	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!a || !p) {
		snprintf(err, errlen, "no profile");
		return -EINVAL;
	}
	rc = check_request(s, p, policy, ttl, err, errlen);
	if (rc)
		return rc;
	if (ttl <= 0)
		ttl = NL_ARRIVAL_TTL_DEFAULT;
	rv = malloc(sizeof(*rv));
	if (!rv) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_lock(&a->lock);
	rc = register_locked(a, s, p, policy, ttl, now, rv, out, err, errlen);
	pthread_mutex_unlock(&a->lock);
	free(rv);
	if (!rc)
		nl_info("arrival of VM %s (%s) registered under %s for %.0f s",
			p->vm, p->uuid, nl_policy_name(policy), ttl);
	return rc;
}

int nl_arrivals_withdraw(struct nl_arrivals *a, const char *uuid, double now)
{
	struct slot *x;
	int rc = -ENOENT;

	if (!a || !uuid)
		return -ENOENT;
	pthread_mutex_lock(&a->lock);
	expire_locked(a, now);
	x = find_locked(a, uuid);
	if (x) {
		size_t i = (size_t)(x - a->slots);

		nl_arrival_entry_free_contents(&x->e);
		memmove(&a->slots[i], &a->slots[i + 1], (a->n - i - 1) * sizeof(*a->slots));
		a->n--;
		a->gen++;
		rc = 0;
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

int nl_arrivals_list(struct nl_arrivals *a, double now,
		     struct nl_arrival_entry **out, size_t *n)
{
	struct nl_arrival_entry *v = NULL;
	size_t k = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	expire_locked(a, now);
	if (a->n) {
		v = calloc(a->n, sizeof(*v));
		rc = v ? 0 : -ENOMEM;
	}
	for (; !rc && k < a->n; k++)
		rc = entry_copy(&v[k], &a->slots[k].e);
	pthread_mutex_unlock(&a->lock);
	if (rc) {
		nl_arrival_entries_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

int nl_arrivals_room_hints(struct nl_arrivals *a, enum nl_policy p, double now,
			   struct nl_hint **out, size_t *n)
{
	struct nl_hint *v = NULL;
	size_t k = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	expire_locked(a, now);
	for (size_t i = 0; i < a->n; i++) {
		const struct nl_arrival_entry *e = &a->slots[i].e;

		if (e->state == NL_ARRIVAL_PENDING && e->policy == p && e->ranking)
			cap += e->ranking->nhints;
	}
	if (cap) {
		v = calloc(cap, sizeof(*v));
		rc = v ? 0 : -ENOMEM;
	}
	for (size_t i = 0; !rc && i < a->n; i++) {
		const struct nl_arrival_entry *e = &a->slots[i].e;

		if (e->state != NL_ARRIVAL_PENDING || e->policy != p || !e->ranking)
			continue;
		for (size_t j = 0; !rc && j < e->ranking->nhints; j++)
			if (!(rc = nl_hint_copy(&v[k], &e->ranking->hints[j])))
				k++;
	}
	pthread_mutex_unlock(&a->lock);
	if (rc) {
		for (size_t i = 0; i < k; i++)
			nl_hint_free_contents(&v[i]);
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

int nl_arrivals_place(struct nl_arrivals *a, const struct nl_snapshot *s,
		      const struct nl_profile *p, enum nl_policy policy, double now,
		      struct nl_placement **out)
{
	struct nl_place_reserve *rv = calloc(1, sizeof(*rv));
	int rc;

	*out = NULL;
	if (!rv)
		return -ENOMEM;
	if (a && s && s->topo_valid) {
		pthread_mutex_lock(&a->lock);
		expire_locked(a, now);
		reserve_locked(a, s, p->uuid[0] ? p->uuid : NULL, rv);
		pthread_mutex_unlock(&a->lock);
	}
	rc = s ? nl_hints_place_with(s, p, policy, rv, out) : -ENODATA;
	free(rv);
	return rc;
}

unsigned long nl_arrivals_generation(struct nl_arrivals *a)
{
	unsigned long g;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	g = a->gen;
	pthread_mutex_unlock(&a->lock);
	return g;
}

/* ---- the engine's cycle ---- */

/* The snapshot VM with this UUID (else name); with `arriving`, only one
 * whose arrival the sources saw. */
static ssize_t find_vm(const struct nl_snapshot *s, const char *uuid, const char *name,
		       bool arriving)
{
	for (size_t i = 0; i < s->nvms; i++) {
		const struct nl_vm_snap *vm = &s->vms[i];
		bool same = vm->uuid[0] ? strcmp(vm->uuid, uuid) == 0 : strcmp(vm->name, name) == 0;

		if (same && (!arriving || vm->arrival != NL_ARRIVAL_NONE))
			return (ssize_t)i;
	}
	return -1;
}

/* The donor of a room-making hint, still the same QEMU; -1 when gone. */
static ssize_t find_donor(const struct nl_snapshot *s, const struct nl_hint *h)
{
	ssize_t v = find_vm(s, h->uuid, h->vm, false);

	return v >= 0 && s->vms[v].pid == h->pid ? v : -1;
}

static int row_of(const struct nl_hint_policy *const *table, int n, enum nl_policy p)
{
	for (int r = 0; r < n && (unsigned)p < NL_POLICY_COUNT; r++)
		if (table[r] == nl_hint_policies[p])
			return r;
	return -1;
}

static int vec_push_copy(struct nl_hint_vec *hv, const struct nl_hint *h)
{
	if (hv->n == hv->cap) {
		size_t cap = hv->cap ? hv->cap * 2 : 8;
		struct nl_hint *p = realloc(hv->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		hv->v = p;
		hv->cap = cap;
	}
	if (nl_hint_copy(&hv->v[hv->n], h))
		return -ENOMEM;
	hv->n++;
	return 0;
}

/* The profile's metric as one of the engine's static names. */
static const char *static_metric(const char *m)
{
	static const char *const names[] = { "mbm_bytes_per_second", "dram_bytes_per_second",
					     "llc_bytes_per_second", "proxy" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(m, names[i]) == 0)
			return names[i];
	return "profile";
}

static void dir_fill(const struct nl_snapshot *s, const struct slot *x, size_t v, int row,
		     struct nl_arrival_dir *d)
{
	const struct nl_profile *p = &x->e.profile;

	memset(d, 0, sizeof(*d));
	d->v = v;
	d->pol = row;
	d->how = x->e.how;
	for (int i = 0; i < x->e.nnodes; i++) {
		int ix = nl_topology_node_index(&s->topo, x->e.nodes[i]);

		if (ix >= 0)
			d->nodes[d->nnodes++] = ix;
	}
	snprintf(d->source_host, sizeof(d->source_host), "%.63s",
		 p->source_host[0] ? p->source_host : "an unnamed host");
	d->inputs = p->inputs;
	d->metric = static_metric(p->intensity_metric);
	d->intensity = p->intensity;
	d->llc_mpki = p->llc_mpki;
	d->llc_misses_per_second = p->llc_misses_per_second;
	d->dram_bytes_per_second = p->dram_bytes_per_second;
	d->proxy = p->proxy;
}

/* A pending arrival: its VM arrived now, or what it holds this cycle. */
static int cycle_pending(const struct nl_snapshot *s, struct slot *x, int row,
			 struct nl_arrival_cycle *c)
{
	const struct nl_placement *pl = x->e.ranking;

	c->pending++;
	for (size_t k = 0; pl && row >= 0 && k < pl->nhints; k++) {
		ssize_t u = find_donor(s, &pl->hints[k]);

		if (u < 0)
			continue;
		if (c->nheld < NL_PLACE_RESERVE_DONORS)
			c->held[c->nheld++] = (struct nl_arrival_held){ row, (size_t)u };
		if (vec_push_copy(&c->room[row], &pl->hints[k]))
			return -ENOMEM;
	}
	return 0;
}

static void match(const struct nl_snapshot *s, struct slot *x, unsigned long *gen)
{
	ssize_t v = find_vm(s, x->e.uuid, x->e.vm, true);

	if (v < 0)
		return;
	x->e.state = NL_ARRIVAL_ARRIVED;
	x->e.arrived = s->timestamp;
	x->e.how = s->vms[v].arrival;
	(*gen)++;
	nl_info("arrival of VM %s (%s) matched (%s), %.1f s after its registration: %s",
		x->e.vm, x->e.uuid, nl_arrival_name(x->e.how), s->timestamp - x->e.created,
		x->e.reason);
}

int nl_arrivals_cycle(struct nl_arrivals *a, const struct nl_snapshot *s,
		      const struct nl_hint_policy *const *table, int n,
		      struct nl_arrival_cycle *c)
{
	int rc = 0;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&a->lock);
	expire_locked(a, s->timestamp);
	for (size_t i = 0; i < a->n && !rc; i++) {
		struct slot *x = &a->slots[i];
		int row = row_of(table, n, x->e.policy);
		bool now = false;
		ssize_t v;

		if (x->e.state == NL_ARRIVAL_PENDING) {
			match(s, x, &a->gen);
			now = x->e.state == NL_ARRIVAL_ARRIVED;
		}
		if (x->e.state == NL_ARRIVAL_PENDING) {
			rc = cycle_pending(s, x, row, c);
			continue;
		}
		v = find_vm(s, x->e.uuid, x->e.vm, false);
		if (v < 0 || row < 0 || !s->topo_valid || c->ndirs >= NL_ARRIVALS_MAX)
			continue;
		dir_fill(s, x, (size_t)v, row, &c->dirs[c->ndirs]);
		c->dirs[c->ndirs].matched_now = now;
		if (c->dirs[c->ndirs].nnodes > 0)
			c->ndirs++;
	}
	if (s->topo_valid)
		reserve_locked(a, s, NULL, &c->rv);
	pthread_mutex_unlock(&a->lock);
	if (rc)
		nl_arrival_cycle_free(c);
	return rc;
}

void nl_arrival_cycle_free(struct nl_arrival_cycle *c)
{
	for (int p = 0; p < NL_POLICY_MAX; p++) {
		for (size_t i = 0; i < c->room[p].n; i++)
			nl_hint_free_contents(&c->room[p].v[i]);
		free(c->room[p].v);
		memset(&c->room[p], 0, sizeof(c->room[p]));
	}
}
