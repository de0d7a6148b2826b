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

static int h_hints(struct call *c)
{
	struct nl_api_hint_filter hf = { 0 };
	struct nl_api_bld b = { 0, c->snap };
	const char *kind = c->arg[HINTS_KIND], *vm = c->arg[HINTS_VM];
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
	if (vm && !nl_snapshot_find_vm(c->snap, vm))
		return put_error(c->rp, c->fmt, 404, "no VM named \"%.300s\" on this host", vm);
	hf.vm = vm;
	hf.id = c->arg[HINTS_ID];
	return put_built(c, &b, nl_api_pb_hint_list(&b, &hf));
}

static int h_vms(struct call *c)
{
	struct nl_api_bld b = { 0, c->snap };

	return put_built(c, &b, nl_api_pb_vm_list(&b));
}

enum { VM_POLICY };

static int h_vm(struct call *c)
{
	const struct nl_vm_snap *vm = nl_snapshot_find_vm(c->snap, c->name);
	struct nl_api_bld b = { 0, c->snap };
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
	struct nl_api_bld b = { 0, c->snap };
	struct nl_profile p;

	if (!vm)
		return put_error(c->rp, c->fmt, 404, "no VM named \"%.300s\" on this host", c->name);
	if (nl_hints_profile(c->snap, vm, &p))
		return put_error(c->rp, c->fmt, 503, "no profile yet for \"%.300s\"", c->name);
	return put_built(c, &b, nl_api_pb_profile(&b, &p));
}

/* The body's Profile, from protobuf or JSON. Return 0 with *out, 1 with a
 * 4xx answer in c->rp (*ret: put_error()'s), or -ENOMEM. */
static int read_profile(struct call *c, ProtobufCMessage **out, int *ret)
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
		*ret = put_error(rp, fmt, 400, "empty body: send a Profile (GET /api/v1/vms/NAME/profile on the source host)");
		return 1;
	}
	if (!pb) {
		rc = nl_pbjson_decode(&numalens__v1__profile__descriptor, rq->body, rq->body_len,
				      &in, err, sizeof(err));
		if (rc == -ENOMEM)
			return rc;
		if (rc) {
			*ret = put_error(rp, fmt, 400, "invalid Profile JSON: %s", err);
			return 1;
		}
		*out = in;
		return 0;
	}
	in = protobuf_c_message_unpack(&numalens__v1__profile__descriptor, NULL,
				       rq->body_len, (const uint8_t *)rq->body);
	if (!in) {
		*ret = put_error(rp, fmt, 400, "malformed protobuf: not a numalens.v1.Profile (truncated or invalid encoding)");
		return 1;
	}
	if (nl_pb_check(in, err, sizeof(err))) {
		*ret = put_error(rp, fmt, 400, "invalid Profile: %s", err);
		nl_api_msg_free(in);
		return 1;
	}
	*out = in;
	return 0;
}

static int h_placement(struct call *c)
{
	const struct nl_snapshot *snap = c->snap;
	struct nl_api_reply *rp = c->rp;
	enum fmt fmt = c->fmt;
	struct nl_api_bld b = { 0, snap };
	ProtobufCMessage *in = NULL;
	Numalens__V1__Placement *m = NULL;
	struct nl_placement *pl = NULL;
	struct nl_profile *p = NULL;
	char err[300];
	int ret = 0, rc;

	rc = read_profile(c, &in, &ret);
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
	rc = nl_hints_place(snap, p, &pl);
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
	{ "placement", NULL, false, "POST", { NULL }, h_placement },
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
			return put_error(c->rp, c->fmt, 404, "no VM with a name that long (at most %d bytes)",
					 NL_NAME_MAX - 1);
		memcpy(buf, name, nlen);
		buf[nlen] = '\0';
		c->name = buf;
	}
	if (check_args(c, r->args, &ret))
		return ret;
	return r->handler(c);
}

int nl_api_handle(const struct nl_snapshot *snap, const struct nl_api_request *rq,
		  struct nl_api_reply *rp)
{
	struct call c = { snap, rq, rp, FMT_JSON, { NULL }, NULL };

	rp->allow = NULL;
	if (negotiate(rq->accept, &c.fmt))
		return put_error(rp, FMT_JSON, 406, "Accept \"%.100s\" lists neither %s nor %s",
				 rq->accept, NL_API_JSON, NL_API_PROTOBUF);
	if (strncmp(rq->path, NL_API_PREFIX, strlen(NL_API_PREFIX)) != 0)
		return put_error(rp, c.fmt, 404, "not found");
	return dispatch(&c, rq->path + strlen(NL_API_PREFIX));
}
