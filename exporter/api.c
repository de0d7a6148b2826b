/* /api/v1: the route table, content negotiation, request checks and
 * replies; api_msg.c builds the messages. See api.h and docs/api.md. */
#include "api_priv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pbjson.h"
#include "snapshot.h"

enum fmt { FMT_JSON, FMT_PROTOBUF };

#define ROUTE_MAX_ARGS 4

/* ---- replies ---- */

static void set_type(struct nl_api_reply *rp, enum fmt fmt, const ProtobufCMessageDescriptor *d)
{
	if (fmt == FMT_PROTOBUF)
		snprintf(rp->content_type, sizeof(rp->content_type), "%s; proto=%s",
			 NL_API_PROTOBUF, d->name);
	else
		snprintf(rp->content_type, sizeof(rp->content_type), "%s", NL_API_JSON);
}

/* Serialize message m into the reply. Return 0 or -ENOMEM. */
static int put_msg(struct nl_api_reply *rp, enum fmt fmt, unsigned status,
		   const ProtobufCMessage *m)
{
	nl_buf_reset(&rp->body);
	rp->status = status;
	set_type(rp, fmt, m->descriptor);
	if (fmt == FMT_PROTOBUF) {
		size_t n = protobuf_c_message_get_packed_size(m);

		if (nl_buf_reserve(&rp->body, n))
			return -ENOMEM;
		protobuf_c_message_pack(m, (uint8_t *)rp->body.data);
		rp->body.len = n;
		rp->body.data[n] = '\0';
		return 0;
	}
	nl_pbjson_encode(m, &rp->body);
	nl_buf_putc(&rp->body, '\n');
	return rp->body.err;
}

__attribute__((format(printf, 4, 5)))
static int put_error(struct nl_api_reply *rp, enum fmt fmt, unsigned status,
		     const char *msgfmt, ...)
{
	Numalens__V1__Error e = NUMALENS__V1__ERROR__INIT;
	char msg[512];
	va_list ap;

	va_start(ap, msgfmt);
	vsnprintf(msg, sizeof(msg), msgfmt, ap);
	va_end(ap);
	e.has_code = 1;
	e.code = status;
	e.message = msg;
	return put_msg(rp, fmt, status, &e.base);
}

/* ---- negotiation ---- */

static bool media_is(const char *s, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(s, want, n) == 0;
}

static bool is_pb_type(const char *s, size_t n)
{
	return media_is(s, n, "application/x-protobuf") ||
	       media_is(s, n, "application/protobuf") ||
	       media_is(s, n, "application/vnd.google.protobuf");
}

/* Pick the answer format from an Accept header. Return 0 or -1 when it
 * accepts neither JSON nor protobuf. The highest q wins; an explicit type
 * beats a wildcard at equal q; JSON wins ties. */
static int negotiate(const char *accept, enum fmt *out)
{
	double best_q = -1;
	int best_rank = -1;
	const char *p = accept;

	*out = FMT_JSON;
	if (!accept || !*accept)
		return 0;
	while (*p) {
		const char *start, *end, *elem_end = strchr(p, ',');
		size_t n;
		double q = 1;
		int rank;
		enum fmt f;

		if (!elem_end)
			elem_end = p + strlen(p);
		while (p < elem_end && isspace((unsigned char)*p))
			p++;
		start = p;
		while (p < elem_end && *p != ';' && !isspace((unsigned char)*p))
			p++;
		end = p;
		n = (size_t)(end - start);
		for (const char *qp = end; qp < elem_end; qp++) {
			if (*qp == ';') {
				const char *v = qp + 1;

				while (v < elem_end && isspace((unsigned char)*v))
					v++;
				if (v + 2 <= elem_end && (v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
					q = strtod(v + 2, NULL);
			}
		}
		if (is_pb_type(start, n)) {
			f = FMT_PROTOBUF;
			rank = 3;
		} else if (media_is(start, n, "application/json")) {
			f = FMT_JSON;
			rank = 4;
		} else if (media_is(start, n, "application/*") || media_is(start, n, "*/*")) {
			f = FMT_JSON;
			rank = media_is(start, n, "*/*") ? 1 : 2;
		} else {
			f = FMT_JSON;
			rank = -1;
		}
		if (rank >= 0 && q > 0 && (q > best_q || (q == best_q && rank > best_rank))) {
			best_q = q;
			best_rank = rank;
			*out = f;
		}
		p = *elem_end ? elem_end + 1 : elem_end;
	}
	return best_rank >= 0 ? 0 : -1;
}

/* ---- request checks ---- */

/* One request on its way through a route. */
struct call {
	const struct nl_api_env *env;
	double now;                       /* wall clock of the request */
	const struct nl_snapshot *snap;
	const struct nl_api_request *rq;
	struct nl_api_reply *rp;
	enum fmt fmt;
	const char *arg[ROUTE_MAX_ARGS];  /* the route's arguments, NULL when not given */
	const char *name;                 /* a named route's name ("vms/NAME") */
};

/* Take the query arguments a route allows into c->arg, in the route's
 * order. Return 0, or 1 with a 400 answer in c->rp (*ret: put_error()'s). */
static int check_args(struct call *c, const char *const *allowed, int *ret)
{
	const struct nl_api_request *rq = c->rq;
	int nallowed = 0;

	while (nallowed < ROUTE_MAX_ARGS && allowed[nallowed])
		c->arg[nallowed++] = NULL;
	for (size_t i = 0; i < rq->nargs; i++) {
		int k;

		for (k = 0; k < nallowed; k++)
			if (strcmp(rq->args[i].key, allowed[k]) == 0)
				break;
		if (k == nallowed) {
			char list[128] = "";

			for (int j = 0; j < nallowed; j++) {
				strcat(list, j ? ", " : "");
				strcat(list, allowed[j]);
			}
			*ret = put_error(c->rp, c->fmt, 400, "unknown query argument \"%.64s\" (allowed: %s)",
					 rq->args[i].key, nallowed ? list : "none");
			return 1;
		}
		if (c->arg[k]) {
			*ret = put_error(c->rp, c->fmt, 400, "query argument \"%s\" given twice", allowed[k]);
			return 1;
		}
		if (!rq->args[i].value || !rq->args[i].value[0]) {
			*ret = put_error(c->rp, c->fmt, 400, "query argument \"%s\" needs a value", allowed[k]);
			return 1;
		}
		c->arg[k] = rq->args[i].value;
	}
	return 0;
}

/* Is `method` one of the comma-separated methods in `allow`? */
static bool method_listed(const char *allow, const char *method)
{
	size_t n = strlen(method);

	for (const char *p = allow; *p;) {
		size_t len = strcspn(p, ", ");

		if (len == n && strncmp(p, method, n) == 0)
			return true;
		p += len;
		p += strspn(p, ", ");
	}
	return false;
}

/* "a, b, c or d": the names of an engine enum, for error texts, so that a
 * new policy or hint kind shows up in them without an edit here. */
static const char *name_list(char *buf, size_t len, const char *(*name)(int), int n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
				 name(i));

		if (w < 0)
			break;
		o += (size_t)w;
	}
	return buf;
}

static const char *policy_at(int i)
{
	return nl_policy_name((enum nl_policy)i);
}

static const char *kind_at(int i)
{
	return nl_hint_kind_name((enum nl_hint_kind)i);
}

/* ?policy=, or the server's default. Return 0, or 1 with a 400 answer. */
static int take_policy(struct call *c, const char *s, enum nl_policy *out, int *ret)
{
	char names[256];

	if (!s) {
		*out = c->snap->hints->default_policy;
		return 0;
	}
	if (nl_policy_parse(s, out) == 0)
		return 0;
	*ret = put_error(c->rp, c->fmt, 400, "unknown policy \"%.64s\" (want %s)", s,
			 name_list(names, sizeof(names), policy_at, NL_POLICY_COUNT));
	return 1;
}

/* Serialize a built message (or the build's error) and free it. */
static int put_built(struct call *c, struct nl_api_bld *b, void *m)
{
	int ret = b->err ? b->err : put_msg(c->rp, c->fmt, 200, m);

	nl_api_msg_free(m);
	return ret;
}

/* ---- endpoints ---- */

enum { HINTS_POLICY, HINTS_VM, HINTS_KIND, HINTS_ID };

static void hints_free(struct nl_hint *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		nl_hint_free_contents(&h[i]);
	free(h);
}

/* Is `vm` one the pending arrivals' room-making hints are about or for? */
static bool vm_in_hints(const struct nl_hint *h, size_t n, const char *vm)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(h[i].vm, vm) || !strcmp(h[i].beneficiary, vm))
			return true;
	return false;
}

/* The snapshot's hints, and the pending arrivals' room-making hints at
 * once: a registration is not to wait for the engine's next cycle. */
static int h_hints(struct call *c)
{
	struct nl_api_hint_filter hf = { 0 };
	struct nl_api_bld b = { .s = c->snap };
	const char *kind = c->arg[HINTS_KIND], *vm = c->arg[HINTS_VM];
	struct nl_hint *extra = NULL;
	size_t nextra = 0;
	char names[256];
	int ret = 0;

	if (take_policy(c, c->arg[HINTS_POLICY], &hf.policy, &ret))
		return ret;
	if (kind) {
		if (nl_hint_kind_parse(kind, &hf.kind))
			return put_error(c->rp, c->fmt, 400, "unknown kind \"%.64s\" (want %s)", kind,
					 name_list(names, sizeof(names), kind_at, NL_HINT_KIND_COUNT));
		hf.kind_set = true;
	}
	if (c->env->arrivals) {
		ret = nl_arrivals_room_hints(c->env->arrivals, hf.policy, c->now, &extra, &nextra);
		if (ret)
			return ret;
	}
	if (vm && !nl_snapshot_find_vm(c->snap, vm) && !vm_in_hints(extra, nextra, vm)) {
		ret = put_error(c->rp, c->fmt, 404, "no VM named \"%.300s\" on this host", vm);
		goto cleanup;
	}
	hf.vm = vm;
	hf.id = c->arg[HINTS_ID];
	hf.extra = extra;
	hf.nextra = nextra;
	ret = put_built(c, &b, nl_api_pb_hint_list(&b, &hf));
cleanup:
	hints_free(extra, nextra);
	return ret;
}

static int h_vms(struct call *c)
{
	struct nl_api_bld b = { .s = c->snap };

	return put_built(c, &b, nl_api_pb_vm_list(&b));
}

enum { VM_POLICY };

static int h_vm(struct call *c)
{
	const struct nl_vm_snap *vm = nl_snapshot_find_vm(c->snap, c->name);
	struct nl_api_bld b = { .s = c->snap };
	enum nl_policy pol;
	int ret = 0;

	if (take_policy(c, c->arg[VM_POLICY], &pol, &ret))
		return ret;
	if (!vm)
		return put_error(c->rp, c->fmt, 404, "no VM named \"%.300s\" on this host", c->name);
	return put_built(c, &b, nl_api_pb_vm(&b, vm, true, pol));
}

static int h_profile(struct call *c)
{
	const struct nl_vm_snap *vm = nl_snapshot_find_vm(c->snap, c->name);
	struct nl_api_bld b = { .s = c->snap };
	struct nl_profile p;

	if (!vm)
		return put_error(c->rp, c->fmt, 404, "no VM named \"%.300s\" on this host", c->name);
	if (nl_hints_profile(c->snap, vm, &p))
		return put_error(c->rp, c->fmt, 503, "no profile yet for \"%.300s\"", c->name);
	return put_built(c, &b, nl_api_pb_profile(&b, &p));
}

/* The body's message of type d, from protobuf or JSON; `what` is the
 * empty body's answer. Return 0 with *out, 1 with a 4xx answer in c->rp
 * (*ret: put_error()'s), or -ENOMEM. */
static int read_body(struct call *c, const ProtobufCMessageDescriptor *d, const char *what,
		     ProtobufCMessage **out, int *ret)
{
	const struct nl_api_request *rq = c->rq;
	struct nl_api_reply *rp = c->rp;
	enum fmt fmt = c->fmt;
	ProtobufCMessage *in = NULL;
	char err[300], ct[64];
	size_t ctn = 0;
	bool pb = false;
	int rc;

	*out = NULL;
	if (rq->body_too_large) {
		*ret = put_error(rp, fmt, 413, "request body larger than %u bytes", NL_API_MAX_BODY);
		return 1;
	}
	if (rq->content_type) {
		const char *t = rq->content_type;

		while (*t == ' ')
			t++;
		while (t[ctn] && t[ctn] != ';' && t[ctn] != ' ' && ctn + 1 < sizeof(ct))
			ctn++;
		pb = is_pb_type(t, ctn);
		if (!pb && !media_is(t, ctn, "application/json")) {
			*ret = put_error(rp, fmt, 415, "Content-Type \"%.64s\" not supported: send %s or %s",
					 rq->content_type, NL_API_JSON, NL_API_PROTOBUF);
			return 1;
		}
	}
	if (rq->body_len == 0) {
		*ret = put_error(rp, fmt, 400, "empty body: send %s", what);
		return 1;
	}
	if (!pb) {
		rc = nl_pbjson_decode(d, rq->body, rq->body_len, &in, err, sizeof(err));
		if (rc == -ENOMEM)
			return rc;
		if (rc) {
			*ret = put_error(rp, fmt, 400, "invalid %s JSON: %s", d->short_name, err);
			return 1;
		}
		*out = in;
		return 0;
	}
	in = protobuf_c_message_unpack(d, NULL, rq->body_len, (const uint8_t *)rq->body);
	if (!in) {
		*ret = put_error(rp, fmt, 400, "malformed protobuf: not a %s (truncated or invalid encoding)",
				 d->name);
		return 1;
	}
	if (nl_pb_check(in, err, sizeof(err))) {
		*ret = put_error(rp, fmt, 400, "invalid %s: %s", d->short_name, err);
		nl_api_msg_free(in);
		return 1;
	}
	*out = in;
	return 0;
}

enum { PLACEMENT_POLICY };

/* A read-only what-if under ?policy=, with the pending arrivals' memory and
 * CPU counted as taken. */
static int h_placement(struct call *c)
{
	const struct nl_snapshot *snap = c->snap;
	struct nl_api_reply *rp = c->rp;
	enum fmt fmt = c->fmt;
	struct nl_api_bld b = { .s = snap };
	ProtobufCMessage *in = NULL;
	Numalens__V1__Placement *m = NULL;
	struct nl_placement *pl = NULL;
	struct nl_profile *p = NULL;
	enum nl_policy pol;
	char err[300];
	int ret = 0, rc;

	if (take_policy(c, c->arg[PLACEMENT_POLICY], &pol, &ret))
		return ret;
	rc = read_body(c, &numalens__v1__profile__descriptor,
		       "a Profile (GET /api/v1/vms/NAME/profile on the source host)", &in, &ret);
	if (rc)
		return rc < 0 ? rc : ret;
	p = malloc(sizeof(*p));
	if (!p) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if (nl_api_profile_from_pb((const Numalens__V1__Profile *)in, p, err, sizeof(err))) {
		ret = put_error(rp, fmt, 400, "invalid Profile: %s", err);
		goto cleanup;
	}
	if (c->env->arrivals)
		rc = nl_arrivals_place(c->env->arrivals, snap, p, pol, c->now, &pl);
	else
		rc = nl_hints_place_with(snap, p, pol, NULL, &pl);
	if (rc == -ENODATA) {
		ret = put_error(rp, fmt, 503, "no topology or hint report yet");
		goto cleanup;
	}
	if (rc == -EINVAL) {
		ret = put_error(rp, fmt, 400, "invalid Profile: memory must be above 0");
		goto cleanup;
	}
	if (rc) {
		ret = rc;
		goto cleanup;
	}
	m = nl_api_pb_placement(&b, pl);
	ret = b.err ? b.err : put_msg(rp, fmt, 200, &m->base);
cleanup:
	nl_api_msg_free(m);
	nl_api_msg_free(in);
	nl_placement_free(pl);
	free(p);
	return ret;
}

/* ---- arrivals ---- */

/* The request's policy: a named .proto value, else the server's default.
 * Return 0, or 1 with a 400 answer. */
static int arrival_policy(struct call *c, const Numalens__V1__ArrivalRequest *req,
			  enum nl_policy *out, int *ret)
{
	char names[256];

	*out = c->snap->hints->default_policy;
	if (!req->has_policy || req->policy == NUMALENS__V1__POLICY__POLICY_UNSPECIFIED)
		return 0;
	if (nl_api_policy_from_pb(req->policy, out) == 0)
		return 0;
	*ret = put_error(c->rp, c->fmt, 400, "unknown policy %d (want %s)", (int)req->policy,
			 name_list(names, sizeof(names), policy_at, NL_POLICY_COUNT));
	return 1;
}

/* The answer to a refused registration (the registry changed nothing),
 * or rc itself when it is no client's fault. */
static int register_error(struct call *c, int rc, const char *err)
{
	static const struct {
		int rc;
		unsigned status;
		const char *text;
	} map[] = {
		{ -EINVAL, 400, "invalid arrival: " },
		{ -EEXIST, 409, "a VM of this UUID is already running here" },
		{ -EALREADY, 409, "this UUID is already registered" },
		{ -ENOSPC, 409, "no node has room for it now (pending arrivals counted)" },
		{ -E2BIG, 422, "the profile needs more than any node of this host has" },
		{ -ENODATA, 503, "no topology or hint report yet" },
	};

	/* err is the registry's sentence; a 400's gets the prefix */
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].rc == rc)
			return put_error(c->rp, c->fmt, map[i].status, "%s%s",
					 rc == -EINVAL || !err[0] ? map[i].text : "",
					 err[0] ? err : "");
	return rc;
}

/* POST /api/v1/arrivals: register, answer 201 with the Arrival, and wake
 * the engine so that its next snapshot carries the room-making hints. */
static int arrival_register(struct call *c)
{
	struct nl_api_bld b = { .s = c->snap, .ranked_on = c->snap };
	const Numalens__V1__ArrivalRequest *req;
	struct nl_arrival_entry *e = NULL;
	ProtobufCMessage *in = NULL;
	Numalens__V1__Arrival *m = NULL;
	struct nl_profile *p = NULL;
	enum nl_policy pol;
	double ttl = 0;
	char err[300] = "";
	int ret = 0, rc;

	rc = read_body(c, &numalens__v1__arrival_request__descriptor,
		       "an ArrivalRequest ({\"profile\": the source's GET /api/v1/vms/NAME/profile, \"policy\": ...})",
		       &in, &ret);
	if (rc)
		return rc < 0 ? rc : ret;
	req = (const Numalens__V1__ArrivalRequest *)in;
	if (!req->profile) {
		ret = put_error(c->rp, c->fmt, 400, "invalid ArrivalRequest: profile is required");
		goto cleanup;
	}
	if (arrival_policy(c, req, &pol, &ret))
		goto cleanup;
	if (req->has_ttl_seconds) {
		ttl = req->ttl_seconds;
		if (!(ttl > 0 && ttl <= NL_ARRIVAL_TTL_MAX)) {
			ret = put_error(c->rp, c->fmt, 400, "invalid ArrivalRequest: ttl_seconds must be in (0, %g]",
					NL_ARRIVAL_TTL_MAX);
			goto cleanup;
		}
	}
	p = malloc(sizeof(*p));
	if (!p) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if (nl_api_profile_from_pb(req->profile, p, err, sizeof(err))) {
		ret = put_error(c->rp, c->fmt, 400, "invalid Profile: %s", err);
		goto cleanup;
	}
	/* libvirt writes UUIDs in lower case; the registry compares them as
	 * given */
	for (char *u = p->uuid; *u; u++)
		*u = (char)tolower((unsigned char)*u);
	rc = nl_arrivals_register(c->env->arrivals, c->snap, p, pol, ttl, c->now, &e,
				  err, sizeof(err));
	if (rc) {
		ret = register_error(c, rc, err);
		goto cleanup;
	}
	if (c->env->wake)
		c->env->wake(c->env->wake_arg);
	m = nl_api_pb_arrival(&b, e);
	ret = b.err ? b.err : put_msg(c->rp, c->fmt, 201, &m->base);
cleanup:
	nl_api_msg_free(m);
	nl_api_msg_free(in);
	nl_arrival_entries_free(e, e ? 1 : 0);
	free(p);
	return ret;
}

static int arrival_list(struct call *c)
{
	struct nl_api_bld b = { .s = c->snap };
	struct nl_arrival_entry *e = NULL;
	size_t n = 0;
	int ret;

	ret = nl_arrivals_list(c->env->arrivals, c->now, &e, &n);
	if (ret)
		return ret;
	ret = put_built(c, &b, nl_api_pb_arrival_list(&b, e, n, c->now));
	nl_arrival_entries_free(e, n);
	return ret;
}

static int h_arrivals(struct call *c)
{
	if (!c->env->arrivals)
		return put_error(c->rp, c->fmt, 503, "this server keeps no arrival registry");
	if (strcmp(c->rq->method, "POST") == 0)
		return arrival_register(c);
	return arrival_list(c);
}

/* GET or DELETE /api/v1/arrivals/UUID; a DELETE answers with the Arrival
 * it withdrew. */
static int h_arrival(struct call *c)
{
	struct nl_api_bld b = { .s = c->snap };
	struct nl_arrival_entry *e = NULL;
	const struct nl_arrival_entry *hit = NULL;
	size_t n = 0;
	int ret;

	if (!c->env->arrivals)
		return put_error(c->rp, c->fmt, 503, "this server keeps no arrival registry");
	ret = nl_arrivals_list(c->env->arrivals, c->now, &e, &n);
	if (ret)
		return ret;
	for (size_t i = 0; !hit && i < n; i++)
		if (strcasecmp(e[i].uuid, c->name) == 0)
			hit = &e[i];
	if (hit && strcmp(c->rq->method, "DELETE") == 0) {
		if (nl_arrivals_withdraw(c->env->arrivals, hit->uuid, c->now))
			hit = NULL;   /* expired or withdrawn since the list */
		else if (c->env->wake)
			c->env->wake(c->env->wake_arg);
	}
	if (hit)
		ret = put_built(c, &b, nl_api_pb_arrival(&b, hit));
	else
		ret = put_error(c->rp, c->fmt, 404, "no arrival of UUID \"%.64s\" is registered here",
				c->name);
	nl_arrival_entries_free(e, n);
	return ret;
}

/* ---- routes ---- */

struct route {
	const char *path;      /* below NL_API_PREFIX; named: the part before the name */
	const char *suffix;    /* named: the part after the name, "" for none */
	bool named;            /* path NAME suffix, NAME not empty */
	const char *allow;     /* the methods, as a 405's Allow header lists them */
	const char *args[ROUTE_MAX_ARGS + 1];  /* query arguments allowed, NULL-ended */
	int (*handler)(struct call *c);
};

/* First match wins: vms/NAME/profile before vms/NAME. The argument order
 * is the handler's index into call.arg (HINTS_*, VM_*). */
static const struct route routes[] = {
	{ "hints", NULL, false, "GET, HEAD", { "policy", "vm", "kind", "id", NULL }, h_hints },
	{ "vms", NULL, false, "GET, HEAD", { NULL }, h_vms },
	{ "vms/", "/profile", true, "GET, HEAD", { NULL }, h_profile },
	{ "vms/", "", true, "GET, HEAD", { "policy", NULL }, h_vm },
	{ "placement", NULL, false, "POST", { "policy", NULL }, h_placement },
	{ "arrivals", NULL, false, "GET, HEAD, POST", { NULL }, h_arrivals },
	{ "arrivals/", "", true, "GET, HEAD, DELETE", { NULL }, h_arrival },
};

/* Does `rest` (the path below NL_API_PREFIX) take route r? *name, *nlen:
 * the name of a named route. */
static bool route_matches(const struct route *r, const char *rest, const char **name,
			  size_t *nlen)
{
	size_t plen = strlen(r->path), n, slen;

	if (!r->named)
		return strcmp(rest, r->path) == 0;
	if (strncmp(rest, r->path, plen) != 0)
		return false;
	rest += plen;
	n = strlen(rest);
	slen = strlen(r->suffix);
	if (n <= slen || strcmp(rest + n - slen, r->suffix) != 0)
		return false;
	*name = rest;
	*nlen = n - slen;
	return true;
}

/* Route `rest`; answer 404, 405 or 503 here, else check the arguments and
 * call the handler. */
static int dispatch(struct call *c, const char *rest)
{
	const struct route *r = NULL;
	const char *name = NULL;
	char buf[NL_NAME_MAX];
	size_t nlen = 0;
	int ret = 0;

	for (size_t i = 0; !r && i < sizeof(routes) / sizeof(routes[0]); i++)
		if (route_matches(&routes[i], rest, &name, &nlen))
			r = &routes[i];
	if (!r)
		return put_error(c->rp, c->fmt, 404, "no API endpoint %.200s (see docs/api.md)",
				 c->rq->path);
	if (!method_listed(r->allow, c->rq->method)) {
		c->rp->allow = r->allow;
		return put_error(c->rp, c->fmt, 405, "method %.16s not allowed here (use %s)",
				 c->rq->method, r->allow);
	}
	if (!c->snap)
		return put_error(c->rp, c->fmt, 503, "no snapshot yet: the first sample cycle has not finished");
	if (!c->snap->hints)
		return put_error(c->rp, c->fmt, 503, "the hint engine has no report for the current snapshot");
	if (r->named) {
		if (nlen >= sizeof(buf))
			return put_error(c->rp, c->fmt, 404, "no %s with a name that long (at most %d bytes)",
					 r->handler == h_arrival ? "arrival" : "VM", NL_NAME_MAX - 1);
		memcpy(buf, name, nlen);
		buf[nlen] = '\0';
		c->name = buf;
	}
	if (check_args(c, r->args, &ret))
		return ret;
	return r->handler(c);
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int nl_api_handle(const struct nl_snapshot *snap, const struct nl_api_request *rq,
		  struct nl_api_reply *rp)
{
	struct nl_api_env env = { .snap = snap };

	return nl_api_handle_env(&env, rq, rp);
}

int nl_api_handle_env(const struct nl_api_env *env, const struct nl_api_request *rq,
		      struct nl_api_reply *rp)
{
	struct call c = { .env = env, .snap = env->snap, .rq = rq, .rp = rp, .fmt = FMT_JSON };

	c.now = env->now > 0 ? env->now : wall_now();
	rp->allow = NULL;
	if (negotiate(rq->accept, &c.fmt))
		return put_error(rp, FMT_JSON, 406, "Accept \"%.100s\" lists neither %s nor %s",
				 rq->accept, NL_API_JSON, NL_API_PROTOBUF);
	if (rq->reject)
		return put_error(rp, c.fmt, 400, "bad request: %.300s", rq->reject);
	if (rq->args_overflow)
		return put_error(rp, c.fmt, 400, "too many query arguments (at most %d)",
				 NL_API_MAX_ARGS);
	if (strncmp(rq->path, NL_API_PREFIX, strlen(NL_API_PREFIX)) != 0)
		return put_error(rp, c.fmt, 404, "not found");
	return dispatch(&c, rq->path + strlen(NL_API_PREFIX));
}
