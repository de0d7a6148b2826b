/* The hint engine on every kind of VM a KVM host runs (issue 12), as one
 * table: a plain VM, a passthrough (VFIO) VM, a wide VM with two guest
 * NUMA cells laid out right and crossed, and a VM whose VMM memory is
 * remote. Each row runs with and without a PMU and says which hints the VM
 * must get and which it must never get; the wide-VM rows also run once as
 * one blob (no cells known), the engine as it was, which must get what the
 * cells rule out. Then a crossed wide VM is uncrossed cell by cell. */
#include "hints_fixture.h"
#include "hints/engine.h"

enum kind { PLAIN, VFIO, CELLS_RIGHT, CELLS_CROSSED, VMM_REMOTE };

/* One VM "vm" on a 2-node host of 8 CPUs a node. */
static void setup(struct fx_host *h, enum kind k, bool pmu, bool cells)
{
	struct fx_vm *v;

	host_init(h, 2, 8, (k == CELLS_RIGHT || k == CELLS_CROSSED ? 16 : 32) * GiB);
	h->pmu = pmu;
	v = add_vm(h, "vm", k == CELLS_RIGHT || k == CELLS_CROSSED ? 4 : 2);
	v->mpki = 20;
	switch (k) {
	case PLAIN:
	case VFIO:
		/* memory on node 1, vCPUs pinned to node 0 */
		v->mem[1] = 6 * GiB;
		v->vcpu[0] = 2;
		v->vmm[0] = 0.2;
		v->vcpu_pin = v->vmm_pin = 0;
		if (k == VFIO)
			v->dev_nodes = 1ULL << 1;
		break;
	case CELLS_RIGHT:
	case CELLS_CROSSED:
		/* the HPC paper's whole-host VM: 2 x 12 GiB on 2 x 16 GiB
		 * nodes, two vCPUs a cell; crossed: each cell's vCPUs on the
		 * other cell's node */
		v->mem[0] = v->mem[1] = 12 * GiB;
		v->vcpu[0] = v->vcpu[1] = 2;
		v->vmm[0] = 0.1;
		v->vmm_pin = 0;    /* emulatorpin, as for any wide VM */
		if (!cells)
			break;
		v->ncells = 2;
		v->cell[0].vcpus = 0x3;
		v->cell[0].mem[0] = 12 * GiB;
		v->cell[0].node = k == CELLS_RIGHT ? 0 : 1;
		v->cell[1].vcpus = 0xc;
		v->cell[1].mem[1] = 12 * GiB;
		v->cell[1].node = k == CELLS_RIGHT ? 1 : 0;
		break;
	case VMM_REMOTE:
		/* guest RAM, vCPUs and VMM threads on node 0; the VMM's own
		 * memory on node 1 */
		v->mem[0] = 6 * GiB;
		v->vmm_mem[1] = 256.0 * 1024 * 1024;
		v->vcpu[0] = 2;
		v->vmm[0] = 0.3;
		v->vcpu_pin = v->vmm_pin = 0;
		break;
	}
}

struct row {
	const char *name;
	enum kind kind;
	uint32_t must;        /* bit k: a hint of kind k (some policy) */
	uint32_t never;       /* bit k: no hint of kind k (any policy) */
	const char *reason;   /* the pin_vcpus hint's reason code, or NULL */
	int pin_node;         /* its target node, -1 any */
	double locality;      /* the VM's vCPU locality, NaN: not checked */
	uint32_t blob_must;   /* the wide-VM rows as one blob: some hint of these */
};

#define K(x) (1u << NL_HINT_##x)
#define GUEST (K(PIN_VCPUS) | K(MIGRATE_MEMORY))

static const struct row rows[] = {
	{ "plain, remote memory", PLAIN, 0, K(EVICT), NULL, -1, 0, 0 },
	{ "VFIO, remote memory", VFIO, K(PIN_VCPUS), K(MIGRATE_MEMORY) | K(EVICT), "vfio_device", 1, NAN, 0 },
	{ "2-cell wide VM laid out right", CELLS_RIGHT, 0, GUEST | K(EVICT) | K(PIN_VMM_THREADS), NULL, -1,
	  1, GUEST | K(EVICT) },
	{ "2-cell wide VM crossed", CELLS_CROSSED, K(PIN_VCPUS), K(MIGRATE_MEMORY) | K(EVICT), "cell_crossed",
	  -1, 0, 0 },
	{ "VMM memory remote", VMM_REMOTE, 0, GUEST | K(EVICT), NULL, -1, 1, 0 },
};

static uint32_t kinds_of(const struct nl_snapshot *s, const char *vm)
{
	uint32_t k = 0;

	for (int p = 0; p < NL_POLICY_COUNT; p++)
		for (size_t i = 0; i < s->hints->nhints[p]; i++)
			if (!strcmp(s->hints->hints[p][i].vm, vm))
				k |= 1u << s->hints->hints[p][i].kind;
	return k;
}

static struct nl_snapshot *run_row(enum kind k, bool pmu, bool cells, int windows)
{
	struct fx_host h;
	struct nl_hint_config cfg = test_cfg();
	struct nl_hints *e = nl_hints_new(&cfg);
	struct nl_snapshot *s = NULL;

	setup(&h, k, pmu, cells);
	CHECK_EQ_INT(run(&h, e, windows, &s), 0);
	nl_hints_free(e);
	return s;
}

static void check_row(const struct row *r, bool pmu)
{
	struct nl_snapshot *s = run_row(r->kind, pmu, true, 8);
	const struct nl_vm_features *f;
	uint32_t got;

	if (!s || !s->hints)
		return;
	got = kinds_of(s, "vm");
	f = nl_hints_vm_features(s, &s->vms[0]);
	if ((got & r->must) != r->must || (got & r->never))
		printf("  %s (%s): hint kinds 0x%x, must 0x%x, never 0x%x\n", r->name,
		       pmu ? "PMU" : "no PMU", got, r->must, r->never);
	CHECK((got & r->must) == r->must);
	CHECK((got & r->never) == 0);
	if (r->kind == PLAIN)
		CHECK(got & GUEST);
	if (!isnan(r->locality) && f)
		CHECK_NEAR(f->locality, r->locality, 0.02);
	for (int p = 0; r->reason && p < NL_POLICY_COUNT; p++) {
		const struct nl_hint *pin = find_hint(s, (enum nl_policy)p, "vm", NL_HINT_PIN_VCPUS);

		CHECK(pin != NULL);
		if (!pin)
			continue;
		CHECK_STR(pin->reason_code, r->reason);
		if (r->pin_node >= 0)
			CHECK_EQ_INT(pin->target_node, r->pin_node);
		CHECK(pin->has_cell == (r->kind == CELLS_CROSSED));
	}
	if (r->kind == VMM_REMOTE && f)
		CHECK(f->vmm_locality < 0.5);
	nl_snapshot_put(s);
	/* the wide VM as one blob: what the engine did before it read cells */
	if (r->blob_must) {
		s = run_row(r->kind, pmu, false, 8);
		if (s && s->hints) {
			f = nl_hints_vm_features(s, &s->vms[0]);
			CHECK(kinds_of(s, "vm") & r->blob_must);
			if (f)
				CHECK_NEAR(f->locality, 0.5, 0.02);
		}
		nl_snapshot_put(s);
	}
}

static void test_every_kind(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		check_row(&rows[i], true);
		check_row(&rows[i], false);
	}
}

/* A crossed wide VM: a hint per crossed cell, at once, each pinning only
 * that cell's vCPUs to its memory's node; both applied, nothing more, and
 * the VM scores 1. One applied, the other cell's hint stays. */
static void test_uncross_cell_by_cell(void)
{
	struct fx_host h;
	struct nl_hint_config cfg = test_cfg();
	struct nl_hints *e = nl_hints_new(&cfg);
	struct nl_snapshot *s = NULL;
	const struct nl_hint *pin[2] = { NULL, NULL };

	setup(&h, CELLS_CROSSED, false, true);
	CHECK_EQ_INT(run(&h, e, 8, &s), 0);
	for (size_t i = 0; s && i < s->hints->nhints[NL_POLICY_LOCALITY]; i++) {
		const struct nl_hint *x = &s->hints->hints[NL_POLICY_LOCALITY][i];

		CHECK(x->kind == NL_HINT_PIN_VCPUS && x->has_cell && x->cell >= 0 && x->cell < 2);
		if (x->has_cell && x->cell >= 0 && x->cell < 2)
			pin[x->cell] = x;
	}
	for (int k = 0; k < 2; k++) {
		CHECK(pin[k] != NULL);
		if (!pin[k])
			continue;
		CHECK_EQ_INT(pin[k]->target_node, k);   /* cell k's memory is on node k */
		CHECK_EQ_U64(pin[k]->cell_vcpus, h.vm[0].cell[k].vcpus);
		CHECK_STR(pin[k]->reason_code, "cell_crossed");
		CHECK(strstr(pin[k]->reason, "guest NUMA cell") != NULL);
		/* its actions pin that cell's two vCPUs, no other */
		CHECK_EQ_INT((int)pin[k]->nactions, 2);
		for (size_t a = 0; a < pin[k]->nactions; a++) {
			CHECK_EQ_INT(pin[k]->actions[a].op, NL_ACT_PIN_VCPU);
			CHECK(h.vm[0].cell[k].vcpus >> pin[k]->actions[a].index & 1);
		}
	}
	if (pin[0] && pin[1])
		CHECK(strcmp(pin[0]->id, pin[1]->id) != 0);
	/* cell 0 applied: cell 1's hint stays, cell 0's goes */
	h.vm[0].cell[0].node = 0;
	CHECK_EQ_INT(run(&h, e, 8, &s), 0);
	if (s) {
		const struct nl_hint *x = find_hint(s, NL_POLICY_LOCALITY, "vm", NL_HINT_PIN_VCPUS);

		CHECK_EQ_INT((int)count_vm(s, NL_POLICY_LOCALITY, "vm"), 1);
		CHECK(x && x->has_cell && x->cell == 1);
	}
	h.vm[0].cell[1].node = 1;
	CHECK_EQ_INT(run(&h, e, 8, &s), 0);
	if (s) {
		CHECK_EQ_INT((int)count_vm(s, NL_POLICY_LOCALITY, "vm"), 0);
		CHECK_NEAR(s->vms[0].locality[NL_ROLE_VCPU], 1.0, 1e-9);
	}
	nl_snapshot_put(s);
	nl_hints_free(e);
}

NL_TEST_MAIN(NL_T(test_every_kind), NL_T(test_uncross_cell_by_cell))
