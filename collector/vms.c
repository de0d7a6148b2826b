#include "vms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void nl_vm_free(struct nl_vm *vm)
{
	if (!vm)
		return;
	free(vm->threads);
	free(vm);
}

struct nl_vm *nl_state_find_vm(struct nl_state *st, pid_t pid)
{
	for (size_t i = 0; i < st->nvms; i++)
		if (st->vms[i]->pid == pid)
			return st->vms[i];
	return NULL;
}

static const struct nl_qproc *find_qproc(const struct nl_state *st, pid_t pid)
{
	for (size_t i = 0; i < st->nqprocs; i++)
		if (st->qprocs[i].pid == pid)
			return &st->qprocs[i];
	return NULL;
}

static bool name_taken(const struct nl_state *st, const char *name,
		       const struct nl_vm *self)
{
	for (size_t i = 0; i < st->nvms; i++)
		if (st->vms[i] != self && st->vms[i]->seen_gen == st->gen &&
		    strcmp(st->vms[i]->name, name) == 0)
			return true;
	return false;
}

/* Track (or refresh) the VM whose QEMU process is q. A PID whose start time
 * changed is a new process: the old VM goes, a new one starts from zero. */
static int upsert(struct nl_state *st, const struct nl_qproc *q,
		  const char *name, const char *uuid, enum nl_backend backend)
{
	struct nl_vm *vm = nl_state_find_vm(st, q->pid);

	if (vm && vm->starttime != q->starttime) {
		vm->pid = 0;       /* stale: dropped at the end of the cycle */
		vm = NULL;
	}
	if (!vm) {
		if ((int)st->nvms >= st->cfg->max_vms)
			return -ENOSPC;
		if (st->nvms == st->cap_vms) {
			size_t ncap = st->cap_vms ? st->cap_vms * 2 : 16;
			struct nl_vm **n = realloc(st->vms, ncap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			st->vms = n;
			st->cap_vms = ncap;
		}
		vm = calloc(1, sizeof(*vm));
		if (!vm)
			return -ENOMEM;
		vm->pid = q->pid;
		vm->starttime = q->starttime;
		st->vms[st->nvms++] = vm;
		nl_info("tracking VM %s (pid %d, %s)", name, (int)q->pid,
			nl_backend_name(backend));
	}
	vm->backend = backend;
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	/* Two unmanaged QEMUs may carry the same -name: keep labels unique. */
	if (backend == NL_BACKEND_PROC && name_taken(st, name, vm))
		snprintf(vm->name, sizeof(vm->name), "%.200s-pid%d", name,
			 (int)q->pid);
	else
		snprintf(vm->name, sizeof(vm->name), "%s", name);
	vm->seen_gen = st->gen;
	return 0;
}

static bool claimed_by_domain(const struct nl_state *st, pid_t pid)
{
	for (size_t i = 0; i < st->ndomains; i++)
		if (st->domains[i].pid == pid)
			return true;
	return false;
}

static int vms_sample(struct nl_state *st, void *priv)
{
	enum nl_discovery mode = st->cfg->discovery;
	int rc = 0;
	size_t w;

	(void)priv;
	if (st->domains_valid) {
		for (size_t i = 0; i < st->ndomains && rc == 0; i++) {
			const struct nl_domain *d = &st->domains[i];
			const struct nl_qproc *q = d->pid > 0 ? find_qproc(st, d->pid) : NULL;

			if (q)
				rc = upsert(st, q, d->name, d->uuid,
					    NL_BACKEND_LIBVIRT);
		}
	} else if (mode != NL_DISCOVERY_PROC) {
		/* libvirt unreachable: keep its VMs while their QEMU lives,
		 * under the names libvirt gave them. */
		for (size_t i = 0; i < st->nvms; i++) {
			struct nl_vm *vm = st->vms[i];
			const struct nl_qproc *q = find_qproc(st, vm->pid);

			if (vm->backend == NL_BACKEND_LIBVIRT && q &&
			    q->starttime == vm->starttime)
				vm->seen_gen = st->gen;
		}
	}
	if (mode != NL_DISCOVERY_LIBVIRT) {
		for (size_t i = 0; i < st->nqprocs && rc == 0; i++) {
			const struct nl_qproc *q = &st->qprocs[i];
			struct nl_vm *vm = nl_state_find_vm(st, q->pid);
			char pidname[32];

			if (st->domains_valid && claimed_by_domain(st, q->pid))
				continue;
			if (vm && vm->seen_gen == st->gen)
				continue;  /* kept as a libvirt VM above */
			snprintf(pidname, sizeof(pidname), "%d", (int)q->pid);
			rc = upsert(st, q, q->name[0] ? q->name : pidname,
				    q->uuid, NL_BACKEND_PROC);
		}
	}

	/* drop VMs not seen this cycle */
	w = 0;
	for (size_t i = 0; i < st->nvms; i++) {
		struct nl_vm *vm = st->vms[i];

		if (vm->seen_gen == st->gen && vm->pid > 0) {
			st->vms[w++] = vm;
		} else {
			nl_info("VM %s (pid %d) is gone", vm->name, (int)vm->pid);
			nl_vm_free(vm);
		}
	}
	st->nvms = w;
	if (rc == -ENOSPC)
		nl_warn("more than %d VMs: the rest are not tracked",
			st->cfg->max_vms);
	return rc;
}

static void vms_free(struct nl_state *st, void *priv)
{
	(void)priv;
	for (size_t i = 0; i < st->nvms; i++)
		nl_vm_free(st->vms[i]);
	free(st->vms);
	st->vms = NULL;
	st->nvms = st->cap_vms = 0;
}

const struct nl_source nl_source_vms = {
	.name = "vms",
	.default_enabled = true,
	.required = true,
	.sample = vms_sample,
	.free = vms_free,
};
