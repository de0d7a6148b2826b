/* Passthrough devices of VMs: the NUMA nodes of the PCI devices a VM's QEMU
 * holds through VFIO (/proc/PID/fd -> /dev/vfio/GROUP, then
 * /sys/kernel/iommu_groups/GROUP/devices/ * /numa_node). The hint engine
 * keeps such a VM's memory where it is and runs its vCPUs on the devices'
 * node (docs/api.md). */
#ifndef NL_DEVICES_H
#define NL_DEVICES_H

#include "state.h"

/* Fills nl_vm.dev_nodes, ndevices and devices[]. */
extern const struct nl_source nl_source_devices;

#endif
