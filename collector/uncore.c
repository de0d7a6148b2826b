/* The uncore source: reads the counters uncore_setup.c opened, every
 * cycle, and publishes the per-socket sums. See uncore.h. */
#include "uncore.h"
#include "uncore_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

const char *nl_uncore_dir_name(enum nl_uncore_dir d)
{
	switch (d) {
	case NL_UNCORE_READ:  return "read";
	case NL_UNCORE_WRITE: return "write";
	case NL_UNCORE_ALL:   return "all";
	default:              return "unknown";
	}
}

static int sys_open(const struct perf_event_attr *attr, int cpu, void *arg)
{
	struct perf_event_attr a = *attr;
	int fd;

	(void)arg;
	fd = (int)syscall(__NR_perf_event_open, &a, -1, cpu, -1,
			  PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int sys_read(int fd, uint64_t v[3], void *arg)
{
	ssize_t n;

	(void)arg;
	do {
		n = read(fd, v, 3 * sizeof(uint64_t));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 3 * sizeof(uint64_t) ? 0 : -EIO;
}

static void sys_close(int fd, void *arg)
{
	(void)arg;
	close(fd);
}

struct nl_uncore_priv *nl_uncore_priv_new(const struct nl_uncore_ops *ops)
{
	struct nl_uncore_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (ops)
		p->ops = *ops;
	else
		p->ops = (struct nl_uncore_ops){ sys_open, sys_read, sys_close,
						 NULL };
	return p;
}

/* ---- reading ---- */

uint64_t nl_uncore_scale(uint64_t raw_delta, uint64_t enabled,
			 uint64_t running)
{
	unsigned __int128 v;

	if (running == 0)
		return 0;
	if (running >= enabled)
		return raw_delta;
	v = (unsigned __int128)raw_delta * enabled + running / 2;
	v /= running;
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

static uint64_t delta(uint64_t now, uint64_t prev)
{
	return now >= prev ? now - prev : 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Rebuild the per-socket sums from the counters' cumulative counts. */
static void sum_sockets(struct nl_uncore_priv *p)
{
	for (int s = 0; s < p->u.nsockets && s < NL_MAX_SOCKETS; s++) {
		struct nl_uncore_socket *so = &p->u.sockets[s];

		for (int d = 0; d < NL_UNCORE_NDIR; d++)
			so->dram_bytes[d] = 0;
		for (int k = 0; k < NL_MAX_UNCORE_LINKS; k++)
			so->link_bytes[k] = 0;
		for (int k = 0; k < NL_MAX_UNCORE_USER; k++)
			so->user[k] = 0;
	}
	for (size_t i = 0; i < p->nctr; i++) {
		const struct nl_uncore_counter *c = &p->ctr[i];
		struct nl_uncore_socket *so = &p->u.sockets[c->slot];
		unsigned __int128 v = (unsigned __int128)c->count * c->num /
				      c->den;
		uint64_t b = v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;

		switch (c->metric) {
		case NL_UNCORE_M_DRAM:
			so->dram_bytes[c->sub] = sat_add(so->dram_bytes[c->sub], b);
			break;
		case NL_UNCORE_M_LINK:
			so->link_bytes[c->sub] = sat_add(so->link_bytes[c->sub], b);
			break;
		case NL_UNCORE_M_USER:
			so->user[c->sub] = sat_add(so->user[c->sub], b);
			break;
		}
	}
}

static void uncore_free(struct nl_state *st, void *priv);

static int uncore_init(struct nl_state *st, void **priv)
{
	struct nl_uncore_priv *p = nl_uncore_priv_new(NULL);
	int rc;

	*priv = NULL;
	if (!p)
		return -ENOMEM;
	rc = nl_uncore_setup(p, st->cfg);
	if (rc < 0) {
		uncore_free(st, p);
		return rc;
	}
	*priv = p;
	return 0;
}

static int uncore_sample(struct nl_state *st, void *priv)
{
	struct nl_uncore_priv *p = priv;
	int failed = 0, last_err = 0;

	(void)st;
	if (!p)
		return -EINVAL;
	for (size_t i = 0; i < p->nctr; i++) {
		struct nl_uncore_counter *c = &p->ctr[i];
		uint64_t v[3], ed, rd;
		int rc;

		if (c->fd < 0)
			continue;
		rc = p->ops.read(c->fd, v, p->ops.arg);
		if (rc < 0) {
			failed++;
			last_err = rc;
			continue;
		}
		ed = delta(v[1], c->prev[1]);
		rd = delta(v[2], c->prev[2]);
		/* not scheduled in the window: nothing added, so a later
		 * window cannot turn the gap into a spike */
		if (rd)
			c->count = sat_add(c->count,
					   nl_uncore_scale(delta(v[0], c->prev[0]),
							   ed, rd));
		c->ratio = rd && ed ? (double)rd / (double)ed : NAN;
		memcpy(c->prev, v, sizeof(c->prev));
	}
	if (failed)
		nl_complain(&p->c_read, NL_LOG_WARN,
			    "uncore: %d of %zu counters cannot be read: %s",
			    failed, p->nctr, strerror(-last_err));
	else
		nl_complain_clear(&p->c_read, "uncore: counters readable "
				  "again");
	sum_sockets(p);
	return failed ? last_err : 0;
}

static int uncore_publish(const struct nl_state *st, void *priv,
			  struct nl_snapshot *snap)
{
	const struct nl_uncore_priv *p = priv;

	(void)st;
	snap->uncore = p->u;
	return 0;
}

static void uncore_free(struct nl_state *st, void *priv)
{
	struct nl_uncore_priv *p = priv;

	(void)st;
	if (!p)
		return;
	for (size_t i = 0; i < p->nctr; i++)
		if (p->ctr[i].fd >= 0 && p->ops.close)
			p->ops.close(p->ctr[i].fd, p->ops.arg);
	free(p->ctr);
	free(p);
}

const struct nl_source nl_source_uncore = {
	.name = "uncore",
	.default_enabled = true,
	.required = false,
	.init = uncore_init,
	.sample = uncore_sample,
	.publish = uncore_publish,
	.free = uncore_free,
};

const struct nl_uncore_stat *nl_uncore_find_stat(const struct nl_uncore *u,
						 const char *event,
						 const char *pmu)
{
	for (int i = 0; i < u->nstats; i++)
		if (strcmp(u->stats[i].event, event) == 0 &&
		    (!pmu || strcmp(u->stats[i].pmu, pmu) == 0))
			return &u->stats[i];
	return NULL;
}

const struct nl_uncore_socket *nl_uncore_find_socket(const struct nl_uncore *u,
						     int id)
{
	for (int i = 0; i < u->nsockets; i++)
		if (u->sockets[i].id == id)
			return &u->sockets[i];
	return NULL;
}
