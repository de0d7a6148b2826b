/* log.c: logfmt lines that no message can break or forge. */
#include "harness.h"

#include <stdlib.h>

#include "log.h"

static void test_escape_plain(void)
{
	char out[64];

	CHECK_EQ_INT(nl_log_escape(out, sizeof(out), "vm guest1 started"), 17);
	CHECK_STR(out, "vm guest1 started");
}

static void test_escape_quote_newline(void)
{
	char out[128];

	nl_log_escape(out, sizeof(out), "vm \"a\"\nts=x level=error msg=\"forged\"");
	CHECK_STR(out, "vm \\\"a\\\"\\nts=x level=error msg=\\\"forged\\\"");
	CHECK(!strchr(out, '\n'));
	nl_log_escape(out, sizeof(out), "back\\slash\ttab\rcr\x1b[31m\x7f");
	CHECK_STR(out, "back\\\\slash\\ttab\\rcr\\x1b[31m\\x7f");
}

/* an escape is never cut in half by a short buffer */
static void test_escape_truncation(void)
{
	char out[6];

	CHECK_EQ_INT(nl_log_escape(out, sizeof(out), "abcd\x01"), 4);
	CHECK_STR(out, "abcd");
	CHECK_EQ_INT(nl_log_escape(out, sizeof(out), "abcd\"e"), 4);
	CHECK_STR(out, "abcd");
	CHECK_EQ_INT(nl_log_escape(out, 1, "abc"), 0);
	CHECK_STR(out, "");
}

/* the line itself: one line, the message quoted */
static void test_line(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f != NULL);
	if (!f)
		return;
	nl_log_set_stream(f);
	nl_warn("vm %s gone", "x\"\nts=2026 level=error msg=\"root");
	nl_log_set_stream(NULL);
	fclose(f);
	CHECK(buf && strchr(buf, '\n') == buf + len - 1);
	CHECK(buf && strstr(buf, " level=warn msg=\"vm x\\\"\\nts=2026 level=error msg=\\\"root gone\"\n"));
	free(buf);
}

NL_TEST_MAIN(NL_T(test_escape_plain), NL_T(test_escape_quote_newline),
	     NL_T(test_escape_truncation), NL_T(test_line))
