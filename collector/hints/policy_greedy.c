/* The greedy family: VMs in priority order each take the best feasible
 * home for themselves (nl_plan_choose_greedy()).
 *   locality  weight: memory intensity x remote share, so the VMs that lose
 *             most to remote memory go first; makes room
 *   simple    the highest LLC miss rate first; makes no room, so a VM that
 *             fits nowhere as the host stands is to be evicted */
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

const struct nl_hint_policy nl_hint_policy_locality = {
	.name = "locality",
	.makes_room = true,
	.order_key = locality_key,
	.choose = nl_plan_choose_greedy,
};

const struct nl_hint_policy nl_hint_policy_simple = {
	.name = "simple",
	.makes_room = false,
	.order_key = simple_key,
	.choose = nl_plan_choose_greedy,
};
