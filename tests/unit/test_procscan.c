#include "harness.h"

#include <math.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "paths.h"
#include "procscan.h"
#include "threads.h"

static void test_cmdline_libvirt_style(void)
{
	static const char cl[] = "/usr/bin/qemu-system-x86_64\0-name\0"
		"guest=numalens-demo-mem,debug-threads=on\0-S\0-uuid\0"
		"6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e\0-m\0256";
	char name[256], uuid[37];

	nl_procscan_parse_cmdline(cl, sizeof(cl), name, sizeof(name), uuid,
				  sizeof(uuid));
	CHECK_STR(name, "numalens-demo-mem");
	CHECK_STR(uuid, "6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e");
}

static void test_cmdline_legacy_and_escaped(void)
{
	static const char legacy[] = "qemu-kvm\0-name\0web01,process=qemu:web01";
	static const char esc[] = "qemu\0-name\0guest=a,,b,debug-threads=on";
	static const char none[] = "qemu\0-m\0512\0-name";
	char name[256], uuid[37];

	nl_procscan_parse_cmdline(legacy, sizeof(legacy), name, sizeof(name),
				  uuid, sizeof(uuid));
	CHECK_STR(name, "web01");
	CHECK_STR(uuid, "");
	nl_procscan_parse_cmdline(esc, sizeof(esc), name, sizeof(name), uuid,
				  sizeof(uuid));
	CHECK_STR(name, "a,b");
	/* "-name" as the last word has no value: no name, no crash */
	nl_procscan_parse_cmdline(none, sizeof(none), name, sizeof(name), uuid,
				  sizeof(uuid));
	CHECK_STR(name, "");
}

static void test_stat_after_last_paren(void)
{
	/* comm with spaces and a ')' inside, as QEMU vCPU threads have */
	static const char st[] = "4243 (CPU 0/KVM) x) R 1 4242 4242 0 -1 "
		"4194624 0 0 0 0 100 20 0 0 20 0 3 0 987654 0 0 "
		"18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 5 0 0 0 0 0";
	uint64_t start = 0;
	int cpu = -2;

	CHECK_EQ_INT(nl_procscan_parse_stat(st, &start, &cpu), 0);
	CHECK_EQ_U64(start, 987654);
	CHECK_EQ_INT(cpu, 5);
	CHECK(nl_procscan_parse_stat("garbage without paren", &start, &cpu) < 0);
	CHECK(nl_procscan_parse_stat("1 (x) R 1", &start, &cpu) < 0);
}

static void test_qemu_comm(void)
{
	CHECK(nl_procscan_is_qemu_comm("qemu-system-x86"));
	CHECK(nl_procscan_is_qemu_comm("qemu-kvm"));
	CHECK(!nl_procscan_is_qemu_comm("qemu-img"));
	CHECK(!nl_procscan_is_qemu_comm("bash"));
}

static void test_roles_by_comm(void)
{
	int idx;

	CHECK_EQ_INT(nl_threads_classify_comm("CPU 0/KVM", &idx), NL_ROLE_VCPU);
	CHECK_EQ_INT(idx, 0);
	CHECK_EQ_INT(nl_threads_classify_comm("CPU 17/TCG", &idx), NL_ROLE_VCPU);
	CHECK_EQ_INT(idx, 17);
	CHECK_EQ_INT(nl_threads_classify_comm("CPU x/KVM", &idx), NL_ROLE_EMULATOR);
	CHECK_EQ_INT(nl_threads_classify_comm("IO iothread1", &idx), NL_ROLE_IOTHREAD);
	CHECK_EQ_INT(idx, 1);
	CHECK_EQ_INT(nl_threads_classify_comm("IO disk", &idx), NL_ROLE_IOTHREAD);
	CHECK_EQ_INT(idx, -1);
	CHECK_EQ_INT(nl_threads_classify_comm("IO mon_iothread", &idx), NL_ROLE_EMULATOR);
	CHECK_EQ_INT(nl_threads_classify_comm("vhost-4242", &idx), NL_ROLE_VHOST);
	CHECK_EQ_INT(nl_threads_classify_comm("vhost-", &idx), NL_ROLE_EMULATOR);
	CHECK_EQ_INT(nl_threads_classify_comm("qemu-system-x86", &idx), NL_ROLE_EMULATOR);
	CHECK_EQ_INT(nl_threads_classify_comm("call_rcu", &idx), NL_ROLE_EMULATOR);
	CHECK_EQ_INT(idx, -1);
}

static void test_roles_by_cgroup(void)
{
	int idx;

	CHECK_EQ_INT(nl_threads_classify_cgroup(
		"0::/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope/libvirt/vcpu3\n", &idx),
		NL_ROLE_VCPU);
	CHECK_EQ_INT(idx, 3);
	CHECK_EQ_INT(nl_threads_classify_cgroup(
		"12:pids:/\n4:cpuset:/machine/alpha.libvirt-qemu/iothread2\n"
		"3:memory:/machine/alpha.libvirt-qemu\n", &idx), NL_ROLE_IOTHREAD);
	CHECK_EQ_INT(idx, 2);
	CHECK_EQ_INT(nl_threads_classify_cgroup(
		"0::/machine.slice/x.scope/libvirt/emulator\n", &idx), NL_ROLE_COUNT);
	CHECK_EQ_INT(nl_threads_classify_cgroup("0::/vcpufoo\n", &idx), NL_ROLE_COUNT);
	CHECK_EQ_INT(nl_threads_classify_cgroup("", &idx), NL_ROLE_COUNT);
}

static void test_cmdline_incoming(void)
{
	static const char defer[] = "qemu-system-x86_64\0-name\0guest=d\0-incoming\0defer";
	static const char tcp[] = "qemu-kvm\0--incoming\0tcp:0.0.0.0:4444\0-S";
	static const char exec[] = "qemu\0-incoming\0exec:cat /tmp/st\0";
	static const char last[] = "qemu\0-m\0512\0-incoming";
	static const char empty[] = "qemu\0-incoming\0\0-S";
	static const char named[] = "qemu\0-name\0guest=-incoming\0-m\0512";
	static const char plain[] = "qemu\0-S\0-uuid\0" "6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e";

	CHECK(nl_procscan_cmdline_incoming(defer, sizeof(defer)));
	CHECK(nl_procscan_cmdline_incoming(tcp, sizeof(tcp)));
	CHECK(nl_procscan_cmdline_incoming(exec, sizeof(exec)));
	/* no value: QEMU would not start; not an incoming VM */
	CHECK(!nl_procscan_cmdline_incoming(last, sizeof(last)));
	CHECK(!nl_procscan_cmdline_incoming(empty, sizeof(empty)));
	/* the word as the value of another option */
	CHECK(!nl_procscan_cmdline_incoming(named, sizeof(named)));
	CHECK(!nl_procscan_cmdline_incoming(plain, sizeof(plain)));
}

static void test_stat_field(void)
{
	/* the guest_time field (43) of a vCPU thread, after a comm with
	 * spaces and parentheses */
	static const char st[] = "4243 (CPU 0/KVM) x) S 1 4242 4242 0 -1 "
		"4194624 0 0 0 0 100 20 0 0 20 0 3 0 987654 0 0 "
		"18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 5 0 0 0 777 0\n";
	uint64_t v = 1;

	CHECK_EQ_INT(nl_procscan_stat_field(st, 43, &v), 0);
	CHECK_EQ_U64(v, 777);
	CHECK_EQ_INT(nl_procscan_stat_field(st, 14, &v), 0);
	CHECK_EQ_U64(v, 100);
	CHECK_EQ_INT(nl_procscan_stat_field(st, 3, &v), 0);   /* "S" */
	CHECK_EQ_U64(v, 0);
	CHECK(nl_procscan_stat_field(st, 45, &v) < 0);
	CHECK(nl_procscan_stat_field(st, 2, &v) < 0);
	CHECK(nl_procscan_stat_field("no paren 1 2 3", 3, &v) < 0);
}

static void test_syscall_kvm_run(void)
{
	CHECK(nl_procscan_syscall_is_kvm_run(
		"16 0xf 0xae80 0x0 0x0 0x55f8fba88290 0x0 0x7fedb96fb530 0x7fedbb471d6b\n"));
	/* another ioctl of the vCPU (KVM_GET_REGS), a futex wait, on a CPU */
	CHECK(!nl_procscan_syscall_is_kvm_run("16 0xf 0x8090ae81 0x7ffd02105000 0x0 0x0 0x0 0x0 0x0\n"));
	CHECK(!nl_procscan_syscall_is_kvm_run("202 0x559e75ee458c 0x189 0x0 0x0 0x0 0xffffffff 0x0 0x0\n"));
	CHECK(!nl_procscan_syscall_is_kvm_run("running\n"));
	CHECK(!nl_procscan_syscall_is_kvm_run("-1 0x7ffd02104fe0 0x7fedbb470366\n"));
	CHECK(!nl_procscan_syscall_is_kvm_run(""));
}

static void test_incoming_states(void)
{
	const uint64_t ms = 1000000;
	const struct nl_incoming_obs none = { 0 };
	const struct nl_incoming_obs setup = { .nvcpus = 2, .run_ns = 3 * ms };
	const struct nl_incoming_obs more = { .nvcpus = 2, .run_ns = 5 * ms };
	const struct nl_incoming_obs one = { .nvcpus = 1, .run_ns = 5 * ms };
	const struct nl_incoming_obs guest = { .nvcpus = 2, .run_ns = 3 * ms,
					       .guest_ticks = 1 };
	const struct nl_incoming_obs kvm_run = { .nvcpus = 2, .run_ns = 3 * ms,
						 .in_kvm_run = 1 };
	/* more on-CPU time than setting up two vCPUs takes */
	const struct nl_incoming_obs ran = { .nvcpus = 2,
		.run_ns = 2 * NL_INCOMING_SETUP_NS + 1 };
	const struct nl_incoming_obs setup_max = { .nvcpus = 2,
		.run_ns = 2 * NL_INCOMING_SETUP_NS };
	const struct nl_incoming_obs *started[] = { &guest, &kvm_run, &ran };

	/* first look */
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_UNSEEN, false, &none, &setup),
		     NL_INCOMING_WATCH);
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_UNSEEN, true, &none, &none),
		     NL_INCOMING_WATCH);
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_UNSEEN, false, &none, &setup_max),
		     NL_INCOMING_WATCH);
	for (size_t i = 0; i < sizeof(started) / sizeof(started[0]); i++) {
		/* ran the guest before numalens' first scan / since the last */
		CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_UNSEEN, false, &none, started[i]),
			     NL_INCOMING_RAN);
		CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_UNSEEN, true, &none, started[i]),
			     NL_INCOMING_ARRIVED);
		/* watched: the start, seen idle before or not */
		CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_WATCH, false, &setup, started[i]),
			     NL_INCOMING_ARRIVED);
		CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_WAITING, false, &setup, started[i]),
			     NL_INCOMING_ARRIVED);
	}
	/* idle a whole scan: waiting; then any run is the start */
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_WATCH, false, &setup, &setup),
		     NL_INCOMING_WAITING);
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_WAITING, false, &setup, &setup),
		     NL_INCOMING_WAITING);
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_WAITING, false, &setup, &more),
		     NL_INCOMING_ARRIVED);
	/* running, within the setup time, before being seen idle: setup */
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_WATCH, false, &setup, &more),
		     NL_INCOMING_WATCH);
	/* vCPU threads appearing or unseen: no decision */
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_WAITING, false, &one, &more),
		     NL_INCOMING_WATCH);
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_WATCH, false, &none, &none),
		     NL_INCOMING_WATCH);
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_WAITING, false, &more, &setup),
		     NL_INCOMING_WATCH);
	/* final */
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_RAN, true, &none, &guest),
		     NL_INCOMING_RAN);
	CHECK_EQ_INT(nl_procscan_incoming_next(NL_INCOMING_ARRIVED, false, &setup, &setup),
		     NL_INCOMING_ARRIVED);
}

/* ---- the scan on fixture trees: tests/fixtures/incoming/mkincoming.sh ---- */

static struct nl_vm *inc_track(struct nl_state *st, pid_t pid)
{
	struct nl_vm *vm = calloc(1, sizeof(*vm));

	st->vms = realloc(st->vms, (st->nvms + 1) * sizeof(*st->vms));
	st->vms[st->nvms++] = vm;
	vm->pid = pid;
	vm->starttime = 8812345;
	return vm;
}

static void inc_untrack(struct nl_state *st)
{
	for (size_t i = 0; i < st->nvms; i++)
		free(st->vms[i]);
	free(st->vms);
	st->vms = NULL;
	st->nvms = 0;
}

static int inc_scan(struct nl_state *st, void *priv, const char *tree,
		    uint64_t now)
{
	char proc[512];

	snprintf(proc, sizeof(proc), "%s/tests/fixtures/incoming/%s/proc",
		 NL_SRCDIR, tree);
	nl_paths_set(proc, NULL);
	st->gen++;
	st->now_ns = now;
	return nl_source_procscan.sample(st, priv);
}

/* Two scans of the waiting tree, then the running one. Arrivals at that
 * scan: the destination whose vCPU entered KVM_RUN, the one known by its
 * vcpuN cgroups (guest time), the TCG one (on-CPU time growing after an
 * idle scan), and, dated from that scan once its VM is tracked, the one
 * that started and ran in between (more on-CPU time than setup). Not
 * arrivals: the QEMU that had run the guest at the first scan, the paused
 * one resumed, the one without -incoming, and one libvirt named first. */
static void test_incoming_scan_fixtures(void)
{
	struct nl_state st = { 0 };
	struct nl_vm *booted, *dest, *old, *paused, *nodebug, *tcg, *quick;
	struct nl_vm_snap sv[2];
	struct nl_snapshot snap;
	void *priv = NULL;
	const uint64_t s = 1000000000ULL;

	CHECK_EQ_INT(nl_source_procscan.init(&st, &priv), 0);
	if (!priv)
		return;
	booted = inc_track(&st, 4242);
	dest = inc_track(&st, 5151);
	old = inc_track(&st, 6161);
	paused = inc_track(&st, 6262);
	nodebug = inc_track(&st, 8181);
	tcg = inc_track(&st, 9191);

	CHECK_EQ_INT(inc_scan(&st, priv, "waiting", 10 * s), 0);
	CHECK_EQ_INT(st.nqprocs, 6);
	CHECK_EQ_INT(inc_scan(&st, priv, "waiting", 11 * s), 0);
	for (size_t i = 0; i < st.nvms; i++)
		CHECK_EQ_INT(st.vms[i]->arrival, NL_ARRIVAL_NONE);

	/* libvirt reported one arrival first: it stays */
	nodebug->arrival = NL_ARRIVAL_RESTORED;
	nodebug->arrived_ns = 5;
	CHECK_EQ_INT(inc_scan(&st, priv, "running", 12 * s), 0);
	CHECK_EQ_INT(st.nqprocs, 7);
	CHECK_EQ_INT(dest->arrival, NL_ARRIVAL_INCOMING);
	CHECK_EQ_U64(dest->arrived_ns, 12 * s);
	CHECK_EQ_INT(tcg->arrival, NL_ARRIVAL_INCOMING);
	CHECK_EQ_U64(tcg->arrived_ns, 12 * s);
	CHECK_EQ_INT(nodebug->arrival, NL_ARRIVAL_RESTORED);
	CHECK_EQ_U64(nodebug->arrived_ns, 5);
	CHECK_EQ_INT(old->arrival, NL_ARRIVAL_NONE);
	CHECK_EQ_INT(paused->arrival, NL_ARRIVAL_NONE);
	CHECK_EQ_INT(booted->arrival, NL_ARRIVAL_NONE);

	/* 7171 is not tracked yet: its arrival reaches this cycle's
	 * snapshot through publish, and no other VM's */
	memset(&snap, 0, sizeof(snap));
	memset(sv, 0, sizeof(sv));
	sv[0].pid = 7171;
	sv[1].pid = 4242;
	sv[0].arrival_age_seconds = sv[1].arrival_age_seconds = NAN;
	snap.vms = sv;
	snap.nvms = 2;
	st.now_ns = 12 * s + s / 4;
	CHECK_EQ_INT(nl_source_procscan.publish(&st, priv, &snap), 0);
	CHECK_EQ_INT(sv[0].arrival, NL_ARRIVAL_INCOMING);
	CHECK_NEAR(sv[0].arrival_age_seconds, 0.25, 1e-9);
	CHECK_EQ_INT(sv[1].arrival, NL_ARRIVAL_NONE);
	CHECK(isnan(sv[1].arrival_age_seconds));

	/* tracked from the next cycle on, dated from the scan that saw it;
	 * nothing else changes */
	quick = inc_track(&st, 7171);
	CHECK_EQ_INT(inc_scan(&st, priv, "running", 13 * s), 0);
	CHECK_EQ_INT(quick->arrival, NL_ARRIVAL_INCOMING);
	CHECK_EQ_U64(quick->arrived_ns, 12 * s);
	CHECK_EQ_U64(dest->arrived_ns, 12 * s);
	CHECK_EQ_INT(old->arrival, NL_ARRIVAL_NONE);
	CHECK_EQ_INT(paused->arrival, NL_ARRIVAL_NONE);
	/* and publish leaves it to the VM */
	sv[0].arrival = NL_ARRIVAL_NONE;
	CHECK_EQ_INT(nl_source_procscan.publish(&st, priv, &snap), 0);
	CHECK_EQ_INT(sv[0].arrival, NL_ARRIVAL_NONE);

	nl_source_procscan.free(&st, priv);
	inc_untrack(&st);
	nl_paths_set("/proc", NULL);
}

/* Without debug-threads the vCPUs are found by their vcpuN cgroups: the
 * guest time of 8181's vCPU 0 makes it an arrival. */
static void test_incoming_vcpus_by_cgroup(void)
{
	struct nl_state st = { 0 };
	struct nl_vm *vm;
	void *priv = NULL;

	CHECK_EQ_INT(nl_source_procscan.init(&st, &priv), 0);
	if (!priv)
		return;
	vm = inc_track(&st, 8181);
	CHECK_EQ_INT(inc_scan(&st, priv, "waiting", 1), 0);
	CHECK_EQ_INT(inc_scan(&st, priv, "running", 2), 0);
	CHECK_EQ_INT(vm->arrival, NL_ARRIVAL_INCOMING);
	CHECK_EQ_U64(vm->arrived_ns, 2);
	nl_source_procscan.free(&st, priv);
	inc_untrack(&st);
	nl_paths_set("/proc", NULL);
}

/* One scan of each: the TCG QEMU's vCPU ran between the two looks, but
 * numalens never saw it idle and it is within the setup time: maybe setup,
 * no arrival yet. The vCPU in KVM_RUN needs no idle scan. */
static void test_incoming_needs_an_idle_scan(void)
{
	struct nl_state st = { 0 };
	struct nl_vm *tcg, *dest;
	void *priv = NULL;

	CHECK_EQ_INT(nl_source_procscan.init(&st, &priv), 0);
	if (!priv)
		return;
	tcg = inc_track(&st, 9191);
	dest = inc_track(&st, 5151);
	CHECK_EQ_INT(inc_scan(&st, priv, "waiting", 1), 0);
	CHECK_EQ_INT(inc_scan(&st, priv, "running", 2), 0);
	CHECK_EQ_INT(tcg->arrival, NL_ARRIVAL_NONE);
	CHECK_EQ_INT(dest->arrival, NL_ARRIVAL_INCOMING);
	nl_source_procscan.free(&st, priv);
	inc_untrack(&st);
	nl_paths_set("/proc", NULL);
}

/* ---- trust ---- */

static void test_parse_users(void)
{
	uid_t u[4];

	CHECK_EQ_INT(nl_procscan_parse_users("root,64055", u, 4), 2);
	CHECK_EQ_INT(u[0], 0);
	CHECK_EQ_INT(u[1], 64055);
	/* a name that is no user here is left out */
	CHECK_EQ_INT(nl_procscan_parse_users("root,no-such-user-nl", u, 4), 1);
	CHECK_EQ_INT(nl_procscan_parse_users("root,,0", u, 4), -EINVAL);
	CHECK_EQ_INT(nl_procscan_parse_users("", u, 4), -EINVAL);
	CHECK_EQ_INT(nl_procscan_parse_users("0,1,2,3,4", u, 4), -EINVAL);
}

/* A process of a look-alike QEMU or vhost worker, in tree root. */
static void fake_proc(const char *root, int pid, const char *comm, const char *cmdline,
		      size_t cmdlen, int uid)
{
	char rel[64], buf[512];

	snprintf(rel, sizeof(rel), "%d/comm", pid);
	snprintf(buf, sizeof(buf), "%s\n", comm);
	CHECK_EQ_INT(nl_t_put(root, rel, buf, -1), 0);
	snprintf(rel, sizeof(rel), "%d/cmdline", pid);
	CHECK_EQ_INT(nl_t_put(root, rel, cmdline, (ssize_t)cmdlen), 0);
	snprintf(rel, sizeof(rel), "%d/status", pid);
	snprintf(buf, sizeof(buf), "Name:\t%s\nPid:\t%d\nUid:\t%d\t%d\t%d\t%d\n",
		 comm, pid, uid, uid, uid, uid);
	CHECK_EQ_INT(nl_t_put(root, rel, buf, -1), 0);
	snprintf(rel, sizeof(rel), "%d/stat", pid);
	snprintf(buf, sizeof(buf), "%d (%s) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 777 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		 pid, comm);
	CHECK_EQ_INT(nl_t_put(root, rel, buf, -1), 0);
}

/* The attack of the issue: run as uid 65534, "kvm -name guest=test -uuid
 * <a real VM's>" and a process named vhost-<real QEMU's PID>. Neither is
 * taken; a QEMU run as a QEMU user, one holding /dev/kvm and a real vhost
 * kernel thread are. Two scans log one line. */
static void test_spoofed_qemu_ignored(void)
{
	static const char spoof[] = "kvm\0-name\0guest=test\0-uuid\0"
		"6695eb01-f6a4-8304-79aa-97f2502e193f";
	static const char real[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=real\0";
	struct nl_config cfg;
	struct nl_state st = { 0 };
	char root[64], fd[128], logs[4096] = "";
	void *priv = NULL;
	FILE *log = tmpfile();
	int lines = 0;

	snprintf(root, sizeof(root), "/tmp/nl-spoof-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	fake_proc(root, 700, "kvm", spoof, sizeof(spoof), 65534);
	fake_proc(root, 701, "qemu-system-x86", real, sizeof(real), 4711);
	fake_proc(root, 702, "kvm", spoof, sizeof(spoof), 65534);
	snprintf(fd, sizeof(fd), "%s/702/fd", root);
	CHECK_EQ_INT(mkdir(fd, 0755), 0);
	snprintf(fd, sizeof(fd), "%s/702/fd/11", root);
	CHECK_EQ_INT(symlink("/dev/kvm", fd), 0);
	fake_proc(root, 710, "vhost-701", "", 0, 0);
	fake_proc(root, 711, "vhost-701", "sleep\0" "100", 10, 65534);
	fake_proc(root, 720, "bash", "bash", 5, 65534);

	nl_config_defaults(&cfg);
	cfg.qemu_users = "root,4711";
	st.cfg = &cfg;
	nl_paths_set(root, NULL);
	nl_log_set_stream(log);
	CHECK_EQ_INT(nl_source_procscan.init(&st, &priv), 0);
	for (int i = 0; priv && i < 2; i++) {
		CHECK_EQ_INT(nl_source_procscan.sample(&st, priv), 0);
		CHECK_EQ_INT(st.nqprocs, 2);
		for (size_t j = 0; j < st.nqprocs; j++)
			CHECK(st.qprocs[j].pid == 701 || st.qprocs[j].pid == 702);
		CHECK_EQ_INT(st.nkworkers, 1);
		if (st.nkworkers == 1)
			CHECK_EQ_INT(st.kworkers[0].pid, 710);
	}
	nl_log_set_stream(NULL);
	rewind(log);
	while (fgets(logs, sizeof(logs), log))
		if (strstr(logs, "discovery: ignoring 2 process(es)")) {
			lines++;
			CHECK(strstr(logs, "PID 700") != NULL);
		}
	fclose(log);
	CHECK_EQ_INT(lines, 1);
	/* an empty element in the list is an error at start */
	if (priv)
		nl_source_procscan.free(&st, priv);
	cfg.qemu_users = "root,,x";
	priv = NULL;
	CHECK(nl_source_procscan.init(&st, &priv) < 0);
	nl_paths_set("/proc", NULL);
	snprintf(fd, sizeof(fd), "rm -rf '%s'", root);
	CHECK_EQ_INT(system(fd), 0);
}

NL_TEST_MAIN(NL_T(test_cmdline_libvirt_style), NL_T(test_cmdline_legacy_and_escaped),
	     NL_T(test_stat_after_last_paren), NL_T(test_qemu_comm),
	     NL_T(test_roles_by_comm), NL_T(test_roles_by_cgroup),
	     NL_T(test_cmdline_incoming), NL_T(test_stat_field),
	     NL_T(test_syscall_kvm_run), NL_T(test_incoming_states),
	     NL_T(test_incoming_scan_fixtures), NL_T(test_incoming_vcpus_by_cgroup),
	     NL_T(test_incoming_needs_an_idle_scan), NL_T(test_parse_users),
	     NL_T(test_spoofed_qemu_ignored))
