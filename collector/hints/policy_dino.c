/* dino: spread memory-intensive VMs over the nodes (after Blagodurov et
 * al., DINO). c->load holds the memory-intensive load per node as planned
 * so far; a VM moves, with its memory, to the least loaded node that fits
 * when that cuts the contention it sees by at least --hints.enter-gain.
 * The cheapest VMs to move (least memory) go first. Gain: contention
 * before minus after, as shares of the host's memory-intensive load. */
#include "engine.h"

#include <math.h>

static double dino_key(const struct nl_plan_ctx *c, size_t v)
{
	/* cheapest to move first */
	return -(double)c->s->vms[v].mem_total_bytes;
}

static void dino_prepare(struct nl_plan_ctx *c, const struct nl_plan_order *ord,
			 size_t n)
{
	(void)ord;
	for (size_t v = 0; v < n; v++) {
		const struct nl_vm_features *f = &c->r->vmf[v];

		if (f->measured && f->intensive && !isnan(f->intensity))
			for (int k = 0; k < c->nn; k++)
				c->load[k] += f->intensity * f->vcpu_share[k];
	}
}

/* Intensity of the other memory-intensive VMs per node, as planned so
 * far, without v's own share. */
static void load_without(const struct nl_plan_ctx *c, size_t v, double *p)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	double iv = f->intensive && !isnan(f->intensity) ? f->intensity : 0;

	for (int n = 0; n < c->nn; n++) {
		double share = c->busy[v] ? 0 : f->vcpu_share[n];

		p[n] = c->load[n] - iv * share;
		if (p[n] < 0)
			p[n] = 0;
	}
}

static double load_total(const struct nl_plan_ctx *c)
{
	double t = 0;

	for (int n = 0; n < c->nn; n++)
		t += c->load[n];
	return t;
}

/* Where v runs now: most of its vCPU time, else most of its memory. */
static int current_node(const struct nl_plan_ctx *c, size_t v)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	int cur = -1;

	for (int n = 0; n < c->nn; n++)
		if (f->vcpu_share[n] > 0 && (cur < 0 || f->vcpu_share[n] > f->vcpu_share[cur]))
			cur = n;
	return cur >= 0 ? cur : f->mem_home;
}

/* Contention before (where v runs now) and after (on o->home). */
static void dino_score(const struct nl_plan_ctx *c, size_t v, struct nl_plan_option *o)
{
	double p[NL_MAX_NODES], total = load_total(c);
	int cur = current_node(c, v);

	load_without(c, v, p);
	if (total <= 0 || cur < 0 || o->home < 0)
		return;
	o->cont_before = p[cur] / total;
	o->cont_after = p[o->home] / total;
	if (o->home != cur) {
		o->gain = o->cont_before - o->cont_after;
		o->gain_metric = "contention";
	}
}

static bool dino_choose(const struct nl_plan_ctx *c, size_t v, const struct nl_plan *g,
			struct nl_plan_option *best)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	double p[NL_MAX_NODES], total = load_total(c);
	struct nl_plan_option o;
	bool found = false, any_fit = false;
	int cur = current_node(c, v), pref = nl_plan_preferred_home(g);

	if (!f->intensive || cur < 0)
		return false;
	load_without(c, v, p);
	/* spread: the least loaded node that fits, if it cuts contention */
	for (int h = 0; h < c->nn; h++) {
		nl_plan_eval_home(c, v, h, true, pref == h ? g : NULL, &o);
		if (!o.feasible)
			continue;
		any_fit = true;
		dino_score(c, v, &o);
		if (h != cur && o.gain < c->cfg->enter_gain)
			continue;
		if (h == cur && o.gain <= NL_PLAN_EPS)
			continue;
		if (!found || p[h] < p[best->home] - 0.1 * total ||
		    (fabs(p[h] - p[best->home]) <= 0.1 * total &&
		     (h == pref || (best->home != pref && nl_plan_better(c, v, &o, best))))) {
			*best = o;
			found = true;
		}
	}
	if (!found && !any_fit && c->nn > 0) {
		nl_plan_evict_option(c, v, best);
		found = best->gain >= c->cfg->enter_gain;
	}
	return found;
}

/* The kept home carries v's whole intensity from now on. */
static void dino_charge(struct nl_plan_ctx *c, size_t v, int home, bool was_busy)
{
	const struct nl_vm_features *f = &c->r->vmf[v];
	double iv = f->intensive && !isnan(f->intensity) ? f->intensity : 0;

	if (home < 0 || was_busy)
		return;
	for (int n = 0; n < c->nn; n++)
		c->load[n] -= iv * f->vcpu_share[n];
	c->load[home] += iv;
}

const struct nl_hint_policy nl_hint_policy_dino = {
	.name = "dino",
	.makes_room = true,
	.order_key = dino_key,
	.prepare = dino_prepare,
	.choose = dino_choose,
	.rescore = dino_score,
	.charge = dino_charge,
};
