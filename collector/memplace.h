/* Memory placement sources: how many bytes of each VM's memory sit on each
 * NUMA node (struct nl_vm mem_bytes[], by node index of st->topo).
 *
 *  numastat: the VM's memory cgroup memory.numa_stat, every cycle (cheap).
 *      VMs it cannot measure are left with mem_source NL_MEM_NONE.
 *  numamaps: /proc/PID/numa_maps for the VMs the cgroup source
 *      did not measure this cycle, at most every cfg->numa_maps_interval
 *      seconds per VM (it walks the page tables of the whole process).
 *
 * Both need st->topo (register them after the topology source) and the
 * numa_maps source must run after the numastat source. */
#ifndef NL_MEMPLACE_H
#define NL_MEMPLACE_H

#include "sampler.h"

int nl_memplace_numastat_source_init(struct nl_state *st, void **priv);
int nl_memplace_numastat_source_sample(struct nl_state *st, void *priv);
void nl_memplace_numastat_source_free(struct nl_state *st, void *priv);

int nl_memplace_numamaps_source_init(struct nl_state *st, void **priv);
int nl_memplace_numamaps_source_sample(struct nl_state *st, void *priv);
void nl_memplace_numamaps_source_free(struct nl_state *st, void *priv);

#endif
