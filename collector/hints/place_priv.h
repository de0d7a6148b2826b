/* Placement of an incoming VM (place.c, place_rank.c): the context one
 * ranking works in. Private to collector/hints/. */
#ifndef NL_HINTS_PLACE_PRIV_H
#define NL_HINTS_PLACE_PRIV_H

#include <sys/types.h>

#include "hints_priv.h"

/* One ranking of this host's nodes for profile p under policy pol. Node
 * arrays are by node index. */
struct nl_place_ctx {
	const struct nl_snapshot *s;
	const struct nl_hint_report *r;
	const struct nl_hint_config *cfg;
	const struct nl_profile *p;
	enum nl_policy pol;
	const struct nl_place_reserve *rv;     /* may be NULL */
	int nn;
	double mem_need, cpu_need;             /* bytes, cores */
	bool intensive;                        /* the incoming VM */
	ssize_t self;                          /* snapshot VM with its UUID, -1 */
	double avail[NL_MAX_NODES];    /* free above the reserve, less reservations */
	double spare[NL_MAX_NODES];    /* spare cores, less reservations */
	double own_mem[NL_MAX_NODES];  /* `self`'s memory and CPU already here */
	double own_cpu[NL_MAX_NODES];
	double total_int;              /* the host's memory-intensive load */
};

/* Rank node index h into *rk (zeroed by the caller): feasibility, the
 * room-making moves under the policy, the policy's score and reason. */
void nl_place_rank_node(const struct nl_place_ctx *pc, int h,
			struct nl_node_rank *rk);
/* A set of nodes for a VM no single node can take: fills pl->chosen,
 * pl->nchosen, pl->fits, pl->recommended_node and pl->reason. Returns
 * false when no set of nodes has the room either. */
bool nl_place_wide(const struct nl_place_ctx *pc, struct nl_placement *pl);

#endif
