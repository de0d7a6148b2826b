/* Tests of the user event file parser (collector/evconf.c), whose format
 * docs/events.md documents for the perf and uncore collectors. */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "evconf.h"

static void test_parse_sections(void)
{
	static const char text[] =
		"# numalens events\n"
		"\n"
		"early = perf::PERF_COUNT_SW_PAGE_FAULTS   # before any section\n"
		"[thread]\n"
		"  l2_miss\t=\tskx::L2_RQSTS:MISS  \n"
		"[uncore]\n"
		"imc_reads = uncore_imc/cas_count_read/\n"
		"l2_miss = uncore_cha/event=0x34,umask=0x1/\n"
		"[thread]\n"
		"_x9 = a=b\n";
	struct nl_evconf c;
	char err[256];

	CHECK_EQ_INT(nl_evconf_parse(text, "t.conf", &c, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_EQ_U64(c.n, 5);
	if (c.n != 5)
		return;
	CHECK_EQ_INT(c.entries[0].section, NL_EVCONF_THREAD);
	CHECK_STR(c.entries[0].name, "early");
	CHECK_STR(c.entries[0].event, "perf::PERF_COUNT_SW_PAGE_FAULTS");
	CHECK_EQ_INT(c.entries[0].line, 3);
	CHECK_STR(c.entries[1].name, "l2_miss");
	CHECK_STR(c.entries[1].event, "skx::L2_RQSTS:MISS");
	CHECK_EQ_INT(c.entries[2].section, NL_EVCONF_UNCORE);
	CHECK_STR(c.entries[2].event, "uncore_imc/cas_count_read/");
	/* the same name in another section is another event */
	CHECK_STR(c.entries[3].name, "l2_miss");
	CHECK_EQ_INT(c.entries[3].section, NL_EVCONF_UNCORE);
	CHECK_STR(c.entries[3].event, "uncore_cha/event=0x34,umask=0x1/");
	/* the first '=' separates: the event may contain more */
	CHECK_EQ_INT(c.entries[4].section, NL_EVCONF_THREAD);
	CHECK_STR(c.entries[4].name, "_x9");
	CHECK_STR(c.entries[4].event, "a=b");
	CHECK_EQ_INT(c.entries[4].line, 10);
	CHECK_STR(nl_evconf_section_name(NL_EVCONF_UNCORE), "uncore");
	nl_evconf_free(&c);
	CHECK(c.entries == NULL && c.n == 0);
	nl_evconf_free(NULL);

	/* empty and comment-only files are fine; no trailing newline too */
	CHECK_EQ_INT(nl_evconf_parse("", "e", &c, err, sizeof(err)), 0);
	CHECK_EQ_U64(c.n, 0);
	CHECK_EQ_INT(nl_evconf_parse("# x\n\n   \n", "e", &c, err, sizeof(err)), 0);
	CHECK_EQ_U64(c.n, 0);
	CHECK_EQ_INT(nl_evconf_parse("a=b", "e", &c, err, sizeof(err)), 0);
	CHECK_EQ_U64(c.n, 1);
	nl_evconf_free(&c);
}

static void test_parse_errors(void)
{
	static const struct { const char *text, *msg; } bad[] = {
		{ "[Thread]\n", "t.conf:1: unknown section \"[Thread]\"" },
		{ "\n[uncore\n", "t.conf:2: unknown section" },
		{ "cycles\n", "t.conf:1: want NAME = EVENT" },
		{ "= x\n", "t.conf:1: bad name \"\"" },
		{ "9lives = x\n", "t.conf:1: bad name \"9lives\"" },
		{ "a-b = x\n", "t.conf:1: bad name \"a-b\"" },
		{ "a b = x\n", "t.conf:1: bad name \"a b\"" },
		{ "a =\n", "t.conf:1: empty event for \"a\"" },
		{ "a = # nothing\n", "t.conf:1: empty event" },
		{ "a = x y\n", "t.conf:1: space inside the event \"x y\"" },
		{ "a = x\nb = y\na = z\n",
		  "t.conf:3: duplicate name \"a\" in [thread] (first on line 1)" },
		{ "[uncore]\na = x\na = z\n", "t.conf:3: duplicate name \"a\" in [uncore]" },
	};
	char longname[80], longev[300], text[512];
	struct nl_evconf c;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(nl_evconf_parse(bad[i].text, "t.conf", &c, err,
					     sizeof(err)), -EINVAL);
		CHECK(strncmp(err, bad[i].msg, strlen(bad[i].msg)) == 0);
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg)))
			fprintf(stderr, "  got \"%s\"\n", err);
		CHECK(c.entries == NULL && c.n == 0);
	}
	memset(longname, 'n', 64);
	longname[64] = '\0';
	snprintf(text, sizeof(text), "%s = x\n", longname);
	CHECK_EQ_INT(nl_evconf_parse(text, "t", &c, err, sizeof(err)), -EINVAL);
	longname[63] = '\0';   /* 63 is the limit */
	snprintf(text, sizeof(text), "%s = x\n", longname);
	CHECK_EQ_INT(nl_evconf_parse(text, "t", &c, err, sizeof(err)), 0);
	nl_evconf_free(&c);
	memset(longev, 'e', 256);
	longev[256] = '\0';
	snprintf(text, sizeof(text), "a = %s\n", longev);
	CHECK_EQ_INT(nl_evconf_parse(text, "t", &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "over-long") != NULL);
	longev[255] = '\0';
	snprintf(text, sizeof(text), "a = %s\n", longev);
	CHECK_EQ_INT(nl_evconf_parse(text, "t", &c, err, sizeof(err)), 0);
	nl_evconf_free(&c);
}

static void test_load_file(void)
{
	char path[] = "/tmp/nl_evconf_XXXXXX";
	struct nl_evconf c;
	char err[256];
	int fd = mkstemp(path);
	FILE *fp;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	fp = fdopen(fd, "w");
	fputs("[thread]\ndram_local = icx::OCR:READS_TO_CORE_LOCAL_DRAM\n", fp);
	fclose(fp);
	CHECK_EQ_INT(nl_evconf_load(path, &c, err, sizeof(err)), 0);
	CHECK_EQ_U64(c.n, 1);
	nl_evconf_free(&c);
	/* binary junk */
	fp = fopen(path, "w");
	fwrite("a = b\n\0c = d\n", 1, 13, fp);
	fclose(fp);
	CHECK_EQ_INT(nl_evconf_load(path, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "NUL") != NULL);
	unlink(path);
	CHECK_EQ_INT(nl_evconf_load(path, &c, err, sizeof(err)), -ENOENT);
	CHECK(strncmp(err, path, strlen(path)) == 0);
	CHECK(strstr(err, "cannot read") != NULL);
	CHECK_EQ_INT(nl_evconf_load("", &c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(nl_evconf_load("/", &c, err, sizeof(err)) < 0, 1);
}

NL_TEST_MAIN(NL_T(test_parse_sections), NL_T(test_parse_errors),
	     NL_T(test_load_file))
