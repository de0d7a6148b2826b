/* Parsers of the topology source, exposed for tests/unit/test_topology.c. */
#ifndef NL_TOPOLOGY_PRIV_H
#define NL_TOPOLOGY_PRIV_H

#include <stdint.h>

#include "types.h"

/* MemTotal and MemFree, in bytes, from a node meminfo ("Node 3 MemTotal:
 * 123 kB") when node_id >= 0, or from /proc/meminfo ("MemTotal: 123 kB")
 * when node_id < 0. Lines of another node are malformed. Return 0, or
 * -EINVAL when a line is malformed or either field is missing. */
int nl_topology_parse_meminfo(const char *text, int node_id,
			      uint64_t *total_bytes, uint64_t *free_bytes);

/* node<N>/numastat ("numa_hit 123" ...). Unknown keys are skipped (newer
 * kernels may add some). Return 0, or -EINVAL when a known key's value is
 * malformed or numa_hit is missing. */
int nl_topology_parse_numastat(const char *text, struct nl_numastat *ns);

/* A SLIT row ("10 21 21"): stores at most max entries in row. Return the
 * number of entries, or -EINVAL (non-numeric, out of 1..255, more than max
 * entries, or empty). */
int nl_topology_parse_distance(const char *text, int *row, int max);

#endif
