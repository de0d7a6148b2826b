/* Guest NUMA cells of wide VMs: which vCPUs and memory each cell of a VM
 * has (libvirt's domain XML, or the QEMU command line's -numa node and
 * -object memory-backend-*), and which guest RAM mapping backs each cell,
 * so that numa_maps tells where each cell's memory is. The snapshot then
 * scores each cell on its own (snapshot.c) and the hint engine uncrosses
 * crossed cells (plan.c). A configuration that does not add up is
 * reported once and the VM is scored whole. */
#ifndef NL_CELLS_H
#define NL_CELLS_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

/* A guest RAM mapping of a QEMU process (/proc/PID/maps, numa_maps). */
struct nl_ram_map {
	uint64_t start, size;
	char name[192];            /* its path ("" anonymous), truncated */
	uint64_t policy_nodes;     /* kernel node ids of bind:/prefer:; 0 */
	uint64_t bytes[NL_MAX_NODES];  /* resident, by node index */
};

/* Cells from a QEMU command line (NUL-separated, len bytes): -numa
 * node,nodeid=N,cpus=A-B[,cpus=..],memdev=ID (or mem=SIZE), -object
 * memory-backend-*,id=ID,size=S,host-nodes=L,policy=P in key=value or JSON
 * form, -smp N. Returns 0 (cells->n == 0 when there are none), or
 * -EINVAL with cells->invalid and cells->why set. */
int nl_cells_parse_cmdline(const char *cmdline, size_t len, struct nl_vm_cells *cells);

/* Cells from a libvirt domain XML (<vcpu>, <memory>, <cpu><numa><cell>,
 * <numatune><memory>/<memnode>). Same return as above. */
int nl_cells_parse_xml(const char *xml, size_t len, struct nl_vm_cells *cells);

/* Which mapping backs each cell: a mapping named after the cell's backend
 * (memfd:ID, libvirt's hugetlbfs file ..._objects_ID.), else one of the
 * cell's size (within 1/64), one whose policy binds it to the cell's host
 * nodes first, then in the order QEMU creates them (the kernel maps top
 * down: the first backend highest). Fills bytes[cell][node index]. Returns
 * 0, or -ENOENT when some cell has no mapping of its own (then nothing
 * per cell is known). */
int nl_cells_assign(const struct nl_vm_cells *cells, const struct nl_ram_map *maps, int nmaps,
		    uint64_t bytes[][NL_MAX_NODES]);

/* Reads each tracked VM's cells from its command line once (libvirt.c
 * replaces them with the domain XML's for libvirt domains). */
extern const struct nl_source nl_source_cells;

#endif
