#include "types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *nl_role_name(enum nl_role r)
{
	switch (r) {
	case NL_ROLE_VCPU: return "vcpu";
	case NL_ROLE_EMULATOR: return "emulator";
	case NL_ROLE_IOTHREAD: return "iothread";
	case NL_ROLE_VHOST: return "vhost";
	case NL_ROLE_COUNT: break;
	}
	return "all";
}

const char *nl_backend_name(enum nl_backend b)
{
	return b == NL_BACKEND_LIBVIRT ? "libvirt" : "proc";
}

const char *nl_arrival_name(enum nl_arrival a)
{
	switch (a) {
	case NL_ARRIVAL_MIGRATED: return "migrated";
	case NL_ARRIVAL_RESTORED: return "restored";
	case NL_ARRIVAL_SNAPSHOT: return "snapshot";
	case NL_ARRIVAL_INCOMING: return "incoming";
	case NL_ARRIVAL_NONE:
	case NL_ARRIVAL_COUNT: break;
	}
	return "none";
}

const char *nl_mem_source_name(enum nl_mem_source s)
{
	switch (s) {
	case NL_MEM_CGROUP_V1: return "cgroup_v1";
	case NL_MEM_CGROUP_V2: return "cgroup_v2";
	case NL_MEM_NUMA_MAPS: return "numa_maps";
	case NL_MEM_NONE: break;
	}
	return "none";
}

void nl_cpuset_zero(struct nl_cpuset *s)
{
	memset(s, 0, sizeof(*s));
}

void nl_cpuset_set(struct nl_cpuset *s, int cpu)
{
	if (cpu >= 0 && cpu < NL_MAX_CPUS)
		s->bits[cpu / 64] |= 1ULL << (cpu % 64);
}

bool nl_cpuset_isset(const struct nl_cpuset *s, int cpu)
{
	if (cpu < 0 || cpu >= NL_MAX_CPUS)
		return false;
	return (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}

int nl_cpuset_count(const struct nl_cpuset *s)
{
	int n = 0;

	for (size_t i = 0; i < NL_MAX_CPUS / 64; i++)
		n += __builtin_popcountll(s->bits[i]);
	return n;
}

void nl_cpuset_or(struct nl_cpuset *dst, const struct nl_cpuset *src)
{
	for (size_t i = 0; i < NL_MAX_CPUS / 64; i++)
		dst->bits[i] |= src->bits[i];
}

bool nl_cpuset_within(const struct nl_cpuset *a, const struct nl_cpuset *b)
{
	bool any = false;

	for (size_t i = 0; i < NL_MAX_CPUS / 64; i++) {
		if (a->bits[i] & ~b->bits[i])
			return false;
		any |= a->bits[i] != 0;
	}
	return any;
}

/* Parse "a-b,c" calling set(i) for every member below max. */
static int list_parse(const char *list, int max, void (*set)(void *, int),
		      void *arg)
{
	const char *p = list;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p && *p != '\n') {
		char *end;
		long a, b;

		errno = 0;
		a = strtol(p, &end, 10);
		if (end == p || errno || a < 0)
			return -EINVAL;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			b = strtol(p, &end, 10);
			if (end == p || errno || b < a)
				return -EINVAL;
			p = end;
		}
		if (b >= max)
			return -ERANGE;
		for (long i = a; i <= b; i++)
			set(arg, (int)i);
		if (*p == ',')
			p++;
		else if (*p && *p != '\n' && *p != ' ')
			return -EINVAL;
		else
			break;
	}
	return 0;
}

static void cpuset_set_cb(void *arg, int i)
{
	nl_cpuset_set(arg, i);
}

int nl_cpuset_parse(struct nl_cpuset *s, const char *list)
{
	nl_cpuset_zero(s);
	return list_parse(list, NL_MAX_CPUS, cpuset_set_cb, s);
}

static void mask_set_cb(void *arg, int i)
{
	*(uint64_t *)arg |= 1ULL << i;
}

int nl_nodemask_parse(uint64_t *mask, const char *list)
{
	*mask = 0;
	return list_parse(list, NL_MAX_NODES, mask_set_cb, mask);
}

static char *list_format(bool (*isset)(const void *, int), const void *arg,
			 int max, char *buf, size_t len)
{
	size_t off = 0;
	int i = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	while (i < max) {
		int j;

		if (!isset(arg, i)) {
			i++;
			continue;
		}
		j = i;
		while (j + 1 < max && isset(arg, j + 1))
			j++;
		int n = (j == i) ? snprintf(buf + off, len - off, "%s%d",
					    off ? "," : "", i)
				 : snprintf(buf + off, len - off, "%s%d-%d",
					    off ? "," : "", i, j);
		if (n < 0 || (size_t)n >= len - off) {
			buf[off] = '\0';   /* truncated: keep whole items only */
			break;
		}
		off += (size_t)n;
		i = j + 1;
	}
	return buf;
}

static bool cpuset_isset_cb(const void *arg, int i)
{
	return nl_cpuset_isset(arg, i);
}

static bool mask_isset_cb(const void *arg, int i)
{
	return (*(const uint64_t *)arg >> i) & 1;
}

char *nl_cpuset_format(const struct nl_cpuset *s, char *buf, size_t len)
{
	return list_format(cpuset_isset_cb, s, NL_MAX_CPUS, buf, len);
}

char *nl_nodemask_format(uint64_t mask, char *buf, size_t len)
{
	return list_format(mask_isset_cb, &mask, NL_MAX_NODES, buf, len);
}

int nl_topology_node_index(const struct nl_topology *t, int node_id)
{
	for (int i = 0; i < t->nnodes; i++)
		if (t->nodes[i].id == node_id)
			return i;
	return -1;
}
