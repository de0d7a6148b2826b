/* `numalens apply` (exporter/cmd/), its HTTP side: the hints URL from
 * --url; the libcurl client against a small libmicrohttpd server on
 * loopback port 0 (IPv4 and [::1]): target, headers, chunked and sized
 * bodies, the size cap, refused and silent servers; reading the answer (the
 * server's 404 message, wrong types, garbage); and the whole command with
 * its exit codes, on libvirt's in-process test driver. The actions:
 * test_apply.c. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cmd/apply_priv.h"
#include "harness.h"
#include "cmd_run.h"
#include "paths.h"

/* ---- a fake numalens ---- */

struct seen {
	pthread_mutex_t lock;
	char url[256], vm[128], agent[64], accept[64];
	int requests;
};

static struct seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };
static struct MHD_Daemon *srv4, *srv6;
static int port4, port6;

static ssize_t chunks(void *cls, uint64_t pos, char *buf, size_t max)
{
	size_t total = (size_t)(uintptr_t)cls;

	if (pos >= total)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (total == 5) {            /* "abcde" in chunks of 3 and 2 */
		size_t n = pos == 0 ? 3 : 2;

		memcpy(buf, "abcde" + pos, n);
		return (ssize_t)n;
	}
	max = max > 1000 ? 1000 : max;
	if (max > total - pos)
		max = total - (size_t)pos;
	memset(buf, 'y', max);
	return (ssize_t)max;
}

/* A hint list for VM `vm`: "test" gets a pin_vcpus hint, "emu" a pin of
 * the emulator threads, anything else none. */
static void *pack_hints(const char *vm, const char *id, size_t *len)
{
	Numalens__V1__HintList l = NUMALENS__V1__HINT_LIST__INIT;
	Numalens__V1__Hint h = NUMALENS__V1__HINT__INIT, *hs[1] = { &h };
	Numalens__V1__Target t = NUMALENS__V1__TARGET__INIT;
	Numalens__V1__Action a = NUMALENS__V1__ACTION__INIT, *as[1] = { &a };
	void *buf;

	h.id = (char *)"h1";
	h.vm = (char *)vm;
	h.has_kind = 1;
	h.kind = NUMALENS__V1__HINT_KIND__PIN_VCPUS;
	h.has_policy = 1;
	h.policy = NUMALENS__V1__POLICY__POLICY_LOCALITY;
	t.has_node = 1;
	t.node = 0;
	h.target = &t;
	h.has_step = 1;
	h.step = 2;
	a.has_op = 1;
	a.op = NUMALENS__V1__ACTION_OP__PIN_VCPU;
	a.has_index = 1;
	a.index = 0;
	a.cpus = (char *)"0-1";
	a.libvirt = (char *)"virDomainPinVcpuFlags(dom, 0, map, maplen, VIR_DOMAIN_AFFECT_LIVE)";
	a.command = (char *)"virsh vcpupin test 0 0-1 --live";
	if (vm && !strcmp(vm, "emu")) {
		h.kind = NUMALENS__V1__HINT_KIND__PIN_VMM_THREADS;
		a.op = NUMALENS__V1__ACTION_OP__PIN_EMULATOR;
		a.index = -1;
		a.cpus = (char *)"0";
		h.vm = (char *)"test";
	}
	h.n_actions = 1;
	h.actions = as;
	l.hints = hs;
	l.n_hints = vm && (!strcmp(vm, "test") || !strcmp(vm, "emu")) && !id ? 1 : 0;
	*len = numalens__v1__hint_list__get_packed_size(&l);
	buf = malloc(*len ? *len : 1);
	numalens__v1__hint_list__pack(&l, buf);
	return buf;
}

static void *pack_error(const char *msg, size_t *len)
{
	Numalens__V1__Error e = NUMALENS__V1__ERROR__INIT;
	void *buf;

	e.has_code = 1;
	e.code = 404;
	e.message = (char *)msg;
	*len = numalens__v1__error__get_packed_size(&e);
	buf = malloc(*len);
	numalens__v1__error__pack(&e, buf);
	return buf;
}

static void record(struct MHD_Connection *conn, const char *url)
{
	const char *vm = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "vm");
	const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
	const char *acc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");

	pthread_mutex_lock(&seen.lock);
	snprintf(seen.url, sizeof(seen.url), "%s", url);
	snprintf(seen.vm, sizeof(seen.vm), "%s", vm ? vm : "");
	snprintf(seen.agent, sizeof(seen.agent), "%s", ua ? ua : "");
	snprintf(seen.accept, sizeof(seen.accept), "%s", acc ? acc : "");
	seen.requests++;
	pthread_mutex_unlock(&seen.lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	const char *vm = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "vm");
	const char *id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
	const char *type = "application/x-protobuf; proto=numalens.v1.HintList";
	struct MHD_Response *r = NULL;
	unsigned status = 200;
	enum MHD_Result ok;
	size_t len = 0;
	void *body;

	(void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
	record(conn, url);
	if (!strcmp(url, "/chunked/api/v1/hints") || !strcmp(url, "/bigchunked/api/v1/hints")) {
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, chunks,
						      (void *)(uintptr_t)(url[1] == 'c' ? 5 : 5000), NULL);
	} else if (!strcmp(url, "/big/api/v1/hints")) {
		body = malloc(5000);
		memset(body, 'x', 5000);
		r = MHD_create_response_from_buffer(5000, body, MHD_RESPMEM_MUST_FREE);
	} else if (!strcmp(url, "/text/api/v1/hints")) {
		type = "text/plain; charset=utf-8";
		status = 500;
		r = MHD_create_response_from_buffer(5, (void *)"boom\n", MHD_RESPMEM_PERSISTENT);
	} else if (!strcmp(url, "/garbage/api/v1/hints")) {
		r = MHD_create_response_from_buffer(3, (void *)"\xff\xff\xff", MHD_RESPMEM_PERSISTENT);
	} else if (vm && !strcmp(vm, "ghost")) {
		type = "application/x-protobuf; proto=numalens.v1.Error";
		status = 404;
		body = pack_error("no VM named \"ghost\" on this host", &len);
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	} else {
		body = pack_hints(vm, id, &len);
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	}
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* Start a server on loopback `family` port 0; its port in *port. */
static struct MHD_Daemon *serve(int family, int *port)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;

	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a6.sin6_addr = in6addr_loopback;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | (family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, on_request, NULL,
			     MHD_OPTION_SOCK_ADDR, family == AF_INET6 ? (struct sockaddr *)&a6
								 : (struct sockaddr *)&a4,
			     MHD_OPTION_END);
	if (!d)
		return NULL;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	return d;
}

static void servers_start(void)
{
	if (srv4)
		return;
	srv4 = serve(AF_INET, &port4);
	srv6 = serve(AF_INET6, &port6);
	CHECK(srv4 != NULL && port4 > 0);
	if (!srv6)
		printf("  note: no IPv6 loopback here: the [::1] checks are skipped\n");
}

/* A loopback port with nothing listening (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ---- URL ---- */

static void test_hints_url(void)
{
	static const struct {
		const char *base;
		struct nl_apply_query q;
		int rc;
		const char *want;
	} cases[] = {
		{ "http://127.0.0.1:9808", { NULL, "web", NULL, NULL }, 0,
		  "http://127.0.0.1:9808/api/v1/hints?vm=web" },
		{ "http://[::1]:19808/prefix/", { "dino", "a b/c&d", "evict", "00ff" }, 0,
		  /* libcurl writes the escapes it is given in lower case */
		  "http://[::1]:19808/prefix/api/v1/hints?policy=dino&vm=a%20b%2fc%26d&kind=evict&id=00ff" },
		{ "HTTP://Host", { NULL, NULL, NULL, "1" }, 0, "http://Host/api/v1/hints?id=1" },
		{ "http://h:1//", { NULL, NULL, NULL, NULL }, 0, "http://h:1/api/v1/hints" },
		{ "http://h:0080/x", { NULL, "~._-", NULL, NULL }, 0, "http://h:80/x/api/v1/hints?vm=~._-" },
		{ "https://host", { 0 }, 0, "https://host/api/v1/hints" },
		{ "HTTPS://h:9808/p", { NULL, NULL, NULL, "2" }, 0, "https://h:9808/p/api/v1/hints?id=2" },
		{ "ftp://host", { 0 }, -EINVAL, NULL },
		{ "http:/host", { 0 }, -EINVAL, NULL },
		{ "127.0.0.1:9808", { 0 }, -EINVAL, NULL },
		{ "http://:80", { 0 }, -EINVAL, NULL },
		{ "http://h:99999", { 0 }, -EINVAL, NULL },
		{ "http://h:0", { 0 }, -EINVAL, NULL },
		{ "http://[::1", { 0 }, -EINVAL, NULL },
		{ "http://user:pw@h/", { 0 }, -EINVAL, NULL },
		{ "http://h/p?x=1", { 0 }, -EINVAL, NULL },
		{ "http://h/p#f", { 0 }, -EINVAL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *url = (char *)"unset";
		int rc = nl_apply_hints_url(cases[i].base, &cases[i].q, &url);

		if (rc != cases[i].rc)
			fprintf(stderr, "  case %zu: %s\n", i, cases[i].base);
		CHECK_EQ_INT(rc, cases[i].rc);
		if (cases[i].want)
			CHECK_STR(url, cases[i].want);
		else
			CHECK(url == NULL);
		free(rc == 0 ? url : NULL);
	}
}

/* Any endpoint: a name in the path percent-encoded (dots too, where they
 * would make a dot segment), a sub-path, query arguments with NULL values
 * left out. */
static void test_api_url(void)
{
	static const struct {
		const char *base;
		struct nl_apply_path p;
		const char *want;
	} cases[] = {
		{ "http://h:1/pre/", { "vms", "db 1/x?", "profile", { { NULL, NULL } } },
		  "http://h:1/pre/api/v1/vms/db%201%2fx%3f/profile" },
		{ "http://h:1", { "vms", "..", NULL, { { NULL, NULL } } },
		  "http://h:1/api/v1/vms/%2e%2e" },
		{ "http://h:1", { "vms", ".", "profile", { { NULL, NULL } } },
		  "http://h:1/api/v1/vms/%2e/profile" },
		{ "http://h:1", { "vms", "a.b", NULL, { { NULL, NULL } } },
		  "http://h:1/api/v1/vms/a.b" },
		{ "http://[::1]:2", { "placement", NULL, NULL, { { "policy", "dino" } } },
		  "http://[::1]:2/api/v1/placement?policy=dino" },
		{ "http://h:1", { "placement", NULL, NULL, { { "policy", NULL }, { "x", "1 2" } } },
		  "http://h:1/api/v1/placement?x=1%202" },
		{ "http://h:1", { "arrivals", NULL, NULL, { { NULL, NULL } } },
		  "http://h:1/api/v1/arrivals" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *url = NULL;

		CHECK_EQ_INT(nl_apply_api_url(cases[i].base, &cases[i].p, &url), 0);
		CHECK_STR(url, cases[i].want);
		free(url);
	}
}

/* ---- HTTP through libcurl ---- */

static int get(const char *base, const char *vm, size_t max, struct nl_apply_reply *r,
	       char *err, size_t errlen)
{
	struct nl_apply_query q = { NULL, vm, NULL, NULL };
	char *url = NULL;
	int rc = nl_apply_hints_url(base, &q, &url);

	CHECK_EQ_INT(rc, 0);
	if (rc)
		return rc;
	rc = nl_apply_http_get(url, 5, max, r, err, errlen);
	free(url);
	return rc;
}

static void test_http_get(void)
{
	struct nl_apply_reply r;
	char base[128], err[512];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	servers_start();
	/* the request: target decoded as sent, our User-Agent and Accept */
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port4);
	CHECK_EQ_INT(get(base, "a b/c&d", NL_APPLY_MAX_RESPONSE, &r, err, sizeof(err)), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_STR(r.content_type, "application/x-protobuf; proto=numalens.v1.HintList");
	pthread_mutex_lock(&seen.lock);
	CHECK_STR(seen.url, "/api/v1/hints");
	CHECK_STR(seen.vm, "a b/c&d");
	CHECK_STR(seen.agent, "numalens-apply");
	CHECK_STR(seen.accept, "application/x-protobuf");
	pthread_mutex_unlock(&seen.lock);
	nl_apply_reply_free(&r);
	/* a chunked body, whole */
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/chunked", port4);
	CHECK_EQ_INT(get(base, NULL, 100, &r, err, sizeof(err)), 0);
	CHECK_EQ_INT(r.body.len, 5);
	CHECK_STR(r.body.data, "abcde");
	nl_apply_reply_free(&r);
	/* the size cap, sized (Content-Length) and chunked */
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/big", port4);
	CHECK_EQ_INT(get(base, NULL, 1000, &r, err, sizeof(err)), -EFBIG);
	CHECK(strstr(err, "response larger than 1000 bytes") != NULL);
	nl_apply_reply_free(&r);
	CHECK_EQ_INT(get(base, NULL, 5000, &r, err, sizeof(err)), 0);
	CHECK_EQ_INT(r.body.len, 5000);
	nl_apply_reply_free(&r);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/bigchunked", port4);
	CHECK_EQ_INT(get(base, NULL, 1000, &r, err, sizeof(err)), -EFBIG);
	CHECK(strstr(err, "response larger than 1000 bytes") != NULL);
	nl_apply_reply_free(&r);
	/* an error status is an answer, not a failure */
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/text", port4);
	CHECK_EQ_INT(get(base, NULL, 1000, &r, err, sizeof(err)), 0);
	CHECK_EQ_INT(r.status, 500);
	CHECK_STR(r.body.data, "boom\n");
	nl_apply_reply_free(&r);
	/* IPv6 */
	if (srv6) {
		snprintf(base, sizeof(base), "http://[::1]:%d", port6);
		CHECK_EQ_INT(get(base, "test", 100000, &r, err, sizeof(err)), 0);
		CHECK_EQ_INT(r.status, 200);
		CHECK(r.body.len > 0);
		nl_apply_reply_free(&r);
	}
	/* nobody listening */
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", closed_port());
	CHECK_EQ_INT(get(base, NULL, 1000, &r, err, sizeof(err)), -ECONNREFUSED);
	CHECK(strstr(err, "cannot connect to http://127.0.0.1:") != NULL);
	nl_apply_reply_free(&r);
	curl_global_cleanup();
}

/* A server that takes the connection and never answers: the total
 * timeout ends the wait. */
static void test_http_timeout(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct nl_apply_reply r;
	struct timespec t0, t1;
	char url[128], err[512];
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;
	double secs;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 4) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/hints", ntohs(a.sin_port));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = nl_apply_http_get(url, 0.3, 1000, &r, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK_EQ_INT(rc, -ETIMEDOUT);
	CHECK(strstr(err, "no answer within 0.3 s") != NULL);
	CHECK(secs >= 0.25 && secs < 3);
	nl_apply_reply_free(&r);
	curl_global_cleanup();
	if (fd >= 0)
		close(fd);
}

/* The stop flag (a signal handler's) ends a transfer long before its
 * timeout: a server that takes the connection and never answers. */
static volatile sig_atomic_t stop_now;

static void *raise_stop(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	stop_now = 1;
	return NULL;
}

static void test_http_stop(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct nl_apply_reply r;
	struct timespec t0, t1;
	char url[128], err[512];
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;
	pthread_t th;
	double secs;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 4) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/hints", ntohs(a.sin_port));
	stop_now = 0;
	nl_apply_http_stop_on(&stop_now);
	CHECK_EQ_INT(pthread_create(&th, NULL, raise_stop, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = nl_apply_http_get(url, 20, 1000, &r, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK_EQ_INT(rc, -ECANCELED);
	CHECK(strstr(err, ": stopped (signal)") != NULL);
	/* libcurl asks at least once a second */
	CHECK(secs >= 0.25 && secs < 2.5);
	nl_apply_reply_free(&r);
	/* set before the transfer: it does not start; cleared: it runs */
	rc = nl_apply_http_get(url, 0.2, 1000, &r, err, sizeof(err));
	CHECK_EQ_INT(rc, -ECANCELED);
	nl_apply_reply_free(&r);
	nl_apply_http_stop_on(NULL);
	rc = nl_apply_http_get(url, 0.2, 1000, &r, err, sizeof(err));
	CHECK_EQ_INT(rc, -ETIMEDOUT);
	nl_apply_reply_free(&r);
	curl_global_cleanup();
	if (fd >= 0)
		close(fd);
}

/* ---- the answer ---- */

static void reply_of(struct nl_apply_reply *r, long status, const char *type,
		     const void *body, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->status = status;
	snprintf(r->content_type, sizeof(r->content_type), "%s", type);
	nl_buf_add(&r->body, body, len);
}

static void test_hints_decode(void)
{
	struct nl_apply_reply r;
	Numalens__V1__HintList *l;
	char err[512];
	size_t len;
	void *b;
	int ret;

	b = pack_error("no VM named \"ghost\" on this host", &len);
	reply_of(&r, 404, "application/x-protobuf; proto=numalens.v1.Error", b, len);
	CHECK(nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(ret, 3);
	CHECK_STR(err, "http://s answered 404: no VM named \"ghost\" on this host");
	nl_apply_reply_free(&r);
	reply_of(&r, 503, "application/x-protobuf", b, len);
	CHECK(nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(ret, 1);
	nl_apply_reply_free(&r);
	free(b);
	reply_of(&r, 500, "text/plain", "boom", 4);
	CHECK(nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(ret, 1);
	CHECK_STR(err, "http://s answered 500 with text/plain: boom");
	nl_apply_reply_free(&r);
	reply_of(&r, 200, "", "", 0);
	CHECK(nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "with no content type") != NULL);
	nl_apply_reply_free(&r);
	reply_of(&r, 200, "application/x-protobuf", "\xff\xff\xff", 3);
	CHECK(nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(ret, 1);
	CHECK(strstr(err, "not a valid numalens.v1.HintList") != NULL);
	nl_apply_reply_free(&r);
	/* an action op that is not in the enum: refused by nl_pb_check */
	{
		Numalens__V1__HintList hl = NUMALENS__V1__HINT_LIST__INIT;
		Numalens__V1__Hint h = NUMALENS__V1__HINT__INIT, *hs[1] = { &h };
		Numalens__V1__Action a = NUMALENS__V1__ACTION__INIT, *as[1] = { &a };
		uint8_t buf[64];

		a.has_op = 1;
		a.op = (Numalens__V1__ActionOp)99;
		h.actions = as;
		h.n_actions = 1;
		hl.hints = hs;
		hl.n_hints = 1;
		len = numalens__v1__hint_list__pack(&hl, buf);
		reply_of(&r, 200, "application/x-protobuf", buf, len);
		CHECK(nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err)) == NULL);
		CHECK_EQ_INT(ret, 1);
		CHECK(strstr(err, "not a valid numalens.v1.HintList: ") != NULL);
		nl_apply_reply_free(&r);
	}
	b = pack_hints("test", NULL, &len);
	reply_of(&r, 200, "application/x-protobuf; proto=numalens.v1.HintList", b, len);
	l = nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err));
	CHECK(l != NULL);
	CHECK_EQ_INT(ret, 0);
	CHECK(l && l->n_hints == 1 && !strcmp(l->hints[0]->vm, "test"));
	if (l)
		numalens__v1__hint_list__free_unpacked(l, NULL);
	nl_apply_reply_free(&r);
	free(b);
}

/* a hostile server's strings reach the terminal with every control byte
 * escaped: in hints (the VM name, the reason, an action's command) and in
 * error answers */
static void test_hostile_strings(void)
{
	Numalens__V1__HintList hl = NUMALENS__V1__HINT_LIST__INIT, *l;
	Numalens__V1__Hint h = NUMALENS__V1__HINT__INIT, *hs[1] = { &h };
	Numalens__V1__Action a = NUMALENS__V1__ACTION__INIT, *as[1] = { &a };
	struct nl_apply_reply r;
	uint8_t buf[512];
	char err[512];
	size_t len;
	void *b;
	int ret;

	h.vm = (char *)"vm\x1b]0;owned\x07";
	h.reason = (char *)"line\nnext\r\x1b[2J \xc2\x9b" "31m tab\tok \xc3\xa9";
	a.has_op = 1;
	a.op = NUMALENS__V1__ACTION_OP__PIN_VCPU;
	a.command = (char *)"virsh vcpupin x 0 0\x7f";
	h.actions = as;
	h.n_actions = 1;
	hl.hints = hs;
	hl.n_hints = 1;
	len = numalens__v1__hint_list__pack(&hl, buf);
	reply_of(&r, 200, "application/x-protobuf", buf, len);
	l = nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err));
	CHECK(l != NULL);
	if (l) {
		CHECK_STR(l->hints[0]->vm, "vm\\x1b]0;owned\\x07");
		CHECK_STR(l->hints[0]->reason, "line\nnext\\x0d\\x1b[2J \\x9b" "31m tab\tok \xc3\xa9");
		CHECK_STR(l->hints[0]->actions[0]->command, "virsh vcpupin x 0 0\\x7f");
		numalens__v1__hint_list__free_unpacked(l, NULL);
	}
	nl_apply_reply_free(&r);
	b = pack_error("no VM \x1b[31mred", &len);
	reply_of(&r, 404, "application/x-protobuf", b, len);
	CHECK(nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err)) == NULL);
	CHECK_STR(err, "http://s answered 404: no VM \\x1b[31mred");
	nl_apply_reply_free(&r);
	free(b);
	reply_of(&r, 500, "text/plain", "a\x1b[Hb", 5);
	CHECK(nl_apply_hints_decode("http://s", &r, &ret, err, sizeof(err)) == NULL);
	CHECK_STR(err, "http://s answered 500 with text/plain: a\\x1b[Hb");
	nl_apply_reply_free(&r);
}

/* ---- the whole command ---- */

#define APPLY(r, ...) cmd_run((r), nl_cmd_apply, "apply", (const char *const[]){ __VA_ARGS__, NULL })
#define expect cmd_expect

static void test_cmd_apply(void)
{
	static struct cmd_run r;
	char url[96], url6[96], urlp[96], closed[96], procfs[PATH_MAX + 32];

	servers_start();
	snprintf(url, sizeof(url), "--url=http://127.0.0.1:%d", port4);
	snprintf(url6, sizeof(url6), "--url=http://[::1]:%d", port6);
	snprintf(urlp, sizeof(urlp), "--url=http://127.0.0.1:%d/text/", port4);
	snprintf(closed, sizeof(closed), "--url=http://127.0.0.1:%d", closed_port());
	/* a fixture tree: a dry run reads no /proc file for a pin_vcpus hint */
	snprintf(procfs, sizeof(procfs), "--path.procfs=%s/tests/fixtures/two-socket/proc", NL_SRCDIR);

	/* a dry run: the current pinning from libvirt, nothing changed */
	APPLY(&r, url, "--vm=test", "--libvirt.uri=test:///default", procfs);
	expect(&r, 0, "dry run: nothing is changed (add --yes to apply)\n"
		      "hint h1: pin_vcpus of VM \"test\" -> node 0 (policy locality, step 2",
	       NULL);
	expect(&r, 0, "  would: pin vCPU 0 -> CPUs 0-1\n"
		      "        libvirt: virDomainPinVcpuFlags(dom, 0, map, maplen, VIR_DOMAIN_AFFECT_LIVE)\n"
		      "        same as: virsh vcpupin test 0 0-1 --live\n"
		      "        now CPUs 0-", NULL);
	expect(&r, 0, "showed 1 hint\n", NULL);
	CHECK(!strstr(r.out, "changed:"));
	if (srv6) {
		APPLY(&r, url6, "--vm", "test", "--libvirt.uri=test:///default", procfs);
		expect(&r, 0, "hint h1: pin_vcpus of VM \"test\"", NULL);
	}
	/* --yes through the whole command, on the test driver */
	APPLY(&r, url, "--vm=emu", "--libvirt.uri=test:///default", "--yes");
	expect(&r, 0, "  apply: pin emulator threads -> CPUs 0\n", NULL);
	expect(&r, 0, "        changed: pin emulator threads: CPUs 0-", "");
	expect(&r, 0, "applied 1 hint\n", NULL);
	/* exit 3: the server's 404 message; an empty list */
	APPLY(&r, url, "--vm=ghost");
	expect(&r, 3, NULL, "numalens apply: http://127.0.0.1:");
	expect(&r, 3, NULL, " answered 404: no VM named \"ghost\" on this host\n");
	APPLY(&r, url, "--vm=none");
	expect(&r, 3, NULL, "numalens apply: no matching hint for VM none\n");
	APPLY(&r, url, "--id=0000000000000000");
	expect(&r, 3, NULL, "numalens apply: no matching hint\n");
	/* exit 1: no server, a server that is not numalens */
	APPLY(&r, closed, "--vm=test");
	expect(&r, 1, NULL, "numalens apply: cannot connect to http://127.0.0.1:");
	APPLY(&r, urlp, "--vm=test");
	expect(&r, 1, NULL, "answered 500 with text/plain; charset=utf-8: boom");
	/* exit 2: usage */
	APPLY(&r, "--url=ftp://127.0.0.1:1", "--vm=test");
	expect(&r, 2, NULL, "--url: want http[s]://HOST[:PORT][/PREFIX], got \"ftp://127.0.0.1:1\"");
	APPLY(&r, url);
	expect(&r, 2, NULL, "give --id=ID or --vm=NAME");
	APPLY(&r, url, "--id=1", "--kind=evict");
	expect(&r, 2, NULL, "--kind goes with --vm");
	APPLY(&r, url, "--vm=test", "--colour=red");
	expect(&r, 2, NULL, "unknown flag --colour");
	APPLY(&r, url, "--vm=test", "--timeout=0");
	expect(&r, 2, NULL, "--timeout: want seconds in (0, 3600]");
	APPLY(&r, url, "--vm");
	expect(&r, 2, NULL, "--vm needs a value");
	APPLY(&r, url, "stray", "--vm=test");
	expect(&r, 2, NULL, "unexpected argument \"stray\"");
	APPLY(&r, url, "--vm=test", "--yes", procfs);
	expect(&r, 2, NULL, "--yes acts on real processes");
	/* a server that is not this host: only with --insecure */
	APPLY(&r, "--url=http://192.0.2.1:9808", "--vm=test");
	expect(&r, 2, NULL, "--url=http://192.0.2.1:9808 is not this host (loopback): hints from elsewhere are trusted over https with --tls.ca-file, or with --insecure");
	APPLY(&r, "--url=http://localhost.example:9808", "--vm=test");
	expect(&r, 2, NULL, "is not this host");
	CHECK(nl_apply_url_is_loopback("http://localhost:9808"));
	CHECK(nl_apply_url_is_loopback("http://127.0.0.2:1/x"));
	CHECK(nl_apply_url_is_loopback("http://[::1]:9808"));
	CHECK(!nl_apply_url_is_loopback("http://128.0.0.1:9808"));
	CHECK(!nl_apply_url_is_loopback("http://[::2]:9808"));
	APPLY(&r, url, "--vm=test", "--yes", "--dry-run");
	expect(&r, 2, NULL, "--yes or --dry-run, not both");
	/* --follow: its own flags and what it needs */
	APPLY(&r, url, "--follow", "--dry-run");
	expect(&r, 2, NULL, "--follow watches one policy: give --policy=POLICY");
	APPLY(&r, url, "--follow", "--dry-run", "--policy=numad");
	expect(&r, 2, NULL, "--policy: unknown policy \"numad\"");
	APPLY(&r, url, "--follow", "--policy=dino");
	expect(&r, 2, NULL, "--follow needs --yes (apply) or --dry-run (log only)");
	APPLY(&r, url, "--follow", "--policy=dino", "--dry-run", "--id=00ff");
	expect(&r, 2, NULL, "--follow takes new hints as they come; --id is for one");
	APPLY(&r, url, "--follow", "--policy=dino", "--yes", procfs);
	expect(&r, 2, NULL, "--yes acts on real processes");
	APPLY(&r, url, "--vm=test", "--interval=1");
	expect(&r, 2, NULL, "--interval goes with --follow");
	APPLY(&r, url, "--vm=test", "--backoff-max=5");
	expect(&r, 2, NULL, "--backoff-max goes with --follow");
	APPLY(&r, url, "--vm=test", "--state=/tmp/x");
	expect(&r, 2, NULL, "--state goes with --follow");
	APPLY(&r, url, "--follow", "--policy=dino", "--dry-run", "--interval=0");
	expect(&r, 2, NULL, "--interval: want seconds in (0, 3600]");
	APPLY(&r, "--url=ftp://127.0.0.1:1", "--follow", "--policy=dino", "--dry-run");
	expect(&r, 2, NULL, "--url: want http[s]://HOST[:PORT][/PREFIX], got \"ftp://127.0.0.1:1\"");
	APPLY(&r, url, "--follow", "--policy=dino", "--dry-run", "--state=/nonexistent/dir/ids");
	expect(&r, 1, NULL, "--state=/nonexistent/dir/ids: No such file or directory");
	APPLY(&r, "--help");
	expect(&r, 0, "usage: numalens apply (--id=ID | --vm=NAME [--kind=KIND]) [flags]", NULL);
	expect(&r, 0, "       numalens apply --follow --policy=POLICY (--yes | --dry-run)", NULL);
	CHECK_EQ_INT(nl_paths_set("/proc", "/sys"), 0);
}

static void test_teardown(void)
{
	if (srv4)
		MHD_stop_daemon(srv4);
	if (srv6)
		MHD_stop_daemon(srv6);
	srv4 = srv6 = NULL;
}

NL_TEST_MAIN(NL_T(test_hints_url), NL_T(test_hostile_strings),
	     NL_T(test_api_url),
	     NL_T(test_http_get),
	     NL_T(test_http_timeout),
	     NL_T(test_http_stop),
	     NL_T(test_hints_decode),
	     NL_T(test_cmd_apply),
	     NL_T(test_teardown))
