/* Expected arrivals inside the hint engine: what the registry
 * (arrivals.c) hands the engine each cycle, and the pieces the engine's
 * files share about it (arrival_hints.c, arrival_dest.c). Private to
 * collector/hints/; the registry's interface is collector/arrivals.h. */
#ifndef NL_HINTS_ARRIVALS_PRIV_H
#define NL_HINTS_ARRIVALS_PRIV_H

#include "arrivals.h"
#include "engine.h"

/* An arrival that was expected and is here: the engine plans the VM
 * toward its chosen node(s) at once (arrival_hints.c). */
struct nl_arrival_dir {
	size_t v;                      /* snapshot VM */
	int pol;                       /* row of the engine's table */
	int nodes[NL_MAX_NODES];       /* chosen node indexes */
	int nnodes;
	bool matched_now;              /* matched in this cycle */
	enum nl_arrival how;
	char source_host[64];
	/* the profile's numbers, the hints' evidence */
	enum nl_hint_inputs inputs;
	const char *metric;            /* static string */
	double intensity, llc_mpki, llc_misses_per_second;
	double dram_bytes_per_second, proxy;
};

/* A resident VM giving up memory for a pending arrival under one row. */
struct nl_arrival_held {
	int pol;
	size_t v;
};

/* What the registry hands one engine cycle (copies: nothing points into
 * the registry). */
struct nl_arrival_cycle {
	struct nl_place_reserve rv;    /* pending arrivals, by node index */
	struct nl_arrival_dir dirs[NL_ARRIVALS_MAX];
	int ndirs;
	struct nl_arrival_held held[NL_PLACE_RESERVE_DONORS];
	int nheld;
	struct nl_hint_vec room[NL_POLICY_MAX];   /* room-making hints, by row */
	int pending;                   /* arrivals still pending */
};

/* arrivals.c, under the registry's lock: expire entries at
 * s->timestamp, match the snapshot's arriving VMs, and fill *c for an
 * engine whose table is `table` (n rows). Return 0 or -ENOMEM (then *c
 * holds nothing to free). */
int nl_arrivals_cycle(struct nl_arrivals *a, const struct nl_snapshot *s,
		      const struct nl_hint_policy *const *table, int n,
		      struct nl_arrival_cycle *c);
void nl_arrival_cycle_free(struct nl_arrival_cycle *c);

/* arrival_dest.c: the destination placement for profile p on kernel
 * nodes nodes[0..n). Return 0 or -ENOMEM. */
int nl_arrival_dest_build(const struct nl_snapshot *s, const struct nl_profile *p,
			  const int *nodes, int n, struct nl_dest_placement *out);
void nl_dest_placement_free(struct nl_dest_placement *d);

/* arrival_hints.c: the arrival of VM v under the row being planned, or
 * NULL; with any_row, under any row. */
const struct nl_arrival_dir *nl_arrival_dir_of(const struct nl_plan_ctx *c, size_t v,
					       bool any_row);
/* The windows to confirm VM v's first plan g with: 1 for a VM that
 * arrived (migrated, restored) within NL_ARRIVAL_NEW_SECONDS with no
 * expectation under this row, else --hints.confirm-windows. */
unsigned nl_arrival_confirm(const struct nl_plan_ctx *c, size_t v, const struct nl_plan *g);
/* An expected arrival's own plan toward its chosen node(s), at once and
 * without confirmation. Returns true when it planned VM v this cycle
 * (its hints are in c->out, guest_busy[v] set). */
bool nl_arrival_plan(struct nl_plan_ctx *c, size_t v, const struct nl_arrival_dir *d,
		     bool *guest_busy);
/* What the hints of VM v's plan g say first about its arrival ("arrival
 * expected (profile from HOST): ", "arrived (migrated) without a profile:
 * confirmed over 1 window; "), or "". */
void nl_arrival_prefix(const struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
		       char *buf, size_t len);

#endif
