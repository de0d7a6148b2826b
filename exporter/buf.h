/* A growable, always NUL-terminated byte buffer for encoders, and the
 * formatting every encoder shares: numbers (Prometheus text, JSON) and the
 * UTF-8 checks that keep invalid bytes out of their output.
 *
 * Appends never fail loudly: the first allocation failure is remembered in
 * `err` (-ENOMEM) and later appends become no-ops, so an encoder writes its
 * whole output and checks once at the end (like ferror() on a FILE). */
#ifndef NL_BUF_H
#define NL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct nl_buf {
	char *data;     /* NULL until the first append; then NUL-terminated */
	size_t len;     /* bytes used, without the terminating NUL */
	size_t cap;     /* bytes allocated */
	int err;        /* 0, or -ENOMEM once an append failed */
};

void nl_buf_init(struct nl_buf *b);
/* Free the storage and reset to the initial state. Accepts NULL. */
void nl_buf_free(struct nl_buf *b);
/* Forget the contents (and a remembered error), keep the storage. */
void nl_buf_reset(struct nl_buf *b);
/* Make room for `extra` more bytes. Return 0 or -ENOMEM (sticky). */
int nl_buf_reserve(struct nl_buf *b, size_t extra);
int nl_buf_add(struct nl_buf *b, const void *p, size_t n);
int nl_buf_puts(struct nl_buf *b, const char *s);
int nl_buf_putc(struct nl_buf *b, char c);
int nl_buf_printf(struct nl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hand the storage to the caller (free() it), leaving `b` empty. Returns
 * NULL when nothing was ever appended or an append failed. */
char *nl_buf_detach(struct nl_buf *b, size_t *len);

/* ---- shared formatting ---- */

/* Append `v` as the shortest decimal that reads back as the same double
 * ("0.1", not "0.10000000000000001"); NaN and the infinities as "NaN",
 * "+Inf" and "-Inf" (the Prometheus spelling: JSON writers check
 * isfinite() first, JSON has no such numbers). */
void nl_buf_put_double(struct nl_buf *b, double v);

/* Length (1 to 4) of the valid UTF-8 sequence that NUL-terminated `p`
 * starts with, or 0 when it starts none: a stray continuation byte, an
 * overlong form, a surrogate, a code point above U+10FFFF, or a sequence
 * cut short. Encoders replace such a byte with U+FFFD and go on. */
size_t nl_buf_utf8_len(const char *p);
/* Is all of NUL-terminated `s` valid UTF-8? */
bool nl_buf_utf8_valid(const char *s);

#endif
