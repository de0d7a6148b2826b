#include "harness.h"

#include <errno.h>

#include "types.h"

static void test_cpuset_roundtrip(void)
{
	struct nl_cpuset s;
	char buf[128];

	CHECK_EQ_INT(nl_cpuset_parse(&s, "0-3,8,10-11\n"), 0);
	CHECK_EQ_INT(nl_cpuset_count(&s), 7);
	CHECK(nl_cpuset_isset(&s, 8));
	CHECK(!nl_cpuset_isset(&s, 9));
	CHECK_STR(nl_cpuset_format(&s, buf, sizeof(buf)), "0-3,8,10-11");
	CHECK_EQ_INT(nl_cpuset_parse(&s, ""), 0);
	CHECK_EQ_INT(nl_cpuset_count(&s), 0);
	CHECK_STR(nl_cpuset_format(&s, buf, sizeof(buf)), "");
}

static void test_cpuset_bad_input(void)
{
	struct nl_cpuset s;

	CHECK_EQ_INT(nl_cpuset_parse(&s, "3-1"), -EINVAL);
	CHECK_EQ_INT(nl_cpuset_parse(&s, "a"), -EINVAL);
	CHECK_EQ_INT(nl_cpuset_parse(&s, "0-5000"), -ERANGE);
	CHECK_EQ_INT(nl_cpuset_parse(&s, "1,,2"), -EINVAL);
}

/* within: not empty, and no CPU outside b (also in a high word) */
static void test_cpuset_within(void)
{
	struct nl_cpuset a, b, empty;

	nl_cpuset_zero(&empty);
	CHECK_EQ_INT(nl_cpuset_parse(&a, "2-3"), 0);
	CHECK_EQ_INT(nl_cpuset_parse(&b, "0-3,200"), 0);
	CHECK(nl_cpuset_within(&a, &b));
	CHECK(!nl_cpuset_within(&b, &a));
	CHECK(!nl_cpuset_within(&empty, &b));
	nl_cpuset_set(&a, 201);
	CHECK(!nl_cpuset_within(&a, &b));
}

static void test_nodemask(void)
{
	uint64_t m;
	char buf[64];

	CHECK_EQ_INT(nl_nodemask_parse(&m, "0,2-3"), 0);
	CHECK_EQ_U64(m, 0xdULL);
	CHECK_STR(nl_nodemask_format(m, buf, sizeof(buf)), "0,2-3");
	CHECK_EQ_INT(nl_nodemask_parse(&m, "64"), -ERANGE);
	CHECK_EQ_INT(nl_nodemask_parse(&m, "63"), 0);
	CHECK_EQ_U64(m, 1ULL << 63);
}

static void test_format_truncates_whole_items(void)
{
	struct nl_cpuset s;
	char buf[6];

	nl_cpuset_parse(&s, "0-3,8,10-11");
	/* "0-3,8" fits in 6 bytes, ",10-11" does not */
	CHECK_STR(nl_cpuset_format(&s, buf, sizeof(buf)), "0-3,8");
}

static void test_names(void)
{
	CHECK_STR(nl_role_name(NL_ROLE_VCPU), "vcpu");
	CHECK_STR(nl_role_name(NL_ROLE_VHOST), "vhost");
	CHECK_STR(nl_role_name(NL_ROLE_ALL), "all");
	CHECK_STR(nl_mem_source_name(NL_MEM_CGROUP_V2), "cgroup_v2");
}

NL_TEST_MAIN(NL_T(test_cpuset_roundtrip), NL_T(test_cpuset_within), NL_T(test_cpuset_bad_input),
	     NL_T(test_nodemask), NL_T(test_format_truncates_whole_items),
	     NL_T(test_names))
