#include "harness.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "state.h"
#include "score.h"
#include "snapshot.h"

static void two_nodes(struct nl_topology *t)
{
	memset(t, 0, sizeof(*t));
	t->nnodes = 2;
	t->nodes[0].id = 0;
	t->nodes[1].id = 1;
	t->distance[0][0] = t->distance[1][1] = 10;
	t->distance[0][1] = t->distance[1][0] = 21;
}

static void test_all_local(void)
{
	struct nl_topology t;
	uint64_t cpu[2] = { 1000, 0 }, mem[2] = { 1 << 30, 0 };
	double l, d;

	two_nodes(&t);
	CHECK_EQ_INT(nl_score_placement(cpu, mem, &t, &l, &d), 0);
	CHECK_NEAR(l, 1.0, 1e-12);
	CHECK_NEAR(d, 10.0, 1e-12);
}

static void test_all_remote(void)
{
	struct nl_topology t;
	uint64_t cpu[2] = { 1000, 0 }, mem[2] = { 0, 1 << 30 };
	double l, d;

	two_nodes(&t);
	CHECK_EQ_INT(nl_score_placement(cpu, mem, &t, &l, &d), 0);
	CHECK_NEAR(l, 0.0, 1e-12);
	CHECK_NEAR(d, 21.0, 1e-12);
}

static void test_even_spread(void)
{
	struct nl_topology t;
	uint64_t cpu[2] = { 500, 500 }, mem[2] = { 4096, 4096 };
	double l, d;

	two_nodes(&t);
	CHECK_EQ_INT(nl_score_placement(cpu, mem, &t, &l, &d), 0);
	CHECK_NEAR(l, 0.5, 1e-12);
	CHECK_NEAR(d, 15.5, 1e-12);
}

static void test_asymmetric_four_nodes(void)
{
	struct nl_topology t;
	static const int dist[4][4] = {
		{ 10, 16, 22, 22 }, { 16, 10, 22, 22 },
		{ 22, 22, 10, 16 }, { 22, 22, 16, 10 },
	};
	/* CPU all on node 0; memory 3/4 on node 1, 1/4 on node 2 */
	uint64_t cpu[4] = { 7, 0, 0, 0 }, mem[4] = { 0, 3000, 1000, 0 };
	double l, d;

	memset(&t, 0, sizeof(t));
	t.nnodes = 4;
	memcpy(t.distance, dist, sizeof(dist));
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 4; k++)
			t.distance[i][k] = dist[i][k];
	CHECK_EQ_INT(nl_score_placement(cpu, mem, &t, &l, &d), 0);
	CHECK_NEAR(l, 0.0, 1e-12);
	CHECK_NEAR(d, 0.75 * 16 + 0.25 * 22, 1e-9);
}

static void test_no_data_is_nan(void)
{
	struct nl_topology t;
	uint64_t zero[2] = { 0, 0 }, some[2] = { 1, 1 };
	double l = 0, d = 0;

	two_nodes(&t);
	CHECK_EQ_INT(nl_score_placement(zero, some, &t, &l, &d), -ENODATA);
	CHECK(isnan(l) && isnan(d));
	CHECK_EQ_INT(nl_score_placement(some, zero, &t, &l, &d), -ENODATA);
	CHECK(isnan(l));
}

static void test_huge_values_do_not_overflow(void)
{
	struct nl_topology t;
	uint64_t cpu[2] = { UINT64_MAX, UINT64_MAX }, mem[2] = { UINT64_MAX, 0 };
	double l, d;

	two_nodes(&t);
	CHECK_EQ_INT(nl_score_placement(cpu, mem, &t, &l, &d), 0);
	CHECK_NEAR(l, 0.5, 1e-9);
}

/* ---- PMU scores ---- */

static void test_pmu_arithmetic(void)
{
	/* locality: local share of DRAM accesses */
	CHECK_NEAR(nl_score_pmu_locality(750, 250), 0.75, 1e-15);
	CHECK_NEAR(nl_score_pmu_locality(1000, 0), 1.0, 0);
	CHECK_NEAR(nl_score_pmu_locality(0, 1000), 0.0, 0);
	/* zero and too few accesses: undefined, not 0 or 1 */
	CHECK(isnan(nl_score_pmu_locality(0, 0)));
	CHECK(isnan(nl_score_pmu_locality(NL_PMU_MIN_DRAM - 1, 0)));
	CHECK(!isnan(nl_score_pmu_locality(NL_PMU_MIN_DRAM, 0)));
	/* local + remote beyond 2^64 does not wrap */
	CHECK_NEAR(nl_score_pmu_locality(UINT64_MAX, UINT64_MAX), 0.5, 1e-15);
	CHECK_NEAR(nl_score_pmu_locality(UINT64_MAX, 1), 1.0, 1e-15);
	CHECK_NEAR(nl_score_pmu_locality(1ULL << 63, 3ULL << 62), 0.4, 1e-15);

	/* MPKI and CPI */
	CHECK_NEAR(nl_score_mpki(5000, 1000000), 5.0, 1e-12);
	CHECK_NEAR(nl_score_mpki(0, 1000000), 0.0, 0);
	CHECK_NEAR(nl_score_cpi(3000000, 2000000), 1.5, 1e-15);
	CHECK(isnan(nl_score_mpki(10, 0)));
	CHECK(isnan(nl_score_cpi(10, 0)));
	CHECK(isnan(nl_score_cpi(10, NL_PMU_MIN_INSTRUCTIONS - 1)));
	/* 1000 * misses beyond 2^64 */
	CHECK_NEAR(nl_score_mpki(UINT64_MAX, UINT64_MAX), 1000.0, 1e-9);
	CHECK_NEAR(nl_score_mpki(UINT64_MAX / 2, UINT64_MAX), 500.0, 1e-9);
	CHECK_NEAR(nl_score_cpi(UINT64_MAX, 1ULL << 62), 4.0, 1e-12);
}

static void add_event(struct nl_state *st, const char *name, int supported)
{
	struct nl_event_desc *e = &st->perf.events[st->perf.nevents++];

	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->supported = supported;
	e->hardware = true;
}

/* Which inputs the scores need, and what a missing one does. */
static void test_pmu_event_lookup(void)
{
	struct nl_state st;
	struct nl_pmu_score_events ix;
	uint64_t win[NL_MAX_EVENTS] = { 0 };
	double l, m, c;

	memset(&st, 0, sizeof(st));
	add_event(&st, "cycles", 1);
	add_event(&st, "instructions", 1);
	add_event(&st, "dram_local", 1);
	add_event(&st, "dram_remote", 0);     /* cannot open here */
	add_event(&st, "llc_misses", -1);     /* not tried yet */
	nl_score_pmu_events(st.perf.events, st.perf.nevents, &ix);
	CHECK_EQ_INT(ix.cycles, 0);
	CHECK_EQ_INT(ix.instructions, 1);
	CHECK_EQ_INT(ix.dram_local, 2);
	CHECK_EQ_INT(ix.dram_remote, -1);
	CHECK_EQ_INT(ix.llc_misses, -1);
	win[0] = 2000000; win[1] = 1000000; win[2] = 5000;
	nl_score_pmu(&ix, win, 0x1f, &l, &m, &c);
	CHECK(isnan(l));          /* no remote count: no locality */
	CHECK(isnan(m));
	CHECK_NEAR(c, 2.0, 1e-15);
	/* read but not in this window's valid set: undefined */
	nl_score_pmu(&ix, win, 0x1, &l, &m, &c);
	CHECK(isnan(c));
}

/* The snapshot's per-role PMU scores, the locality sources and the group
 * scaling ratios of summed roles. */
static void test_pmu_snapshot(void)
{
	static struct nl_state st;
	static struct nl_vm vm;
	static struct nl_thread th[3];
	struct nl_vm *vms[1] = { &vm };
	struct nl_collector_stat stats[1] = { { "perf", true, true, 0 } };
	struct nl_snapshot *snap;
	const struct nl_vm_snap *v;
	uint32_t src;

	memset(&st, 0, sizeof(st));
	memset(&vm, 0, sizeof(vm));
	memset(th, 0, sizeof(th));
	add_event(&st, "cycles", 1);
	add_event(&st, "instructions", 1);
	add_event(&st, "dram_local", 1);
	add_event(&st, "dram_remote", 1);
	add_event(&st, "llc_misses", 1);
	st.perf.ngroups = 1;
	st.perf.groups[0].hardware = true;
	st.perf.groups[0].events = 0x1f;
	snprintf(st.perf.catalog, sizeof(st.perf.catalog), "skx");
	snprintf(vm.name, sizeof(vm.name), "vm1");
	vm.threads = th;
	vm.nthreads = 3;
	vm.mem_source = NL_MEM_NONE;   /* no placement score */
	/* vCPU 0: 900 local, 100 remote DRAM loads */
	th[0].role = NL_ROLE_VCPU;
	th[0].index = 0;
	th[1].role = NL_ROLE_EMULATOR;
	th[1].index = -1;
	th[2].role = NL_ROLE_EMULATOR;
	th[2].index = -1;
	for (int i = 0; i < 3; i++) {
		th[i].win_valid = 0x1f;
		th[i].events_valid = 0x1f;
		for (int g = 0; g < NL_MAX_GROUPS; g++)
			th[i].group_scaling[g] = NAN;
	}
	th[0].win_events[0] = 3000000; th[0].win_events[1] = 1000000;
	th[0].win_events[2] = 900; th[0].win_events[3] = 100;
	th[0].win_events[4] = 20000;
	th[0].group_scaling[0] = 0.5;
	/* emulator threads: 200 local + 0 remote, 100 local + 200 remote */
	th[1].win_events[1] = 500000; th[1].win_events[2] = 200;
	th[1].win_events[0] = 500000;
	th[1].group_scaling[0] = 1.0;
	th[2].win_events[2] = 100; th[2].win_events[3] = 200;
	th[2].group_scaling[0] = 0.0;      /* never on the PMU */
	vm.threads[2].win_valid = 0x0c;    /* only the DRAM events read */
	st.vms = vms;
	st.nvms = 1;

	snap = nl_snapshot_build(&st, stats, 0, 0);
	CHECK(snap != NULL);
	if (!snap)
		return;
	CHECK_STR(snap->perf_catalog, "skx");
	CHECK_EQ_INT(snap->nperf_groups, 1);
	v = &snap->vms[0];
	CHECK_NEAR(v->pmu_locality[NL_ROLE_VCPU], 0.9, 1e-12);
	CHECK_NEAR(v->pmu_locality[NL_ROLE_EMULATOR], 0.6, 1e-12);
	CHECK_NEAR(v->pmu_locality[NL_ROLE_ALL], 1200.0 / 1500.0, 1e-12);
	CHECK(isnan(v->pmu_locality[NL_ROLE_IOTHREAD]));
	CHECK_NEAR(v->llc_mpki[NL_ROLE_VCPU], 20.0, 1e-12);
	CHECK_NEAR(v->cpi[NL_ROLE_VCPU], 3.0, 1e-12);
	CHECK_NEAR(v->cpi[NL_ROLE_EMULATOR], 1.0, 1e-12);
	CHECK_NEAR(v->cpi[NL_ROLE_ALL], 3500000.0 / 1500000.0, 1e-12);
	CHECK_NEAR(v->llc_mpki[NL_ROLE_ALL], 20000.0 / 1500.0, 1e-9);
	CHECK_EQ_INT(v->locality_sources[NL_ROLE_VCPU], NL_LOCALITY_SRC_PMU);
	CHECK_EQ_INT(v->locality_sources[NL_ROLE_IOTHREAD], 0);
	CHECK_NEAR(nl_score_locality_best(v, NL_ROLE_VCPU, &src), 0.9, 1e-12);
	CHECK_EQ_INT(src, NL_LOCALITY_SRC_PMU);
	CHECK(isnan(nl_score_locality_best(v, NL_ROLE_IOTHREAD, &src)));
	CHECK_EQ_INT(src, 0);
	CHECK(isnan(nl_score_locality_best(v, NL_ROLE_ALL + 1, &src)));
	/* series: vCPU 0 its own ratio; emulators the mean of 1 and 0 */
	for (size_t i = 0; i < v->nseries; i++) {
		const struct nl_series *se = &v->series[i];

		if (se->role == NL_ROLE_VCPU) {
			CHECK_NEAR(se->group_scaling[0], 0.5, 0);
			CHECK_EQ_U64(se->win_events[2], 900);
		} else if (se->role == NL_ROLE_EMULATOR) {
			CHECK_NEAR(se->group_scaling[0], 0.5, 0);
			CHECK_EQ_U64(se->win_events[2], 300);
			CHECK_EQ_U64(se->win_events[3], 200);
			CHECK(isnan(se->group_scaling[1]));
		}
	}
	nl_snapshot_put(snap);

	/* both sources: placement where memory and CPU time are known */
	{
		st.topo_valid = true;
		st.topo.nnodes = 2;
		st.topo.nodes[0].id = 0;
		st.topo.nodes[1].id = 1;
		st.topo.distance[0][0] = st.topo.distance[1][1] = 10;
		st.topo.distance[0][1] = st.topo.distance[1][0] = 21;
		vm.mem_source = NL_MEM_CGROUP_V2;
		vm.mem_bytes[0] = 3 << 20;
		vm.mem_bytes[1] = 1 << 20;
		th[0].win_node_ns[0] = 1000;
		snap = nl_snapshot_build(&st, stats, 0, 0);
		CHECK(snap != NULL);
		if (!snap)
			return;
		v = &snap->vms[0];
		CHECK_NEAR(v->locality[NL_ROLE_VCPU], 0.75, 1e-12);
		CHECK_EQ_INT(v->locality_sources[NL_ROLE_VCPU],
			     NL_LOCALITY_SRC_PMU | NL_LOCALITY_SRC_PLACEMENT);
		/* the PMU one wins */
		CHECK_NEAR(nl_score_locality_best(v, NL_ROLE_VCPU, &src), 0.9, 1e-12);
		/* iothreads: no threads, neither */
		CHECK_EQ_INT(v->locality_sources[NL_ROLE_IOTHREAD], 0);
		nl_snapshot_put(snap);
	}
}

/* One VM whose threads have the roles given (vCPU / iothread index i),
 * in a state of its own: what the snapshot tests below build on. */
static struct nl_state fx_st;
static struct nl_vm fx_vm;
static struct nl_thread fx_th[4];
static struct nl_vm *fx_vms[1] = { &fx_vm };

static void one_vm_state(const char *name, const enum nl_role *roles, int n)
{
	memset(&fx_st, 0, sizeof(fx_st));
	memset(&fx_vm, 0, sizeof(fx_vm));
	memset(fx_th, 0, sizeof(fx_th));
	snprintf(fx_vm.name, sizeof(fx_vm.name), "%s", name);
	fx_vm.threads = fx_th;
	fx_vm.nthreads = (size_t)n;
	for (int i = 0; i < n; i++) {
		fx_th[i].role = roles[i];
		fx_th[i].index = roles[i] == NL_ROLE_VCPU || roles[i] == NL_ROLE_IOTHREAD ? i : -1;
		for (int g = 0; g < NL_MAX_GROUPS; g++)
			fx_th[i].group_scaling[g] = NAN;
	}
	fx_st.vms = fx_vms;
	fx_st.nvms = 1;
}

/* The fixture state's host: two_nodes(), with CPUs 0-1 on node 0 and 2-3
 * on node 1. */
static void fx_two_nodes(void)
{
	two_nodes(&fx_st.topo);
	fx_st.topo_valid = true;
	for (int c = 0; c < 4; c++) {
		fx_st.topo.cpu_node[c] = (int16_t)(c / 2);
		nl_cpuset_set(&fx_st.topo.nodes[c / 2].cpus, c);
	}
}

/* --perf.host-mode: the host-mode share of the vCPU threads' cycles, summed
 * over vCPU threads only; NaN without the events or without cycles. */
static void test_host_cycles_ratio(void)
{
	static const enum nl_role role[3] = { NL_ROLE_VCPU, NL_ROLE_VCPU, NL_ROLE_EMULATOR };
	static const uint64_t guest[3] = { 750, 250, 0 }, host[3] = { 250, 750, 1000000 };
	struct nl_collector_stat stats[1] = { { "perf", true, true, 0 } };
	struct nl_snapshot *snap;

	one_vm_state("vm1", role, 3);
	add_event(&fx_st, "cycles", 1);
	add_event(&fx_st, "cycles_guest", 1);
	add_event(&fx_st, "cycles_host", 1);
	fx_vm.mem_source = NL_MEM_NONE;
	for (int i = 0; i < 3; i++) {
		fx_th[i].win_valid = fx_th[i].events_valid = 0x7;
		fx_th[i].win_events[0] = guest[i] + host[i];
		fx_th[i].win_events[1] = guest[i];
		fx_th[i].win_events[2] = host[i];
	}
	for (int k = 0; k < 3; k++) {
		snap = nl_snapshot_build(&fx_st, stats, 0, 0);
		CHECK(snap != NULL);
		if (!snap)
			return;
		if (k == 0)        /* (250 + 750) / 2000; the emulator's are not vCPU work */
			CHECK_NEAR(snap->vms[0].vcpu_host_cycles_ratio, 0.5, 1e-12);
		else
			CHECK(isnan(snap->vms[0].vcpu_host_cycles_ratio));
		nl_snapshot_put(snap);
		if (k == 0) {      /* no cycles in the window */
			for (int i = 0; i < 3; i++)
				fx_th[i].win_events[1] = fx_th[i].win_events[2] = 0;
		} else {           /* the host-mode event cannot open here */
			fx_st.perf.events[2].supported = 0;
		}
	}
}

/* Guest RAM on node 0, the VMM's own memory mostly on node 1, every thread
 * on node 0: vCPUs score against guest RAM (1), the emulator against VMM
 * memory (2 of 10 MiB local). Since the numa_maps split the cgroup's
 * figure on node 0 grew by 50 MiB: guest RAM the guest touched, as
 * migrate_memory or a boot makes it (the VMM's own memory keeps its last
 * reading), and node 1 shrank to 8 MiB: no more VMM memory there than
 * the node holds. */
static void test_vmm_memory_split(void)
{
	static const enum nl_role role[2] = { NL_ROLE_VCPU, NL_ROLE_EMULATOR };
	struct nl_collector_stat stats[1] = { { "numa_stat", true, true, 0 } };
	struct nl_snapshot *snap;
	const struct nl_vm_snap *v;

	one_vm_state("vmm-far", role, 2);
	fx_two_nodes();
	fx_th[0].win_node_ns[0] = fx_th[1].win_node_ns[0] = 1000;
	fx_vm.mem_source = NL_MEM_CGROUP_V2;
	fx_vm.mem_bytes[0] = 250 << 20;
	fx_vm.mem_bytes[1] = 8 << 20;
	fx_vm.split_valid = true;
	fx_vm.split_guest[0] = 198 << 20;
	fx_vm.split_vmm[0] = 2 << 20;
	fx_vm.split_vmm[1] = 10 << 20;
	snap = nl_snapshot_build(&fx_st, stats, 0, 0);
	CHECK(snap != NULL);
	if (!snap)
		return;
	v = &snap->vms[0];
	CHECK(v->mem_split);
	CHECK_EQ_U64(v->mem_guest_bytes[0], 248 << 20);
	CHECK_EQ_U64(v->mem_vmm_bytes[0], 2 << 20);
	CHECK_EQ_U64(v->mem_guest_bytes[1], 0);
	CHECK_EQ_U64(v->mem_vmm_bytes[1], 8 << 20);
	CHECK_NEAR(v->locality[NL_ROLE_VCPU], 1.0, 1e-12);
	CHECK_NEAR(v->locality[NL_ROLE_EMULATOR], 2.0 / 10, 1e-12);
	CHECK_NEAR(v->locality[NL_ROLE_ALL], 250.0 / 258, 1e-12);
	nl_snapshot_put(snap);
	/* no split known: every role against all of the memory */
	fx_vm.split_valid = false;
	snap = nl_snapshot_build(&fx_st, stats, 0, 0);
	CHECK(snap && !snap->vms[0].mem_split);
	if (snap)
		CHECK_NEAR(snap->vms[0].locality[NL_ROLE_EMULATOR], 250.0 / 258, 1e-12);
	nl_snapshot_put(snap);
}

/* A wide VM of two cells on a 2-node host (CPUs 0-1 node 0, 2-3 node 1):
 * each cell scored on its own, its vCPUs (by index) against its own
 * memory; the VM's vCPU locality their weighted sum. Laid out right: 1
 * (as one blob: 0.5). Cell 1's vCPU idle and pinned away from where it
 * last ran: it counts where it may run. Invalid cells: the whole VM. */
static void test_cells(void)
{
	static const enum nl_role role[3] = { NL_ROLE_VCPU, NL_ROLE_VCPU, NL_ROLE_EMULATOR };
	struct nl_collector_stat stats[1] = { { "numa_stat", true, true, 0 } };
	struct nl_snapshot *snap;
	const struct nl_vm_snap *v;

	one_vm_state("wide", role, 3);
	fx_two_nodes();
	fx_vm.mem_source = NL_MEM_CGROUP_V2;
	fx_vm.mem_bytes[0] = fx_vm.mem_bytes[1] = 100 << 20;
	fx_vm.cells.n = 2;
	fx_vm.cells.cell[0] = (struct nl_vm_cell){ .id = 0, .vcpus = 1, .mem_bytes = 100 << 20 };
	fx_vm.cells.cell[1] = (struct nl_vm_cell){ .id = 1, .vcpus = 2, .mem_bytes = 100 << 20 };
	fx_vm.cells_from = NL_CELLS_CMDLINE;
	fx_vm.cell_mem_valid = true;
	fx_vm.cell_mem[0][0] = 100 << 20;
	fx_vm.cell_mem[1][1] = 100 << 20;
	fx_th[0].win_node_ns[0] = 3000;        /* vCPU 0 on node 0 */
	fx_th[1].win_node_ns[1] = 1000;        /* vCPU 1 on node 1 */
	fx_th[2].win_node_ns[0] = 10;
	snap = nl_snapshot_build(&fx_st, stats, 0, 0);
	CHECK(snap != NULL);
	if (!snap)
		return;
	v = &snap->vms[0];
	CHECK_EQ_INT(v->ncells, 2);
	CHECK_STR(v->cells_source, "cmdline");
	CHECK_NEAR(v->cells[0].locality, 1.0, 1e-12);
	CHECK_NEAR(v->cells[1].locality, 1.0, 1e-12);
	CHECK_NEAR(v->cells[0].weight, 0.75, 1e-12);
	CHECK_EQ_INT(v->cells[1].home, 1);
	CHECK_NEAR(v->locality[NL_ROLE_VCPU], 1.0, 1e-12);
	CHECK_NEAR(v->locality[NL_ROLE_ALL], 3010.0 / 4010 * 0.5 + 1000.0 / 4010 * 0.5, 1e-9);
	nl_snapshot_put(snap);

	/* crossed: vCPU 0 on node 1 (busy), vCPU 1 idle, last on node 1 but
	 * now allowed only node 0's CPUs */
	fx_th[0].win_node_ns[0] = 0;
	fx_th[0].win_node_ns[1] = 3000;
	fx_th[1].win_node_ns[1] = 0;
	fx_th[1].last_cpu = 3;
	nl_cpuset_set(&fx_th[1].cpus_allowed, 0);
	nl_cpuset_set(&fx_th[1].cpus_allowed, 1);
	snap = nl_snapshot_build(&fx_st, stats, 0, 0);
	CHECK(snap != NULL);
	if (!snap)
		return;
	v = &snap->vms[0];
	CHECK_NEAR(v->cells[0].locality, 0.0, 1e-12);
	CHECK_NEAR(v->cells[1].locality, 0.0, 1e-12);
	CHECK_NEAR(v->cells[0].weight, 1.0, 1e-12);    /* all vCPU time */
	CHECK_NEAR(v->cells[1].cpu_share[0], 1.0, 1e-12);
	CHECK_NEAR(v->locality[NL_ROLE_VCPU], 0.0, 1e-12);
	nl_snapshot_put(snap);

	/* memory per cell unknown: cells listed, the VM scored whole */
	fx_vm.cell_mem_valid = false;
	snap = nl_snapshot_build(&fx_st, stats, 0, 0);
	CHECK(snap != NULL);
	if (snap) {
		v = &snap->vms[0];
		CHECK_EQ_INT(v->ncells, 2);
		CHECK(!v->cells[0].mem_known);
		CHECK(isnan(v->cells[0].locality));
		CHECK_NEAR(v->locality[NL_ROLE_VCPU], 0.5, 1e-12);
	}
	nl_snapshot_put(snap);

	/* cells that did not add up: none, flagged, the whole VM */
	fx_vm.cell_mem_valid = true;
	fx_vm.cells.invalid = true;
	snprintf(fx_vm.cells.why, sizeof(fx_vm.cells.why), "vCPU 2 is in no cell");
	snap = nl_snapshot_build(&fx_st, stats, 0, 0);
	CHECK(snap != NULL);
	if (snap) {
		v = &snap->vms[0];
		CHECK_EQ_INT(v->ncells, 0);
		CHECK(v->cells_invalid);
		CHECK_STR(v->cells_why, "vCPU 2 is in no cell");
		CHECK_NEAR(v->locality[NL_ROLE_VCPU], 0.5, 1e-12);
	}
	nl_snapshot_put(snap);
}

NL_TEST_MAIN(NL_T(test_all_local), NL_T(test_all_remote), NL_T(test_vmm_memory_split), NL_T(test_cells), NL_T(test_host_cycles_ratio),
	     NL_T(test_even_spread), NL_T(test_asymmetric_four_nodes),
	     NL_T(test_no_data_is_nan), NL_T(test_huge_values_do_not_overflow),
	     NL_T(test_pmu_arithmetic), NL_T(test_pmu_event_lookup),
	     NL_T(test_pmu_snapshot))
