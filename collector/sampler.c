/* The sampler: the registry of sources in run order, one cycle (every
 * source's sample, the snapshot, the sources' publish hooks, the hint
 * engine, publication), and the thread that runs a cycle every interval.
 * The sources themselves live in their own files (docs/internals.md). */
#include "sampler.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arrivals.h"
#include "clock.h"
#include "hints.h"
#include "log.h"
#include "paths.h"
#include "state.h"

/* Each row is defined in the file of its source (collector/<name>.c). */
extern const struct nl_source nl_source_topology, nl_source_procscan,
	nl_source_libvirt, nl_source_vms, nl_source_threads,
	nl_source_schedstat, nl_source_numa_stat, nl_source_cells, nl_source_numa_maps,
	nl_source_devices, nl_source_perf, nl_source_uncore,
	nl_source_resctrl;

/* The registry, in run order, which matters: topology first (everything
 * after it maps CPUs and node ids to node indexes); the /proc scan before
 * libvirt (libvirt resolves its domains' QEMU PIDs from the scan); both
 * before vms, which reconciles the tracked VM set from them; threads
 * after vms, and before the sources that work on every thread
 * (schedstat, perf, resctrl); numa_stat before numa_maps (numa_maps only
 * reads the VMs numa_stat could not measure this cycle); cells before
 * numa_maps (it tells each cell its guest RAM mapping). --help and the
 * order of the numalens_collector_* series follow this list. */
static const struct nl_source *const registry[] = {
	&nl_source_topology,
	&nl_source_procscan,
	&nl_source_libvirt,
	&nl_source_vms,
	&nl_source_threads,
	&nl_source_schedstat,
	&nl_source_numa_stat,
	&nl_source_cells,
	&nl_source_numa_maps,
	&nl_source_devices,
	&nl_source_perf,
	&nl_source_uncore,
	&nl_source_resctrl,
};
static const int nregistry = (int)(sizeof(registry) / sizeof(registry[0]));

int nl_source_count(void)
{
	return nregistry;
}

const char *nl_source_name(int i)
{
	return i >= 0 && i < nregistry ? registry[i]->name : NULL;
}

bool nl_source_required(int i)
{
	return i >= 0 && i < nregistry && registry[i]->required;
}

bool nl_source_default_enabled(int i)
{
	return i >= 0 && i < nregistry && registry[i]->default_enabled;
}

int nl_source_index(const char *name)
{
	for (int i = 0; i < nregistry; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return i;
	return -1;
}

struct nl_sampler {
	struct nl_config cfg;
	struct nl_state st;
	const struct nl_source *src[NL_MAX_SOURCES];
	int nsrc;
	void *priv[NL_MAX_SOURCES];
	bool enabled[NL_MAX_SOURCES];
	bool init_ok[NL_MAX_SOURCES];
	struct nl_collector_stat stats[NL_MAX_SOURCES];
	double cpu_seconds_total;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool wake, stop, running;
	pthread_t thread;
	struct nl_snapshot *current;
	struct nl_hints *hints;      /* the hint engine (hints.h) */
	struct nl_arrivals *arrivals;  /* expected arrivals (arrivals.h): the
					  API writes, the engine reads */
};

static double thread_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Required, else what the row's wanted hook allows, else the flag, else
 * the row's default. */
static bool source_wanted(const struct nl_config *cfg,
			  const struct nl_source *src)
{
	int flag;

	if (src->required)
		return true;
	if (src->wanted && !src->wanted(cfg))
		return false;
	flag = nl_config_collector(cfg, src->name);
	if (flag >= 0)
		return flag;
	return src->default_enabled;
}

static void sources_init(struct nl_sampler *s)
{
	for (int i = 0; i < s->nsrc; i++) {
		const struct nl_source *src = s->src[i];
		int rc;

		s->stats[i].name = src->name;
		s->enabled[i] = source_wanted(&s->cfg, src);
		s->stats[i].enabled = s->enabled[i];
		if (!s->enabled[i])
			continue;
		if (!src->init) {
			s->init_ok[i] = true;
			continue;
		}
		rc = src->init(&s->st, &s->priv[i]);
		s->init_ok[i] = rc == 0;
		if (rc < 0)
			nl_warn("collector %s unavailable: %s", src->name,
				strerror(-rc));
	}
}

struct nl_sampler *nl_sampler_new_with_sources(const struct nl_config *cfg,
					       const struct nl_source *const *list,
					       int n)
{
	struct nl_sampler *s;

	if (n < 0 || n > NL_MAX_SOURCES)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->st.cfg = &s->cfg;
	s->st.sampler = s;
	s->st.libvirt_up = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->hints = nl_hints_new(&cfg->hints);
	s->arrivals = nl_arrivals_new();
	if (!s->hints || !s->arrivals) {
		nl_sampler_free(s);
		return NULL;
	}
	nl_hints_set_arrivals(s->hints, s->arrivals);
	if (nl_paths_set(cfg->path_procfs, cfg->path_sysfs) < 0) {
		nl_err("invalid --path.procfs or --path.sysfs");
		nl_sampler_free(s);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		s->src[i] = list[i];
	s->nsrc = n;
	sources_init(s);
	return s;
}

struct nl_sampler *nl_sampler_new(const struct nl_config *cfg)
{
	return nl_sampler_new_with_sources(cfg, registry, nregistry);
}

/* Let every source with a publish hook add its summary to snap. */
static int sources_publish(struct nl_sampler *s, struct nl_snapshot *snap)
{
	for (int i = 0; i < s->nsrc; i++) {
		const struct nl_source *src = s->src[i];
		int rc;

		if (!s->enabled[i] || !s->init_ok[i] || !src->publish)
			continue;
		rc = src->publish(&s->st, s->priv[i], snap);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int nl_sampler_cycle(struct nl_sampler *s)
{
	struct nl_state *st = &s->st;
	uint64_t t0 = nl_now_ns();
	double cpu0 = thread_cpu_seconds();
	struct nl_snapshot *snap, *old;

	st->gen++;
	st->prev_ns = st->now_ns;
	st->now_ns = t0;
	st->domains_valid = false;
	for (int i = 0; i < s->nsrc; i++) {
		uint64_t a = nl_now_ns();
		int rc = -ENODEV;

		if (!s->enabled[i])
			continue;
		if (s->init_ok[i])
			rc = s->src[i]->sample(st, s->priv[i]);
		s->stats[i].success = rc == 0;
		s->stats[i].duration_seconds = (nl_now_ns() - a) / 1e9;
	}
	s->cpu_seconds_total += thread_cpu_seconds() - cpu0;
	snap = nl_snapshot_build(st, s->stats, s->nsrc,
				 (nl_now_ns() - t0) / 1e9);
	if (!snap)
		return -ENOMEM;
	if (sources_publish(s, snap) < 0) {
		nl_snapshot_put(snap);
		return -ENOMEM;
	}
	snap->sample_cpu_seconds_total = s->cpu_seconds_total;
	/* hints are computed before publishing: the snapshot is immutable
	 * once readers can see it */
	if (nl_hints_update(s->hints, snap) < 0)
		nl_warn("hint engine: out of memory, snapshot published without hints");
	pthread_mutex_lock(&s->lock);
	old = s->current;
	s->current = snap;
	pthread_mutex_unlock(&s->lock);
	nl_snapshot_put(old);
	return 0;
}

static void *sampler_main(void *arg)
{
	struct nl_sampler *s = arg;
	uint64_t interval = (uint64_t)(s->cfg.sample_interval * 1e9);
	/* Lifecycle events may come in bursts: at most one extra cycle per
	 * 100 ms. */
	const uint64_t min_gap = 100000000ULL;

	for (;;) {
		uint64_t last = nl_now_ns(), deadline = last + interval;
		struct timespec ts;

		if (nl_sampler_cycle(s) < 0)
			nl_warn("sample cycle failed: out of memory");
		pthread_mutex_lock(&s->lock);
		for (;;) {
			uint64_t now = nl_now_ns();

			if (s->stop || now >= deadline ||
			    (s->wake && now >= last + min_gap))
				break;
			uint64_t until = s->wake ? last + min_gap : deadline;
			/* the condvar uses CLOCK_MONOTONIC (see start) */
			ts.tv_sec = (time_t)(until / 1000000000ULL);
			ts.tv_nsec = (long)(until % 1000000000ULL);
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
		s->wake = false;
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int nl_sampler_start(struct nl_sampler *s)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&s->cond);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&s->thread, NULL, sampler_main, s);
	if (rc != 0)
		return -rc;
	s->running = true;
	return 0;
}

void nl_sampler_stop(struct nl_sampler *s)
{
	if (!s || !s->running)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->running = false;
}

void nl_sampler_wake(struct nl_sampler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->wake = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

struct nl_arrivals *nl_sampler_arrivals(struct nl_sampler *s)
{
	return s ? s->arrivals : NULL;
}

struct nl_snapshot *nl_sampler_get(struct nl_sampler *s)
{
	struct nl_snapshot *snap;

	pthread_mutex_lock(&s->lock);
	snap = s->current;
	if (snap)
		nl_snapshot_get(snap);
	pthread_mutex_unlock(&s->lock);
	return snap;
}

void nl_sampler_free(struct nl_sampler *s)
{
	if (!s)
		return;
	nl_sampler_stop(s);
	/* reverse order: later sources may hold on to earlier ones' data */
	for (int i = s->nsrc - 1; i >= 0; i--)
		if (s->enabled[i] && s->init_ok[i] && s->src[i]->free)
			s->src[i]->free(&s->st, s->priv[i]);
	free(s->st.domains);
	nl_snapshot_put(s->current);
	nl_hints_free(s->hints);
	nl_arrivals_free(s->arrivals);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
