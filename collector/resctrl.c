/* resctrl monitoring per VM: see resctrl.h. */
#include "resctrl.h"
#include "resctrl_priv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sampler.h"

#define PREFIX "numalens-"

const char *nl_resctrl_state_name(enum nl_resctrl_state s)
{
	switch (s) {
	case NL_RESCTRL_MONITORED: return "monitored";
	case NL_RESCTRL_FOREIGN:   return "foreign_group";
	case NL_RESCTRL_NO_RMID:   return "no_rmid";
	case NL_RESCTRL_ERROR:     return "error";
	case NL_RESCTRL_PENDING:   return "pending";
	default:                   return "unknown";
	}
}

/* ---- helpers ---- */

char *nl_resctrl_group_name(const char *vm, const char *uuid, pid_t pid,
			    char *buf, size_t len)
{
	size_t off;
	const char *src = uuid && *uuid ? uuid : vm;
	char tail[24] = "";

	if (len == 0)
		return buf;
	if (!(uuid && *uuid))
		snprintf(tail, sizeof(tail), "-%d", (int)pid);
	off = (size_t)snprintf(buf, len, "%s", PREFIX);
	if (off >= len)
		return buf;
	for (; src && *src && off + strlen(tail) + 1 < len; src++) {
		unsigned char c = (unsigned char)*src;

		buf[off++] = isalnum(c) || c == '_' || c == '.' || c == '-' ?
			     (char)c : '_';
	}
	buf[off] = '\0';
	snprintf(buf + off, len - off, "%s", tail);
	return buf;
}

uint32_t nl_resctrl_parse_features(const char *text)
{
	uint32_t f = 0;
	const char *p = text;

	while (p && *p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		while (n && (p[n - 1] == ' ' || p[n - 1] == '\r'))
			n--;
		if (n == 13 && memcmp(p, "llc_occupancy", 13) == 0)
			f |= NL_RESCTRL_LLC;
		else if (n == 15 && memcmp(p, "mbm_total_bytes", 15) == 0)
			f |= NL_RESCTRL_TOTAL;
		else if (n == 15 && memcmp(p, "mbm_local_bytes", 15) == 0)
			f |= NL_RESCTRL_LOCAL;
		p = e ? e + 1 : NULL;
	}
	return f;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int nl_resctrl_tids_load(struct nl_resctrl_tids *t, const char *path)
{
	char *text = NULL, *p, *end;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	t->n = 0;
	t->loaded = false;
	n = nl_read_file_alloc(path, &text, &cap);
	if (n < 0)
		return (int)n;
	for (p = text; *p; p = end) {
		long v;

		while (*p && !isdigit((unsigned char)*p))
			p++;
		if (!*p)
			break;
		v = strtol(p, &end, 10);
		if (v <= 0 || v > INT32_MAX)
			continue;
		if (t->n == t->cap) {
			size_t ncap = t->cap ? t->cap * 2 : 256;
			pid_t *nv = realloc(t->v, ncap * sizeof(*nv));

			if (!nv) {
				rc = -ENOMEM;
				goto cleanup;
			}
			t->v = nv;
			t->cap = ncap;
		}
		t->v[t->n++] = (pid_t)v;
	}
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), cmp_pid);
	t->loaded = true;
cleanup:
	free(text);
	return rc;
}

bool nl_resctrl_tids_has(const struct nl_resctrl_tids *t, pid_t tid)
{
	return t->n && bsearch(&tid, t->v, t->n, sizeof(*t->v), cmp_pid);
}

void nl_resctrl_tids_free(struct nl_resctrl_tids *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int rpath(const struct nl_resctrl_priv *p, char *buf, size_t len,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int rpath(const struct nl_resctrl_priv *p, char *buf, size_t len,
		 const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s/", p->root), m;

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- the default operations: the real filesystem ---- */

static int sys_mkdir(const char *path, void *arg)
{
	(void)arg;
	return mkdir(path, 0755) < 0 ? -errno : 0;
}

static int sys_rmdir(const char *path, void *arg)
{
	(void)arg;
	return rmdir(path) < 0 ? -errno : 0;
}

/* One TID per write(): the kernel moves the task or fails the write. */
static int sys_write_task(const char *tasks, pid_t tid, void *arg)
{
	char buf[24];
	int fd, n, rc = 0;
	ssize_t w;

	(void)arg;
	fd = open(tasks, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)tid);
	w = write(fd, buf, (size_t)n);
	if (w < 0)
		rc = -errno;
	else if (w != n)
		rc = -EIO;
	close(fd);
	return rc;
}

static uint64_t real_now(void)
{
	return nl_now_ns();
}

struct nl_resctrl_priv *nl_resctrl_priv_new(const struct nl_resctrl_ops *ops,
					    uint64_t (*now_ns)(void))
{
	struct nl_resctrl_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (ops)
		p->ops = *ops;
	else
		p->ops = (struct nl_resctrl_ops){ sys_mkdir, sys_rmdir,
						  sys_write_task, NULL };
	p->now_ns = now_ns ? now_ns : real_now;
	p->lock_fd = -1;
	return p;
}

/* ---- locking, as libvirt does (virresctrl.c): an exclusive flock() on
 * the resctrl root directory around every change ---- */

/* Take the lock for the rest of the cycle. Without `block`, a lock held by
 * someone else skips this cycle's changes (the sampler must not hang on
 * another program). */
static bool lock_take(struct nl_resctrl_priv *p, bool block)
{
	int fd;

	if (p->lock_fd >= 0)
		return true;
	if (p->lock_busy && !block)
		return false;
	fd = open(p->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		nl_complain(&p->c_lock, NL_LOG_WARN, "resctrl: cannot open %s: "
			    "%s", p->root, strerror(errno));
		return false;
	}
	if (flock(fd, LOCK_EX | (block ? 0 : LOCK_NB)) < 0) {
		int err = errno;

		close(fd);
		if (err == EWOULDBLOCK) {
			p->lock_busy = true;
			nl_debug("resctrl: locked by another program; changes "
				 "wait for the next cycle");
		} else {
			nl_complain(&p->c_lock, NL_LOG_WARN, "resctrl: cannot "
				    "lock %s: %s", p->root, strerror(err));
		}
		return false;
	}
	p->lock_fd = fd;
	return true;
}

static void lock_release(struct nl_resctrl_priv *p)
{
	if (p->lock_fd >= 0) {
		close(p->lock_fd);   /* releases the flock */
		p->lock_fd = -1;
	}
}

/* ---- setup ---- */

/* Remove mon_groups/numalens-* left by a previous run. */
static void remove_stale(struct nl_resctrl_priv *p, bool block)
{
	char path[NL_PATH_MAX];
	struct dirent *de;
	DIR *d;

	p->stale_pending = false;
	if (rpath(p, path, sizeof(path), "mon_groups") < 0)
		return;
	d = nl_opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char dir[NL_PATH_MAX];
		int rc;

		bool ours = false;

		if (strncmp(de->d_name, PREFIX, strlen(PREFIX)) != 0)
			continue;
		/* adopted while this removal waited for the lock */
		for (size_t i = 0; i < p->ngroups; i++)
			ours |= p->groups[i].created &&
				strcmp(p->groups[i].name, de->d_name) == 0;
		if (ours)
			continue;
		if (!lock_take(p, block)) {
			p->stale_pending = true;
			break;
		}
		if (rpath(p, dir, sizeof(dir), "mon_groups/%s", de->d_name) < 0)
			continue;
		rc = p->ops.rmdir(dir, p->ops.arg);
		if (rc < 0 && rc != -ENOENT)
			nl_warn("resctrl: cannot remove stale group %s: %s",
				de->d_name, strerror(-rc));
		else
			nl_info("resctrl: removed stale group %s", de->d_name);
	}
	closedir(d);
	lock_release(p);
}

int nl_resctrl_setup(struct nl_resctrl_priv *p)
{
	char path[NL_PATH_MAX], text[512];
	int rc;

	rc = nl_path_sys(p->root, sizeof(p->root), "fs/resctrl");
	if (rc < 0)
		return rc;
	if (rpath(p, path, sizeof(path), "info/L3_MON/mon_features") < 0 ||
	    nl_read_file(path, text, sizeof(text)) < 0) {
		nl_info("resctrl: %s is not mounted or has no L3 monitoring; "
			"nothing to monitor", p->root);
		return 0;
	}
	p->features = nl_resctrl_parse_features(text);
	if (!p->features) {
		nl_info("resctrl: L3 monitoring offers none of llc_occupancy, "
			"mbm_total_bytes, mbm_local_bytes; nothing to monitor");
		return 0;
	}
	p->active = true;
	remove_stale(p, false);
	nl_info("resctrl: monitoring VMs in %s/mon_groups (features%s%s%s)",
		p->root, p->features & NL_RESCTRL_LLC ? " llc_occupancy" : "",
		p->features & NL_RESCTRL_TOTAL ? " mbm_total_bytes" : "",
		p->features & NL_RESCTRL_LOCAL ? " mbm_local_bytes" : "");
	return 0;
}

/* ---- one cycle ---- */

struct cycle {
	struct nl_resctrl_tids root;     /* default control group */
	struct nl_resctrl_tids foreign;  /* other monitoring groups of it */
	int err;                         /* first unexpected error */
};

static void cycle_fail(struct cycle *c, int err)
{
	if (!c->err)
		c->err = err;
}

/* TIDs of the default control group, and of monitoring groups under it
 * that are not ours. The kernel lists a task in the tasks file of its
 * control group (root "tasks" for the default one, which includes its
 * monitoring groups) and of its monitoring group, if any. */
static void load_sets(struct nl_resctrl_priv *p, struct cycle *c)
{
	char path[NL_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc;

	if (c->root.loaded)
		return;
	if (rpath(p, path, sizeof(path), "tasks") == 0) {
		rc = nl_resctrl_tids_load(&c->root, path);
		if (rc < 0) {
			nl_complain(&p->c_read, NL_LOG_WARN, "resctrl: cannot "
				    "read %s: %s", path, strerror(-rc));
			cycle_fail(c, rc);
		}
	}
	c->foreign.loaded = true;
	if (rpath(p, path, sizeof(path), "mon_groups") < 0)
		return;
	d = nl_opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		struct nl_resctrl_tids t = { NULL, 0, 0, false };
		char file[NL_PATH_MAX];

		if (de->d_name[0] == '.' ||
		    strncmp(de->d_name, PREFIX, strlen(PREFIX)) == 0)
			continue;
		if (rpath(p, file, sizeof(file), "mon_groups/%s/tasks",
			  de->d_name) < 0 || nl_resctrl_tids_load(&t, file) < 0) {
			nl_resctrl_tids_free(&t);
			continue;
		}
		for (size_t i = 0; i < t.n; i++) {
			if (c->foreign.n == c->foreign.cap) {
				size_t ncap = c->foreign.cap ?
					      c->foreign.cap * 2 : 64;
				pid_t *nv = realloc(c->foreign.v,
						    ncap * sizeof(*nv));

				if (!nv)
					break;
				c->foreign.v = nv;
				c->foreign.cap = ncap;
			}
			c->foreign.v[c->foreign.n++] = t.v[i];
		}
		nl_resctrl_tids_free(&t);
	}
	closedir(d);
	if (c->foreign.n)
		qsort(c->foreign.v, c->foreign.n, sizeof(pid_t), cmp_pid);
}

static bool task_exists(pid_t tid)
{
	char path[NL_PATH_MAX];
	struct stat sb;

	return nl_path_proc(path, sizeof(path), "%d", (int)tid) == 0 &&
	       stat(path, &sb) == 0;
}

/* Where a thread is: 1 free to move into our group, 0 gone, -1 in some
 * other group (a control group of its own, or a monitoring group not
 * ours). */
static int tid_place(struct nl_resctrl_priv *p, struct cycle *c, pid_t tid)
{
	load_sets(p, c);
	if (nl_resctrl_tids_has(&c->foreign, tid))
		return -1;
	if (nl_resctrl_tids_has(&c->root, tid))
		return 1;
	return task_exists(tid) ? -1 : 0;
}

static struct nl_resctrl_group *group_get(struct nl_resctrl_priv *p,
					  const char *name, const char *vm)
{
	struct nl_resctrl_group *g;

	for (size_t i = 0; i < p->ngroups; i++)
		if (strcmp(p->groups[i].name, name) == 0)
			return &p->groups[i];
	if (p->ngroups == p->cap_groups) {
		size_t ncap = p->cap_groups ? p->cap_groups * 2 : 16;
		struct nl_resctrl_group *ng = realloc(p->groups,
						      ncap * sizeof(*ng));

		if (!ng)
			return NULL;
		p->groups = ng;
		p->cap_groups = ncap;
	}
	g = &p->groups[p->ngroups++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(g->vm, sizeof(g->vm), "%s", vm);
	g->state = NL_RESCTRL_PENDING;
	return g;
}

static void try_create(struct nl_resctrl_priv *p, struct cycle *c,
		       const struct nl_vm *vm, struct nl_resctrl_group *g)
{
	char dir[NL_PATH_MAX];
	uint64_t now = p->now_ns();
	int rc;

	for (size_t i = 0; i < vm->nthreads; i++) {
		if (tid_place(p, c, vm->threads[i].tid) >= 0)
			continue;
		if (!g->warned)
			nl_info("resctrl: VM %s: thread %d is already in another "
				"resctrl group (libvirt <cachetune> or "
				"<monitor>?); the VM is not monitored", vm->name,
				(int)vm->threads[i].tid);
		g->warned = true;
		g->state = NL_RESCTRL_FOREIGN;
		return;
	}
	if (p->exhausted && now < p->retry_at_ns) {
		g->state = NL_RESCTRL_NO_RMID;
		return;
	}
	if (rpath(p, dir, sizeof(dir), "mon_groups/%s", g->name) < 0) {
		g->state = NL_RESCTRL_ERROR;
		return;
	}
	if (!lock_take(p, false)) {
		g->state = NL_RESCTRL_PENDING;
		return;
	}
	p->mkdirs++;
	rc = p->ops.mkdir(dir, p->ops.arg);
	if (rc == 0 || rc == -EEXIST) {
		g->created = true;
		g->state = NL_RESCTRL_MONITORED;
		if (p->exhausted)
			nl_complain_clear(&p->c_mkdir, "resctrl: RMIDs "
					  "available again");
		p->exhausted = false;
		p->backoff_ns = 0;
		nl_info("resctrl: VM %s monitored in mon_groups/%s", vm->name,
			g->name);
	} else if (rc == -ENOSPC || rc == -EBUSY) {
		/* ENOSPC: every RMID in use; EBUSY: the free ones are still
		 * in limbo (their cache lines not yet evicted) */
		p->backoff_ns = p->backoff_ns ? p->backoff_ns * 2 :
				NL_RESCTRL_BACKOFF_MIN_NS;
		if (p->backoff_ns > NL_RESCTRL_BACKOFF_MAX_NS)
			p->backoff_ns = NL_RESCTRL_BACKOFF_MAX_NS;
		p->retry_at_ns = now + p->backoff_ns;
		p->exhausted = true;
		g->state = NL_RESCTRL_NO_RMID;
		nl_complain(&p->c_mkdir, NL_LOG_WARN, "resctrl: no free RMID "
			    "for VM %s (%s); retrying in %llu s", vm->name,
			    strerror(-rc),
			    (unsigned long long)(p->backoff_ns / 1000000000ULL));
	} else {
		g->state = NL_RESCTRL_ERROR;
		nl_complain(&p->c_mkdir, NL_LOG_WARN, "resctrl: cannot create "
			    "%s: %s", dir, strerror(-rc));
		cycle_fail(c, rc);
	}
}

/* Write the VM's threads that are not in the group yet (all of them right
 * after creation; later only new ones: a thread created by one in the group
 * starts in it). */
static void add_tasks(struct nl_resctrl_priv *p, struct cycle *c,
		      const struct nl_vm *vm, struct nl_resctrl_group *g)
{
	struct nl_resctrl_tids in = { NULL, 0, 0, false };
	char tasks[NL_PATH_MAX];
	int rc;

	if (rpath(p, tasks, sizeof(tasks), "mon_groups/%s/tasks", g->name) < 0)
		return;
	rc = nl_resctrl_tids_load(&in, tasks);
	if (rc < 0) {
		if (rc == -ENOENT) {
			/* removed behind our back: create it again */
			g->created = false;
			g->state = NL_RESCTRL_PENDING;
		}
		nl_complain(&p->c_read, NL_LOG_WARN, "resctrl: cannot read %s: "
			    "%s", tasks, strerror(-rc));
		cycle_fail(c, rc);
		goto cleanup;
	}
	for (size_t i = 0; i < vm->nthreads; i++) {
		pid_t tid = vm->threads[i].tid;

		if (nl_resctrl_tids_has(&in, tid) || tid_place(p, c, tid) <= 0)
			continue;
		if (!lock_take(p, false))
			break;
		rc = p->ops.write_task(tasks, tid, p->ops.arg);
		if (rc == 0)
			g->tasks_written++;
		else if (rc != -ESRCH)
			/* EINVAL: moved to another control group meanwhile */
			nl_complain(&p->c_write, NL_LOG_WARN, "resctrl: cannot "
				    "add thread %d of VM %s to %s: %s",
				    (int)tid, vm->name, g->name, strerror(-rc));
	}
cleanup:
	nl_resctrl_tids_free(&in);
}

static int cmp_dom(const void *a, const void *b)
{
	const struct nl_resctrl_dom *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* mon_data/mon_L3_<id>/{llc_occupancy,mbm_total_bytes,mbm_local_bytes};
 * a value the kernel cannot give reads "Unavailable" or "Error" and is left
 * out. */
static void read_data(struct nl_resctrl_priv *p, struct cycle *c,
		      struct nl_resctrl_group *g)
{
	static const struct { const char *file; uint32_t bit; } files[] = {
		{ "llc_occupancy", NL_RESCTRL_LLC },
		{ "mbm_total_bytes", NL_RESCTRL_TOTAL },
		{ "mbm_local_bytes", NL_RESCTRL_LOCAL },
	};
	char path[NL_PATH_MAX];
	struct dirent *de;
	DIR *d;

	g->ndom = 0;
	if (rpath(p, path, sizeof(path), "mon_groups/%s/mon_data", g->name) < 0)
		return;
	d = nl_opendir(path);
	if (!d) {
		nl_complain(&p->c_read, NL_LOG_WARN, "resctrl: cannot read %s: "
			    "%s", path, strerror(errno));
		cycle_fail(c, -errno);
		return;
	}
	while ((de = readdir(d)) != NULL && g->ndom < NL_MAX_L3_DOMAINS) {
		struct nl_resctrl_dom *dm = &g->dom[g->ndom];
		char *end;
		long id;

		if (strncmp(de->d_name, "mon_L3_", 7) != 0)
			continue;
		id = strtol(de->d_name + 7, &end, 10);
		if (end == de->d_name + 7 || *end || id < 0 || id > 0xffff)
			continue;
		memset(dm, 0, sizeof(*dm));
		dm->id = (int)id;
		for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
			char file[NL_PATH_MAX];
			uint64_t v;

			if (!(p->features & files[k].bit) ||
			    rpath(p, file, sizeof(file),
				  "mon_groups/%s/mon_data/%s/%s", g->name,
				  de->d_name, files[k].file) < 0 ||
			    nl_read_u64(file, &v) < 0)
				continue;
			dm->valid |= files[k].bit;
			if (files[k].bit == NL_RESCTRL_LLC)
				dm->llc_occupancy = v;
			else if (files[k].bit == NL_RESCTRL_TOTAL)
				dm->mbm_total = v;
			else
				dm->mbm_local = v;
		}
		g->ndom++;
	}
	closedir(d);
	qsort(g->dom, (size_t)g->ndom, sizeof(g->dom[0]), cmp_dom);
}

/* Remove the groups whose VM is gone (a group whose rmdir must wait stays
 * for the next cycle). */
static void reap(struct nl_resctrl_priv *p, struct cycle *c)
{
	size_t j = 0;

	for (size_t i = 0; i < p->ngroups; i++) {
		struct nl_resctrl_group *g = &p->groups[i];
		bool keep = g->gen == p->gen;

		if (!keep && g->created) {
			char dir[NL_PATH_MAX];
			int rc = -EAGAIN;

			if (rpath(p, dir, sizeof(dir), "mon_groups/%s",
				  g->name) == 0 && lock_take(p, false))
				rc = p->ops.rmdir(dir, p->ops.arg);
			if (rc == 0 || rc == -ENOENT) {
				nl_info("resctrl: VM %s gone; removed "
					"mon_groups/%s", g->vm, g->name);
				/* its RMID comes free (after limbo) */
				p->retry_at_ns = 0;
			} else {
				if (rc != -EAGAIN) {
					nl_complain(&p->c_mkdir, NL_LOG_WARN,
						    "resctrl: cannot remove %s:"
						    " %s", dir, strerror(-rc));
					cycle_fail(c, rc);
				}
				keep = true;   /* try again next cycle */
			}
		}
		if (keep) {
			if (j != i)
				p->groups[j] = *g;
			j++;
		}
	}
	p->ngroups = j;
}

static int cmp_out(const void *a, const void *b)
{
	const struct nl_resctrl_vm *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* This cycle's summary into p->pub (which keeps the last one when there is
 * no memory for the new one). */
static int build_summary(struct nl_resctrl_priv *p)
{
	size_t n = 0;

	if (p->ngroups > p->cap_out) {
		struct nl_resctrl_vm *no = realloc(p->out, p->ngroups *
						   sizeof(*no));

		if (!no)
			return -ENOMEM;
		p->out = no;
		p->cap_out = p->ngroups;
	}
	for (size_t i = 0; i < p->ngroups; i++) {
		const struct nl_resctrl_group *g = &p->groups[i];
		struct nl_resctrl_vm *o;

		if (g->gen != p->gen)
			continue;
		o = &p->out[n++];
		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", g->vm);
		if (g->created)
			snprintf(o->group, sizeof(o->group), "%s", g->name);
		o->state = g->state;
		o->ndom = g->ndom;
		memcpy(o->dom, g->dom, sizeof(o->dom[0]) * (size_t)g->ndom);
	}
	if (n > 1)
		qsort(p->out, n, sizeof(*p->out), cmp_out);
	p->nout = n;
	p->pub.active = p->active;
	p->pub.features = p->features;
	p->pub.rmid_exhausted = p->exhausted;
	p->pub.groups = 0;
	for (size_t i = 0; i < p->ngroups; i++)
		p->pub.groups += p->groups[i].created;
	p->pub.vms = p->out;
	p->pub.nvms = n;
	return 0;
}

static int resctrl_sample(struct nl_state *st, void *priv)
{
	struct nl_resctrl_priv *p = priv;
	struct cycle c;
	int rc;

	if (!p)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	p->gen++;
	p->lock_busy = false;
	if (p->active) {
		if (p->stale_pending)
			remove_stale(p, false);
		for (size_t v = 0; v < st->nvms; v++) {
			const struct nl_vm *vm = st->vms[v];
			struct nl_resctrl_group *g;
			char name[NL_NAME_MAX];

			nl_resctrl_group_name(vm->name, vm->uuid, vm->pid, name,
					      sizeof(name));
			g = group_get(p, name, vm->name);
			if (!g) {
				cycle_fail(&c, -ENOMEM);
				break;
			}
			/* two VMs cannot share a group: the second waits */
			if (g->gen == p->gen)
				continue;
			g->gen = p->gen;
			if (!g->created)
				try_create(p, &c, vm, g);
			if (g->created)
				add_tasks(p, &c, vm, g);
			if (g->created)
				read_data(p, &c, g);
			else
				g->ndom = 0;
		}
		reap(p, &c);
		lock_release(p);
	}
	rc = build_summary(p);
	nl_resctrl_tids_free(&c.root);
	nl_resctrl_tids_free(&c.foreign);
	if (rc < 0)
		return rc;
	if (!c.err)
		nl_complain_clear(&p->c_read, "resctrl: reading works again");
	return c.err;
}

static void resctrl_free(struct nl_state *st, void *priv);

static int resctrl_init(struct nl_state *st, void **priv)
{
	struct nl_resctrl_priv *p = nl_resctrl_priv_new(NULL, NULL);
	int rc;

	*priv = NULL;
	if (!p)
		return -ENOMEM;
	rc = nl_resctrl_setup(p);
	if (rc < 0) {
		resctrl_free(st, p);
		return rc;
	}
	p->pub.active = p->active;
	p->pub.features = p->features;
	*priv = p;
	return 0;
}

/* The snapshot gets its own copy of the VM rows. */
static int resctrl_publish(const struct nl_state *st, void *priv,
			   struct nl_snapshot *snap)
{
	const struct nl_resctrl_priv *p = priv;

	(void)st;
	snap->resctrl = p->pub;
	snap->resctrl.vms = NULL;
	if (!p->pub.nvms)
		return 0;
	snap->resctrl.vms = malloc(p->pub.nvms * sizeof(*snap->resctrl.vms));
	if (!snap->resctrl.vms)
		return -ENOMEM;
	memcpy(snap->resctrl.vms, p->pub.vms,
	       p->pub.nvms * sizeof(*snap->resctrl.vms));
	return 0;
}

static void resctrl_free(struct nl_state *st, void *priv)
{
	struct nl_resctrl_priv *p = priv;

	(void)st;
	if (!p)
		return;
	/* the daemon stops: our groups go, their threads return to the
	 * default group; wait for the lock if need be */
	for (size_t i = 0; i < p->ngroups; i++) {
		char dir[NL_PATH_MAX];
		int rc;

		if (!p->groups[i].created ||
		    rpath(p, dir, sizeof(dir), "mon_groups/%s",
			  p->groups[i].name) < 0 || !lock_take(p, true))
			continue;
		rc = p->ops.rmdir(dir, p->ops.arg);
		if (rc < 0 && rc != -ENOENT)
			nl_warn("resctrl: cannot remove %s: %s", dir,
				strerror(-rc));
	}
	lock_release(p);
	free(p->groups);
	free(p->out);
	free(p);
}

const struct nl_source nl_source_resctrl = {
	.name = "resctrl",
	.default_enabled = false,
	.required = false,
	.init = resctrl_init,
	.sample = resctrl_sample,
	.publish = resctrl_publish,
	.free = resctrl_free,
};
