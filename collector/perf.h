/* Per-thread perf counters (libpfm4 + perf_event_open).
 *
 * For every tracked thread the source keeps one group of hardware events
 * and one group of software events open, reads each group with one read()
 * per cycle and adds the deltas, scaled for multiplexing, to
 * nl_thread.events[]. Events the host cannot count are marked unsupported
 * once (st->events[i].supported = 0) and never retried. */
#ifndef NL_PERF_H
#define NL_PERF_H

#include <stdbool.h>

#include "sampler.h"

struct perf_event_attr;

/* Encode a libpfm4 event string into *attr (counting user + kernel).
 * Hardware events (any perf type but PERF_TYPE_SOFTWARE) are encoded to
 * count guest mode too: attr->exclude_guest is always 0 for them.
 * *hardware (may be NULL) tells which. Return 0 or -errno (-ENOENT: no such
 * event on this host's PMUs). */
int nl_perf_encode(const char *pfm, struct perf_event_attr *attr,
		   bool *hardware);

int nl_perf_source_init(struct nl_state *st, void **priv);
int nl_perf_source_sample(struct nl_state *st, void *priv);
void nl_perf_source_free(struct nl_state *st, void *priv);

#endif
