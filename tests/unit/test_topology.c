#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "paths.h"
#include "state.h"
#include "topology.h"
#include "topology_priv.h"

#define FIX NL_SRCDIR "/tests/fixtures/"
#define KIB 1024ULL

static struct nl_topology topo;   /* large: keep it off the stack */

static void use_fixture(const char *name)
{
	char proc[NL_PATH_MAX], sys[NL_PATH_MAX];

	snprintf(proc, sizeof(proc), FIX "%s/proc", name);
	snprintf(sys, sizeof(sys), FIX "%s/sys", name);
	CHECK_EQ_INT(nl_paths_set(proc, sys), 0);
}

/* A private copy of a fixture in /tmp that a test may break. */
static char tmp_root[64];

static void tmp_copy(const char *name)
{
	char cmd[NL_PATH_MAX + 128], proc[96], sys[96];

	snprintf(tmp_root, sizeof(tmp_root), "/tmp/nl_topo_XXXXXX");
	CHECK(mkdtemp(tmp_root) != NULL);
	snprintf(cmd, sizeof(cmd), "cp -r '" FIX "%s/proc' '" FIX
		 "%s/sys' '%s/'", name, name, tmp_root);
	CHECK_EQ_INT(system(cmd), 0);
	snprintf(proc, sizeof(proc), "%s/proc", tmp_root);
	snprintf(sys, sizeof(sys), "%s/sys", tmp_root);
	CHECK_EQ_INT(nl_paths_set(proc, sys), 0);
}

static void tmp_write(const char *rel, const char *text)
{
	char path[NL_PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp_root, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void tmp_remove(const char *rel)
{
	char path[NL_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmp_root, rel);
	CHECK_EQ_INT(unlink(path), 0);
}

static void tmp_cleanup(void)
{
	char cmd[128];

	if (strncmp(tmp_root, "/tmp/nl_topo_", 13) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	CHECK_EQ_INT(system(cmd), 0);
	tmp_root[0] = '\0';
}

static void test_two_socket(void)
{
	use_fixture("two-socket");
	CHECK_EQ_INT(nl_topology_read(&topo), 0);
	CHECK_EQ_INT(topo.nnodes, 2);
	CHECK_EQ_INT(topo.nodes[0].id, 0);
	CHECK_EQ_INT(topo.nodes[1].id, 1);
	CHECK_EQ_INT(topo.ncpus, 8);
	for (int c = 0; c < 8; c++)
		CHECK_EQ_INT(topo.cpu_node[c], c < 4 ? 0 : 1);
	CHECK_EQ_INT(topo.cpu_node[8], -1);
	CHECK_EQ_INT(nl_cpuset_count(&topo.nodes[0].cpus), 4);
	CHECK(nl_cpuset_isset(&topo.nodes[1].cpus, 7));
	CHECK(!nl_cpuset_isset(&topo.nodes[1].cpus, 3));
	CHECK_EQ_INT(topo.distance[0][0], 10);
	CHECK_EQ_INT(topo.distance[0][1], 21);
	CHECK_EQ_INT(topo.distance[1][0], 21);
	CHECK_EQ_INT(topo.distance[1][1], 10);
	CHECK_EQ_U64(topo.nodes[0].mem_total_bytes, 16308816 * KIB);
	CHECK_EQ_U64(topo.nodes[0].mem_free_bytes, 9876544 * KIB);
	CHECK_EQ_U64(topo.nodes[1].mem_total_bytes, 16510976 * KIB);
	CHECK_EQ_U64(topo.nodes[1].mem_free_bytes, 12001236 * KIB);
	CHECK(topo.nodes[0].has_numastat);
	CHECK_EQ_U64(topo.nodes[0].numastat.numa_hit, 98765432);
	CHECK_EQ_U64(topo.nodes[0].numastat.numa_miss, 1234);
	CHECK_EQ_U64(topo.nodes[0].numastat.numa_foreign, 5678);
	CHECK_EQ_U64(topo.nodes[0].numastat.interleave_hit, 40960);
	CHECK_EQ_U64(topo.nodes[0].numastat.local_node, 98700000);
	CHECK_EQ_U64(topo.nodes[0].numastat.other_node, 65432);
	CHECK_EQ_U64(topo.nodes[1].numastat.other_node, 78901);
}

static void test_four_node_asymmetric(void)
{
	static const int slit[4][4] = {
		{ 10, 16, 22, 22 }, { 16, 10, 22, 22 },
		{ 22, 22, 10, 16 }, { 22, 22, 16, 10 },
	};
	/* SMT siblings: node n holds 2n, 2n+1, 2n+8, 2n+9 */
	static const int node_of[16] = {
		0, 0, 1, 1, 2, 2, 3, 3, 0, 0, 1, 1, 2, 2, 3, 3,
	};

	use_fixture("four-node");
	CHECK_EQ_INT(nl_topology_read(&topo), 0);
	CHECK_EQ_INT(topo.nnodes, 4);
	CHECK_EQ_INT(topo.ncpus, 16);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ_INT(topo.nodes[i].id, i);
		CHECK_EQ_INT(nl_cpuset_count(&topo.nodes[i].cpus), 4);
		for (int j = 0; j < 4; j++)
			CHECK_EQ_INT(topo.distance[i][j], slit[i][j]);
	}
	for (int c = 0; c < 16; c++)
		CHECK_EQ_INT(topo.cpu_node[c], node_of[c]);
	CHECK_EQ_U64(topo.nodes[3].mem_total_bytes, 8388608 * KIB);
	CHECK_EQ_U64(topo.nodes[2].numastat.numa_hit, 30000000);
}

static void test_sparse_node_ids(void)
{
	use_fixture("sparse-nodes");
	CHECK_EQ_INT(nl_topology_read(&topo), 0);
	CHECK_EQ_INT(topo.nnodes, 2);
	CHECK_EQ_INT(topo.nodes[0].id, 0);
	CHECK_EQ_INT(topo.nodes[1].id, 2);
	CHECK_EQ_INT(nl_topology_node_index(&topo, 2), 1);
	CHECK_EQ_INT(nl_topology_node_index(&topo, 1), -1);
	/* the SLIT row is by online node, so node2's row maps to index 1 */
	CHECK_EQ_INT(topo.distance[0][1], 20);
	CHECK_EQ_INT(topo.distance[1][0], 20);
	CHECK_EQ_INT(topo.distance[1][1], 10);
	CHECK_EQ_INT(topo.cpu_node[0], 0);
	CHECK_EQ_INT(topo.cpu_node[1], 0);
	CHECK_EQ_INT(topo.cpu_node[2], 1);
	CHECK_EQ_INT(topo.cpu_node[3], -1);   /* offline */
	CHECK_EQ_INT(topo.ncpus, 3);
	CHECK_EQ_U64(topo.nodes[1].mem_total_bytes, 4194304 * KIB);
	CHECK_EQ_U64(topo.nodes[1].numastat.numa_foreign, 34);
}

static void test_no_numa_fallback(void)
{
	use_fixture("no-numa");
	CHECK_EQ_INT(nl_topology_read(&topo), 0);
	CHECK_EQ_INT(topo.nnodes, 1);
	CHECK_EQ_INT(topo.nodes[0].id, 0);
	CHECK_EQ_INT(topo.ncpus, 2);
	CHECK_EQ_INT(topo.cpu_node[0], 0);
	CHECK_EQ_INT(topo.cpu_node[1], 0);
	CHECK_EQ_INT(topo.cpu_node[2], -1);
	CHECK_EQ_INT(nl_cpuset_count(&topo.nodes[0].cpus), 2);
	CHECK_EQ_INT(topo.distance[0][0], 10);
	CHECK_EQ_U64(topo.nodes[0].mem_total_bytes, 4028924 * KIB);
	CHECK_EQ_U64(topo.nodes[0].mem_free_bytes, 3012345 * KIB);
	CHECK(!topo.nodes[0].has_numastat);
}

/* A SLIT need not be symmetric: row i of node i's file is distance[i][]. */
static void test_asymmetric_slit_rows(void)
{
	tmp_copy("four-node");
	tmp_write("sys/devices/system/node/node1/distance", "17 10 23 24\n");
	CHECK_EQ_INT(nl_topology_read(&topo), 0);
	CHECK_EQ_INT(topo.distance[0][1], 16);
	CHECK_EQ_INT(topo.distance[1][0], 17);
	CHECK_EQ_INT(topo.distance[1][2], 23);
	CHECK_EQ_INT(topo.distance[2][1], 22);
	CHECK_EQ_INT(topo.distance[1][3], 24);
	tmp_cleanup();
}

/* No online file: the node<N> directories are listed instead. */
static void test_nodes_from_dirs(void)
{
	tmp_copy("sparse-nodes");
	tmp_remove("sys/devices/system/node/online");
	CHECK_EQ_INT(nl_topology_read(&topo), 0);
	CHECK_EQ_INT(topo.nnodes, 2);
	CHECK_EQ_INT(topo.nodes[1].id, 2);
	CHECK_EQ_INT(topo.distance[1][0], 20);
	tmp_cleanup();
}

static void test_parse_meminfo(void)
{
	uint64_t total = 0, free_b = 0;

	CHECK_EQ_INT(nl_topology_parse_meminfo(
		"Node 3 MemTotal:       1000 kB\n"
		"Node 3 MemFree:         250 kB\n"
		"Node 3 MemUsed:         750 kB\n"
		"Node 3 HugePages_Total:     0\n", 3, &total, &free_b), 0);
	CHECK_EQ_U64(total, 1000 * KIB);
	CHECK_EQ_U64(free_b, 250 * KIB);
	CHECK_EQ_INT(nl_topology_parse_meminfo(
		"MemTotal:  2048 kB\nMemFree: 1024 kB\nMemAvailable: 1 kB\n"
		"HugePages_Total:       0\n", -1, &total, &free_b), 0);
	CHECK_EQ_U64(total, 2048 * KIB);
	CHECK_EQ_U64(free_b, 1024 * KIB);
	/* a line of another node */
	CHECK_EQ_INT(nl_topology_parse_meminfo(
		"Node 0 MemTotal: 1 kB\nNode 1 MemFree: 1 kB\n", 0, &total,
		&free_b), -EINVAL);
	/* MemFree missing */
	CHECK_EQ_INT(nl_topology_parse_meminfo("Node 0 MemTotal: 1 kB\n", 0,
					       &total, &free_b), -EINVAL);
	/* not a number, no unit, garbage */
	CHECK_EQ_INT(nl_topology_parse_meminfo(
		"Node 0 MemTotal: x kB\nNode 0 MemFree: 1 kB\n", 0, &total,
		&free_b), -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_meminfo(
		"MemTotal: 5\nMemFree: 1 kB\n", -1, &total, &free_b), -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_meminfo("\x01\x02 garbage", -1, &total,
					       &free_b), -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_meminfo("", 0, &total, &free_b),
		     -EINVAL);
}

static void test_parse_numastat(void)
{
	struct nl_numastat ns;

	CHECK_EQ_INT(nl_topology_parse_numastat(
		"numa_hit 5\nnuma_miss 6\nnuma_foreign 7\ninterleave_hit 8\n"
		"local_node 9\nother_node 10\nsome_future_key 11\n", &ns), 0);
	CHECK_EQ_U64(ns.numa_hit, 5);
	CHECK_EQ_U64(ns.numa_miss, 6);
	CHECK_EQ_U64(ns.numa_foreign, 7);
	CHECK_EQ_U64(ns.interleave_hit, 8);
	CHECK_EQ_U64(ns.local_node, 9);
	CHECK_EQ_U64(ns.other_node, 10);
	CHECK_EQ_INT(nl_topology_parse_numastat("numa_hit x\n", &ns), -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_numastat("numa_miss 1\n", &ns),
		     -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_numastat("", &ns), -EINVAL);
}

static void test_parse_distance(void)
{
	int row[4];

	CHECK_EQ_INT(nl_topology_parse_distance("10 21 31\n", row, 4), 3);
	CHECK_EQ_INT(row[0], 10);
	CHECK_EQ_INT(row[2], 31);
	CHECK_EQ_INT(nl_topology_parse_distance("10 21 x\n", row, 4), -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_distance("10,21\n", row, 4), -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_distance("0 10\n", row, 4), -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_distance("10 256\n", row, 4), -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_distance("\n", row, 4), -EINVAL);
	CHECK_EQ_INT(nl_topology_parse_distance("1 2 3 4 5\n", row, 4),
		     -EINVAL);
}

/* Broken files give an error and an empty topology, never a crash or a
 * half-filled one. */
static void test_malformed_tree(void)
{
	static const struct {
		const char *file, *text;
		int err;
	} cases[] = {
		/* a SLIT row with 3 entries on a 2-node host */
		{ "sys/devices/system/node/node0/distance", "10 21 21\n",
		  -EINVAL },
		{ "sys/devices/system/node/node1/distance", "21\n", -EINVAL },
		{ "sys/devices/system/node/node1/cpulist", "4-x\n", -EINVAL },
		/* CPU 3 in both nodes */
		{ "sys/devices/system/node/node1/cpulist", "3-7\n", -EINVAL },
		{ "sys/devices/system/node/node0/meminfo",
		  "Node 0 MemTotal: 12\n", -EINVAL },
		{ "sys/devices/system/node/node1/numastat", "numa_hit\n",
		  -EINVAL },
		{ "sys/devices/system/node/online", "0-\n", -EINVAL },
		{ "sys/devices/system/node/online", "", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tmp_copy("two-socket");
		tmp_write(cases[i].file, cases[i].text);
		topo.nnodes = 7;
		CHECK_EQ_INT(nl_topology_read(&topo), cases[i].err);
		CHECK_EQ_INT(topo.nnodes, 0);
		tmp_cleanup();
	}

	/* a missing node file */
	tmp_copy("two-socket");
	tmp_remove("sys/devices/system/node/node1/meminfo");
	CHECK_EQ_INT(nl_topology_read(&topo), -ENOENT);
	tmp_cleanup();

	/* numastat is optional */
	tmp_copy("two-socket");
	tmp_remove("sys/devices/system/node/node1/numastat");
	CHECK_EQ_INT(nl_topology_read(&topo), 0);
	CHECK(topo.nodes[0].has_numastat);
	CHECK(!topo.nodes[1].has_numastat);
	tmp_cleanup();

	/* no NUMA and no procfs meminfo */
	tmp_copy("no-numa");
	tmp_remove("proc/meminfo");
	CHECK_EQ_INT(nl_topology_read(&topo), -ENOENT);
	tmp_cleanup();

	/* nothing at all */
	CHECK_EQ_INT(nl_paths_set("/nonexistent/proc", "/nonexistent/sys"), 0);
	CHECK(nl_topology_read(&topo) < 0);
}

/* The source re-reads memory every cycle and the layout only every
 * NL_TOPOLOGY_FULL_INTERVAL_S; a failed read keeps what was published. */
static void test_source_refresh(void)
{
	static struct nl_state st;
	void *priv = NULL;
	const uint64_t s = 1000000000ULL;

	memset(&st, 0, sizeof(st));
	tmp_copy("two-socket");
	CHECK_EQ_INT(nl_source_topology.init(&st, &priv), 0);
	st.now_ns = 5 * s;
	CHECK_EQ_INT(nl_source_topology.sample(&st, priv), 0);
	CHECK(st.topo_valid);
	CHECK_EQ_INT(st.topo.nnodes, 2);
	CHECK_EQ_INT(st.topo.cpu_node[3], 0);

	tmp_write("sys/devices/system/node/node0/meminfo",
		  "Node 0 MemTotal: 16308816 kB\nNode 0 MemFree: 42 kB\n");
	tmp_write("sys/devices/system/node/node0/numastat",
		  "numa_hit 99999999\n");
	tmp_write("sys/devices/system/node/node0/cpulist", "0-2\n");
	tmp_write("sys/devices/system/node/node1/cpulist", "3-7\n");
	st.now_ns += 2 * s;
	CHECK_EQ_INT(nl_source_topology.sample(&st, priv), 0);
	CHECK_EQ_U64(st.topo.nodes[0].mem_free_bytes, 42 * KIB);
	CHECK_EQ_U64(st.topo.nodes[0].numastat.numa_hit, 99999999);
	CHECK_EQ_INT(st.topo.cpu_node[3], 0);   /* layout not re-read yet */

	st.now_ns += (uint64_t)NL_TOPOLOGY_FULL_INTERVAL_S * s;
	CHECK_EQ_INT(nl_source_topology.sample(&st, priv), 0);
	CHECK_EQ_INT(st.topo.cpu_node[3], 1);

	/* node 1 vanishes: the counter read fails, so does the full read;
	 * the last good topology stays published */
	tmp_remove("sys/devices/system/node/node1/meminfo");
	st.now_ns += s;
	CHECK(nl_source_topology.sample(&st, priv) < 0);
	CHECK(st.topo_valid);
	CHECK_EQ_INT(st.topo.nnodes, 2);
	CHECK_EQ_U64(st.topo.nodes[0].mem_free_bytes, 42 * KIB);

	/* node 1 goes offline for good: the next cycle re-reads at once */
	tmp_write("sys/devices/system/node/online", "0\n");
	tmp_write("sys/devices/system/node/node0/distance", "10\n");
	st.now_ns += s;
	CHECK_EQ_INT(nl_source_topology.sample(&st, priv), 0);
	CHECK_EQ_INT(st.topo.nnodes, 1);
	CHECK_EQ_INT(st.topo.cpu_node[5], -1);
	nl_source_topology.free(&st, priv);
	tmp_cleanup();

	/* never readable: topo_valid stays false */
	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(nl_paths_set("/nonexistent/proc", "/nonexistent/sys"), 0);
	CHECK_EQ_INT(nl_source_topology.init(&st, &priv), 0);
	st.now_ns = s;
	CHECK(nl_source_topology.sample(&st, priv) < 0);
	CHECK(!st.topo_valid);
	nl_source_topology.free(&st, priv);
	nl_source_topology.free(&st, NULL);
}

NL_TEST_MAIN(NL_T(test_two_socket), NL_T(test_four_node_asymmetric),
	     NL_T(test_sparse_node_ids), NL_T(test_asymmetric_slit_rows),
	     NL_T(test_no_numa_fallback), NL_T(test_nodes_from_dirs),
	     NL_T(test_parse_meminfo), NL_T(test_parse_numastat),
	     NL_T(test_parse_distance), NL_T(test_malformed_tree),
	     NL_T(test_source_refresh))
