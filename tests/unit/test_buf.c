/* The encoders' buffer and the formatting they share: sticky errors,
 * printf growth, detach, the shortest round-trip doubles and the UTF-8
 * checks (prom.c and pbjson.c both rely on them). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "harness.h"

static void test_grow_and_detach(void)
{
	struct nl_buf b;
	char *p;
	size_t len = 99;

	nl_buf_init(&b);
	CHECK(nl_buf_detach(&b, &len) == NULL);   /* nothing appended */
	CHECK_EQ_INT(len, 0);
	for (int i = 0; i < 2000; i++)               /* past the first 4 KiB */
		CHECK_EQ_INT(nl_buf_printf(&b, "%04d,", i), 0);
	CHECK_EQ_INT(b.len, 2000 * 5);
	CHECK(strncmp(b.data + 5 * 1999, "1999,", 5) == 0);
	CHECK_EQ_INT(b.data[b.len], '\0');
	nl_buf_reset(&b);
	CHECK_EQ_INT(b.len, 0);
	CHECK_STR(b.data, "");
	nl_buf_puts(&b, "ab");
	nl_buf_putc(&b, 'c');
	nl_buf_add(&b, "dXX", 1);
	p = nl_buf_detach(&b, &len);
	CHECK_STR(p, "abcd");
	CHECK_EQ_INT(len, 4);
	CHECK(b.data == NULL && b.len == 0);
	free(p);
	nl_buf_free(NULL);
}

static void test_sticky_error(void)
{
	struct nl_buf b;

	nl_buf_init(&b);
	nl_buf_puts(&b, "x");
	CHECK_EQ_INT(nl_buf_reserve(&b, (size_t)-1), -ENOMEM);
	CHECK_EQ_INT(nl_buf_puts(&b, "more"), -ENOMEM);   /* sticky */
	CHECK(nl_buf_detach(&b, NULL) == NULL);
	CHECK(b.data == NULL);
}

static void test_put_double(void)
{
	static const struct { double v; const char *want; } cases[] = {
		{ 0.1, "0.1" }, { 1, "1" }, { 0, "0" }, { -2.5, "-2.5" },
		{ 1e300, "1e+300" }, { 123456789012.0, "123456789012" },
		{ NAN, "NaN" }, { INFINITY, "+Inf" }, { -INFINITY, "-Inf" },
	};
	struct nl_buf b;

	nl_buf_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nl_buf_reset(&b);
		nl_buf_put_double(&b, cases[i].v);
		CHECK_STR(b.data, cases[i].want);
	}
	/* the shortest form that still reads back as the same double */
	for (double v = 1.0 / 3; v < 1e20; v *= 7.77) {
		nl_buf_reset(&b);
		nl_buf_put_double(&b, v);
		CHECK(b.data && strtod(b.data, NULL) == v);
	}
	nl_buf_free(&b);
}

static void test_utf8(void)
{
	static const struct { const char *s; size_t len; } cases[] = {
		{ "a", 1 }, { "\x7f", 1 },
		{ "\xc3\xa9", 2 },                  /* é */
		{ "\xe2\x82\xac", 3 },              /* € */
		{ "\xf0\x9f\x98\x80", 4 },          /* an emoji */
		{ "\xf4\x8f\xbf\xbf", 4 },          /* U+10FFFF, the last */
		{ "\x80", 0 },                      /* stray continuation */
		{ "\xc0\xaf", 0 }, { "\xc1\xbf", 0 },  /* overlong 2-byte */
		{ "\xe0\x80\xaf", 0 },              /* overlong 3-byte */
		{ "\xf0\x80\x80\xaf", 0 },          /* overlong 4-byte */
		{ "\xed\xa0\x80", 0 },              /* surrogate */
		{ "\xf4\x90\x80\x80", 0 },          /* above U+10FFFF */
		{ "\xf5\x80\x80\x80", 0 }, { "\xff", 0 },
		{ "\xe2\x82", 0 }, { "\xf0\x9f\x98", 0 },  /* cut short at the NUL */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = nl_buf_utf8_len(cases[i].s);

		if (got != cases[i].len)
			fprintf(stderr, "  case %zu\n", i);
		CHECK_EQ_INT(got, cases[i].len);
	}
	CHECK(nl_buf_utf8_valid(""));
	CHECK(nl_buf_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	CHECK(!nl_buf_utf8_valid("caf\xc3"));
	CHECK(!nl_buf_utf8_valid("ok\xffok"));
}

NL_TEST_MAIN(NL_T(test_grow_and_detach), NL_T(test_sticky_error),
	     NL_T(test_put_double), NL_T(test_utf8))
