#include "sampler.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cpuplace.h"
#include "devices.h"
#include "hints.h"
#include "libvirt.h"
#include "log.h"
#include "memplace.h"
#include "paths.h"
#include "perf.h"
#include "procscan.h"
#include "resctrl.h"
#include "snapshot.h"
#include "threads.h"
#include "topology.h"
#include "uncore.h"
#include "vms.h"

/* Run order matters: topology before anything that maps CPUs to nodes, the
 * /proc scan before libvirt (which resolves QEMU PIDs from it), both before
 * the VM set is reconciled, threads before the per-thread sources. */
const struct nl_source nl_sources[] = {
	{ "topology", true, true, nl_topology_source_init,
	  nl_topology_source_sample, nl_topology_source_free },
	{ "procscan", true, true, nl_procscan_source_init,
	  nl_procscan_source_sample, nl_procscan_source_free },
	{ "libvirt", true, false, nl_libvirt_source_init,
	  nl_libvirt_source_sample, nl_libvirt_source_free },
	{ "vms", true, true, NULL, nl_vms_source_sample, nl_vms_source_free },
	{ "threads", true, true, NULL, nl_threads_source_sample, NULL },
	{ "schedstat", true, false, NULL, nl_cpuplace_source_sample, NULL },
	{ "numa_stat", true, false, nl_memplace_numastat_source_init,
	  nl_memplace_numastat_source_sample, nl_memplace_numastat_source_free },
	{ "numa_maps", true, false, nl_memplace_numamaps_source_init,
	  nl_memplace_numamaps_source_sample, nl_memplace_numamaps_source_free },
	{ "devices", true, false, NULL, nl_devices_source_sample, NULL },
	{ "perf", true, false, nl_perf_source_init, nl_perf_source_sample,
	  nl_perf_source_free },
	{ "uncore", true, false, nl_uncore_source_init,
	  nl_uncore_source_sample, nl_uncore_source_free },
	{ "resctrl", false, false, nl_resctrl_source_init,
	  nl_resctrl_source_sample, nl_resctrl_source_free },
};
const int nl_nsources = (int)(sizeof(nl_sources) / sizeof(nl_sources[0]));

int nl_source_index(const char *name)
{
	for (int i = 0; i < nl_nsources; i++)
		if (strcmp(nl_sources[i].name, name) == 0)
			return i;
	return -1;
}

struct nl_sampler {
	struct nl_config cfg;
	struct nl_state st;
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
};

static double thread_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool source_wanted(const struct nl_config *cfg, int i)
{
	if (nl_sources[i].required)
		return true;
	if (i == nl_source_index("libvirt") && cfg->discovery == NL_DISCOVERY_PROC)
		return false;
	if (cfg->collector_set[i])
		return cfg->collector_enabled[i];
	return nl_sources[i].default_enabled;
}

struct nl_sampler *nl_sampler_new(const struct nl_config *cfg)
{
	struct nl_sampler *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->st.cfg = &s->cfg;
	s->st.sampler = s;
	s->st.libvirt_up = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->hints = nl_hints_new(&cfg->hints);
	if (!s->hints) {
		nl_sampler_free(s);
		return NULL;
	}
	if (nl_paths_set(cfg->path_procfs, cfg->path_sysfs) < 0) {
		nl_err("invalid --path.procfs or --path.sysfs");
		nl_sampler_free(s);
		return NULL;
	}
	for (int i = 0; i < nl_nsources && i < NL_MAX_SOURCES; i++) {
		s->stats[i].name = nl_sources[i].name;
		s->enabled[i] = source_wanted(cfg, i);
		s->stats[i].enabled = s->enabled[i];
		if (!s->enabled[i])
			continue;
		if (!nl_sources[i].init) {
			s->init_ok[i] = true;
			continue;
		}
		int rc = nl_sources[i].init(&s->st, &s->priv[i]);

		s->init_ok[i] = rc == 0;
		if (rc < 0)
			nl_warn("collector %s unavailable: %s", nl_sources[i].name,
				strerror(-rc));
	}
	return s;
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
	for (int i = 0; i < nl_nsources; i++) {
		uint64_t a = nl_now_ns();
		int rc = -ENODEV;

		if (!s->enabled[i])
			continue;
		if (s->init_ok[i])
			rc = nl_sources[i].sample(st, s->priv[i]);
		s->stats[i].success = rc == 0;
		s->stats[i].duration_seconds = (nl_now_ns() - a) / 1e9;
	}
	s->cpu_seconds_total += thread_cpu_seconds() - cpu0;
	snap = nl_snapshot_build(st, s->stats, nl_nsources,
				 (nl_now_ns() - t0) / 1e9);
	if (!snap)
		return -ENOMEM;
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
	for (int i = nl_nsources - 1; i >= 0; i--)
		if (s->enabled[i] && s->init_ok[i] && nl_sources[i].free)
			nl_sources[i].free(&s->st, s->priv[i]);
	free(s->st.domains);
	nl_snapshot_put(s->current);
	nl_hints_free(s->hints);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
