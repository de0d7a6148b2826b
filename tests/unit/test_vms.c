#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "state.h"
#include "vms.h"

static struct nl_config cfg;
static struct nl_state st;
static struct nl_qproc qp[4];
static struct nl_domain dom[2];

static void reset(enum nl_discovery mode)
{
	nl_source_vms.free(&st, NULL);
	memset(&st, 0, sizeof(st));
	nl_config_defaults(&cfg);
	cfg.discovery = mode;
	st.cfg = &cfg;
	memset(qp, 0, sizeof(qp));
	qp[0] = (struct nl_qproc){ .pid = 100, .starttime = 5, .name = "alpha",
				   .uuid = "aaaaaaaa-0000-0000-0000-000000000001" };
	qp[1] = (struct nl_qproc){ .pid = 200, .starttime = 6, .name = "beta" };
	st.qprocs = qp;
	st.nqprocs = 2;
	dom[0] = (struct nl_domain){ .name = "alpha-libvirt",
				     .uuid = "aaaaaaaa-0000-0000-0000-000000000001",
				     .pid = 100 };
	st.domains = dom;
	st.ndomains = 1;
}

static const struct nl_vm *vm_named(const char *name)
{
	for (size_t i = 0; i < st.nvms; i++)
		if (strcmp(st.vms[i]->name, name) == 0)
			return st.vms[i];
	return NULL;
}

static void cycle(void)
{
	st.gen++;
	nl_source_vms.sample(&st, NULL);
}

static void test_auto_merges_libvirt_and_unmanaged(void)
{
	reset(NL_DISCOVERY_AUTO);
	st.domains_valid = true;
	cycle();
	CHECK_EQ_INT(st.nvms, 2);
	CHECK(vm_named("alpha-libvirt") && vm_named("alpha-libvirt")->backend == NL_BACKEND_LIBVIRT);
	CHECK(vm_named("beta") && vm_named("beta")->backend == NL_BACKEND_PROC);
	CHECK(!vm_named("alpha"));
}

static void test_libvirt_down_keeps_names(void)
{
	reset(NL_DISCOVERY_AUTO);
	st.domains_valid = true;
	cycle();
	st.domains_valid = false;   /* libvirtd restarted */
	cycle();
	CHECK_EQ_INT(st.nvms, 2);
	CHECK(vm_named("alpha-libvirt") != NULL);
	/* its QEMU exits while libvirt is down: dropped */
	st.qprocs = &qp[1];
	st.nqprocs = 1;
	cycle();
	CHECK_EQ_INT(st.nvms, 1);
	CHECK(vm_named("alpha-libvirt") == NULL);
}

static void test_libvirt_only_mode_ignores_unmanaged(void)
{
	reset(NL_DISCOVERY_LIBVIRT);
	st.domains_valid = true;
	cycle();
	CHECK_EQ_INT(st.nvms, 1);
	CHECK(vm_named("beta") == NULL);
}

static void test_proc_mode(void)
{
	reset(NL_DISCOVERY_PROC);
	cycle();
	CHECK_EQ_INT(st.nvms, 2);
	const struct nl_vm *a = vm_named("alpha");

	CHECK(a && a->backend == NL_BACKEND_PROC);
	CHECK_STR(a ? a->uuid : NULL, "aaaaaaaa-0000-0000-0000-000000000001");
}

static void test_pid_reuse_is_a_new_vm(void)
{
	struct nl_vm *before;

	reset(NL_DISCOVERY_PROC);
	cycle();
	before = (struct nl_vm *)vm_named("beta");
	if (!before)
		return;
	before->retired_run_ns[0] = 12345;   /* marks the old object */
	qp[1].starttime = 99;
	cycle();
	CHECK_EQ_INT(st.nvms, 2);
	before = (struct nl_vm *)vm_named("beta");
	CHECK(before != NULL);
	if (!before)
		return;
	CHECK_EQ_U64(before->retired_run_ns[0], 0);
	CHECK_EQ_U64(before->starttime, 99);
}

static void test_unnamed_and_duplicate_names(void)
{
	reset(NL_DISCOVERY_PROC);
	qp[2] = (struct nl_qproc){ .pid = 300, .starttime = 7, .name = "beta" };
	qp[3] = (struct nl_qproc){ .pid = 400, .starttime = 8 };
	st.nqprocs = 4;
	cycle();
	CHECK_EQ_INT(st.nvms, 4);
	CHECK(vm_named("beta") != NULL);
	CHECK(vm_named("beta-pid300") != NULL);
	CHECK(vm_named("400") != NULL);
}

static void test_max_vms(void)
{
	reset(NL_DISCOVERY_PROC);
	cfg.max_vms = 1;
	cycle();
	CHECK_EQ_INT(st.nvms, 1);
	nl_source_vms.free(&st, NULL);
}

/* nl_snapshot_build() of st, its VMs given (empty) thread arrays as the
 * threads source would. */
static struct nl_snapshot *build(void)
{
	static const struct nl_collector_stat stats[1];

	for (size_t i = 0; i < st.nvms; i++) {
		if (!st.vms[i]->threads) {
			st.vms[i]->threads = calloc(1, sizeof(struct nl_thread));
			st.vms[i]->cap_threads = 1;
		}
	}
	return nl_snapshot_build(&st, stats, 0, 0);
}

/* A VM keeps its arrival while tracked; a restart is a new process and a
 * new VM, which booted: no arrival. The snapshot shows the age, 0 for an
 * arrival seen after the cycle began, and no age without an arrival. */
static void test_arrival_kept_and_cleared_by_restart(void)
{
	struct nl_vm *a, *b;
	struct nl_snapshot *snap;
	const struct nl_vm_snap *sa = NULL, *sb = NULL;

	reset(NL_DISCOVERY_PROC);
	cycle();
	a = (struct nl_vm *)vm_named("alpha");
	if (!a)
		return;
	a->arrival = NL_ARRIVAL_RESTORED;
	a->arrived_ns = 5000000000ULL;
	cycle();
	a = (struct nl_vm *)vm_named("alpha");
	CHECK(a && a->arrival == NL_ARRIVAL_RESTORED);
	CHECK(a && a->arrived_ns == 5000000000ULL);
	b = (struct nl_vm *)vm_named("beta");
	if (!b)
		return;
	b->arrival = NL_ARRIVAL_INCOMING;   /* seen after the cycle began */
	b->arrived_ns = 9000000000ULL;

	st.now_ns = 7500000000ULL;
	snap = build();
	CHECK(snap != NULL);
	for (size_t i = 0; snap && i < snap->nvms; i++) {
		if (strcmp(snap->vms[i].name, "alpha") == 0)
			sa = &snap->vms[i];
		if (strcmp(snap->vms[i].name, "beta") == 0)
			sb = &snap->vms[i];
	}
	CHECK(sa && sa->arrival == NL_ARRIVAL_RESTORED);
	CHECK_NEAR(sa ? sa->arrival_age_seconds : NAN, 2.5, 1e-9);
	CHECK(sb && sb->arrival == NL_ARRIVAL_INCOMING);
	CHECK_NEAR(sb ? sb->arrival_age_seconds : NAN, 0, 0);
	if (snap)
		nl_snapshot_put(snap);

	/* alpha's QEMU exits and starts again (new start time) */
	qp[0].starttime = 50;
	cycle();
	a = (struct nl_vm *)vm_named("alpha");
	CHECK(a && a->arrival == NL_ARRIVAL_NONE);
	snap = build();
	for (size_t i = 0; snap && i < snap->nvms; i++)
		if (strcmp(snap->vms[i].name, "alpha") == 0)
			CHECK(isnan(snap->vms[i].arrival_age_seconds));
	if (snap)
		nl_snapshot_put(snap);
	nl_source_vms.free(&st, NULL);
}

NL_TEST_MAIN(NL_T(test_auto_merges_libvirt_and_unmanaged),
	     NL_T(test_libvirt_down_keeps_names),
	     NL_T(test_libvirt_only_mode_ignores_unmanaged), NL_T(test_proc_mode),
	     NL_T(test_pid_reuse_is_a_new_vm), NL_T(test_unnamed_and_duplicate_names),
	     NL_T(test_max_vms), NL_T(test_arrival_kept_and_cleared_by_restart))
