/* Actions: the concrete steps of a hint, each as the exact libvirt call
 * and the equivalent command line (virsh, taskset, migratepages), with
 * VM names quoted for a POSIX shell. `numalens apply` performs them. */
#include "engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for a command: a quoted VM name, a CPU list and the words. */
#define CMD_LEN (NL_NAME_MAX * 4 + NL_MAX_CPUS * 5 + 512)

int nl_hint_copy(struct nl_hint *dst, const struct nl_hint *src)
{
	*dst = *src;
	dst->actions = NULL;
	dst->nactions = 0;
	if (!src->nactions)
		return 0;
	dst->actions = calloc(src->nactions, sizeof(*dst->actions));
	if (!dst->actions)
		return -ENOMEM;
	for (size_t i = 0; i < src->nactions; i++) {
		struct nl_hint_action *a = &dst->actions[dst->nactions++];

		*a = src->actions[i];
		a->libvirt = strdup(src->actions[i].libvirt);
		a->command = strdup(src->actions[i].command);
		if (!a->libvirt || !a->command) {
			nl_hint_free_contents(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

void nl_hints_appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t o = strnlen(buf, len);
	va_list ap;

	if (o + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

void nl_hints_shell_quote(const char *s, char *out, size_t len)
{
	size_t o = 0;
	bool plain = *s != '\0';

	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-+:@/=", *p))
			plain = false;
	if (len == 0)
		return;
	if (plain) {
		snprintf(out, len, "%s", s);
		return;
	}
	/* 'it'\''s' */
	out[o++] = '\'';
	for (const char *p = s; *p && o + 5 < len; p++) {
		if (*p == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			out[o++] = *p;
		}
	}
	if (o + 1 < len)
		out[o++] = '\'';
	out[o < len ? o : len - 1] = '\0';
}

__attribute__((format(printf, 5, 6)))
static int action_add(struct nl_hint *h, enum nl_action_op op, int index,
		      const char *libvirt, const char *fmt, ...)
{
	struct nl_hint_action *a, *p;
	va_list ap;
	char cmd[CMD_LEN];

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = realloc(h->actions, (h->nactions + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	h->actions = p;
	a = &h->actions[h->nactions];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->index = index;
	a->libvirt = strdup(libvirt);
	a->command = strdup(cmd);
	h->nactions++;
	if (!a->libvirt || !a->command)
		return -ENOMEM;
	return 0;
}

static int last_fallback(struct nl_hint *h)
{
	if (h->nactions)
		h->actions[h->nactions - 1].fallback = true;
	return 0;
}

static void node_list(const int *ids, int n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%d", i ? "," : "", ids[i]);

		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

/* The words every action of one hint needs. */
struct words {
	bool lv;                          /* a libvirt domain */
	char q[NL_NAME_MAX * 4 + 8];      /* the quoted VM name */
	char cpus[NL_MAX_CPUS * 5];       /* target CPUs */
	char from[NL_MAX_NODES * 5];      /* source nodes */
	char call[NL_MAX_CPUS * 5 + 256]; /* scratch for the libvirt call */
};

static int pin_vcpus(struct nl_hint *h, const struct nl_vm_snap *vm, struct words *w)
{
	int rc = 0;

	for (size_t j = 0; j < vm->nseries && !rc; j++) {
		const struct nl_series *se = &vm->series[j];

		if (se->role != NL_ROLE_VCPU)
			continue;
		/* a cell's hint pins that cell's vCPUs only */
		if (h->has_cell && (se->index < 0 || se->index > 63 || !(h->cell_vcpus >> se->index & 1)))
			continue;
		if (w->lv) {
			snprintf(w->call, sizeof(w->call),
				 "virDomainPinVcpuFlags(dom, %d, cpumap(%s), maplen, VIR_DOMAIN_AFFECT_LIVE)",
				 se->index, w->cpus);
			rc = action_add(h, NL_ACT_PIN_VCPU, se->index, w->call,
					"virsh vcpupin %s %d %s --live", w->q, se->index, w->cpus);
			continue;
		}
		for (size_t t = 0; t < vm->nthreads && !rc; t++)
			if (vm->threads[t].role == NL_ROLE_VCPU &&
			    vm->threads[t].index == se->index)
				rc = action_add(h, NL_ACT_PIN_THREAD, vm->threads[t].tid, "",
						"taskset -pc %s %d", w->cpus, (int)vm->threads[t].tid);
	}
	return rc;
}

static int pin_vmm(struct nl_hint *h, const struct nl_vm_snap *vm, struct words *w)
{
	int rc = 0;

	if (w->lv && (h->roles >> NL_ROLE_EMULATOR & 1)) {
		snprintf(w->call, sizeof(w->call),
			 "virDomainPinEmulator(dom, cpumap(%s), maplen, VIR_DOMAIN_AFFECT_LIVE)", w->cpus);
		rc = action_add(h, NL_ACT_PIN_EMULATOR, -1, w->call,
				"virsh emulatorpin %s %s --live", w->q, w->cpus);
	}
	for (size_t j = 0; w->lv && j < vm->nseries && !rc; j++) {
		const struct nl_series *se = &vm->series[j];

		if (se->role != NL_ROLE_IOTHREAD || se->index < 0)
			continue;
		snprintf(w->call, sizeof(w->call),
			 "virDomainPinIOThread(dom, %d, cpumap(%s), maplen, VIR_DOMAIN_AFFECT_LIVE)",
			 se->index, w->cpus);
		rc = action_add(h, NL_ACT_PIN_IOTHREAD, se->index, w->call,
				"virsh iothreadpin %s %d %s --live", w->q, se->index, w->cpus);
	}
	/* libvirt cannot pin vhost workers (nor anything of a VM it does not
	 * manage): per-thread affinity */
	for (size_t t = 0; t < vm->nthreads && !rc; t++) {
		const struct nl_thread *th = &vm->threads[t];

		if (th->role == NL_ROLE_VCPU || !(h->roles >> th->role & 1))
			continue;
		if (w->lv && th->role != NL_ROLE_VHOST)
			continue;
		rc = action_add(h, NL_ACT_PIN_THREAD, th->tid, "",
				"taskset -pc %s %d", w->cpus, (int)th->tid);
	}
	return rc;
}

static int migrate_memory(struct nl_hint *h, const struct nl_vm_snap *vm,
			  const struct nl_topology *topo, struct words *w)
{
	int rc;

	if (h->beneficiary[0]) {
		/* room-making: part of this VM's memory on one node. Nearly
		 * all of it: migrate_pages(2); a share: only move_pages(2)
		 * can move part of it, page by page */
		int fi = nl_topology_node_index(topo, h->from_nodes[0]);
		double on = fi >= 0 ? (double)vm->mem_bytes[fi] : 0;

		if ((double)h->bytes >= 0.95 * on)
			return action_add(h, NL_ACT_MIGRATE_PAGES, -1, "",
					  "migratepages %d %s %d", (int)vm->pid, w->from,
					  h->target_node);
		return action_add(h, NL_ACT_MOVE_PAGES, -1, "",
				  "numalens apply --id=%s --policy=%s --yes  # move_pages(2) of %llu bytes from node %s to %d",
				  h->id, nl_policy_name(h->policy), (unsigned long long)h->bytes,
				  w->from, h->target_node);
	}
	if (!w->lv)
		return action_add(h, NL_ACT_MIGRATE_PAGES, -1, "",
				  "migratepages %d %s %d", (int)vm->pid, w->from, h->target_node);
	snprintf(w->call, sizeof(w->call),
		 "virDomainSetNumaParameters(dom, {numa_nodeset=\"%d\"}, 1, VIR_DOMAIN_AFFECT_LIVE)",
		 h->target_node);
	rc = action_add(h, NL_ACT_NUMATUNE, -1, w->call,
			"virsh numatune %s --nodeset %d --live", w->q, h->target_node);
	if (!rc)
		rc = action_add(h, NL_ACT_MIGRATE_PAGES, -1, "",
				"migratepages %d %s %d", (int)vm->pid, w->from, h->target_node);
	if (!rc)
		rc = last_fallback(h);
	return rc;
}

static int evict(struct nl_hint *h, const struct words *w)
{
	return action_add(h, NL_ACT_MIGRATE_VM, -1,
			  w->lv ? "virDomainMigrateToURI3(dom, \"qemu+ssh://DESTINATION/system\", params, nparams, VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST)" : "",
			  w->lv ? "virsh migrate --live --persistent %s qemu+ssh://DESTINATION/system"
				: "# live-migrate %s to another host",
			  w->q);
}

int nl_hints_build_actions(struct nl_hint *h, const struct nl_vm_snap *vm,
			   const struct nl_topology *topo)
{
	struct words w;

	w.lv = vm->backend == NL_BACKEND_LIBVIRT;
	nl_hints_shell_quote(vm->name, w.q, sizeof(w.q));
	nl_cpuset_format(&h->target_cpus, w.cpus, sizeof(w.cpus));
	node_list(h->from_nodes, h->nfrom, w.from, sizeof(w.from));
	switch (h->kind) {
	case NL_HINT_PIN_VCPUS:
		return pin_vcpus(h, vm, &w);
	case NL_HINT_PIN_VMM_THREADS:
		return pin_vmm(h, vm, &w);
	case NL_HINT_MIGRATE_MEMORY:
		return migrate_memory(h, vm, topo, &w);
	case NL_HINT_EVICT:
		return evict(h, &w);
	case NL_HINT_KIND_COUNT:
		break;
	}
	return 0;
}
