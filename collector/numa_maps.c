/* The numa_maps source: /proc/PID/numa_maps at most every
 * --placement.numa-maps-interval per VM (it walks the page tables of the
 * whole process): the VM's memory by node for the VMs the numa_stat source
 * did not measure this cycle, and for every VM the split of it into guest
 * RAM and the VMM's own memory (the mappings /proc/PID/maps shows to be
 * guest RAM: nl_memplace_ram_maps()), and of a wide VM each NUMA cell's
 * memory (the mapping backing it: nl_cells_assign()). What counts as VM
 * memory: memplace.c. */
#include "memplace.h"
#include "memplace_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "log.h"
#include "paths.h"

/* guest RAM mappings one QEMU may have: -m, or one backend per NUMA cell */
#define NL_MAX_CELLS_RAM 16

static int numa_maps_init(struct nl_state *st, void **priv)
{
	(void)st;
	return nl_memplace_init(priv);
}

/* Guest RAM mappings of the VM's QEMU (their start addresses), from
 * /proc/PID/maps; 0 when unreadable (then there is no split). */
static int guest_ram(const struct nl_vm *vm, struct nl_memplace_priv *p, struct nl_ram_map *maps,
		     int max)
{
	char path[NL_PATH_MAX];

	if (nl_path_proc(path, sizeof(path), "%d/maps", (int)vm->pid) < 0 ||
	    nl_read_file_alloc(path, &p->buf, &p->cap) < 0)
		return 0;
	return nl_memplace_ram_maps(p->buf, maps, max);
}

/* The cgroup's figures moved by more than NL_SPLIT_DRIFT of the VM's memory
 * (and 8 MiB) on some node since the split was read: a guest touching its
 * RAM as it boots, a VMM allocating. The split is then read again, so that
 * what grew is not shared out in stale proportions. */
#define NL_SPLIT_DRIFT 0.05
static bool grew(const struct nl_vm *vm)
{
	uint64_t total = 0;

	for (int n = 0; n < NL_MAX_NODES; n++)
		total += vm->mem_bytes[n];
	for (int n = 0; n < NL_MAX_NODES; n++) {
		uint64_t a = vm->mem_bytes[n], b = vm->split_at[n];
		uint64_t d = a > b ? a - b : b - a;

		if (d > (8ULL << 20) && (double)d > NL_SPLIT_DRIFT * (double)total)
			return true;
	}
	return false;
}

/* FNV-1a of the guest RAM mappings' addresses: what tells that they changed */
static uint64_t ram_key(const struct nl_ram_map *maps, int n)
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < n; i++) {
		h ^= maps[i].start;
		h *= 1099511628211ULL;
	}
	return h ^ (uint64_t)n;
}

static int numa_maps_sample(struct nl_state *st, void *priv)
{
	struct nl_memplace_priv *p = priv;
	double secs = st->cfg ? st->cfg->numa_maps_interval : 30.0;
	uint64_t interval = secs > 0 ? (uint64_t)(secs * 1e9) : 0;

	if (!nl_memplace_topo_ok(st, p, "numa_maps"))
		return -ENODATA;
	for (size_t i = 0; i < st->nvms; i++) {
		struct nl_vm *vm = st->vms[i];
		uint64_t guest[NL_MAX_NODES], vmm[NL_MAX_NODES];
		struct nl_ram_map maps[NL_MAX_CELLS_RAM];
		char path[NL_PATH_MAX];
		bool cg = nl_memplace_is_cgroup(vm->mem_source) &&
			  vm->mem_updated_ns == st->now_ns;
		int rc, nguest;
		uint64_t key;
		bool moved;
		ssize_t n;

		/* /proc/PID/maps every cycle (no page walk): a QEMU that maps its
		 * guest RAM after the last reading (it was starting) is split
		 * again now, not an interval later */
		nguest = guest_ram(vm, p, maps, NL_MAX_CELLS_RAM);
		key = ram_key(maps, nguest);
		moved = key != vm->split_key || (cg && grew(vm));
		/* first reading right away (split_updated_ns is 0), then every
		 * interval, also when it found no split: a QEMU whose numa_maps
		 * cannot be read is not walked every cycle */
		if (cg && !moved && st->now_ns - vm->split_updated_ns < interval)
			continue;
		if (!cg && vm->mem_source == NL_MEM_NUMA_MAPS && !moved &&
		    st->now_ns - vm->mem_updated_ns < interval)
			continue;
		vm->split_key = key;
		rc = nl_path_proc(path, sizeof(path), "%d/numa_maps",
				  (int)vm->pid);
		if (rc < 0)
			continue;
		n = nl_read_file_alloc_max(path, &p->buf, &p->cap, NL_NUMA_MAPS_MAX,
					   &vm->numa_maps_capped);
		if (vm->numa_maps_capped)
			nl_complain(&p->capped, NL_LOG_WARN,
				    "numa_maps: VM %s (pid %d): numa_maps is longer than %u MiB; its memory figures are of the first %u MiB (numalens_vm_numa_maps_capped)",
				    vm->name, (int)vm->pid, NL_NUMA_MAPS_MAX >> 20, NL_NUMA_MAPS_MAX >> 20);
		rc = n < 0 ? (int)n
			   : nl_memplace_parse_numa_maps_maps(p->buf, p->page_size, &st->topo,
							      maps, nguest, guest, vmm);
		vm->split_valid = rc >= 0 && nguest > 0;
		/* each guest NUMA cell's memory: its own mapping's */
		vm->cell_mem_valid = vm->split_valid &&
				     nl_cells_assign(&vm->cells, maps, nguest, vm->cell_mem) == 0;
		vm->split_updated_ns = st->now_ns;
		if (vm->split_valid) {
			memcpy(vm->split_guest, guest, sizeof(vm->split_guest));
			memcpy(vm->split_vmm, vmm, sizeof(vm->split_vmm));
		}
		if (cg) {              /* the cgroup's totals stand */
			memcpy(vm->split_at, vm->mem_bytes, sizeof(vm->split_at));
			continue;
		}
		if (rc < 0) {
			if (rc == -EACCES || rc == -EPERM)
				nl_complain(&p->denied, NL_LOG_WARN,
					    "numa_maps: %s: %s (reading it "
					    "needs ptrace access to QEMU)",
					    path, strerror(-rc));
			else
				nl_debug("numa_maps: VM %s (pid %d): %s",
					 vm->name, (int)vm->pid,
					 strerror(-rc));
			/* unknown now: publish nothing rather than stale
			 * numbers */
			memset(vm->mem_bytes, 0, sizeof(vm->mem_bytes));
			vm->mem_source = NL_MEM_NONE;
			vm->mem_cgroup[0] = '\0';
			continue;
		}
		nl_complain_clear(&p->denied, "numa_maps: readable again");
		for (int k = 0; k < NL_MAX_NODES; k++)
			vm->mem_bytes[k] = guest[k] + vmm[k];
		memcpy(vm->split_at, vm->mem_bytes, sizeof(vm->split_at));
		vm->mem_source = NL_MEM_NUMA_MAPS;
		vm->mem_updated_ns = st->now_ns;
		vm->mem_cgroup[0] = '\0';
	}
	return 0;
}

static void numa_maps_free(struct nl_state *st, void *priv)
{
	(void)st;
	nl_memplace_free(priv);
}

const struct nl_source nl_source_numa_maps = {
	.name = "numa_maps",
	.default_enabled = true,
	.required = false,
	.init = numa_maps_init,
	.sample = numa_maps_sample,
	.free = numa_maps_free,
};
