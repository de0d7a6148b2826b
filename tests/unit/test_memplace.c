#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "memplace.h"
#include "memplace_priv.h"
#include "paths.h"
#include "state.h"
#include "topology.h"

#define FIX NL_SRCDIR "/tests/fixtures/"
#define KIB 1024ULL
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)
#define SEC 1000000000ULL

static struct nl_topology topo2;       /* ids 0, 1 */
static struct nl_topology topo_sparse; /* ids 0, 2 */
static uint64_t bytes[NL_MAX_NODES];

static void make_topo(struct nl_topology *t, const int *ids, int n)
{
	memset(t, 0, sizeof(*t));
	t->nnodes = n;
	for (int i = 0; i < n; i++)
		t->nodes[i].id = ids[i];
}

static void setup_topos(void)
{
	static const int a[] = { 0, 1 }, b[] = { 0, 2 };

	make_topo(&topo2, a, 2);
	make_topo(&topo_sparse, b, 2);
}

/* ---- memory.numa_stat ---- */

static void test_numa_stat_v2(void)
{
	static const char text[] =
		"anon N0=1073741824 N1=536870912\n"
		"file N0=999999 N1=888888\n"
		"kernel_stack N0=16384 N1=0\n"
		"shmem N0=4096 N1=8192\n"
		"file_mapped N0=12 N1=0\n"
		"anon_thp N0=1048576000 N1=0\n"
		"inactive_anon N0=1 N1=2\n"
		"active_anon N0=3 N1=4\n"
		"unevictable N0=77 N1=0\n";

	setup_topos();
	bytes[0] = 123;
	CHECK_EQ_INT(nl_memplace_parse_numa_stat(text, 1, 4096, &topo2,
						 bytes), 0);
	/* anon + shmem; file and the rest excluded; no page scaling */
	CHECK_EQ_U64(bytes[0], 1073741824ULL + 4096);
	CHECK_EQ_U64(bytes[1], 536870912ULL + 8192);
	CHECK_EQ_U64(bytes[2], 0);

	/* without shmem (not an error); an unknown node id is ignored */
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("anon N0=10 N1=20 N7=30\n", 1,
						 4096, &topo2, bytes), 0);
	CHECK_EQ_U64(bytes[0], 10);
	CHECK_EQ_U64(bytes[1], 20);
	/* sparse ids go to their index */
	CHECK_EQ_INT(nl_memplace_parse_numa_stat(
		"anon N0=10 N2=20\nshmem N0=1 N2=2\n", 1, 4096, &topo_sparse,
		bytes), 0);
	CHECK_EQ_U64(bytes[0], 11);
	CHECK_EQ_U64(bytes[1], 22);
}

static void test_numa_stat_v1_pages(void)
{
	/* a parent cgroup: hierarchical_ counts children too and wins */
	static const char text[] =
		"total=30 N0=20 N1=10\n"
		"file=10 N0=10 N1=0\n"
		"anon=15 N0=5 N1=10\n"
		"unevictable=5 N0=5 N1=0\n"
		"hierarchical_total=300 N0=200 N1=100\n"
		"hierarchical_file=100 N0=100 N1=0\n"
		"hierarchical_anon=150 N0=50 N1=100\n"
		"hierarchical_unevictable=50 N0=50 N1=0\n";

	setup_topos();
	CHECK_EQ_INT(nl_memplace_parse_numa_stat(text, 0, 4096, &topo2,
						 bytes), 0);
	CHECK_EQ_U64(bytes[0], (50 + 50) * 4096ULL);
	CHECK_EQ_U64(bytes[1], 100 * 4096ULL);
	/* pages are scaled by the page size given */
	CHECK_EQ_INT(nl_memplace_parse_numa_stat(text, 0, 65536, &topo2,
						 bytes), 0);
	CHECK_EQ_U64(bytes[0], 100 * 65536ULL);
	CHECK_EQ_U64(bytes[1], 100 * 65536ULL);

	/* an old kernel without hierarchical_ lines: anon + unevictable */
	CHECK_EQ_INT(nl_memplace_parse_numa_stat(
		"total=30 N0=20 N1=10\nfile=10 N0=10 N1=0\n"
		"anon=15 N0=5 N1=10\nunevictable=5 N0=5 N1=0\n", 0, 4096,
		&topo2, bytes), 0);
	CHECK_EQ_U64(bytes[0], 10 * 4096ULL);
	CHECK_EQ_U64(bytes[1], 10 * 4096ULL);
}

static void test_numa_stat_malformed(void)
{
	setup_topos();
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("anon N0=abc\n", 1, 4096,
						 &topo2, bytes), -EINVAL);
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("anon N0=5 junk\n", 1, 4096,
						 &topo2, bytes), -EINVAL);
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("file N0=5\n", 1, 4096,
						 &topo2, bytes), -EINVAL);
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("", 1, 4096, &topo2, bytes),
		     -EINVAL);
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("anon N0=1\nanon N0=2\n", 1,
						 4096, &topo2, bytes), -EINVAL);
	/* v1 text read as v2 and the reverse */
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("anon=5 N0=5\n", 1, 4096,
						 &topo2, bytes), -EINVAL);
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("anon N0=5\n", 0, 4096,
						 &topo2, bytes), -EINVAL);
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("anon=x N0=5\n", 0, 4096,
						 &topo2, bytes), -EINVAL);
	CHECK_EQ_INT(nl_memplace_parse_numa_stat("anon=5 N0=5\n", 0, 0,
						 &topo2, bytes), -EINVAL);
	/* a huge value saturates instead of wrapping */
	CHECK_EQ_INT(nl_memplace_parse_numa_stat(
		"anon=1 N0=18446744073709551615\n", 0, 4096, &topo2, bytes), 0);
	CHECK_EQ_U64(bytes[0], UINT64_MAX);
	CHECK_EQ_INT(nl_memplace_parse_numa_stat(
		"anon=1 N0=99999999999999999999\n", 0, 4096, &topo2, bytes),
		-EINVAL);
}

/* ---- numa_maps ---- */

static void test_numa_maps_huge_pages(void)
{
	static const char text[] =
		"55d4c6a00000 default file=/usr/bin/qemu mapped=10 mapmax=2 "
		"N0=10 kernelpagesize_kB=4\n"
		"7f4c00000000 bind:0-1 file=/dev/hugepages/x\\040(deleted) huge "
		"dirty=3 N0=1 N1=2 kernelpagesize_kB=2048\n"
		"7f5000000000 prefer (many):1 anon=3 dirty=3 N1=3 "
		"kernelpagesize_kB=4\n"
		"7f6000000000 default file=/dev/hugepages1G/y huge dirty=1 "
		"N1=1 kernelpagesize_kB=1048576\n"
		"7ffd5a5f1000 default\n";

	setup_topos();
	CHECK_EQ_INT(nl_memplace_parse_numa_maps(text, 4096, &topo2, bytes),
		     0);
	/* QEMU's binary is page cache, not counted; hugetlbfs is */
	CHECK_EQ_U64(bytes[0], 1 * 2 * MIB);
	CHECK_EQ_U64(bytes[1], 2 * 2 * MIB + 3 * 4096ULL + GIB);

	/* of a regular file, the private copies (anon=) only, shared over the
	 * nodes as the line's pages are; shared memory (memfd, /dev/shm, SysV)
	 * whole */
	CHECK_EQ_INT(nl_memplace_parse_numa_maps(
		"7f0000000000 default file=/usr/lib/libx.so anon=2 dirty=2 mapped=4 "
		"N0=3 N1=1 kernelpagesize_kB=4\n"
		"7f1000000000 default file=/memfd:ram\\040(deleted) dirty=4 N0=4 "
		"kernelpagesize_kB=4\n"
		"7f2000000000 default file=/dev/shm/vhost dirty=1 N1=1 kernelpagesize_kB=4\n"
		"7f3000000000 default file=/SYSV00000000\\040(deleted) dirty=2 N1=2 "
		"kernelpagesize_kB=4\n", 4096, &topo2, bytes), 0);
	CHECK_EQ_U64(bytes[0], (1 + 4) * 4096ULL);
	CHECK_EQ_U64(bytes[1], (0 + 1 + 2) * 4096ULL);

	/* no kernelpagesize_kB: the base page size given */
	CHECK_EQ_INT(nl_memplace_parse_numa_maps(
		"7f0000000000 default anon=2 N0=2\n", 65536, &topo2, bytes), 0);
	CHECK_EQ_U64(bytes[0], 2 * 65536ULL);
	/* sparse ids; an unknown node ignored */
	CHECK_EQ_INT(nl_memplace_parse_numa_maps(
		"7f0000000000 default anon=7 N0=1 N2=2 N3=4 "
		"kernelpagesize_kB=4\n", 4096, &topo_sparse, bytes), 0);
	CHECK_EQ_U64(bytes[0], 4096);
	CHECK_EQ_U64(bytes[1], 2 * 4096ULL);
	CHECK_EQ_U64(bytes[2], 0);
	/* empty: a process without memory */
	bytes[0] = 5;
	CHECK_EQ_INT(nl_memplace_parse_numa_maps("", 4096, &topo2, bytes), 0);
	CHECK_EQ_U64(bytes[0], 0);
}

/* A wide VM's backends: each guest RAM mapping's path, its own bytes by
 * node and the nodes its policy binds it to, and so each cell's memory
 * (nl_cells_assign, test_cells.c). */
static void test_cell_backends(void)
{
	static const char maps[] =
		"7f0000000000-7f0008000000 rw-p 00000000 00:00 0 \n"
		"7f1000000000-7f1008000000 rw-s 00000000 00:01 12   /memfd:m1 (deleted)\n"
		"7f2000000000-7f2000100000 rw-p 00000000 00:00 0 \n";
	static const char numa_maps[] =
		"7f0000000000 bind:0 anon=32768 dirty=32768 N0=32768 kernelpagesize_kB=4\n"
		"7f1000000000 prefer (many):1 file=/memfd:m1\\040(deleted) dirty=16384 N0=100 N1=16284 kernelpagesize_kB=4\n"
		"7f2000000000 default anon=10 dirty=10 N0=10 kernelpagesize_kB=4\n";
	struct nl_ram_map m[4];
	struct nl_vm_cells c;
	uint64_t guest[NL_MAX_NODES], vmm[NL_MAX_NODES], cell[NL_MAX_CELLS][NL_MAX_NODES];

	setup_topos();
	CHECK_EQ_INT(nl_memplace_ram_maps(maps, m, 4), 2);
	CHECK_EQ_U64(m[0].size, 128 * MIB);
	CHECK_STR(m[0].name, "");
	CHECK_STR(m[1].name, "/memfd:m1 (deleted)");
	CHECK_EQ_INT(nl_memplace_parse_numa_maps_maps(numa_maps, 4096, &topo2, m, 2, guest, vmm), 0);
	CHECK_EQ_U64(m[0].bytes[0], 128 * MIB);
	CHECK_EQ_U64(m[0].policy_nodes, 0x1);
	CHECK_EQ_U64(m[1].bytes[1], 16284 * 4096ULL);
	CHECK_EQ_U64(m[1].policy_nodes, 0x2);
	CHECK_EQ_U64(guest[0], 128 * MIB + 100 * 4096ULL);
	CHECK_EQ_U64(vmm[0], 10 * 4096ULL);

	memset(&c, 0, sizeof(c));
	c.n = 2;
	c.cell[0] = (struct nl_vm_cell){ .id = 0, .vcpus = 1, .mem_bytes = 128 * MIB, .host_nodes = 0x1 };
	c.cell[1] = (struct nl_vm_cell){ .id = 1, .vcpus = 2, .mem_bytes = 128 * MIB };
	snprintf(c.cell[0].memdev, sizeof(c.cell[0].memdev), "m0");
	snprintf(c.cell[1].memdev, sizeof(c.cell[1].memdev), "m1");
	CHECK_EQ_INT(nl_cells_assign(&c, m, 2, cell), 0);
	CHECK_EQ_U64(cell[0][0], 128 * MIB);
	CHECK_EQ_U64(cell[1][1], 16284 * 4096ULL);
	CHECK_EQ_U64(cell[1][0], 100 * 4096ULL);
}

/* Guest RAM vs the VMM's own memory: which mappings /proc/PID/maps shows
 * to be guest RAM, and the numa_maps bytes split by them. */
static void test_guest_ram_split(void)
{
	static const char maps[] =
		"55d4c6a00000-55d4c6c00000 r-xp 00000000 08:01 123   /usr/bin/qemu-system-x86_64\n"
		"55d4c8000000-55d4d0000000 rw-p 00000000 00:00 0     [heap]\n"
		"7f0000000000-7f0100000000 rw-p 00000000 00:00 0 \n"          /* 4 GiB: -m 4096 */
		"7f1000000000-7f1080000000 rw-s 00000000 00:0f 77    /dev/hugepages/qemu_back_mem.ram1 (deleted)\n"
		"7f2000000000-7f2004000000 rw-p 00000000 00:00 0 \n"          /* 64 MiB malloc arena */
		"7f3000000000-7f3001000000 rw-p 00000000 00:00 0 \n"          /* 16 MiB VGA RAM */
		"7f4000000000-7f4040000000 rwxp 00000000 00:00 0 \n"          /* TCG's code buffer */
		"7ffd5a5d0000-7ffd5a5f1000 rw-p 00000000 00:00 0     [stack]\n";
	static const char small[] =
		"7f0000000000-7f0002000000 rw-p 00000000 00:00 0 \n"          /* 32 MiB guest */
		"7f3000000000-7f3001000000 rw-p 00000000 00:00 0 \n"
		"55d4c8000000-55d4d0000000 rw-p 00000000 00:00 0     [heap]\n";
	static const char numa_maps[] =
		"55d4c8000000 default heap anon=100 dirty=100 N1=100 kernelpagesize_kB=4\n"
		"7f0000000000 bind:0 anon=1000 dirty=1000 N0=1000 kernelpagesize_kB=4\n"
		"7f1000000000 bind:1 file=/dev/hugepages/qemu_back_mem.ram1\\040(deleted) huge dirty=2 N1=2 kernelpagesize_kB=2048\n"
		"7f2000000000 default anon=10 dirty=10 N0=4 N1=6 kernelpagesize_kB=4\n";
	uint64_t starts[8], guest[NL_MAX_NODES], vmm[NL_MAX_NODES];

	setup_topos();
	CHECK_EQ_INT(nl_memplace_guest_ram(maps, starts, 8), 2);
	CHECK_EQ_U64(starts[0], 0x7f0000000000ULL);
	CHECK_EQ_U64(starts[1], 0x7f1000000000ULL);
	CHECK_EQ_INT(nl_memplace_guest_ram(maps, starts, 1), 1);    /* capped */
	/* a guest smaller than an arena: the largest writable mapping */
	CHECK_EQ_INT(nl_memplace_guest_ram(small, starts, 8), 1);
	CHECK_EQ_U64(starts[0], 0x7f0000000000ULL);
	CHECK_EQ_INT(nl_memplace_guest_ram("", starts, 8), 0);
	CHECK_EQ_INT(nl_memplace_guest_ram(maps, starts, 8), 2);
	CHECK_EQ_INT(nl_memplace_parse_numa_maps_split(numa_maps, 4096, &topo2, starts, 2,
						       guest, vmm), 0);
	CHECK_EQ_U64(guest[0], 1000 * 4096ULL);
	CHECK_EQ_U64(guest[1], 2 * 2 * MIB);
	CHECK_EQ_U64(vmm[0], 4 * 4096ULL);
	CHECK_EQ_U64(vmm[1], 106 * 4096ULL);
	/* the sum is what the unsplit parser gives */
	CHECK_EQ_INT(nl_memplace_parse_numa_maps(numa_maps, 4096, &topo2, bytes), 0);
	CHECK_EQ_U64(bytes[0], guest[0] + vmm[0]);
	CHECK_EQ_U64(bytes[1], guest[1] + vmm[1]);
}

static void test_numa_maps_garbage(void)
{
	static const char text[] =
		"7f0000000000 default anon=1 N0=1 kernelpagesize_kB=4\n"
		"this is not a mapping N0=1000\n"
		"\n"
		"7f0000001000 default anon=1 N0=abc kernelpagesize_kB=4\n"
		"7f0000002000 default anon=1 N1=1 kernelpagesize_kB=zz\n"
		"7f0000003000 default anon=1 N1=1 kernelpagesize_kB=0\n"
		"zz7f00 default N0=4\n"
		"7f0000004000\n"
		"7f0000005000 default anon=2 N1=2 kernelpagesize_kB=4";

	setup_topos();
	/* 6 bad lines skipped (the empty one is not counted), 2 summed; the
	 * last line has no newline */
	CHECK_EQ_INT(nl_memplace_parse_numa_maps(text, 4096, &topo2, bytes),
		     6);
	CHECK_EQ_U64(bytes[0], 4096);
	CHECK_EQ_U64(bytes[1], 2 * 4096ULL);
	CHECK_EQ_INT(nl_memplace_parse_numa_maps("garbage\nmore garbage\n",
						 4096, &topo2, bytes), -EINVAL);
	CHECK_EQ_U64(bytes[0], 0);
}

/* ---- /proc/PID/cgroup and the VM's cgroup ---- */

static void test_cgroup_lines(void)
{
	char path[256];
	int v2 = -1;

	/* pure v2 */
	CHECK_EQ_INT(nl_memplace_parse_cgroup("0::/machine.slice/a.scope\n",
					      path, sizeof(path), &v2), 0);
	CHECK_STR(path, "/machine.slice/a.scope");
	CHECK_EQ_INT(v2, 1);

	/* pure v1: the memory line, also in a comma-joined list */
	CHECK_EQ_INT(nl_memplace_parse_cgroup(
		"12:misc:/\n4:blkio:/m/a\n3:memory:/machine/a.libvirt-qemu\n"
		"1:cpu,cpuacct:/machine/a.libvirt-qemu/emulator\n", path,
		sizeof(path), &v2), 0);
	CHECK_STR(path, "/machine/a.libvirt-qemu");
	CHECK_EQ_INT(v2, 0);
	CHECK_EQ_INT(nl_memplace_parse_cgroup("7:cpuacct,memory,pids:/x/y\n",
					      path, sizeof(path), &v2), 0);
	CHECK_STR(path, "/x/y");
	CHECK_EQ_INT(v2, 0);

	/* hybrid: v1 memory wins over the 0:: line, whatever the order */
	CHECK_EQ_INT(nl_memplace_parse_cgroup(
		"0::/user.slice/u.scope\n9:name=systemd:/user.slice/u.scope\n"
		"4:memory:/machine.slice/m.scope\n", path, sizeof(path), &v2),
		0);
	CHECK_STR(path, "/machine.slice/m.scope");
	CHECK_EQ_INT(v2, 0);

	/* hybrid without a memory line: the 0:: line */
	CHECK_EQ_INT(nl_memplace_parse_cgroup(
		"9:name=systemd:/s\n3:cpu:/c\n0::/u/v\n", path, sizeof(path),
		&v2), 0);
	CHECK_STR(path, "/u/v");
	CHECK_EQ_INT(v2, 1);

	/* "memory" must be a whole controller name; paths may hold ':' */
	CHECK_EQ_INT(nl_memplace_parse_cgroup("5:memoryx:/a\n1:name=memory:/b\n",
					      path, sizeof(path), &v2), -ENOENT);
	CHECK_EQ_INT(nl_memplace_parse_cgroup("3:memory:/a:b\n", path,
					      sizeof(path), &v2), 0);
	CHECK_STR(path, "/a:b");

	CHECK_EQ_INT(nl_memplace_parse_cgroup("", path, sizeof(path), &v2),
		     -ENOENT);
	CHECK_EQ_INT(nl_memplace_parse_cgroup("garbage\n1:cpu\n", path,
					      sizeof(path), &v2), -ENOENT);
	CHECK_EQ_INT(nl_memplace_parse_cgroup("0::/0123456789\n", path, 8, &v2),
		     -ENAMETOOLONG);
}

static void test_vm_dir(void)
{
	static const struct {
		const char *in, *out;
		bool named;
	} cases[] = {
		/* libvirt + systemd, cgroup v2 (libvirt >= 7.1) */
		{ "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope/libvirt/"
		  "emulator", "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope",
		  true },
		{ "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope/libvirt/"
		  "vcpu12", "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope",
		  true },
		{ "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope/libvirt/"
		  "iothread1", "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope",
		  true },
		/* older libvirt: thread children right below the scope */
		{ "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope/emulator",
		  "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope", true },
		{ "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope",
		  "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope", true },
		/* no systemd */
		{ "/machine/alpha.libvirt-qemu/emulator",
		  "/machine/alpha.libvirt-qemu", true },
		{ "/machine/alpha.libvirt-qemu", "/machine/alpha.libvirt-qemu",
		  true },
		/* not a libvirt machine */
		{ "/user.slice/user-0.slice/session-3.scope",
		  "/user.slice/user-0.slice/session-3.scope", false },
		{ "/qemu.slice/100.scope/", "/qemu.slice/100.scope", false },
		{ "/a/vcpu", "/a/vcpu", false },
		{ "/a/vcpux", "/a/vcpux", false },
		{ "/a/iothread", "/a/iothread", false },
		/* "libvirt" right below the root is not a nested dir */
		{ "/libvirt/emulator", "/libvirt", true },
	};
	char dir[256];
	bool named;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ_INT(nl_memplace_cgroup_vm_dir(cases[i].in, dir,
						       sizeof(dir), &named), 0);
		CHECK_STR(dir, cases[i].out);
		CHECK_EQ_INT(named, cases[i].named);
	}
	/* the root cgroup is the whole host */
	CHECK_EQ_INT(nl_memplace_cgroup_vm_dir("/", dir, sizeof(dir), &named),
		     -ENOENT);
	CHECK_EQ_INT(nl_memplace_cgroup_vm_dir("/emulator", dir, sizeof(dir),
					       &named), -ENOENT);
	CHECK_EQ_INT(nl_memplace_cgroup_vm_dir("relative", dir, sizeof(dir),
					       &named), -EINVAL);
	CHECK_EQ_INT(nl_memplace_cgroup_vm_dir("/abcdefghij", dir, 8, &named),
		     -ENAMETOOLONG);
}

static void test_procs_and_status(void)
{
	CHECK(nl_memplace_procs_only("4242\n", 4242));
	CHECK(!nl_memplace_procs_only("4100\n4242\n", 4242));
	CHECK(!nl_memplace_procs_only("", 4242));
	CHECK(!nl_memplace_procs_only("42420\n", 4242));
	CHECK(!nl_memplace_procs_only("x\n", 4242));
	CHECK_EQ_U64(nl_memplace_status_hugetlb(
		"Name:\tqemu\nVmRSS:\t 10 kB\nHugetlbPages:\t 1048576 kB\n"),
		GIB);
	CHECK_EQ_U64(nl_memplace_status_hugetlb(
		"Name:\tqemu\nHugetlbPages:\t       0 kB\n"), 0);
	CHECK_EQ_U64(nl_memplace_status_hugetlb("Name:\tqemu\n"), 0);
}

/* ---- the sources against fixture trees ---- */

static struct nl_state st;
static struct nl_config cfg;
static struct nl_vm vm;
static struct nl_vm *vmp = &vm;
static long page;

static void state_for(const char *fixture)
{
	char proc[NL_PATH_MAX], sys[NL_PATH_MAX];

	if (fixture) {
		snprintf(proc, sizeof(proc), FIX "%s/proc", fixture);
		snprintf(sys, sizeof(sys), FIX "%s/sys", fixture);
		CHECK_EQ_INT(nl_paths_set(proc, sys), 0);
	}
	memset(&st, 0, sizeof(st));
	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	cfg.numa_maps_interval = 30;
	st.cfg = &cfg;
	st.now_ns = 1000 * SEC;
	CHECK_EQ_INT(nl_topology_read(&st.topo), 0);
	st.topo_valid = true;
	snprintf(vm.name, sizeof(vm.name), "alpha");
	vm.pid = 4242;
	st.vms = &vmp;
	st.nvms = 1;
	page = sysconf(_SC_PAGESIZE);
}

/* Run both sources once, in registry order. */
static void run_both(void)
{
	void *a = NULL, *b = NULL;

	CHECK_EQ_INT(nl_source_numa_stat.init(&st, &a), 0);
	CHECK_EQ_INT(nl_source_numa_maps.init(&st, &b), 0);
	CHECK_EQ_INT(nl_source_numa_stat.sample(&st, a), 0);
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	nl_source_numa_stat.free(&st, a);
	nl_source_numa_maps.free(&st, b);
}

static void test_fixture_two_socket_v2(void)
{
	state_for("two-socket");
	run_both();
	CHECK_EQ_INT(vm.mem_source, NL_MEM_CGROUP_V2);
	CHECK_EQ_U64(vm.mem_bytes[0], 1610612736ULL + 4194304);
	CHECK_EQ_U64(vm.mem_bytes[1], 536870912ULL + 2097152);
	CHECK_EQ_U64(vm.mem_updated_ns, st.now_ns);
	/* the scope, not libvirt/emulator nor libvirt/ */
	CHECK_STR(vm.mem_cgroup,
		  "/machine.slice/machine-qemu\\x2d1\\x2dalpha.scope");
}

static void test_fixture_four_node_v1(void)
{
	state_for("four-node");
	run_both();
	CHECK_EQ_INT(vm.mem_source, NL_MEM_CGROUP_V1);
	/* anon + unevictable, pages x page size */
	CHECK_EQ_U64(vm.mem_bytes[0], (262144ULL + 256) * (uint64_t)page);
	CHECK_EQ_U64(vm.mem_bytes[1], 131072ULL * (uint64_t)page);
	CHECK_EQ_U64(vm.mem_bytes[2], 65536ULL * (uint64_t)page);
	CHECK_EQ_U64(vm.mem_bytes[3], 65536ULL * (uint64_t)page);
	CHECK_STR(vm.mem_cgroup, "/machine/alpha.libvirt-qemu");
}

/* hugetlbfs guest RAM: the cgroup is skipped, numa_maps measures it. */
static void test_fixture_sparse_hugetlb(void)
{
	void *a = NULL;

	state_for("sparse-nodes");
	CHECK_EQ_INT(nl_source_numa_stat.init(&st, &a), 0);
	CHECK_EQ_INT(nl_source_numa_stat.sample(&st, a), 0);
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NONE);
	nl_source_numa_stat.free(&st, a);

	state_for(NULL);
	run_both();
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NUMA_MAPS);
	/* no page cache (QEMU's text, libc's): the private copies (anon=) */
	CHECK_EQ_U64(vm.mem_bytes[0], 512 * 2 * MIB +
		     (96 + 2048 + 3072 + 4 + 33) * 4096ULL);
	CHECK_EQ_U64(vm.mem_bytes[1], 512 * 2 * MIB + 1024 * 4096ULL);
	CHECK_STR(vm.mem_cgroup, "");
}

/* A CONFIG_NUMA=n kernel has neither file: nothing measured, no error. */
static void test_fixture_no_numa(void)
{
	state_for("no-numa");
	CHECK_EQ_INT(st.topo.nnodes, 1);
	run_both();
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NONE);
	CHECK_EQ_U64(vm.mem_bytes[0], 0);

	/* a VM measured by its cgroup before is not left with stale bytes */
	vm.mem_source = NL_MEM_CGROUP_V1;
	vm.mem_bytes[0] = 12345;
	vm.mem_updated_ns = st.now_ns - SEC;
	snprintf(vm.mem_cgroup, sizeof(vm.mem_cgroup), "/x");
	run_both();
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NONE);
	CHECK_EQ_U64(vm.mem_bytes[0], 0);
	CHECK_STR(vm.mem_cgroup, "");
}

/* numa_maps alone: read at once, then only every numa_maps_interval. */
static void test_numa_maps_interval(void)
{
	void *b = NULL;
	/* page cache left out; the memfd vhost ring (shmem) counted */
	const uint64_t n0 = (96 + 2048 + 393216 + 1024 + 4 + 33) * 4096ULL;
	const uint64_t n1 = (131072 + 512) * 4096ULL;

	state_for("two-socket");
	CHECK_EQ_INT(nl_source_numa_maps.init(&st, &b), 0);
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NUMA_MAPS);
	CHECK_EQ_U64(vm.mem_bytes[0], n0);
	CHECK_EQ_U64(vm.mem_bytes[1], n1);
	CHECK_EQ_U64(vm.mem_updated_ns, st.now_ns);
	/* the 2 GiB -m mapping (its maps line) is guest RAM, the rest VMM */
	CHECK(vm.split_valid);
	CHECK_EQ_U64(vm.split_guest[0], 393216 * 4096ULL);
	CHECK_EQ_U64(vm.split_guest[1], 131072 * 4096ULL);
	CHECK_EQ_U64(vm.split_vmm[0], n0 - 393216 * 4096ULL);
	CHECK_EQ_U64(vm.split_vmm[1], 512 * 4096ULL);

	vm.mem_bytes[0] = 0;              /* marks "not re-read" */
	st.now_ns += 29 * SEC;
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_U64(vm.mem_bytes[0], 0);
	st.now_ns += 1 * SEC;             /* 30 s since the last read */
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_U64(vm.mem_bytes[0], n0);
	CHECK_EQ_U64(vm.mem_updated_ns, st.now_ns);

	/* a VM the cgroup source measured this cycle keeps its figures; its
	 * split is read at the interval all the same */
	vm.mem_source = NL_MEM_CGROUP_V2;
	vm.mem_updated_ns = st.now_ns;
	vm.mem_bytes[0] = n0 - 4096;      /* the cgroup's figure, near the split's */
	vm.split_guest[0] = 0;
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_INT(vm.mem_source, NL_MEM_CGROUP_V2);
	CHECK_EQ_U64(vm.mem_bytes[0], n0 - 4096);
	CHECK_EQ_U64(vm.split_guest[0], 0);        /* read 0 s ago */
	/* ... unless the guest RAM mappings changed since (a QEMU that was
	 * starting): then at once */
	vm.split_key ^= 1;
	st.now_ns += SEC;
	vm.mem_updated_ns = st.now_ns;
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_U64(vm.split_guest[0], 393216 * 4096ULL);
	vm.split_guest[0] = 0;
	/* ... or the cgroup's figures moved by more than 5% (a guest touching
	 * its RAM as it boots): at once too */
	vm.mem_bytes[1] += 200 << 20;
	st.now_ns += SEC;
	vm.mem_updated_ns = st.now_ns;
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_U64(vm.split_guest[0], 393216 * 4096ULL);
	vm.split_guest[0] = 0;
	/* a reading that gave no split is not repeated every cycle either */
	{
		uint64_t at = vm.split_updated_ns;

		vm.split_valid = false;
		st.now_ns += SEC;
		vm.mem_updated_ns = st.now_ns;
		CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
		CHECK_EQ_U64(vm.split_updated_ns, at);
		vm.split_valid = true;
	}
	st.now_ns += SEC;             /* and not again while they hold */
	vm.mem_updated_ns = st.now_ns;
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_U64(vm.split_guest[0], 0);
	st.now_ns += 30 * SEC;
	vm.mem_updated_ns = st.now_ns;
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_U64(vm.mem_bytes[0], n0 - 4096);
	CHECK_EQ_U64(vm.split_guest[0], 393216 * 4096ULL);
	/* ... but not one it measured in an earlier cycle only */
	st.now_ns += SEC;
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NUMA_MAPS);
	CHECK_EQ_U64(vm.mem_bytes[0], n0);
	nl_source_numa_maps.free(&st, b);
}

static void test_no_topology_or_process(void)
{
	void *a = NULL, *b = NULL;

	state_for("two-socket");
	st.topo_valid = false;
	CHECK_EQ_INT(nl_source_numa_stat.init(&st, &a), 0);
	CHECK_EQ_INT(nl_source_numa_maps.init(&st, &b), 0);
	CHECK_EQ_INT(nl_source_numa_stat.sample(&st, a), -ENODATA);
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), -ENODATA);
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NONE);

	/* a process that is gone is not an error of the source, and what
	 * numa_maps said about it earlier is dropped */
	st.topo_valid = true;
	vm.pid = 999999;
	vm.mem_source = NL_MEM_NUMA_MAPS;
	vm.mem_bytes[1] = 5;
	vm.mem_updated_ns = st.now_ns - 31 * SEC;
	CHECK_EQ_INT(nl_source_numa_stat.sample(&st, a), 0);
	CHECK_EQ_INT(nl_source_numa_maps.sample(&st, b), 0);
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NONE);
	CHECK_EQ_U64(vm.mem_bytes[1], 0);
	nl_source_numa_stat.free(&st, a);
	nl_source_numa_maps.free(&st, b);
	nl_source_numa_stat.free(&st, NULL);
	nl_source_numa_maps.free(&st, NULL);
}

/* ---- built trees: which cgroups are (not) the VM's own ---- */

static char tmp_root[64];

static void tmp_write(const char *rel, const char *text)
{
	char path[NL_PATH_MAX], cmd[NL_PATH_MAX + 32], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp_root, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	CHECK_EQ_INT(system(cmd), 0);
	*slash = '/';
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

/* A one-node host with QEMU 4242 in the given cgroup (v1 memory hierarchy
 * when v1, else pure v2), numa_maps saying 1 page on node 0. */
static void tmp_host(const char *cgroup_line, const char *procs, bool v1)
{
	char proc[96], sys[96], rel[256], path[128];
	const char *hier = v1 ? "sys/fs/cgroup/memory" : "sys/fs/cgroup";

	/* the path of the first line */
	snprintf(path, sizeof(path), "%s",
		 strchr(strchr(cgroup_line, ':') + 1, ':') + 1);
	path[strcspn(path, "\n")] = '\0';
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/nl_memplace_XXXXXX");
	CHECK(mkdtemp(tmp_root) != NULL);
	tmp_write("sys/devices/system/node/online", "0\n");
	tmp_write("sys/devices/system/node/node0/cpulist", "0-1\n");
	tmp_write("sys/devices/system/node/node0/distance", "10\n");
	tmp_write("sys/devices/system/node/node0/meminfo",
		  "Node 0 MemTotal: 100 kB\nNode 0 MemFree: 50 kB\n");
	tmp_write("sys/devices/system/cpu/online", "0-1\n");
	if (!v1)
		tmp_write("sys/fs/cgroup/cgroup.controllers", "memory pids\n");
	/* even the root has a numa_stat in v1: it must not be used */
	snprintf(rel, sizeof(rel), "%s/memory.numa_stat", hier);
	tmp_write(rel, v1 ? "anon=9 N0=9\n" : "anon N0=9\n");
	snprintf(rel, sizeof(rel), "%s%s/cgroup.procs", hier, path);
	tmp_write(rel, procs);
	snprintf(rel, sizeof(rel), "%s%s/memory.numa_stat", hier, path);
	tmp_write(rel, v1 ? "anon=100 N0=100\n" : "anon N0=409600\n");
	tmp_write("proc/4242/cgroup", cgroup_line);
	tmp_write("proc/4242/status", "Name:\tqemu\nHugetlbPages:\t0 kB\n");
	tmp_write("proc/4242/numa_maps",
		  "7f0000000000 default anon=1 N0=1 kernelpagesize_kB=4\n");
	snprintf(proc, sizeof(proc), "%s/proc", tmp_root);
	snprintf(sys, sizeof(sys), "%s/sys", tmp_root);
	CHECK_EQ_INT(nl_paths_set(proc, sys), 0);
}

static void tmp_cleanup(void)
{
	char cmd[128];

	if (strncmp(tmp_root, "/tmp/nl_memplace_", 17) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	CHECK_EQ_INT(system(cmd), 0);
	tmp_root[0] = '\0';
}

static void test_cgroup_ownership(void)
{
	/* QEMU started from a shell: its session scope also holds the
	 * shell, so numa_maps measures it */
	tmp_host("0::/user.slice/user-0.slice/session-1.scope\n",
		 "4100\n4242\n", false);
	state_for(NULL);
	run_both();
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NUMA_MAPS);
	CHECK_EQ_U64(vm.mem_bytes[0], 4096);
	tmp_cleanup();

	/* alone in a unit (e.g. systemd-run --scope, Proxmox): used */
	tmp_host("0::/qemu.slice/100.scope\n", "4242\n", false);
	state_for(NULL);
	run_both();
	CHECK_EQ_INT(vm.mem_source, NL_MEM_CGROUP_V2);
	CHECK_EQ_U64(vm.mem_bytes[0], 409600);
	CHECK_STR(vm.mem_cgroup, "/qemu.slice/100.scope");
	tmp_cleanup();

	/* hybrid host, v1 memory: same rule */
	tmp_host("4:memory:/qemu.slice/100.scope\n0::/qemu.slice/100.scope\n",
		 "4242\n", true);
	state_for(NULL);
	run_both();
	CHECK_EQ_INT(vm.mem_source, NL_MEM_CGROUP_V1);
	CHECK_EQ_U64(vm.mem_bytes[0], 100 * (uint64_t)page);
	tmp_cleanup();

	/* the root cgroup (v1: the whole host) is never used */
	tmp_host("4:memory:/\n0::/\n", "4242\n", true);
	state_for(NULL);
	run_both();
	CHECK_EQ_INT(vm.mem_source, NL_MEM_NUMA_MAPS);
	CHECK_EQ_U64(vm.mem_bytes[0], 4096);
	tmp_cleanup();
}

/* Reads have a cap: past it, numa_maps keeps its complete lines and says
 * it was capped; any other file is an error rather than unbounded memory. */
static void test_read_cap(void)
{
	char path[] = "/tmp/nl-cap-XXXXXX", *buf = NULL;
	size_t cap = 0;
	bool capped = false;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_INT((int)write(fd, "aaaa\nbbbb\ncccc\n", 15), 15);
	close(fd);
	CHECK_EQ_INT((int)nl_read_file_alloc_max(path, &buf, &cap, 12, &capped), 10);
	CHECK(capped);
	CHECK_STR(buf, "aaaa\nbbbb\n");
	CHECK_EQ_INT((int)nl_read_file_alloc_max(path, &buf, &cap, 12, NULL), -EFBIG);
	CHECK_EQ_INT((int)nl_read_file_alloc_max(path, &buf, &cap, 15, &capped), 15);
	CHECK(!capped);
	CHECK_EQ_INT((int)nl_read_file_alloc_max(path, &buf, &cap, 3, &capped), 0);
	CHECK(capped);
	CHECK_STR(buf, "");
	/* a later read with a large cap grows the buffer again */
	CHECK_EQ_INT((int)nl_read_file_alloc(path, &buf, &cap), 15);
	CHECK_STR(buf, "aaaa\nbbbb\ncccc\n");
	free(buf);
	unlink(path);
}

NL_TEST_MAIN(NL_T(test_guest_ram_split), NL_T(test_read_cap), NL_T(test_cell_backends), NL_T(test_numa_stat_v2), NL_T(test_numa_stat_v1_pages),
	     NL_T(test_numa_stat_malformed), NL_T(test_numa_maps_huge_pages),
	     NL_T(test_numa_maps_garbage), NL_T(test_cgroup_lines),
	     NL_T(test_vm_dir), NL_T(test_procs_and_status),
	     NL_T(test_fixture_two_socket_v2), NL_T(test_fixture_four_node_v1),
	     NL_T(test_fixture_sparse_hugetlb), NL_T(test_fixture_no_numa),
	     NL_T(test_numa_maps_interval), NL_T(test_no_topology_or_process),
	     NL_T(test_cgroup_ownership))
