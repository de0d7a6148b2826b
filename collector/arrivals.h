/* Expected arrivals: the profiles source hosts send ahead of a live
 * migration (POST /api/v1/arrivals, docs/api.md "Arrivals").
 *
 * The registry is the one piece of state that two threads write: the API
 * registers and withdraws arrivals (HTTP threads), the hint engine matches
 * them against the VMs that arrive (sampler thread). Everything in it is
 * behind one mutex, and every reader gets copies, so no pointer into the
 * registry escapes it. Implemented in collector/hints/arrivals.c.
 *
 * Life of an arrival:
 *   register   validated against the newest snapshot (a UUID already
 *              running here, a duplicate, a profile bigger than any node or
 *              an unusable TTL is refused and changes nothing), ranked under
 *              its policy with the memory and CPU of the other pending
 *              arrivals counted as taken, kept PENDING with its room-making
 *              hints (published in GET /api/v1/hints at once, and in every
 *              snapshot's report while it is pending);
 *   arrive     the engine sees a snapshot VM with the arrival's UUID (or
 *              name) whose `arrival` is not NL_ARRIVAL_NONE: it becomes
 *              ARRIVED, its room-making hints are withdrawn, and the VM's
 *              own hints are published in that same cycle with the profile
 *              as evidence;
 *   expire     a PENDING arrival older than its TTL is dropped; an ARRIVED
 *              one is listed for NL_ARRIVAL_KEEP_SECONDS more, then dropped;
 *   withdraw   DELETE /api/v1/arrivals/UUID. */
#ifndef NL_ARRIVALS_H
#define NL_ARRIVALS_H

#include <stdbool.h>
#include <stddef.h>

#include "hints.h"

#define NL_ARRIVAL_TTL_DEFAULT 600.0    /* seconds (10 minutes) */
#define NL_ARRIVAL_TTL_MAX 86400.0
#define NL_ARRIVAL_KEEP_SECONDS 300.0   /* ARRIVED entries listed this long */
#define NL_ARRIVALS_MAX 64              /* pending + arrived at once */
/* A VM that arrived (snapshot `arrival` not NL_ARRIVAL_NONE) this recently
 * with no expectation gets its first plan after one window. */
#define NL_ARRIVAL_NEW_SECONDS 30.0
#define NL_ARRIVAL_MAX_VCPUS 4096       /* a profile's vcpus, at most */
#define NL_ARRIVAL_MAX_IOTHREADS 1024

enum nl_arrival_state { NL_ARRIVAL_PENDING = 1, NL_ARRIVAL_ARRIVED = 2 };

/* The placement to migrate with (virDomainMigrate3's
 * VIR_MIGRATE_PARAM_DEST_XML, virsh migrate --xml): heap strings. */
struct nl_dest_placement {
	char *numatune_xml;    /* <numatune><memory mode='strict' nodeset='..'/>..</numatune> */
	char *cputune_xml;     /* <cputune> vcpupin per vCPU, emulatorpin, iothreadpin </cputune> */
	char *migrate_param;   /* "VIR_MIGRATE_PARAM_DEST_XML (\"destination_xml\"): ..." */
	char *virsh_usage;     /* the virsh dumpxml / edit / migrate --xml steps */
};

struct nl_arrival_entry {
	char uuid[NL_UUID_LEN];
	char vm[NL_NAME_MAX];
	enum nl_policy policy;
	enum nl_arrival_state state;
	struct nl_profile profile;
	int nodes[NL_MAX_NODES];       /* the chosen kernel node ids */
	int nnodes;
	char reason[256];              /* why the chosen node(s) won */
	struct nl_placement *ranking;  /* every node under the policy, best
					* first, and the room-making hints */
	struct nl_dest_placement placement;
	double created, expires;       /* wall clock, seconds */
	double arrived;                /* wall clock the engine matched it; 0 */
	enum nl_arrival how;           /* how it arrived, once ARRIVED */
};

struct nl_arrivals;

struct nl_arrivals *nl_arrivals_new(void);
void nl_arrivals_free(struct nl_arrivals *a);

/* Register the arrival of profile p (vm and uuid required) under `policy`
 * with a TTL of ttl seconds (<= 0: NL_ARRIVAL_TTL_DEFAULT), ranked on
 * snapshot s. On success *out (optional) gets a deep copy of the new entry.
 * Errors, with a message for the client in err:
 *   -EINVAL    missing uuid or vm, TTL above NL_ARRIVAL_TTL_MAX
 *   -EEXIST    a VM with this UUID is already running here
 *   -EALREADY  this UUID is already registered and not expired
 *   -E2BIG     the profile needs more memory or CPU than any node has in all
 *   -ENOSPC    nothing fits now (with other pending arrivals counted) or
 *              the registry is full
 *   -ENODATA   no topology or hint report yet
 *   -ENOMEM */
int nl_arrivals_register(struct nl_arrivals *a, const struct nl_snapshot *s,
			 const struct nl_profile *p, enum nl_policy policy,
			 double ttl, double now, struct nl_arrival_entry **out,
			 char *err, size_t errlen);
/* Withdraw a registration: 0, or -ENOENT (not registered or expired). */
int nl_arrivals_withdraw(struct nl_arrivals *a, const char *uuid, double now);
/* Copies of the entries not expired at `now`, oldest first; *out is NULL
 * when *n is 0. Return 0 or -ENOMEM. */
int nl_arrivals_list(struct nl_arrivals *a, double now,
		     struct nl_arrival_entry **out, size_t *n);
/* Copies of the room-making hints of the pending arrivals under policy p. */
int nl_arrivals_room_hints(struct nl_arrivals *a, enum nl_policy p, double now,
			   struct nl_hint **out, size_t *n);
/* The read-only "what if" of POST /api/v1/placement with the pending
 * arrivals' memory and CPU counted as taken (a pending arrival of p's own
 * UUID excepted): nl_hints_place_with() with the registry's
 * reservations. Same returns. */
int nl_arrivals_place(struct nl_arrivals *a, const struct nl_snapshot *s,
		      const struct nl_profile *p, enum nl_policy policy, double now,
		      struct nl_placement **out);
/* Bumped by every register, withdraw, arrival and expiry. */
unsigned long nl_arrivals_generation(struct nl_arrivals *a);

void nl_arrival_entry_free_contents(struct nl_arrival_entry *e);
void nl_arrival_entries_free(struct nl_arrival_entry *e, size_t n);

/* The engine reads and updates the registry each cycle (nl_hints_update):
 * expiry, matching arrived VMs, the room-making hints in the report. NULL
 * detaches it. The registry must outlive the engine's use of it. */
void nl_hints_set_arrivals(struct nl_hints *e, struct nl_arrivals *a);

#endif
