/* `numalens apply` (exporter/cmd/), its actions: the action table, each
 * op accepted and refused on its own fields; the libvirt executors against
 * libvirt's in-process test driver (test:///default: no daemon, no guest);
 * fallbacks, domain lookup and stale-hint checks on a fake procfs; the
 * page-move arithmetic and a real move_pages(2) on our own memory. The HTTP
 * client and the whole command: test_apply_http.c. */
#include <errno.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/apply_priv.h"
#include "harness.h"
#include "paths.h"

/* ---- a fake procfs ---- */

static char fake_root[64];

static void put_file(const char *rel, const char *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fake_root, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fwrite(data, 1, len, f);
	fclose(f);
}

/* PID 4242: QEMU of VM "test" (libvirt's -name guest=...), run as root,
 * TID 4243 its thread, 4300 its vhost worker (a kernel thread: empty
 * cmdline); 4250 and 4251 other -name spellings; 4244 no QEMU at all.
 * The fakes an unprivileged user can make: 4260 "kvm -name guest=test" run
 * as uid 65534 without /dev/kvm, 4301 a process of its own named
 * "vhost-4242". */
static void fake_procfs(void)
{
	static const char cmd[] = "qemu-system-x86_64\0-name\0guest=test,debug-threads=on\0-m\0512";
	static const char cmd2[] = "qemu\0-name\0a,,b\0";
	static const char cmd3[] = "qemu\0-name\0vmxy,process=x\0";
	char path[256];

	if (fake_root[0])
		goto set;
	snprintf(fake_root, sizeof(fake_root), "/tmp/nl-apply-XXXXXX");
	CHECK(mkdtemp(fake_root) != NULL);
	for (const char *const *d = (const char *const[]){ "4242", "4242/task", "4242/task/4243",
							     "4300", "4250", "4251", "4244", "4260",
							     "4260/task", "4260/task/4243", "4260/fd",
							     "4301", NULL };
	     *d; d++) {
		snprintf(path, sizeof(path), "%s/%s", fake_root, *d);
		CHECK(mkdir(path, 0755) == 0);
	}
	put_file("4242/cmdline", cmd, sizeof(cmd));
	put_file("4242/maps", "00400000-00600000 r-xp 00000000 08:01 1234 /usr/bin/qemu\n", 56);
	put_file("4300/comm", "vhost-4242\n", 11);
	put_file("4300/cmdline", "", 0);
	put_file("4301/comm", "vhost-4242\n", 11);
	put_file("4301/cmdline", "sleep\0" "100\0", 10);
	for (const char *const *d = (const char *const[]){ "4242", "4250", "4251", NULL }; *d; d++) {
		snprintf(path, sizeof(path), "%s/status", *d);
		put_file(path, "Name:\tqemu\nUid:\t0\t0\t0\t0\n", 24);
	}
	put_file("4244/status", "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\n", 36);
	put_file("4260/cmdline", "kvm\0-name\0guest=test\0-uuid\0" "6695eb01-f6a4-8304-79aa-97f2502e193f\0", 64);
	put_file("4260/status", "Name:\tkvm\nUid:\t65534\t65534\t65534\t65534\n", 39);
	put_file("4250/cmdline", cmd2, sizeof(cmd2));
	put_file("4251/cmdline", cmd3, sizeof(cmd3));
	put_file("4244/cmdline", "bash\0", 5);
set:
	CHECK_EQ_INT(nl_paths_set(fake_root, "/sys"), 0);
}

static void test_pid_is_vm(void)
{
	fake_procfs();
	CHECK(nl_apply_pid_is_vm(4242, "test"));
	CHECK(!nl_apply_pid_is_vm(4242, "tes"));
	CHECK(!nl_apply_pid_is_vm(4242, "test,debug-threads=on"));
	CHECK(nl_apply_pid_is_vm(4250, "a,b"));        /* ",," is a comma in the name */
	CHECK(!nl_apply_pid_is_vm(4250, "a"));
	CHECK(nl_apply_pid_is_vm(4251, "vmxy"));
	CHECK(!nl_apply_pid_is_vm(4251, "vmx"));
	CHECK(!nl_apply_pid_is_vm(4244, "test"));
	CHECK(!nl_apply_pid_is_vm(4260, "test"));      /* spoofed by uid 65534 */
	CHECK(nl_apply_pid_trusted(4242, NL_APPLY_QEMU_USERS));
	CHECK(!nl_apply_pid_trusted(4260, NL_APPLY_QEMU_USERS));
	CHECK(!nl_apply_pid_trusted(4260, NULL));
	CHECK(!nl_apply_pid_is_vm(4999, "test"));      /* gone */
	CHECK(!nl_apply_pid_is_vm(0, "test"));
	CHECK(!nl_apply_pid_is_vm(4242, NULL));
}

/* ---- the action table ---- */

struct log {
	char *buf;
	size_t len;
	FILE *f;
};

static void log_open(struct log *l, struct nl_apply_ctx *c)
{
	memset(l, 0, sizeof(*l));
	l->f = open_memstream(&l->buf, &l->len);
	c->out = l->f;
}

static const char *log_text(struct log *l)
{
	fflush(l->f);
	return l->buf ? l->buf : "";
}

static void log_close(struct log *l)
{
	fclose(l->f);
	free(l->buf);
}

/* Every ActionOp of the .proto but UNSPECIFIED has a row, with its own
 * name and all three functions. */
static void test_op_table_complete(void)
{
	const ProtobufCEnumDescriptor *d = &numalens__v1__action_op__descriptor;

	for (unsigned i = 0; i < d->n_values; i++) {
		const struct nl_apply_op *op = nl_apply_op_find(d->values[i].value);

		if (d->values[i].value == NUMALENS__V1__ACTION_OP__ACTION_OP_UNSPECIFIED) {
			CHECK(op == NULL);
			continue;
		}
		if (!op)
			fprintf(stderr, "  no row for %s\n", d->values[i].name);
		CHECK(op != NULL);
		if (!op)
			continue;
		CHECK_EQ_INT(op->op, d->values[i].value);
		CHECK(op->validate && op->run && op->describe && op->name && op->name[0]);
		for (unsigned k = 0; k < i; k++) {
			const struct nl_apply_op *o2 = nl_apply_op_find(d->values[k].value);

			CHECK(!o2 || strcmp(o2->name, op->name) != 0);
		}
	}
	CHECK_STR(nl_apply_op_name((Numalens__V1__ActionOp)77), "unknown action");
	CHECK_STR(nl_apply_op_name(NUMALENS__V1__ACTION_OP__PIN_VCPU), "pin vCPU");
}

struct act_case {
	Numalens__V1__ActionOp op;
	int index;                 /* -2: not sent */
	const char *cpus, *nodes;
	int nfrom, from, to;       /* to -99: not sent */
	int pid;
	int rc;
	const char *line, *says;   /* the "would:" line; a later line */
};

static int run_case(const struct act_case *k, struct nl_apply_ctx *c, virDomainPtr dom,
		    struct log *l)
{
	Numalens__V1__Hint h = NUMALENS__V1__HINT__INIT;
	Numalens__V1__Action a = NUMALENS__V1__ACTION__INIT;
	int32_t from[1] = { k->from };

	h.id = (char *)"h";
	h.vm = (char *)"test";
	h.has_pid = 1;
	h.pid = k->pid;
	a.has_op = 1;
	a.op = k->op;
	if (k->index != -2) {
		a.has_index = 1;
		a.index = k->index;
	}
	a.cpus = (char *)k->cpus;
	a.nodes = (char *)k->nodes;
	a.n_from_nodes = (size_t)k->nfrom;
	a.from_nodes = from;
	if (k->to != -99) {
		a.has_to_node = 1;
		a.to_node = k->to;
	}
	a.has_bytes = 1;
	a.bytes = 4096;
	log_open(l, c);
	return nl_apply_action(c, &h, dom, &a);
}

static void check_cases(const struct act_case *cases, size_t n, struct nl_apply_ctx *c,
			virDomainPtr dom)
{
	for (size_t i = 0; i < n; i++) {
		const struct act_case *k = &cases[i];
		struct log l;
		int rc = run_case(k, c, dom, &l);
		const char *t = log_text(&l);
		bool ok = rc == k->rc && (!k->line || strstr(t, k->line)) &&
			  (!k->says || strstr(t, k->says));

		if (!ok)
			fprintf(stderr, "  case %zu (op %d): rc %d, wanted %d; log:\n%s", i, k->op, rc,
				k->rc, t);
		CHECK(ok);
		log_close(&l);
	}
}

/* Each op accepted and refused on its own fields, dry run, no libvirt. */
static void test_ops_validate(void)
{
	static const struct act_case cases[] = {
		{ NUMALENS__V1__ACTION_OP__PIN_VCPU, 0, "0-1", NULL, 0, 0, -99, 4242, 0,
		  "  would: pin vCPU 0 -> CPUs 0-1\n",
		  "        not connected to libvirt: cannot read the current pinning\n" },
		{ NUMALENS__V1__ACTION_OP__PIN_VCPU, -1, "0-1", NULL, 0, 0, -99, 4242, -EINVAL,
		  "  would: pin vCPU -> CPUs 0-1\n", "error: no vCPU index in the action" },
		{ NUMALENS__V1__ACTION_OP__PIN_VCPU, -2, "0", NULL, 0, 0, -99, 4242, -EINVAL,
		  NULL, "no vCPU index" },
		{ NUMALENS__V1__ACTION_OP__PIN_VCPU, 1, "zero", NULL, 0, 0, -99, 4242, -EINVAL,
		  NULL, "error: bad CPU list \"zero\"" },
		{ NUMALENS__V1__ACTION_OP__PIN_VCPU, 1, NULL, NULL, 0, 0, -99, 4242, -EINVAL,
		  "  would: pin vCPU 1\n", "error: bad CPU list \"\"" },
		{ NUMALENS__V1__ACTION_OP__PIN_EMULATOR, -1, "2", NULL, 0, 0, -99, 4242, 0,
		  "  would: pin emulator threads -> CPUs 2\n", "not connected to libvirt" },
		{ NUMALENS__V1__ACTION_OP__PIN_EMULATOR, -1, "", NULL, 0, 0, -99, 4242, -EINVAL,
		  NULL, "bad CPU list" },
		{ NUMALENS__V1__ACTION_OP__PIN_IOTHREAD, 1, "0", NULL, 0, 0, -99, 4242, 0,
		  "  would: pin iothread 1 -> CPUs 0\n", "not connected to libvirt" },
		{ NUMALENS__V1__ACTION_OP__PIN_IOTHREAD, -1, "0", NULL, 0, 0, -99, 4242, -EINVAL,
		  NULL, "no iothread id" },
		{ NUMALENS__V1__ACTION_OP__PIN_THREAD, 4243, "0", NULL, 0, 0, -99, 4242, 0,
		  "  would: pin thread 4243 -> CPUs 0\n", "; dry run, not changed\n" },
		{ NUMALENS__V1__ACTION_OP__PIN_THREAD, 4300, "0", NULL, 0, 0, -99, 4242, 0,
		  NULL, "; dry run, not changed\n" },          /* the vhost worker */
		{ NUMALENS__V1__ACTION_OP__PIN_THREAD, 4301, "0", NULL, 0, 0, -99, 4242, -ESRCH,
		  NULL, "error: thread 4301 is not a thread of QEMU 4242" },   /* a fake vhost */
		{ NUMALENS__V1__ACTION_OP__PIN_THREAD, 4243, "0", NULL, 0, 0, -99, 4260, -ESRCH,
		  NULL, "error: PID 4260 is not the QEMU of VM \"test\"" },  /* a fake QEMU */
		{ NUMALENS__V1__ACTION_OP__PIN_THREAD, 4999, "0", NULL, 0, 0, -99, 4242, -ESRCH,
		  NULL, "error: thread 4999 is not a thread of QEMU 4242 (stale hint?)" },
		{ NUMALENS__V1__ACTION_OP__PIN_THREAD, 0, "0", NULL, 0, 0, -99, 4242, -EINVAL,
		  NULL, "no thread id" },
		{ NUMALENS__V1__ACTION_OP__PIN_THREAD, 4243, "0-", NULL, 0, 0, -99, 4242, -EINVAL,
		  NULL, "bad CPU list" },
		{ NUMALENS__V1__ACTION_OP__NUMATUNE, -1, NULL, "0", 0, 0, -99, 4242, 0,
		  "  would: live numatune -> nodeset 0\n", "        not connected to libvirt\n" },
		{ NUMALENS__V1__ACTION_OP__NUMATUNE, -1, NULL, NULL, 0, 0, -99, 4242, -EINVAL,
		  NULL, "error: bad nodeset \"\"" },
		{ NUMALENS__V1__ACTION_OP__MIGRATE_PAGES, -1, NULL, NULL, 1, 1, 0, 4242, 0,
		  "  would: migrate_pages (nodes 1 -> 0, 4096 bytes)\n", "        dry run, not changed\n" },
		{ NUMALENS__V1__ACTION_OP__MIGRATE_PAGES, -1, NULL, NULL, 0, 1, 0, 4242, -EINVAL,
		  "  would: migrate_pages\n", "names no source node" },
		{ NUMALENS__V1__ACTION_OP__MIGRATE_PAGES, -1, NULL, NULL, 1, 1, -99, 4242, -EINVAL,
		  NULL, "names no target node" },
		{ NUMALENS__V1__ACTION_OP__MIGRATE_PAGES, -1, NULL, NULL, 1, 1, -1, 4242, -EINVAL,
		  NULL, "error: -1 is not a node id" },
		{ NUMALENS__V1__ACTION_OP__MIGRATE_PAGES, -1, NULL, NULL, 1, 5000, 0, 4242, -EINVAL,
		  NULL, "error: 5000 is not a node id" },
		{ NUMALENS__V1__ACTION_OP__MIGRATE_PAGES, -1, NULL, NULL, 1, 1, 0, 0, -EINVAL,
		  NULL, "names no QEMU PID" },
		{ NUMALENS__V1__ACTION_OP__MIGRATE_PAGES, -1, NULL, NULL, 1, 1, 0, 4244, -ESRCH,
		  NULL, "error: PID 4244 is not the QEMU of VM \"test\" (a stale hint" },
		/* no guest-RAM mapping in the fake maps: nothing found, no syscall */
		{ NUMALENS__V1__ACTION_OP__MOVE_PAGES, -1, NULL, NULL, 1, 1, 0, 4242, 0,
		  "  would: move_pages (nodes 1 -> 0, 4096 bytes)\n",
		  "        0 bytes of it are on node 1 now; dry run, not changed\n" },
		{ NUMALENS__V1__ACTION_OP__MOVE_PAGES, -1, NULL, NULL, 0, 0, 0, 4242, -EINVAL,
		  NULL, "names no source node" },
		{ NUMALENS__V1__ACTION_OP__MOVE_PAGES, -1, NULL, NULL, 1, 1, 0, 4244, -ESRCH,
		  NULL, "stale hint" },
		{ NUMALENS__V1__ACTION_OP__MIGRATE_VM, -1, NULL, NULL, 0, 0, -99, 4242, 0,
		  "  would: live-migrate the VM\n", "not done: moving a VM to another host is the orchestrator's call" },
		{ NUMALENS__V1__ACTION_OP__ACTION_OP_UNSPECIFIED, -1, NULL, NULL, 0, 0, -99, 4242, 0,
		  "  would: unknown action\n", "not done: action op 0 is not known here" },
	};
	struct nl_apply_ctx c = { 0 };

	fake_procfs();
	check_cases(cases, sizeof(cases) / sizeof(cases[0]), &c, NULL);
	/* with --yes and no libvirt, a libvirt action fails (the fallback runs) */
	{
		static const struct act_case yes[] = {
			{ NUMALENS__V1__ACTION_OP__PIN_VCPU, 0, "0", NULL, 0, 0, -99, 4242, -ENOTCONN,
			  "  apply: pin vCPU 0 -> CPUs 0\n", "not connected to libvirt: cannot apply" },
			{ NUMALENS__V1__ACTION_OP__NUMATUNE, -1, NULL, "0", 0, 0, -99, 4242, -ENOTCONN,
			  NULL, "not connected to libvirt" },
			/* --yes: a node this host does not have is refused
			 * before anything is tried */
			{ NUMALENS__V1__ACTION_OP__NUMATUNE, -1, NULL, "0,999", 0, 0, -99, 4242, -ERANGE,
			  NULL, "node 999 does not exist on this host" },
		};

		c.yes = true;
		check_cases(yes, sizeof(yes) / sizeof(yes[0]), &c, NULL);
	}
}

/* ---- libvirt executors, on libvirt's in-process test driver ---- */

static void lv_quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static virConnectPtr test_driver(struct nl_apply_ctx *c)
{
	virConnectPtr conn;

	virSetErrorFunc(NULL, lv_quiet);
	conn = virConnectOpen("test:///default");
	CHECK(conn != NULL);
	if (!conn)
		return NULL;
	c->conn = conn;
	c->ncpus = virNodeGetCPUMap(conn, NULL, NULL, 0);
	CHECK(c->ncpus > 1 && c->ncpus < 100);
	c->maplen = VIR_CPU_MAPLEN(c->ncpus);
	return conn;
}

static void test_libvirt_ops(void)
{
	struct nl_apply_ctx c = { 0 };
	virConnectPtr conn = test_driver(&c);
	virDomainPtr dom = conn ? virDomainLookupByName(conn, "test") : NULL;
	char all[64], cpus100[16];

	CHECK(dom != NULL);
	if (!dom)
		goto cleanup;
	snprintf(all, sizeof(all), "now CPUs 0-%d; dry run, not changed\n", c.ncpus - 1);
	{
		const struct act_case dry[] = {
			{ NUMALENS__V1__ACTION_OP__PIN_VCPU, 0, "0-1", NULL, 0, 0, -99, 4242, 0,
			  "  would: pin vCPU 0 -> CPUs 0-1\n", all },
			{ NUMALENS__V1__ACTION_OP__PIN_EMULATOR, -1, "0", NULL, 0, 0, -99, 4242, 0,
			  NULL, all },
			{ NUMALENS__V1__ACTION_OP__PIN_VCPU, 9, "0", NULL, 0, 0, -99, 4242, -ENOENT,
			  NULL, "error: cannot read the current pinning: no such vCPU / iothread" },
			{ NUMALENS__V1__ACTION_OP__PIN_IOTHREAD, 1, "0", NULL, 0, 0, -99, 4242, -ENOENT,
			  NULL, "no such vCPU / iothread" },
			{ NUMALENS__V1__ACTION_OP__PIN_VCPU, 0, "99", NULL, 0, 0, -99, 4242, -ERANGE,
			  NULL, "is not valid on this host" },
			{ NUMALENS__V1__ACTION_OP__NUMATUNE, -1, NULL, "0", 0, 0, -99, 4242, 0,
			  NULL, "        now nodeset \"\" mode strict; dry run, not changed" },
		};

		fake_procfs();
		check_cases(dry, sizeof(dry) / sizeof(dry[0]), &c, dom);
	}
	snprintf(cpus100, sizeof(cpus100), "%d", c.ncpus);
	{
		const struct act_case yes[] = {
			{ NUMALENS__V1__ACTION_OP__PIN_EMULATOR, -1, "0-1", NULL, 0, 0, -99, 4242, 0,
			  "  apply: pin emulator threads -> CPUs 0-1\n",
			  "        changed: pin emulator threads: CPUs 0-" },
			{ NUMALENS__V1__ACTION_OP__PIN_EMULATOR, -1, "1", NULL, 0, 0, -99, 4242, 0,
			  NULL, "        changed: pin emulator threads: CPUs 0-1 -> 1\n" },
			{ NUMALENS__V1__ACTION_OP__NUMATUNE, -1, NULL, "0", 0, 0, -99, 4242, 0,
			  NULL, "        changed: numatune nodeset \"\" mode strict -> nodeset \"0\" mode strict\n" },
			{ NUMALENS__V1__ACTION_OP__PIN_VCPU, 0, cpus100, NULL, 0, 0, -99, 4242, -ERANGE,
			  NULL, ": is the hint from another host?" },
		};

		c.yes = true;
		check_cases(yes, sizeof(yes) / sizeof(yes[0]), &c, dom);
	}
	/* an iothread added live, then pinned */
	CHECK_EQ_INT(virDomainAddIOThread(dom, 1, VIR_DOMAIN_AFFECT_LIVE), 0);
	{
		const struct act_case io[] = {
			{ NUMALENS__V1__ACTION_OP__PIN_IOTHREAD, 1, "0", NULL, 0, 0, -99, 4242, 0,
			  "  apply: pin iothread 1 -> CPUs 0\n", " -> 0\n" },
			{ NUMALENS__V1__ACTION_OP__PIN_IOTHREAD, 1, "1", NULL, 0, 0, -99, 4242, 0,
			  NULL, "        changed: pin iothread 1: CPUs 0 -> 1\n" },
		};

		check_cases(io, sizeof(io) / sizeof(io[0]), &c, dom);
	}
	/* vCPU pinning live: this test driver refuses the flag (FAILED, the
	 * fallback would run); a driver that takes it logs the change */
	{
		const struct act_case v = { NUMALENS__V1__ACTION_OP__PIN_VCPU, 1, "1", NULL, 0, 0,
					     -99, 4242, 0, NULL, NULL };
		struct log l;
		int rc = run_case(&v, &c, dom, &l);
		const char *t = log_text(&l);

		CHECK((rc == -EIO && strstr(t, "        FAILED: ")) ||
		      (rc == 0 && strstr(t, "        changed: pin vCPU 1: CPUs ")));
		log_close(&l);
	}
cleanup:
	if (dom)
		virDomainFree(dom);
	if (conn)
		virConnectClose(conn);
}

/* ---- hints: domains and fallbacks ---- */

static int hint_run(struct nl_apply_ctx *c, const char *uuid, const char *vm,
		    Numalens__V1__HintKind kind, Numalens__V1__Action **as, size_t n,
		    struct log *l)
{
	Numalens__V1__Hint h = NUMALENS__V1__HINT__INIT;
	Numalens__V1__Target t = NUMALENS__V1__TARGET__INIT;

	h.id = (char *)"abc";
	h.vm = (char *)vm;
	h.uuid = (char *)uuid;
	h.has_pid = 1;
	h.pid = 4242;
	h.has_kind = 1;
	h.kind = kind;
	h.has_policy = 1;
	h.policy = NUMALENS__V1__POLICY__POLICY_DINO;
	t.has_node = 1;
	t.node = 0;
	h.target = &t;
	h.has_step = 1;
	h.step = 3;
	h.has_expected_gain = 1;
	h.expected_gain = 0.5;
	h.has_confidence = 1;
	h.confidence = 0.6;
	h.reason_code = (char *)"remote_memory";
	h.reason = (char *)"move it";
	h.actions = as;
	h.n_actions = n;
	log_open(l, c);
	return nl_apply_hint(c, &h);
}

static void test_hint_fallbacks(void)
{
	Numalens__V1__Action tune = NUMALENS__V1__ACTION__INIT, bad = NUMALENS__V1__ACTION__INIT;
	Numalens__V1__Action pages = NUMALENS__V1__ACTION__INIT, vcpu = NUMALENS__V1__ACTION__INIT;
	Numalens__V1__Action mig = NUMALENS__V1__ACTION__INIT;
	Numalens__V1__Action *as[2];
	int32_t from[1] = { 1 };
	struct nl_apply_ctx c = { 0 };
	virConnectPtr conn = test_driver(&c);
	struct log l;

	fake_procfs();
	tune.has_op = bad.has_op = pages.has_op = vcpu.has_op = mig.has_op = 1;
	tune.op = bad.op = NUMALENS__V1__ACTION_OP__NUMATUNE;
	tune.nodes = (char *)"0";
	tune.libvirt = bad.libvirt = (char *)"virDomainSetNumaParameters(...)";
	bad.nodes = (char *)"";
	pages.op = NUMALENS__V1__ACTION_OP__MIGRATE_PAGES;
	pages.from_nodes = from;
	pages.n_from_nodes = 1;
	pages.has_to_node = 1;
	pages.to_node = 0;
	pages.has_fallback = 1;
	pages.fallback = 1;
	pages.command = (char *)"migratepages 4242 1 0";
	vcpu.op = NUMALENS__V1__ACTION_OP__PIN_VCPU;
	vcpu.has_index = 1;
	vcpu.index = 7;
	vcpu.cpus = (char *)"0";
	vcpu.libvirt = (char *)"virDomainPinVcpuFlags(...)";
	mig.op = NUMALENS__V1__ACTION_OP__MIGRATE_VM;

	/* the first action fails: its fallback runs and the hint succeeds */
	as[0] = &bad;
	as[1] = &pages;
	CHECK_EQ_INT(hint_run(&c, NULL, "test", NUMALENS__V1__HINT_KIND__MIGRATE_MEMORY, as, 2, &l), 0);
	CHECK(strstr(log_text(&l), "hint abc: migrate_memory of VM \"test\" -> node 0 (policy dino, "
			       "step 3, gain 0.50, confidence 0.60)\n  reason: remote_memory: move it\n"));
	CHECK(strstr(log_text(&l), "        trying the fallback\n  would: migrate_pages (nodes 1 -> 0"));
	CHECK(strstr(log_text(&l), "        same as: migratepages 4242 1 0\n        dry run, not changed\n"));
	log_close(&l);
	/* the first action works: its fallback is skipped */
	as[0] = &tune;
	CHECK_EQ_INT(hint_run(&c, NULL, "test", NUMALENS__V1__HINT_KIND__MIGRATE_MEMORY, as, 2, &l), 0);
	CHECK(strstr(log_text(&l), "  skip: migrate_pages (fallback, not needed)\n"));
	log_close(&l);
	/* a failure with no fallback fails the hint */
	as[0] = &vcpu;
	CHECK_EQ_INT(hint_run(&c, NULL, "test", NUMALENS__V1__HINT_KIND__PIN_VCPUS, as, 1, &l), 1);
	log_close(&l);
	/* the UUID names another domain than the hint's VM: nothing runs */
	CHECK_EQ_INT(hint_run(&c, "6695eb01-f6a4-8304-79aa-97f2502e193f", "other",
			      NUMALENS__V1__HINT_KIND__PIN_VCPUS, as, 1, &l), 1);
	CHECK(strstr(log_text(&l), "is named \"test\", not \"other\""));
	CHECK(!strstr(log_text(&l), "would:"));
	log_close(&l);
	CHECK_EQ_INT(hint_run(&c, NULL, "nosuch", NUMALENS__V1__HINT_KIND__PIN_VCPUS, as, 1, &l), 1);
	CHECK(strstr(log_text(&l), "  error: no libvirt domain \"nosuch\": "));
	log_close(&l);
	/* evict: shown, never done */
	as[0] = &mig;
	CHECK_EQ_INT(hint_run(&c, NULL, "test", NUMALENS__V1__HINT_KIND__EVICT, as, 1, &l), 0);
	CHECK(strstr(log_text(&l), "hint abc: evict of VM \"test\""));
	CHECK(strstr(log_text(&l), "orchestrator's call"));
	log_close(&l);
	/* a crafted evict whose action pins a plain process, with --yes:
	 * nothing is validated or run, each action says it is not done */
	{
		Numalens__V1__Action pin = NUMALENS__V1__ACTION__INIT;
		bool yes = c.yes;

		pin.has_op = pin.has_index = 1;
		pin.op = NUMALENS__V1__ACTION_OP__PIN_THREAD;
		pin.index = 4244;
		pin.cpus = (char *)"0";
		as[0] = &pin;
		c.yes = true;
		CHECK_EQ_INT(hint_run(&c, NULL, "test", NUMALENS__V1__HINT_KIND__EVICT, as, 1, &l), 0);
		CHECK(strstr(log_text(&l), "  not done: pin thread (evict hints are never acted on"));
		CHECK(!strstr(log_text(&l), "apply:"));
		CHECK(!strstr(log_text(&l), "changed"));
		log_close(&l);
		c.yes = yes;
	}
	if (conn)
		virConnectClose(conn);
}

/* ---- pages ---- */

static void test_page_arithmetic(void)
{
	static const struct { const char *line; bool ram; unsigned long len; } maps[] = {
		{ "7f0000000000-7f0040000000 rw-p 00000000 00:00 0 ", true, 1UL << 30 },
		{ "7f0000000000-7f0000200000 rw-p 00000000 00:00 0", true, 2UL << 20 },
		{ "7f0000000000-7f00001ff000 rw-p 00000000 00:00 0", false, 0 },   /* < 2 MiB */
		{ "7f0000000000-7f0040000000 rw-s 00000000 00:05 77 /memfd:ram (deleted)", false, 0 },
		{ "7f0000000000-7f0040000000 r--p 00000000 00:00 0", false, 0 },
		{ "00400000-00800000 rw-p 00000000 08:01 1234 /usr/bin/qemu", false, 0 },
		{ "garbage", false, 0 },
	};
	void *pages[6] = { (void *)1, (void *)2, (void *)3, (void *)4, (void *)5, (void *)6 };
	int status[6] = { 0, 1, 1, -EFAULT, 1, 0 };
	void *sel[6];
	unsigned long mask[2], lo, hi;
	int nodes[3] = { 0, 65, 127 };

	CHECK_EQ_U64(nl_apply_pages_for(0, 4096), 0);
	CHECK_EQ_U64(nl_apply_pages_for(1, 4096), 1);
	CHECK_EQ_U64(nl_apply_pages_for(4096, 4096), 1);
	CHECK_EQ_U64(nl_apply_pages_for(4097, 4096), 2);
	CHECK_EQ_U64(nl_apply_pages_for(1ULL << 40, 4096), 1ULL << 28);
	CHECK_EQ_U64(nl_apply_pages_for(UINT64_MAX, 4096), (UINT64_MAX >> 12) + 1);
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		bool ram = nl_apply_maps_ram(maps[i].line, &lo, &hi);

		CHECK_EQ_INT(ram, maps[i].ram);
		if (ram && maps[i].ram)
			CHECK_EQ_U64(hi - lo, maps[i].len);
	}
	/* pages on node 1, at most the limit, in order */
	CHECK_EQ_INT(nl_apply_pages_on(pages, status, 6, 1, 100, sel), 3);
	CHECK(sel[0] == (void *)2 && sel[1] == (void *)3 && sel[2] == (void *)5);
	CHECK_EQ_INT(nl_apply_pages_on(pages, status, 6, 1, 2, sel), 2);
	CHECK(sel[1] == (void *)3);
	CHECK_EQ_INT(nl_apply_pages_on(pages, status, 6, 0, 0, sel), 0);
	CHECK_EQ_INT(nl_apply_pages_on(pages, status, 6, 7, 9, sel), 0);
	/* node masks */
	CHECK_EQ_INT(nl_apply_node_mask(nodes, 3, mask, 2), 0);
	CHECK(mask[0] == 1UL && mask[1] == ((1UL << 1) | (1UL << 63)));
	nodes[2] = 128;
	CHECK_EQ_INT(nl_apply_node_mask(nodes, 3, mask, 2), -EINVAL);
	nodes[0] = -1;
	CHECK_EQ_INT(nl_apply_node_mask(nodes, 1, mask, 2), -EINVAL);
}

/* move_pages(2) on our own guest-RAM-like mapping: 8 MiB, touched, on
 * node 0 (this host's only node, and any host's first). */
static void test_move_pages(void)
{
	size_t len = 8u << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t found = 0, moved = 0;

	CHECK(p != MAP_FAILED);
	if (p == MAP_FAILED)
		return;
	CHECK_EQ_INT(nl_paths_set("/proc", "/sys"), 0);
	memset(p, 1, len);
	CHECK_EQ_INT(nl_apply_move_pages((int)getpid(), 0, 0, 4u << 20, false, &found, &moved), 0);
	CHECK_EQ_U64(found, 4u << 20);      /* stops at the bytes asked for */
	CHECK_EQ_U64(moved, 0);             /* dry run */
	CHECK_EQ_INT(nl_apply_move_pages((int)getpid(), 0, 0, 4u << 20, true, &found, &moved), 0);
	CHECK_EQ_U64(moved, 4u << 20);      /* "moved" to where they are */
	CHECK_EQ_INT(nl_apply_move_pages((int)getpid(), 0, 0, 1, false, &found, &moved), 0);
	CHECK_EQ_U64(found, (uint64_t)sysconf(_SC_PAGESIZE));   /* one page for 1 byte */
	/* nothing on a node that does not exist */
	CHECK_EQ_INT(nl_apply_move_pages((int)getpid(), 63, 0, 4u << 20, false, &found, &moved), 0);
	CHECK_EQ_U64(found, 0);
	CHECK(nl_apply_move_pages(999999999, 0, 0, 1, false, &found, &moved) < 0);
	munmap(p, len);
}

static void test_teardown(void)
{
	char cmd[128];

	if (fake_root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_root);
		CHECK_EQ_INT(system(cmd), 0);
		fake_root[0] = '\0';
	}
	nl_paths_set("/proc", "/sys");
}

NL_TEST_MAIN(NL_T(test_pid_is_vm),
	     NL_T(test_op_table_complete),
	     NL_T(test_ops_validate),
	     NL_T(test_libvirt_ops),
	     NL_T(test_hint_fallbacks),
	     NL_T(test_page_arithmetic),
	     NL_T(test_move_pages),
	     NL_T(test_teardown))
