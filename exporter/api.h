/* The /api/v1 HTTP API: hints, VMs, profiles, placement, arrivals
 * (docs/api.md).
 *
 * HTTP-library free: http.c collects the method, path, headers, query
 * arguments and body of a request and calls nl_api_handle_env(), which
 * answers from one snapshot and the arrival registry. Every answer is
 * built as one protobuf-c message tree (exporter/numalens.proto) and
 * written as JSON (default) or protobuf. */
#ifndef NL_API_H
#define NL_API_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "snapshot.h"

#define NL_API_PREFIX "/api/v1/"
/* Largest request body accepted (413 above). A profile is a few KiB. */
#define NL_API_MAX_BODY (256u * 1024u)

/* Query arguments kept per request (400 above). */
#define NL_API_MAX_ARGS 16

#define NL_API_JSON "application/json"
#define NL_API_PROTOBUF "application/x-protobuf"

struct nl_api_arg {
	const char *key;
	const char *value;         /* NULL for "?key" without '=' */
};

struct nl_api_request {
	const char *method;        /* "GET", "HEAD", "POST", ... */
	const char *path;          /* decoded URL path */
	const char *accept;        /* Accept header or NULL */
	const char *content_type;  /* Content-Type header or NULL */
	const struct nl_api_arg *args;
	size_t nargs;
	const char *body;
	size_t body_len;
	bool body_too_large;       /* more than NL_API_MAX_BODY was sent */
	bool args_overflow;        /* more query arguments than http.c keeps: 400 */
	const char *reject;        /* set: answer 400 with this message */
};

struct nl_api_reply {
	unsigned status;
	char content_type[96];
	const char *allow;         /* Allow header for 405, else NULL */
	struct nl_buf body;
};

struct nl_arrivals;

/* What a request is answered from. */
struct nl_api_env {
	const struct nl_snapshot *snap;  /* NULL before the first snapshot: 503 */
	struct nl_arrivals *arrivals;    /* NULL: /api/v1/arrivals answers 503 */
	/* Called after an arrival was registered or withdrawn, so that the
	 * engine's next cycle (with the room-making hints) runs now; or NULL. */
	void (*wake)(void *arg);
	void *wake_arg;
	double now;                      /* wall clock; 0: read the clock */
};

/* Answer `rq` from env. Fills *rp with any status; returns 0, or -ENOMEM
 * when not even an error answer could be built. */
int nl_api_handle_env(const struct nl_api_env *env, const struct nl_api_request *rq,
		      struct nl_api_reply *rp);
/* The same from `snap` alone, without an arrival registry. */
int nl_api_handle(const struct nl_snapshot *snap, const struct nl_api_request *rq,
		  struct nl_api_reply *rp);

#endif
