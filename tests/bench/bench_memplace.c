/* Cost of the two memory placement readers for one live process.
 *
 *   make bench-tools     (build/bench/bench_memplace)
 *   build/bench_memplace PID [iterations]
 *
 * Times, per iteration: the numa_stat source for one VM (reads
 * /proc/PID/cgroup, /proc/PID/status, memory.numa_stat, and cgroup.procs
 * when the cgroup is not a libvirt machine), the numa_maps source for one VM
 * (interval 0, so it re-reads every time), and the read and the parse of
 * numa_maps on their own. The numa_stat source only measures a process
 * that is alone in its memory cgroup (or in a libvirt machine cgroup). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memplace.h"
#include "memplace_priv.h"
#include "paths.h"
#include "state.h"
#include "topology.h"

static struct nl_state st;
static struct nl_config cfg;
static struct nl_vm vm;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_bytes(const char *what)
{
	uint64_t sum = 0;

	printf("  %-10s source=%s", what, nl_mem_source_name(vm.mem_source));
	for (int i = 0; i < st.topo.nnodes; i++) {
		printf(" node%d=%.1fMiB", st.topo.nodes[i].id,
		       (double)vm.mem_bytes[i] / 1048576.0);
		sum += vm.mem_bytes[i];
	}
	printf(" total=%.1fMiB%s%s\n", (double)sum / 1048576.0,
	       vm.mem_cgroup[0] ? " cgroup=" : "", vm.mem_cgroup);
}

int main(int argc, char **argv)
{
	struct nl_vm *vmp = &vm;
	void *a = NULL, *b = NULL;
	uint64_t bytes[NL_MAX_NODES];
	char path[NL_PATH_MAX], *buf = NULL;
	size_t cap = 0;
	ssize_t len = 0;
	double t0, t_stat, t_maps, t_read, t_parse;
	int iters, rc = 1, stat_ok = 1, lines = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PID [iterations]\n", argv[0]);
		return 2;
	}
	iters = argc > 2 ? atoi(argv[2]) : 200;
	if (iters <= 0)
		iters = 200;

	cfg.numa_maps_interval = 0;   /* re-read numa_maps every time */
	st.cfg = &cfg;
	st.vms = &vmp;
	st.nvms = 1;
	vm.pid = (pid_t)atoi(argv[1]);
	snprintf(vm.name, sizeof(vm.name), "pid%d", (int)vm.pid);
	if (nl_topology_read(&st.topo) < 0) {
		fprintf(stderr, "cannot read the host topology\n");
		return 1;
	}
	st.topo_valid = true;
	if (nl_source_numa_stat.init(&st, &a) < 0 ||
	    nl_source_numa_maps.init(&st, &b) < 0)
		goto cleanup;

	/* numa_stat source */
	t0 = now_s();
	for (int i = 0; i < iters; i++) {
		st.now_ns = (uint64_t)(i + 1) * 1000000000ULL;
		vm.mem_source = NL_MEM_NONE;
		nl_source_numa_stat.sample(&st, a);
		if (vm.mem_source == NL_MEM_NONE)
			stat_ok = 0;
	}
	t_stat = (now_s() - t0) / iters;
	printf("pid %d, %d iterations, page size %ld\n", (int)vm.pid, iters,
	       sysconf(_SC_PAGESIZE));
	if (stat_ok)
		print_bytes("numa_stat");
	else
		printf("  numa_stat  not measured (no memory cgroup of its own)"
		       "\n");

	/* numa_maps source */
	memset(&vm.mem_bytes, 0, sizeof(vm.mem_bytes));
	t0 = now_s();
	for (int i = 0; i < iters; i++) {
		st.now_ns = (uint64_t)(iters + i + 1) * 1000000000ULL;
		vm.mem_source = NL_MEM_NONE;
		nl_source_numa_maps.sample(&st, b);
	}
	t_maps = (now_s() - t0) / iters;
	print_bytes("numa_maps");

	/* numa_maps: read vs parse */
	if (nl_path_proc(path, sizeof(path), "%d/numa_maps", (int)vm.pid) < 0)
		goto cleanup;
	t0 = now_s();
	for (int i = 0; i < iters; i++) {
		len = nl_read_file_alloc(path, &buf, &cap);
		if (len < 0) {
			fprintf(stderr, "%s: %s\n", path, strerror((int)-len));
			goto cleanup;
		}
	}
	t_read = (now_s() - t0) / iters;
	t0 = now_s();
	for (int i = 0; i < iters; i++)
		nl_memplace_parse_numa_maps(buf, sysconf(_SC_PAGESIZE),
					    &st.topo, bytes);
	t_parse = (now_s() - t0) / iters;

	printf("  numa_stat source: %8.1f us/VM%s\n", t_stat * 1e6,
	       stat_ok ? "" : " (failed early: not comparable)");
	printf("  numa_maps source: %8.1f us/VM\n", t_maps * 1e6);
	for (ssize_t k = 0; k < len; k++)
		lines += buf[k] == '\n';
	printf("    read  numa_maps: %8.1f us (%zd bytes, %d lines)\n",
	       t_read * 1e6, len, lines);
	printf("    parse numa_maps: %8.1f us\n", t_parse * 1e6);
	rc = 0;
cleanup:
	free(buf);
	nl_source_numa_stat.free(&st, a);
	nl_source_numa_maps.free(&st, b);
	return rc;
}
