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
#include "arrivals.h"
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

/* When set, requests are answered from it (with its registry), its snap
 * replaced by the request's. */
static struct nl_api_env *req_env;

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
	if (req_env) {
		struct nl_api_env env = *req_env;

		env.snap = s;
		c->ret = nl_api_handle_env(&env, &rq, &c->rp);
	} else {
		c->ret = nl_api_handle(s, &rq, &c->rp);
	}
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

/* A passthrough VM: its devices with their nodes, and the constraints. */
/* A wide VM's cells in /api/v1/vms/NAME: configuration, resident memory,
 * locality; invalid cells say why. */
static void test_vm_cells(void)
{
	struct call c = { 0 };
	struct nl_vm_snap *vm;
	cJSON *j, *d, *x;

	setup();
	vm = (struct nl_vm_snap *)nl_snapshot_find_vm(snap, "web");
	CHECK(vm != NULL);
	if (!vm)
		return;
	vm->ncells = 2;
	for (int k = 0; k < 2; k++) {
		memset(&vm->cells[k], 0, sizeof(vm->cells[k]));
		vm->cells[k].cfg.id = k;
		vm->cells[k].cfg.vcpus = k ? 0xc : 0x3;
		vm->cells[k].cfg.mem_bytes = 1ULL << 30;
		vm->cells[k].cfg.host_nodes = 1ULL << k;
		vm->cells[k].mem_known = k == 0;
		vm->cells[k].mem_bytes[k] = 1ULL << 30;
		vm->cells[k].locality = k == 0 ? 1 : NAN;
		vm->cells[k].weight = 0.5;
		vm->cells[k].home = k;
	}
	CHECK_EQ_INT(get(&c, "/api/v1/vms/web", NULL), 200);
	j = cJSON_Parse(c.rp.body.data);
	d = cJSON_GetObjectItem(j, "cells");
	CHECK_EQ_INT(cJSON_GetArraySize(d), 2);
	x = cJSON_GetArrayItem(d, 1);
	CHECK_EQ_INT(cJSON_GetObjectItem(x, "cell")->valueint, 1);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(x, "vcpus")), 2);
	CHECK_EQ_INT(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "vcpus"), 0)->valueint, 2);
	CHECK_EQ_INT(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "bound_nodes"), 0)->valueint, 1);
	/* cell 1's memory is not known: no memory, locality, home */
	CHECK(cJSON_GetObjectItem(x, "locality") == NULL);
	CHECK(cJSON_GetObjectItem(x, "home") == NULL);
	x = cJSON_GetArrayItem(d, 0);
	CHECK_EQ_INT(cJSON_GetObjectItem(x, "home")->valueint, 0);
	CHECK(cJSON_GetObjectItem(x, "locality") != NULL &&
	      cJSON_GetObjectItem(x, "locality")->valuedouble == 1);
	CHECK(cJSON_GetObjectItem(j, "cells_invalid") == NULL);
	cJSON_Delete(j);
	call_free(&c);

	vm->ncells = 0;
	vm->cells_invalid = true;
	snprintf(vm->cells_why, sizeof(vm->cells_why), "vCPU 3 is in no cell");
	CHECK_EQ_INT(get(&c, "/api/v1/vms/web", NULL), 200);
	j = cJSON_Parse(c.rp.body.data);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "cells_invalid")), "vCPU 3 is in no cell");
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "cells")), 0);
	cJSON_Delete(j);
	call_free(&c);
}

static void test_vm_devices(void)
{
	struct call c = { 0 };
	struct nl_vm_snap *vm;
	cJSON *j, *d;

	setup();
	vm = (struct nl_vm_snap *)nl_snapshot_find_vm(snap, "web");
	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK_EQ_INT(get(&c, "/api/v1/vms/web", NULL), 200);
	j = cJSON_Parse(c.rp.body.data);
	/* no device: empty lists */
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "constraints")), 0);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "devices")), 0);
	cJSON_Delete(j);
	call_free(&c);

	vm->ndevices = 2;
	snprintf(vm->devices[0].device, sizeof(vm->devices[0].device), "0000:3b:00.0");
	vm->devices[0].node = 1;
	snprintf(vm->devices[1].device, sizeof(vm->devices[1].device), "0000:af:00.0");
	vm->devices[1].node = -1;
	CHECK_EQ_INT(get(&c, "/api/v1/vms/web", NULL), 200);
	j = cJSON_Parse(c.rp.body.data);
	d = cJSON_GetObjectItem(j, "constraints");
	CHECK_EQ_INT(cJSON_GetArraySize(d), 2);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(d, 0)), "vfio: memory pinned");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(d, 1)), "vfio: not live-migratable");
	d = cJSON_GetObjectItem(j, "devices");
	CHECK_EQ_INT(cJSON_GetArraySize(d), 2);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "device")),
		  "0000:3b:00.0");
	CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "node")->valueint, 1);
	/* node unknown: no "node" */
	CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 1), "node") == NULL);
	cJSON_Delete(j);
	call_free(&c);
	/* the profile carries them, and decodes back to the engine's struct */
	CHECK_EQ_INT(get(&c, "/api/v1/vms/web/profile", "application/x-protobuf"), 200);
	{
		Numalens__V1__Profile *p = numalens__v1__profile__unpack(NULL, c.rp.body.len,
									 (uint8_t *)c.rp.body.data);
		struct nl_profile np;
		char err[128];

		CHECK(p && p->n_devices == 2 && p->n_constraints == 2);
		if (p) {
			CHECK_EQ_INT(nl_api_profile_from_pb(p, &np, err, sizeof(err)), 0);
			CHECK_EQ_INT(np.ndevices, 2);
			CHECK_STR(np.devices[0].device, "0000:3b:00.0");
			CHECK_EQ_INT(np.devices[0].node, 1);
			CHECK_EQ_INT(np.devices[1].node, -1);
			numalens__v1__profile__free_unpacked(p, NULL);
		}
	}
	call_free(&c);
	vm->ndevices = 0;
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
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":1,\"devices\":[{\"node\":1}]}", NULL, NULL, 400, "devices[0].device must be a PCI address" },
		{ "POST", "/api/v1/placement", NULL, "application/json", "{\"vm\":\"x\",\"memory_bytes\":1,\"devices\":[{\"device\":\"0000:3b:00.0\",\"node\":-2}]}", NULL, NULL, 400, "devices[0].node must be a node id" },
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
			  "\"history\":[],\"devices\":[],\"constraints\":[]}");
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
	struct nl_http_source src = { .get = src_get, .put = src_put, .arg = &cur, .interval = 2.0 };
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

/* ---- arrivals: POST, GET, DELETE /api/v1/arrivals, the room hints in
 * GET /api/v1/hints, against the real registry (collector/arrivals.h) on
 * the 2-node snapshot above: 20 GiB free per node, resident "cold" (cold,
 * 1 GiB on node 0, 3 GiB on node 1) and "web" (memory-intensive). ---- */

#define UUID_IN "0a0b0c0d-1111-4222-8333-444455556666"
#define UUID_IN2 "0a0b0c0d-1111-4222-8333-777788889999"
/* 22 GiB: more than a node's 19.5 GiB above the reserve, so node 1 needs
 * 2.5 GiB of cold's memory moved to node 0 (node 0 cannot: cold has only
 * 1 GiB there). */
#define ARRIVAL_A "{\"profile\":{\"vm\":\"incoming\",\"uuid\":\"" UUID_IN "\"," \
	"\"memory_bytes\":23622320128,\"vcpus\":2,\"cpu_cores\":0.5,\"memory_intensive\":true," \
	"\"llc_mpki\":30},\"policy\":\"simple\"}"

static int wakes;

static void count_wake(void *arg)
{
	(void)arg;
	wakes++;
}

struct arr_env {
	struct nl_api_env env;
	struct nl_arrivals *a;
};

static void arr_begin(struct arr_env *e)
{
	setup();
	e->a = nl_arrivals_new();
	CHECK(e->a != NULL);
	e->env = (struct nl_api_env){ .arrivals = e->a, .wake = count_wake,
				      .now = snap->timestamp + 1 };
	req_env = &e->env;
	wakes = 0;
}

static void arr_end(struct arr_env *e)
{
	req_env = NULL;
	nl_arrivals_free(e->a);
}

static int post_json(struct call *c, const char *body)
{
	return request(c, snap, "POST", "/api/v1/arrivals", NULL, "application/json", body,
		       strlen(body));
}

static cJSON *body_json(struct call *c)
{
	return cJSON_Parse(c->rp.body.data ? c->rp.body.data : "");
}

static const char *jstr(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));

	return s ? s : "";
}

static double jnum(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* How many hints of GET /api/v1/hints?policy=P[&id=ID] on s have id ID. */
static int hints_with_id(const struct nl_snapshot *s, const char *policy, const char *id,
			 bool by_id)
{
	struct call c = { 0 };
	const cJSON *h;
	cJSON *j;
	int n = 0;

	c.args[c.nargs++] = (struct nl_api_arg){ "policy", policy };
	if (by_id)
		c.args[c.nargs++] = (struct nl_api_arg){ "id", id };
	if (request(&c, s, "GET", "/api/v1/hints", NULL, NULL, NULL, 0) != 200) {
		call_free(&c);
		return -1;
	}
	j = body_json(&c);
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hints"))
		n += !strcmp(jstr(h, "id"), id);
	cJSON_Delete(j);
	call_free(&c);
	return n;
}

/* The GET /api/v1/arrivals JSON body, for "nothing changed" comparisons. */
static char *list_body(void)
{
	struct call c = { 0 };
	char *s;

	CHECK_EQ_INT(get(&c, "/api/v1/arrivals", NULL), 200);
	s = strdup(c.rp.body.data ? c.rp.body.data : "");
	call_free(&c);
	return s;
}

static void check_arrival_a(const cJSON *a, const char *what)
{
	const cJSON *rank = cJSON_GetObjectItem(a, "ranking"), *r, *h0, *pl, *mv;
	int nr = 0, failed = nl_t_failed_checks;

	CHECK_STR(jstr(a, "vm"), "incoming");
	CHECK_STR(jstr(a, "uuid"), UUID_IN);
	CHECK_STR(jstr(a, "policy"), "simple");
	CHECK_STR(jstr(a, "state"), "pending");
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(a, "nodes")), 1);
	CHECK_EQ_INT(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "nodes"), 0)->valueint, 1);
	CHECK(strlen(jstr(a, "reason")) > 0);
	CHECK_EQ_INT(cJSON_GetArraySize(rank), 2);
	cJSON_ArrayForEach(r, rank) {
		nr++;
		CHECK(cJSON_GetObjectItem(r, "score") != NULL);
		CHECK(strlen(jstr(r, "reason")) > 0);
		CHECK(strlen(jstr(r, "reason_code")) > 0);
	}
	CHECK_EQ_INT(nr, 2);
	r = cJSON_GetArrayItem(rank, 0);
	CHECK_EQ_INT(jnum(r, "node"), 1);
	CHECK_STR(jstr(r, "reason_code"), "fits_after_moves");
	mv = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "moves"), 0);
	CHECK_STR(jstr(mv, "vm"), "cold");
	CHECK_EQ_INT(jnum(mv, "from_node"), 1);
	CHECK_EQ_INT(jnum(mv, "to_node"), 0);
	CHECK_STR(jstr(cJSON_GetArrayItem(rank, 1), "reason_code"), "memory");
	h0 = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "hints"), 0);
	CHECK_EQ_INT(strlen(jstr(h0, "id")), 16);
	CHECK_STR(jstr(h0, "kind"), "migrate_memory");
	CHECK_STR(jstr(h0, "vm"), "cold");
	CHECK_STR(jstr(h0, "beneficiary"), "incoming");
	CHECK_STR(jstr(h0, "policy"), "simple");
	CHECK_EQ_INT(jnum(cJSON_GetObjectItem(h0, "target"), "node"), 0);
	pl = cJSON_GetObjectItem(a, "placement");
	CHECK(strstr(jstr(pl, "numatune_xml"), "<numatune>") != NULL);
	CHECK(strstr(jstr(pl, "numatune_xml"), "nodeset='1'") != NULL);
	CHECK(strstr(jstr(pl, "cputune_xml"), "<vcpupin vcpu='1' cpuset='4-7'/>") != NULL);
	CHECK(strstr(jstr(pl, "cputune_xml"), "<emulatorpin cpuset='4-7'/>") != NULL);
	CHECK(strstr(jstr(pl, "migrate_param"), "VIR_MIGRATE_PARAM_DEST_XML") != NULL);
	CHECK(strstr(jstr(pl, "virsh_usage"), "virsh migrate") != NULL);
	CHECK(strstr(jstr(pl, "virsh_usage"), "--xml") != NULL);
	CHECK_NEAR(jnum(a, "expires") - jnum(a, "created"), NL_ARRIVAL_TTL_DEFAULT, 1e-6);
	CHECK_STR(jstr(cJSON_GetObjectItem(a, "profile"), "vm"), "incoming");
	CHECK_EQ_U64(jnum(cJSON_GetObjectItem(a, "profile"), "memory_bytes"), 23622320128ULL);
	if (nl_t_failed_checks != failed)
		fprintf(stderr, "  (in the Arrival of %s)\n", what);
}

static void test_arrivals_json(void)
{
	struct arr_env e;
	struct call c = { 0 };
	cJSON *j, *a;
	char id[NL_HINT_ID_LEN] = "";
	struct nl_snapshot *s2;
	bool in_report = false;

	arr_begin(&e);
	CHECK_EQ_INT(post_json(&c, ARRIVAL_A), 201);
	CHECK_STR(c.rp.content_type, "application/json");
	CHECK_EQ_INT(wakes, 1);
	j = body_json(&c);
	check_arrival_a(j, "POST");
	CHECK_NEAR(jnum(j, "created"), e.env.now, 1e-6);
	snprintf(id, sizeof(id), "%s",
		 jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "hints"), 0), "id"));
	cJSON_Delete(j);
	call_free(&c);

	/* listed, with the moves still naming their VM */
	CHECK_EQ_INT(get(&c, "/api/v1/arrivals", NULL), 200);
	j = body_json(&c);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "arrivals")), 1);
	a = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "arrivals"), 0);
	check_arrival_a(a, "GET");
	CHECK_NEAR(jnum(j, "timestamp"), e.env.now, 1e-6);
	cJSON_Delete(j);
	call_free(&c);
	CHECK_EQ_INT(get(&c, "/api/v1/arrivals/" UUID_IN, NULL), 200);
	j = body_json(&c);
	check_arrival_a(j, "GET one");
	cJSON_Delete(j);
	call_free(&c);

	/* its room hint is in GET /api/v1/hints at once (the snapshot is
	 * older than the registration), under its policy only */
	CHECK_EQ_INT(hints_with_id(snap, "simple", id, true), 1);
	CHECK_EQ_INT(hints_with_id(snap, "simple", id, false), 1);
	CHECK_EQ_INT(hints_with_id(snap, "locality", id, false), 0);
	c.args[0] = (struct nl_api_arg){ "vm", "incoming" };
	c.args[1] = (struct nl_api_arg){ "policy", "simple" };
	c.nargs = 2;
	CHECK_EQ_INT(get(&c, "/api/v1/hints", NULL), 200);
	j = body_json(&c);
	CHECK_STR(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "hints"), 0), "id"), id);
	cJSON_Delete(j);
	call_free(&c);
	c.args[0] = (struct nl_api_arg){ "id", id };
	c.args[1] = (struct nl_api_arg){ "policy", "simple" };
	c.nargs = 2;
	CHECK_EQ_INT(get(&c, "/api/v1/hints", "application/x-protobuf"), 200);
	{
		Numalens__V1__HintList *l = numalens__v1__hint_list__unpack(
			NULL, c.rp.body.len, (uint8_t *)c.rp.body.data);

		CHECK(l && l->n_hints == 1 && !strcmp(l->hints[0]->id, id) &&
		      !strcmp(l->hints[0]->beneficiary, "incoming"));
		if (l)
			numalens__v1__hint_list__free_unpacked(l, NULL);
	}
	call_free(&c);

	/* the engine's next snapshot has it too: listed once, not twice */
	nl_hints_set_arrivals(engine, e.a);
	s2 = make_snapshot();
	CHECK_EQ_INT(nl_hints_update(engine, s2), 0);
	nl_hints_set_arrivals(engine, NULL);
	for (size_t i = 0; s2->hints && i < s2->hints->nhints[NL_POLICY_SIMPLE]; i++)
		in_report |= !strcmp(s2->hints->hints[NL_POLICY_SIMPLE][i].id, id);
	CHECK(in_report);
	CHECK_EQ_INT(hints_with_id(s2, "simple", id, false), 1);
	nl_snapshot_put(s2);
	arr_end(&e);
}

/* The node of `node` in a Placement answer's ranking: its reason_code. */
static const char *rank_code(cJSON *pl, int node)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, cJSON_GetObjectItem(pl, "nodes"))
		if (jnum(r, "node") == node)
			return jstr(r, "reason_code");
	return "";
}

/* POST /api/v1/placement?policy=: ranked under that policy, and with the
 * pending arrivals' memory counted as taken; read-only. */
static void test_placement_policy(void)
{
	/* 16 GiB and a little CPU: either node, unless a pending arrival
	 * holds one */
	const char *body = "{\"vm\":\"w\",\"memory_bytes\":17179869184,\"cpu_cores\":0.05}";
	struct arr_env e;
	struct call c = { 0 };
	unsigned long gen;
	cJSON *j;

	setup();
	c.args[0] = (struct nl_api_arg){ "policy", "dino" };
	c.nargs = 1;
	CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/placement", NULL, "application/json",
			     body, strlen(body)), 200);
	j = body_json(&c);
	CHECK_STR(jstr(j, "policy"), "dino");
	CHECK(strncmp(jstr(j, "reason"), "dino", 4) == 0);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "chosen_nodes")), 1);
	CHECK_EQ_INT(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "chosen_nodes"), 0)->valueint,
		     jnum(j, "recommended_node"));
	cJSON_Delete(j);
	call_free(&c);
	CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/placement", NULL, "application/json",
			     body, strlen(body)), 200);
	j = body_json(&c);
	CHECK_STR(jstr(j, "policy"), "locality");
	CHECK_STR(rank_code(j, 1), "fits");
	cJSON_Delete(j);
	call_free(&c);
	c.args[0] = (struct nl_api_arg){ "policy", "numad" };
	c.nargs = 1;
	CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/placement", NULL, "application/json",
			     body, strlen(body)), 400);
	call_free(&c);

	/* with arrival A's 22 GiB pending on node 1, node 1 has no room */
	arr_begin(&e);
	CHECK_EQ_INT(post_json(&c, ARRIVAL_A), 201);
	call_free(&c);
	gen = nl_arrivals_generation(e.a);
	CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/placement", NULL, "application/json",
			     body, strlen(body)), 200);
	j = body_json(&c);
	CHECK_STR(rank_code(j, 1), "memory");
	CHECK_EQ_INT(jnum(j, "recommended_node"), 0);
	cJSON_Delete(j);
	call_free(&c);
	CHECK_EQ_INT(nl_arrivals_generation(e.a), gen);
	arr_end(&e);
}

static void test_arrivals_protobuf(void)
{
	Numalens__V1__ArrivalRequest rq = NUMALENS__V1__ARRIVAL_REQUEST__INIT;
	Numalens__V1__Profile p = NUMALENS__V1__PROFILE__INIT;
	Numalens__V1__Arrival *a;
	Numalens__V1__ArrivalList *l;
	struct arr_env e;
	struct call c = { 0 };
	uint8_t buf[512];
	size_t n;

	arr_begin(&e);
	p.vm = (char *)"incoming2";
	p.uuid = (char *)UUID_IN2;
	OPT(&p, memory_bytes, (uint64_t)(4 * GiB));
	OPT(&p, cpu_cores, 1.0);
	rq.profile = &p;
	OPT(&rq, policy, NUMALENS__V1__POLICY__POLICY_DINO);
	OPT(&rq, ttl_seconds, 120.0);
	n = numalens__v1__arrival_request__pack(&rq, buf);
	CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/arrivals", "application/x-protobuf",
			     "application/x-protobuf", (const char *)buf, n), 201);
	CHECK_STR(c.rp.content_type, "application/x-protobuf; proto=numalens.v1.Arrival");
	CHECK_EQ_INT(wakes, 1);
	a = numalens__v1__arrival__unpack(NULL, c.rp.body.len, (uint8_t *)c.rp.body.data);
	CHECK(a != NULL);
	if (a) {
		CHECK_STR(a->vm, "incoming2");
		CHECK_STR(a->uuid, UUID_IN2);
		CHECK(a->has_policy && a->policy == NUMALENS__V1__POLICY__POLICY_DINO);
		CHECK(a->has_state && a->state == NUMALENS__V1__ARRIVAL_STATE__ARRIVAL_STATE_PENDING);
		CHECK_EQ_INT(a->n_nodes, 1);
		CHECK_EQ_INT(a->n_ranking, 2);
		for (size_t i = 0; i < a->n_ranking; i++)
			CHECK(a->ranking[i]->has_score && a->ranking[i]->reason[0]);
		CHECK(a->placement && strstr(a->placement->numatune_xml, "<numatune>"));
		CHECK_NEAR(a->expires - a->created, 120, 1e-6);
		CHECK(a->profile && a->profile->memory_bytes == (uint64_t)(4 * GiB));
		numalens__v1__arrival__free_unpacked(a, NULL);
	}
	call_free(&c);
	CHECK_EQ_INT(get(&c, "/api/v1/arrivals", "application/x-protobuf"), 200);
	CHECK_STR(c.rp.content_type, "application/x-protobuf; proto=numalens.v1.ArrivalList");
	l = numalens__v1__arrival_list__unpack(NULL, c.rp.body.len, (uint8_t *)c.rp.body.data);
	CHECK(l && l->n_arrivals == 1 && !strcmp(l->arrivals[0]->uuid, UUID_IN2));
	if (l)
		numalens__v1__arrival_list__free_unpacked(l, NULL);
	call_free(&c);
	arr_end(&e);
}

/* Every refused registration is a 4xx and changes nothing: the registry's
 * generation, GET /api/v1/arrivals and the wake count stay as they were. */
static void test_arrivals_bad(void)
{
#define PROF(extra) "{\"vm\":\"x\",\"uuid\":\"" UUID_IN2 "\",\"memory_bytes\":1073741824" extra "}"
	static const struct {
		const char *ctype, *body;
		size_t len;            /* 0: strlen(body) */
		int status;
		const char *msg;
	} cases[] = {
		{ "application/json", "{\"profile\":" PROF("") ",\"colour\":1}", 0, 400, "unknown field \"colour\"" },
		{ "application/json", "{\"profile\":" PROF("") ",\"policy\":\"numad\"}", 0, 400, "policy: unknown value \"numad\"" },
		{ "application/json", "{\"policy\":\"simple\"}", 0, 400, "profile is required" },
		{ "application/json", "{\"profile\":{\"vm\":\"x\",\"memory_bytes\":1073741824}}", 0, 400, "invalid arrival: uuid is required" },
		{ "application/json", "{\"profile\":" PROF(",\"locality\":2") "}", 0, 400, "locality must be in" },
		{ "application/json", "{\"profile\":" PROF("") ",\"ttl_seconds\":-5}", 0, 400, "ttl_seconds must be in" },
		{ "application/json", "{\"profile\":" PROF("") ",\"ttl_seconds\":1e6}", 0, 400, "ttl_seconds must be in" },
		{ "application/json", "{\"profile\":{\"vm\":\"web2\",\"uuid\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\",\"memory_bytes\":1073741824}}", 0, 409, "already running here" },
		{ "application/json", ARRIVAL_A, 0, 409, "already registered" },
		{ "application/json", "{\"profile\":{\"vm\":\"x\",\"uuid\":\"" UUID_IN2 "\",\"memory_bytes\":42949672960}}", 0, 422, "more than any node has in all" },
		{ "application/json", "{\"profile\":{\"vm\":\"x\",\"uuid\":\"" UUID_IN2 "\",\"memory_bytes\":32212254720}}", 0, 409, "nothing fits now" },
		{ "application/json", "{\"profile\":" PROF(""), 0, 400, "malformed JSON" },
		{ "application/json", "", 0, 400, "empty body: send an ArrivalRequest" },
		{ "application/x-www-form-urlencoded", "profile=x", 0, 415, "not supported" },
		{ "application/x-protobuf", "\x0a\x05\x0a\x01x", 0, 400, "not a numalens.v1.ArrivalRequest" },
		/* policy = 9: not a value of the enum */
		{ "application/x-protobuf", "\x0a\x03\x0a\x01x\x10\x09", 0, 400, "unknown enum value 9" },
		/* field 99 (varint): unknown to ArrivalRequest */
		{ "application/x-protobuf", "\x0a\x03\x0a\x01x\x98\x06\x01", 8, 400, "unknown field number 99" },
	};
	struct arr_env e;
	struct call c = { 0 };
	char msg[600], *before, *after;
	unsigned long gen;

	arr_begin(&e);
	CHECK_EQ_INT(post_json(&c, ARRIVAL_A), 201);
	call_free(&c);
	wakes = 0;
	before = list_body();
	gen = nl_arrivals_generation(e.a);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
		int st = request(&c, snap, "POST", "/api/v1/arrivals", NULL, cases[i].ctype,
				 cases[i].body, len);

		err_msg(&c, msg, sizeof(msg));
		if (st != cases[i].status || !strstr(msg, cases[i].msg))
			fprintf(stderr, "  arrival case %zu: %d %s\n", i, st,
				c.rp.body.data ? c.rp.body.data : "");
		CHECK_EQ_INT(st, cases[i].status);
		CHECK(strstr(msg, cases[i].msg) != NULL);
		CHECK(msg[0] != '\0');
		call_free(&c);
	}
	{
		char *big = calloc(1, NL_API_MAX_BODY + 2);

		memset(big, ' ', NL_API_MAX_BODY + 1);
		CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/arrivals", NULL, "application/json",
				     big, NL_API_MAX_BODY + 1), 413);
		free(big);
		call_free(&c);
	}
	/* the other routes' bad requests */
	CHECK_EQ_INT(get(&c, "/api/v1/arrivals/" UUID_IN2, NULL), 404);
	CHECK(strstr(err_msg(&c, msg, sizeof(msg)), "no arrival of UUID") != NULL);
	call_free(&c);
	CHECK_EQ_INT(request(&c, snap, "DELETE", "/api/v1/arrivals/" UUID_IN2, NULL, NULL, NULL, 0), 404);
	call_free(&c);
	CHECK_EQ_INT(request(&c, snap, "PUT", "/api/v1/arrivals", NULL, NULL, NULL, 0), 405);
	CHECK_STR(c.rp.allow, "GET, HEAD, POST");
	call_free(&c);
	CHECK_EQ_INT(request(&c, snap, "DELETE", "/api/v1/arrivals", NULL, NULL, NULL, 0), 405);
	call_free(&c);
	CHECK_EQ_INT(request(&c, snap, "POST", "/api/v1/arrivals/" UUID_IN, NULL, "application/json",
			     ARRIVAL_A, strlen(ARRIVAL_A)), 405);
	CHECK_STR(c.rp.allow, "GET, HEAD, DELETE");
	call_free(&c);
	c.args[0] = (struct nl_api_arg){ "policy", "simple" };
	c.nargs = 1;
	CHECK_EQ_INT(get(&c, "/api/v1/arrivals", NULL), 400);
	call_free(&c);
	CHECK_EQ_INT(nl_arrivals_generation(e.a), gen);
	CHECK_EQ_INT(wakes, 0);
	after = list_body();
	CHECK_STR(after, before);
	free(before);
	free(after);
	/* a server without a registry */
	req_env = NULL;
	CHECK_EQ_INT(get(&c, "/api/v1/arrivals", NULL), 503);
	call_free(&c);
	CHECK_EQ_INT(post_json(&c, ARRIVAL_A), 503);
	call_free(&c);
	arr_end(&e);
#undef PROF
}

static void test_arrivals_delete(void)
{
	struct arr_env e;
	struct call c = { 0 };
	char id[NL_HINT_ID_LEN] = "", upper[64];
	unsigned long gen;
	cJSON *j;

	arr_begin(&e);
	CHECK_EQ_INT(post_json(&c, ARRIVAL_A), 201);
	j = body_json(&c);
	snprintf(id, sizeof(id), "%s",
		 jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "hints"), 0), "id"));
	cJSON_Delete(j);
	call_free(&c);
	CHECK_EQ_INT(hints_with_id(snap, "simple", id, true), 1);
	/* UUIDs compare without case */
	snprintf(upper, sizeof(upper), "/api/v1/arrivals/%s", UUID_IN);
	for (char *p = upper + strlen("/api/v1/arrivals/"); *p; p++)
		*p = (char)toupper((unsigned char)*p);
	CHECK_EQ_INT(get(&c, upper, NULL), 200);
	call_free(&c);
	gen = nl_arrivals_generation(e.a);
	CHECK_EQ_INT(request(&c, snap, "DELETE", "/api/v1/arrivals/" UUID_IN, NULL, NULL, NULL, 0), 200);
	j = body_json(&c);
	CHECK_STR(jstr(j, "uuid"), UUID_IN);
	CHECK_STR(jstr(j, "vm"), "incoming");
	cJSON_Delete(j);
	call_free(&c);
	CHECK_EQ_INT(wakes, 2);
	CHECK(nl_arrivals_generation(e.a) != gen);
	CHECK_EQ_INT(get(&c, "/api/v1/arrivals", NULL), 200);
	j = body_json(&c);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "arrivals")), 0);
	cJSON_Delete(j);
	call_free(&c);
	CHECK_EQ_INT(hints_with_id(snap, "simple", id, true), 0);
	CHECK_EQ_INT(request(&c, snap, "DELETE", "/api/v1/arrivals/" UUID_IN, NULL, NULL, NULL, 0), 404);
	call_free(&c);

	/* an expired registration is gone: not listed, not deletable, no hints */
	CHECK_EQ_INT(post_json(&c, "{\"profile\":{\"vm\":\"incoming\",\"uuid\":\"" UUID_IN "\","
			     "\"memory_bytes\":23622320128,\"cpu_cores\":0.5},\"policy\":\"simple\","
			     "\"ttl_seconds\":60}"), 201);
	call_free(&c);
	CHECK_EQ_INT(hints_with_id(snap, "simple", id, true), 1);
	e.env.now += 61;
	CHECK_EQ_INT(get(&c, "/api/v1/arrivals/" UUID_IN, NULL), 404);
	call_free(&c);
	CHECK_EQ_INT(request(&c, snap, "DELETE", "/api/v1/arrivals/" UUID_IN, NULL, NULL, NULL, 0), 404);
	call_free(&c);
	CHECK_EQ_INT(hints_with_id(snap, "simple", id, true), 0);
	/* and may be registered again */
	CHECK_EQ_INT(post_json(&c, ARRIVAL_A), 201);
	call_free(&c);
	arr_end(&e);
}

/* The same through libmicrohttpd: DELETE is routed to the API, and the
 * server's registry and wake are the source's. */
static void test_arrivals_http(void)
{
	struct nl_snapshot *cur;
	struct nl_arrivals *a = nl_arrivals_new();
	struct nl_http_source src = { .get = src_get, .put = src_put, .arg = &cur,
				      .interval = 2.0, .arrivals = a, .wake = count_wake };
	static char out[1 << 18];
	char req[2048];
	struct nl_http *h;
	int port, n;

	setup();
	cur = snap;
	wakes = 0;
	h = nl_http_start("127.0.0.1:0", "/metrics", &src);
	CHECK(h != NULL);
	if (!h)
		goto cleanup;
	port = nl_http_port(h);
	n = snprintf(req, sizeof(req), "POST /api/v1/arrivals HTTP/1.1\r\nHost: x\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     strlen(ARRIVAL_A), ARRIVAL_A);
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 201);
	CHECK(strstr(out, "\"state\":\"pending\"") != NULL);
	CHECK_EQ_INT(wakes, 1);
	n = snprintf(req, sizeof(req), "DELETE /api/v1/arrivals/%s HTTP/1.1\r\nHost: x\r\n"
		     "Connection: close\r\n\r\n", UUID_IN);
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 200);
	CHECK_EQ_INT(wakes, 2);
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 404);
	n = snprintf(req, sizeof(req), "DELETE /api/v1/arrivals HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK_EQ_INT(raw_http(port, req, (size_t)n, out, sizeof(out)), 405);
	CHECK(strcasestr(out, "Allow: GET, HEAD, POST") != NULL);
	nl_http_stop(h);
cleanup:
	nl_arrivals_free(a);
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
	     NL_T(test_vms_and_profile), NL_T(test_vm_devices), NL_T(test_vm_cells),
	     NL_T(test_placement),
	     NL_T(test_bad_requests),
	     NL_T(test_negotiation),
	     NL_T(test_pbjson_mapping),
	     NL_T(test_http_server),
	     NL_T(test_enum_mapping),
	     NL_T(test_error_lists),
	     NL_T(test_arrivals_json),
	     NL_T(test_placement_policy),
	     NL_T(test_arrivals_protobuf),
	     NL_T(test_arrivals_bad),
	     NL_T(test_arrivals_delete),
	     NL_T(test_arrivals_http),
	     NL_T(test_teardown))
