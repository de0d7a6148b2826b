/* The action table of `numalens apply`: one row per numalens.v1.ActionOp,
 * with its name in the log, the check of the action's own fields, the
 * executor (libvirt in apply_libvirt.c, the kernel in apply_proc.c) and the
 * fields shown on its "would:" line. A new op is one row here plus its
 * executor. See apply_priv.h. */
#include "apply_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Node ids past this do not fit the masks of migrate_pages(2); the kernel
 * has at most 1024 (MAX_NUMNODES with NODES_SHIFT 10). */
#define NODE_ID_LIMIT NL_MAX_CPUS

/* ---- validate ---- */

static int want_cpus(const struct nl_apply_ctx *c, struct nl_apply_act *a)
{
	const char *list = a->pb->cpus;

	if (!list || nl_cpuset_parse(&a->cpus, list) || !nl_cpuset_count(&a->cpus)) {
		fprintf(c->out, "        error: bad CPU list \"%s\"\n", list ? list : "");
		return -EINVAL;
	}
	return 0;
}

/* An index of `what` at least `min`. */
static int want_index(const struct nl_apply_ctx *c, const struct nl_apply_act *a,
		      const char *what, int min)
{
	if (a->index >= min)
		return 0;
	fprintf(c->out, "        error: no %s in the action\n", what);
	return -EINVAL;
}

static int v_pin_vcpu(const struct nl_apply_ctx *c, struct nl_apply_act *a)
{
	int rc = want_index(c, a, "vCPU index", 0);

	return rc ? rc : want_cpus(c, a);
}

static int v_pin_emulator(const struct nl_apply_ctx *c, struct nl_apply_act *a)
{
	return want_cpus(c, a);
}

static int v_pin_iothread(const struct nl_apply_ctx *c, struct nl_apply_act *a)
{
	int rc = want_index(c, a, "iothread id", 0);

	return rc ? rc : want_cpus(c, a);
}

static int v_pin_thread(const struct nl_apply_ctx *c, struct nl_apply_act *a)
{
	int rc = want_index(c, a, "thread id", 1);

	return rc ? rc : want_cpus(c, a);
}

/* Before anything changes (--yes): does NUMA node `node` exist on this
 * host? A hint from another host, or a forged one, may name any. */
static int node_here(const struct nl_apply_ctx *c, int node)
{
	char path[96];

	if (!c->yes)
		return 0;
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", node);
	if (access(path, F_OK) == 0)
		return 0;
	fprintf(c->out, "        error: node %d does not exist on this host: is the hint from another host?\n",
		node);
	return -ERANGE;
}

static int v_numatune(const struct nl_apply_ctx *c, struct nl_apply_act *a)
{
	const char *list = a->pb->nodes;

	if (!list || nl_cpuset_parse(&a->nodes, list) || !nl_cpuset_count(&a->nodes)) {
		fprintf(c->out, "        error: bad nodeset \"%s\"\n", list ? list : "");
		return -EINVAL;
	}
	for (int n = 0; n < NL_MAX_CPUS; n++)
		if (nl_cpuset_isset(&a->nodes, n) && node_here(c, n))
			return -ERANGE;
	return 0;
}

static int v_pages(const struct nl_apply_ctx *c, struct nl_apply_act *a)
{
	const Numalens__V1__Action *pb = a->pb;

	if (a->hint->pid <= 0) {
		fprintf(c->out, "        error: the hint names no QEMU PID\n");
		return -EINVAL;
	}
	if (!pb->n_from_nodes || !pb->has_to_node) {
		fprintf(c->out, "        error: the action names no %s node\n",
			pb->n_from_nodes ? "target" : "source");
		return -EINVAL;
	}
	for (size_t i = 0; i <= pb->n_from_nodes; i++) {
		int node = i < pb->n_from_nodes ? pb->from_nodes[i] : pb->to_node;

		if (node < 0 || node >= NODE_ID_LIMIT) {
			fprintf(c->out, "        error: %d is not a node id\n", node);
			return -EINVAL;
		}
		if (node_here(c, node))
			return -ERANGE;
	}
	return 0;
}

static int v_none(const struct nl_apply_ctx *c, struct nl_apply_act *a)
{
	(void)c;
	(void)a;
	return 0;
}

/* ---- describe ---- */

static void d_pin(const Numalens__V1__Action *a, FILE *out)
{
	if (a->has_index && a->index >= 0)
		fprintf(out, " %d", a->index);
	if (a->cpus)
		fprintf(out, " -> CPUs %s", a->cpus);
}

static void d_numatune(const Numalens__V1__Action *a, FILE *out)
{
	if (a->nodes)
		fprintf(out, " -> nodeset %s", a->nodes);
}

static void d_pages(const Numalens__V1__Action *a, FILE *out)
{
	if (a->n_from_nodes)
		fprintf(out, " (nodes %d%s -> %d, %llu bytes)", a->from_nodes[0],
			a->n_from_nodes > 1 ? ",..." : "", a->to_node,
			(unsigned long long)a->bytes);
}

static void d_none(const Numalens__V1__Action *a, FILE *out)
{
	(void)a;
	(void)out;
}

/* ---- run: the one op that is never ours ---- */

static int r_migrate_vm(const struct nl_apply_ctx *c, const struct nl_apply_act *a)
{
	(void)a;
	fprintf(c->out, "        not done: moving a VM to another host is the orchestrator's call\n");
	return 0;
}

/* ---- the table ---- */

static const struct nl_apply_op ops[] = {
	{ NUMALENS__V1__ACTION_OP__PIN_VCPU, "pin vCPU",
	  v_pin_vcpu, nl_apply_run_pin_vcpu, d_pin },
	{ NUMALENS__V1__ACTION_OP__PIN_EMULATOR, "pin emulator threads",
	  v_pin_emulator, nl_apply_run_pin_emulator, d_pin },
	{ NUMALENS__V1__ACTION_OP__PIN_IOTHREAD, "pin iothread",
	  v_pin_iothread, nl_apply_run_pin_iothread, d_pin },
	{ NUMALENS__V1__ACTION_OP__PIN_THREAD, "pin thread",
	  v_pin_thread, nl_apply_run_pin_thread, d_pin },
	{ NUMALENS__V1__ACTION_OP__NUMATUNE, "live numatune",
	  v_numatune, nl_apply_run_numatune, d_numatune },
	{ NUMALENS__V1__ACTION_OP__MIGRATE_PAGES, "migrate_pages",
	  v_pages, nl_apply_run_migrate_pages, d_pages },
	{ NUMALENS__V1__ACTION_OP__MOVE_PAGES, "move_pages",
	  v_pages, nl_apply_run_move_pages, d_pages },
	{ NUMALENS__V1__ACTION_OP__MIGRATE_VM, "live-migrate the VM",
	  v_none, r_migrate_vm, d_none },
};

const struct nl_apply_op *nl_apply_op_find(Numalens__V1__ActionOp op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return &ops[i];
	return NULL;
}

const char *nl_apply_op_name(Numalens__V1__ActionOp op)
{
	const struct nl_apply_op *o = nl_apply_op_find(op);

	return o ? o->name : "unknown action";
}

int nl_apply_action(const struct nl_apply_ctx *c, const Numalens__V1__Hint *h,
		    virDomainPtr dom, const Numalens__V1__Action *pb)
{
	struct nl_apply_act a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.op = nl_apply_op_find(pb->op);
	a.hint = h;
	a.pb = pb;
	a.dom = dom;
	a.index = pb->has_index ? pb->index : -1;
	fprintf(c->out, "  %s %s", c->yes ? "apply:" : "would:", nl_apply_op_name(pb->op));
	if (a.op)
		a.op->describe(pb, c->out);
	fprintf(c->out, "\n");
	if (pb->libvirt && pb->libvirt[0])
		fprintf(c->out, "        libvirt: %s\n", pb->libvirt);
	if (pb->command && pb->command[0])
		fprintf(c->out, "        same as: %s\n", pb->command);
	if (!a.op) {
		fprintf(c->out, "        not done: action op %d is not known here (a newer server?)\n",
			(int)pb->op);
		return 0;
	}
	rc = a.op->validate(c, &a);
	return rc ? rc : a.op->run(c, &a);
}
