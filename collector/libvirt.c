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

#include "config.h"
#include "log.h"
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

int nl_libvirt_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event,
			    int detail, void *opaque)
{
	const char *name = dom ? virDomainGetName(dom) : NULL;

	(void)conn;
	nl_debug("libvirt: domain %s lifecycle event %d detail %d",
		 name ? name : "?", event, detail);
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

static uint64_t lv_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

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

static enum nl_log_level lv_absent_level(const struct nl_state *st)
{
	/* With --discovery auto, no libvirtd just means the /proc scan is
	 * used; only an explicit --discovery libvirt makes it a warning. */
	if (st->cfg && st->cfg->discovery == NL_DISCOVERY_LIBVIRT)
		return NL_LOG_WARN;
	return NL_LOG_INFO;
}

/* ---- the source ---- */

void nl_libvirt_resolve_pids(struct nl_state *st)
{
	for (size_t i = 0; i < st->ndomains; i++) {
		struct nl_domain *d = &st->domains[i];

		d->pid = 0;
		for (size_t j = 0; d->uuid[0] && j < st->nqprocs; j++) {
			const struct nl_qproc *q = &st->qprocs[j];

			if (q->pid > 0 && strcasecmp(q->uuid, d->uuid) == 0) {
				d->pid = q->pid;
				break;
			}
		}
		for (size_t j = 0; !d->pid && d->name[0] && j < st->nqprocs; j++) {
			const struct nl_qproc *q = &st->qprocs[j];

			/* A process carrying a different UUID is another VM
			 * of the same name (say, a session-mode guest). */
			if (d->uuid[0] && q->uuid[0] &&
			    strcasecmp(q->uuid, d->uuid) != 0)
				continue;
			if (q->pid > 0 && strcmp(q->name, d->name) == 0)
				d->pid = q->pid;
		}
	}
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
	lv->clock_ns = lv_mono_ns;
	lv->wake = nl_sampler_wake;
	lv->sampler = st->sampler;
	atomic_init(&lv->dropped, false);

	if (st->cfg && st->cfg->libvirt_uri && st->cfg->libvirt_uri[0])
		uri = st->cfg->libvirt_uri;
	lv->uri = strdup(uri);
	if (!lv->uri) {
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
	nl_libvirt_resolve_pids(st);
	st->domains_valid = true;
cleanup:
	for (int i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
	return err;
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
	free(lv);
}

const struct nl_source nl_source_libvirt = {
	.name = "libvirt",
	.default_enabled = true,
	.required = false,
	.wanted = libvirt_wanted,
	.init = libvirt_init,
	.sample = libvirt_sample,
	.free = libvirt_free,
};
