/* The hint engine on VMs with passthrough (VFIO) devices: VFIO pins all
 * guest memory and such a VM cannot be live-migrated, so no policy ever
 * moves its memory (for itself or to make room) or evicts it; its vCPUs go
 * to its devices' node; its VMM threads stay with the guest's memory. Each
 * case runs once without the device (the control, which must get the hint
 * the device forbids) and once with it. */
#include "hints_fixture.h"
#include "hints/engine.h"

/* One VM on a 2-node host of 8 CPUs a node: memory (GiB), busy vCPU and
 * VMM cores by node, pins (-1 none). */
struct layout {
	double node_gib;
	int nvcpus;
	double mem[2], vcpu[2], vmm[2];
	int vcpu_pin, vmm_pin;
	double mpki;
};

/* a memory-intensive VM no node can take: evicted without a device */
static const struct layout no_node_fits = { 16, 4, { 12, 10 }, { 2, 2 }, { 0, 0 }, -1, -1, 30 };
/* memory on both nodes, vCPUs pinned to node 1: memory moves without one */
static const struct layout remote_memory = { 32, 2, { 3, 3 }, { 0, 2 }, { 0.2, 0 }, 1, 0, 20 };
/* memory, vCPUs and VMM threads on node 0 */
static const struct layout local_vm = { 32, 2, { 4, 0 }, { 1, 0 }, { 0.4, 0 }, 0, 0, 0.5 };

static void one_vm(struct fx_host *h, const struct layout *l)
{
	struct fx_vm *v;

	host_init(h, 2, 8, l->node_gib * GiB);
	v = add_vm(h, "pt", l->nvcpus);
	for (int n = 0; n < 2; n++) {
		v->mem[n] = l->mem[n] * GiB;
		v->vcpu[n] = l->vcpu[n];
		v->vmm[n] = l->vmm[n];
	}
	v->vcpu_pin = l->vcpu_pin;
	v->vmm_pin = l->vmm_pin;
	v->mpki = l->mpki;
}

struct vfio_case {
	const char *name;
	const struct layout *layout; /* "pt" alone; NULL: full_host + arrive_mem,
					with r2-cpu (a cold donor) the VFIO VM */
	const char *vm;
	uint64_t dev_nodes;          /* the device of the VFIO run */
	int dev_unknown;
	enum nl_hint_kind control;   /* a hint vm gets without the device */
	int pin_node;                /* VFIO run: pin_vcpus to this node, -1 none */
};

static const struct vfio_case vfio_cases[] = {
	{ "no node fits: no evict", &no_node_fits, "pt", 1ULL << 1, 0, NL_HINT_EVICT, 1 },
	{ "remote memory: no migrate_memory", &remote_memory, "pt", 1ULL << 1, 0,
	  NL_HINT_MIGRATE_MEMORY, -1 },
	{ "device node unknown: no device hint", &remote_memory, "pt", 0, 1,
	  NL_HINT_MIGRATE_MEMORY, -1 },
	{ "cold donor: gives up no memory", NULL, "r2-cpu", 1ULL << 1, 0,
	  NL_HINT_MIGRATE_MEMORY, -1 },
	{ "local VM: vCPUs to the device", &local_vm, "pt", 1ULL << 1, 0,
	  NL_HINT_KIND_COUNT, 1 },
};

static struct nl_snapshot *run_case(const struct vfio_case *k, bool vfio)
{
	struct fx_host h;
	struct nl_hint_config cfg = test_cfg();
	struct nl_hints *e = nl_hints_new(&cfg);
	struct nl_snapshot *s = NULL;

	if (k->layout) {
		one_vm(&h, k->layout);
	} else {
		full_host(&h);
		arrive_mem(&h);
	}
	for (int i = 0; i < h.nvms; i++) {
		if (vfio && !strcmp(h.vm[i].name, k->vm)) {
			h.vm[i].dev_nodes = k->dev_nodes;
			h.vm[i].dev_unknown = k->dev_unknown;
		}
	}
	CHECK_EQ_INT(run(&h, e, 8, &s), 0);
	nl_hints_free(e);
	return s;
}

static void check_vfio_run(const struct vfio_case *k, const struct nl_snapshot *s)
{
	for (int p = 0; p < NL_POLICY_COUNT; p++) {
		const struct nl_hint *pin = find_hint(s, (enum nl_policy)p, k->vm, NL_HINT_PIN_VCPUS);
		const struct nl_hint *vmm = find_hint(s, (enum nl_policy)p, k->vm,
						      NL_HINT_PIN_VMM_THREADS);

		CHECK(find_hint(s, (enum nl_policy)p, k->vm, NL_HINT_EVICT) == NULL);
		CHECK(find_hint(s, (enum nl_policy)p, k->vm, NL_HINT_MIGRATE_MEMORY) == NULL);
		/* VMM threads are never pulled to the device, away from memory */
		if (vmm && k->layout)
			CHECK(vmm->target_node != 1);
		if (k->pin_node < 0) {
			CHECK(!pin || strcmp(pin->reason_code, "vfio_device") != 0);
			continue;
		}
		CHECK(pin != NULL);
		if (!pin)
			continue;
		CHECK_EQ_INT(pin->target_node, k->pin_node);
		CHECK_STR(pin->reason_code, "vfio_device");
		CHECK_STR(pin->gain_metric, "device_locality");
		CHECK(pin->expected_gain > 0.4);
		CHECK(strstr(pin->reason, "VFIO pins the memory") != NULL);
	}
}

static void test_vfio_kinds(void)
{
	for (size_t i = 0; i < sizeof(vfio_cases) / sizeof(vfio_cases[0]); i++) {
		const struct vfio_case *k = &vfio_cases[i];
		struct nl_snapshot *s = run_case(k, false);

		printf("  %s\n", k->name);
		if (k->control != NL_HINT_KIND_COUNT)
			CHECK(s && find_hint(s, NL_POLICY_LOCALITY, k->vm, k->control) != NULL);
		nl_snapshot_put(s);
		s = run_case(k, true);
		if (s)
			check_vfio_run(k, s);
		nl_snapshot_put(s);
	}
}

/* The devices' node: one known node, else none. */
static void test_device_home(void)
{
	struct nl_vm_snap vm;

	memset(&vm, 0, sizeof(vm));
	CHECK_EQ_INT(nl_plan_device_home(&vm), -1);
	vm.dev_nodes = 1ULL << 2;
	CHECK_EQ_INT(nl_plan_device_home(&vm), 2);
	vm.dev_nodes |= 1ULL << 0;
	CHECK_EQ_INT(nl_plan_device_home(&vm), -1);
}

/* Placement of a VM being defined with a device: only the device's node,
 * in every policy; a device of no known node changes nothing. */
static void test_place_on_device_node(void)
{
	static const int dev_node[] = { 1, -1 };
	struct nl_hint_config cfg = test_cfg();
	struct nl_hints *e = nl_hints_new(&cfg);
	struct fx_host h;
	struct nl_snapshot *s = NULL;
	struct nl_profile p;
	struct fx_vm *v;

	host_init(&h, 2, 8, 32 * GiB);
	v = add_vm(&h, "c-hog", 5);      /* node 1 is the busier one */
	v->mem[1] = 2 * GiB;
	v->vcpu[1] = 5;
	v->mpki = 0.1;
	CHECK_EQ_INT(run(&h, e, 4, &s), 0);
	for (size_t i = 0; i < sizeof(dev_node) / sizeof(dev_node[0]); i++) {
		prof(&p, "gpu", "", 4, 2, 2, 20);
		p.ndevices = 1;
		snprintf(p.devices[0].device, sizeof(p.devices[0].device), "0000:3b:00.0");
		p.devices[0].node = dev_node[i];
		for (int k = 0; k < NL_POLICY_COUNT; k++) {
			struct nl_placement *pl = NULL;

			CHECK_EQ_INT(nl_hints_place_with(s, &p, (enum nl_policy)k, NULL, &pl), 0);
			CHECK(pl && pl->fits);
			if (!pl)
				continue;
			/* without a known device node: the idler node 0 */
			CHECK_EQ_INT(pl->recommended_node, dev_node[i] >= 0 ? dev_node[i] : 0);
			for (int n = 0; n < pl->nnodes && dev_node[i] >= 0; n++) {
				if (pl->nodes[n].node == dev_node[i])
					continue;
				CHECK(!pl->nodes[n].feasible);
				CHECK_STR(pl->nodes[n].reason_code, "device");
				CHECK(strstr(pl->nodes[n].reason, "0000:3b:00.0 is on node 1") != NULL);
			}
			nl_placement_free(pl);
		}
	}
	nl_snapshot_put(s);
	nl_hints_free(e);
}

NL_TEST_MAIN(NL_T(test_vfio_kinds), NL_T(test_device_home), NL_T(test_place_on_device_node))
