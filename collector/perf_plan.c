/* The perf source's plan: which events it counts and how they are grouped.
 * Encoding libpfm4 strings, loading the catalog / --perf.events /
 * --perf.config, identifying the host, the group plan, setting it all up
 * (for the source and for `numalens events`). perf.c opens and reads the
 * groups. See perf.h. */
#include "perf.h"
#include "perf_priv.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <perfmon/pfmlib_perf_event.h>

#include "config.h"
#include "evconf.h"
#include "log.h"
#include "paths.h"

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
int nl_perf_pfm_init(void)
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
	rc = nl_perf_pfm_init();
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

void nl_perf_apply_mode(struct perf_event_attr *attr, enum nl_event_mode m)
{
	attr->exclude_host = m == NL_MODE_GUEST;
	attr->exclude_guest = m == NL_MODE_HOST;
}

/* ---- catalog / --perf.events / --perf.config ---- */

static int add_event(struct nl_perf_info *pi, const char *name, size_t nlen,
		     const char *pfm, size_t plen)
{
	struct nl_event_desc *e;

	if (nlen == 0 || plen == 0)
		return -EINVAL;
	if (nlen >= sizeof(e->name) || plen >= sizeof(e->pfm))
		return -ENAMETOOLONG;
	if (pi->nevents >= NL_MAX_EVENTS)
		return -E2BIG;
	for (int i = 0; i < pi->nevents; i++)
		if (strlen(pi->events[i].name) == nlen &&
		    memcmp(pi->events[i].name, name, nlen) == 0)
			return -EEXIST;
	e = &pi->events[pi->nevents++];
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, nlen);
	memcpy(e->pfm, pfm, plen);
	e->supported = -1;
	e->group = -1;
	return 0;
}

int nl_perf_host_mode_events(struct nl_perf_info *pi)
{
	static const char *const base[] = { "cycles", "instructions" };
	static const struct {
		const char *suffix;
		enum nl_event_mode mode;
	} modes[] = { { "_guest", NL_MODE_GUEST }, { "_host", NL_MODE_HOST } };
	int from[4], n = 0, added = 0;

	for (size_t b = 0; b < sizeof(base) / sizeof(base[0]); b++)
		for (int i = 0; i < pi->nevents; i++)
			if (!strcmp(pi->events[i].name, base[b]) &&
			    pi->events[i].mode == NL_MODE_ALL)
				from[n++] = i;
	if (pi->nevents + 2 * n > NL_MAX_EVENTS)
		return -E2BIG;
	for (int k = 0; k < n; k++) {
		for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			char name[64];
			const struct nl_event_desc *src = &pi->events[from[k]];
			int len = snprintf(name, sizeof(name), "%s%s", src->name, modes[m].suffix);
			int rc = add_event(pi, name, (size_t)len, src->pfm, strlen(src->pfm));

			if (rc < 0)
				return rc;
			pi->events[pi->nevents - 1].mode = modes[m].mode;
			added++;
		}
	}
	return added;
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

int nl_perf_catalog_load(struct nl_perf_info *pi, const char *spec,
			 const struct nl_catalog *c)
{
	const char *p;
	int rc;

	pi->nevents = 0;
	if (!spec) {
		if (!c)
			c = nl_catalog_find("generic");
		for (size_t i = 0; c && i < c->nevents; i++) {
			rc = add_event(pi, c->events[i].name,
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
			pi->nevents = 0;
			return -EINVAL;
		}
		name_end = trim_end(name, eq);
		val = skip_space(eq + 1, end);
		val_end = trim_end(val, end);
		rc = add_event(pi, name, (size_t)(name_end - name), val,
			       (size_t)(val_end - val));
		if (rc < 0) {
			nl_err("perf: --perf.events entry \"%.*s\": %s",
			       (int)(end - p), p,
			       rc == -E2BIG ? "too many events" :
			       rc == -EEXIST ? "duplicate name" :
			       rc == -ENAMETOOLONG ? "name or event too long" :
			       "empty name or event");
			pi->nevents = 0;
			return rc == -E2BIG ? -E2BIG : -EINVAL;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	return 0;
}

int nl_perf_user_events(struct nl_perf_info *pi, const struct nl_evconf *conf)
{
	for (size_t i = 0; conf && i < conf->n; i++) {
		const struct nl_evconf_entry *u = &conf->entries[i];
		struct nl_event_desc *e = NULL;
		int rc;

		if (u->section != NL_EVCONF_THREAD)
			continue;
		for (int k = 0; k < pi->nevents; k++)
			if (strcmp(pi->events[k].name, u->name) == 0)
				e = &pi->events[k];
		if (!e) {
			rc = add_event(pi, u->name, strlen(u->name), u->event,
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
			e = &pi->events[pi->nevents - 1];
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
	if (nl_perf_pfm_init() < 0 || !kernel_has_core_pmu())
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

void nl_perf_plan_publish(const struct nl_perf_plan *plan,
			  struct nl_perf_info *pi)
{
	memset(pi->groups, 0, sizeof(pi->groups));
	pi->ngroups = plan->ngroups;
	for (int g = 0; g < plan->ngroups; g++) {
		pi->groups[g].hardware = plan->hardware[g];
		for (int j = 0; j < plan->nev[g]; j++)
			pi->groups[g].events |= 1u << plan->ev[g][j];
	}
}

const struct nl_catalog *nl_perf_host_catalog(struct nl_cpuid *id,
					      int *id_err, bool *native)
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

	nl_perf_host_catalog(&id, &id_err, &native);
}

int nl_perf_setup_events(struct nl_perf_info *pi, struct nl_perf_priv *p,
			 const struct nl_config *cfg,
			 const struct nl_catalog *c)
{
	struct nl_evconf conf = { NULL, 0 };
	const char *spec = cfg ? cfg->events : NULL;
	char err[512];
	int rc;

	rc = nl_perf_catalog_load(pi, spec, c);
	if (rc < 0)
		goto cleanup;
	if (cfg && cfg->perf_config) {
		rc = nl_evconf_load(cfg->perf_config, &conf, err, sizeof(err));
		if (rc < 0) {
			nl_err("perf: --perf.config: %s", err);
			goto cleanup;
		}
		rc = nl_perf_user_events(pi, &conf);
		if (rc < 0)
			goto cleanup;
	}
	if (cfg && cfg->perf_host_mode) {
		rc = nl_perf_host_mode_events(pi);
		if (rc < 0) {
			nl_err("perf: --perf.host-mode: no room for 4 more events (%d of %d in use)",
			       pi->nevents, NL_MAX_EVENTS);
			goto cleanup;
		}
		if (rc == 0)
			nl_warn("perf: --perf.host-mode: the event set has no cycles or instructions to count twice");
	}
	nl_catalog_budget(c, &p->budget);
	for (int i = 0; i < pi->nevents; i++) {
		struct nl_event_desc *e = &pi->events[i];
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
		nl_perf_apply_mode(a, e->mode);
		a->read_format = PERF_FORMAT_GROUP |
				 PERF_FORMAT_TOTAL_TIME_ENABLED |
				 PERF_FORMAT_TOTAL_TIME_RUNNING |
				 PERF_FORMAT_ID;
		a->inherit = 0;
		a->disabled = 0;
		p->fixed[i] = nl_perf_fixed_slot(a, &p->budget);
	}
	nl_perf_plan_build(&p->plan, pi->events, p->fixed, pi->nevents,
			   &p->budget);
	for (int i = 0; i < pi->nevents; i++)
		if (pi->events[i].err == -E2BIG && pi->events[i].supported == 0)
			nl_warn("perf: event %s does not fit in %d groups; "
				"not counted", pi->events[i].name,
				NL_MAX_GROUPS);
	nl_perf_plan_publish(&p->plan, pi);
	pi->gp_counters = p->budget.gp;
	snprintf(pi->catalog, sizeof(pi->catalog), "%s",
		 spec ? "custom" : c->name);
	rc = 0;
cleanup:
	nl_evconf_free(&conf);
	if (rc < 0)
		pi->nevents = 0;
	return rc;
}

/* ---- what `numalens events` prints ---- */

int nl_perf_resolve(const struct nl_config *cfg, const char *catalog,
		    bool try_open, struct nl_perf_resolved *out, char *err,
		    size_t errlen)
{
	struct nl_perf_priv *p = NULL;
	struct nl_perf_info *pi = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	p = calloc(1, sizeof(*p));
	pi = calloc(1, sizeof(*pi));
	if (!p || !pi) {
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
		out->catalog = nl_perf_host_catalog(&out->cpuid, &id_err,
						    &out->native);
	}
	nl_perf_pmu_name(out->pmu_detected, sizeof(out->pmu_detected));
	rc = nl_perf_setup_events(pi, p, cfg, out->catalog);
	if (rc < 0) {
		snprintf(err, errlen, "bad --perf.events or --perf.config "
			 "(see the log above)");
		goto cleanup;
	}
	out->custom = cfg && cfg->events;
	out->budget = p->budget;
	out->nevents = pi->nevents;
	for (int i = 0; i < pi->nevents; i++) {
		const struct nl_event_desc *e = &pi->events[i];
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
			fd = nl_perf_event_open(&t, 0, -1, -1,
						PERF_FLAG_FD_CLOEXEC);
			o->open_err = fd >= 0 ? 0 : -errno;
			if (fd >= 0)
				close(fd);
		}
	}
	out->ngroups = pi->ngroups;
	memcpy(out->groups, pi->groups, sizeof(out->groups));
	rc = 0;
cleanup:
	free(p);
	free(pi);
	return rc;
}
