/* `numalens place`: which host should a VM be live-migrated to? Fetches
 * the VM's profile from the source (GET /api/v1/vms/NAME/profile), asks
 * every candidate (POST /api/v1/placement, read-only), ranks the hosts and,
 * with --register, registers the arrival on the winner (POST
 * /api/v1/arrivals). What an orchestrator would call; see place_priv.h and
 * docs/api.md ("Across hosts"). */
#include "apply_priv.h"
#include "place_priv.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hints.h"

/* ---- options ---- */

struct place_opts {
	const char *from, *vm, *policy;
	const char *to[NL_PLACE_MAX_HOSTS];
	size_t nto;
	char *tolists[NL_PLACE_MAX_HOSTS];   /* the --to values, split in place */
	size_t ntolists;
	double timeout, ttl;
	bool reg, json;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: numalens place --from=URL --vm=NAME --to=URL[,URL...] [flags]\n\n"
		"Rank candidate hosts for live-migrating VM NAME: its profile from the\n"
		"source numalens, each candidate's read-only POST /api/v1/placement,\n"
		"the hosts best first with their best node, fit score and what would\n"
		"have to move there. --register then registers the arrival on the\n"
		"winner and prints the node(s) and the destination placement XML.\n\n"
		"Flags:\n"
		"  --from=URL          the numalens of the VM's host (http only)\n"
		"  --vm=NAME           the VM\n"
		"  --to=URL[,URL...]   candidate hosts' numalens (may be repeated)\n"
		"  --policy=POLICY     %s\n"
		"                      (default: each host's --hints.policy)\n"
		"  --register          register the arrival on the best host\n"
		"  --ttl=SECONDS       with --register: how long the host keeps it\n"
		"                      (default: the host's, 600)\n"
		"  --json              one JSON object instead of the table\n"
		"  --timeout=SECONDS   HTTP timeout per request (default 10)\n\n"
		"Exit status: 0 a host fits (and, with --register, took the arrival),\n"
		"2 usage, 3 no host fits, 4 a network or server error (the source, a\n"
		"candidate that might have fitted, or the registration).\n",
		nl_policy_names());
}

/* A "(min, max]" number of seconds into *out. Return 0 or 2. */
static int seconds(const char *name, const char *val, double max, double *out)
{
	char *end;

	*out = strtod(val, &end);
	if (end == val || *end || !(*out > 0 && *out <= max)) {
		fprintf(stderr, "numalens place: --%s: want seconds in (0, %g]\n", name, max);
		return 2;
	}
	return 0;
}

static int add_to(struct place_opts *o, const char *val)
{
	char *copy = strdup(val);
	int n;

	if (!copy || o->ntolists == NL_PLACE_MAX_HOSTS) {
		free(copy);
		fprintf(stderr, "numalens place: --to: %s\n", copy ? "too many" : "out of memory");
		return 2;
	}
	o->tolists[o->ntolists++] = copy;
	n = nl_place_split(copy, o->to + o->nto, NL_PLACE_MAX_HOSTS - o->nto);
	if (n < 0) {
		fprintf(stderr, "numalens place: --to: %s\n", n == -E2BIG
			? "more than 64 hosts" : "want URL[,URL...], without empty items");
		return 2;
	}
	o->nto += (size_t)n;
	return 0;
}

/* One --NAME=VALUE (or --NAME VALUE). Return 0 or 2. */
static int set_opt(struct place_opts *o, const char *a, size_t n, const char *val)
{
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
		{ "from", offsetof(struct place_opts, from) },
		{ "vm", offsetof(struct place_opts, vm) },
		{ "policy", offsetof(struct place_opts, policy) },
	};

	for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
		if (strlen(strs[k].name) == n && !strncmp(a, strs[k].name, n)) {
			*(const char **)((char *)o + strs[k].off) = val;
			return 0;
		}
	}
	if (n == 2 && !strncmp(a, "to", 2))
		return add_to(o, val);
	if (n == 7 && !strncmp(a, "timeout", 7))
		return seconds("timeout", val, 3600, &o->timeout);
	if (n == 3 && !strncmp(a, "ttl", 3))
		return seconds("ttl", val, 7 * 86400, &o->ttl);
	fprintf(stderr, "numalens place: unknown flag --%.*s (see --help)\n", (int)n, a);
	return 2;
}

/* Is url one that nl_apply_api_url() takes? Else say so. */
static bool url_ok(const char *flag, const char *url)
{
	struct nl_apply_path p = { .endpoint = "placement" };
	char *u = NULL;
	int rc = nl_apply_api_url(url, &p, &u);

	free(u);
	if (rc == -EINVAL)
		fprintf(stderr, "numalens place: --%s: want http[s]://HOST[:PORT][/PREFIX], got \"%s\"\n",
			flag, url);
	return rc != -EINVAL;
}

static int check_opts(const struct place_opts *o)
{
	enum nl_policy pol;

	if (!o->from || !o->vm || !o->nto) {
		fprintf(stderr, "numalens place: give --from=URL, --vm=NAME and --to=URL[,URL...] (see --help)\n");
		return 2;
	}
	if (!url_ok("from", o->from))
		return 2;
	for (size_t i = 0; i < o->nto; i++)
		if (!url_ok("to", o->to[i]))
			return 2;
	if (o->policy && nl_policy_parse(o->policy, &pol)) {
		fprintf(stderr, "numalens place: --policy: unknown policy \"%s\" (want %s)\n",
			o->policy, nl_policy_names());
		return 2;
	}
	if (o->ttl > 0 && !o->reg) {
		fprintf(stderr, "numalens place: --ttl goes with --register\n");
		return 2;
	}
	return 0;
}

/* Return 0, 1 for --help (exit 0) or 2 (usage error, told on stderr). */
static int parse_opts(int argc, char **argv, struct place_opts *o)
{
	o->timeout = 10;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		struct nl_cmd_flag f;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(a, "--register") || !strcmp(a, "--json")) {
			*(a[2] == 'r' ? &o->reg : &o->json) = true;
			continue;
		}
		if (nl_cmd_flag("place", argc, argv, &i, &f) ||
		    set_opt(o, f.name, f.len, f.value))
			return 2;
	}
	return check_opts(o);
}

/* ---- ranking ---- */

int nl_place_split(char *list, const char **urls, size_t max)
{
	size_t n = 0;
	char *p = list;

	for (;;) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		if (!*p)
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		urls[n++] = p;
		if (!comma)
			return (int)n;
		p = comma + 1;
	}
}

void nl_place_summarise(struct nl_place_host *h)
{
	const Numalens__V1__Placement *pl = h->pl;

	h->fits = false;
	h->best = NULL;
	h->move_bytes = 0;
	h->nmovers = 0;
	if (h->rc || !pl || !pl->n_nodes)
		return;
	h->best = pl->nodes[0];
	for (size_t i = 0; pl->fits && i < pl->n_nodes; i++) {
		if (pl->nodes[i]->node == pl->recommended_node && pl->nodes[i]->feasible) {
			h->best = pl->nodes[i];
			break;
		}
	}
	h->fits = pl->fits && h->best->feasible;
	for (size_t i = 0; i < h->best->n_moves; i++) {
		const Numalens__V1__Move *m = h->best->moves[i];
		bool seen = false;

		h->move_bytes += m->bytes;
		for (size_t j = 0; j < h->nmovers && !seen; j++)
			seen = m->vm && !strcmp(h->movers[j], m->vm);
		if (!seen && m->vm && h->nmovers < NL_PLACE_MAX_MOVERS)
			h->movers[h->nmovers++] = m->vm;
	}
	if (!h->best->n_moves && h->fits)
		h->move_bytes = h->best->bytes_to_free;
}

static double score_of(const struct nl_place_host *h)
{
	return h->best && h->best->has_score ? h->best->score : 0;
}

static int host_cmp(const void *pa, const void *pb)
{
	const struct nl_place_host *a = pa, *b = pb;
	double sa = score_of(a), sb = score_of(b);

	if ((a->rc != 0) != (b->rc != 0))
		return a->rc ? 1 : -1;
	if (a->fits != b->fits)
		return a->fits ? -1 : 1;
	if (sa != sb)
		return sa > sb ? -1 : 1;
	if (a->move_bytes != b->move_bytes)
		return a->move_bytes < b->move_bytes ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

void nl_place_rank(struct nl_place_host *hosts, size_t n)
{
	qsort(hosts, n, sizeof(*hosts), host_cmp);
}

int nl_place_status(const struct nl_place_host *hosts, size_t n)
{
	if (n && !hosts[0].rc && hosts[0].fits)
		return NL_PLACE_OK;
	for (size_t i = 0; i < n; i++)
		if (hosts[i].rc)
			return NL_PLACE_NET;
	return NL_PLACE_NO_FIT;
}

/* ---- the requests ---- */

/* Send one request to `base` and decode the answer as d. Return 0 or
 * -errno / an HTTP status, with the reason in err. */
static int ask(const char *base, const struct nl_apply_path *p, double timeout,
	       const ProtobufCMessage *body, const ProtobufCMessageDescriptor *d,
	       ProtobufCMessage **out, char *err, size_t errlen)
{
	struct nl_apply_req q = { .timeout = timeout, .max_bytes = NL_APPLY_MAX_RESPONSE,
				  .agent = "numalens-place" };
	struct nl_apply_reply r = { 0 };
	uint8_t *packed = NULL;
	char *url = NULL;
	int rc;

	*out = NULL;
	rc = nl_apply_api_url(base, p, &url);
	if (rc) {
		snprintf(err, errlen, rc == -EINVAL ? "want http[s]://HOST[:PORT][/PREFIX], got \"%s\""
			 : "out of memory", base);
		return rc;
	}
	if (body) {
		q.body_len = protobuf_c_message_get_packed_size(body);
		packed = malloc(q.body_len ? q.body_len : 1);
		if (!packed) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto cleanup;
		}
		protobuf_c_message_pack(body, packed);
		q.body = packed;
	}
	q.url = url;
	rc = nl_apply_http(&q, &r, err, errlen);
	if (!rc)
		rc = nl_apply_decode(base, &r, d, out, err, errlen);
	/* an error page that is not numalens' own (a proxy's): still its status */
	if (rc == -EPROTO && r.status >= 300)
		rc = (int)r.status;
cleanup:
	nl_apply_reply_free(&r);
	free(packed);
	free(url);
	return rc;
}

/* The proto's Policy of a policy name, e.g. "dino" -> POLICY_DINO. */
static Numalens__V1__Policy pb_policy(const char *name)
{
	const ProtobufCEnumValue *v;
	char buf[48];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "POLICY_%s", name);
	for (size_t i = 7; i < n && i < sizeof(buf); i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
	v = protobuf_c_enum_descriptor_get_value_by_name(&numalens__v1__policy__descriptor, buf);
	return v ? (Numalens__V1__Policy)v->value : NUMALENS__V1__POLICY__POLICY_UNSPECIFIED;
}

static Numalens__V1__Arrival *register_arrival(const struct place_opts *o,
					       const struct nl_place_host *h,
					       Numalens__V1__Profile *profile,
					       char *err, size_t errlen)
{
	Numalens__V1__ArrivalRequest rq = NUMALENS__V1__ARRIVAL_REQUEST__INIT;
	struct nl_apply_path p = { .endpoint = "arrivals" };
	ProtobufCMessage *m = NULL;

	rq.profile = profile;
	if (o->policy) {
		rq.has_policy = 1;
		rq.policy = pb_policy(o->policy);
	}
	if (o->ttl > 0) {
		rq.has_ttl_seconds = 1;
		rq.ttl_seconds = o->ttl;
	}
	if (ask(h->url, &p, o->timeout, &rq.base, &numalens__v1__arrival__descriptor, &m,
		err, errlen))
		return NULL;
	return (Numalens__V1__Arrival *)m;
}

/* Ask every --to host, in order. */
static void ask_hosts(const struct place_opts *o, Numalens__V1__Profile *profile,
		      struct nl_place_host *hosts)
{
	struct nl_apply_path p = { .endpoint = "placement", .args = { { "policy", o->policy } } };

	for (size_t i = 0; i < o->nto; i++) {
		struct nl_place_host *h = &hosts[i];
		ProtobufCMessage *m = NULL;

		h->url = o->to[i];
		h->index = i;
		h->rc = ask(h->url, &p, o->timeout, &profile->base,
			    &numalens__v1__placement__descriptor, &m, h->err, sizeof(h->err));
		h->pl = (Numalens__V1__Placement *)m;
		nl_place_summarise(h);
	}
}

/* ---- the command ---- */

static int place(const struct place_opts *o, struct nl_place_host *hosts)
{
	struct nl_apply_path src = { .endpoint = "vms", .name = o->vm, .sub = "profile" };
	struct nl_place_report rep = { o->from, o->vm, o->policy, NULL, hosts, o->nto,
				       NULL, NULL, NULL };
	Numalens__V1__Arrival *arrival = NULL;
	ProtobufCMessage *m = NULL;
	char err[600];
	int rc, ret;

	rc = ask(o->from, &src, o->timeout, NULL, &numalens__v1__profile__descriptor, &m,
		 err, sizeof(err));
	if (rc) {
		fprintf(stderr, "numalens place: the profile of VM \"%s\": %s\n", o->vm, err);
		return NL_PLACE_NET;
	}
	rep.profile = (Numalens__V1__Profile *)m;
	ask_hosts(o, (Numalens__V1__Profile *)m, hosts);
	nl_place_rank(hosts, o->nto);
	ret = nl_place_status(hosts, o->nto);
	if (ret == NL_PLACE_OK && o->reg) {
		rep.registered_on = &hosts[0];
		arrival = register_arrival(o, &hosts[0], (Numalens__V1__Profile *)m, err, sizeof(err));
		rep.arrival = arrival;
		if (!arrival) {
			rep.register_err = err;
			ret = NL_PLACE_NET;
		}
	}
	if (o->json ? nl_place_print_json(&rep, stdout) : (nl_place_print(&rep, stdout), 0)) {
		fprintf(stderr, "numalens place: out of memory\n");
		ret = NL_PLACE_NET;
	}
	if (rep.register_err)
		fprintf(stderr, "numalens place: registering the arrival on %s: %s\n",
			hosts[0].url, rep.register_err);
	if (arrival)
		protobuf_c_message_free_unpacked(&arrival->base, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	return ret;
}

int nl_cmd_place(int argc, char **argv)
{
	struct place_opts o;
	struct nl_place_host *hosts = NULL;
	int rc, ret = NL_PLACE_NET;

	memset(&o, 0, sizeof(o));
	rc = parse_opts(argc, argv, &o);
	if (rc) {
		ret = rc == 1 ? NL_PLACE_OK : NL_PLACE_USAGE;
		goto cleanup;
	}
	hosts = calloc(o.nto, sizeof(*hosts));
	if (!hosts || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "numalens place: out of memory\n");
		goto cleanup;
	}
	ret = place(&o, hosts);
	curl_global_cleanup();
cleanup:
	for (size_t i = 0; hosts && i < o.nto; i++)
		if (hosts[i].pl)
			protobuf_c_message_free_unpacked(&hosts[i].pl->base, NULL);
	free(hosts);
	for (size_t i = 0; i < o.ntolists; i++)
		free(o.tolists[i]);
	return ret;
}
