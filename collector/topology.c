/* Host NUMA topology from sysfs: devices/system/node/{online,node<N>/...}
 * and devices/system/cpu/online; procfs meminfo on kernels without NUMA. */
#include "topology.h"
#include "topology_priv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "paths.h"

/* Big enough for a node meminfo or /proc/meminfo (about 1.5 KiB) and for a
 * SLIT row of NL_MAX_NODES entries. */
#define TOPO_BUF 8192

struct topo_priv {
	struct nl_topology scratch;   /* ~30 KiB: kept off the stack */
	bool synthetic;               /* last full read found no NUMA */
	bool have_full;               /* st->topo holds a full read */
	uint64_t full_ns;             /* when the last full read happened */
	struct nl_complaint fail;
};

/* Skip spaces and tabs (not newlines). */
static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parse an unsigned decimal at *pp, advancing it. Return 0 or -EINVAL. */
static int parse_u64(const char **pp, uint64_t *out)
{
	const char *p = skip_blank(*pp);
	char *end;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	errno = 0;
	*out = strtoull(p, &end, 10);
	if (errno)
		return -EINVAL;
	*pp = end;
	return 0;
}

static const char *next_line(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl ? nl + 1 : p + strlen(p);
}

int nl_topology_parse_meminfo(const char *text, int node_id,
			      uint64_t *total_bytes, uint64_t *free_bytes)
{
	bool have_total = false, have_free = false;

	for (const char *p = text; *p; p = next_line(p)) {
		const char *q = p, *key;
		size_t klen;
		uint64_t v, *dst;

		if (*q == '\n')
			continue;
		if (node_id >= 0) {
			uint64_t id;

			if (strncmp(q, "Node ", 5) != 0)
				return -EINVAL;
			q += 5;
			if (parse_u64(&q, &id) < 0 || id != (uint64_t)node_id)
				return -EINVAL;
			q = skip_blank(q);
		}
		key = q;
		while (*q && *q != ':' && *q != '\n')
			q++;
		if (*q != ':')
			return -EINVAL;
		klen = (size_t)(q - key);
		if (klen == 8 && memcmp(key, "MemTotal", 8) == 0)
			dst = total_bytes, have_total = true;
		else if (klen == 7 && memcmp(key, "MemFree", 7) == 0)
			dst = free_bytes, have_free = true;
		else
			continue;
		q++;
		if (parse_u64(&q, &v) < 0)
			return -EINVAL;
		q = skip_blank(q);
		if (strncmp(q, "kB", 2) != 0 || v > UINT64_MAX / 1024)
			return -EINVAL;
		*dst = v * 1024;
	}
	return have_total && have_free ? 0 : -EINVAL;
}

int nl_topology_parse_numastat(const char *text, struct nl_numastat *ns)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "numa_hit", offsetof(struct nl_numastat, numa_hit) },
		{ "numa_miss", offsetof(struct nl_numastat, numa_miss) },
		{ "numa_foreign", offsetof(struct nl_numastat, numa_foreign) },
		{ "interleave_hit", offsetof(struct nl_numastat, interleave_hit) },
		{ "local_node", offsetof(struct nl_numastat, local_node) },
		{ "other_node", offsetof(struct nl_numastat, other_node) },
	};
	bool have_hit = false;

	memset(ns, 0, sizeof(*ns));
	for (const char *p = text; *p; p = next_line(p)) {
		const char *q = p;
		size_t klen;

		while (*q && *q != ' ' && *q != '\n')
			q++;
		klen = (size_t)(q - p);
		if (klen == 0)
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			uint64_t v;

			if (strlen(keys[i].key) != klen ||
			    memcmp(keys[i].key, p, klen) != 0)
				continue;
			if (parse_u64(&q, &v) < 0)
				return -EINVAL;
			memcpy((char *)ns + keys[i].off, &v, sizeof(v));
			if (i == 0)
				have_hit = true;
			break;
		}
	}
	return have_hit ? 0 : -EINVAL;
}

int nl_topology_parse_distance(const char *text, int *row, int max)
{
	const char *p = skip_blank(text);
	int n = 0;

	while (*p && *p != '\n') {
		uint64_t v;

		if (parse_u64(&p, &v) < 0 || v < 1 || v > 255)
			return -EINVAL;
		if (n >= max)
			return -EINVAL;
		row[n++] = (int)v;
		if (*p && *p != ' ' && *p != '\t' && *p != '\n')
			return -EINVAL;
		p = skip_blank(p);
	}
	return n > 0 ? n : -EINVAL;
}

static int read_sys(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Read <sysfs>/<formatted path> into buf. Return bytes read or -errno;
 * -EFBIG when the file does not fit (never parse half a file). */
static int read_sys(char *buf, size_t len, const char *fmt, ...)
{
	char rel[256], path[NL_PATH_MAX];
	va_list ap;
	ssize_t n;
	int rc;

	va_start(ap, fmt);
	rc = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (rc < 0 || (size_t)rc >= sizeof(rel))
		return -ENAMETOOLONG;
	rc = nl_path_sys(path, sizeof(path), "%s", rel);
	if (rc < 0)
		return rc;
	n = nl_read_file(path, buf, len);
	if (n >= 0 && (size_t)n >= len - 1)
		return -EFBIG;
	return (int)n;
}

static int highest_cpu(const struct nl_cpuset *s)
{
	for (int w = NL_MAX_CPUS / 64 - 1; w >= 0; w--)
		if (s->bits[w])
			return w * 64 + 63 - __builtin_clzll(s->bits[w]);
	return -1;
}

/* Node ids from node/online, or from the node<N> entries when that file is
 * missing. Return 0, -ENOENT when there is no node directory (no NUMA), or
 * -errno. */
static int list_nodes(struct nl_cpuset *ids)
{
	char buf[TOPO_BUF], path[NL_PATH_MAX];
	struct dirent *de;
	DIR *d = NULL;
	int rc;

	nl_cpuset_zero(ids);
	rc = read_sys(buf, sizeof(buf), "devices/system/node/online");
	if (rc >= 0)
		return nl_cpuset_parse(ids, buf) < 0 ? -EINVAL : 0;
	if (rc != -ENOENT)
		return rc;
	rc = nl_path_sys(path, sizeof(path), "devices/system/node");
	if (rc < 0)
		return rc;
	d = nl_opendir(path);
	if (!d)
		return -errno;
	rc = 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long id;

		if (strncmp(de->d_name, "node", 4) != 0 ||
		    !isdigit((unsigned char)de->d_name[4]))
			continue;
		id = strtol(de->d_name + 4, &end, 10);
		if (*end || id >= NL_MAX_CPUS) {
			rc = -ERANGE;
			goto cleanup;
		}
		nl_cpuset_set(ids, (int)id);
	}
cleanup:
	closedir(d);
	return rc;
}

/* meminfo (required) and numastat (optional) of one node. */
static int read_node_counters(struct nl_node *n)
{
	char buf[TOPO_BUF];
	int rc;

	rc = read_sys(buf, sizeof(buf), "devices/system/node/node%d/meminfo",
		      n->id);
	if (rc < 0)
		return rc;
	rc = nl_topology_parse_meminfo(buf, n->id, &n->mem_total_bytes,
				       &n->mem_free_bytes);
	if (rc < 0)
		return rc;
	rc = read_sys(buf, sizeof(buf), "devices/system/node/node%d/numastat",
		      n->id);
	if (rc == -ENOENT) {
		n->has_numastat = false;
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = nl_topology_parse_numastat(buf, &n->numastat);
	if (rc < 0)
		return rc;
	n->has_numastat = true;
	return 0;
}

static int read_proc_meminfo(struct nl_node *n)
{
	char buf[TOPO_BUF], path[NL_PATH_MAX];
	ssize_t len;
	int rc;

	rc = nl_path_proc(path, sizeof(path), "meminfo");
	if (rc < 0)
		return rc;
	len = nl_read_file(path, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	if ((size_t)len >= sizeof(buf) - 1)
		return -EFBIG;
	return nl_topology_parse_meminfo(buf, -1, &n->mem_total_bytes,
					 &n->mem_free_bytes);
}

/* A kernel without CONFIG_NUMA: one node 0 with every online CPU. */
static int read_synthetic(struct nl_topology *t)
{
	char buf[TOPO_BUF];
	struct nl_node *n = &t->nodes[0];
	int rc;

	rc = read_sys(buf, sizeof(buf), "devices/system/cpu/online");
	if (rc < 0)
		return rc;
	if (nl_cpuset_parse(&n->cpus, buf) < 0)
		return -EINVAL;
	t->ncpus = highest_cpu(&n->cpus) + 1;
	if (t->ncpus == 0)
		return -EINVAL;
	for (int c = 0; c < t->ncpus; c++)
		t->cpu_node[c] = nl_cpuset_isset(&n->cpus, c) ? 0 : -1;
	n->id = 0;
	t->nnodes = 1;
	t->distance[0][0] = 10;
	return read_proc_meminfo(n);
}

static int read_numa(struct nl_topology *t, const struct nl_cpuset *ids)
{
	char buf[TOPO_BUF];
	struct nl_cpuset online;
	int rc, maxcpu;

	for (int id = 0; id < NL_MAX_CPUS; id++) {
		if (!nl_cpuset_isset(ids, id))
			continue;
		if (t->nnodes == NL_MAX_NODES)
			return -ERANGE;
		t->nodes[t->nnodes++].id = id;
	}
	if (t->nnodes == 0)
		return -EINVAL;

	for (int i = 0; i < t->nnodes; i++) {
		struct nl_node *n = &t->nodes[i];
		int row[NL_MAX_NODES], hi;

		rc = read_sys(buf, sizeof(buf),
			      "devices/system/node/node%d/cpulist", n->id);
		if (rc < 0)
			return rc;
		if (nl_cpuset_parse(&n->cpus, buf) < 0)
			return -EINVAL;
		hi = highest_cpu(&n->cpus);
		for (int c = 0; c <= hi; c++) {
			if (!nl_cpuset_isset(&n->cpus, c))
				continue;
			if (t->cpu_node[c] != -1)
				return -EINVAL;   /* a CPU in two nodes */
			t->cpu_node[c] = (int16_t)i;
		}

		/* The row has one entry per online node, in id order: the
		 * same order as nodes[]. */
		rc = read_sys(buf, sizeof(buf),
			      "devices/system/node/node%d/distance", n->id);
		if (rc < 0)
			return rc;
		rc = nl_topology_parse_distance(buf, row, NL_MAX_NODES);
		if (rc < 0)
			return rc;
		if (rc != t->nnodes)
			return -EINVAL;
		for (int j = 0; j < t->nnodes; j++)
			t->distance[i][j] = row[j];

		rc = read_node_counters(n);
		if (rc < 0)
			return rc;
	}

	/* CPUs that are online but in no node's list stay -1 (unknown);
	 * ncpus covers both. */
	maxcpu = -1;
	for (int i = 0; i < t->nnodes; i++) {
		int h = highest_cpu(&t->nodes[i].cpus);

		if (h > maxcpu)
			maxcpu = h;
	}
	rc = read_sys(buf, sizeof(buf), "devices/system/cpu/online");
	if (rc >= 0) {
		if (nl_cpuset_parse(&online, buf) < 0)
			return -EINVAL;
		if (highest_cpu(&online) > maxcpu)
			maxcpu = highest_cpu(&online);
	} else if (rc != -ENOENT) {
		return rc;
	}
	if (maxcpu < 0)
		return -EINVAL;
	t->ncpus = maxcpu + 1;
	return 0;
}

static void topo_reset(struct nl_topology *t)
{
	memset(t, 0, sizeof(*t));
	for (int c = 0; c < NL_MAX_CPUS; c++)
		t->cpu_node[c] = -1;
}

/* Full read; *synthetic tells whether the host has no NUMA sysfs. */
static int topo_read_full(struct nl_topology *t, bool *synthetic)
{
	struct nl_cpuset ids;
	int rc;

	topo_reset(t);
	*synthetic = false;
	rc = list_nodes(&ids);
	if (rc == -ENOENT) {
		*synthetic = true;
		rc = read_synthetic(t);
	} else if (rc == 0) {
		rc = read_numa(t, &ids);
	}
	if (rc < 0)
		topo_reset(t);
	return rc;
}

int nl_topology_read(struct nl_topology *t)
{
	bool synthetic;

	return topo_read_full(t, &synthetic);
}

/* Only the counters that move: node meminfo and numastat. */
static int topo_read_counters(struct nl_topology *t, bool synthetic)
{
	if (synthetic)
		return read_proc_meminfo(&t->nodes[0]);
	for (int i = 0; i < t->nnodes; i++) {
		int rc = read_node_counters(&t->nodes[i]);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static int topology_init(struct nl_state *st, void **priv)
{
	struct topo_priv *p;

	(void)st;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*priv = p;
	return 0;
}

/* The layout (nodes, CPUs, SLIT) is re-read every
 * NL_TOPOLOGY_FULL_INTERVAL_S: reading cpulist and distance of every node
 * costs as much as the counters and almost never changes. Counters are read
 * every cycle into a copy, so a failed read never leaves st->topo half
 * updated; on failure the previous topology stays published. */
static int topology_sample(struct nl_state *st, void *priv)
{
	struct topo_priv *p = priv;
	struct nl_topology *t = &p->scratch;
	bool full = !p->have_full || !st->topo_valid ||
		    st->now_ns - p->full_ns >=
			(uint64_t)NL_TOPOLOGY_FULL_INTERVAL_S * 1000000000ULL;
	int rc;

	if (!full) {
		*t = st->topo;
		rc = topo_read_counters(t, p->synthetic);
		if (rc < 0)
			full = true;   /* a node went away? re-read all */
	}
	if (full) {
		rc = topo_read_full(t, &p->synthetic);
		if (rc < 0) {
			nl_complain(&p->fail, NL_LOG_WARN,
				    "topology: cannot read host NUMA layout "
				    "from %s: %s", nl_paths_sysfs(),
				    strerror(-rc));
			return rc;
		}
		p->have_full = true;
		p->full_ns = st->now_ns;
	}
	st->topo = *t;
	st->topo_valid = true;
	if (p->fail.active)
		nl_complain_clear(&p->fail, "topology: host NUMA layout "
				  "readable again");
	return 0;
}

static void topology_free(struct nl_state *st, void *priv)
{
	(void)st;
	free(priv);
}

const struct nl_source nl_source_topology = {
	.name = "topology",
	.default_enabled = true,
	.required = true,
	.init = topology_init,
	.sample = topology_sample,
	.free = topology_free,
};
