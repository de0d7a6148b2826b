/* Stability: the rules that turn a policy's per-cycle opinions into plans
 * an orchestrator can act on. A choice becomes a published plan only after
 * it held for --hints.confirm-windows windows with at least
 * --hints.enter-gain; it stays published while its gain is at least
 * --hints.exit-gain and it still fits; it moves to another node only after
 * --hints.cooldown; an unconfirmed published plan expires after
 * --hints.ttl. A VM that just arrived without an expectation confirms its
 * first plan over one window (c->confirm); an expected arrival's plan is
 * published at once (nl_plan_force(), arrival_hints.c). */
#include "engine.h"

#include <string.h>

void nl_plan_reset(struct nl_plan *g)
{
	memset(g, 0, sizeof(*g));
	g->home = NL_PLAN_HOME_NONE;
	g->cand = NL_PLAN_HOME_NONE;
}

static bool cooled(const struct nl_plan_ctx *c, const struct nl_plan *g)
{
	return !g->changed_ever ||
	       (double)(c->now - g->changed_ns) >= c->cfg->cooldown_seconds * 1e9;
}

bool nl_plan_expired(const struct nl_plan_ctx *c, const struct nl_plan *g)
{
	return g->active &&
	       (double)(c->now - g->confirmed_ns) > c->cfg->ttl_seconds * 1e9;
}

static void keep_donors(const struct nl_plan_ctx *c, struct nl_plan *g,
			const struct nl_plan_option *o)
{
	g->ndonors = o->ndonors;
	for (int d = 0; d < o->ndonors; d++) {
		g->donors[d].key = c->st[o->donors[d].vm].keyhash;
		g->donors[d].dest = o->donors[d].to;
	}
}

static void activate(struct nl_plan_ctx *c, struct nl_plan *g,
		     const struct nl_plan_option *o)
{
	g->active = true;
	g->home = o->home;
	g->created = c->s->timestamp;
	g->changed_ns = c->now;
	g->changed_ever = true;
	g->confirmed_ns = c->now;
	g->held = 0;
	g->weak_n = 0;
	g->cand = NL_PLAN_HOME_NONE;
	g->cand_n = 0;
	g->confirm_used = c->confirm;
	g->short_confirm = c->confirm < c->cfg->confirm_windows;
	g->arrival = false;
	keep_donors(c, g, o);
}

void nl_plan_force(struct nl_plan_ctx *c, struct nl_plan *g,
		   const struct nl_plan_option *o)
{
	activate(c, g, o);
	g->confirm_used = 0;
	g->short_confirm = false;
	g->arrival = true;
	g->held++;
}

void nl_plan_hold(struct nl_plan_ctx *c, struct nl_plan *g,
		  const struct nl_plan_option *o)
{
	g->held++;
	g->weak_n = 0;
	g->confirmed_ns = c->now;
	keep_donors(c, g, o);
}

void nl_plan_withdraw(struct nl_plan_ctx *c, struct nl_plan *g)
{
	bool was = g->active;

	g->active = false;
	g->home = NL_PLAN_HOME_NONE;
	g->held = g->weak_n = g->cand_n = 0;
	g->cand = NL_PLAN_HOME_NONE;
	g->ndonors = 0;
	g->arrival = g->short_confirm = false;
	if (was) {
		g->changed_ns = c->now;
		g->changed_ever = true;
	}
}

/* Count one more window for candidate `home`. */
static void candidate(struct nl_plan *g, int home)
{
	if (g->cand == home) {
		g->cand_n++;
	} else {
		g->cand = home;
		g->cand_n = 1;
	}
}

/* A published plan: withdrawn when it no longer fits or stayed weak,
 * moved when a better home held long enough, else kept. */
static const struct nl_plan_option *stabilise_active(struct nl_plan_ctx *c,
						     struct nl_plan *g,
						     const struct nl_plan_option *cur,
						     const struct nl_plan_option *best,
						     bool *publish)
{
	const struct nl_hint_config *cfg = c->cfg;

	/* never keep a plan that no longer fits the host */
	if (!cur->feasible) {
		nl_plan_withdraw(c, g);
		return NULL;
	}
	if (cur->gain < cfg->exit_gain) {
		if (++g->weak_n >= cfg->confirm_windows) {
			nl_plan_withdraw(c, g);
			return NULL;
		}
	} else {
		g->weak_n = 0;
	}
	if (best && best->feasible && best->home != g->home &&
	    best->gain >= cur->gain + cfg->enter_gain) {
		candidate(g, best->home);
		if (g->cand_n >= cfg->confirm_windows && cooled(c, g)) {
			activate(c, g, best);
			g->held++;
			*publish = true;
			return best;
		}
	} else {
		g->cand = NL_PLAN_HOME_NONE;
		g->cand_n = 0;
	}
	g->held++;
	g->confirmed_ns = c->now;
	keep_donors(c, g, cur);
	*publish = true;
	return cur;
}

const struct nl_plan_option *nl_plan_stabilise(struct nl_plan_ctx *c,
					       struct nl_plan *g,
					       const struct nl_plan_option *cur,
					       const struct nl_plan_option *best,
					       bool *publish)
{
	const struct nl_hint_config *cfg = c->cfg;

	*publish = false;
	if (g->active)
		return stabilise_active(c, g, cur, best, publish);
	if (!best || !best->feasible || best->gain < cfg->enter_gain) {
		g->cand = NL_PLAN_HOME_NONE;
		g->cand_n = 0;
		return NULL;
	}
	candidate(g, best->home);
	if (g->cand_n >= c->confirm && cooled(c, g)) {
		activate(c, g, best);
		g->held++;
		*publish = true;
	} else {
		/* being confirmed: hold the room, publish nothing yet */
		keep_donors(c, g, best);
	}
	return best;
}
