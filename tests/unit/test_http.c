/* HTTP server: routes, status codes, headers, /healthz, the landing page,
 * listen-address handling. Raw HTTP over sockets against a real
 * libmicrohttpd daemon on a free loopback port, with a fake snapshot
 * source in place of the sampler. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "http.h"
#include "log.h"
#include "prom.h"

#define WEIRD "<b>we\"ird&</b>"

struct fake {
	struct nl_snapshot *snap;   /* what get() returns; NULL = none yet */
	atomic_int gets, puts;
};

static struct fake fake;
static struct nl_snapshot snap;
static struct nl_vm_snap vms[2];
static struct nl_series series[3];

static struct nl_snapshot *fake_get(void *arg)
{
	struct fake *f = arg;

	if (f->snap)
		atomic_fetch_add(&f->gets, 1);
	return f->snap;
}

static void fake_put(void *arg, struct nl_snapshot *s)
{
	struct fake *f = arg;

	CHECK(s == f->snap);
	atomic_fetch_add(&f->puts, 1);
}

static uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void build_snapshot(double age)
{
	memset(&snap, 0, sizeof(snap));
	memset(vms, 0, sizeof(vms));
	memset(series, 0, sizeof(series));
	snap.timestamp = now_wall() - age;
	snap.mono_ns = now_mono_ns() - (uint64_t)(age * 1e9);
	snap.libvirt_up = -1;
	snap.topo_valid = true;
	snap.topo.nnodes = 1;
	snap.topo.distance[0][0] = 10;

	snprintf(vms[0].name, sizeof(vms[0].name), "zulu");
	snprintf(vms[0].uuid, sizeof(vms[0].uuid), "0b7c3c2a-1111-4222-8333-444455556666");
	vms[0].backend = NL_BACKEND_LIBVIRT;
	series[0] = (struct nl_series){ .role = NL_ROLE_VCPU, .index = 0, .nthreads = 1 };
	series[1] = (struct nl_series){ .role = NL_ROLE_VCPU, .index = 1, .nthreads = 1 };
	series[2] = (struct nl_series){ .role = NL_ROLE_EMULATOR, .index = -1, .nthreads = 3 };
	vms[0].series = series;
	vms[0].nseries = 3;
	snprintf(vms[1].name, sizeof(vms[1].name), "%s", WEIRD);
	vms[1].backend = NL_BACKEND_PROC;
	for (int r = 0; r <= NL_ROLE_ALL; r++) {
		vms[0].locality[r] = vms[0].distance[r] = NAN;
		vms[1].locality[r] = vms[1].distance[r] = NAN;
	}
	vms[0].locality[NL_ROLE_ALL] = 0.75;
	snap.vms = vms;
	snap.nvms = 2;
	fake.snap = &snap;
}

static struct nl_http *start(const char *listen, const char *path)
{
	struct nl_http_source src = { .get = fake_get, .put = fake_put, .arg = &fake, .interval = 2.0 };

	nl_log_set_level(NL_LOG_WARN);
	return nl_http_start(listen, path, &src);
}

/* start() for failures the test provokes: their log lines (the point of
 * them, but noise in a test run) go to /dev/null; errno is kept. */
static struct nl_http *start_quiet(const char *listen, const char *path)
{
	struct nl_http *h;
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY), err;

	fflush(stderr);
	if (null >= 0)
		dup2(null, STDERR_FILENO);
	h = start(listen, path);
	err = errno;
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (null >= 0)
		close(null);
	errno = err;
	return h;
}

struct response {
	int status;
	char head[4096];    /* status line and headers */
	char *body;
	size_t body_len;
	char *raw;
};

static void response_free(struct response *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/* Value of header `name` (case-insensitive) into buf, or NULL. */
static const char *header(const struct response *r, const char *name,
			  char *buf, size_t len)
{
	size_t n = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p && p[2];
	     p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;

		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1, *end = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
			return buf;
		}
	}
	return NULL;
}

/* The IPv4 address client sockets are bound to (NULL: the kernel picks
 * 127.0.0.1): another local client, for the per-address limits. */
static const char *client_src;

static int connect_to(int family, int port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (family == AF_INET && client_src) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		inet_pton(AF_INET, client_src, &src.sin_addr);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Send `req` verbatim and read until the server closes. Return 0 or -errno. */
static int raw_request(int family, int port, const char *req,
		       struct response *r)
{
	size_t cap = 65536, len = 0;
	char *buf = NULL, *sep;
	struct timeval tv = { 5, 0 };
	int fd;

	memset(r, 0, sizeof(*r));
	fd = connect_to(family, port);
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto fail;
	buf = malloc(cap);
	if (!buf)
		goto fail;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *p = realloc(buf, cap * 2);

			if (!p)
				goto fail;
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (!sep || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
		free(buf);
		return -EPROTO;
	}
	snprintf(r->head, sizeof(r->head), "%.*s\r\n", (int)(sep - buf), buf);
	r->raw = buf;
	r->body = sep + 4;
	r->body_len = len - (size_t)(sep + 4 - buf);
	return 0;
fail:
	close(fd);
	free(buf);
	return -EIO;
}

static int get(int port, const char *method, const char *path,
	       struct response *r)
{
	char req[512];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		 "Connection: close\r\n\r\n", method, path);
	return raw_request(AF_INET, port, req, r);
}

static void test_metrics(void)
{
	struct nl_http *h;
	struct response r;
	char v[256];

	build_snapshot(0);
	h = start("127.0.0.1:0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK(nl_http_port(h) > 0);
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/metrics", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_STR(header(&r, "Content-Type", v, sizeof(v)),
		  "text/plain; version=0.0.4; charset=utf-8");
	CHECK(r.body && strstr(r.body, "numalens_vm_info{vm=\"zulu\",uuid=\"0b7c3c2a-1111-4222-8333-444455556666\",backend=\"libvirt\"} 1\n"));
	CHECK(r.body && strstr(r.body, "numalens_vm_pid{vm=\"<b>we\\\"ird&</b>\"} 0\n"));
	response_free(&r);
	/* a query string does not change the route */
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/metrics?x=1", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	response_free(&r);
	/* HEAD: headers, no body */
	CHECK_EQ_INT(get(nl_http_port(h), "HEAD", "/metrics", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_EQ_INT(r.body_len, 0);
	CHECK_STR(header(&r, "Content-Type", v, sizeof(v)), NL_PROM_CONTENT_TYPE);
	response_free(&r);
	nl_http_stop(h);
	CHECK_EQ_INT(atomic_load(&fake.gets), atomic_load(&fake.puts));
}

static void test_not_found_and_methods(void)
{
	struct nl_http *h;
	struct response r;
	char v[256];
	char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		      "Connection: close\r\n\r\nhello";

	build_snapshot(0);
	h = start("127.0.0.1:0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/nope", &r), 0);
	CHECK_EQ_INT(r.status, 404);
	CHECK(r.body && strstr(r.body, "not found"));
	CHECK(header(&r, "Allow", v, sizeof(v)) == NULL);
	response_free(&r);
	/* a prefix of a route is not that route */
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/metricsx", &r), 0);
	CHECK_EQ_INT(r.status, 404);
	response_free(&r);

	CHECK_EQ_INT(raw_request(AF_INET, nl_http_port(h), post, &r), 0);
	CHECK_EQ_INT(r.status, 405);
	CHECK_STR(header(&r, "Allow", v, sizeof(v)), "GET, HEAD");
	response_free(&r);
	CHECK_EQ_INT(get(nl_http_port(h), "DELETE", "/healthz", &r), 0);
	CHECK_EQ_INT(r.status, 405);
	CHECK_STR(header(&r, "Allow", v, sizeof(v)), "GET, HEAD");
	response_free(&r);
	nl_http_stop(h);
	CHECK_EQ_INT(atomic_load(&fake.gets), atomic_load(&fake.puts));
}

static void test_healthz(void)
{
	struct nl_http *h;
	struct response r;

	build_snapshot(1);
	h = start("127.0.0.1:0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/healthz", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK(r.body && strcmp(r.body, "ok\n") == 0);
	response_free(&r);
	/* interval 2 s: the limit is 3 * 2 + 10 = 16 s */
	snap.timestamp = now_wall() - 15;
	snap.mono_ns = now_mono_ns() - 15000000000u;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/healthz", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	response_free(&r);
	snap.timestamp = now_wall() - 17;
	snap.mono_ns = now_mono_ns() - 17000000000u;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/healthz", &r), 0);
	CHECK_EQ_INT(r.status, 503);
	CHECK(r.body && strstr(r.body, "stale") && strstr(r.body, "limit 16.0 s"));
	response_free(&r);
	fake.snap = NULL;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/healthz", &r), 0);
	CHECK_EQ_INT(r.status, 503);
	CHECK(r.body && strstr(r.body, "no snapshot yet"));
	response_free(&r);
	nl_http_stop(h);
	CHECK_EQ_INT(atomic_load(&fake.gets), atomic_load(&fake.puts));
}

static void test_no_snapshot(void)
{
	struct nl_http *h;
	struct response r;
	char v[256];

	build_snapshot(0);
	fake.snap = NULL;
	h = start("127.0.0.1:0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/metrics", &r), 0);
	CHECK_EQ_INT(r.status, 503);
	CHECK(r.body && strstr(r.body, "no snapshot yet"));
	CHECK_STR(header(&r, "Content-Type", v, sizeof(v)), "text/plain; charset=utf-8");
	response_free(&r);
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK(r.body && strstr(r.body, "No snapshot yet"));
	response_free(&r);
	/* the first snapshot arrives */
	fake.snap = &snap;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/metrics", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	response_free(&r);
	nl_http_stop(h);
}

static void test_landing(void)
{
	struct nl_http *h;
	struct response r;
	char v[256];
	const char *a, *z;

	build_snapshot(0);
	h = start("127.0.0.1:0", "/custom/path");
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_STR(header(&r, "Content-Type", v, sizeof(v)), "text/html; charset=utf-8");
	if (r.body) {
		CHECK(strstr(r.body, "&lt;b&gt;we&quot;ird&amp;&lt;/b&gt;") != NULL);
		CHECK(strstr(r.body, WEIRD) == NULL);
		CHECK(strstr(r.body, "<a href=\"/custom/path\">") != NULL);
		CHECK(strstr(r.body, "0b7c3c2a-1111-4222-8333-444455556666") != NULL);
		CHECK(strstr(r.body, "vcpu&nbsp;2, emulator&nbsp;3") != NULL);
		CHECK(strstr(r.body, "<td>0.750</td>") != NULL);
		CHECK(strstr(r.body, "<td>n/a</td>") != NULL);   /* NaN */
		/* sorted by name: "<b>..." < "zulu" */
		a = strstr(r.body, "&lt;b&gt;we");
		z = strstr(r.body, "zulu");
		CHECK(a && z && a < z);
	}
	response_free(&r);
	/* the telemetry path moved: it serves metrics, /metrics is gone */
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/custom/path", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK(r.body && strstr(r.body, "# TYPE numalens_vm_info gauge"));
	response_free(&r);
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/metrics", &r), 0);
	CHECK_EQ_INT(r.status, 404);
	response_free(&r);
	nl_http_stop(h);
	CHECK_EQ_INT(atomic_load(&fake.gets), atomic_load(&fake.puts));
}

static void test_listen_errors(void)
{
	static const char *const bad[] = {
		"nonsense", "9808", "[::1", "[::1]9808", "::1:9808",
		"127.0.0.1:99999", "127.0.0.1:", "127.0.0.1:80x",
	};
	struct nl_http *h, *h2;
	char addr[64];

	build_snapshot(0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		h = start_quiet(bad[i], "/metrics");
		CHECK(h == NULL);
		if (h) {
			fprintf(stderr, "  accepted bad address %s\n", bad[i]);
			nl_http_stop(h);
		} else {
			CHECK_EQ_INT(errno, EINVAL);
		}
	}
	errno = 0;
	CHECK(start_quiet("127.0.0.1:0", "metrics") == NULL);
	CHECK_EQ_INT(errno, EINVAL);

	/* port in use: a clear EADDRINUSE */
	h = start("127.0.0.1:0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", nl_http_port(h));
	errno = 0;
	h2 = start_quiet(addr, "/metrics");
	CHECK(h2 == NULL);
	CHECK_EQ_INT(errno, EADDRINUSE);
	nl_http_stop(h2);
	nl_http_stop(h);
	nl_http_stop(NULL);
}

/* ":port" is one socket for IPv6 and IPv4; "[::1]:port" is IPv6 only. */
static void test_dual_stack(void)
{
	struct nl_http *h;
	struct response r;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	if (fd < 0) {
		printf("SKIP test_dual_stack: no IPv6 on this host\n");
		return;
	}
	close(fd);
	build_snapshot(0);
	h = start(":0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/healthz", &r), 0);   /* IPv4 */
	CHECK_EQ_INT(r.status, 200);
	response_free(&r);
	CHECK_EQ_INT(raw_request(AF_INET6, nl_http_port(h),
				 "GET /healthz HTTP/1.0\r\n\r\n", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	response_free(&r);
	nl_http_stop(h);

	h = start("[::1]:0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_INT(raw_request(AF_INET6, nl_http_port(h),
				 "GET /healthz HTTP/1.0\r\n\r\n", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	response_free(&r);
	CHECK(get(nl_http_port(h), "GET", "/healthz", &r) != 0);   /* no IPv4 */
	response_free(&r);
	nl_http_stop(h);
}

/* Many requests on one keep-alive connection and from parallel clients
 * all get whole answers, and every snapshot taken is released. */
static void test_keepalive(void)
{
	struct nl_http *h;
	char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct response r;
	int n = 0;

	build_snapshot(0);
	h = start("127.0.0.1:0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_INT(raw_request(AF_INET, nl_http_port(h), req, &r), 0);
	for (const char *p = r.raw; p && (p = strstr(p, "HTTP/1.1 ")); p++)
		n++;
	CHECK_EQ_INT(n, 3);
	CHECK(r.raw && strstr(r.raw, "404 Not Found"));
	response_free(&r);
	nl_http_stop(h);
	CHECK_EQ_INT(atomic_load(&fake.gets), atomic_load(&fake.puts));
}

static struct nl_http *start_limits(const struct nl_http_limits *l)
{
	struct nl_http_source src = { .get = fake_get, .put = fake_put, .arg = &fake, .interval = 2.0 };

	nl_log_set_level(NL_LOG_ERROR);
	return nl_http_start_limits("127.0.0.1:0", "/metrics", &src, l);
}

/* a NUL or another control byte in the path or a query value: 400, in the
 * API's error form under /api/v1 (a %00 used to cut the path short) */
static void test_control_bytes(void)
{
	static const char *const bad[] = {
		"/metrics%00x", "/healthz%0a", "/metrics?x=%7f", "/%00",
		"/api/v1/vms?vm=a%00b", "/api/v1/hints%01",
	};
	char path[256];
	struct nl_http *h;
	struct response r;
	size_t n;

	build_snapshot(0);
	h = start("127.0.0.1:0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(get(nl_http_port(h), "GET", bad[i], &r), 0);
		if (r.status != 400)
			fprintf(stderr, "  %s: %d\n", bad[i], r.status);
		CHECK_EQ_INT(r.status, 400);
		if (strncmp(bad[i], "/api/", 5) == 0)
			CHECK(r.body && strstr(r.body, "\"code\":400") &&
			      strstr(r.body, "control byte"));
		else
			CHECK(r.body && strstr(r.body, "control byte"));
		response_free(&r);
	}
	/* the next request on the same server is fine: the flag was the
	 * request's, not the server's */
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/metrics?x=%41", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	response_free(&r);
	/* more query arguments than kept: 400 in the API's form */
	n = (size_t)snprintf(path, sizeof(path), "/api/v1/vms?");
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "a%d=1&", i);
	CHECK_EQ_INT(get(nl_http_port(h), "GET", path, &r), 0);
	CHECK_EQ_INT(r.status, 400);
	CHECK(r.body && strstr(r.body, "\"code\":400") &&
	      strstr(r.body, "too many query arguments (at most 16)"));
	response_free(&r);
	nl_http_stop(h);
}

/* /healthz ages the snapshot on the monotonic clock: a wall clock stepped
 * a day neither fails a fresh snapshot nor passes a stale one */
static void test_healthz_monotonic(void)
{
	struct nl_http *h;
	struct response r;

	build_snapshot(0);
	snap.timestamp = now_wall() - 86400;
	h = start("127.0.0.1:0", "/metrics");
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/healthz", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	response_free(&r);
	snap.timestamp = now_wall();
	snap.mono_ns = now_mono_ns() - 60000000000u;
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/healthz", &r), 0);
	CHECK_EQ_INT(r.status, 503);
	response_free(&r);
	nl_http_stop(h);
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Wait up to `seconds` for the server to end `fd`; the time it took, or -1. */
static double wait_closed(int fd, double seconds)
{
	struct timeval tv = { 0, 100000 };
	struct timespec t0;
	char c;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (since(&t0) < seconds) {
		ssize_t n = recv(fd, &c, 1, 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return since(&t0);
	}
	return -1;
}

/* the absolute request deadline: headers trickled a byte at a time (each
 * byte resets MHD's idle timeout) are cut off at request_seconds; a kept
 * connection has idle_seconds for its next request */
static void test_request_deadline(void)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa";
	struct nl_http_limits lim = { .request_seconds = 1, .idle_seconds = 2 };
	struct timespec t0;
	struct nl_http *h;
	double t = -1;
	int fd;

	build_snapshot(0);
	h = start_limits(&lim);
	CHECK(h != NULL);
	if (!h)
		return;
	fd = connect_to(AF_INET, nl_http_port(h));
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < sizeof(req) - 1 && t < 0; i++) {
		if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
			break;
		t = wait_closed(fd, 0.2);
	}
	t = since(&t0);
	CHECK(t >= 0.9 && t < 2.5);
	CHECK_EQ_INT(nl_http_deadline_closed(h), 1);
	close(fd);
	/* kept alive after an answer, then nothing: closed at idle_seconds */
	fd = connect_to(AF_INET, nl_http_port(h));
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	{
		static const char one[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
		char buf[512];
		struct timeval tv = { 2, 0 };

		CHECK(send(fd, one, sizeof(one) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(one) - 1);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		CHECK(recv(fd, buf, sizeof(buf), 0) > 0);
		t = wait_closed(fd, 5);
		CHECK(t > 1.0 && t < 3.5);
	}
	close(fd);
	CHECK_EQ_INT(nl_http_deadline_closed(h), 1);   /* idle is not counted as slow */
out:
	nl_http_stop(h);
}

/* --web.max-requests: a request whose body is still coming counts; one
 * more gets 503, and after it ends the next is served */
static void test_max_requests(void)
{
	static const char post[] = "POST /api/v1/arrivals HTTP/1.1\r\nHost: x\r\n"
				   "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
	struct nl_http_limits lim = { .max_requests = 1, .max_requests_set = true };
	struct nl_http *h;
	struct response r;
	int fd;

	build_snapshot(0);
	h = start_limits(&lim);
	CHECK(h != NULL);
	if (!h)
		return;
	fd = connect_to(AF_INET, nl_http_port(h));
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	CHECK(send(fd, post, sizeof(post) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(post) - 1);
	usleep(200000);
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/metrics", &r), 0);
	CHECK_EQ_INT(r.status, 503);
	CHECK(r.body && strstr(r.body, "--web.max-requests"));
	response_free(&r);
	CHECK_EQ_INT(nl_http_refused(h), 1);
	close(fd);
	usleep(300000);
	CHECK_EQ_INT(get(nl_http_port(h), "GET", "/metrics", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	response_free(&r);
out:
	nl_http_stop(h);
}

static int count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* slowloris: 200 connections from 127.0.0.1 trickle headers a byte every
 * 250 ms. A scrape from 127.0.0.2 succeeds in under 1 s throughout and
 * after, and the fd count (client and server live in this process) comes
 * back to where it started. */
static void test_slowloris(void)
{
	enum { NCONN = 200 };
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
	struct nl_http_limits lim = { .request_seconds = 2 };
	int fds[NCONN], fd0, served = 0, slow = 0, failed = 0;
	double worst = 0;
	struct nl_http *h;
	struct response r;

	build_snapshot(0);
	h = start_limits(&lim);
	CHECK(h != NULL);
	if (!h)
		return;
	fd0 = count_fds();
	for (int i = 0; i < NCONN; i++)
		fds[i] = connect_to(AF_INET, nl_http_port(h));
	for (int round = 0; round < 20; round++) {
		struct timespec t0;
		double t;

		for (int i = 0; i < NCONN; i++)
			if (fds[i] >= 0 && (size_t)round < sizeof(req) - 1)
				send(fds[i], req + round, 1, MSG_NOSIGNAL);
		client_src = "127.0.0.2";
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (get(nl_http_port(h), "GET", "/metrics", &r) == 0 && r.status == 200)
			served++;
		else
			failed++;
		t = since(&t0);
		client_src = NULL;
		response_free(&r);
		if (t > worst)
			worst = t;
		if (t >= 1.0)
			slow++;
		usleep(250000);
	}
	for (int i = 0; i < NCONN; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	CHECK_EQ_INT(served, 20);
	CHECK_EQ_INT(failed, 0);
	CHECK_EQ_INT(slow, 0);
	CHECK(nl_http_deadline_closed(h) >= 1);
	for (int i = 0; i < 20 && count_fds() != fd0; i++)
		usleep(100000);
	CHECK_EQ_INT(count_fds(), fd0);
	printf("  slowloris: %d scrapes from 127.0.0.2 served, worst %.3f s; %lu trickling connections closed at the deadline\n",
	       served, worst, nl_http_deadline_closed(h));
	nl_http_stop(h);
}

NL_TEST_MAIN(NL_T(test_metrics),
	     NL_T(test_not_found_and_methods), NL_T(test_healthz),
	     NL_T(test_no_snapshot), NL_T(test_landing),
	     NL_T(test_listen_errors), NL_T(test_dual_stack),
	     NL_T(test_keepalive), NL_T(test_control_bytes),
	     NL_T(test_healthz_monotonic), NL_T(test_request_deadline),
	     NL_T(test_max_requests), NL_T(test_slowloris))
