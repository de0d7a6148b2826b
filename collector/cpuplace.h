/* CPU placement of every tracked thread: on-CPU time from schedstat, the
 * CPU it last ran on (stat field 39) and its allowed CPUs and memory nodes
 * (status). Run-time deltas are attributed to the node of that CPU. */
#ifndef NL_CPUPLACE_H
#define NL_CPUPLACE_H

#include "sampler.h"

int nl_cpuplace_source_sample(struct nl_state *st, void *priv);

/* Parse "Cpus_allowed_list:" and "Mems_allowed_list:" out of a status file.
 * Node ids in Mems_allowed_list are mapped to node indexes through t. */
int nl_cpuplace_parse_status(const char *status, const struct nl_topology *t,
			     struct nl_cpuset *cpus, uint64_t *mems);

#endif
