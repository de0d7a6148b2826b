/* `numalens apply --follow`: a separate process that watches the hints of
 * one policy and applies each new one once, through the same nl_apply_hint()
 * (and so the same checks) as `numalens apply --yes`. See apply_priv.h and
 * docs/api.md ("Applying without a human").
 *
 * At most once: a hint's id goes into the set (and the --state file, synced
 * to disk) before any of its actions runs, so neither a server that
 * restarts and publishes the same hint again (ids are stable: VM, kind and
 * target), nor a crash halfway through, nor a restarted follower with the
 * same --state applies it a second time. A hint whose action failed is not
 * retried. */
#include "apply_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "paths.h"
#include "pbjson.h"

/* ---- the set of applied ids ---- */

#define ID_MAX 64

struct nl_follow_ids {
	char (*ids)[ID_MAX + 1];   /* sorted */
	size_t n, cap;
	bool dry_run;              /* ids are tagged "shown", not "applied" */
	FILE *state;               /* the --state file, appending; or NULL */
};

struct nl_follow_ids *nl_follow_ids_new(bool dry_run)
{
	struct nl_follow_ids *s = calloc(1, sizeof(*s));

	if (s)
		s->dry_run = dry_run;
	return s;
}

void nl_follow_ids_free(struct nl_follow_ids *s)
{
	if (!s)
		return;
	if (s->state)
		fclose(s->state);
	free(s->ids);
	free(s);
}

size_t nl_follow_ids_count(const struct nl_follow_ids *s)
{
	return s->n;
}

/* Where id is, or would go, in the sorted array; *found when it is there. */
static size_t ids_find(const struct nl_follow_ids *s, const char *id, bool *found)
{
	size_t lo = 0, hi = s->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->ids[mid], id);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool nl_follow_ids_has(const struct nl_follow_ids *s, const char *id)
{
	bool found;

	ids_find(s, id, &found);
	return found;
}

static bool id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] <= ' ' || id[i] == 0x7f)
			return false;
	return true;
}

/* Into memory only. Return 0, -EEXIST, -EINVAL or -ENOMEM. */
static int ids_insert(struct nl_follow_ids *s, const char *id)
{
	bool found;
	size_t at;

	if (!id_ok(id))
		return -EINVAL;
	at = ids_find(s, id, &found);
	if (found)
		return -EEXIST;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *p = realloc(s->ids, cap * sizeof(*s->ids));

		if (!p)
			return -ENOMEM;
		s->ids = p;
		s->cap = cap;
	}
	memmove(&s->ids[at + 1], &s->ids[at], (s->n - at) * sizeof(*s->ids));
	snprintf(s->ids[at], sizeof(s->ids[at]), "%s", id);
	s->n++;
	return 0;
}

int nl_follow_ids_add(struct nl_follow_ids *s, const char *id, const char *note)
{
	int rc = ids_insert(s, id);

	if (rc || !s->state)
		return rc;
	if (fprintf(s->state, "%s %s %.0f %s\n", id, s->dry_run ? "shown" : "applied",
		    (double)time(NULL), note ? note : "") < 0 ||
	    fflush(s->state) || fsync(fileno(s->state)))
		return errno ? -errno : -EIO;
	return 0;
}

/* One line of a state file: "ID applied|shown [TIME [NOTE]]". The ids a
 * dry run only showed count for dry runs alone: a --yes follower with the
 * same file still applies them. Return 1 (an id taken), 0 or -errno. */
static int ids_line(struct nl_follow_ids *s, const char *line)
{
	char id[ID_MAX + 2], tag[16];
	int rc;

	if (line[0] == '#' || sscanf(line, "%65s %15s", id, tag) != 2)
		return 0;
	if (strcmp(tag, "applied") && !(s->dry_run && !strcmp(tag, "shown")))
		return 0;
	rc = ids_insert(s, id);
	return rc == 0 ? 1 : rc == -ENOMEM ? rc : 0;
}

int nl_follow_ids_open(struct nl_follow_ids *s, const char *path)
{
	char line[512];
	FILE *f;
	int fd, n = 0, rc;

	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "a+");
	if (!f) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		rc = ids_line(s, line);
		if (rc < 0) {
			fclose(f);
			return rc;
		}
		n += rc;
	}
	if (ftell(f) == 0)
		fprintf(f, "# numalens apply --follow: hint ids, each applied (or shown by a dry run) once\n");
	if (s->state)
		fclose(s->state);
	s->state = f;
	return n;
}

/* ---- what to apply, and when to retry ---- */

double nl_follow_backoff(double interval, double max, unsigned failures)
{
	double w = interval;

	for (unsigned i = 1; i < failures && w < max; i++)
		w *= 2;
	return w < max ? w : max;
}

static int step_of(const Numalens__V1__Hint *h)
{
	return h->has_step ? h->step : 0;
}

size_t nl_follow_pick(Numalens__V1__Hint *const *hints, size_t n,
		      const struct nl_follow_ids *s, const Numalens__V1__Hint **out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const Numalens__V1__Hint *h = hints[i];
		bool dup = false;
		size_t j;

		if (!id_ok(h->id) || nl_follow_ids_has(s, h->id))
			continue;
		for (j = 0; j < k && !dup; j++)
			dup = !strcmp(out[j]->id, h->id);
		if (dup)
			continue;
		/* insertion after every hint of the same or a lower step: stable */
		for (j = k; j > 0 && step_of(out[j - 1]) > step_of(h); j--)
			out[j] = out[j - 1];
		out[j] = h;
		k++;
	}
	return k;
}

/* ---- the log ---- */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

/* A line of the follower's own, after the local time. */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[40];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%s.%03ld follow: ", when, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static double now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep, but not past a signal. */
static void nap(double secs)
{
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };

	while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- the follower ---- */

#define MAX_AFTER 32

/* An applied hint whose VM is shown again at the first newer snapshot. */
struct after {
	char id[ID_MAX + 1], vm[256];
	double t;                  /* wall clock when it was applied */
	double locality;           /* before; NaN when unknown */
};

struct follower {
	const struct nl_apply_opts *o;
	struct nl_follow_ids *ids;
	char *url;                 /* GET .../hints?policy=... */
	unsigned failures;         /* polls in a row that found no server */
	double down_since;         /* monotonic, at the first of them */
	long last_status;          /* of the last answer that was not a list */
	struct after after[MAX_AFTER];
	size_t nafter;
	unsigned long applied, failed;
};

enum poll_rc { POLL_LIST, POLL_AWAY, POLL_ANSWER, POLL_FATAL, POLL_STOPPED };

/* GET `url` as a message of type d. Return a poll_rc; the reason in err. */
static enum poll_rc get_msg(const struct follower *f, const char *url,
			    const ProtobufCMessageDescriptor *d, ProtobufCMessage **m,
			    long *status, char *err, size_t errlen)
{
	struct nl_apply_req q = { .url = url, .timeout = f->o->timeout,
				  .max_bytes = NL_APPLY_MAX_RESPONSE,
				  .agent = "numalens-apply-follow" };
	struct nl_apply_reply r;
	int rc;

	*m = NULL;
	*status = 0;
	rc = nl_apply_http(&q, &r, err, errlen);
	if (!rc) {
		*status = r.status;
		rc = nl_apply_decode(f->o->url, &r, d, m, err, errlen);
	}
	nl_apply_reply_free(&r);
	if (rc == -ECANCELED || (stop && rc))
		return POLL_STOPPED;
	if (rc == 0)
		return POLL_LIST;
	/* no server, a server error, a proxy's page: it may come back */
	if (rc < 0 || rc >= 500)
		return POLL_AWAY;
	/* 404: --vm names a VM that is not (yet) there; else a request it refuses */
	return rc == 404 ? POLL_ANSWER : POLL_FATAL;
}

/* What the server says of VM `vm` now, on one line into buf, and its
 * locality (NaN when unknown). Return 0, or -1 with the reason in buf. */
static int vm_state(const struct follower *f, const char *vm, char *buf, size_t len,
		    double *loc)
{
	struct nl_apply_path p = { .endpoint = "vms", .name = vm };
	Numalens__V1__Vm *v = NULL;
	ProtobufCMessage *m = NULL;
	char *url = NULL, b[32];
	long status;
	size_t k;

	*loc = NAN;
	if (nl_apply_api_url(f->o->url, &p, &url)) {
		snprintf(buf, len, "(cannot ask: out of memory)");
		return -1;
	}
	if (get_msg(f, url, &numalens__v1__vm__descriptor, &m, &status, buf, len) != POLL_LIST) {
		free(url);
		return -1;
	}
	free(url);
	v = (Numalens__V1__Vm *)m;
	if (v->has_locality)
		*loc = v->locality;
	k = (size_t)snprintf(buf, len, "locality %s", "?");
	if (v->has_locality)
		k = (size_t)snprintf(buf, len, "locality %.2f", v->locality);
	for (size_t i = 0; i < v->n_memory && k < len; i++) {
		nl_apply_fmt_bytes(v->memory[i]->bytes, b, sizeof(b));
		k += (size_t)snprintf(buf + k, len - k, "%s node %d %s", i ? "," : "; memory",
				      v->memory[i]->node, b);
	}
	for (size_t i = 0; i < v->n_roles && k < len; i++)
		if (v->roles[i]->role && !strcmp(v->roles[i]->role, "vcpu") && v->roles[i]->cpus)
			k += (size_t)snprintf(buf + k, len - k, "; vCPUs on CPUs %s",
					      v->roles[i]->cpus);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

static void queue_after(struct follower *f, const Numalens__V1__Hint *h, double loc)
{
	struct after *a;

	if (f->nafter == MAX_AFTER) {
		memmove(&f->after[0], &f->after[1], (MAX_AFTER - 1) * sizeof(f->after[0]));
		f->nafter--;
	}
	a = &f->after[f->nafter++];
	snprintf(a->id, sizeof(a->id), "%s", h->id);
	snprintf(a->vm, sizeof(a->vm), "%s", h->vm ? h->vm : "");
	a->t = now_wall();
	a->locality = loc;
}

/* The VMs of hints applied before the snapshot of `ts` was taken, again. */
static void log_afters(struct follower *f, double ts)
{
	size_t keep = 0;

	for (size_t i = 0; i < f->nafter; i++) {
		struct after *a = &f->after[i];
		char state[600], was[32] = "?";
		double loc;

		if (!(ts > a->t)) {
			f->after[keep++] = *a;
			continue;
		}
		if (!isnan(a->locality))
			snprintf(was, sizeof(was), "%.2f", a->locality);
		if (vm_state(f, a->vm, state, sizeof(state), &loc) == 0)
			say("after hint %s%s: VM \"%s\": %s (locality before %s)", a->id,
			    f->o->yes ? "" : " (dry run)", a->vm, state, was);
		else
			say("after hint %s: VM \"%s\": %s", a->id, a->vm, state);
	}
	f->nafter = keep;
}

/* Record, then apply one new hint. Return 0, or -errno when its id could
 * not be recorded (nothing was done: the follower stops). */
static int follow_one(struct follower *f, const struct nl_apply_ctx *c, const Numalens__V1__Hint *h)
{
	char state[600], note[300], kind[32] = "?";
	double loc = NAN;
	int rc;

	nl_pbjson_enum_name(&numalens__v1__hint_kind__descriptor, h->kind, kind, sizeof(kind));
	say("new hint %s: %s of VM \"%s\" (step %d)", h->id, kind, h->vm ? h->vm : "?", step_of(h));
	if (h->vm && vm_state(f, h->vm, state, sizeof(state), &loc) == 0)
		printf("  before: VM \"%s\": %s\n", h->vm, state);
	else
		printf("  before: VM \"%s\": %s\n", h->vm ? h->vm : "?", h->vm ? state : "(no VM)");
	snprintf(note, sizeof(note), "%s %s", kind, h->vm ? h->vm : "?");
	rc = nl_follow_ids_add(f->ids, h->id, note);
	if (rc) {
		say("cannot record hint %s in %s: %s: not applying it", h->id,
		    f->o->state ? f->o->state : "memory", strerror(-rc));
		return rc;
	}
	rc = nl_apply_hint(c, h);
	if (rc)
		f->failed++;
	else
		f->applied++;
	if (h->kind == NUMALENS__V1__HINT_KIND__EVICT)
		printf("  result: not acted on (evict: the orchestrator's call)\n");
	else if (rc)
		printf("  result: FAILED (an action failed; not retried: each hint at most once)\n");
	else
		printf("  result: %s\n", c->yes ? "applied" : "dry run, nothing changed");
	fflush(stdout);
	if (h->kind != NUMALENS__V1__HINT_KIND__EVICT && h->vm)
		queue_after(f, h, loc);
	return 0;
}

/* The new hints of one list, lower step first. Return 0 or -errno (fatal). */
static int follow_list(struct follower *f, const Numalens__V1__HintList *l)
{
	const Numalens__V1__Hint **pick = NULL;
	struct nl_apply_ctx c = { .out = stdout, .yes = f->o->yes };
	size_t n;
	int rc = 0;

	if (!l->n_hints)
		return 0;
	pick = calloc(l->n_hints, sizeof(*pick));
	if (!pick)
		return -ENOMEM;
	n = nl_follow_pick(l->hints, l->n_hints, f->ids, pick);
	/* a connection per batch: a libvirtd restarted meanwhile is no matter */
	if (n)
		nl_apply_connect(f->o, &c);
	for (size_t i = 0; i < n && !stop && !rc; i++)
		rc = follow_one(f, &c, pick[i]);
	if (c.conn)
		virConnectClose(c.conn);
	free(pick);
	return rc;
}

/* One poll. Return the time to wait before the next, or -1 to stop with
 * *ret the exit status. */
static double follow_poll(struct follower *f, int *ret)
{
	const struct nl_apply_opts *o = f->o;
	ProtobufCMessage *m = NULL;
	char err[700];
	long status;
	double wait = o->interval;
	int rc;

	switch (get_msg(f, f->url, &numalens__v1__hint_list__descriptor, &m, &status, err, sizeof(err))) {
	case POLL_STOPPED:
		return -1;
	case POLL_AWAY:
		if (!f->failures++)
			f->down_since = now_mono();
		wait = nl_follow_backoff(o->interval, o->backoff_max, f->failures);
		say("server away (%s); retry %u in %.1f s", err, f->failures, wait);
		return wait;
	case POLL_FATAL:
		say("%s: stopping", err);
		*ret = 1;
		return -1;
	case POLL_ANSWER:
		if (status != f->last_status)
			say("%s; polling on", err);
		f->last_status = status;
		break;
	case POLL_LIST:
		f->last_status = 0;
		break;
	}
	if (f->failures) {
		say("server answers again after %u failed poll%s (%.1f s)", f->failures,
		    f->failures == 1 ? "" : "s", now_mono() - f->down_since);
		f->failures = 0;
	}
	if (!m)
		return wait;
	rc = follow_list(f, (Numalens__V1__HintList *)m);
	if (!rc) {
		const Numalens__V1__HintList *l = (Numalens__V1__HintList *)m;

		log_afters(f, l->has_timestamp ? l->timestamp : INFINITY);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	if (rc) {
		*ret = 1;
		return -1;
	}
	return wait;
}

/* SIGINT and SIGTERM set `stop` (no SA_RESTART: a sleep ends at once);
 * the old actions go to old[2]. */
static void signals_on(struct sigaction old[2])
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
}

static void signals_off(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
}

static int follow_setup(struct follower *f, const struct nl_apply_opts *o)
{
	struct nl_apply_query q = { o->policy, o->vm, o->kind, NULL };
	int rc;

	f->o = o;
	f->ids = nl_follow_ids_new(!o->yes);
	if (!f->ids || nl_apply_hints_url(o->url, &q, &f->url) == -ENOMEM) {
		fprintf(stderr, "numalens apply: out of memory\n");
		return 1;
	}
	if (!f->url) {
		fprintf(stderr, "numalens apply: --url: want http[s]://HOST[:PORT][/PREFIX], got \"%s\"\n", o->url);
		return 2;
	}
	if (nl_paths_set(o->procfs, "/sys") < 0) {
		fprintf(stderr, "numalens apply: bad --path.procfs\n");
		return 2;
	}
	if (o->state) {
		rc = nl_follow_ids_open(f->ids, o->state);
		if (rc < 0) {
			fprintf(stderr, "numalens apply: --state=%s: %s\n", o->state, strerror(-rc));
			return 1;
		}
		say("%d hint id%s from %s: not applied again", rc, rc == 1 ? "" : "s", o->state);
	}
	return 0;
}

int nl_apply_follow(const struct nl_apply_opts *o)
{
	struct follower f;
	struct sigaction old[2];
	double wait;
	int ret;

	memset(&f, 0, sizeof(f));
	stop = 0;
	ret = follow_setup(&f, o);
	if (ret)
		goto cleanup;
	signals_on(old);
	nl_apply_http_stop_on(&stop);
	say("watching %s policy %s%s%s%s%s every %g s, %s; pid %d", o->url, o->policy,
	    o->vm ? " VM " : "", o->vm ? o->vm : "", o->kind ? " kind " : "", o->kind ? o->kind : "",
	    o->interval, o->yes ? "applying (--yes)" : "dry run (--dry-run)", (int)getpid());
	while (!stop) {
		wait = follow_poll(&f, &ret);
		if (wait < 0)
			break;
		nap(wait);
	}
	if (stop)
		say("stopped by %s: %lu hint%s %s, %lu failed; %zu id%s known",
		    strsignal(stop), f.applied, f.applied == 1 ? "" : "s",
		    o->yes ? "applied" : "shown", f.failed, nl_follow_ids_count(f.ids),
		    nl_follow_ids_count(f.ids) == 1 ? "" : "s");
	nl_apply_http_stop_on(NULL);
	signals_off(old);
cleanup:
	nl_follow_ids_free(f.ids);
	free(f.url);
	return ret;
}
