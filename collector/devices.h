/* Passthrough devices of VMs: the NUMA nodes of the PCI devices a VM's QEMU
 * holds through VFIO (/proc/PID/fd -> /dev/vfio/GROUP, then
 * /sys/kernel/iommu_groups/GROUP/devices/ * /numa_node). The hint engine
 * pins VMM threads next to them (docs/api.md). */
#ifndef NL_DEVICES_H
#define NL_DEVICES_H

#include "state.h"

/* Fills nl_vm.dev_nodes and ndevices. */
extern const struct nl_source nl_source_devices;

#endif
