/* Guest NUMA cells: read from a QEMU command line (key=value and JSON
 * -object forms, legacy mem=) and from a libvirt domain XML, the bad
 * configurations that fall back to the whole-VM score, and which guest RAM
 * mapping backs which cell. */
#include <errno.h>
#include <string.h>

#include "cells.h"
#include "harness.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

/* a command line from words: "a\0b\0c\0" */
static size_t argv_of(char *buf, size_t cap, const char *const *words)
{
	size_t n = 0;

	for (int i = 0; words[i]; i++) {
		size_t l = strlen(words[i]) + 1;

		if (n + l > cap)
			break;
		memcpy(buf + n, words[i], l);
		n += l;
	}
	return n;
}

static int parse_words(const char *const *words, struct nl_vm_cells *c)
{
	char buf[2048];

	return nl_cells_parse_cmdline(buf, argv_of(buf, sizeof(buf), words), c);
}

static void test_cmdline_cells(void)
{
	static const char *const kv[] = {
		"/usr/bin/qemu-system-x86_64", "-nodefaults", "-smp", "4,sockets=2,cores=2",
		"-m", "2048",
		"-object", "memory-backend-ram,id=ram-node0,size=1G,host-nodes=0,policy=bind",
		"-object", "{\"qom-type\":\"memory-backend-memfd\",\"id\":\"ram-node1\",\"size\":1073741824,\"host-nodes\":[1],\"policy\":\"bind\"}",
		"-object", "iothread,id=io1",
		"-numa", "node,nodeid=0,cpus=0-1,memdev=ram-node0",
		"-numa", "node,nodeid=1,cpus=2,cpus=3,memdev=ram-node1",
		"-numa", "dist,src=0,dst=1,val=21",
		NULL,
	};
	static const char *const legacy[] = {
		"qemu", "-smp", "cpus=2", "-numa", "node,mem=512,cpus=0", "-numa", "node,mem=1G,cpus=1", NULL,
	};
	static const char *const none[] = { "qemu", "-smp", "2", "-m", "1024", NULL };
	static const char *const one[] = {
		"qemu", "-smp", "2", "-object", "memory-backend-ram,id=m,size=1G", "-numa", "node,memdev=m,cpus=0-1", NULL,
	};
	struct nl_vm_cells c;

	CHECK_EQ_INT(parse_words(kv, &c), 0);
	CHECK_EQ_INT(c.n, 2);
	CHECK(!c.invalid);
	CHECK_EQ_INT(c.cell[0].id, 0);
	CHECK_EQ_U64(c.cell[0].vcpus, 0x3);
	CHECK_EQ_U64(c.cell[0].mem_bytes, GIB);
	CHECK_EQ_U64(c.cell[0].host_nodes, 0x1);
	CHECK_STR(c.cell[0].memdev, "ram-node0");
	CHECK_EQ_INT(c.cell[1].id, 1);
	CHECK_EQ_U64(c.cell[1].vcpus, 0xc);        /* cpus= twice */
	CHECK_EQ_U64(c.cell[1].mem_bytes, GIB);    /* JSON size */
	CHECK_EQ_U64(c.cell[1].host_nodes, 0x2);

	/* mem= without a suffix is MiB; node ids count up */
	CHECK_EQ_INT(parse_words(legacy, &c), 0);
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_U64(c.cell[0].mem_bytes, 512 * MIB);
	CHECK_EQ_U64(c.cell[1].mem_bytes, GIB);
	CHECK_EQ_INT(c.cell[1].id, 1);
	CHECK_STR(c.cell[1].memdev, "");

	/* no -numa, or a single cell: no wide VM, nothing invalid */
	CHECK_EQ_INT(parse_words(none, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	CHECK(!c.invalid);
	CHECK_EQ_INT(parse_words(one, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	CHECK(!c.invalid);
}

/* Cells that do not add up: -EINVAL, invalid, a reason; never a crash. */
static void test_cmdline_bad(void)
{
	static const struct {
		const char *const words[12];
		const char *why;
	} cases[] = {
		{ { "q", "-smp", "2", "-numa", "node,cpus=0,mem=1G", "-numa", "node,cpus=0,mem=1G", NULL },
		  "in another cell" },
		{ { "q", "-smp", "3", "-numa", "node,cpus=0,mem=1G", "-numa", "node,cpus=1,mem=1G", NULL },
		  "vCPU 2 is in no cell" },
		{ { "q", "-smp", "2", "-numa", "node,cpus=0", "-numa", "node,cpus=1,mem=1G", NULL },
		  "cell 0 has no memory" },
		{ { "q", "-smp", "2", "-numa", "node,cpus=0,memdev=nope", "-numa", "node,cpus=1,mem=1G", NULL },
		  "no memory backend nope" },
		{ { "q", "-numa", "node,cpus=0-x,mem=1G", NULL }, "cannot read -numa" },
		{ { "q", "-object", "memory-backend-ram,id=m0,size=lots", NULL }, "cannot read -object" },
		{ { "q", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":", NULL }, "cannot read -object" },
		{ { "q", "-numa", "cpu,node-id=0,socket-id=0", NULL }, "-numa cpu" },
		{ { "q", "-smp", "4", "-numa", "node,cpus=0-1,nodeid=0,mem=1G", "-numa",
		    "node,cpus=2-3,nodeid=0,mem=1G", NULL }, "defined twice" },
		{ { "q", "-smp", "1", "-numa", "node,cpus=0,mem=1G", "-numa", "node,cpus=1,mem=1G", NULL },
		  "does not have" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nl_vm_cells c;

		CHECK_EQ_INT(parse_words(cases[i].words, &c), -EINVAL);
		CHECK(c.invalid);
		CHECK(strstr(c.why, cases[i].why) != NULL);
	}
}

static const char xml_ok[] =
	"<domain type='kvm'><name>wide</name>"
	"<memory unit='KiB'>4194304</memory><vcpu placement='static'>4</vcpu>"
	"<numatune><memory mode='strict' nodeset='0-1'/>"
	"<memnode cellid='0' mode='strict' nodeset='0'/><memnode cellid='1' mode='preferred' nodeset='1'/></numatune>"
	"<cpu mode='host-passthrough'><numa>"
	"<cell id='0' cpus='0-1' memory='2097152' unit='KiB'/>"
	"<cell id='1' cpus='2-3' memory='2' unit='GiB'/>"
	"</numa></cpu></domain>";

static void test_xml_cells(void)
{
	static const struct {
		const char *from, *to, *why;
	} bad[] = {
		{ "cpus='2-3'", "cpus='2'", "vCPU 3 is in no cell" },
		{ "memory='2' unit='GiB'", "memory='1' unit='GiB'", "is not the VM's" },
		{ "memory='2' unit='GiB'", "memory='0' unit='GiB'", "cell 1 has no memory" },
		{ "cpus='2-3'", "cpus='1-3'", "in another cell" },
		{ "unit='GiB'", "unit='parsecs'", "cannot read memory" },
		{ "</domain>", "", "does not parse" },
		{ "<domain type='kvm'>", "<dom>", "does not parse" },
	};
	struct nl_vm_cells c;
	char buf[sizeof(xml_ok) + 64];

	CHECK_EQ_INT(nl_cells_parse_xml(xml_ok, strlen(xml_ok), &c), 0);
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_U64(c.cell[0].vcpus, 0x3);
	CHECK_EQ_U64(c.cell[0].mem_bytes, 2 * GIB);
	CHECK_EQ_U64(c.cell[0].host_nodes, 0x1);    /* memnode over numatune/memory */
	CHECK_STR(c.cell[0].memdev, "ram-node0");   /* libvirt's backend id */
	CHECK_EQ_U64(c.cell[1].vcpus, 0xc);
	CHECK_EQ_U64(c.cell[1].mem_bytes, 2 * GIB);
	CHECK_EQ_U64(c.cell[1].host_nodes, 0x2);
	/* no cells: nothing; a domain XML without <cpu> is fine */
	CHECK_EQ_INT(nl_cells_parse_xml("<domain><vcpu>2</vcpu></domain>", 31, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	CHECK(!c.invalid);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *at = strstr(xml_ok, bad[i].from);
		size_t pre = (size_t)(at - xml_ok), fl = strlen(bad[i].from);

		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)pre, xml_ok, bad[i].to, at + fl);
		CHECK_EQ_INT(nl_cells_parse_xml(buf, strlen(buf), &c), -EINVAL);
		CHECK(c.invalid);
		if (!strstr(c.why, bad[i].why))
			printf("  case %zu: why \"%s\"\n", i, c.why);
		CHECK(strstr(c.why, bad[i].why) != NULL);
	}
}

static struct nl_ram_map map(uint64_t start, uint64_t size, const char *name, uint64_t policy,
			     uint64_t b0, uint64_t b1)
{
	struct nl_ram_map m;

	memset(&m, 0, sizeof(m));
	m.start = start;
	m.size = size;
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.policy_nodes = policy;
	m.bytes[0] = b0;
	m.bytes[1] = b1;
	return m;
}

/* Which mapping backs which cell: by name, by size and binding, by the
 * order QEMU creates them (the kernel maps top down). */
static void test_assign(void)
{
	struct nl_vm_cells c;
	struct nl_ram_map m[3];
	uint64_t bytes[NL_MAX_CELLS][NL_MAX_NODES];

	memset(&c, 0, sizeof(c));
	c.n = 2;
	c.cell[0] = (struct nl_vm_cell){ .id = 0, .vcpus = 1, .mem_bytes = GIB, .host_nodes = 0x1 };
	c.cell[1] = (struct nl_vm_cell){ .id = 1, .vcpus = 2, .mem_bytes = GIB, .host_nodes = 0x2 };
	snprintf(c.cell[0].memdev, sizeof(c.cell[0].memdev), "ram-node0");
	snprintf(c.cell[1].memdev, sizeof(c.cell[1].memdev), "ram-node1");

	/* bound backends: their policy tells them apart, whatever the order */
	m[0] = map(0x7f0000000000, GIB, "", 0x2, 0, 100);
	m[1] = map(0x7e0000000000, GIB, "", 0x1, 200, 0);
	CHECK_EQ_INT(nl_cells_assign(&c, m, 2, bytes), 0);
	CHECK_EQ_U64(bytes[0][0], 200);
	CHECK_EQ_U64(bytes[1][1], 100);

	/* named mappings (memfd, libvirt's hugetlbfs files) */
	m[0] = map(0x7f0000000000, GIB, "/memfd:ram-node1 (deleted)", 0, 0, 7);
	m[1] = map(0x7e0000000000, GIB,
		   "/dev/hugepages/libvirt/qemu/1-wide/qemu_back_mem._objects_ram-node0.Kx3b2Q (deleted)",
		   0, 9, 0);
	CHECK_EQ_INT(nl_cells_assign(&c, m, 2, bytes), 0);
	CHECK_EQ_U64(bytes[0][0], 9);
	CHECK_EQ_U64(bytes[1][1], 7);
	/* ram-node1 is not ram-node10 */
	m[0] = map(0x7f0000000000, GIB, "/memfd:ram-node10 (deleted)", 0, 0, 7);
	c.cell[0].host_nodes = c.cell[1].host_nodes = 0;
	m[1] = map(0x7e0000000000, GIB, "", 0, 9, 0);
	CHECK_EQ_INT(nl_cells_assign(&c, m, 2, bytes), 0);
	/* unbound, unnamed: the highest address is the first cell's */
	CHECK_EQ_U64(bytes[0][1], 7);
	CHECK_EQ_U64(bytes[1][0], 9);

	/* a cell without a mapping of its size: nothing per cell */
	m[1] = map(0x7e0000000000, 512 * MIB, "", 0, 9, 0);
	CHECK_EQ_INT(nl_cells_assign(&c, m, 2, bytes), -ENOENT);
	CHECK_EQ_INT(nl_cells_assign(&c, m, 0, bytes), -ENOENT);
	/* one mapping of -m for legacy cells (mem=): not told apart */
	m[0] = map(0x7f0000000000, 2 * GIB, "", 0, 5, 5);
	CHECK_EQ_INT(nl_cells_assign(&c, m, 1, bytes), -ENOENT);
	c.invalid = true;
	m[1] = map(0x7e0000000000, GIB, "", 0, 9, 0);
	m[0] = map(0x7f0000000000, GIB, "", 0, 0, 7);
	CHECK_EQ_INT(nl_cells_assign(&c, m, 2, bytes), -ENOENT);
}

NL_TEST_MAIN(NL_T(test_cmdline_cells), NL_T(test_cmdline_bad), NL_T(test_xml_cells),
	     NL_T(test_assign))
