/* resctrl monitoring per VM (opt-in: --collector.resctrl).
 *
 * When <sysfs>/fs/resctrl is mounted with L3 monitoring, every VM gets one
 * monitoring group, mon_groups/numalens-<uuid> (or numalens-<name>-<pid>
 * for a VM without UUID), under the default control group. All the VM's
 * threads are written to its tasks file, and threads that appear later are
 * added each cycle. llc_occupancy, mbm_total_bytes and mbm_local_bytes are
 * read per L3 domain from the group's mon_data.
 *
 * A VM any of whose threads already belongs to another resctrl group
 * (libvirt <cachetune> puts vCPUs in a control group of its own, <monitor>
 * or another tool in a monitoring group) is left alone: moving a thread
 * would take it out of that group. Every change to resctrl (mkdir, rmdir,
 * tasks writes) is made holding an exclusive flock() on the resctrl root
 * directory, the lock libvirt takes. Groups are removed when their VM goes,
 * when the daemon stops, and (left over from a crash) when it starts. When
 * the kernel has no RMID left, creation is retried with a growing backoff,
 * not every cycle. docs/metrics.md lists what is exported. */
#ifndef NL_RESCTRL_H
#define NL_RESCTRL_H

#include "sampler.h"

int nl_resctrl_source_init(struct nl_state *st, void **priv);
int nl_resctrl_source_sample(struct nl_state *st, void *priv);
void nl_resctrl_source_free(struct nl_state *st, void *priv);

#endif
