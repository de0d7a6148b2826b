/* The numa_maps source: /proc/PID/numa_maps at most every
 * --placement.numa-maps-interval per VM (it walks the page tables of the
 * whole process): the VM's memory by node for the VMs the numa_stat source
 * did not measure this cycle, and for every VM the split of it into guest
 * RAM and the VMM's own memory (the mappings /proc/PID/maps shows to be
 * guest RAM: nl_memplace_guest_ram()). What counts as VM memory:
 * memplace.c. */
#include "memplace.h"
#include "memplace_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* guest RAM mappings one QEMU may have: -m, or one backend per NUMA cell */
#define NL_MAX_CELLS_RAM 16
#include "paths.h"

static int numa_maps_init(struct nl_state *st, void **priv)
{
	(void)st;
	return nl_memplace_init(priv);
}

/* Guest RAM mappings of the VM's QEMU (their start addresses), from
 * /proc/PID/maps; 0 when unreadable (then there is no split). */
static int guest_ram(const struct nl_vm *vm, struct nl_memplace_priv *p, uint64_t *starts,
		     int max)
{
	char path[NL_PATH_MAX];

	if (nl_path_proc(path, sizeof(path), "%d/maps", (int)vm->pid) < 0 ||
	    nl_read_file_alloc(path, &p->buf, &p->cap) < 0)
		return 0;
	return nl_memplace_guest_ram(p->buf, starts, max);
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
		uint64_t guest[NL_MAX_NODES], vmm[NL_MAX_NODES], starts[NL_MAX_CELLS_RAM];
		char path[NL_PATH_MAX];
		bool cg = nl_memplace_is_cgroup(vm->mem_source) &&
			  vm->mem_updated_ns == st->now_ns;
		int rc, nguest;
		ssize_t n;

		/* first reading right away, then every interval */
		if (cg && vm->split_valid && st->now_ns - vm->split_updated_ns < interval)
			continue;
		if (!cg && vm->mem_source == NL_MEM_NUMA_MAPS &&
		    st->now_ns - vm->mem_updated_ns < interval)
			continue;
		nguest = guest_ram(vm, p, starts, NL_MAX_CELLS_RAM);
		rc = nl_path_proc(path, sizeof(path), "%d/numa_maps",
				  (int)vm->pid);
		if (rc < 0)
			continue;
		n = nl_read_file_alloc(path, &p->buf, &p->cap);
		rc = n < 0 ? (int)n
			   : nl_memplace_parse_numa_maps_split(p->buf, p->page_size, &st->topo,
							       starts, nguest, guest, vmm);
		vm->split_valid = rc >= 0 && nguest > 0;
		vm->split_updated_ns = st->now_ns;
		if (vm->split_valid) {
			memcpy(vm->split_guest, guest, sizeof(vm->split_guest));
			memcpy(vm->split_vmm, vmm, sizeof(vm->split_vmm));
		}
		if (cg)
			continue;      /* the cgroup's totals stand */
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
