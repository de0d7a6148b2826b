/* Memory placement, shared by the numa_stat and numa_maps sources
 * (numa_stat.c, numa_maps.c): bytes of each VM's memory per NUMA node, from
 * the VM's memory cgroup (memory.numa_stat) or, failing that,
 * /proc/PID/numa_maps. This file holds their parsers and common helpers.
 *
 * What counts as "VM memory":
 *  - cgroup v2: anon + shmem. Guest RAM is anonymous memory, or shmem when
 *    it is backed by memfd / tmpfs (memory-backend-memfd, vhost-user).
 *    "file" is left out: it is the host page cache of disk images and
 *    files the process read, not guest RAM (shmem is also part of "file";
 *    anon and shmem never overlap).
 *  - cgroup v1: hierarchical_anon (anon when the kernel has no
 *    hierarchical_ lines) plus hierarchical_unevictable (unevictable). v1
 *    numa_stat counts LRU lists, not memory types: shmem sits on the anon
 *    LRU, so anon already holds it; but mlocked pages move to the
 *    unevictable list, and with <memoryBacking><locked/> (QEMU mlock) that
 *    is the whole guest RAM. The price is a few MiB of mlocked QEMU text.
 *  - numa_maps: the same: anonymous mappings, shared memory (memfd,
 *    /dev/shm, SysV) and hugetlbfs, each at its own page size, and of a
 *    mapping of a regular file only its private copies (anon=). The other
 *    file pages are page cache: QEMU's binary and libraries, shared with
 *    every process mapping them (disk images are read, not mapped). Guest
 *    RAM lines (the split) count whole, whatever backs them.
 *  - hugetlbfs pages are charged to a memory cgroup only on cgroup v2
 *    mounted with memory_hugetlb_accounting (Linux 6.6+), never on v1.
 *    Rather than depend on a mount option, a VM with HugetlbPages in its
 *    status is left to numa_maps, which shows them ("huge ...
 *    kernelpagesize_kB=2048").
 *
 * Which cgroup: the one of the QEMU process, minus libvirt's per-thread
 * children, never the root. A cgroup that does not look like a libvirt
 * machine is only used when the QEMU process is alone in it: a QEMU started
 * from a shell shares its session scope with the shell. */
#include "memplace.h"
#include "memplace_priv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "paths.h"

/* ---- shared by both sources ---- */

int nl_memplace_init(void **priv)
{
	struct nl_memplace_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->page_size = sysconf(_SC_PAGESIZE);
	if (p->page_size <= 0)
		p->page_size = 4096;
	*priv = p;
	return 0;
}

void nl_memplace_free(void *priv)
{
	struct nl_memplace_priv *p = priv;

	if (!p)
		return;
	free(p->buf);
	free(p);
}

bool nl_memplace_topo_ok(const struct nl_state *st,
			 struct nl_memplace_priv *p, const char *src)
{
	if (st->topo_valid && st->topo.nnodes > 0) {
		nl_complain_clear(&p->notopo, "%s: host topology known again",
				  src);
		return true;
	}
	nl_complain(&p->notopo, NL_LOG_WARN,
		    "%s: no host topology yet, VM memory not measured", src);
	return false;
}

bool nl_memplace_is_cgroup(enum nl_mem_source s)
{
	return s == NL_MEM_CGROUP_V1 || s == NL_MEM_CGROUP_V2;
}

/* ---- parsers ---- */

static const char *line_end(const char *p)
{
	const char *e = strchr(p, '\n');

	return e ? e : p + strlen(p);
}

/* Decimal digits in [p, e) as a u64. Return 0 or -EINVAL. */
static int span_u64(const char *p, const char *e, uint64_t *out)
{
	uint64_t v = 0;

	if (p == e)
		return -EINVAL;
	for (; p < e; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

/* "N<id>=<value>" in [p, e). Return 0, -EINVAL, or 1 when the token does
 * not start with N<digit> at all (another attribute). */
static int node_token(const char *p, const char *e, int *id, uint64_t *val)
{
	const char *eq;
	uint64_t n;

	if (e - p < 2 || p[0] != 'N' || !isdigit((unsigned char)p[1]))
		return 1;
	eq = memchr(p, '=', (size_t)(e - p));
	if (!eq || span_u64(p + 1, eq, &n) < 0 || n > INT32_MAX ||
	    span_u64(eq + 1, e, val) < 0)
		return -EINVAL;
	*id = (int)n;
	return 0;
}

static void add_sat(uint64_t *dst, uint64_t v)
{
	*dst = (UINT64_MAX - *dst < v) ? UINT64_MAX : *dst + v;
}

/* The per-node tokens of one numa_stat line, from p to e, added to
 * out[node index] x scale. Return 0 or -EINVAL. */
static int stat_nodes(const char *p, const char *e, uint64_t scale,
		      const struct nl_topology *t, uint64_t *out)
{
	while (p < e) {
		const char *tok_end;
		uint64_t v;
		int id, idx;

		while (p < e && *p == ' ')
			p++;
		if (p == e)
			break;
		tok_end = p;
		while (tok_end < e && *tok_end != ' ')
			tok_end++;
		if (node_token(p, tok_end, &id, &v) != 0)
			return -EINVAL;
		idx = nl_topology_node_index(t, id);
		if (idx >= 0) {
			if (scale && v > UINT64_MAX / scale)
				v = UINT64_MAX;
			else
				v *= scale;
			add_sat(&out[idx], v);
		}
		p = tok_end;
	}
	return 0;
}

int nl_memplace_parse_numa_stat(const char *text, int v2, long page_size,
				const struct nl_topology *t, uint64_t *bytes)
{
	/* v1: [0] anon [1] unevictable [2] hierarchical_anon
	 * [3] hierarchical_unevictable; v2: [0] anon [1] shmem */
	static const char *const keys_v1[] = {
		"anon", "unevictable", "hierarchical_anon",
		"hierarchical_unevictable",
	};
	static const char *const keys_v2[] = { "anon", "shmem" };
	uint64_t acc[4][NL_MAX_NODES];
	bool seen[4] = { false, false, false, false };
	const char *const *keys = v2 ? keys_v2 : keys_v1;
	size_t nkeys = v2 ? 2 : 4;
	uint64_t scale = v2 ? 1 : (uint64_t)page_size;

	memset(bytes, 0, NL_MAX_NODES * sizeof(*bytes));
	if (!v2 && page_size <= 0)
		return -EINVAL;
	memset(acc, 0, sizeof(acc));
	for (const char *p = text; *p;) {
		const char *e = line_end(p), *k = p, *rest;
		size_t klen;

		while (k < e && *k != ' ' && *k != '=')
			k++;
		klen = (size_t)(k - p);
		if (klen == 0 && k < e)
			return -EINVAL;
		for (size_t i = 0; klen && i < nkeys; i++) {
			if (strlen(keys[i]) != klen ||
			    memcmp(keys[i], p, klen) != 0)
				continue;
			if (seen[i])
				return -EINVAL;
			rest = k;
			if (!v2) {
				/* "key=<total> N0=..": skip the total */
				uint64_t total;
				const char *te;

				if (*rest != '=')
					return -EINVAL;
				te = rest + 1;
				while (te < e && *te != ' ')
					te++;
				if (span_u64(rest + 1, te, &total) < 0)
					return -EINVAL;
				rest = te;
			} else if (rest < e && *rest != ' ') {
				return -EINVAL;
			}
			if (stat_nodes(rest, e, scale, t, acc[i]) < 0)
				return -EINVAL;
			seen[i] = true;
		}
		p = *e ? e + 1 : e;
	}

	if (v2) {
		if (!seen[0])
			return -EINVAL;
		for (int n = 0; n < NL_MAX_NODES; n++) {
			bytes[n] = acc[0][n];
			add_sat(&bytes[n], acc[1][n]);
		}
		return 0;
	}
	{
		int a = seen[2] ? 2 : 0, u = seen[2] ? 3 : 1;

		if (!seen[a])
			return -EINVAL;
		for (int n = 0; n < NL_MAX_NODES; n++) {
			bytes[n] = acc[a][n];
			add_sat(&bytes[n], acc[u][n]);
		}
	}
	return 0;
}

/* A file= path of a mapping whose pages are shared memory, not page
 * cache: memfd, POSIX (/dev/shm) and SysV shared memory. hugetlbfs lines
 * carry a "huge" token instead. */
static bool shmem_path(const char *p, const char *e)
{
	static const char *const prefixes[] = { "/memfd:", "/dev/shm/", "/SYSV" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);

		if ((size_t)(e - p) >= n && memcmp(p, prefixes[i], n) == 0)
			return true;
	}
	return false;
}

/* One numa_maps line in [p, e): "<hex addr> <policy> [attr=..] N0=pages ..
 * kernelpagesize_kB=4". Adds to bytes. Return 0, or -EINVAL for a line
 * that is not a mapping (nothing is added then).
 *
 * With anon_only, a mapping of a regular file (page cache: QEMU's binary,
 * its libraries) adds only its private copies (anon=, shared over the nodes
 * as the line's pages are): what a memory cgroup counts as anon + shmem. */
static int maps_line(const char *p, const char *e, long page_size,
		     const struct nl_topology *t, bool anon_only, uint64_t *bytes)
{
	struct {
		int idx;
		uint64_t pages;
	} seen[NL_MAX_NODES];
	int nseen = 0;
	uint64_t psize = (uint64_t)page_size, anon = 0, total = 0;
	bool page_cache = false, huge = false;
	const char *q = p;

	while (q < e && isxdigit((unsigned char)*q))
		q++;
	if (q == p || q - p > 16 || q == e || *q != ' ')
		return -EINVAL;

	while (q < e) {
		const char *tok_end;
		uint64_t v;
		int id, rc;

		while (q < e && *q == ' ')
			q++;
		if (q == e)
			break;
		tok_end = q;
		while (tok_end < e && *tok_end != ' ')
			tok_end++;
		if ((size_t)(tok_end - q) > 18 &&
		    memcmp(q, "kernelpagesize_kB=", 18) == 0) {
			if (span_u64(q + 18, tok_end, &v) < 0 || v == 0 ||
			    v > UINT64_MAX / 1024)
				return -EINVAL;
			psize = v * 1024;
		} else if (tok_end - q > 5 && memcmp(q, "file=", 5) == 0) {
			page_cache = !shmem_path(q + 5, tok_end);
		} else if (tok_end - q == 4 && memcmp(q, "huge", 4) == 0) {
			huge = true;
		} else if (tok_end - q > 5 && memcmp(q, "anon=", 5) == 0) {
			if (span_u64(q + 5, tok_end, &anon) < 0)
				return -EINVAL;
		} else {
			rc = node_token(q, tok_end, &id, &v);
			if (rc < 0)
				return -EINVAL;
			if (rc == 0) {
				int idx = nl_topology_node_index(t, id);

				if (idx >= 0 && nseen < NL_MAX_NODES) {
					seen[nseen].idx = idx;
					seen[nseen].pages = v;
					nseen++;
				}
			}
		}
		q = tok_end;
	}
	for (int i = 0; i < nseen; i++)
		total += seen[i].pages;
	for (int i = 0; i < nseen; i++) {
		uint64_t pages = seen[i].pages, b;

		if (anon_only && page_cache && !huge)
			pages = anon >= total ? pages
				: (uint64_t)((double)pages * (double)anon / (double)total);
		b = pages > UINT64_MAX / psize ? UINT64_MAX : pages * psize;
		add_sat(&bytes[seen[i].idx], b);
	}
	return 0;
}

/* The hex start address a maps / numa_maps line begins with; 0 none. */
static uint64_t line_addr(const char *p, const char *e)
{
	uint64_t a = 0;
	int n = 0;

	for (; p < e && isxdigit((unsigned char)*p) && n < 16; p++, n++)
		a = a << 4 | (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' :
					(tolower((unsigned char)*p) - 'a' + 10));
	return a;
}

static int map_of(uint64_t addr, const struct nl_ram_map *maps, int n)
{
	for (int i = 0; i < n; i++)
		if (maps[i].start == addr)
			return i;
	return -1;
}

/* The kernel node ids of a numa_maps policy word: "bind:0-1", "prefer:1",
 * "prefer (many):0,2"; 0 for default, local, interleave. */
static uint64_t policy_nodes(const char *p, const char *e)
{
	const char *sp = memchr(p, ' ', (size_t)(e - p)), *colon, *end;
	char buf[64];
	uint64_t m = 0;

	if (!sp)
		return 0;
	sp++;
	if (!((e - sp > 5 && memcmp(sp, "bind:", 5) == 0) ||
	      (e - sp > 6 && memcmp(sp, "prefer", 6) == 0)))
		return 0;
	colon = memchr(sp, ':', (size_t)(e - sp));
	if (!colon)
		return 0;
	for (end = colon + 1; end < e && *end != ' '; end++)
		;
	if ((size_t)(end - colon - 1) >= sizeof(buf))
		return 0;
	memcpy(buf, colon + 1, (size_t)(end - colon - 1));
	buf[end - colon - 1] = '\0';
	return nl_nodemask_parse(&m, buf) < 0 ? 0 : m;
}

int nl_memplace_parse_numa_maps_maps(const char *text, long page_size,
				     const struct nl_topology *t, struct nl_ram_map *maps,
				     int nmaps, uint64_t *guest, uint64_t *vmm)
{
	int skipped = 0, good = 0;

	memset(guest, 0, NL_MAX_NODES * sizeof(*guest));
	memset(vmm, 0, NL_MAX_NODES * sizeof(*vmm));
	for (int i = 0; i < nmaps; i++) {
		memset(maps[i].bytes, 0, sizeof(maps[i].bytes));
		maps[i].policy_nodes = 0;
	}
	if (page_size <= 0)
		return -EINVAL;
	for (const char *p = text; *p;) {
		const char *e = line_end(p);

		if (e > p) {
			int m = map_of(line_addr(p, e), maps, nmaps);
			uint64_t one[NL_MAX_NODES] = { 0 };

			if (maps_line(p, e, page_size, t, m < 0, one) == 0) {
				good++;
				for (int n = 0; n < NL_MAX_NODES; n++)
					add_sat(m < 0 ? &vmm[n] : &guest[n], one[n]);
				if (m >= 0) {
					memcpy(maps[m].bytes, one, sizeof(one));
					maps[m].policy_nodes = policy_nodes(p, e);
				}
			} else {
				skipped++;
			}
		}
		p = *e ? e + 1 : e;
	}
	if (skipped && !good)
		return -EINVAL;
	return skipped;
}

int nl_memplace_parse_numa_maps_split(const char *text, long page_size,
				      const struct nl_topology *t,
				      const uint64_t *guest_starts, int nguest,
				      uint64_t *guest, uint64_t *vmm)
{
	struct nl_ram_map maps[16];

	if (nguest > 16)
		nguest = 16;
	for (int i = 0; i < nguest; i++)
		maps[i].start = guest_starts[i];
	return nl_memplace_parse_numa_maps_maps(text, page_size, t, maps, nguest, guest, vmm);
}

int nl_memplace_parse_numa_maps(const char *text, long page_size,
				const struct nl_topology *t, uint64_t *bytes)
{
	uint64_t none[NL_MAX_NODES];

	return nl_memplace_parse_numa_maps_split(text, page_size, t, NULL, 0, none, bytes);
}

/* A maps line's mapping [lo, hi); [sp, e) is the rest of the line from the
 * permissions on: "rw-p 00000000 00:00 0   /path". */
static void ram_map_fill(struct nl_ram_map *m, uint64_t lo, uint64_t hi, const char *sp,
			 const char *e)
{
	const char *q = sp;

	memset(m, 0, sizeof(*m));
	m->start = lo;
	m->size = hi - lo;
	/* skip perms, offset, dev, inode: the path is what follows */
	for (int f = 0; f < 4 && q < e; f++) {
		while (q < e && *q == ' ')
			q++;
		while (q < e && *q != ' ')
			q++;
	}
	while (q < e && *q == ' ')
		q++;
	snprintf(m->name, sizeof(m->name), "%.*s", (int)(e - q), q);
}

int nl_memplace_ram_maps(const char *maps, struct nl_ram_map *out, int max)
{
	uint64_t best = 0, best_size = 0;
	const char *best_p = NULL, *best_e = NULL;
	int n = 0;

	for (const char *p = maps; *p;) {
		const char *e = line_end(p), *dash = memchr(p, '-', (size_t)(e - p));
		const char *sp = dash ? memchr(dash, ' ', (size_t)(e - dash)) : NULL;
		uint64_t lo, hi;

		if (!sp || e - sp < 3)
			goto next;
		lo = line_addr(p, dash);
		hi = line_addr(dash + 1, sp);
		/* writable memory only, never the brk heap or a stack */
		if (hi <= lo || sp[1] != 'r' || sp[2] != 'w' || sp[3] == 'x' ||
		    memmem(sp, (size_t)(e - sp), " [heap]", 7) ||
		    memmem(sp, (size_t)(e - sp), " [stack", 7))
			goto next;
		if (hi - lo > NL_GUEST_RAM_MIN && n < max)
			ram_map_fill(&out[n++], lo, hi, sp, e);
		if (hi - lo > best_size) {
			best_size = hi - lo;
			best = lo;
			best_p = sp;
			best_e = e;
		}
next:
		p = *e ? e + 1 : e;
	}
	if (n == 0 && best_size > 0 && max > 0)
		ram_map_fill(&out[n++], best, best + best_size, best_p, best_e);
	return n;
}

int nl_memplace_guest_ram(const char *maps, uint64_t *starts, int max)
{
	struct nl_ram_map m[16];
	int n = nl_memplace_ram_maps(maps, m, max < 16 ? max : 16);

	for (int i = 0; i < n; i++)
		starts[i] = m[i].start;
	return n;
}

static int copy_span(char *dst, size_t len, const char *p, const char *e)
{
	size_t n = (size_t)(e - p);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

int nl_memplace_parse_cgroup(const char *text, char *path, size_t len,
			     int *v2)
{
	const char *v2_path = NULL, *v2_end = NULL;

	for (const char *p = text; *p;) {
		const char *e = line_end(p);
		const char *c1 = memchr(p, ':', (size_t)(e - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(e - c1 - 1))
				    : NULL;

		/* "ID:controller,list:/path"; the path may hold ':' */
		if (c2 && c2 + 1 < e && c2[1] == '/') {
			if (c2 == c1 + 1 && c1 - p == 1 && *p == '0') {
				v2_path = c2 + 1;
				v2_end = e;
			} else {
				for (const char *c = c1 + 1; c < c2;) {
					const char *ce = memchr(c, ',',
							(size_t)(c2 - c));

					if (!ce)
						ce = c2;
					if (ce - c == 6 &&
					    memcmp(c, "memory", 6) == 0) {
						*v2 = 0;
						return copy_span(path, len,
								 c2 + 1, e);
					}
					c = ce + 1;
				}
			}
		}
		p = *e ? e + 1 : e;
	}
	if (!v2_path)
		return -ENOENT;
	*v2 = 1;
	return copy_span(path, len, v2_path, v2_end);
}

/* "vcpu12", "iothread1", "emulator": libvirt's per-thread cgroups. */
static bool thread_leaf(const char *name)
{
	const char *digits;

	if (strcmp(name, "emulator") == 0)
		return true;
	if (strncmp(name, "vcpu", 4) == 0)
		digits = name + 4;
	else if (strncmp(name, "iothread", 8) == 0)
		digits = name + 8;
	else
		return false;
	if (!*digits)
		return false;
	for (; *digits; digits++)
		if (!isdigit((unsigned char)*digits))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Cut the last component of an absolute path in place. */
static void cut_last(char *dir)
{
	char *slash = strrchr(dir, '/');

	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
}

static const char *last_name(const char *dir)
{
	const char *slash = strrchr(dir, '/');

	return slash ? slash + 1 : dir;
}

int nl_memplace_cgroup_vm_dir(const char *path, char *dir, size_t len,
			      bool *named)
{
	size_t n;

	*named = false;
	if (path[0] != '/')
		return -EINVAL;
	n = strlen(path);
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';

	if (thread_leaf(last_name(dir))) {
		cut_last(dir);
		*named = true;
		/* libvirt >= 7.1 on cgroup v2 + systemd: scope/libvirt/vcpu0;
		 * the scope itself is the VM's machine unit */
		if (strcmp(last_name(dir), "libvirt") == 0) {
			char *slash = strrchr(dir, '/');

			if (slash && slash != dir)
				cut_last(dir);
		}
	}
	if (strcmp(dir, "/") == 0) {
		*named = false;
		return -ENOENT;
	}
	{
		const char *name = last_name(dir);

		if ((strncmp(name, "machine-qemu", 12) == 0 &&
		     ends_with(name, ".scope")) ||
		    ends_with(name, ".libvirt-qemu"))
			*named = true;
	}
	return 0;
}

bool nl_memplace_procs_only(const char *text, pid_t pid)
{
	bool found = false;

	for (const char *p = text; *p;) {
		const char *e = line_end(p);
		uint64_t v;

		if (e > p) {
			if (span_u64(p, e, &v) < 0 || v != (uint64_t)pid)
				return false;
			found = true;
		}
		p = *e ? e + 1 : e;
	}
	return found;
}

uint64_t nl_memplace_status_hugetlb(const char *text)
{
	const char *p = strstr(text, "\nHugetlbPages:");
	uint64_t kb;
	char *end;

	if (!p)
		return 0;
	p += 14;
	while (*p == ' ' || *p == '\t')
		p++;
	errno = 0;
	kb = strtoull(p, &end, 10);
	if (errno || end == p || kb > UINT64_MAX / 1024)
		return 0;
	return kb * 1024;
}
