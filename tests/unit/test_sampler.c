/* The sampler on the two-socket fixture: the built-in registry as the
 * daemon runs it, and sources of a test's own (the "new counter source"
 * recipe of docs/internals.md: hooks plus one const struct nl_source row)
 * that fail, are not wanted, or publish, next to the real ones. */
#include "harness.h"

#include <errno.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "memplace.h"
#include "procscan.h"
#include "prom.h"
#include "sampler.h"
#include "schedstat.h"
#include "snapshot.h"
#include "state.h"
#include "threads.h"
#include "topology.h"
#include "vms.h"

#define FIX NL_SRCDIR "/tests/fixtures/two-socket"

static void fixture_config(struct nl_config *cfg)
{
	nl_config_defaults(cfg);
	cfg->path_procfs = FIX "/proc";
	cfg->path_sysfs = FIX "/sys";
	cfg->discovery = NL_DISCOVERY_PROC;
}

static const struct nl_collector_stat *stat_of(const struct nl_snapshot *s,
					       const char *name)
{
	for (int i = 0; i < s->ncollectors; i++)
		if (strcmp(s->collectors[i].name, name) == 0)
			return &s->collectors[i];
	return NULL;
}

/* The /metrics text of a snapshot contains line. */
static bool metrics_have(const struct nl_snapshot *s, const char *line)
{
	struct nl_buf b;
	bool found;

	nl_buf_init(&b);
	CHECK_EQ_INT(nl_prom_encode(s, s->timestamp, &b), 0);
	found = b.data && strstr(b.data, line) != NULL;
	if (!found)
		fprintf(stderr, "  no \"%s\" in:\n%s\n", line,
			b.data ? b.data : "(nothing)");
	nl_buf_free(&b);
	return found;
}

/* ---- a fake source, written the way the recipe says ---- */

static struct {
	int init_rc, sample_rc, publish_rc;
	int inits, samples, publishes, frees;
	uint64_t published_gen;    /* gen of the snapshot publish saw */
	uint64_t visible_gen;      /* gen nl_sampler_get() gave meanwhile */
	char order[16];            /* free order of fake and fake2 */
} F;

static int priv_token;

static int fake_init(struct nl_state *st, void **priv)
{
	(void)st;
	F.inits++;
	*priv = &priv_token;
	return F.init_rc;
}

static int fake_sample(struct nl_state *st, void *priv)
{
	CHECK(priv == &priv_token);
	CHECK(st->topo_valid);     /* it runs after topology */
	F.samples++;
	return F.sample_rc;
}

/* The snapshot being built is not visible yet: readers still get the
 * previous one. */
static int fake_publish(const struct nl_state *st, void *priv,
			struct nl_snapshot *snap)
{
	struct nl_snapshot *cur = nl_sampler_get(st->sampler);

	CHECK(priv == &priv_token);
	F.publishes++;
	F.published_gen = snap->gen;
	F.visible_gen = cur ? cur->gen : 0;
	nl_snapshot_put(cur);
	return F.publish_rc;
}

static void fake_free(struct nl_state *st, void *priv)
{
	(void)st;
	CHECK(priv == &priv_token);
	F.frees++;
	strncat(F.order, "1", sizeof(F.order) - strlen(F.order) - 1);
}

static const struct nl_source nl_source_fake = {
	.name = "fake",
	.default_enabled = true,
	.required = false,
	.init = fake_init,
	.sample = fake_sample,
	.publish = fake_publish,
	.free = fake_free,
};

static void fake2_free(struct nl_state *st, void *priv)
{
	(void)st;
	(void)priv;
	strncat(F.order, "2", sizeof(F.order) - strlen(F.order) - 1);
}

static int fake2_sample(struct nl_state *st, void *priv)
{
	(void)st;
	(void)priv;
	return 0;
}

static bool never_wanted(const struct nl_config *cfg)
{
	(void)cfg;
	return false;
}

/* Off by default, not wanted by this configuration, required. */
static const struct nl_source nl_source_fake_off = {
	.name = "fake_off", .default_enabled = false, .sample = fake2_sample,
	.free = fake2_free,
};
static const struct nl_source nl_source_fake_unwanted = {
	.name = "fake_unwanted", .default_enabled = true,
	.wanted = never_wanted, .sample = fake2_sample, .free = fake2_free,
};
static const struct nl_source nl_source_fake_required = {
	.name = "fake_required", .default_enabled = true, .required = true,
	.wanted = never_wanted, .sample = fake2_sample, .free = fake2_free,
};

static void fake_reset(void)
{
	memset(&F, 0, sizeof(F));
}

/* topology, procscan, vms, threads, the fake, then sources that must
 * still run after it. */
static struct nl_sampler *sampler_with_fake(const struct nl_config *cfg)
{
	static const struct nl_source *const list[] = {
		&nl_source_topology, &nl_source_procscan, &nl_source_vms,
		&nl_source_threads, &nl_source_fake, &nl_source_schedstat,
		&nl_source_numa_stat, &nl_source_numa_maps,
	};

	return nl_sampler_new_with_sources(cfg, list,
					   (int)(sizeof(list) / sizeof(list[0])));
}

/* ---- tests ---- */

/* The registry the daemon runs, in its order, on the fixture host. */
static void test_builtin_registry(void)
{
	static const char *const order[] = {
		"topology", "procscan", "libvirt", "vms", "threads",
		"schedstat", "numa_stat", "cells", "numa_maps", "devices", "perf",
		"uncore", "resctrl",
	};
	struct nl_config cfg;
	struct nl_sampler *s;
	struct nl_snapshot *snap;
	const struct nl_vm_snap *vm;
	const struct nl_collector_stat *c;

	fixture_config(&cfg);
	/* no PMU on a build machine: the golden test runs without it too */
	CHECK_EQ_INT(nl_config_set_collector(&cfg, "perf", false), 0);
	CHECK_EQ_INT(nl_source_count(), 13);
	for (int i = 0; i < 13; i++) {
		CHECK_STR(nl_source_name(i), order[i]);
		CHECK_EQ_INT(nl_source_index(order[i]), i);
	}
	CHECK(nl_source_name(13) == NULL);
	CHECK_EQ_INT(nl_source_index("cpuplace"), -1);
	CHECK(nl_source_required(nl_source_index("topology")));
	CHECK(!nl_source_required(nl_source_index("numa_maps")));
	CHECK(!nl_source_default_enabled(nl_source_index("resctrl")));

	s = nl_sampler_new(&cfg);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(nl_sampler_get(s) == NULL);
	CHECK_EQ_INT(nl_sampler_cycle(s), 0);
	CHECK_EQ_INT(nl_sampler_cycle(s), 0);
	snap = nl_sampler_get(s);
	CHECK(snap != NULL);
	if (!snap)
		goto out;
	CHECK_EQ_U64(snap->gen, 2);
	CHECK_EQ_U64(snap->samples_total, 2);
	CHECK_EQ_INT(snap->ncollectors, 13);
	for (int i = 0; i < snap->ncollectors && i < 13; i++) {
		c = &snap->collectors[i];
		CHECK_STR(c->name, order[i]);
		/* libvirt: its wanted hook says no with --discovery=proc;
		 * perf: the flag; resctrl: off by default */
		if (!strcmp(c->name, "libvirt") || !strcmp(c->name, "perf") ||
		    !strcmp(c->name, "resctrl")) {
			CHECK(!c->enabled);
			continue;
		}
		CHECK(c->enabled);
		if (!c->success)
			fprintf(stderr, "  collector %s failed\n", c->name);
		CHECK(c->success);
	}
	CHECK_EQ_INT(snap->libvirt_up, -1);
	CHECK(snap->topo_valid && snap->topo.nnodes == 2);
	vm = nl_snapshot_find_vm(snap, "alpha");
	CHECK(vm != NULL);
	if (vm) {
		CHECK_EQ_INT(vm->pid, 4242);
		CHECK_EQ_INT(vm->backend, NL_BACKEND_PROC);
		CHECK_EQ_INT(vm->mem_source, NL_MEM_CGROUP_V2);
		CHECK_EQ_U64(vm->mem_bytes[0], 1614807040);   /* golden file */
		CHECK_EQ_U64(vm->mem_bytes[1], 538968064);
		CHECK(vm->nthreads >= 4);
	}
	CHECK(metrics_have(snap, "numalens_collector_success{collector=\"numa_stat\"} 1\n"));
	nl_snapshot_put(snap);
out:
	nl_sampler_free(s);
}

/* A source whose sample fails reports success 0; the sources after it
 * still run and the snapshot is still published, every cycle. */
static void test_failing_source(void)
{
	struct nl_config cfg;
	struct nl_sampler *s;
	struct nl_snapshot *snap = NULL;
	const struct nl_collector_stat *c;
	const struct nl_vm_snap *vm;

	fake_reset();
	F.sample_rc = -EIO;
	fixture_config(&cfg);
	s = sampler_with_fake(&cfg);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ_INT(F.inits, 1);
	for (int cycle = 1; cycle <= 3; cycle++) {
		CHECK_EQ_INT(nl_sampler_cycle(s), 0);
		CHECK_EQ_INT(F.samples, cycle);
		CHECK_EQ_INT(F.publishes, cycle);
	}
	snap = nl_sampler_get(s);
	CHECK(snap != NULL);
	if (!snap)
		goto out;
	CHECK_EQ_U64(snap->gen, 3);
	CHECK_EQ_INT(snap->ncollectors, 8);
	c = stat_of(snap, "fake");
	CHECK(c && c->enabled && !c->success);
	CHECK(c == &snap->collectors[4]);
	/* the ones after it ran: schedstat read the threads, numa_stat the
	 * cgroup */
	c = stat_of(snap, "schedstat");
	CHECK(c && c->enabled && c->success);
	c = stat_of(snap, "numa_stat");
	CHECK(c && c->enabled && c->success);
	vm = nl_snapshot_find_vm(snap, "alpha");
	CHECK(vm != NULL);
	if (vm) {
		CHECK_EQ_INT(vm->mem_source, NL_MEM_CGROUP_V2);
		CHECK(vm->nthreads > 0);
		for (size_t i = 0; i < vm->nthreads; i++)
			CHECK(vm->threads[i].run_valid);
	}
	CHECK(metrics_have(snap, "numalens_collector_success{collector=\"fake\"} 0\n"));
	CHECK(metrics_have(snap, "numalens_collector_success{collector=\"schedstat\"} 1\n"));
	/* the cgroup's 1614807040 bytes on node 0: the VMM's 13127680 as
	 * numa_maps saw them (no page cache), the rest guest RAM */
	CHECK(metrics_have(snap, "numalens_vm_memory_bytes{vm=\"alpha\",node=\"0\",kind=\"guest\"} 1601679360\n"));
	CHECK(metrics_have(snap, "numalens_vm_memory_bytes{vm=\"alpha\",node=\"0\",kind=\"vmm\"} 13127680\n"));
	/* the failing sample clears once it works again */
	F.sample_rc = 0;
	nl_snapshot_put(snap);
	CHECK_EQ_INT(nl_sampler_cycle(s), 0);
	snap = nl_sampler_get(s);
	c = snap ? stat_of(snap, "fake") : NULL;
	CHECK(c && c->success);
out:
	nl_snapshot_put(snap);
	nl_sampler_free(s);
	CHECK_EQ_INT(F.frees, 1);
}

/* A source whose init fails is reported failing every cycle and is
 * never sampled, published or freed; the others run. */
static void test_failing_init(void)
{
	struct nl_config cfg;
	struct nl_sampler *s;
	struct nl_snapshot *snap;
	const struct nl_collector_stat *c;

	fake_reset();
	F.init_rc = -ENODEV;
	fixture_config(&cfg);
	s = sampler_with_fake(&cfg);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ_INT(nl_sampler_cycle(s), 0);
	CHECK_EQ_INT(nl_sampler_cycle(s), 0);
	CHECK_EQ_INT(F.inits, 1);
	CHECK_EQ_INT(F.samples, 0);
	CHECK_EQ_INT(F.publishes, 0);
	snap = nl_sampler_get(s);
	CHECK(snap != NULL);
	if (snap) {
		c = stat_of(snap, "fake");
		CHECK(c && c->enabled && !c->success);
		c = stat_of(snap, "numa_maps");
		CHECK(c && c->success);
		CHECK(nl_snapshot_find_vm(snap, "alpha") != NULL);
		CHECK(metrics_have(snap, "numalens_collector_success{collector=\"fake\"} 0\n"));
	}
	nl_snapshot_put(snap);
	nl_sampler_free(s);
	CHECK_EQ_INT(F.frees, 0);
}

/* publish runs on the snapshot being built, before anyone can see it; a
 * publish that runs out of memory publishes nothing that cycle. */
static void test_publish(void)
{
	struct nl_config cfg;
	struct nl_sampler *s;
	struct nl_snapshot *snap;

	fake_reset();
	fixture_config(&cfg);
	s = sampler_with_fake(&cfg);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ_INT(nl_sampler_cycle(s), 0);
	CHECK_EQ_U64(F.published_gen, 1);
	CHECK_EQ_U64(F.visible_gen, 0);     /* nothing published yet */
	CHECK_EQ_INT(nl_sampler_cycle(s), 0);
	CHECK_EQ_U64(F.published_gen, 2);
	CHECK_EQ_U64(F.visible_gen, 1);
	F.publish_rc = -ENOMEM;
	CHECK_EQ_INT(nl_sampler_cycle(s), -ENOMEM);
	snap = nl_sampler_get(s);
	CHECK(snap && snap->gen == 2);      /* the last good one stays */
	nl_snapshot_put(snap);
	F.publish_rc = 0;
	CHECK_EQ_INT(nl_sampler_cycle(s), 0);
	snap = nl_sampler_get(s);
	CHECK(snap && snap->gen == 4);
	nl_snapshot_put(snap);
	nl_sampler_free(s);
}

/* required, else the wanted hook, else the flag (by name, the last one
 * winning), else the default; free in reverse run order. */
static void test_wanted_and_flags(void)
{
	static const struct nl_source *const list[] = {
		&nl_source_topology, &nl_source_fake, &nl_source_fake_off,
		&nl_source_fake_unwanted, &nl_source_fake_required,
	};
	struct nl_config cfg;
	struct nl_sampler *s;
	struct nl_snapshot *snap;
	const struct nl_collector_stat *c;

	fake_reset();
	fixture_config(&cfg);
	CHECK_EQ_INT(nl_config_set_collector(&cfg, "fake", false), 0);
	CHECK_EQ_INT(nl_config_set_collector(&cfg, "fake_off", false), 0);
	CHECK_EQ_INT(nl_config_set_collector(&cfg, "fake_off", true), 0);
	CHECK_EQ_INT(nl_config_set_collector(&cfg, "fake_unwanted", true), 0);
	CHECK_EQ_INT(nl_config_set_collector(&cfg, "fake_required", false), 0);
	CHECK_EQ_INT(cfg.ncollectors, 4);
	CHECK_EQ_INT(nl_config_collector(&cfg, "fake_off"), 1);
	CHECK_EQ_INT(nl_config_collector(&cfg, "topology"), -1);
	CHECK(nl_sampler_new_with_sources(&cfg, list, NL_MAX_SOURCES + 1) == NULL);
	s = nl_sampler_new_with_sources(&cfg, list, 5);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ_INT(F.inits, 0);            /* switched off: never set up */
	CHECK_EQ_INT(nl_sampler_cycle(s), 0);
	CHECK_EQ_INT(F.samples, 0);
	snap = nl_sampler_get(s);
	CHECK(snap != NULL);
	if (snap) {
		c = stat_of(snap, "fake");
		CHECK(c && !c->enabled);
		c = stat_of(snap, "fake_off");
		CHECK(c && c->enabled && c->success);
		c = stat_of(snap, "fake_unwanted");
		CHECK(c && !c->enabled);
		c = stat_of(snap, "fake_required");
		CHECK(c && c->enabled && c->success);
		CHECK(metrics_have(snap, "numalens_collector_success{collector=\"fake_off\"} 1\n"));
	}
	nl_snapshot_put(snap);
	nl_sampler_free(s);
	/* fake_required, then fake_off; the others were not running */
	CHECK_STR(F.order, "22");
	CHECK_EQ_INT(F.frees, 0);

	/* everything on: the fake (second) is freed after the later ones */
	fake_reset();
	fixture_config(&cfg);
	s = nl_sampler_new_with_sources(&cfg, list, 2);
	CHECK(s != NULL);
	nl_sampler_free(s);
	CHECK_STR(F.order, "1");
	fake_reset();
	s = nl_sampler_new_with_sources(&cfg, list, 5);
	CHECK(s != NULL);
	nl_sampler_free(s);
	CHECK_STR(F.order, "21");
}

NL_TEST_MAIN(NL_T(test_builtin_registry), NL_T(test_failing_source),
	     NL_T(test_failing_init), NL_T(test_publish),
	     NL_T(test_wanted_and_flags))
