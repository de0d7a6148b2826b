/* Per-thread perf counters: see perf.h. */
#include "perf.h"
#include "perf_priv.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <perfmon/pfmlib_perf_event.h>

#include "log.h"
#include "paths.h"

/* ---- event catalogs ----
 *
 * One table per core PMU (libpfm4 name); the generic table, built on the
 * kernel's generic events, is used when no model-specific one matches.
 * Per-model tables are added above the generic one. */

struct perf_catalog_event {
	const char *name;
	const char *pfm;
};

struct perf_catalog {
	const char *pmu;                 /* libpfm4 core PMU name; NULL: any */
	const struct perf_catalog_event *events;
	size_t nevents;
};

static const struct perf_catalog_event generic_events[] = {
	{ "cycles",           "perf::PERF_COUNT_HW_CPU_CYCLES" },
	{ "instructions",     "perf::PERF_COUNT_HW_INSTRUCTIONS" },
	{ "llc_misses",       "perf::PERF_COUNT_HW_CACHE_MISSES" },
	{ "task_clock",       "perf::PERF_COUNT_SW_TASK_CLOCK" },
	{ "context_switches", "perf::PERF_COUNT_SW_CONTEXT_SWITCHES" },
	{ "cpu_migrations",   "perf::PERF_COUNT_SW_CPU_MIGRATIONS" },
	{ "page_faults",      "perf::PERF_COUNT_SW_PAGE_FAULTS" },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct perf_catalog catalogs[] = {
	{ NULL, generic_events, ARRAY_LEN(generic_events) },
};

/* ---- encoding ---- */

static int pfm_to_errno(int pfm_rc)
{
	switch (pfm_rc) {
	case PFM_ERR_NOTFOUND: return -ENOENT;
	case PFM_ERR_NOTSUPP:  return -EOPNOTSUPP;
	case PFM_ERR_NOMEM:    return -ENOMEM;
	case PFM_ERR_NOINIT:   return -ENODEV;
	default:               return -EINVAL;
	}
}

/* libpfm4 keeps its own "initialized" flag, so this is cheap to repeat. */
static int pfm_init(void)
{
	int rc = pfm_initialize();

	return rc == PFM_SUCCESS ? 0 : pfm_to_errno(rc);
}

static int pfm_encode(const char *str, struct perf_event_attr *attr)
{
	pfm_perf_encode_arg_t arg;
	int rc;

	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	memset(&arg, 0, sizeof(arg));
	arg.attr = attr;
	arg.size = sizeof(arg);
	rc = pfm_get_os_event_encoding(str, PFM_PLM0 | PFM_PLM3,
				       PFM_OS_PERF_EVENT_EXT, &arg);
	return rc == PFM_SUCCESS ? 0 : pfm_to_errno(rc);
}

/* libpfm4 sets exclude_guest unless the string carries its "mg" modifier,
 * and "mg" alone sets exclude_host: both "mg" and "mh" are needed to count
 * a vCPU thread in guest and host mode ("h" is exclude_hv, unrelated).
 * Events that take no modifiers reject them, so fall back to the plain
 * encoding and clear exclude_guest by hand. */
int nl_perf_encode(const char *pfm, struct perf_event_attr *attr,
		   bool *hardware)
{
	struct perf_event_attr tmp;
	char buf[256];
	bool hw;
	int rc;

	if (!pfm || !*pfm || !attr)
		return -EINVAL;
	rc = pfm_init();
	if (rc < 0)
		return rc;
	rc = pfm_encode(pfm, attr);
	if (rc < 0)
		return rc;
	hw = attr->type != PERF_TYPE_SOFTWARE;
	if (hw) {
		int n = snprintf(buf, sizeof(buf), "%s:mg=1:mh=1", pfm);

		if (n > 0 && (size_t)n < sizeof(buf) &&
		    pfm_encode(buf, &tmp) == 0)
			*attr = tmp;
		attr->exclude_guest = 0;
		assert(attr->exclude_guest == 0);
	}
	if (hardware)
		*hardware = hw;
	return 0;
}

/* ---- catalog / --perf.events ---- */

static int add_event(struct nl_state *st, const char *name, size_t nlen,
		     const char *pfm, size_t plen)
{
	struct nl_event_desc *e;

	if (nlen == 0 || plen == 0)
		return -EINVAL;
	if (nlen >= sizeof(e->name) || plen >= sizeof(e->pfm))
		return -ENAMETOOLONG;
	if (st->nevents >= NL_MAX_EVENTS)
		return -E2BIG;
	for (int i = 0; i < st->nevents; i++)
		if (strlen(st->events[i].name) == nlen &&
		    memcmp(st->events[i].name, name, nlen) == 0)
			return -EEXIST;
	e = &st->events[st->nevents++];
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, nlen);
	memcpy(e->pfm, pfm, plen);
	e->supported = -1;
	return 0;
}

static const char *skip_space(const char *s, const char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	return s;
}

static const char *trim_end(const char *s, const char *end)
{
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	return end;
}

int nl_perf_catalog_load(struct nl_state *st, const char *spec,
			 const char *pmu)
{
	const char *p;
	int rc;

	st->nevents = 0;
	if (!spec) {
		const struct perf_catalog *c = &catalogs[ARRAY_LEN(catalogs) - 1];

		for (size_t i = 0; i < ARRAY_LEN(catalogs); i++) {
			if (catalogs[i].pmu && pmu &&
			    strcmp(catalogs[i].pmu, pmu) == 0) {
				c = &catalogs[i];
				break;
			}
		}
		for (size_t i = 0; i < c->nevents; i++) {
			rc = add_event(st, c->events[i].name,
				       strlen(c->events[i].name),
				       c->events[i].pfm,
				       strlen(c->events[i].pfm));
			if (rc < 0)
				return rc;
		}
		return 0;
	}

	p = spec;
	for (;;) {
		const char *end = strchr(p, ',');
		const char *eq, *name, *name_end, *val, *val_end;

		if (!end)
			end = p + strlen(p);
		name = skip_space(p, end);
		eq = memchr(name, '=', (size_t)(end - name));
		if (!eq) {
			nl_err("perf: --perf.events entry \"%.*s\" is not "
			       "name=libpfm4-event", (int)(end - p), p);
			st->nevents = 0;
			return -EINVAL;
		}
		name_end = trim_end(name, eq);
		val = skip_space(eq + 1, end);
		val_end = trim_end(val, end);
		rc = add_event(st, name, (size_t)(name_end - name), val,
			       (size_t)(val_end - val));
		if (rc < 0) {
			nl_err("perf: --perf.events entry \"%.*s\": %s",
			       (int)(end - p), p,
			       rc == -E2BIG ? "too many events" :
			       rc == -EEXIST ? "duplicate name" :
			       rc == -ENAMETOOLONG ? "name or event too long" :
			       "empty name or event");
			st->nevents = 0;
			return rc == -E2BIG ? -E2BIG : -EINVAL;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	return 0;
}

/* ---- host identification ---- */

void nl_perf_cpu_model(char *buf, size_t len)
{
	char path[NL_PATH_MAX];
	char *text = NULL, *line, *save = NULL;
	char vendor[64] = "", family[32] = "", model[32] = "";
	size_t cap = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (nl_path_proc(path, sizeof(path), "cpuinfo") < 0 ||
	    nl_read_file_alloc(path, &text, &cap) < 0)
		goto cleanup;
	/* the first processor block is enough: all CPUs are one model */
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		char *val;

		if (!colon)
			continue;
		*colon = '\0';
		nl_rstrip(line);
		val = colon + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		nl_rstrip(val);
		if (strcmp(line, "processor") == 0 && vendor[0])
			break;
		if (strcmp(line, "vendor_id") == 0 ||
		    strcmp(line, "CPU implementer") == 0)
			snprintf(vendor, sizeof(vendor), "%s", val);
		else if (strcmp(line, "cpu family") == 0 ||
			 strcmp(line, "CPU architecture") == 0)
			snprintf(family, sizeof(family), "%s", val);
		else if (strcmp(line, "model") == 0 ||
			 strcmp(line, "CPU part") == 0)
			snprintf(model, sizeof(model), "%s", val);
	}
	if (vendor[0])
		snprintf(buf, len, "%s %s/%s", vendor, family, model);
cleanup:
	free(text);
}

/* libpfm4 detects a core PMU from CPUID even in a guest whose kernel has no
 * PMU driver, so the kernel's own list decides whether one is active. */
static bool kernel_has_core_pmu(void)
{
	char path[NL_PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (nl_path_sys(path, sizeof(path), "bus/event_source/devices") < 0)
		return false;
	d = nl_opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		found = strcmp(de->d_name, "cpu") == 0 ||
			strcmp(de->d_name, "cpu_core") == 0 ||
			strcmp(de->d_name, "cpu_atom") == 0 ||
			strncmp(de->d_name, "armv", 4) == 0;
	}
	closedir(d);
	return found;
}

void nl_perf_pmu_name(char *buf, size_t len)
{
	pfm_pmu_t i;
	bool have = false;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (pfm_init() < 0 || !kernel_has_core_pmu())
		return;
	/* prefer the architecture default; else the first core PMU */
	pfm_for_all_pmus(i) {
		pfm_pmu_info_t info;

		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (pfm_get_pmu_info(i, &info) != PFM_SUCCESS ||
		    !info.is_present || info.type != PFM_PMU_TYPE_CORE ||
		    !info.name)
			continue;
		if (!have || info.is_dfl) {
			snprintf(buf, len, "%s", info.name);
			have = true;
			if (info.is_dfl)
				break;
		}
	}
}

/* ---- opening groups ---- */

static int sys_perf_event_open(struct perf_event_attr *attr, pid_t tid,
			       int cpu, int group_fd, unsigned long flags)
{
	return (int)syscall(__NR_perf_event_open, attr, tid, cpu, group_fd,
			    flags);
}

static int do_open(struct nl_perf_priv *p, int ev, pid_t tid, int group_fd)
{
	p->open_attempts++;
	p->event_open_attempts[ev]++;
	if (p->open_fn)
		return p->open_fn(&p->attr[ev], tid, -1, group_fd,
				  PERF_FLAG_FD_CLOEXEC, p->open_arg);
	return sys_perf_event_open(&p->attr[ev], tid, -1, group_fd,
				   PERF_FLAG_FD_CLOEXEC);
}

/* errno values of perf_event_open() that say "this event cannot be counted
 * here" rather than "this thread" or "right now". */
static bool event_unsupported_errno(int err)
{
	switch (err) {
	case ENOENT: case EOPNOTSUPP: case ENXIO: case EACCES: case EINVAL:
	case E2BIG: case ENODEV:
		return true;
	default:
		return false;
	}
}

static void group_init(struct nl_perf_group *g)
{
	memset(g, 0, sizeof(*g));
	for (int i = 0; i < NL_MAX_EVENTS; i++)
		g->fd[i] = -1;
}

static void group_close(struct nl_perf_priv *p, struct nl_perf_group *g)
{
	/* members before the leader */
	for (int i = g->nfds - 1; i >= 0; i--) {
		if (g->fd[i] >= 0) {
			close(g->fd[i]);
			g->fd[i] = -1;
			p->nfds--;
		}
	}
	group_init(g);
}

static void mark_unsupported(struct nl_state *st, int ev, int err,
			     bool alone_ok)
{
	struct nl_event_desc *e = &st->events[ev];

	e->supported = 0;
	e->err = -err;
	if (alone_ok)
		nl_info("perf: event %s (%s) opens alone but not in its "
			"group (%s); not counted", e->name, e->pfm,
			strerror(err));
	else
		nl_info("perf: event %s (%s) is not supported on this host "
			"(%s); not counted", e->name, e->pfm, strerror(err));
}

/* Open the group of `kind` events for tid, dropping (for good) events the
 * host cannot count. Return 0 (possibly with an empty group) or -errno:
 * -ESRCH thread gone, -EMFILE/-ENFILE out of fds, other: try again later. */
static int group_open(struct nl_perf_priv *p, struct nl_state *st, pid_t tid,
		      enum nl_perf_kind kind, struct nl_perf_group *g)
{
	for (;;) {
		int failed = -1, err = 0;
		bool was_leader;

		group_init(g);
		for (int i = 0; i < st->nevents; i++) {
			const struct nl_event_desc *e = &st->events[i];
			int leader = g->nfds ? g->fd[0] : -1;
			int fd;

			if (e->supported == 0 ||
			    e->hardware != (kind == NL_PERF_HW))
				continue;
			fd = do_open(p, i, tid, leader);
			if (fd < 0) {
				failed = i;
				err = errno;
				break;
			}
			g->fd[g->nfds] = fd;
			g->ev[g->nfds] = i;
			g->nfds++;
			p->nfds++;
			if (ioctl(fd, PERF_EVENT_IOC_ID, &g->id[g->nfds - 1]) < 0) {
				err = errno;
				group_close(p, g);
				return -err;
			}
		}
		if (failed < 0) {
			for (int k = 0; k < g->nfds; k++)
				st->events[g->ev[k]].supported = 1;
			return 0;
		}
		was_leader = g->nfds == 0;
		group_close(p, g);
		if (!event_unsupported_errno(err))
			return -err;
		/* A failing leader failed alone already; a failing member is
		 * tried alone to tell its own fault from the group's. */
		if (!was_leader) {
			int fd = do_open(p, failed, tid, -1);

			if (fd >= 0) {
				close(fd);
				mark_unsupported(st, failed, err, true);
				continue;
			}
			if (!event_unsupported_errno(errno))
				return -errno;
			err = errno;
		}
		mark_unsupported(st, failed, err, false);
	}
}

/* Raise the soft fd limit to the hard one, once. True if it went up. */
static bool raise_nofile(struct nl_perf_priv *p)
{
	struct rlimit rl;

	if (p->rlimit_raised)
		return false;
	p->rlimit_raised = true;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return false;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return false;
	nl_info("perf: raised the open-file limit to %llu",
		(unsigned long long)rl.rlim_cur);
	return true;
}

static int thread_open(struct nl_perf_priv *p, struct nl_state *st,
		       pid_t tid, struct nl_perf_thread **out)
{
	struct nl_perf_thread *t = NULL;
	int rc = 0;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->tid = tid;
	for (int k = 0; k < NL_PERF_NKINDS; k++)
		group_init(&t->grp[k]);
	for (int k = 0; k < NL_PERF_NKINDS; k++) {
		rc = group_open(p, st, tid, (enum nl_perf_kind)k, &t->grp[k]);
		if ((rc == -EMFILE || rc == -ENFILE) && raise_nofile(p))
			rc = group_open(p, st, tid, (enum nl_perf_kind)k,
					&t->grp[k]);
		if (rc < 0)
			goto cleanup;
	}
	*out = t;
	t = NULL;
cleanup:
	if (t) {
		for (int k = 0; k < NL_PERF_NKINDS; k++)
			group_close(p, &t->grp[k]);
		free(t);
	}
	return rc;
}

static void thread_free(struct nl_perf_priv *p, struct nl_perf_thread *t)
{
	if (!t)
		return;
	for (int k = 0; k < NL_PERF_NKINDS; k++)
		group_close(p, &t->grp[k]);
	free(t);
}

/* ---- reading ---- */

uint64_t nl_perf_scale_delta(uint64_t raw_delta, uint64_t enabled_delta,
			     uint64_t running_delta)
{
	unsigned __int128 v;

	if (running_delta == 0)
		return 0;
	if (running_delta == enabled_delta)
		return raw_delta;
	v = (unsigned __int128)raw_delta * enabled_delta + running_delta / 2;
	v /= running_delta;
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

int nl_perf_parse_read(const uint64_t *buf, size_t len,
		       struct nl_perf_read *out)
{
	size_t words = len / sizeof(uint64_t);

	if (len % sizeof(uint64_t) || words < 3)
		return -EINVAL;
	out->nr = buf[0];
	if (out->nr > NL_MAX_EVENTS)
		return -E2BIG;
	if (words != 3 + 2 * out->nr)
		return -EINVAL;
	out->enabled = buf[1];
	out->running = buf[2];
	for (uint64_t i = 0; i < out->nr; i++) {
		out->value[i] = buf[3 + 2 * i];
		out->id[i] = buf[4 + 2 * i];
	}
	return 0;
}

static uint64_t delta(uint64_t now, uint64_t prev)
{
	return now >= prev ? now - prev : 0;
}

double nl_perf_group_update(struct nl_perf_group *g,
			    const struct nl_perf_read *r, uint64_t *events,
			    uint32_t *valid)
{
	uint64_t ed = delta(r->enabled, g->prev_enabled);
	uint64_t rd = delta(r->running, g->prev_running);

	for (int k = 0; k < g->nfds; k++) {
		int ev = g->ev[k];

		*valid |= 1u << ev;
		/* the kernel lists members in group order; the id makes sure */
		for (uint64_t j = 0; j < r->nr; j++) {
			uint64_t i = ((uint64_t)k + j) % r->nr;

			if (r->id[i] != g->id[k])
				continue;
			/* Nothing ran in the window: add nothing rather
			 * than a spike later. */
			if (rd)
				events[ev] += nl_perf_scale_delta(
					delta(r->value[i], g->prev[k]), ed, rd);
			g->prev[k] = r->value[i];
			break;
		}
	}
	g->prev_enabled = r->enabled;
	g->prev_running = r->running;
	if (rd == 0 || ed == 0)
		return NAN;
	return (double)rd / (double)ed;
}

/* Read both groups of pt into t. */
static void thread_read(struct nl_perf_priv *p, struct nl_perf_thread *pt,
			struct nl_thread *t)
{
	uint64_t buf[3 + 2 * NL_MAX_EVENTS];
	struct nl_perf_read r;
	uint32_t valid = 0;
	bool counted[NL_PERF_NKINDS] = { false, false };
	double hw_ratio = NAN;

	for (int k = 0; k < NL_PERF_NKINDS; k++) {
		struct nl_perf_group *g = &pt->grp[k];
		ssize_t n;
		double ratio;

		if (g->nfds == 0)
			continue;
		n = read(g->fd[0], buf, sizeof(buf));
		if (n < 0 || nl_perf_parse_read(buf, (size_t)n, &r) < 0 ||
		    r.nr != (uint64_t)g->nfds) {
			nl_complain(&p->c_read, NL_LOG_WARN,
				    "perf: cannot read counters of thread %d: "
				    "%s", (int)pt->tid,
				    n < 0 ? strerror(errno) : "short read");
			continue;
		}
		ratio = nl_perf_group_update(g, &r, t->events, &valid);
		counted[k] = true;
		if (k == NL_PERF_HW)
			hw_ratio = ratio;
	}
	/* Bits stay set: events[] keeps its cumulative value through a failed
	 * read, and role sums and retirement only add valid events. */
	t->events_valid |= valid;
	if (counted[NL_PERF_HW])
		t->scaling_ratio = hw_ratio;
	else
		t->scaling_ratio = counted[NL_PERF_SW] ? 1.0 : NAN;
}

/* ---- the TID table ---- */

/* Index of tid in the sorted table, or where it would go (*found false). */
static size_t table_find(const struct nl_perf_priv *p, pid_t tid, bool *found)
{
	size_t lo = 0, hi = p->nthreads;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->threads[mid]->tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < p->nthreads && p->threads[lo]->tid == tid;
	return lo;
}

static int table_insert(struct nl_perf_priv *p, size_t pos,
			struct nl_perf_thread *t)
{
	if (p->nthreads == p->cap_threads) {
		size_t cap = p->cap_threads ? p->cap_threads * 2 : 64;
		struct nl_perf_thread **n = realloc(p->threads,
						    cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->threads = n;
		p->cap_threads = cap;
	}
	memmove(&p->threads[pos + 1], &p->threads[pos],
		(p->nthreads - pos) * sizeof(p->threads[0]));
	p->threads[pos] = t;
	p->nthreads++;
	return 0;
}

/* Close the groups of threads not seen this cycle. */
static void table_gc(struct nl_perf_priv *p)
{
	size_t j = 0;

	for (size_t i = 0; i < p->nthreads; i++) {
		if (p->threads[i]->gen == p->gen)
			p->threads[j++] = p->threads[i];
		else
			thread_free(p, p->threads[i]);
	}
	p->nthreads = j;
}

/* ---- the source ---- */

int nl_perf_source_init(struct nl_state *st, void **priv)
{
	struct nl_perf_priv *p = NULL;
	const char *spec = st->cfg ? st->cfg->events : NULL;
	int rc;

	*priv = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = pfm_init();
	if (rc < 0) {
		nl_err("perf: cannot initialize libpfm4: %s", strerror(-rc));
		goto cleanup;
	}
	nl_perf_pmu_name(st->pmu_name, sizeof(st->pmu_name));
	nl_perf_cpu_model(st->cpu_model, sizeof(st->cpu_model));
	rc = nl_perf_catalog_load(st, spec, st->pmu_name);
	if (rc < 0)
		goto cleanup;
	for (int i = 0; i < st->nevents; i++) {
		struct nl_event_desc *e = &st->events[i];
		struct perf_event_attr *a = &p->attr[i];
		bool hw = true;
		int erc = nl_perf_encode(e->pfm, a, &hw);

		/* what libpfm4 cannot encode belongs to some other CPU's
		 * PMU: software events are always known */
		e->hardware = hw;
		if (erc < 0) {
			e->supported = 0;
			e->err = erc;
			nl_info("perf: event %s (%s) cannot be encoded here "
				"(%s); not counted", e->name, e->pfm,
				strerror(-erc));
			continue;
		}
		a->read_format = PERF_FORMAT_GROUP |
				 PERF_FORMAT_TOTAL_TIME_ENABLED |
				 PERF_FORMAT_TOTAL_TIME_RUNNING |
				 PERF_FORMAT_ID;
		a->inherit = 0;
		a->disabled = 0;
	}
	nl_info("perf: %d events, core PMU \"%s\", CPU \"%s\"", st->nevents,
		st->pmu_name, st->cpu_model);
	*priv = p;
	p = NULL;
	rc = 0;
cleanup:
	free(p);
	return rc;
}

int nl_perf_source_sample(struct nl_state *st, void *priv)
{
	struct nl_perf_priv *p = priv;
	bool stop_opening = false, open_failed = false;
	int rc = 0;

	if (!p)
		return -EINVAL;
	p->gen++;
	for (size_t v = 0; v < st->nvms; v++) {
		struct nl_vm *vm = st->vms[v];

		for (size_t k = 0; k < vm->nthreads; k++) {
			struct nl_thread *t = &vm->threads[k];
			struct nl_perf_thread *pt = NULL;
			bool found;
			size_t pos = table_find(p, t->tid, &found);
			int orc;

			if (found) {
				pt = p->threads[pos];
			} else if (!stop_opening) {
				orc = thread_open(p, st, t->tid, &pt);
				if (orc == -EMFILE || orc == -ENFILE) {
					nl_complain(&p->c_emfile, NL_LOG_WARN,
						    "perf: out of file "
						    "descriptors (%llu perf "
						    "fds open); some threads "
						    "are not counted",
						    (unsigned long long)p->nfds);
					stop_opening = true;
				} else if (orc < 0 && orc != -ESRCH) {
					nl_complain(&p->c_open, NL_LOG_WARN,
						    "perf: cannot open counters"
						    " for thread %d: %s",
						    (int)t->tid,
						    strerror(-orc));
					open_failed = true;
					if (orc == -ENOMEM)
						rc = orc;
				}
				if (pt && table_insert(p, pos, pt) < 0) {
					thread_free(p, pt);
					pt = NULL;
					rc = -ENOMEM;
				}
			}
			if (!pt) {
				/* not counted this window (ESRCH: it vanished
				 * since discovery); events[] keeps its value */
				t->scaling_ratio = NAN;
				continue;
			}
			/* the same TID listed twice: count it once */
			if (pt->gen == p->gen)
				continue;
			pt->gen = p->gen;
			thread_read(p, pt, t);
		}
	}
	table_gc(p);
	if (!stop_opening)
		nl_complain_clear(&p->c_emfile, "perf: file descriptors "
				  "available again");
	if (!open_failed)
		nl_complain_clear(&p->c_open, "perf: opening counters works "
				  "again");
	st->perf_fds = p->nfds;
	return rc;
}

void nl_perf_source_free(struct nl_state *st, void *priv)
{
	struct nl_perf_priv *p = priv;

	if (!p)
		return;
	for (size_t i = 0; i < p->nthreads; i++)
		thread_free(p, p->threads[i]);
	free(p->threads);
	if (st)
		st->perf_fds = 0;
	free(p);
}
