/* Discovery, thread roles and CPU placement over the two-socket fixture:
 * procscan -> vms -> threads -> schedstat, as the sampler runs them. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "schedstat.h"
#include "paths.h"
#include "procscan.h"
#include "state.h"
#include "threads.h"
#include "vms.h"

static struct nl_config cfg;
static struct nl_state st;
static void *scan_priv;

static void two_socket_topology(struct nl_topology *t)
{
	memset(t, 0, sizeof(*t));
	t->nnodes = 2;
	t->nodes[0].id = 0;
	t->nodes[1].id = 1;
	t->ncpus = 8;
	for (int c = 0; c < NL_MAX_CPUS; c++)
		t->cpu_node[c] = c < 4 ? 0 : (c < 8 ? 1 : -1);
}

static void setup(const char *fixture)
{
	char proc[512], sys[512];

	snprintf(proc, sizeof(proc), "%s/tests/fixtures/%s/proc", NL_SRCDIR, fixture);
	snprintf(sys, sizeof(sys), "%s/tests/fixtures/%s/sys", NL_SRCDIR, fixture);
	nl_paths_set(proc, sys);
	memset(&st, 0, sizeof(st));
	nl_config_defaults(&cfg);
	cfg.discovery = NL_DISCOVERY_PROC;
	st.cfg = &cfg;
	two_socket_topology(&st.topo);
	st.topo_valid = true;
	nl_source_procscan.init(&st, &scan_priv);
}

static void teardown(void)
{
	nl_source_vms.free(&st, NULL);
	nl_source_procscan.free(&st, scan_priv);
}

static int cycle(void)
{
	int rc = 0;

	st.gen++;
	rc |= nl_source_procscan.sample(&st, scan_priv);
	rc |= nl_source_vms.sample(&st, NULL);
	rc |= nl_source_threads.sample(&st, NULL);
	rc |= nl_source_schedstat.sample(&st, NULL);
	return rc;
}

static const struct nl_thread *thread(const struct nl_vm *vm, pid_t tid)
{
	for (size_t i = 0; i < vm->nthreads; i++)
		if (vm->threads[i].tid == tid)
			return &vm->threads[i];
	return NULL;
}

static void test_discovery_from_proc(void)
{
	setup("two-socket");
	CHECK_EQ_INT(cycle(), 0);
	CHECK_EQ_INT(st.nqprocs, 1);          /* init (PID 1) is not QEMU */
	CHECK_EQ_INT(st.nkworkers, 1);
	CHECK_EQ_INT(st.nvms, 1);
	CHECK_STR(st.vms[0]->name, "alpha");
	CHECK_STR(st.vms[0]->uuid, "6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e");
	CHECK_EQ_U64(st.vms[0]->starttime, 8812345);
	teardown();
}

static void test_roles(void)
{
	const struct nl_vm *vm;
	const struct nl_thread *t;

	setup("two-socket");
	cycle();
	vm = st.vms[0];
	CHECK_EQ_INT(vm->nthreads, 8);
	t = thread(vm, 4248);
	CHECK(t && t->role == NL_ROLE_VCPU && t->index == 0);
	t = thread(vm, 4249);
	CHECK(t && t->role == NL_ROLE_VCPU && t->index == 1);
	t = thread(vm, 4246);
	CHECK(t && t->role == NL_ROLE_IOTHREAD && t->index == 1);
	t = thread(vm, 4247);   /* the QMP monitor's iothread */
	CHECK(t && t->role == NL_ROLE_EMULATOR);
	/* KVM's NX recovery worker sits in the vcpu0 cgroup: not a vCPU */
	t = thread(vm, 4251);
	CHECK(t && t->role == NL_ROLE_EMULATOR && t->index == -1);
	t = thread(vm, 4300);   /* vhost kernel worker, its own process */
	CHECK(t && t->role == NL_ROLE_VHOST && t->kernel_thread);
	t = thread(vm, 4242);
	CHECK(t && t->role == NL_ROLE_EMULATOR);
	teardown();
}

static void test_unnamed_threads_use_cgroups(void)
{
	setup("four-node");
	cycle();
	CHECK_EQ_INT(st.nvms, 1);
	teardown();
	/* no-numa: QEMU without debug-threads and no libvirt cgroups */
	setup("no-numa");
	cycle();
	CHECK_EQ_INT(st.nvms, 1);
	CHECK_EQ_INT(st.vms[0]->nthreads, 2);
	for (size_t i = 0; i < st.vms[0]->nthreads; i++)
		CHECK_EQ_INT(st.vms[0]->threads[i].role, NL_ROLE_EMULATOR);
	teardown();
}

static void test_cpu_placement(void)
{
	const struct nl_vm *vm;
	const struct nl_thread *t;
	char buf[64];

	setup("two-socket");
	cycle();
	vm = st.vms[0];
	t = thread(vm, 4249);
	CHECK(t != NULL);
	if (!t)
		goto out;
	CHECK_EQ_U64(t->run_ns, 80000000000ULL);
	CHECK_EQ_INT(t->last_cpu, 5);
	CHECK_STR(nl_cpuset_format(&t->cpus_allowed, buf, sizeof(buf)), "4-7");
	CHECK_EQ_U64(t->mems_allowed, 3);
	/* first sight: no window yet, nothing attributed */
	CHECK_EQ_U64(t->node_ns[0] + t->node_ns[1], 0);
	cycle();   /* static files: a zero delta, still nothing */
	t = thread(st.vms[0], 4249);
	CHECK(t && t->win_node_ns[1] == 0);
out:
	teardown();
}

static void test_delta_goes_to_node_of_last_cpu(void)
{
	struct nl_vm *vm;
	struct nl_thread *t = NULL;

	setup("two-socket");
	cycle();
	vm = st.vms[0];
	for (size_t i = 0; i < vm->nthreads; i++)
		if (vm->threads[i].tid == 4249)
			t = &vm->threads[i];
	CHECK(t != NULL);
	if (!t)
		goto out;
	t->run_ns -= 1000000;   /* pretend the last read was 1 ms earlier */
	cycle();
	t = (struct nl_thread *)thread(st.vms[0], 4249);
	CHECK(t && t->win_node_ns[1] == 1000000 && t->node_ns[1] == 1000000);
	CHECK(t && t->win_node_ns[0] == 0);
out:
	teardown();
}

static void test_exited_thread_is_retired(void)
{
	struct nl_vm *vm;

	setup("two-socket");
	cycle();
	vm = st.vms[0];
	/* a thread the fixture does not have: it "exits" at the next cycle */
	vm->threads[vm->nthreads] = vm->threads[0];
	vm->threads[vm->nthreads].tid = 9999;
	vm->threads[vm->nthreads].role = NL_ROLE_EMULATOR;
	vm->threads[vm->nthreads].run_ns = 777;
	vm->nthreads++;
	cycle();
	vm = st.vms[0];
	CHECK(thread(vm, 9999) == NULL);
	CHECK_EQ_U64(vm->retired_run_ns[NL_ROLE_EMULATOR], 777);
	teardown();
}

static void test_vanished_vm_is_dropped(void)
{
	setup("two-socket");
	cycle();
	CHECK_EQ_INT(st.nvms, 1);
	nl_paths_set(NL_SRCDIR "/tests/fixtures/no-such-host/proc", NULL);
	CHECK(cycle() != 0);     /* the /proc scan itself fails */
	CHECK_EQ_INT(st.nvms, 0);
	teardown();
}

NL_TEST_MAIN(NL_T(test_discovery_from_proc), NL_T(test_roles),
	     NL_T(test_unnamed_threads_use_cgroups), NL_T(test_cpu_placement),
	     NL_T(test_delta_goes_to_node_of_last_cpu),
	     NL_T(test_exited_thread_is_retired), NL_T(test_vanished_vm_is_dropped))
