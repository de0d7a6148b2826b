/* Parsers of the memory placement sources, exposed for
 * tests/unit/test_memplace.c and tests/bench/bench_memplace.c. All byte
 * arrays are NL_MAX_NODES long, indexed by node index of *t (not node id);
 * node ids that *t does not know are ignored. */
#ifndef NL_MEMPLACE_PRIV_H
#define NL_MEMPLACE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cells.h"
#include "types.h"

/* The VM's memory from a memory.numa_stat: v2 != 0 for the cgroup v2
 * format (bytes), else v1 (pages of page_size bytes). Zeroes bytes first.
 * Return 0, or -EINVAL when the file is malformed or lacks the anon line. */
int nl_memplace_parse_numa_stat(const char *text, int v2, long page_size,
				const struct nl_topology *t, uint64_t *bytes);

/* Sum of every mapping's N<id>=<pages> x its kernelpagesize_kB (page_size
 * bytes when a line has none). Lines that are not mappings are skipped.
 * Zeroes bytes first. Return the number of lines skipped (0 for a clean
 * file), or -EINVAL when no line at all was a mapping. An empty file (a
 * process without memory) is clean. */
int nl_memplace_parse_numa_maps(const char *text, long page_size,
				const struct nl_topology *t, uint64_t *bytes);

/* The same, split into the guest's RAM (mappings starting at one of the
 * nguest addresses guest_starts[], from nl_memplace_guest_ram()) and the
 * rest, the VMM's own memory (heap, stacks, libraries, device state). */
int nl_memplace_parse_numa_maps_split(const char *text, long page_size,
				      const struct nl_topology *t,
				      const uint64_t *guest_starts, int nguest,
				      uint64_t *guest, uint64_t *vmm);

/* Which mappings of a QEMU process are guest RAM, from its /proc/PID/maps
 * text: QEMU backs guest RAM (-m, and each -object memory-backend-* of a
 * NUMA cell) with one writable mapping of the RAM's size, anonymous or of
 * a file (hugetlbfs, memfd, shm). Taken: every writable, not executable
 * mapping larger than NL_GUEST_RAM_MIN that is not [heap] or a [stack]
 * (TCG's code buffer is rwx); when there is
 * none, the largest writable one (a small guest). glibc's malloc arenas
 * are at most 64 MiB, thread stacks 8 MiB, VGA RAM 16 MiB: VMM memory.
 * Fills up to max start addresses; returns how many. */
#define NL_GUEST_RAM_MIN (64ULL << 20)
int nl_memplace_guest_ram(const char *maps, uint64_t *starts, int max);
/* The same mappings with their size and path (struct nl_ram_map, cells.h). */
int nl_memplace_ram_maps(const char *maps, struct nl_ram_map *out, int max);
/* The split of nl_memplace_parse_numa_maps_split() by these mappings, which
 * also get their own bytes by node and the nodes their policy binds them
 * to (bind:/prefer:), for the cells (nl_cells_assign()). */
int nl_memplace_parse_numa_maps_maps(const char *text, long page_size,
				     const struct nl_topology *t, struct nl_ram_map *maps,
				     int nmaps, uint64_t *guest, uint64_t *vmm);

/* From a /proc/PID/cgroup text, the path of the memory hierarchy: the v1
 * line whose controller list holds "memory" (*v2 = 0) or else the v2 "0::"
 * line (*v2 = 1). Return 0, -ENOENT when there is neither, -ENAMETOOLONG. */
int nl_memplace_parse_cgroup(const char *text, char *path, size_t len,
			     int *v2);

/* The cgroup holding all of a VM's memory, from the cgroup of its QEMU
 * process: libvirt puts threads in children of the VM's cgroup ("emulator",
 * "vcpuN", "iothreadN"; on cgroup v2 with systemd below a "libvirt" child
 * of the scope), so those are stripped. *named is set when the result is a
 * libvirt machine cgroup (a thread leaf was stripped, or the name is
 * "machine-qemu*.scope" or "*.libvirt-qemu"). Return 0, -ENOENT for the
 * root cgroup (the whole host), -EINVAL, -ENAMETOOLONG. */
int nl_memplace_cgroup_vm_dir(const char *path, char *dir, size_t len,
			      bool *named);

/* True when a cgroup.procs text lists exactly pid and nothing else. */
bool nl_memplace_procs_only(const char *text, pid_t pid);

/* HugetlbPages of a /proc/PID/status text, in bytes (0 when absent). */
uint64_t nl_memplace_status_hugetlb(const char *text);

#endif
