/* libvirt discovery source. See libvirt.h.
 *
 * Threads: the sampler thread runs init/sample/free and owns the connection.
 * One process-wide thread runs libvirt's default event loop, which keepalive
 * and event delivery need; it calls our lifecycle and close callbacks, which
 * only touch the mutex-protected part of struct nl_libvirt. */
#include "libvirt_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cells.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "paths.h"
#include "sampler.h"

_Static_assert(NL_UUID_LEN >= VIR_UUID_STRING_BUFLEN,
	       "nl_domain.uuid must hold a libvirt UUID string");

/* ---- process-wide setup and event loop ---- */

static pthread_once_t lv_once = PTHREAD_ONCE_INIT;
static int lv_once_err;

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static int loop_refs;
static pthread_t loop_thread;
static atomic_bool loop_quit;
static atomic_int loop_alive;

/* libvirt prints every error to stderr by default; we report the ones that
 * matter ourselves, rate-limited, from virGetLastErrorMessage(). */
static void lv_silent_error(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static void lv_global_init(void)
{
	if (virInitialize() < 0) {
		lv_once_err = -EIO;
		return;
	}
	virSetErrorFunc(NULL, lv_silent_error);
	/* Must precede the first virConnectOpen so connections get event
	 * support (keepalive, domain events). */
	if (virEventRegisterDefaultImpl() < 0)
		lv_once_err = -EIO;
}

static void *loop_main(void *arg)
{
	struct nl_complaint c = { 0 };

	(void)arg;
	atomic_fetch_add(&loop_alive, 1);
	while (!atomic_load(&loop_quit)) {
		if (virEventRunDefaultImpl() < 0) {
			struct timespec pause = { 0, 100000000 };

			nl_complain(&c, NL_LOG_WARN, "libvirt: event loop: %s",
				    virGetLastErrorMessage());
			nanosleep(&pause, NULL);
		}
	}
	atomic_fetch_sub(&loop_alive, 1);
	return NULL;
}

/* Fires on the next loop iteration, so a loop blocked in poll() returns and
 * sees loop_quit. */
static void loop_nudge(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

int nl_libvirt_loop_get(void)
{
	sigset_t all, old;
	int err = 0;

	pthread_once(&lv_once, lv_global_init);
	if (lv_once_err)
		return lv_once_err;
	pthread_mutex_lock(&loop_lock);
	if (loop_refs == 0) {
		/* Signals belong to the main thread: the loop thread inherits
		 * a fully blocked mask. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		atomic_store(&loop_quit, false);
		err = -pthread_create(&loop_thread, NULL, loop_main, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (err)
			goto cleanup;
	}
	loop_refs++;
cleanup:
	pthread_mutex_unlock(&loop_lock);
	return err;
}

void nl_libvirt_loop_put(void)
{
	int timer;

	pthread_mutex_lock(&loop_lock);
	if (loop_refs == 0 || --loop_refs > 0)
		goto cleanup;
	atomic_store(&loop_quit, true);
	timer = virEventAddTimeout(0, loop_nudge, NULL, NULL);
	if (timer < 0) {
		/* Only on OOM. Joining could hang in poll(); leave the thread
		 * to exit whenever the loop next wakes. */
		nl_warn("libvirt: cannot stop the event loop thread: %s",
			virGetLastErrorMessage());
		pthread_detach(loop_thread);
		goto cleanup;
	}
	pthread_join(loop_thread, NULL);
	virEventRemoveTimeout(timer);
cleanup:
	pthread_mutex_unlock(&loop_lock);
}

int nl_libvirt_loop_running(void)
{
	return atomic_load(&loop_alive);
}

/* ---- callbacks (event loop thread) ---- */

static void lv_wake(struct nl_libvirt *lv)
{
	void (*wake)(struct nl_sampler *s);
	struct nl_sampler *sampler;

	pthread_mutex_lock(&lv->lock);
	lv->events++;
	wake = lv->wake;
	sampler = lv->sampler;
	pthread_mutex_unlock(&lv->lock);
	if (wake && sampler)
		wake(sampler);
}

/* Each row: an event (and detail, -1 any) and what it says about an
 * arrival. libvirt emits STARTED_MIGRATED when the incoming migration is
 * prepared and RESUMED_MIGRATED (RESUMED_POSTCOPY once post-copy begins) on
 * the destination when the VM runs there; a source whose outgoing migration
 * failed also resumes with RESUMED_MIGRATED, which is why a LAND counts
 * only after a STARTED_MIGRATED of the same domain. */
static const struct lv_event_row {
	int event, detail;
	enum nl_lv_op op;
	enum nl_arrival how;
} lv_event_rows[] = {
	{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED,
	  NL_LV_OP_ARRIVE, NL_ARRIVAL_MIGRATED },
	{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED,
	  NL_LV_OP_ARRIVE, NL_ARRIVAL_RESTORED },
	{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT,
	  NL_LV_OP_ARRIVE, NL_ARRIVAL_SNAPSHOT },
	{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED,
	  NL_LV_OP_FORGET, NL_ARRIVAL_NONE },
	{ VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
	  NL_LV_OP_LAND, NL_ARRIVAL_MIGRATED },
	{ VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY,
	  NL_LV_OP_LAND, NL_ARRIVAL_MIGRATED },
	{ VIR_DOMAIN_EVENT_STOPPED, -1, NL_LV_OP_FORGET, NL_ARRIVAL_NONE },
};

enum nl_arrival nl_libvirt_arrival_of(int event, int detail,
				      enum nl_lv_op *op)
{
	size_t n = sizeof(lv_event_rows) / sizeof(lv_event_rows[0]);

	for (size_t i = 0; i < n; i++) {
		const struct lv_event_row *r = &lv_event_rows[i];

		if (r->event == event && (r->detail < 0 || r->detail == detail)) {
			if (op)
				*op = r->op;
			return r->how;
		}
	}
	if (op)
		*op = NL_LV_OP_NONE;
	return NL_ARRIVAL_NONE;
}

/* Hand an arrival event to the sampler thread. A full queue (the sampler
 * has not run for 64 events) drops its oldest entry. */
static void lv_queue_event(struct nl_libvirt *lv, virDomainPtr dom,
			   enum nl_lv_op op, enum nl_arrival how)
{
	struct nl_lv_arrival ev = { .op = op, .how = how };

	if (!dom || virDomainGetUUIDString(dom, ev.uuid) < 0)
		return;
	ev.at_ns = lv->clock_ns();
	pthread_mutex_lock(&lv->lock);
	if (lv->nqueue == NL_LIBVIRT_ARRIVALS_MAX) {
		memmove(lv->queue, lv->queue + 1,
			(lv->nqueue - 1) * sizeof(lv->queue[0]));
		lv->nqueue--;
		lv->queue_overflows++;
	}
	lv->queue[lv->nqueue++] = ev;
	pthread_mutex_unlock(&lv->lock);
}

int nl_libvirt_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event,
			    int detail, void *opaque)
{
	const char *name = dom ? virDomainGetName(dom) : NULL;
	enum nl_lv_op op;
	enum nl_arrival how = nl_libvirt_arrival_of(event, detail, &op);

	(void)conn;
	nl_debug("libvirt: domain %s lifecycle event %d detail %d",
		 name ? name : "?", event, detail);
	if (op != NL_LV_OP_NONE)
		lv_queue_event(opaque, dom, op, how);
	lv_wake(opaque);
	return 0;
}

void nl_libvirt_close_cb(virConnectPtr conn, int reason, void *opaque)
{
	struct nl_libvirt *lv = opaque;

	(void)conn;
	nl_debug("libvirt: connection closed (reason %d)", reason);
	atomic_store(&lv->dropped, true);
	lv_wake(lv);
}

/* ---- connection (sampler thread) ---- */

static void lv_disconnect(struct nl_libvirt *lv)
{
	if (!lv->conn)
		return;
	/* Unregister before closing: both callbacks hold references on the
	 * connection. On a dead connection these fail quickly; the local
	 * registrations are dropped either way. */
	if (lv->lifecycle_id >= 0)
		virConnectDomainEventDeregisterAny(lv->conn, lv->lifecycle_id);
	lv->lifecycle_id = -1;
	if (lv->close_cb_registered)
		virConnectUnregisterCloseCallback(lv->conn, nl_libvirt_close_cb);
	lv->close_cb_registered = false;
	if (virConnectClose(lv->conn) > 0)
		nl_debug("libvirt: connection to %s still referenced after close",
			 lv->uri);
	lv->conn = NULL;
	atomic_store(&lv->dropped, false);
}

static void lv_schedule_retry(struct nl_libvirt *lv, uint64_t now)
{
	lv->next_attempt_ns = now + lv->backoff_ns;
	lv->backoff_ns *= 2;
	if (lv->backoff_ns > NL_LIBVIRT_BACKOFF_MAX_NS)
		lv->backoff_ns = NL_LIBVIRT_BACKOFF_MAX_NS;
}

/* Read-only is enough to list domains and receive events, and works with
 * the read-only socket where the read-write one is restricted. */
static int lv_connect(struct nl_libvirt *lv)
{
	lv->connect_attempts++;
	lv->conn = virConnectOpenReadOnly(lv->uri);
	if (!lv->conn)
		return -ECONNREFUSED;
	atomic_store(&lv->dropped, false);

	/* Bounds how long a call to a hung daemon blocks a cycle. Local
	 * drivers (test://) do not support it; that is fine. */
	if (virConnectSetKeepAlive(lv->conn, NL_LIBVIRT_KEEPALIVE_INTERVAL,
				   NL_LIBVIRT_KEEPALIVE_COUNT) < 0)
		nl_debug("libvirt: no keepalive on %s: %s", lv->uri,
			 virGetLastErrorMessage());
	if (virConnectRegisterCloseCallback(lv->conn, nl_libvirt_close_cb,
					    lv, NULL) == 0)
		lv->close_cb_registered = true;
	else
		nl_debug("libvirt: no close callback on %s: %s", lv->uri,
			 virGetLastErrorMessage());

	lv->lifecycle_id = virConnectDomainEventRegisterAny(
		lv->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(nl_libvirt_lifecycle_cb), lv, NULL);
	if (lv->lifecycle_id < 0)
		nl_complain(&lv->events_complaint, NL_LOG_WARN,
			    "libvirt: no lifecycle events from %s (%s); VMs are picked up at the next interval",
			    lv->uri, virGetLastErrorMessage());
	else
		nl_complain_clear(&lv->events_complaint,
				  "libvirt: lifecycle events from %s work again",
				  lv->uri);
	lv->connects++;
	if (!lv->complaint.active)
		nl_info("libvirt: connected to %s", lv->uri);
	return 0;
}

static int lv_fill(struct nl_state *st, virDomainPtr *doms, int n)
{
	size_t want = (size_t)n;

	if (want > st->cap_domains) {
		size_t cap = st->cap_domains ? st->cap_domains : 16;
		struct nl_domain *p;

		while (cap < want)
			cap *= 2;
		p = realloc(st->domains, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		st->domains = p;
		st->cap_domains = cap;
	}
	for (size_t i = 0; i < want; i++) {
		/* Name and UUID are cached in the handle: no RPC, and no
		 * failure when the domain stopped since the list call. */
		const char *name = virDomainGetName(doms[i]);
		struct nl_domain *d = &st->domains[st->ndomains];

		if (!name)
			continue;
		memset(d, 0, sizeof(*d));
		snprintf(d->name, sizeof(d->name), "%s", name);
		if (virDomainGetUUIDString(doms[i], d->uuid) < 0)
			d->uuid[0] = '\0';
		st->ndomains++;
	}
	return 0;
}

/* The cells of the tracked libvirt VMs from their domain XML, once per VM
 * (a running domain's cells do not change): they replace what the cells
 * source read from the QEMU command line. A domain whose XML cannot be
 * had keeps those. */
static void lv_read_cells(struct nl_state *st, virDomainPtr *doms, int n)
{
	for (size_t i = 0; i < st->nvms; i++) {
		struct nl_vm *vm = st->vms[i];
		struct nl_vm_cells c;
		char uuid[VIR_UUID_STRING_BUFLEN];
		char *xml = NULL;

		if (vm->backend != NL_BACKEND_LIBVIRT || vm->cells_xml_tried || !vm->uuid[0])
			continue;
		for (int d = 0; d < n && !xml; d++)
			if (virDomainGetUUIDString(doms[d], uuid) == 0 && strcmp(uuid, vm->uuid) == 0)
				xml = virDomainGetXMLDesc(doms[d], 0);
		vm->cells_xml_tried = true;
		if (!xml) {
			nl_debug("libvirt: no domain XML for %s: %s", vm->name, virGetLastErrorMessage());
			continue;
		}
		nl_cells_parse_xml(xml, strlen(xml), &c);
		free(xml);
		vm->cells = c;
		vm->cells_from = NL_CELLS_LIBVIRT;
		vm->cell_mem_valid = false;
		vm->split_key = 0;      /* numa_maps reads the cells' memory now */
		if (c.invalid && !vm->cells_warned) {
			vm->cells_warned = true;
			nl_warn("VM %s: its NUMA cells in the domain XML do not add up (%s): scored as one VM",
				vm->name, c.why);
		}
	}
}

static enum nl_log_level lv_absent_level(const struct nl_state *st)
{
	/* With --discovery auto, no libvirtd just means the /proc scan is
	 * used; only an explicit --discovery libvirt makes it a warning. */
	if (st->cfg && st->cfg->discovery == NL_DISCOVERY_LIBVIRT)
		return NL_LOG_WARN;
	return NL_LOG_INFO;
}

/* ---- arrivals (sampler thread) ---- */

static struct nl_lv_arrival *lv_pending_find(struct nl_libvirt *lv,
					     const char *uuid)
{
	for (size_t i = 0; i < lv->npending; i++)
		if (strcasecmp(lv->pending[i].uuid, uuid) == 0)
			return &lv->pending[i];
	return NULL;
}

static void lv_pending_remove(struct nl_libvirt *lv, struct nl_lv_arrival *p)
{
	size_t i = (size_t)(p - lv->pending);

	memmove(p, p + 1, (lv->npending - i - 1) * sizeof(*p));
	lv->npending--;
}

/* Fold one queued event into what is known of its domain. */
static void lv_merge_event(struct nl_libvirt *lv, const struct nl_lv_arrival *ev)
{
	struct nl_lv_arrival *p = lv_pending_find(lv, ev->uuid);

	switch (ev->op) {
	case NL_LV_OP_ARRIVE:
		if (!p) {
			if (lv->npending == NL_LIBVIRT_ARRIVALS_MAX)
				lv_pending_remove(lv, &lv->pending[0]);
			p = &lv->pending[lv->npending++];
		}
		*p = *ev;
		p->pid = 0;
		p->applied = p->landed = false;
		break;
	case NL_LV_OP_LAND:
		/* Only the end of a migration that started here: a source
		 * whose migration failed resumes with the same event. */
		if (p && p->how == NL_ARRIVAL_MIGRATED) {
			p->at_ns = ev->at_ns;
			p->applied = false;
			p->landed = true;
		}
		break;
	case NL_LV_OP_FORGET:
		if (p)
			lv_pending_remove(lv, p);
		break;
	case NL_LV_OP_NONE:
		break;
	}
}

/* Take what the event loop thread queued since the last cycle. */
static void lv_take_events(struct nl_libvirt *lv)
{
	pthread_mutex_lock(&lv->lock);
	for (size_t i = 0; i < lv->nqueue; i++)
		lv_merge_event(lv, &lv->queue[i]);
	lv->nqueue = 0;
	pthread_mutex_unlock(&lv->lock);
}

static const struct nl_domain *lv_domain_by_uuid(const struct nl_state *st,
						 const char *uuid)
{
	for (size_t i = 0; i < st->ndomains; i++)
		if (strcasecmp(st->domains[i].uuid, uuid) == 0)
			return &st->domains[i];
	return NULL;
}

/* The tracked VM that is this very QEMU process (same start time: not an
 * older VM whose PID was reused) of domain uuid, or NULL. */
static struct nl_vm *lv_tracked_vm(struct nl_state *st, pid_t pid,
				   const char *uuid)
{
	const struct nl_qproc *q = NULL;

	for (size_t i = 0; i < st->nqprocs && !q; i++)
		if (st->qprocs[i].pid == pid)
			q = &st->qprocs[i];
	for (size_t i = 0; q && i < st->nvms; i++) {
		struct nl_vm *vm = st->vms[i];

		if (vm->pid == pid && vm->starttime == q->starttime &&
		    strcasecmp(vm->uuid, uuid) == 0)
			return vm;
	}
	return NULL;
}

/* Give each pending arrival to its VM if it is tracked already (this
 * source runs before vms: a VM new this cycle gets it in the snapshot from
 * libvirt_publish, and here in the next cycle). A migration stays pending,
 * applied, until the event that says it finished, while its QEMU lives. */
static void lv_apply_arrivals(struct nl_libvirt *lv, struct nl_state *st,
			      uint64_t now)
{
	size_t w = 0;

	for (size_t i = 0; i < lv->npending; i++) {
		struct nl_lv_arrival p = lv->pending[i];
		const struct nl_domain *d = lv_domain_by_uuid(st, p.uuid);
		pid_t pid = d ? d->pid : 0;
		struct nl_vm *vm;

		if (p.applied) {
			if (pid > 0 && pid == p.pid)
				lv->pending[w++] = p;
			continue;
		}
		p.pid = pid;
		vm = pid > 0 ? lv_tracked_vm(st, pid, p.uuid) : NULL;
		if (!vm) {
			if (now <= p.at_ns + NL_LIBVIRT_ARRIVAL_TTL_NS)
				lv->pending[w++] = p;
			else
				nl_debug("libvirt: domain %s arrived (%s) but was never tracked; forgotten",
					 p.uuid, nl_arrival_name(p.how));
			continue;
		}
		vm->arrival = p.how;
		vm->arrived_ns = p.at_ns;
		nl_info("libvirt: VM %s %s", vm->name, p.landed ?
			"runs here: its incoming migration finished" :
			p.how == NL_ARRIVAL_MIGRATED ? "arrives by live migration" :
			p.how == NL_ARRIVAL_RESTORED ? "was restored from a saved state" :
			"was started from a snapshot");
		if (p.how == NL_ARRIVAL_MIGRATED && !p.landed) {
			p.applied = true;
			lv->pending[w++] = p;
		}
	}
	lv->npending = w;
}

/* ---- the source ---- */

/* The trusted QEMU process pid from the /proc scan, or NULL. */
static const struct nl_qproc *lv_qproc(const struct nl_state *st, pid_t pid)
{
	for (size_t j = 0; pid > 0 && j < st->nqprocs; j++)
		if (st->qprocs[j].pid == pid)
			return &st->qprocs[j];
	return NULL;
}

int nl_libvirt_read_pidfile(const char *run_dir, const char *name, pid_t *pid)
{
	char path[NL_PATH_MAX], buf[32], *end;
	long v;
	ssize_t n;

	if (!run_dir || !run_dir[0] || strchr(name, '/') ||
	    snprintf(path, sizeof(path), "%s/%s.pid", run_dir, name) >= (int)sizeof(path))
		return -ENOENT;
	n = nl_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	v = strtol(buf, &end, 10);
	if (end == buf || v <= 0 || (*end && *end != '\n'))
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}

bool nl_libvirt_in_machine_scope(pid_t pid)
{
	char path[NL_PATH_MAX], buf[4096];

	if (nl_path_proc(path, sizeof(path), "%d/cgroup", (int)pid) < 0 ||
	    nl_read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	/* systemd: machine.slice/machine-qemu\x2dID\x2dNAME.scope;
	 * cgroupfs: /machine/qemu-ID-NAME.libvirt-qemu. Only root makes them. */
	return strstr(buf, "/machine.slice/machine-qemu\\x2d") != NULL ||
	       (strstr(buf, "/machine/qemu-") != NULL &&
		strstr(buf, ".libvirt-qemu") != NULL);
}

/* Match by the process's -uuid, then by -name: for a libvirt we cannot
 * read the pid file of, the process must be in a libvirt machine cgroup
 * too, which no unprivileged user can put a process in. */
static pid_t lv_match_cmdline(const struct nl_state *st, const struct nl_domain *d)
{
	for (size_t j = 0; d->uuid[0] && j < st->nqprocs; j++) {
		const struct nl_qproc *q = &st->qprocs[j];

		if (q->pid > 0 && strcasecmp(q->uuid, d->uuid) == 0 &&
		    nl_libvirt_in_machine_scope(q->pid))
			return q->pid;
	}
	for (size_t j = 0; d->name[0] && j < st->nqprocs; j++) {
		const struct nl_qproc *q = &st->qprocs[j];

		/* A process carrying a different UUID is another VM of the
		 * same name (say, a session-mode guest). */
		if (d->uuid[0] && q->uuid[0] && strcasecmp(q->uuid, d->uuid) != 0)
			continue;
		if (q->pid > 0 && strcmp(q->name, d->name) == 0 &&
		    nl_libvirt_in_machine_scope(q->pid))
			return q->pid;
	}
	return 0;
}

void nl_libvirt_resolve_pids(struct nl_state *st, const char *run_dir)
{
	for (size_t i = 0; i < st->ndomains; i++) {
		struct nl_domain *d = &st->domains[i];
		pid_t pid = 0;

		/* libvirt's own record of the domain's QEMU wins */
		if (nl_libvirt_read_pidfile(run_dir, d->name, &pid) == 0)
			d->pid = lv_qproc(st, pid) ? pid : 0;
		else
			d->pid = lv_match_cmdline(st, d);
	}
}

/* Where libvirt's QEMU driver of `uri` keeps NAME.pid: the system
 * instance's under /run; a session's under $XDG_RUNTIME_DIR. */
static char *lv_run_dir(const struct nl_config *cfg, const char *uri)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char buf[NL_PATH_MAX];

	if (cfg && cfg->libvirt_run_dir)
		return strdup(cfg->libvirt_run_dir);
	if (strcmp(uri, "qemu:///system") == 0)
		return strdup("/run/libvirt/qemu");
	if (strcmp(uri, "qemu:///session") == 0 && xdg &&
	    snprintf(buf, sizeof(buf), "%s/libvirt/qemu/run", xdg) < (int)sizeof(buf))
		return strdup(buf);
	return strdup("");
}

static void libvirt_free(struct nl_state *st, void *priv);

/* --discovery=proc never asks libvirt. */
static bool libvirt_wanted(const struct nl_config *cfg)
{
	return cfg->discovery != NL_DISCOVERY_PROC;
}

static int libvirt_init(struct nl_state *st, void **priv)
{
	struct nl_libvirt *lv;
	const char *uri = NL_LIBVIRT_DEFAULT_URI;
	int err;

	*priv = NULL;
	lv = calloc(1, sizeof(*lv));
	if (!lv)
		return -ENOMEM;
	pthread_mutex_init(&lv->lock, NULL);
	lv->lifecycle_id = -1;
	lv->backoff_ns = NL_LIBVIRT_BACKOFF_MIN_NS;
	lv->last_err = -ECONNREFUSED;
	lv->clock_ns = nl_now_ns;
	lv->wake = nl_sampler_wake;
	lv->sampler = st->sampler;
	atomic_init(&lv->dropped, false);

	if (st->cfg && st->cfg->libvirt_uri && st->cfg->libvirt_uri[0])
		uri = st->cfg->libvirt_uri;
	lv->uri = strdup(uri);
	lv->run_dir = lv_run_dir(st->cfg, uri);
	if (!lv->uri || !lv->run_dir) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = nl_libvirt_loop_get();
	if (err) {
		nl_err("libvirt: cannot start the event loop: %s",
		       virGetLastErrorMessage());
		goto cleanup;
	}
	lv->loop_ref = true;

	st->ndomains = 0;
	st->domains_valid = false;
	st->libvirt_up = 0;
	*priv = lv;
	lv = NULL;
cleanup:
	libvirt_free(NULL, lv);
	return err;
}

static int libvirt_sample(struct nl_state *st, void *priv)
{
	struct nl_libvirt *lv = priv;
	virDomainPtr *doms = NULL;
	uint64_t now = lv->clock_ns();
	int n = 0, err = 0;

	pthread_mutex_lock(&lv->lock);
	lv->sampler = st->sampler;
	pthread_mutex_unlock(&lv->lock);
	lv_take_events(lv);
	st->ndomains = 0;
	st->domains_valid = false;
	st->libvirt_up = 0;

	/* libvirtd restarted or died: drop the handle and reconnect at once;
	 * the backoff only spaces out failed attempts. */
	if (lv->conn && (atomic_load(&lv->dropped) ||
			 virConnectIsAlive(lv->conn) != 1)) {
		nl_warn("libvirt: connection to %s lost; reconnecting", lv->uri);
		lv_disconnect(lv);
	}
	if (!lv->conn) {
		if (now < lv->next_attempt_ns) {
			err = lv->last_err;
			goto cleanup;
		}
		err = lv_connect(lv);
		if (err) {
			nl_complain(&lv->complaint, lv_absent_level(st),
				    "libvirt: cannot connect to %s: %s (retrying with backoff)",
				    lv->uri, virGetLastErrorMessage());
			lv->last_err = err;
			lv_schedule_retry(lv, now);
			goto cleanup;
		}
	}

	n = virConnectListAllDomains(lv->conn, &doms,
				     VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		nl_complain(&lv->complaint, NL_LOG_WARN,
			    "libvirt: cannot list domains on %s: %s",
			    lv->uri, virGetLastErrorMessage());
		lv_disconnect(lv);
		err = lv->last_err = -ECONNRESET;
		lv_schedule_retry(lv, now);
		n = 0;
		goto cleanup;
	}
	st->libvirt_up = 1;
	lv->backoff_ns = NL_LIBVIRT_BACKOFF_MIN_NS;
	lv->next_attempt_ns = 0;
	lv->last_err = 0;
	if (lv->complaint.active)
		nl_complain_clear(&lv->complaint, "libvirt: %s works again",
				  lv->uri);

	err = lv_fill(st, doms, n);
	if (err)
		goto cleanup;
	nl_libvirt_resolve_pids(st, lv->run_dir);
	st->domains_valid = true;
	lv_apply_arrivals(lv, st, now);
	lv_read_cells(st, doms, n);
cleanup:
	for (int i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
	return err;
}

/* Arrivals of the VMs that the vms source began to track in this cycle,
 * after this source's sample: into the snapshot now, into the VM at the
 * next sample, so the hint engine sees them in the cycle the event woke. */
static int libvirt_publish(const struct nl_state *st, void *priv,
			   struct nl_snapshot *snap)
{
	const struct nl_libvirt *lv = priv;

	for (size_t i = 0; i < lv->npending; i++) {
		const struct nl_lv_arrival *p = &lv->pending[i];

		for (size_t j = 0; !p->applied && p->pid > 0 && j < snap->nvms; j++) {
			struct nl_vm_snap *v = &snap->vms[j];

			if (v->pid != p->pid || strcasecmp(v->uuid, p->uuid) != 0)
				continue;
			v->arrival = p->how;
			v->arrival_age_seconds = st->now_ns > p->at_ns ?
				(double)(st->now_ns - p->at_ns) / 1e9 : 0;
		}
	}
	return 0;
}

/* Callbacks may still run on the event loop thread until it is joined, which
 * the last reference does; the daemon holds only one. */
static void libvirt_free(struct nl_state *st, void *priv)
{
	struct nl_libvirt *lv = priv;

	if (st) {
		free(st->domains);
		st->domains = NULL;
		st->ndomains = st->cap_domains = 0;
		st->domains_valid = false;
	}
	if (!lv)
		return;
	lv_disconnect(lv);
	if (lv->loop_ref)
		nl_libvirt_loop_put();
	pthread_mutex_destroy(&lv->lock);
	free(lv->uri);
	free(lv->run_dir);
	free(lv);
}

const struct nl_source nl_source_libvirt = {
	.name = "libvirt",
	.default_enabled = true,
	.required = false,
	.wanted = libvirt_wanted,
	.init = libvirt_init,
	.sample = libvirt_sample,
	.publish = libvirt_publish,
	.free = libvirt_free,
};
