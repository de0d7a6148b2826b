/* The greedy family: VMs in priority order each take the best feasible
 * home for themselves (nl_plan_choose_greedy()).
 *   locality  weight: memory intensity x remote share, so the VMs that lose
 *             most to remote memory go first; makes room
 *   simple    the highest LLC miss rate first (the paper's Simple): VMs
 *             with a higher miss rate get the good layout first and the
 *             ones with a lower miss rate make room, lowest first (its
 *             case 1-1: the low-miss resident's memory moves away, its
 *             layout gets worse at almost no cost to it); a VM is to be
 *             evicted only when no room can be made anywhere */
#include "engine.h"

#include <math.h>

static double intensity_or_0(const struct nl_vm_features *f)
{
	return isnan(f->intensity) ? 0 : f->intensity;
}

static double locality_key(const struct nl_plan_ctx *c, size_t v)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	double l = isnan(f->locality) ? 1 : f->locality;

	return intensity_or_0(f) * (1 - l);
}

static double simple_key(const struct nl_plan_ctx *c, size_t v)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	return isnan(f->llc_misses_per_second) ? intensity_or_0(f)
					       : f->llc_misses_per_second;
}

/* Under simple, lower-miss VMs make room for higher-miss ones, memory-
 * intensive or not. */
static bool simple_donor_ok(const struct nl_plan_ctx *c, size_t u, size_t v)
{
	return simple_key(c, u) < simple_key(c, v);
}

const struct nl_hint_policy nl_hint_policy_locality = {
	.name = "locality",
	.makes_room = true,
	.order_key = locality_key,
	.choose = nl_plan_choose_greedy,
};

const struct nl_hint_policy nl_hint_policy_simple = {
	.name = "simple",
	.makes_room = true,
	.order_key = simple_key,
	.choose = nl_plan_choose_greedy,
	.donor_ok = simple_donor_ok,
	.donor_key = simple_key,
};
