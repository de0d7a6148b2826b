/* `numalens apply`: the command line. See apply.h, apply_priv.h and
 * docs/api.md ("Reference actuator"); --follow goes on in follow.c.
 *
 * The hints come from GET /api/v1/hints as protobuf (apply_http.c). Each
 * hint's actions run in order through the action table (apply_actions.c);
 * an action marked `fallback` runs only when the action before it failed
 * (live numatune first, migrate_pages(2) when libvirt cannot). */
#include "apply_priv.h"

#include <curl/curl.h>
#include <errno.h>
#include <libvirt/virterror.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hints.h"
#include "paths.h"
#include "pbjson.h"

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: numalens apply (--id=ID | --vm=NAME [--kind=KIND]) [flags]\n"
		"       numalens apply --follow --policy=POLICY (--yes | --dry-run)\n"
		"                      [--vm=NAME] [--kind=KIND] [flags]\n\n"
		"Fetch hints from a running numalens and apply them through libvirt.\n"
		"Without --yes nothing changes: every action is printed with its\n"
		"libvirt call and virsh equivalent. With --yes each change is logged\n"
		"with the value before and after. evict hints are never acted on.\n"
		"With --follow it keeps polling and applies each new hint once, room-\n"
		"making moves (lower step) first, until SIGINT or SIGTERM.\n\n"
		"Flags:\n"
		"  --url=URL           numalens to ask (default http://127.0.0.1:9808;\n"
		"                      e.g. http://[::1]:9808, https://host:9808)\n"
		"  --id=ID             the hint to apply\n"
		"  --vm=NAME           every hint for VM NAME (incl. room-making moves\n"
		"                      of other VMs for it), in step order\n"
		"  --kind=KIND         pin_vcpus, migrate_memory, pin_vmm_threads or\n"
		"                      evict (with --vm, or with --follow)\n"
		"  --policy=POLICY     %s\n"
		"                      (default: the server's --hints.policy)\n"
		"  --libvirt.uri=URI   libvirt connection (default qemu:///system)\n"
		"  --path.procfs=PATH  procfs mountpoint (default /proc)\n"
		"  --timeout=SECONDS   HTTP timeout (default 10)\n"
		"  --yes               apply; without it, a dry run\n"
		"  --dry-run           log what would be applied (the default, explicit)\n"
		"  --insecure          allow a --url that is not this host (loopback)\n"
		"                      without https and --tls.ca-file\n"
		"  --tls.ca-file=FILE  trust an https --url signed by this CA\n"
		"  --tls.cert-file=FILE --tls.key-file=FILE  client certificate (mTLS)\n"
		"  --auth.user=USER --auth.password-file=FILE  basic auth\n\n"
		"Every PID and TID is checked before anything changes: the PID is the\n"
		"hint's QEMU (its -name, run as root or libvirt-qemu, or holding\n"
		"/dev/kvm), each TID one of its threads. Server strings are printed with\n"
		"control bytes escaped.\n\n"
		"With --follow:\n"
		"  --interval=SECONDS  time between polls (default 2)\n"
		"  --backoff-max=SECONDS  longest wait between retries while the server\n"
		"                      is away (default 30; the wait doubles from --interval)\n"
		"  --state=FILE        keep the applied hint ids in FILE too, so that a\n"
		"                      restarted follower never applies one again\n\n"
		"Exit status: 0 applied (or dry run; --follow: stopped by a signal),\n"
		"1 an action failed (--follow: a fatal error), 2 usage, 3 no matching hint.\n",
		nl_policy_names());
}

/* Set a string flag by name; false when there is none of that name. */
static bool set_flag(struct nl_apply_opts *o, const char *name, size_t n, const char *val)
{
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
		{ "url", offsetof(struct nl_apply_opts, url) },
		{ "id", offsetof(struct nl_apply_opts, id) },
		{ "vm", offsetof(struct nl_apply_opts, vm) },
		{ "kind", offsetof(struct nl_apply_opts, kind) },
		{ "policy", offsetof(struct nl_apply_opts, policy) },
		{ "libvirt.uri", offsetof(struct nl_apply_opts, uri) },
		{ "path.procfs", offsetof(struct nl_apply_opts, procfs) },
		{ "state", offsetof(struct nl_apply_opts, state) },
		{ "tls.ca-file", offsetof(struct nl_apply_opts, ca_file) },
		{ "tls.cert-file", offsetof(struct nl_apply_opts, cert_file) },
		{ "tls.key-file", offsetof(struct nl_apply_opts, key_file) },
		{ "auth.user", offsetof(struct nl_apply_opts, user) },
		{ "auth.password-file", offsetof(struct nl_apply_opts, password_file) },
	};

	for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
		if (strlen(strs[k].name) == n && !strncmp(name, strs[k].name, n)) {
			*(const char **)((char *)o + strs[k].off) = val;
			return true;
		}
	}
	return false;
}

/* Set a flag of seconds by name: 1 done, 0 no such flag, 2 a bad value. */
static int set_seconds(struct nl_apply_opts *o, const char *name, size_t n, const char *val)
{
	static const struct {
		const char *name;
		size_t off;
		double min, max;    /* (min, max] */
	} secs[] = {
		{ "timeout", offsetof(struct nl_apply_opts, timeout), 0, 3600 },
		{ "interval", offsetof(struct nl_apply_opts, interval), 0, 3600 },
		{ "backoff-max", offsetof(struct nl_apply_opts, backoff_max), 0, 3600 },
	};

	for (size_t k = 0; k < sizeof(secs) / sizeof(secs[0]); k++) {
		char *end;
		double v;

		if (strlen(secs[k].name) != n || strncmp(name, secs[k].name, n))
			continue;
		v = strtod(val, &end);
		if (end == val || *end || !(v > secs[k].min && v <= secs[k].max)) {
			fprintf(stderr, "numalens apply: --%s: want seconds in (%g, %g]\n",
				secs[k].name, secs[k].min, secs[k].max);
			return 2;
		}
		*(double *)((char *)o + secs[k].off) = v;
		if (secs[k].off != offsetof(struct nl_apply_opts, timeout))
			o->follow_only = secs[k].name;
		return 1;
	}
	return 0;
}

/* The flags of --follow, once all are read. Return 0 or 2. */
static int check_follow(const struct nl_apply_opts *o)
{
	enum nl_policy pol;

	if (!o->follow) {
		if (o->follow_only) {
			fprintf(stderr, "numalens apply: --%s goes with --follow\n", o->follow_only);
			return 2;
		}
		return 0;
	}
	if (o->id) {
		fprintf(stderr, "numalens apply: --follow takes new hints as they come; --id is for one\n");
		return 2;
	}
	if (!o->policy) {
		fprintf(stderr, "numalens apply: --follow watches one policy: give --policy=POLICY\n");
		return 2;
	}
	if (nl_policy_parse(o->policy, &pol)) {
		fprintf(stderr, "numalens apply: --policy: unknown policy \"%s\" (want %s)\n",
			o->policy, nl_policy_names());
		return 2;
	}
	if (!o->yes && !o->dry_run) {
		fprintf(stderr, "numalens apply: --follow needs --yes (apply) or --dry-run (log only)\n");
		return 2;
	}
	return 0;
}

/* The flags that go together, once all are read. Return 0 or 2. */
static int check_opts(const struct nl_apply_opts *o)
{
	if (!o->follow && !o->id && !o->vm) {
		fprintf(stderr, "numalens apply: give --id=ID or --vm=NAME (see --help)\n");
		return 2;
	}
	if (!o->follow && o->kind && !o->vm) {
		fprintf(stderr, "numalens apply: --kind goes with --vm\n");
		return 2;
	}
	if (o->yes && o->dry_run) {
		fprintf(stderr, "numalens apply: --yes or --dry-run, not both\n");
		return 2;
	}
	/* hints change pinning and move memory: only a server on this host,
	 * or one that proves who it is (https and the CA it must be signed
	 * by), is trusted without more */
	if (!o->insecure && !nl_apply_url_is_loopback(o->url) &&
	    !(o->ca_file && !strncasecmp(o->url, "https://", 8))) {
		fprintf(stderr, "numalens apply: --url=%s is not this host (loopback): hints from elsewhere are trusted over https with --tls.ca-file, or with --insecure\n",
			o->url);
		return 2;
	}
	/* the PIDs and TIDs of a fixture tree are unrelated real processes */
	if (o->yes && strcmp(o->procfs, "/proc") != 0) {
		fprintf(stderr, "numalens apply: --yes acts on real processes: it needs --path.procfs=/proc\n");
		return 2;
	}
	return check_follow(o);
}

/* A flag without a value; false when there is none of that name. */
static bool set_switch(struct nl_apply_opts *o, const char *a)
{
	if (!strcmp(a, "--yes"))
		o->yes = true;
	else if (!strcmp(a, "--dry-run"))
		o->dry_run = true;
	else if (!strcmp(a, "--follow"))
		o->follow = true;
	else if (!strcmp(a, "--insecure"))
		o->insecure = true;
	else
		return false;
	return true;
}

/* Return 0, 1 for --help (exit 0) or 2 (usage error, told on stderr). */
static int parse_opts(int argc, char **argv, struct nl_apply_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->url = "http://127.0.0.1:9808";
	o->uri = "qemu:///system";
	o->procfs = "/proc";
	o->timeout = 10;
	o->interval = 2;
	o->backoff_max = 30;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;
		struct nl_cmd_flag f;
		size_t n;
		int rc;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		}
		if (set_switch(o, a))
			continue;
		if (nl_cmd_flag("apply", argc, argv, &i, &f))
			return 2;
		a = f.name;
		n = f.len;
		val = f.value;
		rc = set_seconds(o, a, n, val);
		if (rc == 2)
			return 2;
		if (rc)
			continue;
		if (!set_flag(o, a, n, val)) {
			fprintf(stderr, "numalens apply: unknown flag --%.*s (see --help)\n", (int)n, a);
			return 2;
		}
		if (n == 5 && !strncmp(a, "state", 5))
			o->follow_only = "state";
	}
	return check_opts(o);
}

/* ---- one hint ---- */

static void lv_silent(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

/* The hint's libvirt domain, by UUID, else by name; NULL with a message. */
static virDomainPtr hint_domain(const struct nl_apply_ctx *c, const Numalens__V1__Hint *h)
{
	virDomainPtr dom = h->uuid && h->uuid[0] ? virDomainLookupByUUIDString(c->conn, h->uuid) : NULL;

	if (!dom && h->vm)
		dom = virDomainLookupByName(c->conn, h->vm);
	if (dom && h->vm && strcmp(virDomainGetName(dom), h->vm) != 0) {
		fprintf(c->out, "  error: libvirt domain %s is named \"%s\", not \"%s\"\n",
			h->uuid, virDomainGetName(dom), h->vm);
		virDomainFree(dom);
		return NULL;
	}
	if (!dom)
		fprintf(c->out, "  error: no libvirt domain \"%s\": %s\n", h->vm ? h->vm : "?",
			nl_apply_lv_err());
	return dom;
}

int nl_apply_hint(const struct nl_apply_ctx *c, const Numalens__V1__Hint *h)
{
	char kind[32] = "?", pol[32] = "?";
	virDomainPtr dom = NULL;
	bool need_lv = false, prev_failed = false;
	int failed = 0;

	nl_pbjson_enum_name(&numalens__v1__hint_kind__descriptor, h->kind, kind, sizeof(kind));
	nl_pbjson_enum_name(&numalens__v1__policy__descriptor, h->policy, pol, sizeof(pol));
	fprintf(c->out, "hint %s: %s of VM \"%s\" -> %s%d (policy %s, step %d, gain %.2f, confidence %.2f)\n",
		h->id ? h->id : "?", kind, h->vm ? h->vm : "?",
		h->target && h->target->node >= 0 ? "node " : "", h->target ? h->target->node : -1,
		pol, h->step, h->expected_gain, h->confidence);
	if (h->reason)
		fprintf(c->out, "  reason: %s: %s\n", h->reason_code ? h->reason_code : "", h->reason);
	if (h->beneficiary)
		fprintf(c->out, "  makes room for VM \"%s\"\n", h->beneficiary);
	if (h->kind == NUMALENS__V1__HINT_KIND__EVICT) {
		/* never executed, whatever actions a server put in it */
		for (size_t i = 0; i < h->n_actions; i++)
			fprintf(c->out, "  not done: %s (evict hints are never acted on: moving a VM off the host is the orchestrator's call)\n",
				nl_apply_op_name(h->actions[i]->op));
		if (!h->n_actions)
			fprintf(c->out, "  not done: evict hints are never acted on (the orchestrator's call)\n");
		return 0;
	}
	for (size_t i = 0; i < h->n_actions; i++)
		need_lv |= h->actions[i]->libvirt && h->actions[i]->libvirt[0];
	if (need_lv && c->conn) {
		dom = hint_domain(c, h);
		if (!dom)
			return 1;
	}
	for (size_t i = 0; i < h->n_actions; i++) {
		const Numalens__V1__Action *a = h->actions[i];
		bool next_fallback = i + 1 < h->n_actions && h->actions[i + 1]->fallback;
		int rc;

		if (a->fallback && !prev_failed) {
			fprintf(c->out, "  skip: %s (fallback, not needed)\n", nl_apply_op_name(a->op));
			continue;
		}
		rc = nl_apply_action(c, h, dom, a);
		if (!a->fallback)
			prev_failed = rc != 0;
		if (rc && !(next_fallback && !a->fallback))
			failed++;
		else if (rc)
			fprintf(c->out, "        trying the fallback\n");
	}
	if (dom)
		virDomainFree(dom);
	return failed ? 1 : 0;
}

void nl_apply_fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
	const double gib = 1024.0 * 1024 * 1024, mib = 1024.0 * 1024;

	if ((double)bytes >= gib)
		snprintf(buf, len, "%.2f GiB", (double)bytes / gib);
	else if ((double)bytes >= mib)
		snprintf(buf, len, "%.0f MiB", (double)bytes / mib);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
}

/* ---- the command ---- */

/* Fetch the hints o asks for. Return the list, or NULL with the exit
 * status in *ret and a message on stderr. */
static Numalens__V1__HintList *fetch(const struct nl_apply_opts *o, int *ret)
{
	struct nl_apply_query q = { o->policy, o->vm, o->kind, o->id };
	struct nl_apply_reply r = { 0 };
	Numalens__V1__HintList *list = NULL;
	char *url = NULL, err[600];
	int rc;

	*ret = 1;
	rc = nl_apply_hints_url(o->url, &q, &url);
	if (rc == -EINVAL) {
		fprintf(stderr, "numalens apply: --url: want http[s]://HOST[:PORT][/PREFIX], got \"%s\"\n", o->url);
		*ret = 2;
		return NULL;
	}
	if (rc) {
		fprintf(stderr, "numalens apply: %s\n", strerror(-rc));
		return NULL;
	}
	if (nl_paths_set(o->procfs, "/sys") < 0) {
		fprintf(stderr, "numalens apply: bad --path.procfs\n");
		*ret = 2;
		goto cleanup;
	}
	if (nl_apply_http_get(url, o->timeout, NL_APPLY_MAX_RESPONSE, &r, err, sizeof(err))) {
		fprintf(stderr, "numalens apply: %s\n", err);
		goto cleanup;
	}
	list = nl_apply_hints_decode(o->url, &r, ret, err, sizeof(err));
	if (!list)
		fprintf(stderr, "numalens apply: %s\n", err);
	if (list && list->n_hints == 0) {
		fprintf(stderr, "numalens apply: no matching hint%s%s\n",
			o->vm ? " for VM " : "", o->vm ? o->vm : "");
		numalens__v1__hint_list__free_unpacked(list, NULL);
		list = NULL;
		*ret = 3;
	}
cleanup:
	nl_apply_reply_free(&r);
	free(url);
	return list;
}

void nl_apply_connect(const struct nl_apply_opts *o, struct nl_apply_ctx *c)
{
	virSetErrorFunc(NULL, lv_silent);
	c->conn = o->yes ? virConnectOpen(o->uri) : virConnectOpenReadOnly(o->uri);
	if (!c->conn) {
		fprintf(stderr, "numalens apply: cannot connect to libvirt at %s: %s%s\n", o->uri,
			nl_apply_lv_err(), o->yes ? "" : " (dry run goes on without the current values)");
		return;
	}
	c->ncpus = virNodeGetCPUMap(c->conn, NULL, NULL, 0);
	if (c->ncpus <= 0)
		c->ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	c->maplen = VIR_CPU_MAPLEN(c->ncpus);
}

int nl_cmd_apply(int argc, char **argv)
{
	struct nl_apply_opts o;
	struct nl_apply_ctx c = { 0 };
	Numalens__V1__HintList *list = NULL;
	struct nl_apply_client client;
	char password[256] = "";
	int rc, ret = 1, failed = 0;

	rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (nl_apply_client_from("apply", &o, &client, password, sizeof(password)))
		return 2;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "numalens apply: cannot initialise libcurl\n");
		return 1;
	}
	nl_apply_http_client(&client);
	if (o.follow) {
		ret = nl_apply_follow(&o);
		curl_global_cleanup();
		return ret;
	}
	list = fetch(&o, &ret);
	if (!list)
		goto cleanup;
	c.out = stdout;
	c.yes = o.yes;
	nl_apply_connect(&o, &c);
	if (!o.yes)
		printf("dry run: nothing is changed (add --yes to apply)\n");
	for (size_t i = 0; i < list->n_hints; i++)
		failed += nl_apply_hint(&c, list->hints[i]);
	printf("%s %zu hint%s%s\n", o.yes ? "applied" : "showed", list->n_hints,
	       list->n_hints == 1 ? "" : "s", failed ? ", with failures" : "");
	ret = failed ? 1 : 0;
cleanup:
	if (c.conn)
		virConnectClose(c.conn);
	if (list)
		numalens__v1__hint_list__free_unpacked(list, NULL);
	curl_global_cleanup();
	return ret;
}
