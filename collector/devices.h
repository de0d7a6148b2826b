/* Passthrough devices of VMs: the NUMA nodes of the PCI devices a VM's QEMU
 * holds through VFIO (/proc/PID/fd -> /dev/vfio/GROUP, then
 * /sys/kernel/iommu_groups/GROUP/devices/ * /numa_node). The hint engine
 * pins VMM threads next to them (docs/api.md). */
#ifndef NL_DEVICES_H
#define NL_DEVICES_H

#include "sampler.h"

int nl_devices_source_sample(struct nl_state *st, void *priv);

#endif
