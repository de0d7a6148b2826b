/* Internals of the libvirt source, for tests only. */
#ifndef NL_LIBVIRT_PRIV_H
#define NL_LIBVIRT_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt.h"
#include "log.h"

#define NL_LIBVIRT_DEFAULT_URI     "qemu:///system"
#define NL_LIBVIRT_BACKOFF_MIN_NS  1000000000ULL   /* 1 s */
#define NL_LIBVIRT_BACKOFF_MAX_NS  60000000000ULL  /* 60 s */
/* A peer that stops answering is dropped after about
 * interval * (count + 1) seconds, which bounds how long a libvirt call in
 * a sample cycle can hang. */
#define NL_LIBVIRT_KEEPALIVE_INTERVAL 2
#define NL_LIBVIRT_KEEPALIVE_COUNT    3

struct nl_libvirt {
	char *uri;
	virConnectPtr conn;          /* NULL while disconnected */
	int lifecycle_id;            /* event callback id, -1 none */
	bool close_cb_registered;
	bool loop_ref;               /* holds a reference on the event loop */

	/* reconnect backoff */
	uint64_t next_attempt_ns;    /* do not connect before this */
	uint64_t backoff_ns;         /* next delay after a failure */
	int last_err;                /* -errno while disconnected */
	unsigned long connect_attempts;
	unsigned long connects;      /* successful opens */

	/* Injectable for tests; CLOCK_MONOTONIC by default. */
	uint64_t (*clock_ns)(void);

	/* Shared with the event loop thread, under `lock`. */
	pthread_mutex_t lock;
	void (*wake)(struct nl_sampler *s);  /* default nl_sampler_wake */
	struct nl_sampler *sampler;          /* copy of st->sampler */
	unsigned long events;                /* lifecycle events seen */
	atomic_bool dropped;                 /* close callback fired */

	struct nl_complaint complaint;       /* cannot connect / list */
	struct nl_complaint events_complaint; /* cannot register events */
};

/* libvirt callbacks; opaque is the struct nl_libvirt. */
int nl_libvirt_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event,
			    int detail, void *opaque);
void nl_libvirt_close_cb(virConnectPtr conn, int reason, void *opaque);

/* Process-wide event loop thread, reference counted: the first get starts
 * it, the last put stops and joins it. Return 0 or -errno. */
int nl_libvirt_loop_get(void);
void nl_libvirt_loop_put(void);
/* Number of event loop threads currently running (0 or 1). */
int nl_libvirt_loop_running(void);

#endif
