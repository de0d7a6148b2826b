/* Host NUMA topology source: nodes, their CPUs, SLIT distances, per-node
 * memory and numastat counters, read from sysfs through the path helper. */
#ifndef NL_TOPOLOGY_H
#define NL_TOPOLOGY_H

#include "state.h"
#include "types.h"

/* Read the whole topology into *t (which is overwritten). A kernel without
 * NUMA (no devices/system/node) yields one synthetic node 0 holding every
 * online CPU and the memory of <procfs>/meminfo. Return 0 or -errno;
 * -EINVAL when a file is malformed. */
int nl_topology_read(struct nl_topology *t);

/* The "topology" source: fills st->topo and st->topo_valid. The CPU and
 * distance layout is re-read every NL_TOPOLOGY_FULL_INTERVAL_S seconds (and
 * whenever a refresh fails); memory counters every cycle. */
#define NL_TOPOLOGY_FULL_INTERVAL_S 60

extern const struct nl_source nl_source_topology;

#endif
