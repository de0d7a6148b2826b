#include "buf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nl_buf_init(struct nl_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void nl_buf_free(struct nl_buf *b)
{
	if (!b)
		return;
	free(b->data);
	nl_buf_init(b);
}

void nl_buf_reset(struct nl_buf *b)
{
	b->len = 0;
	b->err = 0;
	if (b->data)
		b->data[0] = '\0';
}

int nl_buf_reserve(struct nl_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->err)
		return b->err;
	if (extra > SIZE_MAX - b->len - 1) {
		b->err = -ENOMEM;
		return b->err;
	}
	need = b->len + extra + 1;   /* room for the NUL */
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int nl_buf_add(struct nl_buf *b, const void *p, size_t n)
{
	int ret = nl_buf_reserve(b, n);

	if (ret)
		return ret;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int nl_buf_puts(struct nl_buf *b, const char *s)
{
	return nl_buf_add(b, s, strlen(s));
}

int nl_buf_putc(struct nl_buf *b, char c)
{
	return nl_buf_add(b, &c, 1);
}

int nl_buf_printf(struct nl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, ret;

	if (b->err)
		return b->err;
	/* Try in the space we have; on overflow grow to the exact size and
	 * format again. */
	va_start(ap, fmt);
	n = vsnprintf(b->data ? b->data + b->len : NULL,
		      b->data ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (b->data)
			b->data[b->len] = '\0';
		return -EINVAL;
	}
	if (b->data && (size_t)n < b->cap - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	ret = nl_buf_reserve(b, (size_t)n);
	if (ret) {
		if (b->data)
			b->data[b->len] = '\0';
		return ret;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *nl_buf_detach(struct nl_buf *b, size_t *len)
{
	char *p = NULL;

	if (!b->err && b->data) {
		p = b->data;
		if (len)
			*len = b->len;
		b->data = NULL;
	} else if (len) {
		*len = 0;
	}
	nl_buf_free(b);
	return p;
}

/* ---- shared formatting ---- */

void nl_buf_put_double(struct nl_buf *b, double v)
{
	char tmp[40];

	if (isnan(v)) {
		nl_buf_puts(b, "NaN");
		return;
	}
	if (isinf(v)) {
		nl_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* shortest of %.15g..%.17g that reads back exactly: 0.1 stays "0.1" */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	nl_buf_puts(b, tmp);
}

size_t nl_buf_utf8_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* overlongs, surrogates and > U+10FFFF show in the second byte */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	/* a NUL fails this test too, so a cut sequence never reads past it */
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

bool nl_buf_utf8_valid(const char *s)
{
	while (*s) {
		size_t n = nl_buf_utf8_len(s);

		if (!n)
			return false;
		s += n;
	}
	return true;
}
