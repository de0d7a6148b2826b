/* A growable, always NUL-terminated byte buffer for encoders.
 *
 * Appends never fail loudly: the first allocation failure is remembered in
 * `err` (-ENOMEM) and later appends become no-ops, so an encoder writes its
 * whole output and checks once at the end (like ferror() on a FILE). */
#ifndef NL_BUF_H
#define NL_BUF_H

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

#endif
