#include "harness.h"

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

NL_TEST_MAIN(NL_T(test_cmdline_libvirt_style), NL_T(test_cmdline_legacy_and_escaped),
	     NL_T(test_stat_after_last_paren), NL_T(test_qemu_comm),
	     NL_T(test_roles_by_comm), NL_T(test_roles_by_cgroup))
