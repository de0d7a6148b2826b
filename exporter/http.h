/* The HTTP server (libmicrohttpd): /metrics, a landing page, /healthz, and
 * the /api/v1 API (api.c answers; this file collects the request).
 * It reads snapshots through a small source interface so tests can serve a
 * hand-made snapshot without a sampler. */
#ifndef NL_HTTP_H
#define NL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"

struct nl_arrivals;

struct nl_http_source {
	/* Newest snapshot with a reference held, or NULL when there is none
	 * yet. Called from HTTP threads: must be thread-safe. */
	struct nl_snapshot *(*get)(void *arg);
	/* Release a snapshot returned by get(). */
	void (*put)(void *arg, struct nl_snapshot *snap);
	void *arg;
	/* The sample interval in seconds: /healthz fails when the snapshot is
	 * older than 3 intervals + 10 s. */
	double interval;
	/* The arrival registry /api/v1/arrivals writes (NULL: none, those
	 * endpoints answer 503), and a way to make the sampler run a cycle now
	 * after it changed (called with arg; NULL: the next cycle comes when it
	 * comes). */
	struct nl_arrivals *arrivals;
	void (*wake)(void *arg);
};

struct nl_http;

/* What one client, or many, may hold (docs/security.md). Zero fields take
 * the defaults below. */
struct nl_http_limits {
	unsigned request_seconds;     /* headers and body must be in within this
					 (10); a kept-alive connection must have
					 its next request in within idle_seconds */
	unsigned idle_seconds;        /* no byte moved for this long: closed (30) */
	unsigned per_ip;              /* connections from one address (16) */
	unsigned total;               /* connections in all (1024) */
	unsigned max_requests;        /* requests being answered at once; more
					 get 503 (40, as node_exporter; 0 in
					 max_requests_set: no limit) */
	bool max_requests_set;        /* max_requests given (0 is "no limit") */
	size_t memory_per_connection; /* MHD's pool per connection (32 KiB) */
};

#define NL_HTTP_REQUEST_SECONDS 10u
#define NL_HTTP_IDLE_SECONDS 30u
#define NL_HTTP_PER_IP 16u
#define NL_HTTP_TOTAL 1024u
#define NL_HTTP_MAX_REQUESTS 40u
#define NL_HTTP_MEMORY (32u * 1024u)

/* Listen on `listen` (":9808" = every address, IPv6 and IPv4;
 * "127.0.0.1:9808"; "[::1]:9808"; "host:port"; port 0 picks a free port)
 * and serve `telemetry_path` (must start with '/'). The source is copied.
 * Returns NULL with errno set and the reason logged on failure (e.g.
 * EADDRINUSE, EINVAL for a malformed address). */
struct nl_http *nl_http_start(const char *listen, const char *telemetry_path,
			      const struct nl_http_source *src);
/* The same with limits (NULL: the defaults). */
struct nl_http *nl_http_start_limits(const char *listen, const char *telemetry_path,
				     const struct nl_http_source *src,
				     const struct nl_http_limits *limits);
#define NL_HTTP_MAX_LISTEN 8

/* Everything the server is started with. */
struct nl_http_opts {
	const char *const *listen;    /* addresses as for nl_http_start */
	size_t nlisten;
	bool systemd_socket;          /* also serve the sockets systemd passed
					 (LISTEN_FDS: --web.systemd-socket) */
	const char *telemetry_path;
	const struct nl_http_limits *limits;   /* NULL: defaults */
	const char *web_config_file;  /* exporter-toolkit format (webconfig.h);
					 NULL: plain HTTP, no auth */
	unsigned reload_seconds;      /* how often the file and the files it
					 names are checked for changes (1) */
};

/* Start serving. A bad web config file is an error (logged, naming the
 * key; errno EINVAL). Changes to it later are picked up within
 * reload_seconds; a bad change is logged and the config in use stays. */
struct nl_http *nl_http_start_opts(const struct nl_http_opts *o,
				   const struct nl_http_source *src);
/* Successful reloads of the web config since start; *failures (if not
 * NULL) the changes that did not load. */
unsigned long nl_http_reloads(const struct nl_http *h, unsigned long *failures);

/* Connections closed because their request was not in by the deadline, and
 * requests refused with 503 over max_requests, since start. */
unsigned long nl_http_deadline_closed(const struct nl_http *h);
unsigned long nl_http_refused(const struct nl_http *h);
/* Stop serving (waits for running requests) and free. Accepts NULL. */
void nl_http_stop(struct nl_http *h);
/* The TCP port actually bound (useful with port 0). */
int nl_http_port(const struct nl_http *h);

#endif
