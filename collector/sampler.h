/* The sampler: runs the registry of sources in order every interval on one
 * thread and publishes an immutable snapshot (snapshot.h) after each
 * cycle. This is its public side, for exporter/main.c and tests: an
 * opaque sampler and the registry's names for the command line. The state
 * and the registry row live in state.h (collector/ only). */
#ifndef NL_SAMPLER_H
#define NL_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

struct nl_config;
struct nl_snapshot;
struct nl_sampler;
struct nl_arrivals;

/* A sampler over the built-in registry, its sources set up (init) as cfg
 * says. NULL on allocation failure or invalid --path.* roots. */
struct nl_sampler *nl_sampler_new(const struct nl_config *cfg);
void nl_sampler_free(struct nl_sampler *s);
/* Run one cycle synchronously (tests, and the first cycle at start).
 * Return 0 or -ENOMEM (nothing published this cycle). */
int nl_sampler_cycle(struct nl_sampler *s);
int nl_sampler_start(struct nl_sampler *s);   /* background thread */
void nl_sampler_stop(struct nl_sampler *s);
/* Ask the background thread to run a cycle now (thread-safe). */
void nl_sampler_wake(struct nl_sampler *s);
/* The sampler's registry of expected arrivals (collector/arrivals.h),
 * which its hint engine reads every cycle; thread-safe, owned by the
 * sampler. Call nl_sampler_wake() after registering or withdrawing one. */
struct nl_arrivals *nl_sampler_arrivals(struct nl_sampler *s);
/* Newest published snapshot with a reference held, or NULL before the first
 * cycle. Release with nl_snapshot_put(). Thread-safe. */
struct nl_snapshot *nl_sampler_get(struct nl_sampler *s);

/* The built-in registry as the command line sees it, in run order:
 * nl_source_name(i) is NULL past the last row. */
int nl_source_count(void);
const char *nl_source_name(int i);
bool nl_source_required(int i);
bool nl_source_default_enabled(int i);
/* Row index of a source name, or -1. */
int nl_source_index(const char *name);

#endif
