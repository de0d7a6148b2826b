/* asymsched: cut the remote traffic of the highest-bandwidth VMs, moving
 * as little memory as possible (after Lepers et al., AsymSched).
 *
 * Once per cycle (prepare), for the K highest-bandwidth memory-intensive
 * VMs, every combination of "stay" or a home per VM is tried (a VM that
 * already has a plan keeps its home). Score: the share of their memory
 * traffic that is local. Among the combinations within 10% of the best
 * score, the one that moves the least memory wins. A VM without a plan
 * moves only by that joint choice (c->pre); VMs with a plan are re-chosen
 * greedily, so a published plan can still move or be withdrawn. */
#include "engine.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ASYM_MAX_K 4
#define ASYM_MAX_COMBOS 4096

/* The VMs of the joint choice and their options: opt[i][0] is "stay",
 * opt[i][1..radix[i]) the homes tried. */
struct asym {
	int k;
	size_t sel[ASYM_MAX_K];
	int group[ASYM_MAX_K];
	int radix[ASYM_MAX_K];
	struct nl_plan_option (*opt)[NL_MAX_NODES + 1];
	double isum;               /* their intensities */
};

static double asym_key(const struct nl_plan_ctx *c, size_t v)
{
	const struct nl_vm_features *f = &c->r->vmf[v];

	return isnan(f->intensity) ? 0 : f->intensity;
}

/* The largest K with (nodes + 1)^K combinations at most ASYM_MAX_COMBOS. */
static int asym_k(int radix)
{
	int K = ASYM_MAX_K;

	while (K > 0) {
		long p = 1;

		for (int i = 0; i < K; i++)
			p *= radix;
		if (p <= ASYM_MAX_COMBOS)
			break;
		K--;
	}
	return K;
}

/* The top K by bandwidth, whatever their group, into a->sel. Return 0 or
 * -ENOMEM. */
static int asym_select(const struct nl_plan_ctx *c, const struct nl_plan_order *ord,
		       size_t nord, int K, struct asym *a)
{
	const struct nl_plan_order **top = calloc(nord ? nord : 1, sizeof(*top));
	size_t ntop = 0;

	if (!top)
		return -ENOMEM;
	for (size_t i = 0; i < nord; i++) {
		const struct nl_vm_features *f = &c->r->vmf[ord[i].v];

		if (f->measured && f->intensive && !isnan(f->locality) &&
		    !isnan(f->intensity))
			top[ntop++] = &ord[i];
	}
	for (int i = 0; i < K && (size_t)i < ntop; i++) {
		size_t m = (size_t)i;
		const struct nl_plan_order *t;

		for (size_t j = (size_t)i + 1; j < ntop; j++)
			if (c->r->vmf[top[j]->v].intensity > c->r->vmf[top[m]->v].intensity)
				m = j;
		t = top[i];
		top[i] = top[m];
		top[m] = t;
		a->sel[a->k] = top[i]->v;
		a->group[a->k] = top[i]->group;
		a->k++;
	}
	free(top);
	return 0;
}

/* The options of every selected VM. */
static void asym_options(const struct nl_plan_ctx *c, struct asym *a)
{
	for (int i = 0; i < a->k; i++) {
		const struct nl_vm_features *f = &c->r->vmf[a->sel[i]];
		const struct nl_plan *g = nl_plan_guest(c, a->sel[i]);
		int pref = nl_plan_preferred_home(g);
		struct nl_plan_option *o = a->opt[i];

		memset(&o[0], 0, sizeof(o[0]));
		o[0].home = NL_PLAN_HOME_NONE;
		o[0].feasible = true;
		o[0].l_after = f->locality;
		a->radix[i] = c->nn + 1;
		if (a->group[i] != NL_PLAN_OTHER && pref >= 0) {
			/* a plan holds: its home is fixed (or "stay" when it
			 * does not fit right now) */
			nl_plan_eval_home(c, a->sel[i], pref, true, g, &o[1]);
			a->radix[i] = o[1].feasible ? 2 : 1;
			if (o[1].feasible)
				o[0].feasible = false;
		} else if (a->group[i] != NL_PLAN_OTHER) {
			a->radix[i] = 1;
		} else {
			for (int h = 0; h < c->nn; h++) {
				nl_plan_eval_home(c, a->sel[i], h, true, NULL, &o[h + 1]);
				if (o[h + 1].gain <= NL_PLAN_EPS)
					o[h + 1].feasible = false;
			}
		}
		a->isum += f->intensity;
	}
}

/* Combination cb: false when it does not fit the host (or two choices
 * share a donor); else its score and the bytes it moves. */
static bool asym_eval(const struct nl_plan_ctx *c, const struct asym *a, long cb,
		      double *score, double *cost)
{
	double mem[NL_MAX_NODES], cpu[NL_MAX_NODES], num = 0;
	size_t used[ASYM_MAX_K * NL_HINT_MAX_DONORS];
	int nused = 0;
	bool ok = true;
	long x = cb;

	*cost = 0;
	memcpy(mem, c->mem_avail, sizeof(mem));
	memcpy(cpu, c->cpu_avail, sizeof(cpu));
	for (int i = 0; i < a->k && ok; i++) {
		int ch = (int)(x % a->radix[i]);
		const struct nl_plan_option *o = &a->opt[i][ch];
		const struct nl_vm_features *f = &c->r->vmf[a->sel[i]];
		size_t v = a->sel[i];

		x /= a->radix[i];
		if (!o->feasible)
			return false;
		if (ch == 0) {
			num += f->intensity * f->locality;
			continue;
		}
		num += f->intensity * o->l_after;
		*cost += o->bytes_total;
		for (int n = 0; n < c->nn; n++) {
			if (n != o->home)
				mem[n] += c->mem[v][n];
			cpu[n] += f->cpu_node_cores[n];
		}
		mem[o->home] -= nl_plan_vm_mem(c, v) - c->mem[v][o->home];
		cpu[o->home] -= f->cpu_cores;
		for (int d = 0; d < o->ndonors; d++) {
			for (int u = 0; u < nused; u++)
				ok &= used[u] != o->donors[d].vm;
			for (int s2 = 0; s2 < a->k; s2++)
				ok &= a->sel[s2] != o->donors[d].vm;
			used[nused++] = o->donors[d].vm;
			mem[o->donors[d].from] += o->donors[d].bytes;
			mem[o->donors[d].to] -= o->donors[d].bytes;
		}
	}
	for (int n = 0; ok && n < c->nn; n++)
		ok = mem[n] >= -0.5 && cpu[n] >= -1e-6;
	*score = a->isum > 0 ? num / a->isum : 0;
	return ok;
}

/* Two passes: the best score, then the cheapest combination within 10%
 * of it. Returns the combination, or -1 when none fits. */
static long asym_pick(const struct nl_plan_ctx *c, const struct asym *a)
{
	long combos = 1, best_combo = -1, pick = -1;
	double best_score = -1, pick_cost = 0, pick_score = 0;

	for (int i = 0; i < a->k; i++)
		combos *= a->radix[i];
	for (int pass = 0; pass < 2; pass++) {
		for (long cb = 0; cb < combos; cb++) {
			double score, cost;

			if (!asym_eval(c, a, cb, &score, &cost))
				continue;
			if (pass == 0) {
				if (score > best_score + NL_PLAN_EPS) {
					best_score = score;
					best_combo = cb;
				}
			} else if (score >= 0.9 * best_score - NL_PLAN_EPS &&
				   (pick < 0 || cost < pick_cost - 1 ||
				    (fabs(cost - pick_cost) <= 1 && score > pick_score + NL_PLAN_EPS))) {
				pick = cb;
				pick_cost = cost;
				pick_score = score;
			}
		}
		if (best_combo < 0)
			break;
	}
	return pick;
}

/* Marks c->pre[v] with the chosen option of each VM without a plan that
 * moves. Out of memory: no joint choice this cycle. */
static void asym_prepare(struct nl_plan_ctx *c, const struct nl_plan_order *ord,
			 size_t nord)
{
	struct asym a;
	long pick, x;

	memset(&a, 0, sizeof(a));
	if (asym_select(c, ord, nord, asym_k(c->nn + 1), &a) < 0 || a.k == 0)
		return;
	a.opt = calloc((size_t)a.k, sizeof(*a.opt));
	if (!a.opt)
		return;
	asym_options(c, &a);
	pick = asym_pick(c, &a);
	x = pick;
	for (int i = 0; pick >= 0 && i < a.k; i++) {
		int ch = (int)(x % a.radix[i]);

		x /= a.radix[i];
		if (ch > 0 && a.group[i] == NL_PLAN_OTHER) {
			c->pre[a.sel[i]] = a.opt[i][ch];
			c->has_pre[a.sel[i]] = true;
		}
	}
	free(a.opt);
}

static bool asym_choose(const struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			struct nl_plan_option *best)
{
	if (nl_plan_group(g) != NL_PLAN_OTHER)
		return nl_plan_choose_greedy(c, v, g, best);
	/* only the joint choice moves a new VM */
	if (!c->has_pre[v])
		return false;
	nl_plan_eval_home(c, v, c->pre[v].home, true, NULL, best);
	return best->feasible && best->gain > NL_PLAN_EPS;
}

const struct nl_hint_policy nl_hint_policy_asymsched = {
	.name = "asymsched",
	.makes_room = true,
	.order_key = asym_key,
	.prepare = asym_prepare,
	.choose = asym_choose,
};
