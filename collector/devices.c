/* Passthrough device source. See devices.h.
 *
 * A VM owns a VFIO group when its QEMU has /dev/vfio/N open; every device
 * of IOMMU group N is then assigned to it. A device's numa_node of -1 (the
 * firmware does not say) is recorded as node -1, "unknown", and adds no
 * node. Groups are read every cycle: a QEMU
 * holds tens of fds and a group a handful of devices. */
#include "devices.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"

/* Node-index mask of the devices of IOMMU group `group`; each device is
 * recorded in vm->devices[] (up to NL_MAX_VM_DEVICES) and counted. */
static uint64_t group_nodes(const struct nl_topology *t, long group, struct nl_vm *vm)
{
	char path[NL_PATH_MAX], buf[32];
	struct dirent *de;
	uint64_t mask = 0;
	DIR *d;

	if (nl_path_sys(path, sizeof(path), "kernel/iommu_groups/%ld/devices", group) < 0)
		return 0;
	d = nl_opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct nl_vm_device *dv = NULL;
		int64_t node = -1;
		int idx;

		if (de->d_name[0] == '.')
			continue;
		if (vm->ndevices < NL_MAX_VM_DEVICES) {
			dv = &vm->devices[vm->ndevices];
			snprintf(dv->device, sizeof(dv->device), "%.15s", de->d_name);
			dv->node = -1;
		}
		vm->ndevices++;
		if (nl_path_sys(path, sizeof(path), "kernel/iommu_groups/%ld/devices/%s/numa_node",
				group, de->d_name) < 0 ||
		    nl_read_file(path, buf, sizeof(buf)) <= 0)
			continue;
		node = strtoll(buf, NULL, 10);
		/* a node this host's topology does not know is no node */
		idx = node >= 0 && node < INT16_MAX ? nl_topology_node_index(t, (int)node) : -1;
		if (idx < 0)
			continue;
		if (dv)
			dv->node = (int)node;
		mask |= 1ULL << idx;
	}
	closedir(d);
	return mask;
}

static int device_cmp(const void *a, const void *b)
{
	return strcmp(((const struct nl_vm_device *)a)->device,
		      ((const struct nl_vm_device *)b)->device);
}

/* Scan the fds of one QEMU. Return 0 or -errno (-ENOENT: process gone). */
static int vm_devices(const struct nl_topology *t, struct nl_vm *vm)
{
	char path[NL_PATH_MAX], link[NL_PATH_MAX], target[256];
	struct dirent *de;
	DIR *d;

	vm->dev_nodes = 0;
	vm->ndevices = 0;
	memset(vm->devices, 0, sizeof(vm->devices));
	if (nl_path_proc(path, sizeof(path), "%d/fd", (int)vm->pid) < 0)
		return -ENAMETOOLONG;
	d = nl_opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		ssize_t n;
		char *end;
		long group;

		if (de->d_name[0] == '.' ||
		    nl_path_proc(link, sizeof(link), "%d/fd/%s", (int)vm->pid, de->d_name) < 0)
			continue;
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		/* /dev/vfio/vfio is the container, /dev/vfio/N a group */
		if (strncmp(target, "/dev/vfio/", 10) != 0)
			continue;
		group = strtol(target + 10, &end, 10);
		if (end == target + 10 || *end || group < 0)
			continue;
		vm->dev_nodes |= group_nodes(t, group, vm);
	}
	closedir(d);
	/* readdir order is the filesystem's: list them by address */
	qsort(vm->devices, vm->ndevices < NL_MAX_VM_DEVICES ? vm->ndevices : NL_MAX_VM_DEVICES,
	      sizeof(vm->devices[0]), device_cmp);
	return 0;
}

static int devices_sample(struct nl_state *st, void *priv)
{
	(void)priv;
	if (!st->topo_valid)
		return 0;
	for (size_t i = 0; i < st->nvms; i++)
		vm_devices(&st->topo, st->vms[i]);
	return 0;
}

const struct nl_source nl_source_devices = {
	.name = "devices",
	.default_enabled = true,
	.required = false,
	.sample = devices_sample,
};
