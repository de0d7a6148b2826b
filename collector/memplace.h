/* Memory placement sources: how many bytes of each VM's memory sit on each
 * NUMA node (struct nl_vm mem_bytes[], by node index of st->topo).
 *
 *  numa_stat (numa_stat.c): the VM's memory cgroup memory.numa_stat, every
 *      cycle (cheap). VMs it cannot measure are left with mem_source
 *      NL_MEM_NONE.
 *  numa_maps (numa_maps.c): /proc/PID/numa_maps for the VMs the cgroup
 *      source did not measure this cycle, at most every
 *      cfg->numa_maps_interval seconds per VM (it walks the page tables of
 *      the whole process).
 *
 * Both need st->topo (run them after the topology source) and numa_maps
 * must run after numa_stat. Their shared code is memplace.c; its parsers
 * are declared in memplace_priv.h. */
#ifndef NL_MEMPLACE_H
#define NL_MEMPLACE_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "state.h"

extern const struct nl_source nl_source_numa_stat;
extern const struct nl_source nl_source_numa_maps;

/* Private data of either source. */
struct nl_memplace_priv {
	long page_size;
	char *buf;          /* numa_stat / numa_maps text, reused */
	size_t cap;
	struct nl_complaint notopo;
	struct nl_complaint denied;   /* numa_maps: EACCES / EPERM */
	struct nl_complaint capped;   /* numa_maps: longer than NL_NUMA_MAPS_MAX */
};

/* The most of one QEMU's /proc/PID/numa_maps read (a line is about 150
 * bytes: some 400,000 mappings; a VM has a few hundred). Past it, the
 * figures are those of the mappings read, and numalens_vm_numa_maps_capped
 * says so. */
#define NL_NUMA_MAPS_MAX (64u << 20)

/* Allocate a struct nl_memplace_priv into *priv. Return 0 or -ENOMEM. */
int nl_memplace_init(void **priv);
void nl_memplace_free(void *priv);
/* True when st has a usable topology; else complains (rate-limited) in the
 * name of source `src`. */
bool nl_memplace_topo_ok(const struct nl_state *st,
			 struct nl_memplace_priv *p, const char *src);
/* True for the cgroup (numa_stat) memory sources. */
bool nl_memplace_is_cgroup(enum nl_mem_source s);

#endif
