/* Passthrough device source: VFIO groups a QEMU holds open, mapped to the
 * NUMA nodes of their devices, on a tree built in a temporary directory
 * (symlinks in proc/PID/fd, sysfs kernel/iommu_groups). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices.h"
#include "harness.h"
#include "paths.h"

static char root[256];

static void put(const char *rel, const char *text)
{
	char path[512], dir[512], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + strlen(root) + 1; (slash = strchr(p, '/')); p = slash + 1) {
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void link_fd(int fd, const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/proc/4242/fd/%d", root, fd);
	CHECK(symlink(target, path) == 0);
}

static void test_vfio_groups_to_nodes(void)
{
	struct nl_state st;
	struct nl_vm vm, *vms[1] = { &vm };
	char proc[300], sys[300], cmd[300];

	snprintf(root, sizeof(root), "/tmp/nl-test-devices-%d", (int)getpid());
	CHECK(mkdir(root, 0755) == 0);
	put("proc/4242/fd/.keep", "");
	snprintf(cmd, sizeof(cmd), "%s/proc/4242/fd/.keep", root);
	unlink(cmd);
	link_fd(0, "/dev/null");
	link_fd(5, "/dev/vfio/vfio");          /* the container: no device */
	link_fd(6, "/dev/vfio/12");
	link_fd(7, "/dev/vfio/13");
	link_fd(8, "/dev/vfio/12x");           /* not a group */
	link_fd(9, "socket:[1234]");
	/* group 12: a NIC and its function on node id 2 (index 1); group 13:
	 * firmware without a node (-1); group 14 is not the VM's */
	put("sys/kernel/iommu_groups/12/devices/0000:3b:00.0/numa_node", "2\n");
	put("sys/kernel/iommu_groups/12/devices/0000:3b:00.1/numa_node", "2\n");
	put("sys/kernel/iommu_groups/13/devices/0000:af:00.0/numa_node", "-1\n");
	put("sys/kernel/iommu_groups/14/devices/0000:d8:00.0/numa_node", "0\n");
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	CHECK_EQ_INT(nl_paths_set(proc, sys), 0);

	memset(&st, 0, sizeof(st));
	memset(&vm, 0, sizeof(vm));
	st.topo_valid = true;
	st.topo.nnodes = 2;
	st.topo.nodes[0].id = 0;
	st.topo.nodes[1].id = 2;                /* sparse ids */
	st.vms = vms;
	st.nvms = 1;
	vm.pid = 4242;
	vm.dev_nodes = 0xff;                    /* stale values are replaced */
	CHECK_EQ_INT(nl_source_devices.sample(&st, NULL), 0);
	CHECK_EQ_U64(vm.dev_nodes, 1ULL << 1);
	CHECK_EQ_INT(vm.ndevices, 3);
	/* each device by address, with its kernel node id; -1 unknown */
	CHECK_STR(vm.devices[0].device, "0000:3b:00.0");
	CHECK_EQ_INT(vm.devices[0].node, 2);
	CHECK_STR(vm.devices[1].device, "0000:3b:00.1");
	CHECK_EQ_INT(vm.devices[1].node, 2);
	CHECK_STR(vm.devices[2].device, "0000:af:00.0");
	CHECK_EQ_INT(vm.devices[2].node, -1);
	/* a process that is gone: no devices */
	vm.pid = 4343;
	CHECK_EQ_INT(nl_source_devices.sample(&st, NULL), 0);
	CHECK_EQ_U64(vm.dev_nodes, 0);
	CHECK_EQ_INT(vm.ndevices, 0);
	nl_paths_set("/proc", "/sys");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

NL_TEST_MAIN(NL_T(test_vfio_groups_to_nodes))
