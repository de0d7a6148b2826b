/* The perf source: per-thread perf groups opened, read and closed as
 * threads come and go (see perf.h). Which events and groups: perf_plan.c. */
#include "perf.h"
#include "perf_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

/* ---- opening groups ---- */

int nl_perf_event_open(struct perf_event_attr *attr, pid_t tid, int cpu,
		       int group_fd, unsigned long flags)
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
	return nl_perf_event_open(&p->attr[ev], tid, -1, group_fd,
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

static void mark_unsupported(struct nl_perf_info *pi, int ev, int err,
			     bool alone_ok)
{
	struct nl_event_desc *e = &pi->events[ev];

	e->supported = 0;
	e->err = -err;
	if (alone_ok)
		nl_info("perf: event %s (%s) opens alone but not in a group, "
			"and no group is left for it (%s); not counted",
			e->name, e->pfm, strerror(err));
	else
		nl_info("perf: event %s (%s) is not supported on this host "
			"(%s); not counted", e->name, e->pfm, strerror(err));
}

/* Names of the events of plan group gi, for messages. */
static void group_names(const struct nl_perf_priv *p,
			const struct nl_perf_info *pi, int gi, char *buf,
			size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int j = 0; j < p->plan.nev[gi] && off < len; j++) {
		int n = snprintf(buf + off, len - off, "%s%s", j ? "," : "",
				 pi->events[p->plan.ev[gi][j]].name);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* Open plan group gi for tid into g, dropping (for good) events the host
 * cannot count. Return 0 (possibly with an empty group) or -errno:
 * -EAGAIN the plan was split (reopen with the new plan), -ESRCH thread
 * gone, -EMFILE/-ENFILE out of fds, other: try again later. */
static int group_open(struct nl_perf_priv *p, struct nl_perf_info *pi, pid_t tid,
		      int gi, struct nl_perf_group *g)
{
	for (;;) {
		int failed = -1, failed_pos = -1, err = 0;
		bool was_leader;

		group_init(g);
		for (int j = 0; j < p->plan.nev[gi]; j++) {
			int i = p->plan.ev[gi][j];
			int leader = g->nfds ? g->fd[0] : -1;
			int fd;

			if (pi->events[i].supported == 0)
				continue;
			fd = do_open(p, i, tid, leader);
			if (fd < 0) {
				failed = i;
				failed_pos = j;
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
				pi->events[g->ev[k]].supported = 1;
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
				char names[256];

				close(fd);
				/* it counts, just not with the others (a
				 * group too large for the PMU, or events of
				 * different PMUs): it and the rest of the
				 * group go to a group of their own */
				group_names(p, pi, gi, names, sizeof(names));
				if (nl_perf_plan_split(&p->plan, pi->events,
						       pi->nevents, gi,
						       failed_pos) == 0) {
					nl_info("perf: event %s does not fit in "
						"a group with the events before "
						"it in {%s} (%s): group split",
						pi->events[failed].name, names,
						strerror(err));
					nl_perf_plan_publish(&p->plan, pi);
					return -EAGAIN;
				}
				mark_unsupported(pi, failed, err, true);
				continue;
			}
			if (!event_unsupported_errno(errno))
				return -errno;
			err = errno;
		}
		mark_unsupported(pi, failed, err, false);
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

static void thread_free(struct nl_perf_priv *p, struct nl_perf_thread *t)
{
	if (!t)
		return;
	for (int k = 0; k < t->ngroups; k++)
		group_close(p, &t->grp[k]);
	free(t);
}

/* Open every plan group for tid. A plan split while opening starts over
 * with the new plan (at most once per event). */
static int thread_open(struct nl_perf_priv *p, struct nl_perf_info *pi,
		       pid_t tid, struct nl_perf_thread **out)
{
	struct nl_perf_thread *t = NULL;
	int rc = 0;

	*out = NULL;
	for (int attempt = 0; attempt <= NL_MAX_EVENTS; attempt++) {
		int n = p->plan.ngroups;

		t = calloc(1, sizeof(*t) + (size_t)n * sizeof(t->grp[0]));
		if (!t)
			return -ENOMEM;
		t->tid = tid;
		t->plan_gen = p->plan.gen;
		t->ngroups = n;
		for (int k = 0; k < n; k++)
			group_init(&t->grp[k]);
		for (int k = 0; k < n; k++) {
			rc = group_open(p, pi, tid, k, &t->grp[k]);
			if ((rc == -EMFILE || rc == -ENFILE) && raise_nofile(p))
				rc = group_open(p, pi, tid, k, &t->grp[k]);
			if (rc < 0)
				break;
		}
		if (rc == 0) {
			*out = t;
			return 0;
		}
		thread_free(p, t);
		t = NULL;
		if (rc != -EAGAIN)
			return rc;
	}
	return -ELOOP;
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

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

double nl_perf_group_update(struct nl_perf_group *g,
			    const struct nl_perf_read *r, uint64_t *events,
			    uint64_t *win, uint32_t *valid)
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
			if (rd) {
				uint64_t d = nl_perf_scale_delta(
					delta(r->value[i], g->prev[k]), ed, rd);

				events[ev] += d;
				win[ev] = sat_add(win[ev], d);
			}
			g->prev[k] = r->value[i];
			break;
		}
	}
	g->prev_enabled = r->enabled;
	g->prev_running = r->running;
	if (ed == 0)
		return NAN;
	return rd >= ed ? 1.0 : (double)rd / (double)ed;
}

/* Read every group of pt into t. Returns how many groups were enabled but
 * never on the PMU while the thread ran (bit per hardware group). */
static uint32_t thread_read(struct nl_perf_priv *p, struct nl_perf_thread *pt,
			    struct nl_thread *t)
{
	uint64_t buf[3 + 2 * NL_MAX_EVENTS];
	struct nl_perf_read r;
	uint32_t valid = 0, starved = 0;
	bool hw_read = false, sw_read = false;
	double hw_min = NAN;

	for (int k = 0; k < pt->ngroups; k++) {
		struct nl_perf_group *g = &pt->grp[k];
		ssize_t n;
		double ratio;

		if (g->nfds == 0)
			continue;
		n = read(g->fd[0], buf, sizeof(buf));
		p->group_reads++;
		if (n < 0 || nl_perf_parse_read(buf, (size_t)n, &r) < 0 ||
		    r.nr != (uint64_t)g->nfds) {
			nl_complain(&p->c_read, NL_LOG_WARN,
				    "perf: cannot read counters of thread %d: "
				    "%s", (int)pt->tid,
				    n < 0 ? strerror(errno) : "short read");
			continue;
		}
		ratio = nl_perf_group_update(g, &r, t->events, t->win_events,
					     &valid);
		if (k < NL_MAX_GROUPS)
			t->group_scaling[k] = ratio;
		if (k < p->plan.ngroups && p->plan.hardware[k]) {
			hw_read = true;
			if (ratio == 0)
				starved |= 1u << k;
			if (!isnan(ratio) && (isnan(hw_min) || ratio < hw_min))
				hw_min = ratio;
		} else {
			sw_read = true;
		}
	}
	/* Bits stay set: events[] keeps its cumulative value through a failed
	 * read, and role sums and retirement only add valid events. */
	t->events_valid |= valid;
	t->win_valid = valid;
	if (hw_read)
		t->scaling_ratio = hw_min;
	else
		t->scaling_ratio = sw_read ? 1.0 : NAN;
	return starved;
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

static int perf_init(struct nl_state *st, void **priv)
{
	struct nl_perf_info *pi = &st->perf;
	struct nl_perf_priv *p = NULL;
	struct nl_cpuid id;
	int rc, id_err, nhw = 0;

	*priv = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = nl_perf_pfm_init();
	if (rc < 0) {
		nl_err("perf: cannot initialize libpfm4: %s", strerror(-rc));
		goto cleanup;
	}
	p->catalog = nl_perf_host_catalog(&id, &id_err, &p->native);
	nl_perf_pmu_name(pi->pmu_name, sizeof(pi->pmu_name));
	nl_perf_cpu_model(pi->cpu_model, sizeof(pi->cpu_model));
	rc = nl_perf_setup_events(pi, p, st->cfg, p->catalog);
	if (rc < 0)
		goto cleanup;
	for (int g = 0; g < p->plan.ngroups; g++)
		nhw += p->plan.hardware[g];
	nl_info("perf: catalog %s for CPU \"%s\" (libpfm4 PMU %s%s), %d "
		"events in %d groups (%d hardware); %d general-purpose "
		"counters per thread%s%s; core PMU \"%s\"", pi->catalog,
		pi->cpu_model, p->catalog->pmu ? p->catalog->pmu : "perf",
		p->native ? "" : ", not detected by libpfm4: encoded with "
		"LIBPFM_ENCODE_INACTIVE", pi->nevents, p->plan.ngroups, nhw,
		p->budget.gp,
		p->budget.fixed_cycles || p->budget.fixed_instructions ?
		" plus fixed" : "",
		p->budget.watchdog ? ", one held by the NMI watchdog" : "",
		pi->pmu_name);
	*priv = p;
	p = NULL;
	rc = 0;
cleanup:
	free(p);
	return rc;
}

/* What one sample cycle ran into, for its complaints. */
struct cycle {
	bool stop_opening;         /* out of fds: open nothing more */
	bool open_failed;
	uint32_t starved;          /* hardware groups never on the PMU */
	int nstarved;              /* threads with such a group */
	int rc;                    /* -ENOMEM, else 0 */
};

/* Count thread t this window: find or open its groups, read them. */
static void sample_thread(struct nl_perf_priv *p, struct nl_state *st,
			  struct nl_thread *t, struct cycle *c)
{
	struct nl_perf_thread *pt = NULL;
	bool found;
	size_t pos = table_find(p, t->tid, &found);
	int orc;
	uint32_t s;

	memset(t->win_events, 0, sizeof(t->win_events));
	t->win_valid = 0;
	for (int g = 0; g < NL_MAX_GROUPS; g++)
		t->group_scaling[g] = NAN;
	if (found) {
		pt = p->threads[pos];
		/* the same TID listed twice: count it once */
		if (pt->gen == p->gen)
			return;
		/* opened before a plan split: reopen */
		if (pt->plan_gen != p->plan.gen) {
			memmove(&p->threads[pos], &p->threads[pos + 1],
				(p->nthreads - pos - 1) * sizeof(p->threads[0]));
			p->nthreads--;
			thread_free(p, pt);
			pt = NULL;
			found = false;
		}
	}
	if (!found && !c->stop_opening) {
		orc = thread_open(p, &st->perf, t->tid, &pt);
		if (orc == -EMFILE || orc == -ENFILE) {
			nl_complain(&p->c_emfile, NL_LOG_WARN,
				    "perf: out of file descriptors (%llu perf "
				    "fds open); some threads are not counted",
				    (unsigned long long)p->nfds);
			c->stop_opening = true;
		} else if (orc < 0 && orc != -ESRCH) {
			nl_complain(&p->c_open, NL_LOG_WARN,
				    "perf: cannot open counters for thread "
				    "%d: %s", (int)t->tid, strerror(-orc));
			c->open_failed = true;
			if (orc == -ENOMEM)
				c->rc = orc;
		}
		if (pt && table_insert(p, pos, pt) < 0) {
			thread_free(p, pt);
			pt = NULL;
			c->rc = -ENOMEM;
		}
	}
	if (!pt) {
		/* not counted this window (ESRCH: it vanished since
		 * discovery); events[] keeps its value */
		t->scaling_ratio = NAN;
		return;
	}
	pt->gen = p->gen;
	s = thread_read(p, pt, t);
	if (s) {
		c->starved |= s;
		c->nstarved++;
	}
}

static int perf_sample(struct nl_state *st, void *priv)
{
	struct nl_perf_priv *p = priv;
	struct cycle c = { false, false, 0, 0, 0 };

	if (!p)
		return -EINVAL;
	p->gen++;
	for (size_t v = 0; v < st->nvms; v++) {
		struct nl_vm *vm = st->vms[v];

		for (size_t k = 0; k < vm->nthreads; k++)
			sample_thread(p, st, &vm->threads[k], &c);
	}
	table_gc(p);
	if (c.starved) {
		char names[256];
		int g = __builtin_ctz(c.starved);

		group_names(p, &st->perf, g, names, sizeof(names));
		nl_complain(&p->c_starved, NL_LOG_WARN,
			    "perf: hardware group %d {%s} was never on the PMU "
			    "while %d of its threads ran (other users hold "
			    "the counters: another perf session, a pinned "
			    "event): not counted, scaling ratio 0", g, names,
			    c.nstarved);
	} else {
		nl_complain_clear(&p->c_starved, "perf: every hardware group "
				  "gets on the PMU again");
	}
	if (!c.stop_opening)
		nl_complain_clear(&p->c_emfile, "perf: file descriptors "
				  "available again");
	if (!c.open_failed)
		nl_complain_clear(&p->c_open, "perf: opening counters works "
				  "again");
	st->perf.fds = p->nfds;
	return c.rc;
}

static void perf_free(struct nl_state *st, void *priv)
{
	struct nl_perf_priv *p = priv;

	if (!p)
		return;
	for (size_t i = 0; i < p->nthreads; i++)
		thread_free(p, p->threads[i]);
	free(p->threads);
	if (st)
		st->perf.fds = 0;
	free(p);
}

const struct nl_source nl_source_perf = {
	.name = "perf",
	.default_enabled = true,
	.required = false,
	.init = perf_init,
	.sample = perf_sample,
	.free = perf_free,
};
