/* The numa_stat source: each VM's memory per node from its memory cgroup's
 * memory.numa_stat, every cycle (cheap). VMs it cannot measure are left
 * with mem_source NL_MEM_NONE for the numa_maps source. Which cgroup and
 * what counts as VM memory: memplace.c. */
#include "memplace.h"
#include "memplace_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "paths.h"

/* Read a small procfs/sysfs file into buf. Return bytes or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	ssize_t n = nl_read_file(path, buf, len);

	if (n >= 0 && (size_t)n >= len - 1)
		return -EFBIG;
	return n;
}

/* Fill vm's placement from its memory cgroup. Return 0, or -errno and
 * leave vm untouched. */
static int measure_cgroup(struct nl_memplace_priv *p, struct nl_state *st,
			  struct nl_vm *vm)
{
	char text[8192], path[NL_PATH_MAX], leaf[NL_PATH_MAX];
	char dir[sizeof(vm->mem_cgroup)];
	uint64_t bytes[NL_MAX_NODES];
	const char *hier;
	bool named;
	ssize_t n;
	int rc, v2;

	rc = nl_path_proc(path, sizeof(path), "%d/cgroup", (int)vm->pid);
	if (rc < 0)
		return rc;
	n = read_small(path, text, sizeof(text));
	if (n < 0)
		return (int)n;
	rc = nl_memplace_parse_cgroup(text, leaf, sizeof(leaf), &v2);
	if (rc < 0)
		return rc;
	rc = nl_memplace_cgroup_vm_dir(leaf, dir, sizeof(dir), &named);
	if (rc < 0)
		return rc;

	if (!v2) {
		hier = "fs/cgroup/memory";
	} else {
		/* cgroup2 at fs/cgroup (unified) or fs/cgroup/unified
		 * (hybrid; memory is then normally bound to v1 and the
		 * numa_stat below will not exist) */
		rc = nl_path_sys(path, sizeof(path),
				 "fs/cgroup/cgroup.controllers");
		if (rc < 0)
			return rc;
		hier = access(path, F_OK) == 0 ? "fs/cgroup"
					       : "fs/cgroup/unified";
	}

	if (!named) {
		rc = nl_path_sys(path, sizeof(path), "%s%s/cgroup.procs",
				 hier, dir);
		if (rc < 0)
			return rc;
		n = read_small(path, text, sizeof(text));
		if (n < 0)
			return (int)n;
		if (!nl_memplace_procs_only(text, vm->pid))
			return -EBUSY;   /* shared with other processes */
	}

	rc = nl_path_proc(path, sizeof(path), "%d/status", (int)vm->pid);
	if (rc < 0)
		return rc;
	n = read_small(path, text, sizeof(text));
	if (n < 0)
		return (int)n;
	if (nl_memplace_status_hugetlb(text) > 0)
		return -EOPNOTSUPP;   /* hugetlbfs: numa_maps sees it */

	rc = nl_path_sys(path, sizeof(path), "%s%s/memory.numa_stat", hier,
			 dir);
	if (rc < 0)
		return rc;
	n = nl_read_file_alloc(path, &p->buf, &p->cap);
	if (n < 0)
		return (int)n;
	rc = nl_memplace_parse_numa_stat(p->buf, v2, p->page_size, &st->topo,
					 bytes);
	if (rc < 0)
		return rc;

	memcpy(vm->mem_bytes, bytes, sizeof(vm->mem_bytes));
	vm->mem_source = v2 ? NL_MEM_CGROUP_V2 : NL_MEM_CGROUP_V1;
	vm->mem_updated_ns = st->now_ns;
	memcpy(vm->mem_cgroup, dir, sizeof(vm->mem_cgroup));
	return 0;
}

static int numa_stat_init(struct nl_state *st, void **priv)
{
	(void)st;
	return nl_memplace_init(priv);
}

/* A VM that cannot be measured here is not a failure of the source (the
 * numa_maps source takes it); only a missing topology is. */
static int numa_stat_sample(struct nl_state *st, void *priv)
{
	struct nl_memplace_priv *p = priv;

	if (!nl_memplace_topo_ok(st, p, "numa_stat"))
		return -ENODATA;
	for (size_t i = 0; i < st->nvms; i++) {
		struct nl_vm *vm = st->vms[i];
		int rc = measure_cgroup(p, st, vm);

		if (rc == 0)
			continue;
		if (nl_memplace_is_cgroup(vm->mem_source)) {
			/* measured before, not now: hand it to numa_maps
			 * rather than publish stale numbers */
			nl_debug("numa_stat: VM %s (pid %d): %s; "
				 "falling back to numa_maps", vm->name,
				 (int)vm->pid, strerror(-rc));
			memset(vm->mem_bytes, 0, sizeof(vm->mem_bytes));
			vm->mem_source = NL_MEM_NONE;
			vm->mem_cgroup[0] = '\0';
		}
	}
	return 0;
}

static void numa_stat_free(struct nl_state *st, void *priv)
{
	(void)st;
	nl_memplace_free(priv);
}

const struct nl_source nl_source_numa_stat = {
	.name = "numa_stat",
	.default_enabled = true,
	.required = false,
	.init = numa_stat_init,
	.sample = numa_stat_sample,
	.free = numa_stat_free,
};
