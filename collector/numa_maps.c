/* The numa_maps source: /proc/PID/numa_maps for the VMs the numa_stat
 * source did not measure this cycle, at most every
 * --placement.numa-maps-interval per VM (it walks the page tables of the
 * whole process). What counts as VM memory: memplace.c. */
#include "memplace.h"
#include "memplace_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "paths.h"

static int numa_maps_init(struct nl_state *st, void **priv)
{
	(void)st;
	return nl_memplace_init(priv);
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
		uint64_t bytes[NL_MAX_NODES];
		char path[NL_PATH_MAX];
		ssize_t n;
		int rc;

		if (nl_memplace_is_cgroup(vm->mem_source) &&
		    vm->mem_updated_ns == st->now_ns)
			continue;
		/* first reading right away, then every interval */
		if (vm->mem_source == NL_MEM_NUMA_MAPS &&
		    st->now_ns - vm->mem_updated_ns < interval)
			continue;
		rc = nl_path_proc(path, sizeof(path), "%d/numa_maps",
				  (int)vm->pid);
		if (rc < 0)
			continue;
		n = nl_read_file_alloc(path, &p->buf, &p->cap);
		rc = n < 0 ? (int)n
			   : nl_memplace_parse_numa_maps(p->buf, p->page_size,
							 &st->topo, bytes);
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
		memcpy(vm->mem_bytes, bytes, sizeof(vm->mem_bytes));
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
