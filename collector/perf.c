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

#include "evconf.h"
#include "log.h"
#include "paths.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

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
 * encoding and clear exclude_guest by hand. The kernel ignores
 * exclude_guest for software events; it is cleared for them too, so that
 * no event of ours excludes guest mode. */
int nl_perf_encode(const char *pfm, struct perf_event_attr *attr,
		   bool *hardware)
{
	struct perf_event_attr tmp;
	char buf[NL_EVCONF_EVENT_MAX + 16];
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
	}
	attr->exclude_guest = 0;
	assert(attr->exclude_guest == 0);
	if (hardware)
		*hardware = hw;
	return 0;
}

/* ---- catalog / --perf.events / --perf.config ---- */

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
	e->group = -1;
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
			 const struct nl_catalog *c)
{
	const char *p;
	int rc;

	st->nevents = 0;
	if (!spec) {
		if (!c)
			c = nl_catalog_find("generic");
		for (size_t i = 0; c && i < c->nevents; i++) {
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

int nl_perf_user_events(struct nl_state *st, const struct nl_evconf *conf)
{
	for (size_t i = 0; conf && i < conf->n; i++) {
		const struct nl_evconf_entry *u = &conf->entries[i];
		struct nl_event_desc *e = NULL;
		int rc;

		if (u->section != NL_EVCONF_THREAD)
			continue;
		for (int k = 0; k < st->nevents; k++)
			if (strcmp(st->events[k].name, u->name) == 0)
				e = &st->events[k];
		if (!e) {
			rc = add_event(st, u->name, strlen(u->name), u->event,
				       strlen(u->event));
			if (rc == -E2BIG) {
				nl_err("perf: --perf.config line %d: more than "
				       "%d per-thread events in all", u->line,
				       NL_MAX_EVENTS);
				return rc;
			}
			if (rc < 0) {
				nl_err("perf: --perf.config line %d: event "
				       "\"%s\" too long", u->line, u->event);
				return -EINVAL;
			}
			e = &st->events[st->nevents - 1];
		} else {
			if (strlen(u->event) >= sizeof(e->pfm)) {
				nl_err("perf: --perf.config line %d: event "
				       "\"%s\" too long", u->line, u->event);
				return -EINVAL;
			}
			snprintf(e->pfm, sizeof(e->pfm), "%s", u->event);
		}
		e->user = true;
	}
	return 0;
}

/* ---- host identification ---- */

void nl_perf_cpu_model(char *buf, size_t len)
{
	struct nl_cpuid id;

	if (len == 0)
		return;
	buf[0] = '\0';
	nl_catalog_cpuid(&id);
	if (id.vendor_id[0])
		snprintf(buf, len, "%s %s/%s", id.vendor_id, id.family_str,
			 id.model_str);
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

/* ---- group plan ---- */

enum nl_fixed_slot nl_perf_fixed_slot(const struct perf_event_attr *a,
				      const struct nl_counter_budget *b)
{
	/* The kernel puts an event on a fixed counter only when its whole
	 * raw encoding is the fixed event's: 0x3c core cycles, 0xc0
	 * instructions, nothing else set (no edge, invert or cmask). */
	bool cyc = (a->type == PERF_TYPE_RAW && a->config == 0x3c) ||
		   (a->type == PERF_TYPE_HARDWARE &&
		    a->config == PERF_COUNT_HW_CPU_CYCLES);
	bool ins = (a->type == PERF_TYPE_RAW && a->config == 0xc0) ||
		   (a->type == PERF_TYPE_HARDWARE &&
		    a->config == PERF_COUNT_HW_INSTRUCTIONS);

	if (cyc && b->fixed_cycles)
		return NL_FIXED_CYCLES;
	if (ins && b->fixed_instructions)
		return NL_FIXED_INSTRUCTIONS;
	return NL_FIXED_NONE;
}

static void plan_add(struct nl_perf_plan *plan, int g, int ev,
		     struct nl_event_desc *events)
{
	plan->ev[g][plan->nev[g]++] = ev;
	events[ev].group = g;
}

void nl_perf_plan_build(struct nl_perf_plan *plan, struct nl_event_desc *events,
			const enum nl_fixed_slot *fixed, int n,
			const struct nl_counter_budget *b)
{
	uint64_t gen = plan->gen;
	int gp_used = 0, cur = -1, budget = b->gp > 0 ? b->gp : 1;
	bool slot_used[3] = { false, false, false };
	bool any_sw = false;

	memset(plan, 0, sizeof(*plan));
	plan->gen = gen + 1;
	for (int i = 0; i < n; i++) {
		struct nl_event_desc *e = &events[i];
		enum nl_fixed_slot f = fixed ? fixed[i] : NL_FIXED_NONE;
		bool on_fixed;

		/* a slot the budget does not offer (the watchdog's) is none */
		if ((f == NL_FIXED_CYCLES && !b->fixed_cycles) ||
		    (f == NL_FIXED_INSTRUCTIONS && !b->fixed_instructions))
			f = NL_FIXED_NONE;

		e->group = -1;
		if (e->supported == 0)
			continue;
		if (!e->hardware) {
			any_sw = true;
			continue;
		}
		on_fixed = f != NL_FIXED_NONE && cur >= 0 && !slot_used[f];
		if (cur < 0 || (!on_fixed && gp_used >= budget)) {
			/* the software group needs a place too */
			if (plan->ngroups >= NL_MAX_GROUPS - 1) {
				e->supported = 0;
				e->err = -E2BIG;
				continue;
			}
			cur = plan->ngroups++;
			plan->hardware[cur] = true;
			gp_used = 0;
			memset(slot_used, 0, sizeof(slot_used));
			on_fixed = f != NL_FIXED_NONE;
		}
		if (on_fixed)
			slot_used[f] = true;
		else
			gp_used++;
		plan_add(plan, cur, i, events);
	}
	if (any_sw) {
		int g = plan->ngroups++;

		for (int i = 0; i < n; i++)
			if (events[i].supported != 0 && !events[i].hardware)
				plan_add(plan, g, i, events);
	}
}

int nl_perf_plan_split(struct nl_perf_plan *plan, struct nl_event_desc *events,
		       int nevents, int g, int pos)
{
	if (g < 0 || g >= plan->ngroups || pos <= 0 || pos >= plan->nev[g])
		return -EINVAL;
	if (plan->ngroups >= NL_MAX_GROUPS)
		return -E2BIG;
	memmove(&plan->hardware[g + 2], &plan->hardware[g + 1],
		(size_t)(plan->ngroups - g - 1) * sizeof(plan->hardware[0]));
	memmove(&plan->nev[g + 2], &plan->nev[g + 1],
		(size_t)(plan->ngroups - g - 1) * sizeof(plan->nev[0]));
	memmove(&plan->ev[g + 2], &plan->ev[g + 1],
		(size_t)(plan->ngroups - g - 1) * sizeof(plan->ev[0]));
	plan->ngroups++;
	plan->hardware[g + 1] = plan->hardware[g];
	plan->nev[g + 1] = plan->nev[g] - pos;
	memcpy(plan->ev[g + 1], &plan->ev[g][pos],
	       (size_t)plan->nev[g + 1] * sizeof(plan->ev[g][0]));
	plan->nev[g] = pos;
	for (int k = 0; k < plan->ngroups; k++)
		for (int j = 0; j < plan->nev[k]; j++)
			if (plan->ev[k][j] < nevents)
				events[plan->ev[k][j]].group = k;
	plan->gen++;
	return 0;
}

void nl_perf_plan_publish(const struct nl_perf_plan *plan, struct nl_state *st)
{
	memset(st->perf_groups, 0, sizeof(st->perf_groups));
	st->nperf_groups = plan->ngroups;
	for (int g = 0; g < plan->ngroups; g++) {
		st->perf_groups[g].hardware = plan->hardware[g];
		for (int j = 0; j < plan->nev[g]; j++)
			st->perf_groups[g].events |= 1u << plan->ev[g][j];
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
		nl_info("perf: event %s (%s) opens alone but not in a group, "
			"and no group is left for it (%s); not counted",
			e->name, e->pfm, strerror(err));
	else
		nl_info("perf: event %s (%s) is not supported on this host "
			"(%s); not counted", e->name, e->pfm, strerror(err));
}

/* Names of the events of plan group gi, for messages. */
static void group_names(const struct nl_perf_priv *p,
			const struct nl_state *st, int gi, char *buf,
			size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int j = 0; j < p->plan.nev[gi] && off < len; j++) {
		int n = snprintf(buf + off, len - off, "%s%s", j ? "," : "",
				 st->events[p->plan.ev[gi][j]].name);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* Open plan group gi for tid into g, dropping (for good) events the host
 * cannot count. Return 0 (possibly with an empty group) or -errno:
 * -EAGAIN the plan was split (reopen with the new plan), -ESRCH thread
 * gone, -EMFILE/-ENFILE out of fds, other: try again later. */
static int group_open(struct nl_perf_priv *p, struct nl_state *st, pid_t tid,
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

			if (st->events[i].supported == 0)
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
				char names[256];

				close(fd);
				/* it counts, just not with the others (a
				 * group too large for the PMU, or events of
				 * different PMUs): it and the rest of the
				 * group go to a group of their own */
				group_names(p, st, gi, names, sizeof(names));
				if (nl_perf_plan_split(&p->plan, st->events,
						       st->nevents, gi,
						       failed_pos) == 0) {
					nl_info("perf: event %s does not fit in "
						"a group with the events before "
						"it in {%s} (%s): group split",
						st->events[failed].name, names,
						strerror(err));
					nl_perf_plan_publish(&p->plan, st);
					return -EAGAIN;
				}
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
static int thread_open(struct nl_perf_priv *p, struct nl_state *st,
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
			rc = group_open(p, st, tid, k, &t->grp[k]);
			if ((rc == -EMFILE || rc == -ENFILE) && raise_nofile(p))
				rc = group_open(p, st, tid, k, &t->grp[k]);
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

/* ---- setting up ---- */

/* The catalog for this host, with libpfm4 prepared for it. */
static const struct nl_catalog *host_catalog(struct nl_cpuid *id, int *id_err,
					     bool *native)
{
	const struct nl_catalog *c;
	int rc;

	*id_err = nl_catalog_cpuid(id);
	c = nl_catalog_for_cpu(*id_err == 0 ? id : NULL);
	rc = nl_catalog_pfm_prepare(c, native);
	if (rc < 0) {
		/* a libpfm4 without this PMU: the generic events still work */
		nl_warn("perf: libpfm4 cannot encode for PMU %s (%s); using "
			"the generic catalog", c->pmu ? c->pmu : "-",
			strerror(-rc));
		c = nl_catalog_find("generic");
		nl_catalog_pfm_prepare(c, native);
	}
	return c;
}

void nl_perf_prepare(void)
{
	struct nl_cpuid id;
	bool native;
	int id_err;

	host_catalog(&id, &id_err, &native);
}

/* Load the events (catalog c or cfg's --perf.events, then cfg's
 * --perf.config), encode them into p, and plan the groups. Return 0 or
 * -errno (a bad --perf.events or --perf.config; logged). */
static int setup_events(struct nl_state *st, struct nl_perf_priv *p,
			const struct nl_config *cfg,
			const struct nl_catalog *c)
{
	struct nl_evconf conf = { NULL, 0 };
	const char *spec = cfg ? cfg->events : NULL;
	char err[512];
	int rc;

	rc = nl_perf_catalog_load(st, spec, c);
	if (rc < 0)
		goto cleanup;
	if (cfg && cfg->perf_config) {
		rc = nl_evconf_load(cfg->perf_config, &conf, err, sizeof(err));
		if (rc < 0) {
			nl_err("perf: --perf.config: %s", err);
			goto cleanup;
		}
		rc = nl_perf_user_events(st, &conf);
		if (rc < 0)
			goto cleanup;
	}
	nl_catalog_budget(c, &p->budget);
	for (int i = 0; i < st->nevents; i++) {
		struct nl_event_desc *e = &st->events[i];
		struct perf_event_attr *a = &p->attr[i];
		bool hw = true;
		int erc = nl_perf_encode(e->pfm, a, &hw);

		/* what libpfm4 cannot encode belongs to some other CPU's
		 * PMU: software events are always known */
		e->hardware = hw;
		p->fixed[i] = NL_FIXED_NONE;
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
		p->fixed[i] = nl_perf_fixed_slot(a, &p->budget);
	}
	nl_perf_plan_build(&p->plan, st->events, p->fixed, st->nevents,
			   &p->budget);
	for (int i = 0; i < st->nevents; i++)
		if (st->events[i].err == -E2BIG && st->events[i].supported == 0)
			nl_warn("perf: event %s does not fit in %d groups; "
				"not counted", st->events[i].name,
				NL_MAX_GROUPS);
	nl_perf_plan_publish(&p->plan, st);
	st->perf_gp_counters = p->budget.gp;
	snprintf(st->perf_catalog, sizeof(st->perf_catalog), "%s",
		 spec ? "custom" : c->name);
	rc = 0;
cleanup:
	nl_evconf_free(&conf);
	if (rc < 0)
		st->nevents = 0;
	return rc;
}

/* ---- the source ---- */

int nl_perf_source_init(struct nl_state *st, void **priv)
{
	struct nl_perf_priv *p = NULL;
	struct nl_cpuid id;
	int rc, id_err, nhw = 0;

	*priv = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = pfm_init();
	if (rc < 0) {
		nl_err("perf: cannot initialize libpfm4: %s", strerror(-rc));
		goto cleanup;
	}
	p->catalog = host_catalog(&id, &id_err, &p->native);
	nl_perf_pmu_name(st->pmu_name, sizeof(st->pmu_name));
	nl_perf_cpu_model(st->cpu_model, sizeof(st->cpu_model));
	rc = setup_events(st, p, st->cfg, p->catalog);
	if (rc < 0)
		goto cleanup;
	for (int g = 0; g < p->plan.ngroups; g++)
		nhw += p->plan.hardware[g];
	nl_info("perf: catalog %s for CPU \"%s\" (libpfm4 PMU %s%s), %d "
		"events in %d groups (%d hardware); %d general-purpose "
		"counters per thread%s%s; core PMU \"%s\"", st->perf_catalog,
		st->cpu_model, p->catalog->pmu ? p->catalog->pmu : "perf",
		p->native ? "" : ", not detected by libpfm4: encoded with "
		"LIBPFM_ENCODE_INACTIVE", st->nevents, p->plan.ngroups, nhw,
		p->budget.gp,
		p->budget.fixed_cycles || p->budget.fixed_instructions ?
		" plus fixed" : "",
		p->budget.watchdog ? ", one held by the NMI watchdog" : "",
		st->pmu_name);
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
	uint32_t starved = 0;
	int nstarved = 0, rc = 0;

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
			uint32_t s;

			memset(t->win_events, 0, sizeof(t->win_events));
			t->win_valid = 0;
			for (int g = 0; g < NL_MAX_GROUPS; g++)
				t->group_scaling[g] = NAN;
			if (found) {
				pt = p->threads[pos];
				/* the same TID listed twice: count it once */
				if (pt->gen == p->gen)
					continue;
				/* opened before a plan split: reopen */
				if (pt->plan_gen != p->plan.gen) {
					memmove(&p->threads[pos],
						&p->threads[pos + 1],
						(p->nthreads - pos - 1) *
						sizeof(p->threads[0]));
					p->nthreads--;
					thread_free(p, pt);
					pt = NULL;
					found = false;
				}
			}
			if (!found && !stop_opening) {
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
			pt->gen = p->gen;
			s = thread_read(p, pt, t);
			if (s) {
				starved |= s;
				nstarved++;
			}
		}
	}
	table_gc(p);
	if (starved) {
		char names[256];
		int g = __builtin_ctz(starved);

		group_names(p, st, g, names, sizeof(names));
		nl_complain(&p->c_starved, NL_LOG_WARN,
			    "perf: hardware group %d {%s} was never on the PMU "
			    "while %d of its threads ran (other users hold "
			    "the counters: another perf session, a pinned "
			    "event): not counted, scaling ratio 0", g, names,
			    nstarved);
	} else {
		nl_complain_clear(&p->c_starved, "perf: every hardware group "
				  "gets on the PMU again");
	}
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

/* ---- what `numalens events` prints ---- */

int nl_perf_resolve(const struct nl_config *cfg, const char *catalog,
		    bool try_open, struct nl_perf_resolved *out, char *err,
		    size_t errlen)
{
	struct nl_perf_priv *p = NULL;
	struct nl_state *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	p = calloc(1, sizeof(*p));
	st = calloc(1, sizeof(*st));
	if (!p || !st) {
		rc = -ENOMEM;
		goto cleanup;
	}
	out->cpuid_err = nl_catalog_cpuid(&out->cpuid);
	nl_perf_cpu_model(out->cpu_model, sizeof(out->cpu_model));
	if (catalog) {
		out->catalog = nl_catalog_find(catalog);
		if (!out->catalog) {
			snprintf(err, errlen, "unknown PMU or catalog \"%s\"",
				 catalog);
			rc = -ENOENT;
			goto cleanup;
		}
		rc = nl_catalog_pfm_prepare(out->catalog, &out->native);
		if (rc < 0) {
			snprintf(err, errlen, "libpfm4 cannot encode for %s: "
				 "%s", out->catalog->pmu, strerror(-rc));
			goto cleanup;
		}
	} else {
		int id_err;

		out->detected = true;
		out->catalog = host_catalog(&out->cpuid, &id_err,
					    &out->native);
	}
	nl_perf_pmu_name(out->pmu_detected, sizeof(out->pmu_detected));
	st->cfg = cfg;
	rc = setup_events(st, p, cfg, out->catalog);
	if (rc < 0) {
		snprintf(err, errlen, "bad --perf.events or --perf.config "
			 "(see the log above)");
		goto cleanup;
	}
	out->custom = cfg && cfg->events;
	out->budget = p->budget;
	out->nevents = st->nevents;
	for (int i = 0; i < st->nevents; i++) {
		const struct nl_event_desc *e = &st->events[i];
		struct nl_perf_event_info *o = &out->ev[i];
		struct perf_event_attr *a = &p->attr[i];

		snprintf(o->name, sizeof(o->name), "%s", e->name);
		snprintf(o->pfm, sizeof(o->pfm), "%s", e->pfm);
		o->user = e->user;
		o->hardware = e->hardware;
		o->group = e->group;
		o->fixed = p->fixed[i];
		o->encode_err = e->supported == 0 ? e->err : 0;
		o->open_err = 1;
		if (o->encode_err && o->encode_err != -E2BIG)
			continue;
		o->type = a->type;
		o->config = a->config;
		o->config1 = a->config1;
		o->exclude_user = a->exclude_user;
		o->exclude_kernel = a->exclude_kernel;
		o->exclude_hv = a->exclude_hv;
		o->exclude_guest = a->exclude_guest;
		o->exclude_host = a->exclude_host;
		if (try_open) {
			struct perf_event_attr t = *a;
			int fd;

			t.read_format = 0;
			fd = sys_perf_event_open(&t, 0, -1, -1,
						 PERF_FLAG_FD_CLOEXEC);
			o->open_err = fd >= 0 ? 0 : -errno;
			if (fd >= 0)
				close(fd);
		}
	}
	out->ngroups = st->nperf_groups;
	memcpy(out->groups, st->perf_groups, sizeof(out->groups));
	rc = 0;
cleanup:
	free(p);
	free(st);
	return rc;
}
