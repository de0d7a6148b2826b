/* Tests of `numalens events` (exporter/cmd_events.c): the table for this
 * host, for another model with --pmu, user events, and bad usage. Runs
 * that name another model's PMU happen in a forked child (libpfm4 keeps
 * LIBPFM_ENCODE_INACTIVE for the life of a process). */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_events.h"
#include "log.h"

#define CPUS NL_SRCDIR "/tests/fixtures/cpus"

/* Run the command; its stdout in *out (caller frees), return status. */
static int run(char **out, int argc, const char *const *argv)
{
	char *buf = NULL, *ebuf = NULL;
	size_t len = 0, elen = 0;
	FILE *o = open_memstream(&buf, &len);
	FILE *e = open_memstream(&ebuf, &elen);
	int rc;

	nl_log_set_level(NL_LOG_ERROR);
	rc = nl_cmd_events_run(argc, argv, o, e);
	fclose(o);
	fclose(e);
	if (rc == 1 && ebuf && *ebuf)
		fprintf(stderr, "  [stderr] %s", ebuf);
	free(ebuf);
	*out = buf;
	return rc;
}

/* A line of text starting with `start` that also contains `also`. */
static bool has_row(const char *text, const char *start, const char *also)
{
	size_t n = strlen(start);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[1024];

		if (len >= sizeof(line) || strncmp(p, start, n) != 0)
			continue;
		memcpy(line, p, len);
		line[len] = '\0';
		if (!also || strstr(line, also))
			return true;
	}
	return false;
}

static void child_checks_skx(void)
{
	const char *argv[] = { "events", "--pmu", "skx", "--path.procfs",
			 CPUS "/skx/proc", NULL };
	char *out = NULL;

	CHECK_EQ_INT(run(&out, 5, argv), 0);
	if (!out)
		return;
	CHECK(strstr(out, "catalog:   skx (chosen with --pmu)") != NULL);
	CHECK(strstr(out, "CPU:       GenuineIntel 6/85") != NULL);
	CHECK(has_row(out, "dram_local ", "0x1d3 "));
	CHECK(has_row(out, "dram_local ", "skx::MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM"));
	CHECK(has_row(out, "dram_remote ", "0x2d3 "));
	CHECK(has_row(out, "llc_misses ", "0x412e "));
	CHECK(has_row(out, "cycles ", "cycles "));     /* fixed column */
	/* every event counts guest mode: the g of u,k,h,g,H is 0 */
	CHECK(has_row(out, "dram_local ", " 0,0,0,0,0 "));
	CHECK(has_row(out, "task_clock ", ",0,0 "));
	CHECK(strstr(out, "group 0:   hardware {cycles,instructions,dram_local") != NULL);
	CHECK(has_row(out, "task_clock ", " yes "));
	free(out);
}

static void child_checks_emr(void)
{
	/* Emerald Rapids from cpuinfo: the spr catalog, which libpfm4 4.13
	 * does not detect on it */
	const char *argv[] = { "events", "--no-open", "--path.procfs",
			 CPUS "/emr/proc", NULL };
	char *out = NULL;

	CHECK_EQ_INT(run(&out, 4, argv), 0);
	if (!out)
		return;
	CHECK(strstr(out, "catalog:   spr - ") != NULL);
	CHECK(strstr(out, "encoded with LIBPFM_ENCODE_INACTIVE=1") != NULL);
	CHECK(has_row(out, "remote_hitm ", "0x4d3 "));
	CHECK(has_row(out, "dram_local ", " not tried "));
	free(out);
}

static void child_checks_user(void)
{
	char path[] = "/tmp/nl_cmd_events_XXXXXX";
	int fd = mkstemp(path);
	const char *argv[] = { "events", "--pmu=icx", "--perf.config", path,
			 "--no-open", NULL };
	char *out = NULL;
	FILE *fp;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	fp = fdopen(fd, "w");
	fputs("[thread]\ndram_local = icx::OCR:READS_TO_CORE_LOCAL_DRAM\n"
	      "bogus = icx::NO_SUCH_EVENT\n", fp);
	fclose(fp);
	CHECK_EQ_INT(run(&out, 5, argv), 0);
	unlink(path);
	if (!out)
		return;
	CHECK(has_row(out, "dram_local ", "0x1b7 "));
	CHECK(has_row(out, "dram_local ", "0x104000477"));
	CHECK(has_row(out, "dram_local ", "(user)"));
	CHECK(has_row(out, "bogus ", "cannot encode"));
	free(out);
}

/* --perf.host-mode: cycles and instructions once more, guest-only (H = 1)
 * and host-only (g = 1), with the base event's encoding (zen3, whose
 * events libpfm4 encodes with exclude_hv). */
static void child_checks_host_mode(void)
{
	const char *argv[] = { "events", "--pmu", "zen3", "--no-open", "--perf.host-mode", NULL };
	char *out = NULL;

	CHECK_EQ_INT(run(&out, 5, argv), 0);
	if (!out)
		return;
	CHECK(has_row(out, "cycles_guest ", " 0,0,1,0,1 "));
	CHECK(has_row(out, "cycles_host ", " 0,0,1,1,0 "));
	CHECK(has_row(out, "instructions_guest ", " 0,0,1,0,1 "));
	CHECK(has_row(out, "instructions_host ", " 0,0,1,1,0 "));
	CHECK(has_row(out, "cycles ", " 0,0,1,0,0 "));
	free(out);
}

static void test_other_models(void)
{
	nl_t_in_child(child_checks_host_mode);
	nl_t_in_child(child_checks_skx);
	nl_t_in_child(child_checks_emr);
	nl_t_in_child(child_checks_user);
}

static void test_this_host(void)
{
	const char *argv[] = { "events", NULL };
	char *out = NULL;

	CHECK_EQ_INT(run(&out, 1, argv), 0);
	if (!out)
		return;
	CHECK(strstr(out, "\ncatalog:   ") != NULL);
	CHECK(strstr(out, "(chosen with --pmu)") == NULL);
	CHECK(has_row(out, "task_clock ", " yes "));
	CHECK(has_row(out, "page_faults ", " yes "));
	free(out);
}

static void test_usage(void)
{
	const char *list[] = { "events", "--list", NULL };
	const char *bad[] = { "events", "--bogus", NULL };
	const char *nopmu[] = { "events", "--pmu", "nosuchpmu", NULL };
	const char *noval[] = { "events", "--pmu", NULL };
	const char *help[] = { "events", "--help", NULL };
	char *out = NULL;

	CHECK_EQ_INT(run(&out, 2, list), 0);
	CHECK(out && has_row(out, "zen4 ", "amd64_fam19h_zen4"));
	CHECK(out && has_row(out, "generic ", NULL));
	free(out);
	CHECK_EQ_INT(run(&out, 2, bad), 2);
	free(out);
	CHECK_EQ_INT(run(&out, 3, nopmu), 2);
	free(out);
	CHECK_EQ_INT(run(&out, 2, noval), 2);
	free(out);
	CHECK_EQ_INT(run(&out, 2, help), 0);
	CHECK(out && strstr(out, "usage: numalens events") != NULL);
	free(out);
}

NL_TEST_MAIN(NL_T(test_other_models), NL_T(test_this_host), NL_T(test_usage))
