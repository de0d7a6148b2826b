/* Prometheus text encoder: exact lines, grouping, escaping, node ids,
 * NaN handling, determinism, and promtool's verdict when it is installed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "prom.h"

#define WEIRD "we\"ird\\name"
#define WEIRD_ESC "we\\\"ird\\\\name"

/* Everything lives in statics: a snapshot is large (topology tables). */
static struct nl_snapshot snap;
static struct nl_vm_snap vms[3];
static struct nl_series zeta_series[5], weird_series[1], bad_series[1];

enum { EV_CYCLES, EV_TASK_CLOCK, EV_DRAM_REMOTE, EV_UNTRIED, EV_N };

static void set_series(struct nl_series *s, enum nl_role role, int index,
		       uint32_t nthreads, uint64_t run_ns)
{
	memset(s, 0, sizeof(*s));
	s->role = role;
	s->index = index;
	s->nthreads = nthreads;
	s->run_ns = run_ns;
	s->scaling_ratio = NAN;
}

static void set_event(int i, const char *name, bool hw, int supported)
{
	snprintf(snap.events[i].name, sizeof(snap.events[i].name), "%s", name);
	snap.events[i].hardware = hw;
	snap.events[i].supported = supported;
}

static void set_scores_nan(struct nl_vm_snap *vm)
{
	for (int r = 0; r <= NL_ROLE_ALL; r++) {
		vm->locality[r] = vm->distance[r] = NAN;
		vm->pmu_locality[r] = vm->llc_mpki[r] = vm->cpi[r] = NAN;
	}
	vm->vcpu_host_cycles_ratio = NAN;
}

/* Two nodes with sparse kernel ids 0 and 2 (so an index leaking into a
 * label shows as node="1"); VMs deliberately out of name order; series
 * out of index order. */
static void build_snapshot(void)
{
	struct nl_topology *t = &snap.topo;
	struct nl_vm_snap *zeta = &vms[0], *weird = &vms[1], *bad = &vms[2];

	memset(&snap, 0, sizeof(snap));
	memset(vms, 0, sizeof(vms));
	snap.gen = 7;
	snap.timestamp = 1000.0;
	snap.window_seconds = 2;
	snap.topo_valid = true;
	t->nnodes = 2;
	t->ncpus = 4;
	t->nodes[0].id = 0;
	t->nodes[1].id = 2;
	nl_cpuset_parse(&t->nodes[0].cpus, "0-1");
	nl_cpuset_parse(&t->nodes[1].cpus, "2-3");
	t->nodes[0].mem_total_bytes = 8589934592ULL;
	t->nodes[0].mem_free_bytes = 4294967296ULL;
	t->nodes[1].mem_total_bytes = 17179869184ULL;
	t->nodes[1].mem_free_bytes = 123456789ULL;
	t->nodes[0].has_numastat = true;
	t->nodes[0].numastat = (struct nl_numastat){ 100, 2, 3, 4, 95, 7 };
	t->distance[0][0] = t->distance[1][1] = 10;
	t->distance[0][1] = t->distance[1][0] = 21;

	snap.nevents = EV_N;
	set_event(EV_CYCLES, "cycles", true, 1);
	set_event(EV_TASK_CLOCK, "task_clock", false, 1);
	set_event(EV_DRAM_REMOTE, "dram_remote", true, 0);
	set_event(EV_UNTRIED, "untried", true, -1);

	/* zeta: every role, vCPUs out of order */
	snprintf(zeta->name, sizeof(zeta->name), "zeta");
	snprintf(zeta->uuid, sizeof(zeta->uuid), "6f1c3e52-0000-4000-8000-000000000001");
	zeta->pid = 4242;
	zeta->backend = NL_BACKEND_LIBVIRT;
	zeta->mem_source = NL_MEM_CGROUP_V1;
	zeta->numa_maps_capped = true;
	zeta->mem_bytes[0] = 1073741824ULL;
	zeta->mem_bytes[1] = 536870912ULL;
	set_series(&zeta_series[0], NL_ROLE_VCPU, 1, 1, 2500000000ULL);
	set_series(&zeta_series[1], NL_ROLE_VCPU, 0, 1, 1500000000ULL);
	set_series(&zeta_series[2], NL_ROLE_EMULATOR, -1, 3, 2000000000ULL);
	set_series(&zeta_series[3], NL_ROLE_IOTHREAD, 1, 1, 5ULL);
	set_series(&zeta_series[4], NL_ROLE_VHOST, -1, 2, 123456789012345ULL);
	zeta_series[1].node_ns[0] = 1000000000ULL;
	zeta_series[1].node_ns[1] = 500000000ULL;
	zeta_series[0].node_ns[0] = 250000000ULL;
	zeta_series[0].node_ns[1] = 2250000000ULL;
	zeta_series[1].events[EV_CYCLES] = 123456789012ULL;
	zeta_series[1].events[EV_TASK_CLOCK] = 1499999999ULL;
	zeta_series[1].events[EV_DRAM_REMOTE] = 99;  /* not valid: hidden */
	zeta_series[1].events_valid = 1u << EV_CYCLES | 1u << EV_TASK_CLOCK;
	zeta_series[1].scaling_ratio = 0.5;
	zeta_series[0].events[EV_TASK_CLOCK] = 2499999999ULL;
	zeta_series[0].events_valid = 1u << EV_TASK_CLOCK;
	zeta_series[0].scaling_ratio = 1;
	for (int i = 0; i < 2; i++) {
		nl_cpuset_parse(&zeta_series[i].cpus_allowed, i ? "2-3" : "0-1");
		zeta_series[i].mems_allowed = i ? 0x2 : 0x1;   /* indexes */
	}
	nl_cpuset_parse(&zeta_series[2].cpus_allowed, "0");
	zeta_series[2].mems_allowed = 0x2;
	zeta->series = zeta_series;
	zeta->nseries = 5;
	set_scores_nan(zeta);
	zeta->locality[NL_ROLE_VCPU] = 0.75;
	zeta->locality[NL_ROLE_ALL] = 0.5;
	zeta->distance[NL_ROLE_VCPU] = 12.75;
	zeta->distance[NL_ROLE_ALL] = 15.5;
	zeta->arrival = NL_ARRIVAL_MIGRATED;
	zeta->arrival_age_seconds = 12.5;

	/* a name needing escaping; counters that multiplex to nothing */
	snprintf(weird->name, sizeof(weird->name), "%s", WEIRD);
	weird->pid = 77;
	weird->backend = NL_BACKEND_PROC;
	weird->mem_source = NL_MEM_NONE;
	set_series(&weird_series[0], NL_ROLE_VCPU, 0, 1, 0);
	weird_series[0].events_valid = 1u << EV_CYCLES;
	weird_series[0].scaling_ratio = NAN;
	weird->series = weird_series;
	weird->nseries = 1;
	set_scores_nan(weird);

	/* invalid UTF-8 and a newline in the name (a /proc-scan name) */
	snprintf(bad->name, sizeof(bad->name), "bad\xff\nname");
	bad->pid = 78;
	bad->backend = NL_BACKEND_PROC;
	set_series(&bad_series[0], NL_ROLE_VCPU, 0, 1, 1);
	bad->series = bad_series;
	bad->nseries = 1;
	set_scores_nan(bad);

	snap.vms = vms;
	snap.nvms = 3;
	snap.ncollectors = 3;
	snap.collectors[0] = (struct nl_collector_stat){ "topology", true, true, 0.001 };
	snap.collectors[1] = (struct nl_collector_stat){ "perf", true, false, 0.25 };
	snap.collectors[2] = (struct nl_collector_stat){ "resctrl", false, false, 0 };
	snap.sample_duration_seconds = 0.125;
	snap.sample_cpu_seconds_total = 3.75;
	snap.libvirt_up = 1;
	snap.threads_tracked = 9;
	snap.perf_fds = 12;
	snap.samples_total = 31;
	snprintf(snap.cpu_model, sizeof(snap.cpu_model), "Test CPU @ 2.00GHz");
}

static char *encode(double now)
{
	struct nl_buf b;
	int ret;

	nl_buf_init(&b);
	ret = nl_prom_encode(&snap, now, &b);
	CHECK_EQ_INT(ret, 0);
	return nl_buf_detach(&b, NULL);
}

/* Does `text` contain `line` as a whole line? */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

#define CHECK_LINE(text, line) do { \
	if (!has_line((text), (line))) { \
		fprintf(stderr, "  FAIL %s:%d: missing line: %s\n", __FILE__, __LINE__, (line)); \
		nl_t_failed_checks++; \
	} } while (0)
#define CHECK_NO_LINE(text, line) do { \
	if (has_line((text), (line))) { \
		fprintf(stderr, "  FAIL %s:%d: unexpected line: %s\n", __FILE__, __LINE__, (line)); \
		nl_t_failed_checks++; \
	} } while (0)

static void test_host_families(void)
{
	char *out;

	build_snapshot();
	out = encode(1002.5);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK(strstr(out, "numalens_build_info{version=\"") != NULL);
	CHECK_LINE(out, "numalens_node_info{node=\"0\",cpus=\"0-1\"} 1");
	CHECK_LINE(out, "numalens_node_info{node=\"2\",cpus=\"2-3\"} 1");
	CHECK_LINE(out, "numalens_node_distance{node=\"0\",peer=\"2\"} 21");
	CHECK_LINE(out, "numalens_node_distance{node=\"2\",peer=\"2\"} 10");
	CHECK_LINE(out, "numalens_node_memory_total_bytes{node=\"2\"} 17179869184");
	CHECK_LINE(out, "numalens_node_memory_free_bytes{node=\"2\"} 123456789");
	CHECK_LINE(out, "numalens_node_numastat_pages_total{node=\"0\",type=\"numa_hit\"} 100");
	CHECK_LINE(out, "numalens_node_numastat_pages_total{node=\"0\",type=\"other_node\"} 7");
	/* node 2 has no numastat */
	CHECK(strstr(out, "numalens_node_numastat_pages_total{node=\"2\"") == NULL);
	/* node labels are kernel ids: index 1 must never show */
	CHECK(strstr(out, "node=\"1\"") == NULL);
	CHECK(strstr(out, "peer=\"1\"") == NULL);
	free(out);
}

static void test_vm_families(void)
{
	char *out;

	build_snapshot();
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_vm_info{vm=\"zeta\",uuid=\"6f1c3e52-0000-4000-8000-000000000001\",backend=\"libvirt\"} 1");
	CHECK_LINE(out, "numalens_vm_pid{vm=\"zeta\"} 4242");
	CHECK_LINE(out, "numalens_vm_memory_bytes{vm=\"zeta\",node=\"0\",kind=\"all\"} 1073741824");
	CHECK_LINE(out, "numalens_vm_memory_bytes{vm=\"zeta\",node=\"2\",kind=\"all\"} 536870912");
	CHECK_LINE(out, "numalens_vm_memory_source_info{vm=\"zeta\",source=\"cgroup_v1\"} 1");
	CHECK_LINE(out, "numalens_vm_memory_source_info{vm=\"" WEIRD_ESC "\",source=\"none\"} 1");
	/* a capped numa_maps read says so; the others have no line */
	CHECK_LINE(out, "numalens_vm_numa_maps_capped{vm=\"zeta\"} 1");
	CHECK(strstr(out, "numalens_vm_numa_maps_capped{vm=\"" WEIRD_ESC "\"") == NULL);
	/* no memory figure when it was never measured */
	CHECK(strstr(out, "numalens_vm_memory_bytes{vm=\"" WEIRD_ESC "\"") == NULL);
	CHECK_LINE(out, "numalens_vm_threads{vm=\"zeta\",role=\"vcpu\"} 2");
	CHECK_LINE(out, "numalens_vm_threads{vm=\"zeta\",role=\"emulator\"} 3");
	CHECK_LINE(out, "numalens_vm_threads{vm=\"zeta\",role=\"vhost\"} 2");
	CHECK_LINE(out, "numalens_vm_threads{vm=\"" WEIRD_ESC "\",role=\"iothread\"} 0");
	CHECK_LINE(out, "numalens_thread_cpu_seconds_total{vm=\"zeta\",role=\"vcpu\",thread=\"0\"} 1.500000000");
	CHECK_LINE(out, "numalens_thread_cpu_seconds_total{vm=\"zeta\",role=\"emulator\",thread=\"\"} 2.000000000");
	CHECK_LINE(out, "numalens_thread_cpu_seconds_total{vm=\"zeta\",role=\"iothread\",thread=\"1\"} 0.000000005");
	/* exact beyond 2^53 ns */
	CHECK_LINE(out, "numalens_thread_cpu_seconds_total{vm=\"zeta\",role=\"vhost\",thread=\"\"} 123456.789012345");
	/* per role and node: vcpu 0 + vcpu 1 */
	CHECK_LINE(out, "numalens_vm_node_cpu_seconds_total{vm=\"zeta\",role=\"vcpu\",node=\"0\"} 1.250000000");
	CHECK_LINE(out, "numalens_vm_node_cpu_seconds_total{vm=\"zeta\",role=\"vcpu\",node=\"2\"} 2.750000000");
	CHECK_LINE(out, "numalens_vm_node_cpu_seconds_total{vm=\"zeta\",role=\"emulator\",node=\"2\"} 0.000000000");
	CHECK_LINE(out, "numalens_vm_role_affinity_info{vm=\"zeta\",role=\"vcpu\",cpus=\"0-3\",nodes=\"0,2\"} 1");
	CHECK_LINE(out, "numalens_vm_role_affinity_info{vm=\"zeta\",role=\"emulator\",cpus=\"0\",nodes=\"2\"} 1");
	/* affinity never read (empty cpuset): no line rather than cpus="" */
	CHECK(strstr(out, "numalens_vm_role_affinity_info{vm=\"zeta\",role=\"iothread\"") == NULL);
	free(out);
}

/* Arrivals: a line per VM that arrived, none for VMs that booted here. */
static void test_vm_arrival(void)
{
	static const char *const how[] = { "restored", "snapshot", "incoming" };
	char *out, line[256];

	build_snapshot();
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_vm_arrival_info{vm=\"zeta\",uuid=\"6f1c3e52-0000-4000-8000-000000000001\",how=\"migrated\"} 1");
	CHECK_LINE(out, "numalens_vm_arrival_age_seconds{vm=\"zeta\",uuid=\"6f1c3e52-0000-4000-8000-000000000001\"} 12.5");
	CHECK(strstr(out, "numalens_vm_arrival_info{vm=\"" WEIRD_ESC "\"") == NULL);
	CHECK(strstr(out, "numalens_vm_arrival_age_seconds{vm=\"" WEIRD_ESC "\"") == NULL);
	CHECK(strstr(out, "how=\"none\"") == NULL);
	free(out);

	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		vms[1].arrival = (enum nl_arrival)(NL_ARRIVAL_RESTORED + i);
		vms[1].arrival_age_seconds = 0;
		out = encode(1002.5);
		if (!out)
			return;
		snprintf(line, sizeof(line),
			 "numalens_vm_arrival_info{vm=\"" WEIRD_ESC "\",uuid=\"\",how=\"%s\"} 1",
			 how[i]);
		CHECK_LINE(out, line);
		CHECK_LINE(out, "numalens_vm_arrival_age_seconds{vm=\"" WEIRD_ESC "\",uuid=\"\"} 0");
		free(out);
	}

	/* no VM arrived: both families are left out */
	vms[0].arrival = vms[1].arrival = NL_ARRIVAL_NONE;
	out = encode(1002.5);
	if (!out)
		return;
	CHECK(strstr(out, "numalens_vm_arrival") == NULL);
	free(out);
}

/* Passthrough devices: a line per device, its node id or "unknown". */
static void test_vm_devices(void)
{
	char *out;

	build_snapshot();
	vms[0].ndevices = 2;
	snprintf(vms[0].devices[0].device, sizeof(vms[0].devices[0].device), "0000:3b:00.0");
	vms[0].devices[0].node = 2;
	snprintf(vms[0].devices[1].device, sizeof(vms[0].devices[1].device), "0000:af:00.0");
	vms[0].devices[1].node = -1;
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_vm_device_info{vm=\"zeta\",device=\"0000:3b:00.0\",node=\"2\"} 1");
	CHECK_LINE(out, "numalens_vm_device_info{vm=\"zeta\",device=\"0000:af:00.0\",node=\"unknown\"} 1");
	CHECK(strstr(out, "numalens_vm_device_info{vm=\"" WEIRD_ESC "\"") == NULL);
	free(out);
}

/* A wide VM's cells: locality and memory per cell where known, nothing
 * for a cell whose memory is not told apart; invalid cells flagged. */
static void test_vm_cells(void)
{
	char *out;

	build_snapshot();
	vms[0].ncells = 2;
	for (int k = 0; k < 2; k++) {
		vms[0].cells[k].cfg.id = k;
		vms[0].cells[k].mem_known = k == 0;
		vms[0].cells[k].locality = k == 0 ? 0.25 : NAN;
		vms[0].cells[k].mem_bytes[0] = 1024;
	}
	vms[1].cells_invalid = true;
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_vm_cell_locality_ratio{vm=\"zeta\",cell=\"0\",role=\"vcpu\"} 0.25");
	CHECK_LINE(out, "numalens_vm_cell_memory_bytes{vm=\"zeta\",cell=\"0\",node=\"0\"} 1024");
	CHECK(strstr(out, "cell=\"1\"") == NULL);
	CHECK_LINE(out, "numalens_vm_cells_invalid{vm=\"" WEIRD_ESC "\"} 1");
	CHECK(strstr(out, "numalens_vm_cells_invalid{vm=\"zeta\"}") == NULL);
	free(out);
}

/* --perf.host-mode's ratio: a line where measured, none where NaN. */
static void test_vm_host_cycles(void)
{
	char *out;

	build_snapshot();
	vms[0].vcpu_host_cycles_ratio = 0.25;
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_vm_vcpu_host_cycles_ratio{vm=\"zeta\"} 0.25");
	CHECK(strstr(out, "numalens_vm_vcpu_host_cycles_ratio{vm=\"" WEIRD_ESC "\"") == NULL);
	free(out);
}

static void test_events_and_scaling(void)
{
	char *out;

	build_snapshot();
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_thread_events_total{vm=\"zeta\",role=\"vcpu\",thread=\"0\",event=\"cycles\"} 123456789012");
	CHECK_LINE(out, "numalens_thread_events_total{vm=\"zeta\",role=\"vcpu\",thread=\"1\",event=\"task_clock\"} 2499999999");
	/* only bits set in events_valid */
	CHECK(strstr(out, "event=\"dram_remote\"} 99") == NULL);
	CHECK(strstr(out, "thread=\"1\",event=\"cycles\"") == NULL);
	/* ratio only where a hardware event counts: vcpu 0 yes, vcpu 1 no */
	CHECK_LINE(out, "numalens_thread_perf_scaling_ratio{vm=\"zeta\",role=\"vcpu\",thread=\"0\"} 0.5");
	CHECK(strstr(out, "numalens_thread_perf_scaling_ratio{vm=\"zeta\",role=\"vcpu\",thread=\"1\"}") == NULL);
	CHECK_LINE(out, "numalens_thread_perf_scaling_ratio{vm=\"" WEIRD_ESC "\",role=\"vcpu\",thread=\"0\"} NaN");
	CHECK_LINE(out, "numalens_event_supported{event=\"cycles\"} 1");
	CHECK_LINE(out, "numalens_event_supported{event=\"dram_remote\"} 0");
	CHECK(strstr(out, "event=\"untried\"") == NULL);
	CHECK_LINE(out, "numalens_pmu_info{pmu=\"none\",model=\"Test CPU @ 2.00GHz\"} 1");
	free(out);
}

static void test_scores_skip_nan(void)
{
	char *out;

	build_snapshot();
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_vm_locality_ratio{vm=\"zeta\",role=\"vcpu\",source=\"placement\"} 0.75");
	CHECK_LINE(out, "numalens_vm_locality_ratio{vm=\"zeta\",role=\"all\",source=\"placement\"} 0.5");
	CHECK_LINE(out, "numalens_vm_access_distance{vm=\"zeta\",role=\"vcpu\"} 12.75");
	CHECK_LINE(out, "numalens_vm_access_distance{vm=\"zeta\",role=\"all\"} 15.5");
	CHECK(strstr(out, "role=\"emulator\",source=\"placement\"") == NULL);
	CHECK(strstr(out, "numalens_vm_locality_ratio{vm=\"" WEIRD_ESC "\"") == NULL);
	CHECK(strstr(out, "numalens_vm_access_distance{vm=\"" WEIRD_ESC "\"") == NULL);
	/* the only NaN is the scaling ratio checked elsewhere */
	CHECK(strstr(out, "locality_ratio{vm=\"zeta\",role=\"iothread\"") == NULL);
	free(out);
}

static void test_self_families(void)
{
	char *out;

	build_snapshot();
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_collector_success{collector=\"topology\"} 1");
	CHECK_LINE(out, "numalens_collector_success{collector=\"perf\"} 0");
	CHECK_LINE(out, "numalens_collector_duration_seconds{collector=\"perf\"} 0.25");
	CHECK(strstr(out, "collector=\"resctrl\"") == NULL);
	CHECK_LINE(out, "numalens_sample_duration_seconds 0.125");
	CHECK_LINE(out, "numalens_sample_cpu_seconds_total 3.75");
	CHECK_LINE(out, "# TYPE numalens_sample_cpu_seconds_total counter");
	CHECK_LINE(out, "numalens_snapshot_age_seconds 2.5");
	CHECK_LINE(out, "numalens_libvirt_up 1");
	CHECK_LINE(out, "numalens_threads_tracked 9");
	CHECK_LINE(out, "numalens_perf_fds 12");
	CHECK_LINE(out, "numalens_samples_total 31");
	CHECK_LINE(out, "# TYPE numalens_samples_total counter");
	free(out);

	snap.libvirt_up = -1;
	snprintf(snap.pmu_name, sizeof(snap.pmu_name), "skl");
	out = encode(999);   /* clock stepped back: age clamps to 0 */
	if (!out)
		return;
	CHECK(strstr(out, "numalens_libvirt_up") == NULL);
	CHECK_LINE(out, "numalens_snapshot_age_seconds 0");
	CHECK_LINE(out, "numalens_pmu_info{pmu=\"skl\",model=\"Test CPU @ 2.00GHz\"} 1");
	free(out);
}

static void test_escaping_and_order(void)
{
	char *out;
	const char *w, *z, *b;

	build_snapshot();
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_vm_info{vm=\"" WEIRD_ESC "\",uuid=\"\",backend=\"proc\"} 1");
	/* invalid byte -> U+FFFD, newline -> \n */
	CHECK_LINE(out, "numalens_vm_pid{vm=\"bad\xef\xbf\xbd\\nname\"} 78");
	/* sorted by name: bad..., we"ird..., zeta, whatever the array order */
	b = strstr(out, "numalens_vm_pid{vm=\"bad");
	w = strstr(out, "numalens_vm_pid{vm=\"we");
	z = strstr(out, "numalens_vm_pid{vm=\"zeta");
	CHECK(b && w && z && b < w && w < z);
	/* series sorted by role, then index */
	w = strstr(out, "cpu_seconds_total{vm=\"zeta\",role=\"vcpu\",thread=\"0\"}");
	z = strstr(out, "cpu_seconds_total{vm=\"zeta\",role=\"vcpu\",thread=\"1\"}");
	b = strstr(out, "cpu_seconds_total{vm=\"zeta\",role=\"emulator\"");
	CHECK(w && z && b && w < z && z < b);
	free(out);
}

/* HELP then TYPE exactly once per family, every sample under the header of
 * its own family, families never split. */
static void test_grouping(void)
{
	char *out, *save = NULL;
	char seen[64][96];
	int nseen = 0, families = 0;
	char cur[96] = "", help[96] = "";

	build_snapshot();
	out = encode(1002.5);
	if (!out)
		return;
	for (char *line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[96];

		if (sscanf(line, "# HELP %95s", name) == 1) {
			for (int i = 0; i < nseen; i++)
				CHECK(strcmp(seen[i], name) != 0);
			if (nseen < 64)
				snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
			snprintf(help, sizeof(help), "%s", name);
			families++;
		} else if (sscanf(line, "# TYPE %95s", name) == 1) {
			CHECK_STR(name, help);    /* directly after its HELP */
			snprintf(cur, sizeof(cur), "%s", name);
			help[0] = '\0';
		} else {
			size_t n = strcspn(line, "{ ");

			CHECK(line[0] != '#');
			CHECK(strlen(cur) == n && strncmp(line, cur, n) == 0);
		}
	}
	CHECK_EQ_INT(families, 32);
	free(out);
}

static void test_deterministic(void)
{
	char *a, *b;

	build_snapshot();
	a = encode(1002.5);
	/* reversing the VM array must not change a byte */
	struct nl_vm_snap tmp = vms[0];
	vms[0] = vms[2];
	vms[2] = tmp;
	b = encode(1002.5);
	CHECK(a && b && strcmp(a, b) == 0);
	free(a);
	free(b);
}

static void test_escape_label(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "plain", "plain" },
		{ "a\\b", "a\\\\b" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "two\nlines", "two\\nlines" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },                 /* valid UTF-8 */
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },       /* 4-byte */
		{ "x\xffy", "x\xef\xbf\xbdy" },                   /* invalid byte */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },       /* overlong */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
		{ "cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd" }, /* truncated */
	};
	struct nl_buf b;

	nl_buf_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nl_buf_reset(&b);
		nl_buf_puts(&b, "");
		nl_prom_escape_label(&b, cases[i].in);
		CHECK_STR(b.data, cases[i].want);
	}
	nl_buf_free(&b);
}

static void test_empty_snapshot(void)
{
	char *out;

	memset(&snap, 0, sizeof(snap));
	snap.libvirt_up = -1;
	snap.timestamp = 5;
	out = encode(6);
	if (!out)
		return;
	CHECK(strstr(out, "# TYPE numalens_build_info gauge\nnumalens_build_info{version=") != NULL);
	CHECK(strstr(out, "numalens_node_") == NULL);
	CHECK(strstr(out, "numalens_vm_") == NULL);
	/* no family header without samples */
	CHECK(strstr(out, "# HELP numalens_thread_events_total") == NULL);
	CHECK_LINE(out, "numalens_snapshot_age_seconds 1");
	free(out);
}

/* promtool's linter must have nothing to say (exit 0, no output). */
static int promtool_check(const char *text, bool quiet)
{
	char path[] = "/tmp/test_prom_XXXXXX", cmd[256], msg[512];
	FILE *f, *p;
	int fd, rc;
	size_t n;

	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -errno;
	}
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	if (!p) {
		unlink(path);
		return -errno;
	}
	n = fread(msg, 1, sizeof(msg) - 1, p);
	msg[n] = '\0';
	rc = pclose(p);
	unlink(path);
	if (rc != 0 || n > 0) {
		if (!quiet)
			fprintf(stderr, "  promtool (status %d): %s\n", rc, msg);
		return -EINVAL;
	}
	return 0;
}

static void test_promtool(void)
{
	char *out;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		printf("SKIP test_promtool: promtool not installed (apt-get install prometheus)\n");
		return;
	}
	build_snapshot();
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_EQ_INT(promtool_check(out, false), 0);
	free(out);
	/* and the linter does catch problems, so the check above can fail */
	CHECK(promtool_check("# HELP x_count c\n# TYPE x_count counter\nx_count 1\n", true) != 0);
}

/* PMU scores, per-group scaling ratios and the perf catalog/group info:
 * source="pmu" beside source="placement", a group that never got on the
 * PMU shows 0, software groups and groups without counting events none. */
static void test_pmu_families(void)
{
	struct nl_vm_snap *zeta = &vms[0];
	char *out;

	build_snapshot();
	zeta->pmu_locality[NL_ROLE_VCPU] = 0.875;
	zeta->pmu_scores[NL_ROLE_VCPU] = NL_PMU_SCORE_LOCALITY |
					 NL_PMU_SCORE_MPKI | NL_PMU_SCORE_CPI;
	zeta->llc_mpki[NL_ROLE_VCPU] = 12.5;
	zeta->cpi[NL_ROLE_VCPU] = 1.25;
	zeta->pmu_locality[NL_ROLE_EMULATOR] = 0.25;
	zeta->pmu_scores[NL_ROLE_EMULATOR] = NL_PMU_SCORE_LOCALITY;
	/* defined-bit clear: not shown even if a value sits there */
	zeta->llc_mpki[NL_ROLE_ALL] = 3;
	snprintf(snap.perf_catalog, sizeof(snap.perf_catalog), "skx");
	snap.nperf_groups = 3;
	snap.perf_groups[0] = (struct nl_perf_group_desc){ true, 1u << EV_CYCLES };
	snap.perf_groups[1] = (struct nl_perf_group_desc){ true,
		1u << EV_DRAM_REMOTE | 1u << EV_UNTRIED };
	snap.perf_groups[2] = (struct nl_perf_group_desc){ false, 1u << EV_TASK_CLOCK };
	for (int g = 0; g < NL_MAX_GROUPS; g++)
		zeta_series[1].group_scaling[g] = NAN;
	zeta_series[1].group_scaling[0] = 0;
	out = encode(1002.5);
	if (!out)
		return;
	CHECK_LINE(out, "numalens_vm_locality_ratio{vm=\"zeta\",role=\"vcpu\",source=\"placement\"} 0.75");
	CHECK_LINE(out, "numalens_vm_locality_ratio{vm=\"zeta\",role=\"vcpu\",source=\"pmu\"} 0.875");
	CHECK_LINE(out, "numalens_vm_locality_ratio{vm=\"zeta\",role=\"emulator\",source=\"pmu\"} 0.25");
	CHECK(strstr(out, "role=\"all\",source=\"pmu\"") == NULL);
	CHECK_LINE(out, "numalens_vm_llc_misses_per_kilo_instruction{vm=\"zeta\",role=\"vcpu\"} 12.5");
	CHECK_LINE(out, "numalens_vm_cycles_per_instruction{vm=\"zeta\",role=\"vcpu\"} 1.25");
	CHECK(strstr(out, "numalens_vm_llc_misses_per_kilo_instruction{vm=\"zeta\",role=\"all\"}") == NULL);
	CHECK(strstr(out, "numalens_vm_cycles_per_instruction{vm=\"zeta\",role=\"emulator\"}") == NULL);
	/* the family stays one block: pmu lines follow the placement ones */
	CHECK(strstr(out, "# TYPE numalens_vm_locality_ratio gauge") ==
	      strstr(out, "# TYPE numalens_vm_locality_ratio"));
	/* vcpu 0 counts cycles (group 0): ratio 0 = never on the PMU; group
	 * 1 has no counting event on it, group 2 is software */
	CHECK_LINE(out, "numalens_thread_perf_group_scaling_ratio{vm=\"zeta\",role=\"vcpu\",thread=\"0\",group=\"0\"} 0");
	CHECK(strstr(out, "group=\"1\"} ") == NULL);
	CHECK(strstr(out, "group=\"2\"} ") == NULL);
	CHECK_LINE(out, "numalens_perf_catalog_info{catalog=\"skx\"} 1");
	CHECK_LINE(out, "numalens_perf_group_info{group=\"0\",kind=\"hardware\",events=\"cycles\"} 1");
	/* dram_remote cannot open: only the untried event is listed */
	CHECK_LINE(out, "numalens_perf_group_info{group=\"1\",kind=\"hardware\",events=\"untried\"} 1");
	CHECK_LINE(out, "numalens_perf_group_info{group=\"2\",kind=\"software\",events=\"task_clock\"} 1");
	if (system("command -v promtool >/dev/null 2>&1") == 0)
		CHECK_EQ_INT(promtool_check(out, false), 0);
	free(out);
	/* perf off: no catalog, no groups */
	build_snapshot();
	out = encode(1002.5);
	if (!out)
		return;
	CHECK(strstr(out, "numalens_perf_catalog_info") == NULL);
	CHECK(strstr(out, "numalens_perf_group_info") == NULL);
	CHECK(strstr(out, "source=\"pmu\"") == NULL);
	CHECK(strstr(out, "group_scaling_ratio") == NULL);
	free(out);
}

NL_TEST_MAIN(NL_T(test_host_families), NL_T(test_vm_families), NL_T(test_vm_arrival), NL_T(test_vm_devices), NL_T(test_vm_cells), NL_T(test_vm_host_cycles),
	     NL_T(test_events_and_scaling), NL_T(test_scores_skip_nan),
	     NL_T(test_self_families), NL_T(test_escaping_and_order),
	     NL_T(test_grouping), NL_T(test_deterministic),
	     NL_T(test_escape_label),
	     NL_T(test_empty_snapshot), NL_T(test_pmu_families),
	     NL_T(test_promtool))
