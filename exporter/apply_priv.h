/* Internals of `numalens apply`, for tests/unit/test_api.c. */
#ifndef NL_APPLY_PRIV_H
#define NL_APPLY_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "buf.h"

struct nl_url {
	char host[256];        /* without brackets */
	char port[8];
	char path[1024];       /* prefix without a trailing '/', may be "" */
};

/* Parse "http://host[:port][/prefix]" (host may be "[v6]"). Return 0 or
 * -EINVAL (also for https: no TLS here). */
int nl_apply_parse_url(const char *s, struct nl_url *u);

/* Split a raw HTTP/1.1 response: status, Content-Type (into ctype), body
 * (Content-Length, chunked or up to the end). Return 0 or -EPROTO. */
int nl_apply_parse_response(const char *raw, size_t len, int *status,
			    char *ctype, size_t ctlen, struct nl_buf *body);

/* move_pages(2) of up to `bytes` of process pid's guest RAM (private,
 * writable, anonymous mappings of at least 2 MiB) from node `from` to node
 * `to`; with !yes only counts. *found: bytes seen on `from` (up to
 * `bytes`), *moved: bytes that moved. Return 0 or -errno. */
int nl_apply_move_pages(int pid, int from, int to, uint64_t bytes, bool yes,
			uint64_t *found, uint64_t *moved);

/* Percent-encode a query value. */
void nl_apply_urlencode(const char *s, struct nl_buf *out);

#endif
