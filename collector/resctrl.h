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
 * not every cycle. docs/metrics.md lists what is exported.
 *
 * This header is the source's public face (what the snapshot carries);
 * the source's row and internals are in resctrl_priv.h. */
#ifndef NL_RESCTRL_H
#define NL_RESCTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* ---- the summary the source publishes (nl_snapshot.resctrl) ---- */

#define NL_MAX_L3_DOMAINS 64

/* nl_resctrl_dom.valid bits */
#define NL_RESCTRL_LLC   1u
#define NL_RESCTRL_TOTAL 2u
#define NL_RESCTRL_LOCAL 4u

struct nl_resctrl_dom {
	int id;                    /* L3 cache id of mon_data/mon_L3_<id> */
	uint32_t valid;            /* NL_RESCTRL_* read this cycle */
	uint64_t llc_occupancy;    /* bytes, gauge */
	uint64_t mbm_total;        /* bytes, cumulative */
	uint64_t mbm_local;        /* bytes, cumulative */
};

enum nl_resctrl_state {
	NL_RESCTRL_MONITORED,      /* our group holds the VM's threads */
	NL_RESCTRL_FOREIGN,        /* threads in another resctrl group: skipped */
	NL_RESCTRL_NO_RMID,        /* no RMID free: retried with backoff */
	NL_RESCTRL_ERROR,          /* group creation failed otherwise */
	NL_RESCTRL_PENDING,        /* not created yet: resctrl is locked by
				      someone else (libvirt) this cycle */
};

const char *nl_resctrl_state_name(enum nl_resctrl_state s);

struct nl_resctrl_vm {
	char name[NL_NAME_MAX];
	char group[NL_NAME_MAX];   /* mon_groups/<group>, "" none */
	enum nl_resctrl_state state;
	int ndom;
	struct nl_resctrl_dom dom[NL_MAX_L3_DOMAINS];
};

struct nl_resctrl {
	bool active;               /* mounted with L3 monitoring */
	uint32_t features;         /* NL_RESCTRL_* the kernel offers */
	bool rmid_exhausted;       /* a group waits for a free RMID */
	uint64_t groups;           /* our monitoring groups */
	struct nl_resctrl_vm *vms; /* sorted by name; in a snapshot, the
				      snapshot's own copy */
	size_t nvms;
};

#endif
