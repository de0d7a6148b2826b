/* Expected arrivals (collector/arrivals.h) on fixture hosts built in C
 * (hints_fixture.h): the registry's validation and its errors, each
 * changing nothing; reservations, TTL, withdraw; the engine matching an
 * arriving VM and publishing its hints in the same cycle; an unexpected
 * arrival confirmed over one window; the room-making hints in the report
 * of their policy while pending; Simple making room with the lower-miss
 * VM; the destination XML; a wide VM on two nodes; and two threads
 * registering while the engine runs. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrivals.h"
#include "harness.h"
#include "hints.h"
#include "hints/hints_priv.h"
#include "hints_fixture.h"
#include "log.h"

#define SRC "src-host"

static size_t count_entries(struct nl_arrivals *a, double now)
{
	struct nl_arrival_entry *e = NULL;
	size_t n = 0;

	CHECK_EQ_INT(nl_arrivals_list(a, now, &e, &n), 0);
	nl_arrival_entries_free(e, n);
	return n;
}

static bool starts(const char *s, const char *prefix)
{
	bool ok = s && strncmp(s, prefix, strlen(prefix)) == 0;

	if (!ok)
		fprintf(stderr, "  \"%s\" does not start with \"%s\"\n", s ? s : "(null)", prefix);
	return ok;
}

static const struct nl_hint *hint_by_id(const struct nl_snapshot *s, enum nl_policy p,
					const char *id)
{
	for (size_t i = 0; s->hints && i < s->hints->nhints[p]; i++)
		if (!strcmp(s->hints->hints[p][i].id, id))
			return &s->hints->hints[p][i];
	return NULL;
}

/* 2 nodes x 8 CPUs x 16 GiB: r1-cpu has 8 GiB and 3 busy cores on node
 * 0, r2-cpu 5 GiB and 2 cores on node 1, both CPU-bound (cold). */
static void two_residents(struct fx_host *h)
{
	struct fx_vm *v;

	host_init(h, 2, 8, 16 * GiB);
	v = add_vm(h, "r1-cpu", 3);
	v->mem[0] = 8 * GiB;
	v->vcpu[0] = 3;
	v->mpki = 0.2;
	v = add_vm(h, "r2-cpu", 2);
	v->mem[1] = 5 * GiB;
	v->vcpu[1] = 2;
	v->mpki = 0.3;
}

struct env {
	struct fx_host h;
	struct nl_hints *e;
	struct nl_arrivals *a;
	struct nl_snapshot *s;
};

static void env_start(struct env *x, int windows)
{
	struct nl_hint_config cfg = test_cfg();

	nl_log_set_level(NL_LOG_WARN);
	x->e = nl_hints_new(&cfg);
	x->a = nl_arrivals_new();
	x->s = NULL;
	nl_hints_set_arrivals(x->e, x->a);
	CHECK_EQ_INT(run(&x->h, x->e, windows, &x->s), 0);
}

static void env_end(struct env *x)
{
	nl_snapshot_put(x->s);
	nl_hints_free(x->e);
	nl_arrivals_free(x->a);
}

/* ---- the registry ---- */

static void test_register_ok(void)
{
	struct env x;
	struct nl_profile p;
	struct nl_arrival_entry *e = NULL;
	unsigned long g0;
	char err[256];
	double now;

	two_residents(&x.h);
	env_start(&x, 3);
	now = x.s->timestamp;
	g0 = nl_arrivals_generation(x.a);
	prof(&p, "inc", "10000000-0000-4000-8000-000000000001", 4, 2, 2, 20);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_LOCALITY, 0, now, &e,
					  err, sizeof(err)), 0);
	CHECK(e != NULL);
	if (e) {
		CHECK_STR(e->vm, "inc");
		CHECK_EQ_INT(e->state, NL_ARRIVAL_PENDING);
		CHECK_EQ_INT(e->policy, NL_POLICY_LOCALITY);
		CHECK_EQ_INT(e->nnodes, 1);
		/* node 1: 9.5 GiB free above the reserve and the lighter CPU load */
		CHECK_EQ_INT(e->nodes[0], 1);
		CHECK_NEAR(e->expires - e->created, NL_ARRIVAL_TTL_DEFAULT, 1e-9);
		CHECK(starts(e->reason, "locality: node 1 scores"));
		CHECK(e->ranking && e->ranking->nnodes == 2 && e->ranking->fits);
		CHECK(e->ranking && e->ranking->nodes[0].feasible && e->ranking->nodes[0].score > 0);
		CHECK(e->placement.numatune_xml && strstr(e->placement.numatune_xml, "nodeset='1'"));
		CHECK(e->placement.cputune_xml && strstr(e->placement.cputune_xml, "cpuset='8-15'"));
		CHECK(e->arrived == 0 && e->how == NL_ARRIVAL_NONE);
	}
	CHECK(nl_arrivals_generation(x.a) > g0);
	CHECK_EQ_INT(count_entries(x.a, now), 1);
	nl_arrival_entries_free(e, e ? 1 : 0);
	env_end(&x);
}

/* Each error: its code, a message, and nothing changed. */
static void test_register_errors(void)
{
	struct env x;
	struct nl_profile p, ok;
	struct nl_arrival_entry *e = NULL;
	struct nl_snapshot *bare;
	char err[256];
	unsigned long g;
	double now;
	const char *u = "20000000-0000-4000-8000-000000000001";

	two_residents(&x.h);
	for (int n = 0; n < 2; n++)
		x.h.other_used[n] = 3 * GiB;   /* 4.5 and 7.5 GiB above the reserve */
	env_start(&x, 3);
	now = x.s->timestamp;
	prof(&ok, "ok", u, 1, 1, 1, 20);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &ok, NL_POLICY_LOCALITY, 0, now, NULL,
					  err, sizeof(err)), 0);
	g = nl_arrivals_generation(x.a);
#define BAD(code, policy, ttl, snap, word) do { \
		err[0] = '\0'; \
		CHECK_EQ_INT(nl_arrivals_register(x.a, snap, &p, policy, ttl, now, &e, err, sizeof(err)), code); \
		CHECK(e == NULL); \
		if (!strstr(err, word)) \
			fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err, word); \
		CHECK(strstr(err, word) != NULL); \
		CHECK_EQ_INT(nl_arrivals_generation(x.a), g); \
		CHECK_EQ_INT(count_entries(x.a, now), 1); \
	} while (0)
	prof(&p, "x", "", 1, 1, 1, 20);
	BAD(-EINVAL, NL_POLICY_LOCALITY, 0, x.s, "uuid is required");
	prof(&p, "", "20000000-0000-4000-8000-000000000002", 1, 1, 1, 20);
	BAD(-EINVAL, NL_POLICY_LOCALITY, 0, x.s, "vm is required");
	prof(&p, "x", "20000000-0000-4000-8000-000000000002", 1, 1, 1, 20);
	BAD(-EINVAL, NL_POLICY_LOCALITY, NL_ARRIVAL_TTL_MAX + 1, x.s, "ttl_seconds");
	BAD(-EINVAL, NL_POLICY_COUNT, 0, x.s, "unknown policy");
	p.vcpus = NL_ARRIVAL_MAX_VCPUS + 1;
	BAD(-EINVAL, NL_POLICY_LOCALITY, 0, x.s, "vcpus must be at most");
	prof(&p, "x", "20000000-0000-4000-8000-000000000002", 0, 1, 1, 20);
	BAD(-EINVAL, NL_POLICY_LOCALITY, 0, x.s, "memory must be above 0");
	/* no hint report yet */
	bare = host_snapshot(&x.h);
	prof(&p, "x", "20000000-0000-4000-8000-000000000002", 1, 1, 1, 20);
	BAD(-ENODATA, NL_POLICY_LOCALITY, 0, bare, "no topology or hint report");
	nl_snapshot_put(bare);
	/* running here already */
	prof(&p, "r1-again", x.h.vm[0].uuid, 1, 1, 1, 20);
	BAD(-EEXIST, NL_POLICY_LOCALITY, 0, x.s, "already running here (r1-cpu)");
	/* registered already */
	prof(&p, "ok", u, 1, 1, 1, 20);
	BAD(-EALREADY, NL_POLICY_SIMPLE, 0, x.s, "already registered");
	/* bigger than any node */
	prof(&p, "huge", "20000000-0000-4000-8000-000000000003", 17, 2, 2, 20);
	BAD(-E2BIG, NL_POLICY_LOCALITY, 0, x.s, "more than any node has in all");
	prof(&p, "wide-cpu", "20000000-0000-4000-8000-000000000003", 1, 12, 12, 20);
	BAD(-E2BIG, NL_POLICY_LOCALITY, 0, x.s, "8 CPUs");
	/* 14 GiB fit no node, even with the cold memory moved, nor both */
	prof(&p, "big", "20000000-0000-4000-8000-000000000003", 14, 2, 2, 20);
	BAD(-ENOSPC, NL_POLICY_LOCALITY, 0, x.s, "nothing fits now, with 1 other pending arrival counted");
#undef BAD
	env_end(&x);
}

static void test_registry_full(void)
{
	struct env x;
	struct nl_profile p;
	char err[256], u[NL_UUID_LEN];
	int rc = 0;

	host_init(&x.h, 2, 64, 256 * GiB);
	env_start(&x, 2);
	for (int i = 0; i < NL_ARRIVALS_MAX && !rc; i++) {
		snprintf(u, sizeof(u), "30000000-0000-4000-8000-%012d", i);
		prof(&p, "small", u, 0.0625, 1, 0.1, 1);
		rc = nl_arrivals_register(x.a, x.s, &p, NL_POLICY_DINO, 0, x.s->timestamp, NULL,
					  err, sizeof(err));
	}
	CHECK_EQ_INT(rc, 0);
	prof(&p, "one-more", "30000000-0000-4000-8000-999999999999", 0.0625, 1, 0.1, 1);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_DINO, 0, x.s->timestamp, NULL,
					  err, sizeof(err)), -ENOSPC);
	CHECK(strstr(err, "registry is full") != NULL);
	CHECK_EQ_INT(count_entries(x.a, x.s->timestamp), NL_ARRIVALS_MAX);
	env_end(&x);
}

/* Two arrivals at once do not get the same room: 6.5 GiB above the
 * reserve on each node, 6 GiB wanted by each of three. */
static void test_reservations(void)
{
	struct env x;
	struct nl_profile a, b, c;
	struct nl_arrival_entry *ea = NULL, *eb = NULL;
	struct nl_placement *pl = NULL;
	char err[256];
	double now;

	host_init(&x.h, 2, 8, 16 * GiB);
	x.h.other_used[0] = x.h.other_used[1] = 9 * GiB;
	env_start(&x, 2);
	now = x.s->timestamp;
	prof(&a, "a", "40000000-0000-4000-8000-000000000001", 6, 2, 2, 20);
	prof(&b, "b", "40000000-0000-4000-8000-000000000002", 6, 2, 2, 20);
	prof(&c, "c", "40000000-0000-4000-8000-000000000003", 6, 2, 2, 20);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &a, NL_POLICY_LOCALITY, 0, now, &ea, err, sizeof(err)), 0);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &b, NL_POLICY_LOCALITY, 0, now, &eb, err, sizeof(err)), 0);
	CHECK(ea && eb);
	if (ea && eb) {
		CHECK_EQ_INT(ea->nnodes, 1);
		CHECK_EQ_INT(eb->nnodes, 1);
		CHECK(ea->nodes[0] != eb->nodes[0]);
		/* b saw a's 6 GiB as taken on a's node */
		CHECK(eb->ranking && !eb->ranking->nodes[1].feasible &&
		      strstr(eb->ranking->nodes[1].reason, "after the pending arrivals"));
	}
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &c, NL_POLICY_DINO, 0, now, NULL, err, sizeof(err)),
		     -ENOSPC);
	CHECK(strstr(err, "2 other pending arrivals counted") != NULL);
	/* the read-only what-if sees the host as it stands; with the
	 * reservations it says no */
	CHECK_EQ_INT(nl_hints_place(x.s, &c, &pl), 0);
	CHECK(pl && pl->fits);
	nl_placement_free(pl);
	CHECK_EQ_INT(nl_arrivals_place(x.a, x.s, &c, NL_POLICY_LOCALITY, now, &pl), 0);
	CHECK(pl && !pl->fits);
	nl_placement_free(pl);
	/* the engine's own plans see the reservation too: a's node has
	 * 0.5 GiB left above the reserve in every pass */
	/* a withdrawn: its room is free again */
	CHECK_EQ_INT(nl_arrivals_withdraw(x.a, a.uuid, now), 0);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &c, NL_POLICY_LOCALITY, 0, now, NULL, err, sizeof(err)), 0);
	nl_arrival_entries_free(ea, ea ? 1 : 0);
	nl_arrival_entries_free(eb, eb ? 1 : 0);
	env_end(&x);
}

static void test_ttl_and_withdraw(void)
{
	struct env x;
	struct nl_profile p;
	struct nl_arrival_entry *e = NULL;
	struct nl_hint *rh = NULL;
	size_t nrh = 0;
	char err[256];
	unsigned long g;
	double now;

	two_residents(&x.h);
	env_start(&x, 2);
	now = x.s->timestamp;
	prof(&p, "t", "50000000-0000-4000-8000-000000000001", 1, 1, 1, 20);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_LOCALITY, 10, now, &e, err, sizeof(err)), 0);
	CHECK(e && fabs(e->expires - now - 10) < 1e-9);
	nl_arrival_entries_free(e, e ? 1 : 0);
	CHECK_EQ_INT(count_entries(x.a, now + 9.9), 1);
	g = nl_arrivals_generation(x.a);
	CHECK_EQ_INT(count_entries(x.a, now + 10.1), 0);
	CHECK(nl_arrivals_generation(x.a) > g);
	/* expired: registering again is no duplicate; withdrawing it is */
	CHECK_EQ_INT(nl_arrivals_withdraw(x.a, p.uuid, now + 11), -ENOENT);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_LOCALITY, 0, now + 11, NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(nl_arrivals_withdraw(x.a, "no-such-uuid", now + 11), -ENOENT);
	g = nl_arrivals_generation(x.a);
	CHECK_EQ_INT(nl_arrivals_withdraw(x.a, p.uuid, now + 12), 0);
	CHECK(nl_arrivals_generation(x.a) > g);
	CHECK_EQ_INT(count_entries(x.a, now + 12), 0);
	CHECK_EQ_INT(nl_arrivals_withdraw(x.a, p.uuid, now + 12), -ENOENT);
	CHECK_EQ_INT(nl_arrivals_room_hints(x.a, NL_POLICY_LOCALITY, now + 12, &rh, &nrh), 0);
	CHECK(nrh == 0 && rh == NULL);
	env_end(&x);
}

/* ---- the engine ---- */

/* 2 x 16 GiB, 1 GiB used by others: r1-cpu 8 GiB on node 0, r2-cpu
 * 5 GiB on node 1. "inc" (11 GiB, 20 MPKI) fits node 1 only after r2-cpu
 * moves 1.5 GiB to node 0. */
static void test_room_hints_then_arrival(void)
{
	struct env x;
	struct nl_profile p;
	struct nl_arrival_entry *e = NULL, *l = NULL;
	const struct nl_hint *rh, *pin, *mig;
	char err[256], room_id[NL_HINT_ID_LEN] = "", eng_id[NL_HINT_ID_LEN];
	struct fx_vm *v;
	size_t nl = 0;

	two_residents(&x.h);
	env_start(&x, 3);
	prof(&p, "inc", "60000000-0000-4000-8000-000000000001", 11, 4, 4, 20);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_LOCALITY, 0, x.s->timestamp,
					  &e, err, sizeof(err)), 0);
	CHECK(e && e->nodes[0] == 1 && e->ranking && e->ranking->nhints == 1);
	if (!e || !e->ranking || e->ranking->nhints != 1)
		goto cleanup;
	rh = &e->ranking->hints[0];
	CHECK_STR(rh->vm, "r2-cpu");
	CHECK_STR(rh->reason_code, "make_room");
	CHECK_STR(rh->beneficiary, "inc");
	CHECK(starts(rh->reason, "arrival of VM inc (profile from " SRC "): frees 1.50 GiB on node 1"));
	snprintf(room_id, sizeof(room_id), "%s", rh->id);
	/* its own id, not the engine's for the same move */
	nl_hints_make_id(x.h.vm[1].uuid, NL_HINT_MIGRATE_MEMORY, 0, eng_id);
	CHECK(strcmp(room_id, eng_id) != 0);
	CHECK(rh->nactions == 1 && strstr(rh->actions[0].command, room_id));
	/* apply finds it under its own policy, whatever the server's default */
	CHECK(rh->nactions == 1 && strstr(rh->actions[0].command, " --policy=locality "));

	/* in the next report of its policy only, and nothing else for r2-cpu */
	CHECK_EQ_INT(run(&x.h, x.e, 1, &x.s), 0);
	rh = hint_by_id(x.s, NL_POLICY_LOCALITY, room_id);
	CHECK(rh && rh->policy == NL_POLICY_LOCALITY && rh->kind == NL_HINT_MIGRATE_MEMORY);
	CHECK_EQ_INT(count_vm(x.s, NL_POLICY_LOCALITY, "r2-cpu"), 1);
	CHECK(hint_by_id(x.s, NL_POLICY_SIMPLE, room_id) == NULL);
	CHECK(hint_by_id(x.s, NL_POLICY_DINO, room_id) == NULL);

	/* the VM arrives (live migration): QEMU's memory landed on node 0,
	 * its vCPUs anywhere */
	v = add_vm(&x.h, "inc", 4);
	snprintf(v->uuid, sizeof(v->uuid), "%s", p.uuid);
	v->mem[0] = 11 * GiB;
	x.h.vm[0].mem[0] = 3 * GiB;       /* fixture room for it on node 0 */
	v->vcpu[0] = v->vcpu[1] = 2;
	v->mpki = 20;
	v->arrival = NL_ARRIVAL_MIGRATED;
	v->arrived_t = x.h.t + INTERVAL;
	CHECK_EQ_INT(run(&x.h, x.e, 1, &x.s), 0);
	/* matched in this very cycle: ARRIVED, room hints gone, own hints
	 * published without windows, the profile as evidence */
	CHECK_EQ_INT(nl_arrivals_list(x.a, x.s->timestamp, &l, &nl), 0);
	CHECK(nl == 1 && l[0].state == NL_ARRIVAL_ARRIVED && l[0].how == NL_ARRIVAL_MIGRATED);
	CHECK(nl == 1 && l[0].arrived == x.s->timestamp);
	nl_arrival_entries_free(l, nl);
	CHECK(hint_by_id(x.s, NL_POLICY_LOCALITY, room_id) == NULL);
	pin = find_hint(x.s, NL_POLICY_LOCALITY, "inc", NL_HINT_PIN_VCPUS);
	mig = find_hint(x.s, NL_POLICY_LOCALITY, "inc", NL_HINT_MIGRATE_MEMORY);
	CHECK(pin && mig);
	if (pin && mig) {
		CHECK_EQ_INT(pin->target_node, 1);
		CHECK_EQ_INT(mig->target_node, 1);
		CHECK_EQ_INT(mig->from_nodes[0], 0);
		CHECK_EQ_INT(pin->ev.windows, 0);
		CHECK(starts(pin->reason, "arrival expected (profile from " SRC "): "));
		CHECK(starts(mig->reason, "arrival expected (profile from " SRC "): "));
		CHECK_NEAR(pin->confidence, 0.9, 1e-9);
		CHECK_NEAR(pin->ev.llc_mpki, 20, 1e-9);     /* from the profile */
		CHECK_EQ_INT(pin->ev.inputs, NL_INPUTS_PMU);
	}
	/* under the other policies, a plan only after confirmation */
	CHECK(find_hint(x.s, NL_POLICY_SIMPLE, "inc", NL_HINT_PIN_VCPUS) == NULL);
	/* kept in the next cycles while there is something to do */
	CHECK_EQ_INT(run(&x.h, x.e, 2, &x.s), 0);
	pin = find_hint(x.s, NL_POLICY_LOCALITY, "inc", NL_HINT_PIN_VCPUS);
	CHECK(pin && pin->target_node == 1 && pin->ev.windows == 2);
cleanup:
	nl_arrival_entries_free(e, e ? 1 : 0);
	env_end(&x);
}

/* What a pending arrival holds, the engine's own plans leave alone: its
 * memory on node 1 and its donor. m-mem (6 GiB on node 0, vCPUs pinned to
 * node 1, node 0's CPUs taken by a hog) would move its memory to node 1;
 * with 7 GiB promised there, and the cold VM giving up memory for the
 * arrival, no node can take it. */
static void test_engine_respects_pending_arrivals(void)
{
	struct env x;
	struct nl_profile p;
	struct fx_vm *v;
	char err[256];

	host_init(&x.h, 2, 8, 16 * GiB);
	v = add_vm(&x.h, "cold", 1);
	v->mem[1] = 8 * GiB;
	v->vcpu[1] = 0.5;
	v->mpki = 0.1;
	v = add_vm(&x.h, "hog", 8);
	v->mem[0] = 1 * GiB;
	v->vcpu[0] = 7;
	v->mpki = 0.1;
	v = add_vm(&x.h, "m-mem", 2);
	v->mem[0] = 6 * GiB;
	v->vcpu[1] = 2;
	v->vcpu_pin = 1;
	v->mpki = 20;
	env_start(&x, 1);
	prof(&p, "inc", "62000000-0000-4000-8000-000000000001", 7, 1, 1, 20);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_LOCALITY, 0, x.s->timestamp,
					  NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(run(&x.h, x.e, 6, &x.s), 0);
	/* the arrival's room hint, nothing of the engine's */
	CHECK_EQ_INT(count_vm(x.s, NL_POLICY_LOCALITY, "cold"), 1);
	CHECK(find_hint(x.s, NL_POLICY_LOCALITY, "m-mem", NL_HINT_MIGRATE_MEMORY) == NULL);
	CHECK(find_hint(x.s, NL_POLICY_LOCALITY, "m-mem", NL_HINT_EVICT) != NULL);
	env_end(&x);
}

/* The destination placement worked: the VM lands on its node and runs
 * there with locality 1 (its threads not even pinned): no hint. */
static void test_arrival_in_place_no_hints(void)
{
	struct env x;
	struct nl_profile p;
	struct fx_vm *v;
	char err[256];

	two_residents(&x.h);
	env_start(&x, 3);
	prof(&p, "inc", "61000000-0000-4000-8000-000000000001", 4, 2, 2, 20);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_SIMPLE, 0, x.s->timestamp,
					  NULL, err, sizeof(err)), 0);
	v = add_vm(&x.h, "inc", 2);
	snprintf(v->uuid, sizeof(v->uuid), "%s", p.uuid);
	v->mem[1] = 4 * GiB;
	v->vcpu[1] = 2;
	v->mpki = 20;
	v->arrival = NL_ARRIVAL_RESTORED;
	v->arrived_t = x.h.t + INTERVAL;
	for (int w = 0; w < 5; w++) {
		CHECK_EQ_INT(run(&x.h, x.e, 1, &x.s), 0);
		for (int pol = 0; pol < NL_POLICY_COUNT; pol++)
			CHECK_EQ_INT(count_vm(x.s, (enum nl_policy)pol, "inc"), 0);
	}
	env_end(&x);
}

/* No expectation: the engine still knows the VM is new and confirms its
 * first plan over one window, under every policy; the same VM booted here
 * needs --hints.confirm-windows. */
static void test_unexpected_arrival_one_window(void)
{
	struct env x;
	struct fx_vm *v;

	host_init(&x.h, 2, 16, 64 * GiB);
	env_start(&x, 2);
	for (int i = 0; i < 2; i++) {
		v = add_vm(&x.h, i ? "native" : "stray", 2);
		v->mem[0] = 4 * GiB;
		v->vcpu[1] = 2;
		v->vcpu_pin = 1;
		v->mpki = 15;
		if (!i) {
			v->arrival = NL_ARRIVAL_MIGRATED;
			v->arrived_t = x.h.t + INTERVAL;
		}
	}
	/* the first window has no counter rates */
	CHECK_EQ_INT(run(&x.h, x.e, 1, &x.s), 0);
	for (int pol = 0; pol < NL_POLICY_COUNT; pol++)
		CHECK_EQ_INT(count_vm(x.s, (enum nl_policy)pol, "stray"), 0);
	CHECK_EQ_INT(run(&x.h, x.e, 1, &x.s), 0);
	for (int pol = 0; pol < NL_POLICY_COUNT; pol++) {
		const struct nl_hint *h = NULL;

		for (size_t i = 0; i < x.s->hints->nhints[pol]; i++)
			if (!strcmp(x.s->hints->hints[pol][i].vm, "stray"))
				h = &x.s->hints->hints[pol][i];
		CHECK(h != NULL);
		if (!h) {
			fprintf(stderr, "  no hint for stray under %s\n", nl_policy_name((enum nl_policy)pol));
			continue;
		}
		CHECK(starts(h->reason, "arrived (migrated) without a profile: confirmed over 1 window; "));
		CHECK_EQ_INT(h->ev.windows, 1);
		CHECK_EQ_INT(count_vm(x.s, (enum nl_policy)pol, "native"), 0);
	}
	/* native: confirm-windows (3) after its first */
	CHECK_EQ_INT(run(&x.h, x.e, 2, &x.s), 0);
	CHECK(find_hint(x.s, NL_POLICY_LOCALITY, "native", NL_HINT_PIN_VCPUS) != NULL);
	env_end(&x);
}

/* Simple (the paper's case 1-1): a high-miss arrival takes the node of a
 * memory-intensive resident with a lower miss rate, whose memory moves
 * away. Locality moves no memory-intensive VM's memory, so it can only
 * spread the arrival over both nodes. */
static void test_simple_arrival_takes_low_miss_node(void)
{
	struct env x;
	struct nl_profile p;
	struct nl_arrival_entry *es = NULL, *el = NULL;
	struct fx_vm *v;
	char err[256];

	host_init(&x.h, 2, 8, 16 * GiB);
	v = add_vm(&x.h, "res-lo", 2);
	v->mem[0] = 8 * GiB;
	v->vcpu[0] = 2;
	v->vcpu_pin = v->vmm_pin = 0;
	v->mpki = 6;                      /* memory-intensive, 1.2e7 misses/s */
	v = add_vm(&x.h, "res-hi", 2);
	v->mem[1] = 8 * GiB;
	v->vcpu[1] = 2;
	v->vcpu_pin = v->vmm_pin = 1;
	v->mpki = 40;                     /* 8e7 misses/s */
	env_start(&x, 4);
	prof(&p, "inc", "70000000-0000-4000-8000-000000000001", 7, 2, 2, 20);   /* 4e7/s */
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_SIMPLE, 0, x.s->timestamp,
					  &es, err, sizeof(err)), 0);
	CHECK(es && es->nnodes == 1 && es->nodes[0] == 0);
	CHECK(es && es->ranking && es->ranking->nhints == 1);
	if (es && es->ranking && es->ranking->nhints == 1) {
		const struct nl_hint *rh = &es->ranking->hints[0];

		CHECK_STR(rh->vm, "res-lo");
		CHECK_EQ_INT(rh->from_nodes[0], 0);
		CHECK_EQ_INT(rh->target_node, 1);
		CHECK(strstr(rh->reason, "LLC miss rate is lower") != NULL);
		CHECK(strstr(es->reason, "lower LLC miss rate make room") != NULL);
	}
	/* locality: no cold memory to move, so both nodes together */
	CHECK_EQ_INT(nl_arrivals_withdraw(x.a, p.uuid, x.s->timestamp), 0);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_LOCALITY, 0, x.s->timestamp,
					  &el, err, sizeof(err)), 0);
	CHECK(el && el->nnodes == 2 && el->ranking && el->ranking->nhints == 0);
	/* the room hint is in simple's list, and res-lo gets nothing else */
	CHECK_EQ_INT(nl_arrivals_withdraw(x.a, p.uuid, x.s->timestamp), 0);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_SIMPLE, 0, x.s->timestamp,
					  NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(run(&x.h, x.e, 3, &x.s), 0);
	CHECK_EQ_INT(count_vm(x.s, NL_POLICY_SIMPLE, "res-lo"), 1);
	CHECK(find_hint(x.s, NL_POLICY_SIMPLE, "res-lo", NL_HINT_MIGRATE_MEMORY) != NULL);
	nl_arrival_entries_free(es, es ? 1 : 0);
	nl_arrival_entries_free(el, el ? 1 : 0);
	env_end(&x);
}

/* ---- destination placement ---- */

/* 2 nodes x 4 CPUs: node 1 is CPUs 4-7. */
static void test_dest_xml(void)
{
	struct env x;
	struct nl_profile p;
	struct nl_arrival_entry *e = NULL;
	struct fx_vm *v;
	char err[256];

	host_init(&x.h, 2, 4, 16 * GiB);
	x.h.other_used[0] = 6 * GiB;
	v = add_vm(&x.h, "busy0", 1);     /* node 0 has the CPU load */
	v->mem[0] = 1 * GiB;
	v->vcpu[0] = 1;
	v->mpki = 0.1;
	env_start(&x, 2);
	prof(&p, "it's a vm", "80000000-0000-4000-8000-000000000001", 4, 2, 1.5, 20);
	p.iothreads = 2;
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_LOCALITY, 0, x.s->timestamp,
					  &e, err, sizeof(err)), 0);
	CHECK(e && e->nodes[0] == 1);
	if (!e)
		goto cleanup;
	CHECK_STR(e->placement.numatune_xml,
		  "<numatune>\n  <memory mode='strict' nodeset='1'/>\n</numatune>");
	CHECK_STR(e->placement.cputune_xml,
		  "<cputune>\n"
		  "  <vcpupin vcpu='0' cpuset='4-7'/>\n"
		  "  <vcpupin vcpu='1' cpuset='4-7'/>\n"
		  "  <emulatorpin cpuset='4-7'/>\n"
		  "  <iothreadpin iothread='1' cpuset='4-7'/>\n"
		  "  <iothreadpin iothread='2' cpuset='4-7'/>\n"
		  "</cputune>");
	CHECK(strstr(e->placement.migrate_param, "VIR_MIGRATE_PARAM_DEST_XML (\"destination_xml\")") != NULL);
	CHECK(strstr(e->placement.migrate_param, "VIR_DOMAIN_XML_MIGRATABLE") != NULL);
	CHECK(strstr(e->placement.migrate_param, "replaced by numatune_xml and cputune_xml") != NULL);
	CHECK(strstr(e->placement.virsh_usage,
		     "virsh dumpxml --migratable 'it'\\''s a vm' > 'it'\\''s a vm.xml'\n") != NULL);
	CHECK(strstr(e->placement.virsh_usage,
		     "virsh migrate --live --xml 'it'\\''s a vm.xml' 'it'\\''s a vm' qemu+ssh://DEST/system") != NULL);
cleanup:
	nl_arrival_entries_free(e, e ? 1 : 0);
	env_end(&x);
}

/* 4 nodes x 4 CPUs x 16 GiB (SLIT 10/16/22): 7 GiB free on nodes 0 and
 * 1, 1 GiB on nodes 2 and 3. 12 GiB fit no node, the two near ones
 * together. */
static void test_wide_vm_two_nodes(void)
{
	static const int slit[4][4] = { { 10, 16, 22, 22 }, { 16, 10, 22, 22 },
					{ 22, 22, 10, 16 }, { 22, 22, 16, 10 } };
	struct env x;
	struct nl_profile p;
	struct nl_arrival_entry *e = NULL;
	struct fx_vm *v;
	const struct nl_hint *pin;
	char err[256], cpus[64];

	host_init(&x.h, 4, 4, 16 * GiB);
	host_slit(&x.h, 4, &slit[0][0]);
	x.h.other_used[0] = x.h.other_used[1] = 8.5 * GiB;
	x.h.other_used[2] = x.h.other_used[3] = 14.5 * GiB;
	env_start(&x, 2);
	prof(&p, "wide", "90000000-0000-4000-8000-000000000001", 12, 4, 3, 20);
	CHECK_EQ_INT(nl_arrivals_register(x.a, x.s, &p, NL_POLICY_DINO, 0, x.s->timestamp,
					  &e, err, sizeof(err)), 0);
	CHECK(e && e->nnodes == 2);
	if (!e || e->nnodes != 2)
		goto cleanup;
	CHECK_EQ_INT(e->nodes[0], 0);
	CHECK_EQ_INT(e->nodes[1], 1);
	CHECK(e->ranking && e->ranking->fits && e->ranking->nchosen == 2 &&
	      e->ranking->recommended_node == 0);
	for (int n = 0; e->ranking && n < 4; n++)
		CHECK(!e->ranking->nodes[n].feasible);
	CHECK(strstr(e->reason, "no single node can take 12.00 GiB") != NULL);
	CHECK(strstr(e->reason, "nodes 0,1 together") != NULL);
	CHECK(strstr(e->placement.numatune_xml, "nodeset='0,1'") != NULL);
	CHECK(strstr(e->placement.cputune_xml, "<vcpupin vcpu='3' cpuset='0-7'/>") != NULL);
	/* arrived with its threads free to run anywhere: pinned to both
	 * nodes' CPUs at once */
	v = add_vm(&x.h, "wide", 4);
	snprintf(v->uuid, sizeof(v->uuid), "%s", p.uuid);
	x.h.other_used[0] = x.h.other_used[1] = 2.5 * GiB;
	v->mem[0] = v->mem[1] = 6 * GiB;
	v->vcpu[0] = v->vcpu[2] = 1.5;
	v->mpki = 20;
	v->arrival = NL_ARRIVAL_INCOMING;
	v->arrived_t = x.h.t + INTERVAL;
	CHECK_EQ_INT(run(&x.h, x.e, 1, &x.s), 0);
	pin = find_hint(x.s, NL_POLICY_DINO, "wide", NL_HINT_PIN_VCPUS);
	CHECK(pin != NULL);
	if (pin) {
		nl_cpuset_format(&pin->target_cpus, cpus, sizeof(cpus));
		CHECK_STR(cpus, "0-7");
		CHECK_EQ_INT(pin->target_node, 0);
		CHECK(starts(pin->reason, "arrival expected (profile from " SRC "): a VM wider than one node: run its vCPUs on nodes 0,1"));
		CHECK_EQ_INT(pin->ev.windows, 0);
	}
	CHECK(find_hint(x.s, NL_POLICY_DINO, "wide", NL_HINT_PIN_VMM_THREADS) != NULL);
	CHECK(find_hint(x.s, NL_POLICY_DINO, "wide", NL_HINT_MIGRATE_MEMORY) == NULL);
	CHECK(find_hint(x.s, NL_POLICY_DINO, "wide", NL_HINT_EVICT) == NULL);
cleanup:
	nl_arrival_entries_free(e, e ? 1 : 0);
	env_end(&x);
}

/* ---- threads ---- */

struct worker {
	struct nl_arrivals *a;
	struct nl_snapshot *s;
	int id, ok, errors;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct nl_profile p;
	char err[256], u[NL_UUID_LEN];

	for (int i = 0; i < 300; i++) {
		struct nl_arrival_entry *l = NULL;
		size_t n = 0;

		snprintf(u, sizeof(u), "a%07d-0000-4000-8000-%012d", w->id, i);
		prof(&p, "t", u, 0.25, 1, 0.1, i % 2 ? 20 : 1);
		bool reg = nl_arrivals_register(w->a, w->s, &p, (enum nl_policy)(i % NL_POLICY_COUNT),
						0, w->s->timestamp, NULL, err, sizeof(err)) == 0;

		w->ok += reg;
		if (nl_arrivals_list(w->a, w->s->timestamp, &l, &n) < 0)
			w->errors++;
		nl_arrival_entries_free(l, n);
		/* what this thread registered, only it withdraws */
		if (reg && nl_arrivals_withdraw(w->a, u, w->s->timestamp) < 0)
			w->errors++;
	}
	return NULL;
}

static void test_threads_register_while_update_runs(void)
{
	struct env x;
	struct worker w[2];
	pthread_t t[2];
	struct nl_snapshot *base;

	two_residents(&x.h);
	env_start(&x, 2);
	base = x.s;
	nl_snapshot_get(base);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ x.a, base, i, 0, 0 };
		CHECK_EQ_INT(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	CHECK_EQ_INT(run(&x.h, x.e, 30, &x.s), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(w[i].errors, 0);
		CHECK(w[i].ok > 0);
	}
	CHECK_EQ_INT(count_entries(x.a, base->timestamp), 0);
	nl_snapshot_put(base);
	env_end(&x);
}

NL_TEST_MAIN(NL_T(test_register_ok),
	     NL_T(test_register_errors),
	     NL_T(test_registry_full),
	     NL_T(test_reservations),
	     NL_T(test_ttl_and_withdraw),
	     NL_T(test_room_hints_then_arrival),
	     NL_T(test_engine_respects_pending_arrivals),
	     NL_T(test_arrival_in_place_no_hints),
	     NL_T(test_unexpected_arrival_one_window),
	     NL_T(test_simple_arrival_takes_low_miss_node),
	     NL_T(test_dest_xml),
	     NL_T(test_wide_vm_two_nodes),
	     NL_T(test_threads_register_while_update_runs))
