/* `numalens place` (exporter/cmd/place.c, place_out.c): splitting --to, the
 * summary of a host's Placement (best node, bytes and VMs that move), the
 * ranking and the exit status; and the whole command against a fake
 * numalens (libmicrohttpd on loopback port 0) that plays a source and
 * several candidates under URL prefixes: what is sent (the profile as
 * protobuf, ?policy=, the ArrivalRequest of --register), the table, the
 * JSON, and each exit status. Real daemons: tests/clients/run.sh. */
#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd/apply_priv.h"
#include "cmd/place_priv.h"
#include "harness.h"
#include "cmd_run.h"

#define GIB (1024ull * 1024 * 1024)

/* ---- canned answers ---- */

static Numalens__V1__NodeRank *rank_of(int node, double score, bool feasible, const char *code)
{
	Numalens__V1__NodeRank *r = calloc(1, sizeof(*r));

	numalens__v1__node_rank__init(r);
	r->has_node = r->has_score = r->has_feasible = 1;
	r->node = node;
	r->score = score;
	r->feasible = feasible;
	r->reason_code = strdup(code);
	r->reason = strdup(feasible ? "fits" : "needs 2.00 GiB, 0.10 GiB free above the reserve");
	return r;
}

static void add_move(Numalens__V1__NodeRank *r, const char *vm, uint64_t bytes)
{
	Numalens__V1__Move *m = calloc(1, sizeof(*m));

	numalens__v1__move__init(m);
	m->vm = strdup(vm);
	m->has_bytes = 1;
	m->bytes = bytes;
	r->moves = realloc(r->moves, (r->n_moves + 1) * sizeof(*r->moves));
	r->moves[r->n_moves++] = m;
}

/* A Placement as one candidate would answer. `recommended` -1: none fits. */
static Numalens__V1__Placement *placement(int recommended, size_t n, Numalens__V1__NodeRank **nodes)
{
	Numalens__V1__Placement *p = calloc(1, sizeof(*p));

	numalens__v1__placement__init(p);
	p->vm = strdup("alpha");
	p->has_fits = p->has_recommended_node = 1;
	p->fits = recommended >= 0;
	p->recommended_node = recommended;
	p->n_nodes = n;
	p->nodes = calloc(n ? n : 1, sizeof(*p->nodes));
	if (n)
		memcpy(p->nodes, nodes, n * sizeof(*nodes));
	return p;
}

/* The candidates, by URL prefix. */
static Numalens__V1__Placement *canned(const char *host)
{
	Numalens__V1__NodeRank *r[2];

	if (!strcmp(host, "roomy") || !strcmp(host, "twin")) {
		r[0] = rank_of(1, 0.9, true, "fits");
		r[1] = rank_of(0, 0.5, true, "fits");
		return placement(1, 2, r);
	}
	if (!strcmp(host, "tight")) {     /* the same score, but memory moves */
		r[0] = rank_of(0, 0.9, true, "fits_after_moves");
		add_move(r[0], "beta", GIB);
		add_move(r[0], "gamma", GIB / 2);
		add_move(r[0], "beta", GIB / 4);
		return placement(0, 1, r);
	}
	if (!strcmp(host, "low")) {
		r[0] = rank_of(0, 0.4, true, "fits");
		return placement(0, 1, r);
	}
	if (!strcmp(host, "full")) {
		r[0] = rank_of(0, 0, false, "memory");
		r[1] = rank_of(1, 0, false, "memory");
		return placement(-1, 2, r);
	}
	return placement(-1, 0, NULL);   /* "empty": a host without nodes */
}

static void *pack(const ProtobufCMessage *m, size_t *len)
{
	void *b;

	*len = protobuf_c_message_get_packed_size(m);
	b = malloc(*len ? *len : 1);
	protobuf_c_message_pack(m, b);
	return b;
}

static void *pack_profile(size_t *len)
{
	Numalens__V1__Profile p = NUMALENS__V1__PROFILE__INIT;

	p.vm = (char *)"alpha";
	p.uuid = (char *)"6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e";
	p.has_memory_bytes = p.has_vcpus = p.has_memory_intensive = 1;
	p.memory_bytes = 2 * GIB;
	p.vcpus = 2;
	p.memory_intensive = 1;
	return pack(&p.base, len);
}

static void *pack_arrival(size_t *len)
{
	Numalens__V1__Arrival a = NUMALENS__V1__ARRIVAL__INIT;
	Numalens__V1__DestinationPlacement d = NUMALENS__V1__DESTINATION_PLACEMENT__INIT;
	Numalens__V1__Hint h = NUMALENS__V1__HINT__INIT, *hs[1] = { &h };
	Numalens__V1__Target t = NUMALENS__V1__TARGET__INIT;
	int32_t nodes[1] = { 1 };

	a.vm = (char *)"alpha";
	a.uuid = (char *)"6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e";
	a.has_policy = 1;
	a.policy = NUMALENS__V1__POLICY__POLICY_SIMPLE;
	a.n_nodes = 1;
	a.nodes = nodes;
	a.reason = (char *)"node 1: highest score under simple";
	a.has_created = a.has_expires = 1;
	a.created = 1000;
	a.expires = 1600;
	h.id = (char *)"00000000000000aa";
	h.vm = (char *)"beta";
	h.has_kind = h.has_step = 1;
	h.kind = NUMALENS__V1__HINT_KIND__MIGRATE_MEMORY;
	h.step = 1;
	t.has_node = t.has_bytes = 1;
	t.node = 0;
	t.bytes = GIB;
	h.target = &t;
	a.n_hints = 1;
	a.hints = hs;
	/* multi-line, as a real host writes them */
	d.numatune_xml = (char *)"<numatune>\n  <memory mode='strict' nodeset='1'/>\n</numatune>";
	d.cputune_xml = (char *)"<cputune><vcpupin vcpu='0' cpuset='4-7'/></cputune>";
	d.migrate_param = (char *)"VIR_MIGRATE_PARAM_DEST_XML";
	d.virsh_usage = (char *)"virsh dumpxml --migratable alpha > alpha.xml\n"
			       "virsh migrate --live --xml alpha.xml alpha qemu+ssh://dest/system\n";
	a.placement = &d;
	return pack(&a.base, len);
}

static void *pack_error(unsigned code, const char *msg, size_t *len)
{
	Numalens__V1__Error e = NUMALENS__V1__ERROR__INIT;

	e.has_code = 1;
	e.code = code;
	e.message = (char *)msg;
	return pack(&e.base, len);
}

/* ---- the fake server ---- */

struct seen {
	pthread_mutex_t lock;
	int placements, arrivals;
	char policy[32], ctype[64], body_vm[64];
	char arr_vm[64], arr_host[32];
	int arr_policy;
	double arr_ttl;
	bool arr_has_ttl, arr_has_policy;
};

static struct seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };
static struct MHD_Daemon *srv;
static int port;

/* "/HOST/api/v1/REST" -> HOST into host, REST returned; NULL otherwise. */
static const char *split_url(const char *url, char *host, size_t len)
{
	const char *api = strstr(url, "/api/v1/");

	if (!api || url[0] != '/')
		return NULL;
	snprintf(host, len, "%.*s", (int)(api - url - 1 > 0 ? api - url - 1 : 0), url + 1);
	return api + 8;
}

static void record_post(struct MHD_Connection *conn, const char *host, const char *rest,
			const struct nl_buf *body)
{
	const char *pol = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "policy");
	const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	const uint8_t *data = (const uint8_t *)(body->data ? body->data : "");

	pthread_mutex_lock(&seen.lock);
	snprintf(seen.ctype, sizeof(seen.ctype), "%s", ct ? ct : "");
	if (!strcmp(rest, "placement")) {
		Numalens__V1__Profile *p = numalens__v1__profile__unpack(NULL, body->len, data);

		seen.placements++;
		snprintf(seen.policy, sizeof(seen.policy), "%s", pol ? pol : "(none)");
		snprintf(seen.body_vm, sizeof(seen.body_vm), "%s", p && p->vm ? p->vm : "");
		if (p)
			numalens__v1__profile__free_unpacked(p, NULL);
	} else {
		Numalens__V1__ArrivalRequest *a = numalens__v1__arrival_request__unpack(NULL, body->len, data);

		seen.arrivals++;
		snprintf(seen.arr_host, sizeof(seen.arr_host), "%s", host);
		snprintf(seen.arr_vm, sizeof(seen.arr_vm), "%s",
			 a && a->profile && a->profile->vm ? a->profile->vm : "");
		seen.arr_has_policy = a && a->has_policy;
		seen.arr_policy = a ? (int)a->policy : -1;
		seen.arr_has_ttl = a && a->has_ttl_seconds;
		seen.arr_ttl = a ? a->ttl_seconds : 0;
		if (a)
			numalens__v1__arrival_request__free_unpacked(a, NULL);
	}
	pthread_mutex_unlock(&seen.lock);
}

/* The answer to one whole request: body, type, status. */
static void *answer(struct MHD_Connection *conn, const char *url, const char *method,
		    const struct nl_buf *body, size_t *len, const char **type, unsigned *status)
{
	char host[32];
	const char *rest = split_url(url, host, sizeof(host));

	*status = 200;
	*type = "application/x-protobuf; proto=numalens.v1.Error";
	if (!rest) {
		*status = 404;
		return pack_error(404, "no API endpoint", len);
	}
	if (!strcmp(method, "GET") && !strcmp(rest, "vms/alpha/profile")) {
		*type = "application/x-protobuf; proto=numalens.v1.Profile";
		return pack_profile(len);
	}
	if (!strcmp(method, "GET")) {
		*status = 404;
		return pack_error(404, "no VM named \"ghost\" on this host", len);
	}
	record_post(conn, host, rest, body);
	if (!strcmp(host, "broken")) {
		*status = 500;
		*type = "text/plain";
		*len = 5;
		return strdup("boom\n");
	}
	if (!strcmp(rest, "arrivals") && !strcmp(host, "twin")) {
		*status = 409;
		return pack_error(409, "VM alpha is already expected here", len);
	}
	if (!strcmp(rest, "arrivals")) {
		*status = 201;
		*type = "application/x-protobuf; proto=numalens.v1.Arrival";
		return pack_arrival(len);
	}
	*type = "application/x-protobuf; proto=numalens.v1.Placement";
	{
		Numalens__V1__Placement *p = canned(host);
		void *b = pack(&p->base, len);

		numalens__v1__placement__free_unpacked(p, NULL);
		return b;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct nl_buf *body = *con_cls;
	struct MHD_Response *r;
	const char *type;
	unsigned status;
	enum MHD_Result ok;
	size_t len = 0;
	void *b;

	(void)cls, (void)version;
	if (!body) {                    /* the headers: keep a buffer for the body */
		body = calloc(1, sizeof(*body));
		*con_cls = body;
		return body ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		nl_buf_add(body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	b = answer(conn, url, method, body, &len, &type, &status);
	nl_buf_free(body);
	free(body);
	*con_cls = NULL;
	r = MHD_create_response_from_buffer(len, b, MHD_RESPMEM_MUST_FREE);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static void server_start(void)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;

	if (srv)
		return;
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
			       MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a4, MHD_OPTION_END);
	CHECK(srv != NULL);
	info = srv ? MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	port = info ? info->port : 0;
}

/* A loopback port with nothing listening (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		p = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

/* ---- the pieces ---- */

static void test_split(void)
{
	const char *u[3];
	char a[] = "http://a:1,http://b:2", b[] = "http://a:1", c[] = "http://a:1,,http://b",
	     d[] = "x,y,z,w", e[] = "", f[] = "http://a:1,";

	CHECK_EQ_INT(nl_place_split(a, u, 3), 2);
	CHECK_STR(u[0], "http://a:1");
	CHECK_STR(u[1], "http://b:2");
	CHECK_EQ_INT(nl_place_split(b, u, 3), 1);
	CHECK_STR(u[0], "http://a:1");
	CHECK_EQ_INT(nl_place_split(c, u, 3), -EINVAL);
	CHECK_EQ_INT(nl_place_split(d, u, 3), -E2BIG);
	CHECK_EQ_INT(nl_place_split(e, u, 3), -EINVAL);
	CHECK_EQ_INT(nl_place_split(f, u, 3), -EINVAL);
}

static struct nl_place_host host_of(const char *name, size_t index)
{
	struct nl_place_host h;

	memset(&h, 0, sizeof(h));
	h.url = name;
	h.index = index;
	if (!strcmp(name, "dead")) {
		h.rc = -ECONNREFUSED;
		snprintf(h.err, sizeof(h.err), "cannot connect");
	} else {
		h.pl = canned(name);
	}
	nl_place_summarise(&h);
	return h;
}

static void free_hosts(struct nl_place_host *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].pl)
			numalens__v1__placement__free_unpacked(h[i].pl, NULL);
}

static void test_summarise(void)
{
	struct nl_place_host h;

	/* the recommended node, not the first listed */
	h = host_of("roomy", 0);
	CHECK(h.fits);
	CHECK(h.best && h.best->node == 1);
	CHECK_EQ_U64(h.move_bytes, 0);
	CHECK_EQ_INT(h.nmovers, 0);
	free_hosts(&h, 1);
	/* every move counted, each VM once */
	h = host_of("tight", 0);
	CHECK(h.fits && h.best && h.best->node == 0);
	CHECK_EQ_U64(h.move_bytes, GIB + GIB / 2 + GIB / 4);
	CHECK_EQ_INT(h.nmovers, 2);
	CHECK_STR(h.movers[0], "beta");
	CHECK_STR(h.movers[1], "gamma");
	free_hosts(&h, 1);
	/* nothing fits: the top node and its reason stay for the table */
	h = host_of("full", 0);
	CHECK(!h.fits);
	CHECK(h.best && h.best->node == 0 && !h.best->feasible);
	free_hosts(&h, 1);
	h = host_of("empty", 0);
	CHECK(!h.fits && !h.best);
	free_hosts(&h, 1);
	h = host_of("dead", 0);
	CHECK(!h.fits && !h.best);
}

static void test_rank(void)
{
	static const char *const in[] = { "dead", "full", "low", "tight", "twin", "roomy", "empty" };
	static const char *const want[] = { "twin", "roomy", "tight", "low", "full", "empty", "dead" };
	struct nl_place_host h[7];

	for (size_t i = 0; i < 7; i++)
		h[i] = host_of(in[i], i);
	nl_place_rank(h, 7);
	/* score first; the same score: fewer bytes to move; then --to order */
	for (size_t i = 0; i < 7; i++)
		CHECK_STR(h[i].url, want[i]);
	CHECK_EQ_INT(nl_place_status(h, 7), NL_PLACE_OK);
	/* nothing fits, and a host could not be asked: 4 */
	CHECK_EQ_INT(nl_place_status(h + 4, 3), NL_PLACE_NET);
	/* nothing fits, every host answered: 3 */
	CHECK_EQ_INT(nl_place_status(h + 4, 2), NL_PLACE_NO_FIT);
	CHECK_EQ_INT(nl_place_status(h + 6, 1), NL_PLACE_NET);
	CHECK_EQ_INT(nl_place_status(h, 0), NL_PLACE_NO_FIT);
	free_hosts(h, 7);
}

/* ---- the command ---- */

#define PLACE(r, ...) cmd_run((r), nl_cmd_place, "place", (const char *const[]){ __VA_ARGS__, NULL })
#define expect cmd_expect

/* The --to value of hosts (names) on the fake server. */
static void to_of(char *buf, size_t len, const char *const *names)
{
	size_t k = (size_t)snprintf(buf, len, "--to=");

	for (; *names && k < len; names++)
		k += (size_t)snprintf(buf + k, len - k, "%shttp://127.0.0.1:%d/%s",
				      buf[k - 1] == '=' ? "" : ",", port, *names);
}

static void test_cmd_table(void)
{
	static struct cmd_run r;
	char from[96], to[512], line[256], dead[64];

	server_start();
	snprintf(from, sizeof(from), "--from=http://127.0.0.1:%d/src", port);
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", closed_port());
	to_of(to, sizeof(to), (const char *const[]){ "full", "tight", "roomy", NULL });
	snprintf(to + strlen(to), sizeof(to) - strlen(to), ",%s", dead);
	PLACE(&r, from, "--vm=alpha", to);
	expect(&r, 0, "VM \"alpha\" from http://127.0.0.1:", NULL);
	expect(&r, 0, ": 2.00 GiB, 2 vCPUs, memory-intensive; policy (each host's default)\n", NULL);
	/* ranked, best first, whatever the order of --to */
	snprintf(line, sizeof(line), "   1  http://127.0.0.1:%d/roomy ", port);
	expect(&r, 0, line, NULL);
	expect(&r, 0, "     1   0.90  yes       nothing\n", NULL);
	snprintf(line, sizeof(line), "   2  http://127.0.0.1:%d/tight ", port);
	expect(&r, 0, line, NULL);
	expect(&r, 0, "     0   0.90  yes       1.75 GiB of 2 VMs: beta, gamma\n", NULL);
	snprintf(line, sizeof(line), "   3  http://127.0.0.1:%d/full ", port);
	expect(&r, 0, line, NULL);
	expect(&r, 0, "     0   0.00  no        memory: needs 2.00 GiB", NULL);
	snprintf(line, sizeof(line), "   -  %s", dead);
	expect(&r, 0, line, NULL);
	expect(&r, 0, "  error: cannot connect to http://127.0.0.1:", NULL);
	snprintf(line, sizeof(line), "best: http://127.0.0.1:%d/roomy, node 1 (score 0.90)\n", port);
	expect(&r, 0, line, NULL);
	CHECK(!strstr(r.out, "registered"));
	/* sent: the source's profile as protobuf, no ?policy= unless asked */
	pthread_mutex_lock(&seen.lock);
	CHECK_EQ_INT(seen.placements, 3);
	CHECK_EQ_INT(seen.arrivals, 0);
	CHECK_STR(seen.body_vm, "alpha");
	CHECK_STR(seen.ctype, "application/x-protobuf");
	CHECK_STR(seen.policy, "(none)");
	pthread_mutex_unlock(&seen.lock);
	PLACE(&r, from, "--vm=alpha", to, "--policy=dino");
	pthread_mutex_lock(&seen.lock);
	CHECK_STR(seen.policy, "dino");
	pthread_mutex_unlock(&seen.lock);
	expect(&r, 0, "; policy dino\n", NULL);
}

static void test_cmd_status(void)
{
	static struct cmd_run r;
	char from[96], to[512], dead[96];

	server_start();
	snprintf(from, sizeof(from), "--from=http://127.0.0.1:%d/src", port);
	snprintf(dead, sizeof(dead), "--to=http://127.0.0.1:%d", closed_port());
	/* 3: every candidate answered, none fits */
	to_of(to, sizeof(to), (const char *const[]){ "full", "empty", NULL });
	PLACE(&r, from, "--vm=alpha", to);
	expect(&r, 3, "no host fits VM \"alpha\"\n", NULL);
	expect(&r, 3, "the host has no nodes to rank\n", NULL);
	/* 4: a candidate that might have fitted did not answer */
	to_of(to, sizeof(to), (const char *const[]){ "full", "broken", NULL });
	PLACE(&r, from, "--vm=alpha", to);
	expect(&r, 4, "answered 500 with text/plain: boom", NULL);
	PLACE(&r, from, "--vm=alpha", dead);
	expect(&r, 4, "no host could be asked\n", NULL);
	/* but 0 when the best host fits, even if another failed */
	to_of(to, sizeof(to), (const char *const[]){ "broken", "low", NULL });
	PLACE(&r, from, "--vm=alpha", to);
	expect(&r, 0, "best: http://127.0.0.1:", NULL);
	/* 4: the source */
	PLACE(&r, from, "--vm=ghost", to);
	expect(&r, 4, NULL, "numalens place: the profile of VM \"ghost\": http://127.0.0.1:");
	expect(&r, 4, NULL, " answered 404: no VM named \"ghost\" on this host\n");
	snprintf(from, sizeof(from), "--from=http://127.0.0.1:%d", closed_port());
	PLACE(&r, from, "--vm=alpha", to);
	expect(&r, 4, NULL, "cannot connect to http://127.0.0.1:");
	/* 2: usage */
	PLACE(&r, "--vm=alpha", to);
	expect(&r, 2, NULL, "give --from=URL, --vm=NAME and --to=URL[,URL...]");
	PLACE(&r, "--from=ftp://127.0.0.1:1", "--vm=alpha", to);
	expect(&r, 2, NULL, "--from: want http[s]://HOST[:PORT][/PREFIX], got \"ftp://127.0.0.1:1\"");
	PLACE(&r, from, "--vm=alpha", "--to=http://a:1,,http://b:2");
	expect(&r, 2, NULL, "--to: want URL[,URL...], without empty items");
	PLACE(&r, from, "--vm=alpha", "--to=http://a:1,ftp://b");
	expect(&r, 2, NULL, "--to: want http[s]://HOST[:PORT][/PREFIX], got \"ftp://b\"");
	PLACE(&r, from, "--vm=alpha", to, "--policy=numad");
	expect(&r, 2, NULL, "--policy: unknown policy \"numad\"");
	PLACE(&r, from, "--vm=alpha", to, "--ttl=60");
	expect(&r, 2, NULL, "--ttl goes with --register");
	PLACE(&r, from, "--vm=alpha", to, "--register", "--ttl=0");
	expect(&r, 2, NULL, "--ttl: want seconds in (0, 604800]");
	PLACE(&r, from, "--vm=alpha", to, "--colour=red");
	expect(&r, 2, NULL, "unknown flag --colour");
	PLACE(&r, "--help");
	expect(&r, 0, "usage: numalens place --from=URL --vm=NAME --to=URL[,URL...] [flags]", NULL);
}

static void test_cmd_register(void)
{
	static struct cmd_run r;
	char from[96], to[512], line[256];

	server_start();
	snprintf(from, sizeof(from), "--from=http://127.0.0.1:%d/src", port);
	to_of(to, sizeof(to), (const char *const[]){ "tight", "roomy", NULL });
	pthread_mutex_lock(&seen.lock);
	seen.arrivals = 0;
	pthread_mutex_unlock(&seen.lock);
	PLACE(&r, from, "--vm=alpha", to, "--register", "--policy=simple", "--ttl=120");
	snprintf(line, sizeof(line), "registered on http://127.0.0.1:%d/roomy: VM \"alpha\" "
		 "(6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e) -> node 1, policy simple, expires in 600 s\n", port);
	expect(&r, 0, line, NULL);
	expect(&r, 0, "  why: node 1: highest score under simple\n", NULL);
	expect(&r, 0, "    00000000000000aa: migrate_memory of VM \"beta\" -> node 0 (1.00 GiB, step 1)\n", NULL);
	expect(&r, 0, "    <numatune>\n"
		      "      <memory mode='strict' nodeset='1'/>\n"
		      "    </numatune>\n"
		      "    <cputune><vcpupin vcpu='0' cpuset='4-7'/></cputune>\n"
		      "  libvirt:\n"
		      "    VIR_MIGRATE_PARAM_DEST_XML\n"
		      "  same as:\n"
		      "    virsh dumpxml --migratable alpha > alpha.xml\n"
		      "    virsh migrate --live --xml alpha.xml alpha qemu+ssh://dest/system\n", NULL);
	/* on the winner only, with the profile, the policy and the TTL */
	pthread_mutex_lock(&seen.lock);
	CHECK_EQ_INT(seen.arrivals, 1);
	CHECK_STR(seen.arr_host, "roomy");
	CHECK_STR(seen.arr_vm, "alpha");
	CHECK(seen.arr_has_policy && seen.arr_policy == NUMALENS__V1__POLICY__POLICY_SIMPLE);
	CHECK(seen.arr_has_ttl);
	CHECK_NEAR(seen.arr_ttl, 120, 1e-9);
	pthread_mutex_unlock(&seen.lock);
	/* without --policy and --ttl they are left to the host */
	PLACE(&r, from, "--vm=alpha", to, "--register");
	expect(&r, 0, "registered on", NULL);
	pthread_mutex_lock(&seen.lock);
	CHECK(!seen.arr_has_policy && !seen.arr_has_ttl);
	pthread_mutex_unlock(&seen.lock);
	/* a refused registration: 4 with the host's message */
	to_of(to, sizeof(to), (const char *const[]){ "twin", NULL });
	PLACE(&r, from, "--vm=alpha", to, "--register");
	expect(&r, 4, "best: http://127.0.0.1:", "registering the arrival on http://127.0.0.1:");
	expect(&r, 4, NULL, "answered 409: VM alpha is already expected here\n");
	/* nothing fits: nothing registered */
	pthread_mutex_lock(&seen.lock);
	seen.arrivals = 0;
	pthread_mutex_unlock(&seen.lock);
	to_of(to, sizeof(to), (const char *const[]){ "full", NULL });
	PLACE(&r, from, "--vm=alpha", to, "--register");
	expect(&r, 3, "no host fits", NULL);
	pthread_mutex_lock(&seen.lock);
	CHECK_EQ_INT(seen.arrivals, 0);
	pthread_mutex_unlock(&seen.lock);
}

static void test_cmd_json(void)
{
	static struct cmd_run r;
	char from[96], to[512];
	cJSON *j, *hosts, *h;

	server_start();
	snprintf(from, sizeof(from), "--from=http://127.0.0.1:%d/src", port);
	to_of(to, sizeof(to), (const char *const[]){ "broken", "tight", "roomy", NULL });
	PLACE(&r, from, "--vm=alpha", to, "--json", "--register");
	CHECK_EQ_INT(r.rc, 0);
	j = cJSON_Parse(r.out);
	CHECK(j != NULL);
	if (!j) {
		fprintf(stderr, "  not JSON: %s\n", r.out);
		return;
	}
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "vm")), "alpha");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "policy")));
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "profile"),
								  "memory_bytes")), 2 * GIB);
	hosts = cJSON_GetObjectItem(j, "hosts");
	CHECK_EQ_INT(cJSON_GetArraySize(hosts), 3);
	h = cJSON_GetArrayItem(hosts, 0);
	CHECK(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(h, "url")) ?: "", "/roomy") != NULL);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(h, "fits")));
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(h, "node")), 1);
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(h, "rank")), 1);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(h, "placement"),
							    "nodes")), 2);
	h = cJSON_GetArrayItem(hosts, 1);
	CHECK_EQ_U64(cJSON_GetNumberValue(cJSON_GetObjectItem(h, "move_bytes")), GIB + GIB / 2 + GIB / 4);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(h, "move_vms"), 1)), "gamma");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "reason_code")), "fits_after_moves");
	h = cJSON_GetArrayItem(hosts, 2);
	CHECK(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(h, "error")) ?: "", "answered 500") != NULL);
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(h, "status")), 500);
	CHECK(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(j, "best")) ?: "", "/roomy") != NULL);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		j, "arrival"), "placement"), "migrate_param")), "VIR_MIGRATE_PARAM_DEST_XML");
	cJSON_Delete(j);
}

static void test_teardown(void)
{
	if (srv)
		MHD_stop_daemon(srv);
	srv = NULL;
}

NL_TEST_MAIN(NL_T(test_split),
	     NL_T(test_summarise),
	     NL_T(test_rank),
	     NL_T(test_cmd_table),
	     NL_T(test_cmd_status),
	     NL_T(test_cmd_register),
	     NL_T(test_cmd_json),
	     NL_T(test_teardown))
