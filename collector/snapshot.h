/* Building the immutable snapshot from the sampler's state. */
#ifndef NL_SNAPSHOT_H
#define NL_SNAPSHOT_H

#include "sampler.h"

/* Deep copy of what encoders need, with series aggregated and scores
 * computed. stats are copied. Returns NULL on allocation failure. The
 * snapshot starts with one reference. */
struct nl_snapshot *nl_snapshot_build(const struct nl_state *st,
				      const struct nl_collector_stat *stats,
				      int nstats, double sample_duration);
void nl_snapshot_get(struct nl_snapshot *snap);
/* nl_snapshot_put() (sampler.h) drops a reference and frees at zero. */

/* Find a VM by name (snapshot VMs are sorted by name), or NULL. */
const struct nl_vm_snap *nl_snapshot_find_vm(const struct nl_snapshot *s,
					     const char *name);

#endif
