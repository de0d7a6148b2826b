/* The kernel executors of `numalens apply`, for what libvirt cannot do:
 * sched_setaffinity(2) of a VMM thread libvirt does not know (vhost),
 * migrate_pages(2) of the whole QEMU process and move_pages(2) of part of
 * its guest RAM. Before it acts on a PID or TID from a hint, each checks
 * under --path.procfs that it still belongs to the VM. See apply_priv.h. */
#include "apply_priv.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "paths.h"
#include "procscan.h"

#define NL_MPOL_MF_MOVE (1 << 1)
#define MOVE_BATCH 1024
/* node masks for migrate_pages(2): as many bits as node ids allowed */
#define MASK_LONGS (NL_MAX_CPUS / (8 * sizeof(long)))

/* ---- is it still the VM's? ---- */

/* QEMU runs with "-name NAME[,...]" or "-name guest=NAME[,...]" (libvirt),
 * commas in NAME doubled. */
static bool name_arg_is(const char *v, const char *vm)
{
	const char *w = vm;

	if (!strncmp(v, "guest=", 6))
		v += 6;
	/* compare up to the first single comma */
	while (*v && *w) {
		if (*v == ',' && v[1] != ',')
			break;
		if (*v != *w)
			break;
		v += *v == ',' ? 2 : 1;
		w++;
	}
	return *w == '\0' && (*v == '\0' || (*v == ',' && v[1] != ','));
}

bool nl_apply_pid_trusted(int pid, const char *qemu_users)
{
	uid_t uids[16], uid;
	int n = nl_procscan_parse_users(qemu_users ? qemu_users : "0", uids, 16);

	if (pid <= 0 || nl_proc_uid(pid, &uid) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (uids[i] == uid)
			return true;
	return nl_proc_holds_kvm(pid);
}

bool nl_apply_pid_is_vm(int pid, const char *vm)
{
	char path[NL_PATH_MAX], *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	bool ok = false;

	if (pid <= 0 || !vm || nl_path_proc(path, sizeof(path), "%d/cmdline", pid) < 0)
		return false;
	if (!nl_apply_pid_trusted(pid, NL_APPLY_QEMU_USERS))
		return false;
	n = nl_read_file_alloc(path, &buf, &cap);
	for (ssize_t i = 0; n > 0 && i < n && !ok;) {
		const char *arg = buf + i;
		size_t l = strnlen(arg, (size_t)(n - i));

		if (!strcmp(arg, "-name") && i + (ssize_t)l + 1 < n)
			ok = name_arg_is(arg + l + 1, vm);
		i += (ssize_t)l + 1;
	}
	free(buf);
	return ok;
}

static int thread_of_vm(int pid, int tid)
{
	char path[NL_PATH_MAX], comm[32] = "", want[32];

	if (nl_path_proc(path, sizeof(path), "%d/task/%d", pid, tid) == 0 &&
	    access(path, F_OK) == 0)
		return 0;
	/* vhost workers before Linux 6.4 are their own kernel threads: comm
	 * "vhost-PID" and, as for every kernel thread, an empty cmdline (any
	 * user can name a process vhost-PID, but not empty its cmdline) */
	snprintf(want, sizeof(want), "vhost-%d", pid);
	if (nl_path_proc(path, sizeof(path), "%d/comm", tid) == 0 &&
	    nl_read_file(path, comm, sizeof(comm)) > 0 &&
	    !strcmp(nl_rstrip(comm), want) &&
	    nl_path_proc(path, sizeof(path), "%d/cmdline", tid) == 0 &&
	    nl_read_file(path, comm, sizeof(comm)) == 0)
		return 0;
	return -ESRCH;
}

static int check_pid(const struct nl_apply_ctx *c, const Numalens__V1__Hint *h)
{
	if (nl_apply_pid_is_vm(h->pid, h->vm))
		return 0;
	fprintf(c->out, "        error: PID %d is not the QEMU of VM \"%s\" (a stale hint, or not a QEMU this host runs: "
		"its -name, and run by one of " NL_APPLY_QEMU_USERS " or holding /dev/kvm)\n",
		h->pid, h->vm ? h->vm : "?");
	return -ESRCH;
}

/* ---- thread affinity ---- */

int nl_apply_run_pin_thread(const struct nl_apply_ctx *c, const struct nl_apply_act *a)
{
	char before[NL_MAX_CPUS * 5] = "?";
	cpu_set_t cur, want;
	int tid = a->index, pid = a->hint->pid;

	if (check_pid(c, a->hint))
		return -ESRCH;
	if (thread_of_vm(pid, tid)) {
		fprintf(c->out, "        error: thread %d is not a thread of QEMU %d (stale hint?)\n",
			tid, pid);
		return -ESRCH;
	}
	CPU_ZERO(&want);
	for (int i = 0; i < NL_MAX_CPUS && i < CPU_SETSIZE; i++)
		if (nl_cpuset_isset(&a->cpus, i))
			CPU_SET(i, &want);
	if (sched_getaffinity(tid, sizeof(cur), &cur) == 0) {
		struct nl_cpuset b;

		nl_cpuset_zero(&b);
		for (int i = 0; i < CPU_SETSIZE && i < NL_MAX_CPUS; i++)
			if (CPU_ISSET(i, &cur))
				nl_cpuset_set(&b, i);
		nl_cpuset_format(&b, before, sizeof(before));
	}
	if (!c->yes) {
		fprintf(c->out, "        now CPUs %s; dry run, not changed\n", before);
		return 0;
	}
	if (sched_setaffinity(tid, sizeof(want), &want) < 0) {
		int rc = -errno;

		fprintf(c->out, "        FAILED: sched_setaffinity: %s\n", strerror(-rc));
		return rc;
	}
	fprintf(c->out, "        changed: thread %d CPUs %s -> %s\n", tid, before, a->pb->cpus);
	return 0;
}

/* ---- page migration ---- */

int nl_apply_node_mask(const int *nodes, size_t n, unsigned long *mask, size_t nlongs)
{
	const size_t bits = 8 * sizeof(long);

	memset(mask, 0, nlongs * sizeof(long));
	for (size_t i = 0; i < n; i++) {
		if (nodes[i] < 0 || (size_t)nodes[i] >= nlongs * bits)
			return -EINVAL;
		mask[(size_t)nodes[i] / bits] |= 1UL << ((size_t)nodes[i] % bits);
	}
	return 0;
}

int nl_apply_run_migrate_pages(const struct nl_apply_ctx *c, const struct nl_apply_act *a)
{
	unsigned long oldm[MASK_LONGS], newm[MASK_LONGS];
	const Numalens__V1__Hint *h = a->hint;
	long left;
	int rc;

	rc = check_pid(c, h);
	if (rc)
		return rc;
	if (nl_apply_node_mask(a->pb->from_nodes, a->pb->n_from_nodes, oldm, MASK_LONGS) ||
	    nl_apply_node_mask(&a->pb->to_node, 1, newm, MASK_LONGS))
		return -EINVAL;    /* validate() said so already */
	if (!c->yes) {
		fprintf(c->out, "        dry run, not changed\n");
		return 0;
	}
	/* maxnode counts one past the bits the kernel reads */
	left = syscall(SYS_migrate_pages, h->pid, (unsigned long)(MASK_LONGS * 8 * sizeof(long)) + 1,
		       oldm, newm);
	if (left < 0) {
		rc = -errno;
		fprintf(c->out, "        FAILED: migrate_pages: %s\n", strerror(-rc));
		return rc;
	}
	fprintf(c->out, "        changed: pages of QEMU %d moved to node %d; %ld could not be moved\n",
		h->pid, a->pb->to_node, left);
	return 0;
}

uint64_t nl_apply_pages_for(uint64_t bytes, long psz)
{
	uint64_t p = (uint64_t)psz;

	return bytes / p + (bytes % p != 0);
}

bool nl_apply_maps_ram(const char *line, unsigned long *lo, unsigned long *hi)
{
	unsigned long off, inode;
	char perms[8], dev[16];

	if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", lo, hi, perms, &off, dev, &inode) < 6)
		return false;
	return strlen(perms) >= 4 && perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p' &&
	       inode == 0 && *hi > *lo && *hi - *lo >= 2 * 1024 * 1024;
}

int nl_apply_pages_on(void *const *pages, const int *status, int n, int from,
		      uint64_t limit, void **sel)
{
	int nsel = 0;

	for (int i = 0; i < n && (uint64_t)nsel < limit; i++)
		if (status[i] == from)
			sel[nsel++] = pages[i];
	return nsel;
}

/* One batch of pages at [a, hi): count those on `from` (up to `limit`),
 * and with `yes` move them to `to`. Return 0 or -errno; *next: where the
 * next batch starts. */
static int move_batch(int pid, unsigned long a, unsigned long hi, long psz, int from, int to,
		      bool yes, uint64_t limit, uint64_t *found, uint64_t *moved,
		      unsigned long *next)
{
	void *pages[MOVE_BATCH], *sel[MOVE_BATCH];
	int status[MOVE_BATCH], nodes[MOVE_BATCH];
	int cnt = 0, nsel;

	for (; a < hi && cnt < MOVE_BATCH; a += (unsigned long)psz)
		pages[cnt++] = (void *)a;
	*next = a;
	if (syscall(SYS_move_pages, pid, (unsigned long)cnt, pages, NULL, status, 0) < 0)
		return -errno;
	nsel = nl_apply_pages_on(pages, status, cnt, from, limit, sel);
	*found += (uint64_t)nsel;
	if (!yes || nsel == 0)
		return 0;
	for (int i = 0; i < nsel; i++)
		nodes[i] = to;
	if (syscall(SYS_move_pages, pid, (unsigned long)nsel, sel, nodes, status,
		    NL_MPOL_MF_MOVE) < 0)
		return -errno;
	for (int i = 0; i < nsel; i++)
		*moved += status[i] == to;
	return 0;
}

/* A mapping that may hold guest RAM, with the pages numa_maps says it has
 * on the source node (UINT64_MAX: numa_maps unreadable, not known). */
struct ram_range {
	unsigned long lo, hi;
	uint64_t on_from;
};

/* The guest-RAM-like mappings of /proc/PID/maps into *out (heap-allocated).
 * Return the count or -errno. */
static ssize_t ram_ranges(int pid, struct ram_range **out)
{
	char path[NL_PATH_MAX], *maps = NULL;
	struct ram_range *r = NULL, *t;
	size_t cap = 0, n = 0, rcap = 0;
	ssize_t len;

	*out = NULL;
	if (nl_path_proc(path, sizeof(path), "%d/maps", pid) < 0)
		return -ENAMETOOLONG;
	len = nl_read_file_alloc(path, &maps, &cap);
	if (len < 0)
		return len;
	for (char *line = maps; line && *line;) {
		char *eol = strchr(line, '\n');
		unsigned long lo, hi;

		if (eol)
			*eol = '\0';
		if (nl_apply_maps_ram(line, &lo, &hi)) {
			if (n == rcap) {
				rcap = rcap ? 2 * rcap : 16;
				t = realloc(r, rcap * sizeof(*r));
				if (!t) {
					free(r);
					free(maps);
					return -ENOMEM;
				}
				r = t;
			}
			r[n++] = (struct ram_range){ lo, hi, UINT64_MAX };
		}
		line = eol ? eol + 1 : NULL;
	}
	free(maps);
	*out = r;
	return (ssize_t)n;
}

/* Fill each range's pages on node `from` from /proc/PID/numa_maps (one line
 * per mapping: its start address, then "N<node>=<pages>" tokens). Ranges
 * stay "not known" when numa_maps cannot be read. */
static void ram_on_node(int pid, int from, struct ram_range *r, size_t n)
{
	char path[NL_PATH_MAX], *nm = NULL, key[16];
	size_t cap = 0, klen;

	if (nl_path_proc(path, sizeof(path), "%d/numa_maps", pid) < 0 ||
	    nl_read_file_alloc(path, &nm, &cap) < 0) {
		free(nm);
		return;
	}
	klen = (size_t)snprintf(key, sizeof(key), " N%d=", from);
	for (size_t i = 0; i < n; i++)
		r[i].on_from = 0;
	for (char *line = nm; line && *line;) {
		char *eol = strchr(line, '\n'), *k;
		unsigned long start;

		if (eol)
			*eol = '\0';
		if (sscanf(line, "%lx", &start) == 1)
			for (size_t i = 0; i < n; i++)
				if (r[i].lo == start) {
					k = strstr(line, key);
					r[i].on_from = k ? strtoull(k + klen, NULL, 10) : 0;
					break;
				}
		line = eol ? eol + 1 : NULL;
	}
	free(nm);
}

/* Densest first: guest RAM is mostly resident, while a huge sparse mapping
 * (a sanitizer's shadow, a reserved hotplug area) would be walked page by
 * page for little. Unknown density keeps the maps order, after the known. */
static int by_density(const void *a, const void *b)
{
	const struct ram_range *x = a, *y = b;
	double dx, dy;

	if (x->on_from == UINT64_MAX || y->on_from == UINT64_MAX)
		return (x->on_from == UINT64_MAX) - (y->on_from == UINT64_MAX);
	dx = (double)x->on_from / (double)(x->hi - x->lo);
	dy = (double)y->on_from / (double)(y->hi - y->lo);
	return (dx < dy) - (dx > dy);
}

int nl_apply_move_pages(int pid, int from, int to, uint64_t bytes, bool yes,
			uint64_t *found, uint64_t *moved)
{
	struct ram_range *r = NULL;
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t want = nl_apply_pages_for(bytes, psz);
	ssize_t n;
	int rc = 0;

	*found = *moved = 0;
	n = ram_ranges(pid, &r);
	if (n < 0)
		return (int)n;
	ram_on_node(pid, from, r, (size_t)n);
	if (n > 1)
		qsort(r, (size_t)n, sizeof(*r), by_density);
	for (ssize_t i = 0; !rc && i < n && *found < want; i++) {
		if (r[i].on_from == 0)
			continue;       /* numa_maps: nothing of it on `from` */
		for (unsigned long a = r[i].lo; !rc && a < r[i].hi && *found < want;)
			rc = move_batch(pid, a, r[i].hi, psz, from, to, yes, want - *found,
					found, moved, &a);
	}
	free(r);
	*found *= (uint64_t)psz;
	*moved *= (uint64_t)psz;
	return rc;
}

int nl_apply_run_move_pages(const struct nl_apply_ctx *c, const struct nl_apply_act *a)
{
	const Numalens__V1__Action *pb = a->pb;
	uint64_t found = 0, moved = 0;
	int rc;

	rc = check_pid(c, a->hint);
	if (rc)
		return rc;
	rc = nl_apply_move_pages(a->hint->pid, pb->from_nodes[0], pb->to_node, pb->bytes, c->yes,
				 &found, &moved);
	if (rc) {
		fprintf(c->out, "        FAILED: move_pages: %s\n", strerror(-rc));
		return rc;
	}
	if (!c->yes)
		fprintf(c->out, "        %llu bytes of it are on node %d now; dry run, not changed\n",
			(unsigned long long)found, pb->from_nodes[0]);
	else
		fprintf(c->out, "        changed: %llu bytes moved from node %d to node %d (%llu found)\n",
			(unsigned long long)moved, pb->from_nodes[0], pb->to_node,
			(unsigned long long)found);
	return 0;
}
