#include "harness.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "score.h"

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

NL_TEST_MAIN(NL_T(test_all_local), NL_T(test_all_remote),
	     NL_T(test_even_spread), NL_T(test_asymmetric_four_nodes),
	     NL_T(test_no_data_is_nan), NL_T(test_huge_values_do_not_overflow))
