#include "threads.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "paths.h"
#include "procscan.h"

/* Parse a non-negative decimal that makes up all of s up to stop (a char
 * or '\0'); return -1 if it does not. */
static int parse_index(const char *s, char stop)
{
	long v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p - '0');
		if (v > 1000000)
			return -1;
		p++;
	}
	return *p == stop ? (int)v : -1;
}

enum nl_role nl_threads_classify_comm(const char *comm, int *index)
{
	*index = -1;
	/* QEMU (debug-threads=on) names vCPU threads "CPU %d/%s" with the
	 * accelerator: KVM, TCG, HVF, WHPX ... */
	if (strncmp(comm, "CPU ", 4) == 0) {
		int idx = parse_index(comm + 4, '/');

		if (idx >= 0) {
			*index = idx;
			return NL_ROLE_VCPU;
		}
	}
	/* iothread objects run as "IO <id>"; the monitor's own iothread
	 * ("IO mon_iothread") serves QMP and belongs to the emulator. */
	if (strncmp(comm, "IO ", 3) == 0 && strcmp(comm, "IO mon_iothread") != 0) {
		const char *id = comm + 3;
		size_t n = strlen(id);
		size_t d = n;

		while (d > 0 && isdigit((unsigned char)id[d - 1]))
			d--;
		if (d < n)
			*index = parse_index(id + d, '\0');
		return NL_ROLE_IOTHREAD;
	}
	if (strncmp(comm, "vhost-", 6) == 0 && parse_index(comm + 6, '\0') >= 0)
		return NL_ROLE_VHOST;
	return NL_ROLE_EMULATOR;
}

enum nl_role nl_threads_classify_cgroup(const char *cgroup_file, int *index)
{
	const char *line = cgroup_file;

	*index = -1;
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *last = NULL;

		/* last path component of this hierarchy's line */
		for (size_t i = 0; i < len; i++)
			if (line[i] == '/')
				last = line + i + 1;
		if (last) {
			char comp[64];
			size_t cl = (size_t)(line + len - last);

			if (cl < sizeof(comp)) {
				memcpy(comp, last, cl);
				comp[cl] = '\0';
				if (strncmp(comp, "vcpu", 4) == 0 &&
				    (*index = parse_index(comp + 4, '\0')) >= 0)
					return NL_ROLE_VCPU;
				if (strncmp(comp, "iothread", 8) == 0 &&
				    (*index = parse_index(comp + 8, '\0')) >= 0)
					return NL_ROLE_IOTHREAD;
				*index = -1;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	return NL_ROLE_COUNT;
}

static struct nl_thread *find_thread(struct nl_vm *vm, pid_t tid)
{
	for (size_t i = 0; i < vm->nthreads; i++)
		if (vm->threads[i].tid == tid)
			return &vm->threads[i];
	return NULL;
}

static struct nl_thread *add_thread(struct nl_vm *vm, pid_t tid)
{
	struct nl_thread *t;

	if (vm->nthreads == vm->cap_threads) {
		size_t ncap = vm->cap_threads ? vm->cap_threads * 2 : 16;
		struct nl_thread *n = realloc(vm->threads, ncap * sizeof(*n));

		if (!n)
			return NULL;
		vm->threads = n;
		vm->cap_threads = ncap;
	}
	t = &vm->threads[vm->nthreads++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->index = -1;
	t->last_cpu = -1;
	t->scaling_ratio = NAN;
	t->role = NL_ROLE_COUNT;   /* classified below */
	return t;
}

static void classify(struct nl_vm *vm, struct nl_thread *t, const char *comm)
{
	enum nl_role role;
	int index;

	if (t->role != NL_ROLE_COUNT && strcmp(t->comm, comm) == 0)
		return;     /* unchanged since the last cycle */
	snprintf(t->comm, sizeof(t->comm), "%s", comm);
	role = nl_threads_classify_comm(comm, &index);
	if (role == NL_ROLE_EMULATOR && !t->kernel_thread &&
	    nl_procscan_is_qemu_comm(comm)) {
		/* QEMU without debug-threads names every thread after itself;
		 * libvirt's per-vCPU / per-iothread cgroups still tell. Only
		 * such unnamed threads are asked: KVM's own workers (e.g.
		 * "kvm-nx-lpage-re") live in the vcpu0 cgroup too. */
		char path[NL_PATH_MAX], cg[2048];
		int cidx;
		enum nl_role crole;

		if (nl_path_proc(path, sizeof(path), "%d/task/%d/cgroup",
				 (int)vm->pid, (int)t->tid) == 0 &&
		    nl_read_file(path, cg, sizeof(cg)) > 0) {
			crole = nl_threads_classify_cgroup(cg, &cidx);
			if (crole != NL_ROLE_COUNT) {
				role = crole;
				index = cidx;
			}
		}
	}
	if (t->kernel_thread)
		role = NL_ROLE_VHOST, index = -1;
	if (t->role != NL_ROLE_COUNT && t->role != role)
		nl_debug("VM %s thread %d: %s -> %s", vm->name, (int)t->tid,
			 nl_role_name(t->role), nl_role_name(role));
	t->role = role;
	t->index = index;
}

/* A thread that exited hands its totals to its role's retired bucket, so
 * that summed role counters never go backwards. */
static void retire(struct nl_vm *vm, const struct nl_thread *t)
{
	enum nl_role r = t->role < NL_ROLE_COUNT ? t->role : NL_ROLE_EMULATOR;

	vm->retired_run_ns[r] += t->run_ns;
	for (int n = 0; n < NL_MAX_NODES; n++)
		vm->retired_node_ns[r][n] += t->node_ns[n];
	for (int e = 0; e < NL_MAX_EVENTS; e++)
		if (t->events_valid & (1u << e))
			vm->retired_events[r][e] += t->events[e];
}

static int scan_vm(struct nl_state *st, struct nl_vm *vm)
{
	char path[NL_PATH_MAX], comm[64];
	struct dirent *de;
	DIR *d;
	int rc = 0;
	size_t w;

	if (nl_path_proc(path, sizeof(path), "%d/task", (int)vm->pid) < 0)
		return -ENAMETOOLONG;
	d = nl_opendir(path);
	if (!d)
		return -errno;   /* the VM went away: vms drops it next cycle */
	while ((de = readdir(d)) != NULL) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		struct nl_thread *t;

		if (*end || tid <= 0)
			continue;
		if (nl_path_proc(path, sizeof(path), "%d/task/%ld/comm",
				 (int)vm->pid, tid) < 0 ||
		    nl_read_file(path, comm, sizeof(comm)) < 0)
			continue;    /* exited meanwhile */
		nl_rstrip(comm);
		t = find_thread(vm, (pid_t)tid);
		if (!t && !(t = add_thread(vm, (pid_t)tid))) {
			rc = -ENOMEM;
			break;
		}
		classify(vm, t, comm);
		t->seen_gen = st->gen;
	}
	closedir(d);

	/* vhost workers that are kernel threads of their own */
	for (size_t i = 0; i < st->nkworkers && rc == 0; i++) {
		const struct nl_kworker *k = &st->kworkers[i];
		struct nl_thread *t;

		if (k->owner != vm->pid)
			continue;
		t = find_thread(vm, k->pid);
		if (!t && !(t = add_thread(vm, k->pid))) {
			rc = -ENOMEM;
			break;
		}
		t->kernel_thread = true;
		classify(vm, t, k->comm);
		t->seen_gen = st->gen;
	}

	w = 0;
	for (size_t i = 0; i < vm->nthreads; i++) {
		if (vm->threads[i].seen_gen == st->gen)
			vm->threads[w++] = vm->threads[i];
		else
			retire(vm, &vm->threads[i]);
	}
	vm->nthreads = w;
	return rc;
}

static int threads_sample(struct nl_state *st, void *priv)
{
	int rc = 0;

	(void)priv;
	for (size_t i = 0; i < st->nvms; i++) {
		int r = scan_vm(st, st->vms[i]);

		if (r == -ENOMEM)
			return r;
		if (r < 0 && r != -ENOENT && rc == 0)
			rc = r;
	}
	return rc;
}

const struct nl_source nl_source_threads = {
	.name = "threads",
	.default_enabled = true,
	.required = true,
	.sample = threads_sample,
};
