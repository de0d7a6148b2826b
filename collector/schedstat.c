#include "schedstat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "procscan.h"

int nl_schedstat_parse_status(const char *status, const struct nl_topology *t,
			      struct nl_cpuset *cpus, uint64_t *mems)
{
	const char *c = strstr(status, "\nCpus_allowed_list:");
	const char *m = strstr(status, "\nMems_allowed_list:");
	uint64_t ids;
	int rc;

	if (!c || !m)
		return -EINVAL;
	rc = nl_cpuset_parse(cpus, c + strlen("\nCpus_allowed_list:"));
	if (rc < 0)
		return rc;
	rc = nl_nodemask_parse(&ids, m + strlen("\nMems_allowed_list:"));
	if (rc < 0)
		return rc;
	/* The kernel speaks node ids; everything else here node indexes. */
	*mems = 0;
	for (int i = 0; i < t->nnodes; i++)
		if (ids & (1ULL << t->nodes[i].id))
			*mems |= 1ULL << i;
	return 0;
}

static int sample_thread(struct nl_state *st, struct nl_vm *vm,
			 struct nl_thread *t)
{
	/* vhost kernel workers are processes: /proc/TID/task/TID */
	int owner = t->kernel_thread ? (int)t->tid : (int)vm->pid;
	char path[NL_PATH_MAX], buf[4096];
	uint64_t run_ns;
	int cpu = -1, node = -1;
	char *end;

	if (nl_path_proc(path, sizeof(path), "%d/task/%d/schedstat", owner,
			 (int)t->tid) < 0)
		return -ENAMETOOLONG;
	if (nl_read_file(path, buf, sizeof(buf)) < 0)
		return -ENOENT;
	errno = 0;
	run_ns = strtoull(buf, &end, 10);
	if (end == buf || errno)
		return -EINVAL;

	if (nl_path_proc(path, sizeof(path), "%d/task/%d/stat", owner,
			 (int)t->tid) == 0 &&
	    nl_read_file(path, buf, sizeof(buf)) > 0)
		nl_procscan_parse_stat(buf, NULL, &cpu);
	if (st->topo_valid && cpu >= 0 && cpu < NL_MAX_CPUS)
		node = st->topo.cpu_node[cpu];

	memset(t->win_node_ns, 0, sizeof(t->win_node_ns));
	if (t->run_valid && run_ns >= t->run_ns && node >= 0) {
		/* Only the CPU at the end of the window is known: the whole
		 * delta goes to its node. Threads pinned to one node (what the
		 * score cares about) are attributed exactly. */
		uint64_t delta = run_ns - t->run_ns;

		t->node_ns[node] += delta;
		t->win_node_ns[node] = delta;
	}
	t->run_ns = run_ns;
	t->run_valid = true;
	t->last_cpu = cpu;

	if (nl_path_proc(path, sizeof(path), "%d/task/%d/status", owner,
			 (int)t->tid) == 0 &&
	    nl_read_file(path, buf, sizeof(buf)) > 0)
		nl_schedstat_parse_status(buf, &st->topo, &t->cpus_allowed,
					  &t->mems_allowed);
	return 0;
}

static int schedstat_sample(struct nl_state *st, void *priv)
{
	size_t ok = 0, total = 0;

	(void)priv;
	for (size_t i = 0; i < st->nvms; i++) {
		struct nl_vm *vm = st->vms[i];

		for (size_t j = 0; j < vm->nthreads; j++) {
			total++;
			if (sample_thread(st, vm, &vm->threads[j]) == 0)
				ok++;
		}
	}
	/* Threads exit all the time; failing means we could read none. */
	return (total > 0 && ok == 0) ? -EACCES : 0;
}

const struct nl_source nl_source_schedstat = {
	.name = "schedstat",
	.default_enabled = true,
	.required = false,
	.sample = schedstat_sample,
};
