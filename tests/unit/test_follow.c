/* `numalens apply --follow` (exporter/cmd/follow.c), its logic: the set of
 * applied hint ids in memory and in a --state file (applied vs shown by a
 * dry run, a file from an earlier run, junk lines), the backoff while the
 * server is away, and which hints of a list are applied in which order.
 * The whole follower against real daemons: tests/clients/run.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/apply_priv.h"
#include "harness.h"

/* ---- the id set ---- */

static void test_ids(void)
{
	struct nl_follow_ids *s = nl_follow_ids_new(false);
	char id[32];

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(!nl_follow_ids_has(s, "a1"));
	CHECK_EQ_INT(nl_follow_ids_add(s, "a1", NULL), 0);
	CHECK(nl_follow_ids_has(s, "a1"));
	CHECK_EQ_INT(nl_follow_ids_add(s, "a1", NULL), -EEXIST);
	CHECK_EQ_INT(nl_follow_ids_count(s), 1);
	/* not ids: nothing to compare a later answer with */
	CHECK_EQ_INT(nl_follow_ids_add(s, "", NULL), -EINVAL);
	CHECK_EQ_INT(nl_follow_ids_add(s, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(nl_follow_ids_add(s, "a b", NULL), -EINVAL);
	CHECK_EQ_INT(nl_follow_ids_add(s, "a\n", NULL), -EINVAL);
	CHECK_EQ_INT(nl_follow_ids_add(s, "0123456789012345678901234567890123456789012345678901234567890123x",
				       NULL), -EINVAL);
	/* many, in an order that is not sorted: each found, none twice */
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "%016x", (unsigned)(i * 7919) % 1000u);
		CHECK_EQ_INT(nl_follow_ids_add(s, id, NULL), 0);
	}
	CHECK_EQ_INT(nl_follow_ids_count(s), 1001);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "%016x", (unsigned)i);
		CHECK(nl_follow_ids_has(s, id));
		CHECK_EQ_INT(nl_follow_ids_add(s, id, NULL), -EEXIST);
	}
	CHECK(!nl_follow_ids_has(s, "00000000000003e8"));
	CHECK(!nl_follow_ids_has(s, "a"));
	CHECK(!nl_follow_ids_has(s, "a10"));
	nl_follow_ids_free(s);
	nl_follow_ids_free(NULL);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static void test_state_file(void)
{
	char dir[] = "/tmp/nl-follow-XXXXXX", path[64], *text;
	struct nl_follow_ids *s;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/applied", dir);
	/* a new file: created with its header, each id appended with its note */
	s = nl_follow_ids_new(false);
	CHECK_EQ_INT(nl_follow_ids_open(s, path), 0);
	CHECK_EQ_INT(nl_follow_ids_add(s, "aaaa", "migrate_memory beta"), 0);
	CHECK_EQ_INT(nl_follow_ids_add(s, "bbbb", "pin_vcpus alpha"), 0);
	CHECK_EQ_INT(nl_follow_ids_add(s, "aaaa", "again"), -EEXIST);
	/* on disk before the call returns (the hint is applied after it) */
	text = slurp(path);
	CHECK(!strncmp(text, "# numalens apply --follow:", 26));
	CHECK(strstr(text, "\naaaa applied ") != NULL);
	CHECK(strstr(text, " migrate_memory beta\nbbbb applied ") != NULL);
	CHECK(strstr(text, "again") == NULL);
	nl_follow_ids_free(s);

	/* a dry run reads the applied ids and tags its own "shown" */
	s = nl_follow_ids_new(true);
	CHECK_EQ_INT(nl_follow_ids_open(s, path), 2);
	CHECK(nl_follow_ids_has(s, "aaaa") && nl_follow_ids_has(s, "bbbb"));
	CHECK_EQ_INT(nl_follow_ids_add(s, "cccc", "pin_vcpus gamma"), 0);
	nl_follow_ids_free(s);
	CHECK(strstr(slurp(path), "\ncccc shown ") != NULL);

	/* junk, comments and a blank line are skipped, not fatal */
	f = fopen(path, "a");
	CHECK(f != NULL);
	if (f) {
		fputs("\n# a comment\nlonely\ndddd applied 1 x\neeee frobbed 1 x\n", f);
		fclose(f);
	}
	/* applying: what a dry run only showed is not done, so it still runs */
	s = nl_follow_ids_new(false);
	CHECK_EQ_INT(nl_follow_ids_open(s, path), 3);
	CHECK(nl_follow_ids_has(s, "aaaa") && nl_follow_ids_has(s, "bbbb") &&
	      nl_follow_ids_has(s, "dddd"));
	CHECK(!nl_follow_ids_has(s, "cccc"));
	CHECK(!nl_follow_ids_has(s, "eeee") && !nl_follow_ids_has(s, "lonely"));
	CHECK_EQ_INT(nl_follow_ids_add(s, "cccc", "pin_vcpus gamma"), 0);
	nl_follow_ids_free(s);
	s = nl_follow_ids_new(true);
	CHECK_EQ_INT(nl_follow_ids_open(s, path), 4);
	nl_follow_ids_free(s);

	/* a file that cannot be opened */
	s = nl_follow_ids_new(false);
	snprintf(path, sizeof(path), "%s/no/such/dir", dir);
	CHECK_EQ_INT(nl_follow_ids_open(s, path), -ENOENT);
	CHECK_EQ_INT(nl_follow_ids_add(s, "ffff", NULL), 0);
	nl_follow_ids_free(s);

	snprintf(path, sizeof(path), "%s/applied", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- the backoff ---- */

static void test_backoff(void)
{
	static const double want[] = { 0.5, 1, 2, 4, 8, 16, 30, 30, 30 };

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_NEAR(nl_follow_backoff(0.5, 30, i + 1), want[i], 1e-9);
	/* a failure count that would overflow a shift stays at the cap */
	CHECK_NEAR(nl_follow_backoff(0.5, 30, 4000000000u), 30, 1e-9);
	/* an interval above the cap: the cap */
	CHECK_NEAR(nl_follow_backoff(60, 30, 1), 30, 1e-9);
	CHECK_NEAR(nl_follow_backoff(2, 30, 0), 2, 1e-9);
}

/* ---- which hints, in which order ---- */

static Numalens__V1__Hint hint(const char *id, int step, bool has_step)
{
	Numalens__V1__Hint h = NUMALENS__V1__HINT__INIT;

	h.id = (char *)id;
	h.has_step = has_step;
	h.step = step;
	return h;
}

static void test_pick(void)
{
	Numalens__V1__Hint h[8], *hs[8];
	const Numalens__V1__Hint *out[8];
	struct nl_follow_ids *s = nl_follow_ids_new(false);
	size_t n;

	/* as a server may list them: the beneficiary's hints before the
	 * room-making moves (step 1) made for it */
	h[0] = hint("b-pin", 2, true);
	h[1] = hint("b-mem", 3, true);
	h[2] = hint("r1-move", 1, true);
	h[3] = hint("b-pin", 2, true);    /* the same id twice in one answer */
	h[4] = hint("r2-move", 1, true);
	h[5] = hint("", 1, true);         /* no id: cannot be kept apart */
	h[6] = hint("nostep", 0, false);
	h[7] = hint("done", 1, true);
	for (int i = 0; i < 8; i++)
		hs[i] = &h[i];
	nl_follow_ids_add(s, "done", NULL);
	n = nl_follow_pick(hs, 8, s, out);
	CHECK_EQ_INT(n, 5);
	if (n == 5) {
		CHECK_STR(out[0]->id, "nostep");
		CHECK_STR(out[1]->id, "r1-move");
		CHECK_STR(out[2]->id, "r2-move");
		CHECK_STR(out[3]->id, "b-pin");
		CHECK_STR(out[4]->id, "b-mem");
	}
	/* once applied, a hint is never picked again */
	for (size_t i = 0; i < n; i++)
		nl_follow_ids_add(s, out[i]->id, NULL);
	CHECK_EQ_INT(nl_follow_pick(hs, 8, s, out), 0);
	CHECK_EQ_INT(nl_follow_pick(hs, 0, s, out), 0);
	nl_follow_ids_free(s);
}

NL_TEST_MAIN(NL_T(test_ids),
	     NL_T(test_state_file),
	     NL_T(test_backoff),
	     NL_T(test_pick))
