/* /api/v1: answers built from a snapshot with real engine hints, in JSON and
 * protobuf; protobuf round trip; JSON <-> protobuf mapping; content
 * negotiation; every kind of bad request (malformed JSON, truncated and
 * invalid protobuf, unknown fields, oversized bodies, unknown VMs,
 * policies, arguments, methods, media types); the same through a real
 * libmicrohttpd server; and that every engine enum maps onto the .proto
 * enum value of its name. (`numalens apply` has tests/unit/test_apply.c.) */
#include <arpa/inet.h>
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "api_priv.h"
#include "harness.h"
#include "hints.h"
#include "http.h"
#include "log.h"
#include "numalens.pb-c.h"
#include "pbjson.h"
#include "score.h"
#include "snapshot.h"

#define GiB (1024.0 * 1024 * 1024)

/* ---- a 2-node host with one memory-intensive VM running remote ---- */

struct vmspec {
	const char *name, *uuid;
	double mem[2], vcpu[2], mpki;
	int vcpu_pin;
	uint64_t instr, llc;
};

static struct vmspec specs[2] = {
	{ "cold", "11111111-2222-4333-8444-555555555555", { 1 * GiB, 3 * GiB }, { 0, 1 }, 0.2, -1, 0, 0 },
	{ "web", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", { 6 * GiB, 2 * GiB }, { 0, 2 }, 25, 1, 0, 0 },
};

static double clock_t0 = 1.7e9;
static uint64_t mono_t0 = 5000000000000ULL;

static void node_set(struct nl_cpuset *s, int node)
{
	nl_cpuset_zero(s);
	for (int c = 0; c < 8; c++)
		if (node < 0 || c / 4 == node)
			nl_cpuset_set(s, c);
}

static struct nl_snapshot *make_snapshot(void)
{
	struct nl_snapshot *s = calloc(1, sizeof(*s));

	clock_t0 += 2;
	mono_t0 += 2000000000ULL;
	s->refs = 1;
	s->timestamp = clock_t0;
	s->mono_ns = mono_t0;
	s->window_seconds = 2;
	s->topo_valid = true;
	s->topo.nnodes = 2;
	s->topo.ncpus = 8;
	for (int n = 0; n < 2; n++) {
		s->topo.nodes[n].id = n;
		node_set(&s->topo.nodes[n].cpus, n);
		s->topo.nodes[n].mem_total_bytes = (uint64_t)(32 * GiB);
		s->topo.nodes[n].mem_free_bytes = (uint64_t)(20 * GiB);
		for (int m = 0; m < 2; m++)
			s->topo.distance[n][m] = n == m ? 10 : 21;
		for (int c = 0; c < 4; c++)
			s->topo.cpu_node[n * 4 + c] = (int16_t)n;
	}
	s->nevents = 2;
	snprintf(s->events[0].name, sizeof(s->events[0].name), "instructions");
	snprintf(s->events[1].name, sizeof(s->events[1].name), "llc_misses");
	s->events[0].supported = s->events[1].supported = 1;
	s->vms = calloc(2, sizeof(*s->vms));
	s->nvms = 2;
	for (int i = 0; i < 2; i++) {
		struct vmspec *sp = &specs[i];
		struct nl_vm_snap *v = &s->vms[i];

		snprintf(v->name, sizeof(v->name), "%s", sp->name);
		snprintf(v->uuid, sizeof(v->uuid), "%s", sp->uuid);
		v->pid = 7000 + i;
		v->backend = NL_BACKEND_LIBVIRT;
		v->mem_source = NL_MEM_CGROUP_V2;
		for (int n = 0; n < 2; n++) {
			v->mem_bytes[n] = (uint64_t)sp->mem[n];
			v->mem_total_bytes += v->mem_bytes[n];
		}
		uint64_t d_instr = 4000000000ULL, d_llc = (uint64_t)(4e9 * sp->mpki / 1000);

		sp->instr += d_instr;
		sp->llc += d_llc;
		v->series = calloc(3, sizeof(*v->series));
		v->threads = calloc(1, sizeof(*v->threads));
		for (int c = 0; c < 2; c++) {
			struct nl_series *se = &v->series[v->nseries++];

			se->role = NL_ROLE_VCPU;
			se->index = c;
			se->nthreads = 1;
			node_set(&se->cpus_allowed, sp->vcpu_pin);
			se->mems_allowed = 3;
			for (int n = 0; n < 2; n++)
				se->win_node_ns[n] = se->node_ns[n] = (uint64_t)(sp->vcpu[n] / 2 * 2e9);
			if (c == 0) {
				se->events[0] = sp->instr;
				se->events[1] = sp->llc;
				se->events_valid = 3;
				se->win_events[0] = d_instr;
				se->win_events[1] = d_llc;
				se->win_valid = 3;
			}
		}
		{
			struct nl_series *se = &v->series[v->nseries++];

			se->role = NL_ROLE_EMULATOR;
			se->index = -1;
			se->nthreads = 2;
			node_set(&se->cpus_allowed, -1);
			se->mems_allowed = 3;
		}
		for (int r = 0; r <= NL_ROLE_ALL; r++)
			v->locality[r] = v->distance[r] = NAN;
		v->locality[NL_ROLE_VCPU] = sp->mem[1] / (sp->mem[0] + sp->mem[1]);
		/* the window's PMU scores, as snapshot.c computes them */
		for (int r = 0; r <= NL_ROLE_ALL; r++)
			v->pmu_locality[r] = v->llc_mpki[r] = v->cpi[r] = NAN;
		v->llc_mpki[NL_ROLE_VCPU] = v->llc_mpki[NL_ROLE_ALL] = nl_score_mpki(d_llc, d_instr);
	}
	return s;
}

static struct nl_hints *engine;
static struct nl_snapshot *snap;   /* with hints */

static void setup(void)
{
	struct nl_hint_config cfg;

	if (snap)
		return;
	nl_hint_config_defaults(&cfg);
	engine = nl_hints_new(&cfg);
	for (int i = 0; i < 6; i++) {
		struct nl_snapshot *s = make_snapshot();

		nl_hints_update(engine, s);
		nl_snapshot_put(snap);
		snap = s;
	}
}

/* ---- requests ---- */

struct call {
	struct nl_api_arg args[8];
	size_t nargs;
	struct nl_api_reply rp;
	int ret;
};

static void call_free(struct call *c)
{
	nl_buf_free(&c->rp.body);
	memset(c, 0, sizeof(*c));
}

static int request(struct call *c, const struct nl_snapshot *s, const char *method,
		   const char *path, const char *accept, const char *ctype,
		   const char *body, size_t body_len)
{
	struct nl_api_request rq = { 0 };

	rq.method = method;
	rq.path = path;
	rq.accept = accept;
	rq.content_type = ctype;
	rq.args = c->args;
	rq.nargs = c->nargs;
	rq.body = body;
	rq.body_len = body_len;
	rq.body_too_large = body_len > NL_API_MAX_BODY;
	c->ret = nl_api_handle(s, &rq, &c->rp);
	return c->ret ? -1 : (int)c->rp.status;
}

static int get(struct call *c, const char *path, const char *accept)
{
	return request(c, snap, "GET", path, accept, NULL, NULL, 0);
}

/* The "message" of a JSON error answer, or "". */
static const char *err_msg(struct call *c, char *buf, size_t len)
{
	cJSON *j = cJSON_Parse(c->rp.body.data ? c->rp.body.data : "");
	cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error") ? j : j, "message");

	snprintf(buf, len, "%s", cJSON_IsString(e) ? e->valuestring : "");
	cJSON_Delete(j);
	return buf;
}

static void test_hints_json(void)
{
	struct call c = { 0 };
	cJSON *j, *hints, *h;
	int npin = 0;

	setup();
	CHECK_EQ_INT(get(&c, "/api/v1/hints", NULL), 200);
	CHECK_STR(c.rp.content_type, "application/json");
	j = cJSON_Parse(c.rp.body.data);
	CHECK(j != NULL);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "policy")), "locality");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "inputs")), "pmu");
	hints = cJSON_GetObjectItem(j, "hints");
	CHECK(cJSON_GetArraySize(hints) >= 2);
	cJSON_ArrayForEach(h, hints) {
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(h, "kind"));
		cJSON *t = cJSON_GetObjectItem(h, "target"), *a;

		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "vm")), "web");
		CHECK_EQ_INT(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(h, "id"))), 16);
		CHECK_EQ_INT(cJSON_GetObjectItem(t, "node")->valueint, 0);
		CHECK(cJSON_GetObjectItem(h, "evidence") != NULL);
		CHECK(cJSON_GetObjectItem(h, "reason") != NULL);
		CHECK(cJSON_GetObjectItem(h, "confidence") != NULL);
		CHECK(cJSON_GetObjectItem(h, "expires")->valuedouble >
		      cJSON_GetObjectItem(h, "created")->valuedouble);
		if (kind && !strcmp(kind, "pin_vcpus")) {
			npin++;
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(t, "cpus")), "0-3");
			CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(t, "vcpus")), 2);
			a = cJSON_GetArrayItem(cJSON_GetObjectItem(h, "actions"), 1);
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "op")), "pin_vcpu");
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "command")),
				  "virsh vcpupin web 1 0-3 --live");
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
				cJSON_GetObjectItem(h, "evidence"), "intensity_metric")),
				  "llc_bytes_per_second");
		}
	}
	CHECK_EQ_INT(npin, 1);
	cJSON_Delete(j);
	call_free(&c);

	/* filters */
	c.args[0] = (struct nl_api_arg){ "kind", "migrate_memory" };
	c.args[1] = (struct nl_api_arg){ "vm", "web" };
	c.args[2] = (struct nl_api_arg){ "policy", "asymsched" };
	c.nargs = 3;
	CHECK_EQ_INT(get(&c, "/api/v1/hints", NULL), 200);
	j = cJSON_Parse(c.rp.body.data);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "policy")), "asymsched");
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "hints")), 1);
	cJSON_Delete(j);
	call_free(&c);
	c.args[0] = (struct nl_api_arg){ "vm", "cold" };
	c.nargs = 1;
	CHECK_EQ_INT(get(&c, "/api/v1/hints", NULL), 200);
	j = cJSON_Parse(c.rp.body.data);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "hints")), 0);
	cJSON_Delete(j);
	call_free(&c);
}

static void test_protobuf_round_trip(void)
{
	struct call c = { 0 }, cj = { 0 };
	Numalens__V1__HintList *l;
	cJSON *j;
	uint8_t *again;
	size_t n;

	setup();
	CHECK_EQ_INT(get(&c, "/api/v1/hints", "application/x-protobuf"), 200);
	CHECK_STR(c.rp.content_type, "application/x-protobuf; proto=numalens.v1.HintList");
	l = numalens__v1__hint_list__unpack(NULL, c.rp.body.len, (uint8_t *)c.rp.body.data);
	CHECK(l != NULL);
	if (!l)
		goto cleanup;
	/* the same content as the JSON answer */
	CHECK_EQ_INT(get(&cj, "/api/v1/hints", "application/json"), 200);
	j = cJSON_Parse(cj.rp.body.data);
	CHECK_EQ_INT(l->n_hints, (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(j, "hints")));
	for (size_t i = 0; i < l->n_hints; i++) {
		cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "hints"), (int)i);

		CHECK_STR(l->hints[i]->id, cJSON_GetStringValue(cJSON_GetObjectItem(h, "id")));
		CHECK_EQ_INT(l->hints[i]->n_actions,
			     cJSON_GetArraySize(cJSON_GetObjectItem(h, "actions")));
		CHECK_NEAR(l->hints[i]->expected_gain,
			   cJSON_GetObjectItem(h, "expected_gain")->valuedouble, 0);
	}
	CHECK_EQ_INT(l->policy, NUMALENS__V1__POLICY__POLICY_LOCALITY);
	CHECK(l->n_hints > 0 && l->hints[0]->evidence && l->hints[0]->evidence->has_llc_mpki);
	cJSON_Delete(j);
	/* unpack + pack is byte-identical */
	n = numalens__v1__hint_list__get_packed_size(l);
	CHECK_EQ_INT(n, c.rp.body.len);
	again = malloc(n);
	numalens__v1__hint_list__pack(l, again);
	CHECK(memcmp(again, c.rp.body.data, n) == 0);
	free(again);
	/* JSON -> protobuf -> JSON is the identity */
	{
		ProtobufCMessage *m = NULL;
		struct nl_buf b = { 0 };
		char err[256];

		CHECK_EQ_INT(nl_pbjson_decode(&numalens__v1__hint_list__descriptor, cj.rp.body.data,
					      cj.rp.body.len, &m, err, sizeof(err)), 0);
		if (m) {
			nl_pbjson_encode(m, &b);
			nl_buf_putc(&b, '\n');
			CHECK_STR(b.data, cj.rp.body.data);
			CHECK_EQ_INT(protobuf_c_message_get_packed_size(m), c.rp.body.len);
			protobuf_c_message_free_unpacked(m, NULL);
		}
		nl_buf_free(&b);
	}
	numalens__v1__hint_list__free_unpacked(l, NULL);
cleanup:
	call_free(&c);
	call_free(&cj);
}

static void test_vms_and_profile(void)
{
	struct call c = { 0 };
	cJSON *j, *v, *roles;
	Numalens__V1__Profile *p;

	setup();
	CHECK_EQ_INT(get(&c, "/api/v1/vms", NULL), 200);
	j = cJSON_Parse(c.rp.body.data);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "vms")), 2);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "nodes")), 2);
	v = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vms"), 1);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "name")), "web");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(v, "memory_intensive")));
	CHECK_NEAR(cJSON_GetObjectItem(v, "llc_mpki")->valuedouble, 25, 0.01);
	CHECK(cJSON_GetObjectItem(v, "nhints")->valueint >= 2);
	cJSON_Delete(j);
	call_free(&c);

	CHECK_EQ_INT(get(&c, "/api/v1/vms/web", NULL), 200);
	j = cJSON_Parse(c.rp.body.data);
	roles = cJSON_GetObjectItem(j, "roles");
	CHECK_EQ_INT(cJSON_GetArraySize(roles), 3);   /* vcpu, emulator, all */
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(roles, 0), "cpus")), "4-7");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "hints")) >= 2);
	cJSON_Delete(j);
	call_free(&c);

	CHECK_EQ_INT(get(&c, "/api/v1/vms/web/profile", "application/x-protobuf"), 200);
	p = numalens__v1__profile__unpack(NULL, c.rp.body.len, (uint8_t *)c.rp.body.data);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->vm, "web");
		CHECK_EQ_INT(p->memory_bytes, (uint64_t)(8 * GiB));
		CHECK_EQ_INT(p->n_memory, 2);
		CHECK(p->has_memory_intensive && p->memory_intensive);
		CHECK_NEAR(p->cpu_cores, 2, 0.01);
		CHECK(p->n_history >= 5);
		numalens__v1__profile__free_unpacked(p, NULL);
	}
	call_free(&c);
}

static void test_placement(void)
{
	struct call c = { 0 }, pc = { 0 };
	cJSON *j, *nodes;
	Numalens__V1__Placement *pl;
	const char *body = "{\"vm\":\"incoming\",\"memory_bytes\":8589934592,\"cpu_cores\":2,"
			   "\"memory_intensive\":true}";

	setup();
	CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/placement", NULL, "application/json",
			     body, strlen(body)), 200);
	j = cJSON_Parse(c.rp.body.data);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "fits")));
	nodes = cJSON_GetObjectItem(j, "nodes");
	CHECK_EQ_INT(cJSON_GetArraySize(nodes), 2);
	CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(nodes, 0), "score")->valuedouble >=
	      cJSON_GetObjectItem(cJSON_GetArrayItem(nodes, 1), "score")->valuedouble);
	cJSON_Delete(j);
	call_free(&c);

	/* a profile fetched as protobuf goes back as protobuf */
	CHECK_EQ_INT(get(&pc, "/api/v1/vms/web/profile", "application/x-protobuf"), 200);
	CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/placement", "application/x-protobuf",
			     "application/x-protobuf", pc.rp.body.data, pc.rp.body.len), 200);
	pl = numalens__v1__placement__unpack(NULL, c.rp.body.len, (uint8_t *)c.rp.body.data);
	CHECK(pl != NULL);
	if (pl) {
		CHECK_STR(pl->vm, "web");
		CHECK_EQ_INT(pl->n_nodes, 2);
		numalens__v1__placement__free_unpacked(pl, NULL);
	}
	call_free(&c);
	call_free(&pc);
}

/* Every kind of bad request gets a 4xx with a message, never a crash. */
static void test_bad_requests(void)
{
	static const struct {
		const char *method, *path, *accept, *ctype, *body;
		const char *arg, *val;
		int status;
		const char *msg;
	} cases[] = {
		{ "GET", "/api/v1/hints", NULL, NULL, NULL, "policy", "numad", 400, "unknown policy" },
		{ "GET", "/api/v1/hints", NULL, NULL, NULL, "vm", "nope", 404, "no VM named \"nope\"" },
		{ "GET", "/api/v1/hints", NULL, NULL, NULL, "kind", "teleport", 400, "unknown kind" },
		{ "GET", "/api/v1/hints", NULL, NULL, NULL, "color", "red", 400, "unknown query argument \"color\"" },
		{ "GET", "/api/v1/hints", NULL, NULL, NULL, "vm", "", 400, "needs a value" },
		{ "GET", "/api/v1/vms", NULL, NULL, NULL, "vm", "web", 400, "unknown query argument" },
		{ "GET", "/api/v1/vms/nope", NULL, NULL, NULL, NULL, NULL, 404, "no VM named" },
		{ "GET", "/api/v1/vms/nope/profile", NULL, NULL, NULL, NULL, NULL, 404, "no VM named" },
		{ "GET", "/api/v1/vms/web/profile", NULL, NULL, NULL, "policy", "dino", 400, "unknown query argument" },
		{ "GET", "/api/v1/nope", NULL, NULL, NULL, NULL, NULL, 404, "no API endpoint" },
		{ "GET", "/api/v1/placement", NULL, NULL, NULL, NULL, NULL, 405, "not allowed" },
		{ "POST", "/api/v1/hints", NULL, NULL, "{}", NULL, NULL, 405, "not allowed" },
		{ "GET", "/api/v1/hints", "text/html", NULL, NULL, NULL, NULL, 406, "lists neither" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",", NULL, NULL, 400, "malformed JSON at byte" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "[1,2]", NULL, NULL, 400, "must be a JSON object" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":1} {}", NULL, NULL, 400, "data after the value" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":1,\"colour\":1}", NULL, NULL, 400, "unknown field \"colour\"" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":\"big\"}", NULL, NULL, 400, "want an integer" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":-1}", NULL, NULL, 400, "out of range" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":1.5}", NULL, NULL, 400, "want an integer" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"vm\":\"y\",\"memory_bytes\":1}", NULL, NULL, 400, "duplicate field" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":1,\"inputs\":\"psychic\"}", NULL, NULL, 400, "unknown value" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory\":[{\"node\":0,\"bytes\":1,\"x\":2}]}", NULL, NULL, 400, "unknown field \"x\"" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"memory_bytes\":1}", NULL, NULL, 400, "vm is required" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\"}", NULL, NULL, 400, "memory_bytes (or memory) is required" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":1,\"locality\":2}", NULL, NULL, 400, "locality must be in" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":0}", NULL, NULL, 400, "memory must be above 0" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"\\u00ff\\udc00\",\"memory_bytes\":1}", NULL, NULL, 400, "" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "", NULL, NULL, 400, "empty body" },
		{ "POST", "/api/v1/placement", NULL, "application/x-www-form-urlencoded", "vm=x", NULL, NULL, 415, "not supported" },
		{ "POST", "/api/v1/placement", NULL, "application/x-protobuf", "\x0a\x05we", NULL, NULL, 400, "malformed protobuf" },
		{ "POST", "/api/v1/placement", NULL, "application/x-protobuf", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", NULL, NULL, 400, "malformed protobuf" },
		/* field 99 (varint): unknown to Profile */
		{ "POST", "/api/v1/placement", NULL, "application/x-protobuf", "\x0a\x01x\x28\x01\x98\x06\x01", NULL, NULL, 400, "unknown field number 99" },
		/* inputs = 7: not a value of the enum */
		{ "POST", "/api/v1/placement", NULL, "application/x-protobuf", "\x0a\x01x\x28\x01\x48\x07", NULL, NULL, 400, "unknown enum value 7" },
		/* vm = "\xff": not UTF-8 */
		{ "POST", "/api/v1/placement", NULL, "application/x-protobuf", "\x0a\x01\xff\x28\x01", NULL, NULL, 400, "not valid UTF-8" },
	};
	char msg[600];

	setup();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct call c = { 0 };
		size_t blen = cases[i].body ? strlen(cases[i].body) : 0;
		int st;

		if (cases[i].arg) {
			c.args[0] = (struct nl_api_arg){ cases[i].arg, cases[i].val };
			c.nargs = 1;
		}
		st = request(&c, snap, cases[i].method, cases[i].path, cases[i].accept,
			     cases[i].ctype, cases[i].body, blen);
		if (st != cases[i].status || !strstr(err_msg(&c, msg, sizeof(msg)), cases[i].msg))
			fprintf(stderr, "  case %zu (%s %s): %d %s\n", i, cases[i].method,
				cases[i].path, st, c.rp.body.data ? c.rp.body.data : "");
		CHECK_EQ_INT(st, cases[i].status);
		CHECK(strstr(err_msg(&c, msg, sizeof(msg)), cases[i].msg) != NULL);
		CHECK_STR(c.rp.content_type, "application/json");
		if (st == 405)
			CHECK(c.rp.allow != NULL);
		call_free(&c);
	}
	/* oversized */
	{
		struct call c = { 0 };
		char *big = calloc(1, NL_API_MAX_BODY + 2);

		memset(big, ' ', NL_API_MAX_BODY + 1);
		CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/placement", NULL, "application/json",
				     big, NL_API_MAX_BODY + 1), 413);
		free(big);
		call_free(&c);
	}
	/* errors in protobuf when asked for */
	{
		struct call c = { 0 };
		Numalens__V1__Error *e;

		c.args[0] = (struct nl_api_arg){ "vm", "nope" };
		c.nargs = 1;
		CHECK_EQ_INT(get(&c, "/api/v1/hints", "application/x-protobuf"), 404);
		e = numalens__v1__error__unpack(NULL, c.rp.body.len, (uint8_t *)c.rp.body.data);
		CHECK(e && e->code == 404 && strstr(e->message, "nope"));
		if (e)
			numalens__v1__error__free_unpacked(e, NULL);
		call_free(&c);
	}
	/* no snapshot / no report: 503 */
	{
		struct call c = { 0 };
		struct nl_snapshot bare;

		CHECK_EQ_INT(request(&c, NULL, "GET", "/api/v1/hints", NULL, NULL, NULL, 0), 503);
		call_free(&c);
		memset(&bare, 0, sizeof(bare));
		CHECK_EQ_INT(request(&c, &bare, "GET", "/api/v1/vms", NULL, NULL, NULL, 0), 503);
		call_free(&c);
	}
}

static void test_negotiation(void)
{
	static const struct {
		const char *accept;
		int status;
		const char *type;
	} cases[] = {
		{ NULL, 200, "application/json" },
		{ "*/*", 200, "application/json" },
		{ "application/x-protobuf", 200, "application/x-protobuf; proto=numalens.v1.VmList" },
		{ "application/protobuf", 200, "application/x-protobuf; proto=numalens.v1.VmList" },
		{ "application/json;q=0.5, application/x-protobuf", 200, "application/x-protobuf; proto=numalens.v1.VmList" },
		{ "application/x-protobuf;q=0.2, application/json;q=0.9", 200, "application/json" },
		{ "text/html, */*;q=0.1", 200, "application/json" },
		{ "application/x-protobuf;q=0, application/json", 200, "application/json" },
		{ "text/html", 406, "application/json" },
		{ "application/json;q=0", 406, "application/json" },
	};

	setup();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct call c = { 0 };

		CHECK_EQ_INT(get(&c, "/api/v1/vms", cases[i].accept), cases[i].status);
		CHECK_STR(c.rp.content_type, cases[i].type);
		call_free(&c);
	}
}

static void test_pbjson_mapping(void)
{
	Numalens__V1__Profile p = NUMALENS__V1__PROFILE__INIT;
	Numalens__V1__NodeBytes nb = NUMALENS__V1__NODE_BYTES__INIT, *nbs[1] = { &nb };
	ProtobufCMessage *m = NULL;
	struct nl_buf b = { 0 };
	char err[256], name[32];

	p.vm = (char *)"a \"q\"\n\xc3\xa9\xff";
	p.has_memory_bytes = 1;
	p.memory_bytes = 1ULL << 40;
	p.has_inputs = 1;
	p.inputs = NUMALENS__V1__INPUTS__INPUTS_PMU;
	p.has_locality = 1;
	p.locality = 0.1;
	p.n_memory = 1;
	p.memory = nbs;
	nb.has_node = nb.has_bytes = 1;
	nb.node = 3;
	nb.bytes = 7;
	nl_pbjson_encode(&p.base, &b);
	CHECK_STR(b.data, "{\"vm\":\"a \\\"q\\\"\\n\xc3\xa9\\ufffd\",\"memory_bytes\":1099511627776,"
			  "\"memory\":[{\"node\":3,\"bytes\":7}],\"inputs\":\"pmu\",\"locality\":0.1,"
			  "\"history\":[]}");
	CHECK_EQ_INT(nl_pbjson_decode(&numalens__v1__profile__descriptor, b.data, b.len, &m,
				      err, sizeof(err)), 0);
	if (m) {
		Numalens__V1__Profile *q = (Numalens__V1__Profile *)m;

		CHECK_STR(q->vm, "a \"q\"\n\xc3\xa9\xef\xbf\xbd");
		CHECK_EQ_U64(q->memory_bytes, 1ULL << 40);
		CHECK(q->has_inputs && q->inputs == NUMALENS__V1__INPUTS__INPUTS_PMU);
		CHECK_NEAR(q->locality, 0.1, 0);
		CHECK(q->n_memory == 1 && q->memory[0]->node == 3 && q->memory[0]->bytes == 7);
		CHECK(!q->has_cpu_cores);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	nl_buf_free(&b);
	CHECK_STR(nl_pbjson_enum_name(&numalens__v1__hint_kind__descriptor, 3, name, sizeof(name)),
		  "pin_vmm_threads");
	CHECK_STR(nl_pbjson_enum_name(&numalens__v1__policy__descriptor, 4, name, sizeof(name)),
		  "asymsched");
	CHECK_STR(nl_pbjson_enum_name(&numalens__v1__action_op__descriptor, 5, name, sizeof(name)),
		  "numatune");
	CHECK(nl_pbjson_enum_name(&numalens__v1__policy__descriptor, 9, name, sizeof(name)) == NULL);
	/* null is absent; deep nesting is refused by the parser */
	CHECK_EQ_INT(nl_pbjson_decode(&numalens__v1__profile__descriptor, "{\"vm\":null}", 11, &m,
				      err, sizeof(err)), 0);
	if (m) {
		CHECK(((Numalens__V1__Profile *)m)->vm == NULL);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	{
		char deep[5000];
		size_t o = 0;

		o += (size_t)sprintf(deep, "{\"vm\":");
		for (int i = 0; i < 2000; i++)
			deep[o++] = '[';
		deep[o] = '\0';
		CHECK_EQ_INT(nl_pbjson_decode(&numalens__v1__profile__descriptor, deep, o, &m,
					      err, sizeof(err)), -EINVAL);
	}
}

/* ---- through a real libmicrohttpd server ---- */

static struct nl_snapshot *src_get(void *arg)
{
	struct nl_snapshot *s = *(struct nl_snapshot **)arg;

	if (s)
		nl_snapshot_get(s);
	return s;
}

static void src_put(void *arg, struct nl_snapshot *s)
{
	(void)arg;
	nl_snapshot_put(s);
}

/* Send raw bytes, read the whole answer; return the status or -1. */
static int raw_http(int port, const char *req, size_t len, char *out, size_t outlen)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), status = -1;
	size_t got = 0;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto done;
	for (size_t off = 0; off < len;) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (w <= 0)
			break;   /* the server may close early (413) */
		off += (size_t)w;
	}
	for (;;) {
		ssize_t r = recv(fd, out + got, outlen - 1 - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == outlen - 1)
			break;
	}
	out[got] = '\0';
	if (got > 12 && !strncmp(out, "HTTP/1.1 ", 9))
		status = atoi(out + 9);
done:
	close(fd);
	return status;
}

static void test_http_server(void)
{
	struct nl_snapshot *cur;
	struct nl_http *h;
	struct nl_http_source src = { src_get, src_put, &cur, 2.0 };
	static char out[1 << 20];
	char req[2048];
	const char *body = "{\"vm\":\"incoming\",\"memory_bytes\":1073741824}";
	int port, n;

	setup();
	cur = snap;
	nl_log_set_level(NL_LOG_ERROR);
	h = nl_http_start("127.0.0.1:0", "/metrics", &src);
	CHECK(h != NULL);
	if (!h)
		return;
	port = nl_http_port(h);
	n = snprintf(req, sizeof(req), "GET /api/v1/hints?vm=web&policy=locality HTTP/1.1\r\n"
		     "Host: x\r\nAccept: application/x-protobuf\r\nConnection: close\r\n\r\n");
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 200);
	CHECK(strcasestr(out, "Content-Type: application/x-protobuf; proto=numalens.v1.HintList") != NULL);
	n = snprintf(req, sizeof(req), "POST /api/v1/placement HTTP/1.1\r\nHost: x\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     strlen(body), body);
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 200);
	CHECK(strstr(out, "\"vm\":\"incoming\",\"fits\":true") != NULL);
	/* chunked body */
	n = snprintf(req, sizeof(req), "POST /api/v1/placement HTTP/1.1\r\nHost: x\r\n"
		     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
		     "%zx\r\n%s\r\n0\r\n\r\n", strlen(body), body);
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 200);
	/* a Content-Length above the limit: 413 before the body is read */
	n = snprintf(req, sizeof(req), "POST /api/v1/placement HTTP/1.1\r\nHost: x\r\n"
		     "Content-Type: application/json\r\nContent-Length: 1000000000\r\nConnection: close\r\n\r\n{");
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 413);
	CHECK(strstr(out, "request body larger than") != NULL);
	/* a chunked body that grows past the limit: 413 at the end */
	{
		size_t cap = NL_API_MAX_BODY + 65536 * 2, o;
		char *big = malloc(cap + 4096);

		o = (size_t)sprintf(big, "POST /api/v1/placement HTTP/1.1\r\nHost: x\r\n"
			    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
			    "Connection: close\r\n\r\n");
		for (size_t sent = 0; sent < NL_API_MAX_BODY + 65536; sent += 65536) {
			o += (size_t)sprintf(big + o, "10000\r\n");
			memset(big + o, ' ', 65536);
			o += 65536;
			o += (size_t)sprintf(big + o, "\r\n");
		}
		o += (size_t)sprintf(big + o, "0\r\n\r\n");
		CHECK_EQ_INT(raw_http(port, big, o, out, sizeof(out)), 413);
		free(big);
	}
	/* wrong method on the API: 405 with Allow */
	n = snprintf(req, sizeof(req), "DELETE /api/v1/hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 405);
	CHECK(strcasestr(out, "Allow: ") != NULL);
	n = snprintf(req, sizeof(req), "POST /api/v1/hints HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 405);
	CHECK(strcasestr(out, "Allow: GET, HEAD") != NULL);
	/* percent-encoded VM names in the path */
	n = snprintf(req, sizeof(req), "GET /api/v1/vms/w%%65b/profile HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 200);
	/* too many query arguments */
	n = snprintf(req, sizeof(req), "GET /api/v1/hints?a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1&p=1&q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 400);
	/* the server still answers */
	n = snprintf(req, sizeof(req), "GET /api/v1/vms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 200);
	nl_http_stop(h);
}

/* ---- enums ---- */

static int pb_policy(int i) { return (int)nl_api_pb_policy((enum nl_policy)i); }
static int pb_kind(int i) { return (int)nl_api_pb_hint_kind((enum nl_hint_kind)i); }
static int pb_op(int i) { return (int)nl_api_pb_action_op((enum nl_action_op)i); }
static int pb_inputs(int i) { return (int)nl_api_pb_inputs((enum nl_hint_inputs)i); }
static const char *policy_name(int i) { return nl_policy_name((enum nl_policy)i); }
static const char *kind_name(int i) { return nl_hint_kind_name((enum nl_hint_kind)i); }
static const char *op_name(int i) { return nl_action_op_name((enum nl_action_op)i); }
static const char *inputs_name(int i) { return nl_hint_inputs_name((enum nl_hint_inputs)i); }

/* Every C value maps onto the .proto value of its name (the engine's name
 * upper-cased, after the prefix that repeats the enum's name: "dino" is
 * POLICY_DINO), no two onto one, and every proto value but UNSPECIFIED is
 * reached. A C value added without its proto value, or without a row in
 * api_msg.c's tables, fails here. */
static void test_enum_mapping(void)
{
	static const struct {
		const ProtobufCEnumDescriptor *d;
		int n;
		int (*pb)(int);
		const char *(*name)(int);
	} enums[] = {
		{ &numalens__v1__policy__descriptor, NL_POLICY_COUNT, pb_policy, policy_name },
		{ &numalens__v1__hint_kind__descriptor, NL_HINT_KIND_COUNT, pb_kind, kind_name },
		{ &numalens__v1__action_op__descriptor, NL_ACT_COUNT, pb_op, op_name },
		{ &numalens__v1__inputs__descriptor, NL_API_INPUTS_COUNT, pb_inputs, inputs_name },
	};

	for (size_t e = 0; e < sizeof(enums) / sizeof(enums[0]); e++) {
		const ProtobufCEnumDescriptor *d = enums[e].d;
		uint64_t seen = 0;

		CHECK_EQ_INT(enums[e].n, (int)d->n_values - 1);
		for (int i = 0; i < enums[e].n; i++) {
			int v = enums[e].pb(i);
			const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
			const char *name = enums[e].name(i);
			char up[64], json[64];
			size_t n = 0, len;

			for (; name[n] && n + 1 < sizeof(up); n++)
				up[n] = (char)toupper((unsigned char)name[n]);
			up[n] = '\0';
			len = ev ? strlen(ev->name) : 0;
			if (!ev || v == 0 || len < n || strcmp(ev->name + len - n, up) != 0 ||
			    (len > n && ev->name[len - n - 1] != '_'))
				fprintf(stderr, "  %s: C value %d (\"%s\") maps to %d (%s)\n", d->name, i,
					name, v, ev ? ev->name : "no such value");
			CHECK(v > 0 && v < 64);
			CHECK(ev != NULL);
			if (!ev || v <= 0 || v >= 64)
				continue;
			CHECK(len >= n && strcmp(ev->name + len - n, up) == 0);
			CHECK(len == n || ev->name[len - n - 1] == '_');
			CHECK_STR(nl_pbjson_enum_name(d, v, json, sizeof(json)), name);
			CHECK(!(seen >> v & 1));
			seen |= 1ULL << v;
		}
	}
	/* out of range: UNSPECIFIED, never a neighbour's value */
	CHECK_EQ_INT(pb_policy(NL_POLICY_COUNT), 0);
	CHECK_EQ_INT(pb_kind(NL_HINT_KIND_COUNT), 0);
	CHECK_EQ_INT(pb_op(NL_ACT_COUNT), 0);
	CHECK_EQ_INT(pb_inputs(-1), 0);
}

/* The error texts list the engine's policies and hint kinds, all of them. */
static void test_error_lists(void)
{
	static const struct {
		const char *arg;
		int n;
		const char *(*name)(int);
		const char *now;   /* the text for today's tables */
	} cases[] = {
		{ "policy", NL_POLICY_COUNT, policy_name, "(want locality, simple, dino or asymsched)" },
		{ "kind", NL_HINT_KIND_COUNT, kind_name, "(want pin_vcpus, migrate_memory, pin_vmm_threads or evict)" },
	};
	char msg[600];

	setup();
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct call c = { 0 };
		char last[64];

		c.args[0] = (struct nl_api_arg){ cases[k].arg, "teleport" };
		c.nargs = 1;
		CHECK_EQ_INT(get(&c, "/api/v1/hints", NULL), 400);
		err_msg(&c, msg, sizeof(msg));
		for (int i = 0; i < cases[k].n; i++)
			CHECK(strstr(msg, cases[k].name(i)) != NULL);
		snprintf(last, sizeof(last), " or %s)", cases[k].name(cases[k].n - 1));
		CHECK(strstr(msg, last) != NULL);
		if (!strstr(msg, cases[k].now))
			fprintf(stderr, "  got: %s\n", msg);
		CHECK(strstr(msg, cases[k].now) != NULL);
		call_free(&c);
	}
}

static void test_teardown(void)
{
	nl_snapshot_put(snap);
	snap = NULL;
	nl_hints_free(engine);
	engine = NULL;
}

NL_TEST_MAIN(NL_T(test_hints_json),
	     NL_T(test_protobuf_round_trip),
	     NL_T(test_vms_and_profile),
	     NL_T(test_placement),
	     NL_T(test_bad_requests),
	     NL_T(test_negotiation),
	     NL_T(test_pbjson_mapping),
	     NL_T(test_http_server),
	     NL_T(test_enum_mapping),
	     NL_T(test_error_lists),
	     NL_T(test_teardown))
