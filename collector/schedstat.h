/* The schedstat source: CPU placement of every tracked thread, from
 * on-CPU time in schedstat, the CPU it last ran on (stat field 39) and its
 * allowed CPUs and memory nodes (status). Run-time deltas are attributed
 * to the node of that CPU. */
#ifndef NL_SCHEDSTAT_H
#define NL_SCHEDSTAT_H

#include <stdint.h>

#include "state.h"
#include "types.h"

extern const struct nl_source nl_source_schedstat;

/* Parse "Cpus_allowed_list:" and "Mems_allowed_list:" out of a status file.
 * Node ids in Mems_allowed_list are mapped to node indexes through t. */
int nl_schedstat_parse_status(const char *status, const struct nl_topology *t,
			      struct nl_cpuset *cpus, uint64_t *mems);

#endif
