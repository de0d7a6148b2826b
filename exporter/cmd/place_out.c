/* The output of `numalens place`: the ranked hosts as a table or one JSON
 * object, and the arrival --register got. See place_priv.h; the JSON
 * fields are listed in docs/api.md ("Across hosts"). */
#include "apply_priv.h"
#include "place_priv.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"

/* ---- the table ---- */

static void print_profile(const struct nl_place_report *r, FILE *out)
{
	const Numalens__V1__Profile *p = r->profile;
	char mem[32];

	nl_apply_fmt_bytes(p->memory_bytes, mem, sizeof(mem));
	fprintf(out, "VM \"%s\" from %s: %s", r->vm, r->from, mem);
	if (p->has_vcpus)
		fprintf(out, ", %u vCPU%s", p->vcpus, p->vcpus == 1 ? "" : "s");
	if (p->has_cpu_cores)
		fprintf(out, ", %.2f cores", p->cpu_cores + (p->has_vmm_cpu_cores ? p->vmm_cpu_cores : 0));
	if (p->has_memory_intensive)
		fprintf(out, ", %smemory-intensive", p->memory_intensive ? "" : "not ");
	if (p->has_locality)
		fprintf(out, ", locality %.2f there", p->locality);
	fprintf(out, "; policy %s\n", r->policy ? r->policy : "(each host's default)");
}

/* "nothing", "1.00 GiB of 2 VMs: a, b" */
static void print_moves(const struct nl_place_host *h, FILE *out)
{
	char b[32];

	if (!h->move_bytes && !h->nmovers) {
		fprintf(out, "nothing");
		return;
	}
	nl_apply_fmt_bytes(h->move_bytes, b, sizeof(b));
	fprintf(out, "%s", b);
	if (!h->nmovers)
		return;
	fprintf(out, " of %zu VM%s:", h->nmovers, h->nmovers == 1 ? "" : "s");
	for (size_t i = 0; i < h->nmovers; i++)
		fprintf(out, "%s %s", i ? "," : "", h->movers[i]);
}

static void print_host(const struct nl_place_host *h, size_t rank, int width, FILE *out)
{
	const Numalens__V1__NodeRank *b = h->best;

	if (h->rc) {
		fprintf(out, "%4s  %-*s  error: %s\n", "-", width, h->url, h->err);
		return;
	}
	if (!b) {
		fprintf(out, "%4zu  %-*s  %4s  %5s  %-8s  the host has no nodes to rank\n", rank,
			width, h->url, "-", "-", "no");
		return;
	}
	fprintf(out, "%4zu  %-*s  %4d  %5.2f  %-8s  ", rank, width, h->url, b->node,
		b->has_score ? b->score : 0, b->feasible ? "yes" : "no");
	if (h->fits)
		print_moves(h, out);
	else
		fprintf(out, "%s: %s", b->reason_code ? b->reason_code : "?",
			b->reason ? b->reason : "no node fits");
	fprintf(out, "\n");
}

static void print_hint(const Numalens__V1__Hint *h, FILE *out)
{
	char kind[32] = "?", b[32];

	nl_pbjson_enum_name(&numalens__v1__hint_kind__descriptor, h->kind, kind, sizeof(kind));
	nl_apply_fmt_bytes(h->target ? h->target->bytes : h->cost_bytes, b, sizeof(b));
	fprintf(out, "    %s: %s of VM \"%s\" -> node %d (%s, step %d)\n", h->id ? h->id : "?",
		kind, h->vm ? h->vm : "?", h->target ? h->target->node : -1, b, h->step);
}

/* A text of one or more lines, each after `indent`. */
static void print_block(const char *indent, const char *text, FILE *out)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		fprintf(out, "%s%.*s\n", indent, (int)n, text);
		text += n + (text[n] == '\n');
	}
}

static void print_arrival(const struct nl_place_report *r, FILE *out)
{
	const Numalens__V1__Arrival *a = r->arrival;
	const Numalens__V1__DestinationPlacement *p = a->placement;
	const char *url = r->registered_on->url;
	char pol[32] = "?";

	nl_pbjson_enum_name(&numalens__v1__policy__descriptor, a->policy, pol, sizeof(pol));
	fprintf(out, "registered on %s: VM \"%s\"%s%s%s -> node%s", url, a->vm ? a->vm : r->vm,
		a->uuid ? " (" : "", a->uuid ? a->uuid : "", a->uuid ? ")" : "",
		a->n_nodes == 1 ? "" : "s");
	for (size_t i = 0; i < a->n_nodes; i++)
		fprintf(out, "%s%d", i ? "," : " ", a->nodes[i]);
	fprintf(out, ", policy %s", pol);
	if (a->has_expires && a->has_created)
		fprintf(out, ", expires in %.0f s", a->expires - a->created);
	fprintf(out, "\n");
	if (a->reason)
		fprintf(out, "  why: %s\n", a->reason);
	if (a->n_hints) {
		fprintf(out, "  room-making hints there (numalens apply --url=%s --id=ID, or\n"
			     "  numalens apply --follow --policy=%s on that host):\n", url, pol);
		for (size_t i = 0; i < a->n_hints; i++)
			print_hint(a->hints[i], out);
	} else {
		fprintf(out, "  no room to make: nothing moves there\n");
	}
	if (!p)
		return;
	fprintf(out, "  destination placement (migrate with it, so the memory lands there):\n");
	if (p->numatune_xml)
		print_block("    ", p->numatune_xml, out);
	if (p->cputune_xml)
		print_block("    ", p->cputune_xml, out);
	if (p->migrate_param) {
		fprintf(out, "  libvirt:\n");
		print_block("    ", p->migrate_param, out);
	}
	if (p->virsh_usage) {
		fprintf(out, "  same as:\n");
		print_block("    ", p->virsh_usage, out);
	}
}

void nl_place_print(const struct nl_place_report *r, FILE *out)
{
	const struct nl_place_host *top = r->n ? &r->hosts[0] : NULL;
	int width = 4;

	for (size_t i = 0; i < r->n; i++)
		if ((int)strlen(r->hosts[i].url) > width)
			width = (int)strlen(r->hosts[i].url);
	print_profile(r, out);
	fprintf(out, "%4s  %-*s  %4s  %5s  %-8s  %s\n", "rank", width, "host", "node", "score",
		"feasible", "to move");
	for (size_t i = 0; i < r->n; i++)
		print_host(&r->hosts[i], i + 1, width, out);
	if (top && !top->rc && top->fits)
		fprintf(out, "best: %s, node %d (score %.2f)\n", top->url, top->best->node,
			top->best->score);
	else if (top && !top->rc)
		fprintf(out, "no host fits VM \"%s\"\n", r->vm);
	else
		fprintf(out, "no host could be asked\n");
	if (r->arrival)
		print_arrival(r, out);
}

/* ---- JSON ---- */

/* The JSON form of m as a cJSON tree, or NULL. */
static cJSON *pb_json(const ProtobufCMessage *m)
{
	struct nl_buf b = { 0 };
	cJSON *j = NULL;

	if (!nl_pbjson_encode(m, &b) && b.data)
		j = cJSON_ParseWithLength(b.data, b.len);
	nl_buf_free(&b);
	return j;
}

/* Add `item` (NULL: out of memory) to `obj` as `key`; false when NULL. */
static bool put(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static cJSON *host_json(const struct nl_place_host *h, size_t rank)
{
	cJSON *j = cJSON_CreateObject(), *vms = NULL;
	bool ok;

	if (!j)
		return NULL;
	ok = put(j, "rank", cJSON_CreateNumber((double)rank)) &&
	     put(j, "url", cJSON_CreateString(h->url));
	if (ok && h->rc) {
		ok = put(j, "error", cJSON_CreateString(h->err)) &&
		     put(j, "status", cJSON_CreateNumber(h->rc > 0 ? h->rc : 0));
	} else if (ok) {
		ok = put(j, "fits", cJSON_CreateBool(h->fits)) &&
		     put(j, "node", cJSON_CreateNumber(h->best ? h->best->node : -1)) &&
		     put(j, "score", cJSON_CreateNumber(h->best ? h->best->score : 0)) &&
		     put(j, "feasible", cJSON_CreateBool(h->best && h->best->feasible)) &&
		     put(j, "reason_code", cJSON_CreateString(h->best && h->best->reason_code
							      ? h->best->reason_code : "")) &&
		     put(j, "move_bytes", cJSON_CreateNumber((double)h->move_bytes)) &&
		     put(j, "move_vms", vms = cJSON_CreateArray());
		for (size_t i = 0; ok && i < h->nmovers; i++)
			ok = cJSON_AddItemToArray(vms, cJSON_CreateString(h->movers[i]));
		ok = ok && put(j, "placement", pb_json(&h->pl->base));
	}
	if (!ok) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static cJSON *report_json(const struct nl_place_report *r)
{
	const struct nl_place_host *top = r->n ? &r->hosts[0] : NULL;
	cJSON *j = cJSON_CreateObject(), *hosts = NULL;
	bool ok;

	if (!j)
		return NULL;
	ok = put(j, "vm", cJSON_CreateString(r->vm)) &&
	     put(j, "source", cJSON_CreateString(r->from)) &&
	     put(j, "policy", r->policy ? cJSON_CreateString(r->policy) : cJSON_CreateNull()) &&
	     put(j, "profile", pb_json(&r->profile->base)) &&
	     put(j, "hosts", hosts = cJSON_CreateArray());
	for (size_t i = 0; ok && i < r->n; i++) {
		cJSON *h = host_json(&r->hosts[i], i + 1);

		ok = h && cJSON_AddItemToArray(hosts, h);
	}
	ok = ok && put(j, "best", top && !top->rc && top->fits ? cJSON_CreateString(top->url)
							      : cJSON_CreateNull());
	ok = ok && put(j, "arrival", r->arrival ? pb_json(&r->arrival->base) : cJSON_CreateNull());
	if (ok && r->register_err)
		ok = put(j, "register_error", cJSON_CreateString(r->register_err));
	if (!ok) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

int nl_place_print_json(const struct nl_place_report *r, FILE *out)
{
	cJSON *j = report_json(r);
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	if (!s)
		return -ENOMEM;
	fprintf(out, "%s\n", s);
	cJSON_free(s);
	return 0;
}
