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
/* Arrival events (a domain started by an incoming migration, a restore or
 * a snapshot revert) waiting for the sampler thread, and those waiting for
 * their VM to be tracked: at most this many of each; an arrival whose VM
 * does not appear within the TTL is dropped. */
#define NL_LIBVIRT_ARRIVALS_MAX    64
#define NL_LIBVIRT_ARRIVAL_TTL_NS  60000000000ULL  /* 60 s */

/* What a lifecycle event does to the arrival known for its domain. */
enum nl_lv_op {
	NL_LV_OP_NONE,     /* nothing */
	NL_LV_OP_ARRIVE,   /* it starts here by migration, restore, snapshot */
	NL_LV_OP_LAND,     /* an incoming migration finished: it runs here now */
	NL_LV_OP_FORGET,   /* it stopped, or booted normally */
};

/* An arrival, from the lifecycle callback to the VM it is applied to. */
struct nl_lv_arrival {
	char uuid[NL_UUID_LEN];
	enum nl_lv_op op;            /* ARRIVE, LAND or FORGET */
	enum nl_arrival how;
	uint64_t at_ns;              /* when the event came (lv->clock_ns) */
	/* sampler thread only: */
	pid_t pid;                   /* the domain's QEMU at the last sample */
	bool applied;                /* a migration applied to its VM, waiting
					for the event that says it finished */
	bool landed;                 /* that event came */
};

struct nl_libvirt {
	char *uri;
	char *run_dir;           /* NAME.pid files ("" unknown) */
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
	struct nl_lv_arrival queue[NL_LIBVIRT_ARRIVALS_MAX];
	size_t nqueue;
	unsigned long queue_overflows;       /* oldest event dropped: full */

	/* Sampler thread only: arrivals not applied to a tracked VM yet,
	 * and migrations waiting for the event that ends them. */
	struct nl_lv_arrival pending[NL_LIBVIRT_ARRIVALS_MAX];
	size_t npending;

	struct nl_complaint complaint;       /* cannot connect / list */
	struct nl_complaint events_complaint; /* cannot register events */
};

/* The arrival a lifecycle event (event, detail) reports, and what it does
 * to the domain's known arrival (*op; may be NULL): STARTED with MIGRATED,
 * RESTORED or FROM_SNAPSHOT arrive; RESUMED with MIGRATED or POSTCOPY end
 * an incoming migration (NL_ARRIVAL_MIGRATED, NL_LV_OP_LAND); STOPPED and
 * STARTED_BOOTED forget. Everything else: NL_ARRIVAL_NONE, NL_LV_OP_NONE. */
enum nl_arrival nl_libvirt_arrival_of(int event, int detail,
				      enum nl_lv_op *op);

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
