/* HTTP front end on libmicrohttpd.
 *
 * Threading: one internal polling thread per pool worker, pool of 2
 * (MHD_OPTION_THREAD_POOL_SIZE). Every response is built completely in
 * memory before it is queued, so a handler never waits on a client; two
 * workers keep /healthz answering while the other encodes a large /metrics,
 * and unlike thread-per-connection the thread count stays bounded whatever
 * clients do.
 *
 * Slow and many clients (struct nl_http_limits): MHD's own timeout is an
 * idle timeout (a byte every 20 s keeps a connection forever), so a reaper
 * thread also gives every request an absolute deadline: a new connection's
 * headers and body must be in within request_seconds, and a kept-alive
 * connection's next request within idle_seconds of the last answer. It
 * shuts such a connection's socket down; MHD then closes it. MHD limits
 * connections per address and in all, and each one's memory; more than
 * max_requests requests being answered at once get 503, as node_exporter's
 * --web.max-requests. A path or query value that decodes to a NUL or
 * another control byte gets 400 (a %00 would otherwise cut it short).
 *
 * We create the listening socket ourselves (MHD_OPTION_LISTEN_SOCKET) so a
 * bind failure comes back with its errno and a clear message, and so ":port"
 * can be one dual-stack socket. */
#include "http.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "api.h"
#include "buf.h"
#include "log.h"
#include "prom.h"
#include "webauth.h"
#include "webconfig.h"


#define HTTP_POOL_THREADS 2u
#define TEXT_PLAIN "text/plain; charset=utf-8"

enum conn_phase {
	C_RECEIVING,   /* a request is coming in: deadline applies */
	C_ANSWERING,   /* a handler runs or the answer is being sent */
	C_KEPT,        /* kept alive, waiting for the next request: deadline */
	C_CLOSING,     /* shut down by the reaper */
};

/* One per connection (MHD's socket context), on the list the reaper walks. */
struct conn {
	struct conn *prev, *next;
	int fd;
	enum conn_phase phase;
	uint64_t deadline_ns;          /* CLOCK_MONOTONIC */
	bool bad_url;                  /* the path or a query value decoded to a control byte */
};

/* One listening socket (ours, or systemd's) and the daemon serving it. */
struct listener {
	int fd;
	bool v6, dual;
	int port;
	char name[128];
	struct MHD_Daemon *d;
};

/* What the running daemons were started with (copies: MHD keeps pointers). */
struct tls_mat {
	bool on;
	char *cert, *key, *ca, *prio;
};

struct nl_http {
	struct listener lst[NL_HTTP_MAX_LISTEN];
	size_t nlst;
	struct tls_mat tls;
	struct nl_webauth *auth;       /* basic auth, client certs, headers */
	char *webcfg_path;             /* --web.config.file, or NULL */
	char *watch[3];                /* the files it names: cert, key, CA */
	struct nl_webcfg_stamp stamp;
	unsigned reload_seconds;
	uint64_t next_reload_ns;
	atomic_ulong reloads, reload_failures;
	struct nl_http_source src;
	char *telemetry_path;
	int port;
	struct nl_http_limits lim;
	pthread_mutex_t lock;          /* conns, stop */
	pthread_cond_t wake;
	struct conn *conns;
	bool stop, reaper_started;
	pthread_t reaper;
	atomic_uint inflight;
	atomic_ulong deadline_closed, refused, auth_refused;
	struct nl_complaint slow_complaint, busy_complaint, auth_complaint;
};

enum {
	M_GET = 1u << 0,
	M_HEAD = 1u << 1,
	M_POST = 1u << 2,
	M_DELETE = 1u << 3,
};

static const struct {
	unsigned bit;
	const char *name;
} methods[] = {
	{ M_GET, "GET" },
	{ M_HEAD, "HEAD" },
	{ M_POST, "POST" },
	{ M_DELETE, "DELETE" },
};

struct reply {
	unsigned status;
	const char *content_type;
	struct nl_buf body;
	char ctype[96];                /* storage for content_type */
	const char *allow;             /* Allow header of a handler's 405 */
};

struct request {
	struct MHD_Connection *conn;   /* for query arguments, later */
	const char *url;
	unsigned method;
	const char *method_name;
	const char *body;              /* request body (API routes), or NULL */
	size_t body_len;
	bool body_too_large;           /* more than NL_API_MAX_BODY was sent */
	const char *reject;            /* answer 400 with this, in the API's form */
};

/* The request body of an API route, collected across MHD calls (*con_cls);
 * freed by on_completed(). */
struct body {
	struct nl_buf buf;
	bool too_large;
};

/* *con_cls of a routed request that reads no body */
static int request_seen;

typedef int (*route_fn)(struct nl_http *h, const struct request *rq,
			struct reply *rp);

struct route {
	const char *path;    /* NULL: the configured --web.telemetry-path */
	bool prefix;         /* match every path below `path` */
	unsigned methods;
	route_fn handler;
};

static int h_metrics(struct nl_http *h, const struct request *rq,
		     struct reply *rp);
static int h_landing(struct nl_http *h, const struct request *rq,
		     struct reply *rp);
static int h_healthz(struct nl_http *h, const struct request *rq,
		     struct reply *rp);
static int h_api(struct nl_http *h, const struct request *rq,
		 struct reply *rp);
static bool admit(struct nl_http *h);
static void maybe_reload(struct nl_http *h);

/* First match wins, so the telemetry path shadows any fixed route. */
static const struct route routes[] = {
	{ NULL, false, M_GET | M_HEAD, h_metrics },
	{ "/", false, M_GET | M_HEAD, h_landing },
	{ "/healthz", false, M_GET | M_HEAD, h_healthz },
	{ NL_API_PREFIX, true, M_GET | M_HEAD | M_POST | M_DELETE, h_api },
};

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void conn_phase(struct nl_http *h, struct conn *cn, enum conn_phase ph,
		       unsigned seconds)
{
	if (!cn)
		return;
	pthread_mutex_lock(&h->lock);
	if (cn->phase != C_CLOSING) {
		cn->phase = ph;
		if (seconds)
			cn->deadline_ns = mono_ns() + (uint64_t)seconds * 1000000000u;
	}
	pthread_mutex_unlock(&h->lock);
}

static void reply_text(struct reply *rp, unsigned status, const char *text)
{
	rp->status = status;
	rp->content_type = TEXT_PLAIN;
	nl_buf_reset(&rp->body);
	nl_buf_puts(&rp->body, text);
}

static int h_metrics(struct nl_http *h, const struct request *rq,
		     struct reply *rp)
{
	struct nl_snapshot *snap = h->src.get(h->src.arg);
	int ret;

	(void)rq;
	/* Serving build info alone would look like a host without VMs; an
	 * error makes Prometheus mark the target down for this scrape. */
	if (!snap) {
		reply_text(rp, MHD_HTTP_SERVICE_UNAVAILABLE,
			   "no snapshot yet: the first sample cycle has not finished\n");
		return 0;
	}
	ret = nl_prom_encode(snap, wall_now(), &rp->body);
	h->src.put(h->src.arg, snap);
	if (ret)
		return ret;
	rp->status = MHD_HTTP_OK;
	rp->content_type = NL_PROM_CONTENT_TYPE;
	return 0;
}

static int h_healthz(struct nl_http *h, const struct request *rq,
		     struct reply *rp)
{
	struct nl_snapshot *snap = h->src.get(h->src.arg);
	double limit = 3 * h->src.interval + 10, age;

	(void)rq;
	if (!snap) {
		reply_text(rp, MHD_HTTP_SERVICE_UNAVAILABLE,
			   "no snapshot yet: the first sample cycle has not finished\n");
		return 0;
	}
	/* the monotonic clock: a wall-clock step (NTP, a suspended host)
	 * neither fails a fresh snapshot nor passes a stuck one */
	age = snap->mono_ns ? (double)(mono_ns() - snap->mono_ns) / 1e9 :
	      wall_now() - snap->timestamp;
	h->src.put(h->src.arg, snap);
	if (age > limit) {
		rp->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		rp->content_type = TEXT_PLAIN;
		nl_buf_printf(&rp->body,
			      "stale: newest snapshot is %.1f s old (limit %.1f s); the sampler is stuck or too slow\n",
			      age, limit);
		return 0;
	}
	reply_text(rp, MHD_HTTP_OK, "ok\n");
	return 0;
}

static void html_escape(struct nl_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': nl_buf_puts(b, "&amp;"); break;
		case '<': nl_buf_puts(b, "&lt;"); break;
		case '>': nl_buf_puts(b, "&gt;"); break;
		case '"': nl_buf_puts(b, "&quot;"); break;
		case '\'': nl_buf_puts(b, "&#39;"); break;
		default: nl_buf_putc(b, *s); break;
		}
	}
}

static int cmp_vm_name(const void *a, const void *b)
{
	const struct nl_vm_snap *x = *(const struct nl_vm_snap *const *)a;
	const struct nl_vm_snap *y = *(const struct nl_vm_snap *const *)b;

	return strcmp(x->name, y->name);
}

static void landing_vms(struct nl_buf *b, const struct nl_snapshot *snap,
			const struct nl_vm_snap **order)
{
	nl_buf_puts(b, "<table>\n<tr><th>VM</th><th>UUID</th><th>backend</th>"
		       "<th>threads</th><th>placement locality</th></tr>\n");
	for (size_t i = 0; i < snap->nvms; i++) {
		const struct nl_vm_snap *vm = order[i];
		uint32_t count[NL_ROLE_COUNT] = { 0 };
		double loc = vm->locality[NL_ROLE_ALL];

		for (size_t j = 0; j < vm->nseries; j++)
			if (vm->series[j].role < NL_ROLE_COUNT)
				count[vm->series[j].role] += vm->series[j].nthreads;
		nl_buf_puts(b, "<tr><td>");
		html_escape(b, vm->name);
		nl_buf_puts(b, "</td><td>");
		html_escape(b, vm->uuid);
		nl_buf_printf(b, "</td><td>%s</td><td>", nl_backend_name(vm->backend));
		for (int r = 0; r < NL_ROLE_COUNT; r++)
			nl_buf_printf(b, "%s%s&nbsp;%u", r ? ", " : "",
				      nl_role_name((enum nl_role)r), count[r]);
		if (isnan(loc))
			nl_buf_puts(b, "</td><td>n/a</td></tr>\n");
		else
			nl_buf_printf(b, "</td><td>%.3f</td></tr>\n", loc);
	}
	nl_buf_puts(b, "</table>\n");
}

static int h_landing(struct nl_http *h, const struct request *rq,
		     struct reply *rp)
{
	struct nl_snapshot *snap = h->src.get(h->src.arg);
	const struct nl_vm_snap **order = NULL;
	struct nl_buf *b = &rp->body;
	int ret = 0;

	(void)rq;
	nl_buf_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		       "<title>numalens</title></head>\n<body>\n<h1>numalens</h1>\n");
	nl_buf_puts(b, "<p>NUMA locality exporter for KVM hosts, version ");
	html_escape(b, nl_version);
	nl_buf_puts(b, ".</p>\n<ul><li><a href=\"");
	html_escape(b, h->telemetry_path);
	nl_buf_puts(b, "\">Metrics</a></li><li><a href=\"/healthz\">Health</a></li></ul>\n");
	if (!snap) {
		nl_buf_puts(b, "<p>No snapshot yet: the first sample cycle has not finished.</p>\n");
	} else {
		nl_buf_printf(b, "<h2>Virtual machines (%zu)</h2>\n", snap->nvms);
		if (snap->nvms) {
			order = calloc(snap->nvms, sizeof(*order));
			if (!order) {
				ret = -ENOMEM;
				goto cleanup;
			}
			for (size_t i = 0; i < snap->nvms; i++)
				order[i] = &snap->vms[i];
			qsort(order, snap->nvms, sizeof(*order), cmp_vm_name);
			landing_vms(b, snap, order);
		}
	}
	nl_buf_puts(b, "</body></html>\n");
	rp->status = MHD_HTTP_OK;
	rp->content_type = "text/html; charset=utf-8";

cleanup:
	free(order);
	if (snap)
		h->src.put(h->src.arg, snap);
	return ret;
}

static unsigned method_bit(const char *method)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(method, methods[i].name) == 0)
			return methods[i].bit;
	return 0;
}

static bool route_matches(const struct nl_http *h, const struct route *r,
			  const char *url)
{
	const char *path = r->path ? r->path : h->telemetry_path;

	if (r->prefix)
		return strncmp(url, path, strlen(path)) == 0;
	return strcmp(url, path) == 0;
}

/* Build and queue `rp`. The body's storage moves into the response. */
static enum MHD_Result send_reply(struct nl_http *h, struct MHD_Connection *conn,
				  struct reply *rp, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ok = MHD_NO;
	size_t len = 0;
	char *data = nl_buf_detach(&rp->body, &len);

	if (data)
		resp = MHD_create_response_from_buffer_with_free_callback(
			len, data, free);
	else
		resp = MHD_create_response_from_buffer(0, NULL,
						       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(data);
		goto cleanup;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				    rp->content_type) != MHD_YES ||
	    (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					      allow) != MHD_YES) ||
	    nl_webauth_add_headers(h->auth, resp) < 0)
		goto cleanup;
	if (rp->status == MHD_HTTP_UNAUTHORIZED)
		ok = MHD_queue_basic_auth_fail_response(conn, "numalens", resp);
	else
		ok = MHD_queue_response(conn, rp->status, resp);

cleanup:
	if (resp)
		MHD_destroy_response(resp);
	return ok;
}

static const struct route *find_route(const struct nl_http *h, const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (route_matches(h, &routes[i], url))
			return &routes[i];
	return NULL;
}

/* MHD calls this once when the headers are in, then once per piece of
 * body, then once more with *upload_data_size == 0. A routed request is
 * answered on that last call: a response queued before the request is
 * fully read makes MHD close the connection, and Prometheus keeps its
 * scrape connections alive. 404 and 405 are answered at once, without
 * reading a body nobody wants. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct nl_http *h = cls;
	struct request rq = { conn, url, method_bit(method), method, NULL, 0, false, NULL };
	struct conn *cn = conn_of(conn);
	struct reply rp = { MHD_HTTP_OK, TEXT_PLAIN, { NULL, 0, 0, 0 }, "", NULL };
	const struct route *route = find_route(h, url);
	char allow[64] = "";
	enum MHD_Result ok;
	int ret;

	(void)version;
	if (!*con_cls) {
		const char *why;
		enum nl_auth_verdict v = nl_webauth_check(h->auth, conn, &why);

		/* who is asking comes first, as in exporter-toolkit */
		if (v != NL_AUTH_OK) {
			if (cn)
				cn->bad_url = false;
			if (v == NL_AUTH_LOGIN)
				reply_text(&rp, MHD_HTTP_UNAUTHORIZED, "Unauthorized\n");
			else
				reply_text(&rp, MHD_HTTP_FORBIDDEN, "Forbidden\n");
			atomic_fetch_add(&h->auth_refused, 1);
			pthread_mutex_lock(&h->lock);
			nl_complain(&h->auth_complaint, NL_LOG_WARN,
				    "http: refused %s %s: %s (%lu refused so far)",
				    v == NL_AUTH_LOGIN ? "a login for" : "a client certificate for",
				    route ? "a known path" : "an unknown path", why,
				    atomic_load(&h->auth_refused));
			pthread_mutex_unlock(&h->lock);
			conn_phase(h, cn, C_ANSWERING, 0);
			ok = send_reply(h, conn, &rp, NULL);
			nl_buf_free(&rp.body);
			return ok;
		}
		/* the headers are in: the body has what is left of the deadline */
		if (cn && cn->bad_url) {
			cn->bad_url = false;
			if (route && route->handler == h_api) {
				rq.reject = "the path or a query value holds a NUL or another control byte";
				(void)h_api(h, &rq, &rp);
			} else {
				reply_text(&rp, MHD_HTTP_BAD_REQUEST,
					   "bad request: the path or a query value holds a NUL or another control byte\n");
			}
			conn_phase(h, cn, C_ANSWERING, 0);
			ok = send_reply(h, conn, &rp, NULL);
			nl_buf_free(&rp.body);
			return ok;
		}
	}
	if (!route) {
		reply_text(&rp, MHD_HTTP_NOT_FOUND, "not found\n");
	} else if (!(route->methods & rq.method)) {
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
			if (!(route->methods & methods[i].bit))
				continue;
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, methods[i].name);
		}
		reply_text(&rp, MHD_HTTP_METHOD_NOT_ALLOWED,
			   "method not allowed\n");
	} else if (!*con_cls && !admit(h)) {
		pthread_mutex_lock(&h->lock);
		nl_complain(&h->busy_complaint, NL_LOG_WARN,
			    "http: more than %u requests at once: answering 503 (--web.max-requests; %lu so far)",
			    h->lim.max_requests, atomic_load(&h->refused));
		pthread_mutex_unlock(&h->lock);
		reply_text(&rp, MHD_HTTP_SERVICE_UNAVAILABLE,
			   "too many requests at once (--web.max-requests); try again\n");
	} else if (!*con_cls && route->handler != h_api) {
		*con_cls = &request_seen;
		return MHD_YES;
	} else if (!*con_cls) {
		/* an API request: keep its body, up to NL_API_MAX_BODY. A
		 * Content-Length above that is answered at once (413), without
		 * reading the body */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		struct body *bd = calloc(1, sizeof(*bd));

		if (!bd) {
			atomic_fetch_sub(&h->inflight, 1);
			return MHD_NO;
		}
		*con_cls = bd;
		if (!cl || strtoull(cl, NULL, 10) <= NL_API_MAX_BODY)
			return MHD_YES;
		bd->too_large = true;
		rq.body_too_large = true;
		ret = route->handler(h, &rq, &rp);
		if (ret)
			reply_text(&rp, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	} else if (*upload_data_size) {
		if (*con_cls != &request_seen) {
			struct body *bd = *con_cls;

			if (!bd->too_large && bd->buf.len + *upload_data_size > NL_API_MAX_BODY) {
				bd->too_large = true;
				nl_buf_free(&bd->buf);
			} else if (!bd->too_large) {
				nl_buf_add(&bd->buf, upload_data, *upload_data_size);
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	} else {
		if (*con_cls != &request_seen) {
			struct body *bd = *con_cls;

			rq.body = bd->buf.data;
			rq.body_len = bd->buf.len;
			rq.body_too_large = bd->too_large || bd->buf.err;
		}
		ret = route->handler(h, &rq, &rp);
		if (!ret && rp.body.err)
			ret = rp.body.err;
		if (ret) {
			nl_warn("http: %s %s failed: %s", method, url, strerror(-ret));
			reply_text(&rp, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "internal error\n");
		}
	}
	conn_phase(h, cn, C_ANSWERING, 0);
	ok = send_reply(h, conn, &rp, allow[0] ? allow : rp.allow);
	nl_buf_free(&rp.body);
	return ok;
}

/* One more request being answered, unless max_requests are already. */
static bool admit(struct nl_http *h)
{
	unsigned n = atomic_fetch_add(&h->inflight, 1) + 1;

	if (!h->lim.max_requests || n <= h->lim.max_requests)
		return true;
	atomic_fetch_sub(&h->inflight, 1);
	atomic_fetch_add(&h->refused, 1);
	return false;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct nl_http *h = cls;

	(void)toe;
	if (*con_cls)
		atomic_fetch_sub(&h->inflight, 1);
	if (*con_cls && *con_cls != &request_seen) {
		struct body *bd = *con_cls;

		nl_buf_free(&bd->buf);
		free(bd);
	}
	*con_cls = NULL;
	conn_phase(h, conn_of(conn), C_KEPT, h->lim.idle_seconds);
}

/* MHD_OPTION_NOTIFY_CONNECTION: each connection on the reaper's list. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct nl_http *h = cls;
	struct conn *cn;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		cn = calloc(1, sizeof(*cn));
		*socket_context = cn;
		if (!cn)
			return;   /* served without a deadline; MHD's idle timeout holds */
		cn->fd = ci ? ci->connect_fd : -1;
		cn->phase = C_RECEIVING;
		cn->deadline_ns = mono_ns() + (uint64_t)h->lim.request_seconds * 1000000000u;
		pthread_mutex_lock(&h->lock);
		cn->next = h->conns;
		if (h->conns)
			h->conns->prev = cn;
		h->conns = cn;
		pthread_mutex_unlock(&h->lock);
		return;
	}
	cn = *socket_context;
	if (!cn)
		return;
	pthread_mutex_lock(&h->lock);
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		h->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	pthread_mutex_unlock(&h->lock);
	free(cn);
	*socket_context = NULL;
}

/* MHD_OPTION_UNESCAPE_CALLBACK: decode as MHD does, and remember a path or
 * value that decodes to a control byte (answered 400 in on_request). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *uri)
{
	size_t n = MHD_http_unescape(uri);
	struct conn *cn;

	(void)cls;
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)uri[i];

		if (b < 0x20 || b == 0x7f) {
			if ((cn = conn_of(c)))
				cn->bad_url = true;
			break;
		}
	}
	return n;
}

/* Shut down each connection past its deadline; MHD sees the socket end and
 * closes it (and tells on_connection, which takes it off the list: the fd
 * is still open while it is on the list, under the lock). */
static void *reaper(void *arg)
{
	struct nl_http *h = arg;
	struct timespec ts;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		uint64_t now = mono_ns();
		unsigned long closed = 0;

		for (struct conn *cn = h->conns; cn; cn = cn->next) {
			if ((cn->phase != C_RECEIVING && cn->phase != C_KEPT) ||
			    now < cn->deadline_ns || cn->fd < 0)
				continue;
			if (cn->phase == C_RECEIVING)
				closed++;
			cn->phase = C_CLOSING;
			shutdown(cn->fd, SHUT_RDWR);
		}
		if (closed) {
			unsigned long total = atomic_fetch_add(&h->deadline_closed, closed) + closed;

			pthread_mutex_unlock(&h->lock);
			nl_complain(&h->slow_complaint, NL_LOG_WARN,
				    "http: closed %lu connection(s) whose request was not in within %u s (slow or stalled clients; %lu so far)",
				    closed, h->lim.request_seconds, total);
			pthread_mutex_lock(&h->lock);
		}
		if (h->webcfg_path && now >= h->next_reload_ns) {
			h->next_reload_ns = now + (uint64_t)h->reload_seconds * 1000000000u;
			pthread_mutex_unlock(&h->lock);
			maybe_reload(h);
			pthread_mutex_lock(&h->lock);
			if (h->stop)
				break;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 250000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&h->wake, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct api_args {
	struct nl_api_arg v[NL_API_MAX_ARGS];
	size_t n;
	bool overflow;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	struct api_args *a = cls;

	(void)kind;
	if (a->n == sizeof(a->v) / sizeof(a->v[0])) {
		a->overflow = true;
		return MHD_NO;
	}
	a->v[a->n++] = (struct nl_api_arg){ key, value };
	return MHD_YES;
}

/* /api/v1/...: collect what the request says and let api.c answer. */
static int h_api(struct nl_http *h, const struct request *rq, struct reply *rp)
{
	struct nl_snapshot *snap;
	struct nl_api_env env = { 0 };
	struct nl_api_request ar = { 0 };
	struct nl_api_reply ap = { 0 };
	struct api_args args = { 0 };
	int ret;

	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
	ar.reject = rq->reject;
	ar.args_overflow = args.overflow;
	ar.method = rq->method_name;
	ar.path = rq->url;
	ar.accept = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_ACCEPT);
	ar.content_type = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_TYPE);
	ar.args = args.v;
	ar.nargs = args.n;
	ar.body = rq->body;
	ar.body_len = rq->body_len;
	ar.body_too_large = rq->body_too_large;
	snap = h->src.get(h->src.arg);
	env.snap = snap;
	env.arrivals = h->src.arrivals;
	env.wake = h->src.wake;
	env.wake_arg = h->src.arg;
	ret = nl_api_handle_env(&env, &ar, &ap);
	if (snap)
		h->src.put(h->src.arg, snap);
	if (ret) {
		nl_buf_free(&ap.body);
		return ret;
	}
	nl_buf_free(&rp->body);
	rp->body = ap.body;
	rp->status = ap.status;
	memcpy(rp->ctype, ap.content_type, sizeof(rp->ctype));
	rp->content_type = rp->ctype;
	rp->allow = ap.allow;
	return 0;
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	nl_warn("http: %s", msg);
}

/* Split "host:port" / "[v6]:port" / ":port". Return 0 or -EINVAL. */
static int split_listen(const char *listen, char *host, size_t hostlen,
			char *port, size_t portlen)
{
	const char *h, *hend, *p;
	size_t n;

	if (listen[0] == '[') {
		h = listen + 1;
		hend = strchr(h, ']');
		if (!hend || hend[1] != ':')
			return -EINVAL;
		p = hend + 2;
	} else {
		h = listen;
		hend = strrchr(listen, ':');
		if (!hend || memchr(h, ':', (size_t)(hend - h)))
			return -EINVAL;  /* no port, or unbracketed IPv6 */
		p = hend + 1;
	}
	n = (size_t)(hend - h);
	if (n >= hostlen || strlen(p) >= portlen || !*p ||
	    strspn(p, "0123456789") != strlen(p) || strtol(p, NULL, 10) > 65535)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	strcpy(port, p);
	return 0;
}

static int bind_listen(int family, const struct sockaddr *sa, socklen_t salen,
		       bool dual, int *fd_out)
{
	int fd, one = 1, zero = 0, ret = 0;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one,
			sizeof(int)) < 0) ||
	    bind(fd, sa, salen) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		close(fd);
		fd = -1;
	}
	*fd_out = fd;
	return ret;
}

/* Open the listening socket for `listen`. ":port" and "[::]:port" are one
 * IPv6 socket that also accepts IPv4 (falling back to IPv4 only on hosts
 * without IPv6). Returns 0 or -errno; *dual tells which one we got. */
static int open_listen(const char *listen, int *fd, bool *v6, bool *dual)
{
	char host[256], port[8];
	struct addrinfo hints = { 0 }, *ai = NULL;
	int ret;

	*fd = -1;
	*v6 = *dual = false;
	ret = split_listen(listen, host, sizeof(host), port, sizeof(port));
	if (ret)
		return ret;
	if (host[0] == '\0' || strcmp(host, "::") == 0) {
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
					   .sin6_addr = IN6ADDR_ANY_INIT,
					   .sin6_port = htons((uint16_t)atoi(port)) };
		struct sockaddr_in a4 = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_ANY),
					  .sin_port = a6.sin6_port };

		ret = bind_listen(AF_INET6, (struct sockaddr *)&a6, sizeof(a6),
				  true, fd);
		if (ret != -EAFNOSUPPORT || host[0] != '\0') {
			*v6 = *dual = (ret == 0);
			return ret;
		}
		return bind_listen(AF_INET, (struct sockaddr *)&a4, sizeof(a4),
				   false, fd);
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret) {
		nl_err("http: cannot resolve %s: %s", host, gai_strerror(ret));
		return ret == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	}
	ret = bind_listen(ai->ai_family, ai->ai_addr, ai->ai_addrlen, false, fd);
	*v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return ret;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

struct nl_http *nl_http_start(const char *listen, const char *telemetry_path,
			      const struct nl_http_source *src)
{
	return nl_http_start_limits(listen, telemetry_path, src, NULL);
}

struct nl_http *nl_http_start_limits(const char *listen, const char *telemetry_path,
				     const struct nl_http_source *src,
				     const struct nl_http_limits *limits)
{
	struct nl_http_opts o = { .listen = &listen, .nlisten = 1,
				  .telemetry_path = telemetry_path, .limits = limits };

	return nl_http_start_opts(&o, src);
}

static void fill_limits(struct nl_http_limits *l, const struct nl_http_limits *in)
{
	if (in)
		*l = *in;
	if (!l->request_seconds)
		l->request_seconds = NL_HTTP_REQUEST_SECONDS;
	if (!l->idle_seconds)
		l->idle_seconds = NL_HTTP_IDLE_SECONDS;
	if (!l->per_ip)
		l->per_ip = NL_HTTP_PER_IP;
	if (!l->total)
		l->total = NL_HTTP_TOTAL;
	if (!l->max_requests_set)
		l->max_requests = NL_HTTP_MAX_REQUESTS;
	if (!l->memory_per_connection)
		l->memory_per_connection = NL_HTTP_MEMORY;
}

/* ---- TLS material and the daemons that serve it ---- */

static void tls_free(struct tls_mat *t)
{
	free(t->cert);
	if (t->key) {
		explicit_bzero(t->key, strlen(t->key));
		free(t->key);
	}
	free(t->ca);
	free(t->prio);
	memset(t, 0, sizeof(*t));
}

static int tls_from(struct tls_mat *t, const struct nl_webcfg *c)
{
	memset(t, 0, sizeof(*t));
	if (!c || !c->tls)
		return 0;
	t->on = true;
	t->cert = strdup(c->cert_pem);
	t->key = strdup(c->key_pem);
	t->ca = c->ca_pem ? strdup(c->ca_pem) : NULL;
	t->prio = strdup(c->priorities);
	if (!t->cert || !t->key || !t->prio || (c->ca_pem && !t->ca)) {
		tls_free(t);
		return -ENOMEM;
	}
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool tls_same(const struct tls_mat *a, const struct tls_mat *b)
{
	return a->on == b->on && str_eq(a->cert, b->cert) && str_eq(a->key, b->key) &&
	       str_eq(a->ca, b->ca) && str_eq(a->prio, b->prio);
}

/* One MHD daemon on (a duplicate of) listener l's socket, with TLS t. */
static struct MHD_Daemon *start_daemon(struct nl_http *h, const struct listener *l,
				       const struct tls_mat *t)
{
	/* ITC: so that a reload can quiesce the old daemon (MHD would shut
	 * the shared listening socket down when stopping it) */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
			 MHD_USE_ITC;
	struct MHD_OptionItem tls[5];
	size_t n = 0;
	struct MHD_Daemon *d;
	int fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		return NULL;
	if (l->v6)
		flags |= l->dual ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	if (t->on) {
		flags |= MHD_USE_TLS;
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, t->cert };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, t->key };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, t->prio };
		if (t->ca)
			tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, t->ca };
	}
	tls[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_THREAD_POOL_SIZE, HTTP_POOL_THREADS,
			     MHD_OPTION_CONNECTION_LIMIT, h->lim.total,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->lim.per_ip,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->lim.memory_per_connection,
			     MHD_OPTION_CONNECTION_TIMEOUT, h->lim.idle_seconds,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
			     MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
			     MHD_OPTION_UNESCAPE_CALLBACK, unescape, h,
			     MHD_OPTION_ARRAY, tls,
			     MHD_OPTION_END);
	/* MHD may or may not have closed the duplicate on failure */
	if (!d && fcntl(fd, F_GETFD) != -1)
		close(fd);
	return d;
}

/* Daemons for every listener with TLS t into ds. All or none. */
static int start_all(struct nl_http *h, const struct tls_mat *t, struct MHD_Daemon **ds)
{
	for (size_t i = 0; i < h->nlst; i++) {
		ds[i] = start_daemon(h, &h->lst[i], t);
		if (!ds[i]) {
			nl_err("http: cannot start the HTTP%s server on %s", t->on ? "S" : "",
			       h->lst[i].name);
			while (i--)
				MHD_stop_daemon(ds[i]);
			return -EIO;
		}
	}
	return 0;
}

/* ---- --web.config.file, and its reload ---- */

static int load_webconfig(struct nl_http *h, struct nl_webcfg **out)
{
	char err[512];

	if (nl_webcfg_load(h->webcfg_path, out, err, sizeof(err)) < 0) {
		nl_err("http: --web.config.file=%s: %s", h->webcfg_path, err);
		return -EINVAL;
	}
	return 0;
}

/* Called by the reaper without h->lock: if the file or one it names
 * changed, load it; a bad one keeps the config in use. New TLS material
 * gets new daemons on the same sockets; connections to the old ones close. */
static void maybe_reload(struct nl_http *h)
{
	struct nl_webcfg_stamp now;
	struct nl_webcfg *c = NULL;
	struct tls_mat t;
	struct MHD_Daemon *ds[NL_HTTP_MAX_LISTEN];
	char err[512];

	nl_webcfg_stamp(h->webcfg_path, h->watch, &now);
	if (!memcmp(&now, &h->stamp, sizeof(now)))
		return;
	h->stamp = now;
	if (nl_webcfg_load(h->webcfg_path, &c, err, sizeof(err)) < 0) {
		atomic_fetch_add(&h->reload_failures, 1);
		nl_err("http: --web.config.file=%s changed but does not load; still serving the previous one: %s",
		       h->webcfg_path, err);
		return;
	}
	if (tls_from(&t, c) < 0) {
		nl_webcfg_free(c);
		return;
	}
	if (!tls_same(&t, &h->tls)) {
		if (start_all(h, &t, ds) < 0) {
			atomic_fetch_add(&h->reload_failures, 1);
			nl_err("http: --web.config.file=%s: the new TLS settings do not start; still serving the previous ones",
			       h->webcfg_path);
			tls_free(&t);
			nl_webcfg_free(c);
			return;
		}
		for (size_t i = 0; i < h->nlst; i++) {
			struct MHD_Daemon *old = h->lst[i].d;
			MHD_socket lfd = MHD_quiesce_daemon(old);

			h->lst[i].d = ds[i];
			MHD_stop_daemon(old);
			if (lfd != MHD_INVALID_SOCKET)
				close(lfd);   /* the old daemon's duplicate */
		}
		tls_free(&h->tls);
		h->tls = t;
	} else {
		tls_free(&t);
	}
	/* from now on, watch the files the new config names */
	nl_webcfg_files(c, h->watch);
	nl_webcfg_stamp(h->webcfg_path, h->watch, &h->stamp);
	nl_webauth_set(h->auth, c);
	atomic_fetch_add(&h->reloads, 1);
	nl_info("http: --web.config.file=%s reloaded (TLS %s, %zu basic auth user(s), %zu header(s))",
		h->webcfg_path, h->tls.on ? "on" : "off", c->nusers, c->nheaders);
}

/* ---- listeners ---- */

static int add_listener(struct nl_http *h, const char *listen)
{
	struct listener *l;
	int ret;

	if (h->nlst == NL_HTTP_MAX_LISTEN) {
		nl_err("http: at most %d listen addresses", NL_HTTP_MAX_LISTEN);
		return -E2BIG;
	}
	l = &h->lst[h->nlst];
	ret = open_listen(listen, &l->fd, &l->v6, &l->dual);
	if (ret == -EINVAL) {
		nl_err("http: bad listen address \"%s\": want host:port, :port or [ipv6]:port",
		       listen);
		return ret;
	}
	if (ret) {
		nl_err("http: cannot listen on %s: %s%s", listen, strerror(-ret),
		       ret == -EADDRINUSE ?
		       " (is another exporter running? see --web.listen-address)" : "");
		return ret;
	}
	l->port = bound_port(l->fd);
	snprintf(l->name, sizeof(l->name), "%s", listen);
	h->nlst++;
	return 0;
}

/* The sockets systemd passed (LISTEN_FDS, a .socket unit). */
static int add_systemd_listeners(struct nl_http *h)
{
	int n = sd_listen_fds(1);

	if (n <= 0) {
		nl_err("http: --web.systemd-socket: no socket from systemd (%s)",
		       n < 0 ? strerror(-n) : "LISTEN_FDS is not set for this process");
		return n < 0 ? n : -ENOENT;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i, v6only = 0;
		struct listener *l;
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss), olen = sizeof(v6only);

		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 ||
		    getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
			nl_err("http: --web.systemd-socket: fd %d is not a listening TCP socket", fd);
			return -EINVAL;
		}
		if (h->nlst == NL_HTTP_MAX_LISTEN)
			return -E2BIG;
		l = &h->lst[h->nlst++];
		l->fd = fd;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		l->v6 = ss.ss_family == AF_INET6;
		l->dual = l->v6 && getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen) == 0 &&
			  !v6only;
		l->port = bound_port(fd);
		snprintf(l->name, sizeof(l->name), "systemd socket fd %d (port %d)", fd, l->port);
	}
	return 0;
}

static void free_http(struct nl_http *h)
{
	for (size_t i = 0; i < h->nlst; i++) {
		if (h->lst[i].d)
			MHD_stop_daemon(h->lst[i].d);
		if (h->lst[i].fd >= 0)
			close(h->lst[i].fd);
	}
	tls_free(&h->tls);
	nl_webauth_free(h->auth);
	nl_webcfg_files(NULL, h->watch);
	free(h->webcfg_path);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	free(h->telemetry_path);
	free(h);
}

struct nl_http *nl_http_start_opts(const struct nl_http_opts *o,
				   const struct nl_http_source *src)
{
	struct nl_http *h = NULL;
	struct nl_webcfg *cfg = NULL;
	struct MHD_Daemon *ds[NL_HTTP_MAX_LISTEN];
	int ret = 0;

	if (!o || !o->telemetry_path || o->telemetry_path[0] != '/' || !src || !src->get ||
	    !src->put || (!o->nlisten && !o->systemd_socket)) {
		nl_err("http: need a listen address, a telemetry path starting with '/' and a snapshot source");
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h || !(h->telemetry_path = strdup(o->telemetry_path)) ||
	    !(h->auth = nl_webauth_new())) {
		if (h)
			free(h->telemetry_path);
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	h->src = *src;
	fill_limits(&h->lim, o->limits);
	h->reload_seconds = o->reload_seconds ? o->reload_seconds : 1;
	pthread_mutex_init(&h->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (o->web_config_file && o->web_config_file[0]) {
		if (!(h->webcfg_path = strdup(o->web_config_file))) {
			ret = -ENOMEM;
			goto cleanup;
		}
		if ((ret = load_webconfig(h, &cfg)) < 0 ||
		    (ret = nl_webcfg_files(cfg, h->watch)) < 0 ||
		    (ret = tls_from(&h->tls, cfg)) < 0)
			goto cleanup;
		nl_webcfg_stamp(h->webcfg_path, h->watch, &h->stamp);
		if (h->tls.on && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			nl_err("http: --web.config.file asks for TLS, but this libmicrohttpd has no TLS support");
			ret = -ENOTSUP;
			goto cleanup;
		}
	}
	for (size_t i = 0; i < o->nlisten && ret == 0; i++)
		ret = add_listener(h, o->listen[i]);
	if (ret == 0 && o->systemd_socket)
		ret = add_systemd_listeners(h);
	if (ret)
		goto cleanup;
	h->port = h->lst[0].port;
	if ((ret = start_all(h, &h->tls, ds)) < 0)
		goto cleanup;
	for (size_t i = 0; i < h->nlst; i++)
		h->lst[i].d = ds[i];
	nl_webauth_set(h->auth, cfg);
	cfg = NULL;
	ret = -pthread_create(&h->reaper, NULL, reaper, h);
	if (ret) {
		nl_err("http: cannot start the request deadline thread: %s", strerror(-ret));
		goto cleanup;
	}
	h->reaper_started = true;
	for (size_t i = 0; i < h->nlst; i++)
		nl_info("http: listening on %s (port %d%s%s), metrics at %s", h->lst[i].name,
			h->lst[i].port, h->lst[i].dual ? ", IPv6 and IPv4" : "",
			h->tls.on ? ", TLS" : "", h->telemetry_path);

cleanup:
	if (ret) {
		nl_webcfg_free(cfg);
		free_http(h);
		errno = -ret;
		return NULL;
	}
	return h;
}

void nl_http_stop(struct nl_http *h)
{
	if (!h)
		return;
	if (h->reaper_started) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->reaper, NULL);
	}
	free_http(h);
}

unsigned long nl_http_reloads(const struct nl_http *h, unsigned long *failures)
{
	if (failures)
		*failures = h ? atomic_load(&((struct nl_http *)h)->reload_failures) : 0;
	return h ? atomic_load(&((struct nl_http *)h)->reloads) : 0;
}

unsigned long nl_http_deadline_closed(const struct nl_http *h)
{
	return h ? atomic_load(&((struct nl_http *)h)->deadline_closed) : 0;
}

unsigned long nl_http_refused(const struct nl_http *h)
{
	return h ? atomic_load(&((struct nl_http *)h)->refused) : 0;
}

int nl_http_port(const struct nl_http *h)
{
	return h ? h->port : -1;
}
