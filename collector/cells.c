/* Guest NUMA cells. See cells.h. */
#include "cells.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "log.h"
#include "paths.h"

/* ---- shared checks ---- */

static int invalid(struct nl_vm_cells *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int invalid(struct nl_vm_cells *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	c->invalid = true;
	return -EINVAL;
}

/* A size with an optional K/M/G/T suffix (powers of 1024); `unit` is the
 * multiplier of a bare number. 0 on success. */
static int parse_size(const char *s, uint64_t unit, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = unit;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	case 't': case 'T': mul = 1ULL << 40; end++; break;
	default: return -EINVAL;
	}
	if ((*end == 'b' || *end == 'B') && mul != unit)
		end++;
	if (*end || (mul && v > UINT64_MAX / mul))
		return -EINVAL;
	*out = (uint64_t)v * mul;
	return 0;
}

/* Every cell has memory, no vCPU is in two cells, every one of the VM's
 * nvcpus (0: not known) is in one, and cell ids are distinct. One cell is
 * no wide VM: n becomes 0. */
static int check(struct nl_vm_cells *c, int nvcpus)
{
	uint64_t seen = 0;

	if (c->n == 0)
		return 0;
	for (int i = 0; i < c->n; i++) {
		const struct nl_vm_cell *x = &c->cell[i];

		if (x->mem_bytes == 0)
			return invalid(c, "cell %d has no memory", x->id);
		if (x->vcpus & seen)
			return invalid(c, "a vCPU of cell %d is in another cell too", x->id);
		seen |= x->vcpus;
		for (int j = 0; j < i; j++)
			if (c->cell[j].id == x->id)
				return invalid(c, "cell %d is defined twice", x->id);
	}
	if (nvcpus > 0 && nvcpus <= 64) {
		uint64_t all = nvcpus == 64 ? ~0ULL : (1ULL << nvcpus) - 1;

		if ((seen & all) != all) {
			for (int v = 0; v < nvcpus; v++)
				if (!(seen >> v & 1))
					return invalid(c, "vCPU %d is in no cell", v);
		}
		if (seen & ~all)
			return invalid(c, "a cell lists a vCPU the VM does not have (it has %d)",
				       nvcpus);
	}
	if (c->n == 1)
		c->n = 0;
	return 0;
}

/* ---- the QEMU command line ---- */

/* A memory backend: -object memory-backend-*,id=..,size=..,host-nodes=.. */
struct backend {
	char id[48];
	uint64_t size, host_nodes;
};

/* The value of key `k` in a "type,k=v,k2=v2" option string at [p, e); a
 * key may repeat (cpus=0-1,cpus=4), `nth` picks which. NULL when absent. */
static const char *opt_value(const char *opts, const char *k, int nth, char *buf, size_t len)
{
	size_t kl = strlen(k);

	for (const char *p = opts; p && *p;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n > kl && p[kl] == '=' && strncmp(p, k, kl) == 0 && nth-- == 0) {
			n -= kl + 1;
			if (n >= len)
				return NULL;
			memcpy(buf, p + kl + 1, n);
			buf[n] = '\0';
			return buf;
		}
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

static int backend_kv(const char *arg, struct backend *b)
{
	char v[256];

	memset(b, 0, sizeof(*b));
	if (strncmp(arg, "memory-backend-", 15) != 0)
		return 1;                 /* another object */
	if (!opt_value(arg, "id", 0, b->id, sizeof(b->id)))
		return -EINVAL;
	if (!opt_value(arg, "size", 0, v, sizeof(v)) || parse_size(v, 1, &b->size) < 0)
		return -EINVAL;
	if (opt_value(arg, "host-nodes", 0, v, sizeof(v))) {
		for (int i = 0; opt_value(arg, "host-nodes", i, v, sizeof(v)); i++) {
			uint64_t m;

			if (nl_nodemask_parse(&m, v) < 0)
				return -EINVAL;
			b->host_nodes |= m;
		}
	}
	return 0;
}

static int backend_json(const char *arg, struct backend *b)
{
	cJSON *j = cJSON_Parse(arg), *t, *id, *size, *hn;
	int rc = -EINVAL;

	memset(b, 0, sizeof(*b));
	if (!j)
		return -EINVAL;
	t = cJSON_GetObjectItemCaseSensitive(j, "qom-type");
	if (!cJSON_IsString(t) || strncmp(t->valuestring, "memory-backend-", 15) != 0) {
		rc = 1;
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(j, "id");
	size = cJSON_GetObjectItemCaseSensitive(j, "size");
	hn = cJSON_GetObjectItemCaseSensitive(j, "host-nodes");
	if (!cJSON_IsString(id) || strlen(id->valuestring) >= sizeof(b->id))
		goto out;
	snprintf(b->id, sizeof(b->id), "%s", id->valuestring);
	if (cJSON_IsNumber(size) && size->valuedouble > 0)
		b->size = (uint64_t)size->valuedouble;
	else if (!cJSON_IsString(size) || parse_size(size->valuestring, 1, &b->size) < 0)
		goto out;
	if (cJSON_IsArray(hn)) {
		const cJSON *n;

		cJSON_ArrayForEach(n, hn) {
			if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 63)
				goto out;
			b->host_nodes |= 1ULL << (int)n->valuedouble;
		}
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

/* -numa node,... into cell x; memdev ids are resolved later. */
static int numa_node(const char *arg, struct nl_vm_cell *x, int next_id)
{
	char v[256];

	memset(x, 0, sizeof(*x));
	x->id = next_id;
	if (opt_value(arg, "nodeid", 0, v, sizeof(v))) {
		char *end;
		long id = strtol(v, &end, 10);

		if (*end || id < 0 || id > 127)
			return -EINVAL;
		x->id = (int)id;
	}
	for (int i = 0; opt_value(arg, "cpus", i, v, sizeof(v)); i++) {
		uint64_t m;

		if (nl_nodemask_parse(&m, v) < 0)
			return -EINVAL;
		x->vcpus |= m;
	}
	if (opt_value(arg, "memdev", 0, x->memdev, sizeof(x->memdev)))
		return 0;
	/* legacy mem=: MiB without a suffix */
	if (opt_value(arg, "mem", 0, v, sizeof(v)) && parse_size(v, 1ULL << 20, &x->mem_bytes) < 0)
		return -EINVAL;
	return 0;
}

/* -smp N[,...] or -smp cpus=N,...: the vCPU count; 0 unknown */
static int smp_count(const char *arg)
{
	char v[32];
	const char *s = opt_value(arg, "cpus", 0, v, sizeof(v));
	long n = strtol(s ? s : arg, NULL, 10);

	return n > 0 && n <= 4096 ? (int)n : 0;
}

int nl_cells_parse_cmdline(const char *cmdline, size_t len, struct nl_vm_cells *cells)
{
	struct backend be[NL_MAX_CELLS * 2];
	int nbe = 0, nvcpus = 0, next_id = 0;
	const char *p = cmdline, *end = cmdline + len;

	memset(cells, 0, sizeof(*cells));
	while (p < end) {
		const char *arg = p, *next = p + strnlen(p, (size_t)(end - p)) + 1;
		const char *val = next < end ? next : NULL;

		p = next;
		if (!val || arg[0] != '-')
			continue;
		if (arg[1] == '-')
			arg++;
		/* only the options read here take their value along: a flag
		 * (-nodefaults) must not swallow the next option */
		if (strcmp(arg, "-smp") && strcmp(arg, "-numa") && strcmp(arg, "-object"))
			continue;
		if (strcmp(arg, "-smp") == 0) {
			nvcpus = smp_count(val);
		} else if (strcmp(arg, "-numa") == 0) {
			if (strncmp(val, "cpu,", 4) == 0)
				return invalid(cells, "-numa cpu (cells by socket/core) is not read");
			if (strncmp(val, "node", 4) != 0 || (val[4] != ',' && val[4] != '\0'))
				continue;     /* -numa dist,... */
			if (cells->n == NL_MAX_CELLS)
				return invalid(cells, "more than %d cells", NL_MAX_CELLS);
			if (numa_node(val + 4, &cells->cell[cells->n], next_id) < 0)
				return invalid(cells, "cannot read -numa %.60s", val);
			next_id = cells->cell[cells->n].id + 1;
			cells->n++;
		} else if (strcmp(arg, "-object") == 0 && nbe < (int)(sizeof(be) / sizeof(be[0]))) {
			int rc = val[0] == '{' ? backend_json(val, &be[nbe]) : backend_kv(val, &be[nbe]);

			if (rc < 0)
				return invalid(cells, "cannot read -object %.60s", val);
			if (rc == 0)
				nbe++;
		}
		p = val + strnlen(val, (size_t)(end - val)) + 1;
	}
	for (int i = 0; i < cells->n; i++) {
		struct nl_vm_cell *x = &cells->cell[i];
		int b;

		if (!x->memdev[0])
			continue;
		for (b = 0; b < nbe && strcmp(be[b].id, x->memdev) != 0; b++)
			;
		if (b == nbe)
			return invalid(cells, "cell %d: no memory backend %s", x->id, x->memdev);
		x->mem_bytes = be[b].size;
		x->host_nodes = be[b].host_nodes;
	}
	return check(cells, nvcpus);
}

/* ---- the libvirt domain XML ---- */

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST name) == 0)
			return c;
	return NULL;
}

/* An attribute or the element's text, copied into buf ("" when absent). */
static const char *attr(xmlNode *n, const char *name, char *buf, size_t len)
{
	xmlChar *v = name ? xmlGetProp(n, BAD_CAST name) : xmlNodeGetContent(n);

	buf[0] = '\0';
	if (v) {
		snprintf(buf, len, "%s", (const char *)v);
		xmlFree(v);
	}
	return buf;
}

/* libvirt's memory units (KiB by default) */
static int xml_size(xmlNode *n, const char *value_attr, uint64_t *out)
{
	char unit[16], v[32];
	static const struct {
		const char *name;
		uint64_t mul;
	} units[] = {
		{ "", 1ULL << 10 }, { "KiB", 1ULL << 10 }, { "k", 1ULL << 10 }, { "K", 1ULL << 10 },
		{ "MiB", 1ULL << 20 }, { "M", 1ULL << 20 }, { "GiB", 1ULL << 30 }, { "G", 1ULL << 30 },
		{ "TiB", 1ULL << 40 }, { "T", 1ULL << 40 }, { "b", 1 }, { "bytes", 1 },
		{ "KB", 1000 }, { "MB", 1000000 }, { "GB", 1000000000ULL },
	};

	attr(n, "unit", unit, sizeof(unit));
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(unit, units[i].name) == 0) {
			uint64_t v64;

			if (parse_size(attr(n, value_attr, v, sizeof(v)), units[i].mul, &v64) < 0)
				return -EINVAL;
			*out = v64;
			return 0;
		}
	return -EINVAL;
}

static int xml_cells(xmlNode *dom, struct nl_vm_cells *cells)
{
	xmlNode *numa = child(child(dom, "cpu"), "numa"), *tune = child(dom, "numatune");
	xmlNode *n, *all = tune ? child(tune, "memory") : NULL;
	uint64_t total = 0, sum = 0, dflt_nodes = 0;
	int nvcpus = 0;
	char v[256];

	if ((n = child(dom, "vcpu"))) {
		nvcpus = atoi(attr(n, "current", v, sizeof(v)));
		if (nvcpus <= 0)
			nvcpus = atoi(attr(n, NULL, v, sizeof(v)));
	}
	if ((n = child(dom, "memory")) && xml_size(n, NULL, &total) < 0)
		return invalid(cells, "cannot read <memory>");
	if (all && strcmp(attr(all, "mode", v, sizeof(v)), "interleave") != 0 &&
	    attr(all, "nodeset", v, sizeof(v))[0] && nl_nodemask_parse(&dflt_nodes, v) < 0)
		return invalid(cells, "cannot read <numatune><memory nodeset>");
	for (n = numa ? numa->children : NULL; n; n = n->next) {
		struct nl_vm_cell *x;
		char *e;

		if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST "cell") != 0)
			continue;
		if (cells->n == NL_MAX_CELLS)
			return invalid(cells, "more than %d cells", NL_MAX_CELLS);
		x = &cells->cell[cells->n];
		x->id = (int)strtol(attr(n, "id", v, sizeof(v)), &e, 10);
		if (!v[0] || *e || x->id < 0)
			x->id = cells->n;
		if (attr(n, "cpus", v, sizeof(v))[0] && nl_nodemask_parse(&x->vcpus, v) < 0)
			return invalid(cells, "cell %d: cannot read cpus=%.40s", x->id, v);
		if (attr(n, "memory", v, sizeof(v))[0] && xml_size(n, "memory", &x->mem_bytes) < 0)
			return invalid(cells, "cell %d: cannot read memory=%.40s", x->id, v);
		x->host_nodes = dflt_nodes;
		snprintf(x->memdev, sizeof(x->memdev), "ram-node%d", x->id);
		sum += x->mem_bytes;
		cells->n++;
	}
	for (n = tune ? tune->children : NULL; n; n = n->next) {
		char *e;
		int id;

		if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST "memnode") != 0)
			continue;
		id = (int)strtol(attr(n, "cellid", v, sizeof(v)), &e, 10);
		for (int i = 0; i < cells->n; i++) {
			if (cells->cell[i].id != id || *e)
				continue;
			cells->cell[i].host_nodes = 0;
			if (strcmp(attr(n, "mode", v, sizeof(v)), "interleave") != 0 &&
			    nl_nodemask_parse(&cells->cell[i].host_nodes,
					      attr(n, "nodeset", v, sizeof(v))) < 0)
				return invalid(cells, "cell %d: cannot read memnode nodeset", id);
		}
	}
	if (check(cells, nvcpus) < 0)
		return -EINVAL;
	if (cells->n > 1 && total > 0 && sum != total)
		return invalid(cells, "the cells' memory (%llu KiB) is not the VM's (%llu KiB)",
			       (unsigned long long)(sum >> 10), (unsigned long long)(total >> 10));
	return 0;
}

int nl_cells_parse_xml(const char *xml, size_t len, struct nl_vm_cells *cells)
{
	xmlDoc *doc;
	xmlNode *root;
	int rc;

	memset(cells, 0, sizeof(*cells));
	if (len > (size_t)INT32_MAX)
		return invalid(cells, "domain XML too large");
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return invalid(cells, "the domain XML does not parse");
	root = xmlDocGetRootElement(doc);
	if (!root || xmlStrcmp(root->name, BAD_CAST "domain") != 0)
		rc = invalid(cells, "no <domain> in the domain XML");
	else
		rc = xml_cells(root, cells);
	xmlFreeDoc(doc);
	return rc;
}

/* ---- which mapping backs which cell ---- */

/* name holds backend id `id` as a whole word: /memfd:ID, .../ID,
 * ..._objects_ID.<random suffix> (libvirt's hugetlbfs files) */
static bool named_for(const char *name, const char *id)
{
	size_t n = strlen(id);

	if (!n)
		return false;
	for (const char *p = strstr(name, id); p; p = strstr(p + 1, id)) {
		char before = p == name ? '/' : p[-1], after = p[n];

		if ((before == ':' || before == '/' || before == '_') &&
		    (after == '\0' || after == '.' || after == ' ' || after == '\\'))
			return true;
	}
	return false;
}

static bool size_fits(uint64_t map, uint64_t cell)
{
	uint64_t d = map > cell ? map - cell : cell - map;

	return cell > 0 && d <= cell / 64;
}

int nl_cells_assign(const struct nl_vm_cells *cells, const struct nl_ram_map *maps, int nmaps,
		    uint64_t bytes[][NL_MAX_NODES])
{
	int pick[NL_MAX_CELLS];
	bool used[64] = { false };

	if (cells->n < 2 || cells->invalid || nmaps <= 0 || nmaps > 64)
		return -ENOENT;
	for (int i = 0; i < cells->n; i++) {
		pick[i] = -1;
		for (int m = 0; m < nmaps && pick[i] < 0; m++)
			if (!used[m] && named_for(maps[m].name, cells->cell[i].memdev))
				pick[i] = m;
		if (pick[i] >= 0)
			used[pick[i]] = true;
	}
	/* by size: a mapping bound where the cell is bound, else the highest
	 * address left (the first one QEMU created) */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < cells->n; i++) {
			const struct nl_vm_cell *x = &cells->cell[i];
			int best = -1;

			if (pick[i] >= 0)
				continue;
			for (int m = 0; m < nmaps; m++) {
				if (used[m] || !size_fits(maps[m].size, x->mem_bytes))
					continue;
				if (pass == 0 && (!x->host_nodes || maps[m].policy_nodes != x->host_nodes))
					continue;
				if (best < 0 || maps[m].start > maps[best].start)
					best = m;
			}
			if (best >= 0) {
				pick[i] = best;
				used[best] = true;
			}
		}
	for (int i = 0; i < cells->n; i++)
		if (pick[i] < 0)
			return -ENOENT;
	for (int i = 0; i < cells->n; i++)
		memcpy(bytes[i], maps[pick[i]].bytes, sizeof(bytes[i]));
	return 0;
}

/* ---- the source ---- */

struct cells_priv {
	char *buf;
	size_t cap;
};

static int cells_init(struct nl_state *st, void **priv)
{
	(void)st;
	*priv = calloc(1, sizeof(struct cells_priv));
	return *priv ? 0 : -ENOMEM;
}

static int cells_sample(struct nl_state *st, void *priv)
{
	struct cells_priv *p = priv;

	for (size_t i = 0; i < st->nvms; i++) {
		struct nl_vm *vm = st->vms[i];
		char path[NL_PATH_MAX];
		ssize_t n;

		if (vm->cells_from != NL_CELLS_UNREAD)
			continue;
		if (nl_path_proc(path, sizeof(path), "%d/cmdline", (int)vm->pid) < 0)
			continue;
		n = nl_read_file_alloc(path, &p->buf, &p->cap);
		if (n <= 0)
			continue;        /* gone: the vms source drops it */
		nl_cells_parse_cmdline(p->buf, (size_t)n, &vm->cells);
		vm->cells_from = NL_CELLS_CMDLINE;
		if (vm->cells.invalid && !vm->cells_warned) {
			vm->cells_warned = true;
			nl_warn("VM %s: its NUMA cells on the QEMU command line do not add up (%s): scored as one VM",
				vm->name, vm->cells.why);
		}
	}
	return 0;
}

static void cells_free(struct nl_state *st, void *priv)
{
	struct cells_priv *p = priv;

	(void)st;
	if (p)
		free(p->buf);
	free(p);
}

const struct nl_source nl_source_cells = {
	.name = "cells",
	.default_enabled = true,
	.required = false,
	.init = cells_init,
	.sample = cells_sample,
	.free = cells_free,
};
