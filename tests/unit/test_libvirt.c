/* libvirt source: pid resolution, listing through libvirt's built-in test
 * driver (test:///default, one running domain "test"), failure and backoff,
 * lifecycle events, reconnection, and the event loop thread's lifetime.
 *
 * test:///default keeps one shared state per process while any connection
 * to it is open, so a second read-write connection can stop and start
 * "test" and the source's read-only connection sees the events. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "libvirt.h"
#include "paths.h"
#include "libvirt_priv.h"
#include "sampler.h"

#define TEST_URI "test:///default"
#define BAD_URI  "qemu+unix:///system?socket=/nonexistent/sock"
#define SEC      1000000000ULL

/* The sampler is not linked into this test; the source reaches it only
 * through the wake pointer, which the tests replace. Weak, so that linking
 * against libnumalens.a with the real sampler.o still works. */
__attribute__((weak)) void nl_sampler_wake(struct nl_sampler *s)
{
	(void)s;
}

static uint64_t fake_now;
static uint64_t fake_clock(void)
{
	return fake_now;
}

static atomic_int wakes;
static struct nl_sampler *_Atomic woken_with;
static void fake_wake(struct nl_sampler *s)
{
	atomic_store(&woken_with, s);
	atomic_fetch_add(&wakes, 1);
}

/* Never dereferenced: only its address is passed around. */
static char dummy_sampler_obj;
#define DUMMY_SAMPLER ((struct nl_sampler *)(void *)&dummy_sampler_obj)

struct fixture {
	struct nl_config cfg;
	struct nl_state st;
	struct nl_libvirt *lv;
	char run_dir[64];    /* libvirt's pid files: test.pid says 4242 */
};

static int fixture_init(struct fixture *f, const char *uri)
{
	void *priv = NULL;
	int err;

	memset(f, 0, sizeof(*f));
	nl_config_defaults(&f->cfg);
	f->cfg.libvirt_uri = uri;
	snprintf(f->run_dir, sizeof(f->run_dir), "/tmp/nl-lvrun-XXXXXX");
	if (!mkdtemp(f->run_dir) || nl_t_put(f->run_dir, "test.pid", "4242\n", -1) < 0)
		return -EIO;
	f->cfg.libvirt_run_dir = f->run_dir;
	f->st.cfg = &f->cfg;
	f->st.libvirt_up = -1;
	err = nl_source_libvirt.init(&f->st, &priv);
	f->lv = priv;
	if (f->lv) {
		f->lv->clock_ns = fake_clock;
		f->lv->wake = fake_wake;
	}
	fake_now = 1000 * SEC;
	atomic_store(&wakes, 0);
	atomic_store(&woken_with, NULL);
	return err;
}

static void fixture_free(struct fixture *f)
{
	char cmd[96];

	nl_source_libvirt.free(&f->st, f->lv);
	free(f->st.qprocs);
	f->lv = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->run_dir);
	if (f->run_dir[0] && system(cmd) != 0)
		CHECK(0);
}

static void set_uri(struct nl_libvirt *lv, const char *uri)
{
	free(lv->uri);
	lv->uri = strdup(uri);
}

/* The UUID of "test" as a separate connection sees it. */
static void test_domain_uuid(char *buf)
{
	virConnectPtr c = virConnectOpenReadOnly(TEST_URI);
	virDomainPtr d = c ? virDomainLookupByName(c, "test") : NULL;

	buf[0] = '\0';
	if (d && virDomainGetUUIDString(d, buf) < 0)
		buf[0] = '\0';
	if (d)
		virDomainFree(d);
	if (c)
		virConnectClose(c);
}

static int wait_for_wakes(int n)
{
	for (int i = 0; i < 500 && atomic_load(&wakes) < n; i++) {
		struct timespec ts = { 0, 10000000 };

		nanosleep(&ts, NULL);
	}
	return atomic_load(&wakes);
}

/* ---- pid resolution (no libvirt) ---- */

static void add_qproc(struct nl_state *st, pid_t pid, const char *name,
		      const char *uuid)
{
	struct nl_qproc *q;

	st->qprocs = realloc(st->qprocs, (st->nqprocs + 1) * sizeof(*q));
	q = &st->qprocs[st->nqprocs++];
	memset(q, 0, sizeof(*q));
	q->pid = pid;
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->uuid, sizeof(q->uuid), "%s", uuid);
}

static void set_domains(struct nl_state *st, size_t n)
{
	st->domains = calloc(n, sizeof(*st->domains));
	st->ndomains = st->cap_domains = n;
}

/* A /proc tree (ROOT/proc) where each pid given is in a libvirt machine
 * scope or not, and a libvirt run dir ROOT/run. */
static void resolve_tree(char *root, size_t len, const int *scoped, const int *plain)
{
	char rel[64];

	snprintf(root, len, "/tmp/nl-lvpid-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	for (; *scoped; scoped++) {
		snprintf(rel, sizeof(rel), "proc/%d/cgroup", *scoped);
		CHECK_EQ_INT(nl_t_put(root, rel, "0::/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt/emulator\n", -1), 0);
	}
	for (; *plain; plain++) {
		snprintf(rel, sizeof(rel), "proc/%d/cgroup", *plain);
		CHECK_EQ_INT(nl_t_put(root, rel, "0::/user.slice/user-65534.slice/session-3.scope\n", -1), 0);
	}
	CHECK_EQ_INT(nl_t_put(root, "run/.keep", "", 0), 0);
	snprintf(rel, sizeof(rel), "%s/proc", root);
	nl_paths_set(rel, NULL);
}

static void resolve_tree_done(const char *root)
{
	char cmd[128];

	nl_paths_set("/proc", NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK_EQ_INT(system(cmd), 0);
}

static void test_resolve_by_uuid(void)
{
	struct nl_state st = { 0 };
	char root[64];

	resolve_tree(root, sizeof(root), (const int[]){ 100, 200, 0 }, (const int[]){ 0 });
	add_qproc(&st, 100, "other-name", "11111111-2222-3333-4444-555555555555");
	add_qproc(&st, 200, "vm1", "aaaaaaaa-2222-3333-4444-555555555555");
	set_domains(&st, 1);
	snprintf(st.domains[0].name, NL_NAME_MAX, "vm1");
	/* libvirt prints lower case; a QEMU command line may not */
	snprintf(st.domains[0].uuid, NL_UUID_LEN,
		 "11111111-2222-3333-4444-555555555555");
	nl_libvirt_resolve_pids(&st, NULL);
	/* the UUID wins over a process that only has the same name */
	CHECK_EQ_INT(st.domains[0].pid, 100);

	snprintf(st.qprocs[0].uuid, NL_UUID_LEN,
		 "11111111-2222-3333-4444-55555555555A");
	snprintf(st.domains[0].uuid, NL_UUID_LEN,
		 "11111111-2222-3333-4444-55555555555a");
	nl_libvirt_resolve_pids(&st, "");
	CHECK_EQ_INT(st.domains[0].pid, 100);
	free(st.qprocs);
	free(st.domains);
	resolve_tree_done(root);
}

static void test_resolve_by_name(void)
{
	struct nl_state st = { 0 };
	char root[64];

	resolve_tree(root, sizeof(root), (const int[]){ 300, 400, 500, 0 }, (const int[]){ 0 });
	add_qproc(&st, 300, "web", "");
	add_qproc(&st, 400, "db", "bbbbbbbb-2222-3333-4444-555555555555");
	add_qproc(&st, 500, "cache", "");
	set_domains(&st, 4);
	/* no -uuid on the command line: matched by name */
	snprintf(st.domains[0].name, NL_NAME_MAX, "web");
	snprintf(st.domains[0].uuid, NL_UUID_LEN,
		 "cccccccc-2222-3333-4444-555555555555");
	/* same name, but the process belongs to another VM (other UUID) */
	snprintf(st.domains[1].name, NL_NAME_MAX, "db");
	snprintf(st.domains[1].uuid, NL_UUID_LEN,
		 "dddddddd-2222-3333-4444-555555555555");
	/* domain without a UUID */
	snprintf(st.domains[2].name, NL_NAME_MAX, "cache");
	/* nothing matches; a stale pid must be reset */
	snprintf(st.domains[3].name, NL_NAME_MAX, "gone");
	st.domains[3].pid = 999;
	nl_libvirt_resolve_pids(&st, NULL);
	CHECK_EQ_INT(st.domains[0].pid, 300);
	CHECK_EQ_INT(st.domains[1].pid, 0);
	CHECK_EQ_INT(st.domains[2].pid, 500);
	CHECK_EQ_INT(st.domains[3].pid, 0);
	free(st.qprocs);
	free(st.domains);
	resolve_tree_done(root);
}

/* A look-alike QEMU that carries a real domain's -uuid and -name (both on
 * /metrics) is not that domain's: libvirt's pid file names the real one,
 * and without a readable pid file the process must sit in a libvirt
 * machine cgroup. */
static void test_resolve_not_spoofed(void)
{
	struct nl_state st = { 0 };
	char root[64], run[80];
	const char *uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f";
	pid_t pid = 0;

	resolve_tree(root, sizeof(root), (const int[]){ 610, 0 }, (const int[]){ 600, 0 });
	snprintf(run, sizeof(run), "%s/run", root);
	/* the fake comes first in the scan */
	add_qproc(&st, 600, "test", uuid);
	add_qproc(&st, 610, "test", uuid);
	set_domains(&st, 1);
	snprintf(st.domains[0].name, NL_NAME_MAX, "test");
	snprintf(st.domains[0].uuid, NL_UUID_LEN, "%s", uuid);

	nl_libvirt_resolve_pids(&st, run);          /* no pid file: cgroup */
	CHECK_EQ_INT(st.domains[0].pid, 610);
	CHECK_EQ_INT(nl_t_put(root, "run/test.pid", "610", -1), 0);
	st.domains[0].pid = 0;
	nl_libvirt_resolve_pids(&st, run);
	CHECK_EQ_INT(st.domains[0].pid, 610);
	CHECK_EQ_INT(nl_libvirt_read_pidfile(run, "test", &pid), 0);
	CHECK_EQ_INT(pid, 610);
	/* the pid file names a process the scan did not trust: none */
	CHECK_EQ_INT(nl_t_put(root, "run/test.pid", "700\n", -1), 0);
	nl_libvirt_resolve_pids(&st, run);
	CHECK_EQ_INT(st.domains[0].pid, 0);
	/* a pid file that is no PID is not read as one; nor is a name that
	 * would leave the directory */
	CHECK_EQ_INT(nl_t_put(root, "run/test.pid", "61x\n", -1), 0);
	CHECK_EQ_INT(nl_libvirt_read_pidfile(run, "test", &pid), -EINVAL);
	CHECK_EQ_INT(nl_libvirt_read_pidfile(run, "../run/test", &pid), -ENOENT);
	/* the fake alone, out of any machine scope: no domain's */
	st.nqprocs = 1;
	CHECK_EQ_INT(nl_t_put(root, "run/test.pid", "600", -1), 0);
	nl_libvirt_resolve_pids(&st, NULL);
	CHECK_EQ_INT(st.domains[0].pid, 0);
	CHECK(!nl_libvirt_in_machine_scope(600));
	CHECK(nl_libvirt_in_machine_scope(610));
	free(st.qprocs);
	free(st.domains);
	resolve_tree_done(root);
}

/* ---- through libvirt ---- */

static void test_lists_test_driver(void)
{
	struct fixture f;
	char uuid[VIR_UUID_STRING_BUFLEN];
	int rc;

	test_domain_uuid(uuid);
	CHECK(uuid[0] != '\0');
	CHECK_EQ_INT(fixture_init(&f, TEST_URI), 0);
	if (!f.lv)
		return;
	CHECK_EQ_INT(f.st.libvirt_up, 0);      /* init does not connect */
	add_qproc(&f.st, 4242, "test", uuid);
	rc = nl_source_libvirt.sample(&f.st, f.lv);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(f.st.libvirt_up, 1);
	CHECK(f.st.domains_valid);
	CHECK_EQ_INT(f.st.ndomains, 1);
	CHECK(f.st.cap_domains >= f.st.ndomains);
	if (f.st.ndomains == 1) {
		CHECK_STR(f.st.domains[0].name, "test");
		CHECK_STR(f.st.domains[0].uuid, uuid);
		CHECK_EQ_INT(f.st.domains[0].pid, 4242);
	}
	CHECK(f.lv->lifecycle_id >= 0);

	/* a second cycle reuses the connection and rebuilds the list */
	rc = nl_source_libvirt.sample(&f.st, f.lv);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(f.st.ndomains, 1);
	CHECK_EQ_INT(f.lv->connects, 1);
	fixture_free(&f);
	CHECK(f.st.domains == NULL);
	CHECK_EQ_INT(f.st.cap_domains, 0);
}

static void test_failing_uri(void)
{
	struct fixture f;
	int rc;

	CHECK_EQ_INT(fixture_init(&f, BAD_URI), 0);
	if (!f.lv)
		return;
	f.st.domains_valid = true;    /* stale from an earlier cycle */
	f.st.ndomains = 0;
	rc = nl_source_libvirt.sample(&f.st, f.lv);
	CHECK_EQ_INT(rc, -ECONNREFUSED);
	CHECK_EQ_INT(f.st.libvirt_up, 0);
	CHECK(!f.st.domains_valid);
	CHECK_EQ_INT(f.st.ndomains, 0);
	CHECK(f.lv->conn == NULL);
	CHECK_EQ_INT(f.lv->connect_attempts, 1);
	fixture_free(&f);
}

/* libvirt's default handler prints "libvirt: <domain> error : ..." to
 * stderr; ours are logfmt lines ("ts=... msg=\"libvirt: ...\""). */
static void test_libvirt_errors_silenced(void)
{
	struct fixture f;
	char path[] = "/tmp/nl_test_libvirt_XXXXXX";
	char buf[8192];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	CHECK(fd >= 0 && saved >= 0);
	if (fd < 0 || saved < 0)
		return;
	fflush(stderr);
	dup2(fd, 2);
	if (fixture_init(&f, BAD_URI) == 0) {
		nl_source_libvirt.sample(&f.st, f.lv);
		fixture_free(&f);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	CHECK(n >= 0);
	if (n < 0)
		return;
	buf[n] = '\0';
	CHECK(strncmp(buf, "libvirt:", 8) != 0);
	CHECK(strstr(buf, "\nlibvirt:") == NULL);
}

static void test_backoff(void)
{
	struct fixture f;
	uint64_t t0;

	CHECK_EQ_INT(fixture_init(&f, BAD_URI), 0);
	if (!f.lv)
		return;
	t0 = fake_now;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), -ECONNREFUSED);
	CHECK_EQ_INT(f.lv->connect_attempts, 1);
	/* next immediate cycle: still backing off, no attempt */
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), -ECONNREFUSED);
	fake_now = t0 + SEC / 2;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), -ECONNREFUSED);
	CHECK_EQ_INT(f.lv->connect_attempts, 1);
	CHECK_EQ_INT(f.st.libvirt_up, 0);
	/* after 1 s: one retry, then the delay doubles to 2 s */
	fake_now = t0 + SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), -ECONNREFUSED);
	CHECK_EQ_INT(f.lv->connect_attempts, 2);
	fake_now = t0 + 2 * SEC;
	nl_source_libvirt.sample(&f.st, f.lv);
	CHECK_EQ_INT(f.lv->connect_attempts, 2);
	fake_now = t0 + 3 * SEC;
	nl_source_libvirt.sample(&f.st, f.lv);
	CHECK_EQ_INT(f.lv->connect_attempts, 3);
	/* the delay is capped at 60 s */
	for (int i = 0; i < 12; i++) {
		fake_now += NL_LIBVIRT_BACKOFF_MAX_NS;
		nl_source_libvirt.sample(&f.st, f.lv);
	}
	CHECK_EQ_INT(f.lv->connect_attempts, 15);
	CHECK_EQ_U64(f.lv->next_attempt_ns - fake_now, NL_LIBVIRT_BACKOFF_MAX_NS);

	/* libvirtd comes back: connected at the next due attempt, and the
	 * backoff starts from 1 s again */
	set_uri(f.lv, TEST_URI);
	fake_now += NL_LIBVIRT_BACKOFF_MAX_NS - SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), -ECONNREFUSED);
	CHECK_EQ_INT(f.lv->connect_attempts, 15);
	fake_now += SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.lv->connect_attempts, 16);
	CHECK_EQ_INT(f.st.libvirt_up, 1);
	CHECK_EQ_U64(f.lv->backoff_ns, NL_LIBVIRT_BACKOFF_MIN_NS);
	fixture_free(&f);
}

/* The callbacks (what the event loop thread runs) wake the sampler named in
 * st->sampler, and never a NULL one. */
static void test_event_callbacks_wake(void)
{
	struct fixture f;

	CHECK_EQ_INT(fixture_init(&f, TEST_URI), 0);
	if (!f.lv)
		return;
	/* no sampler (unit tests, first cycle): counted, not woken */
	nl_libvirt_lifecycle_cb(NULL, NULL, VIR_DOMAIN_EVENT_STARTED, 0, f.lv);
	CHECK_EQ_INT(atomic_load(&wakes), 0);
	CHECK_EQ_INT(f.lv->events, 1);

	f.st.sampler = DUMMY_SAMPLER;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	nl_libvirt_lifecycle_cb(NULL, NULL, VIR_DOMAIN_EVENT_STOPPED, 0, f.lv);
	CHECK_EQ_INT(atomic_load(&wakes), 1);
	CHECK(atomic_load(&woken_with) == DUMMY_SAMPLER);

	/* close callback: wakes too, and the next cycle reconnects and
	 * registers the lifecycle callback again */
	CHECK_EQ_INT(f.lv->connects, 1);
	nl_libvirt_close_cb(f.lv->conn, VIR_CONNECT_CLOSE_REASON_EOF, f.lv);
	CHECK_EQ_INT(atomic_load(&wakes), 2);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.lv->connects, 2);
	CHECK(f.lv->lifecycle_id >= 0);
	CHECK(!atomic_load(&f.lv->dropped));
	CHECK_EQ_INT(f.st.ndomains, 1);
	fixture_free(&f);
}

/* Real events: another connection stops and starts "test"; the event loop
 * thread delivers them and the sampler is woken; the lists follow. */
static void test_lifecycle_events_end_to_end(void)
{
	struct fixture f;
	virConnectPtr rw;
	virDomainPtr dom = NULL;
	int w;

	CHECK_EQ_INT(fixture_init(&f, TEST_URI), 0);
	if (!f.lv)
		return;
	f.st.sampler = DUMMY_SAMPLER;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.st.ndomains, 1);

	rw = virConnectOpen(TEST_URI);
	CHECK(rw != NULL);
	if (rw)
		dom = virDomainLookupByName(rw, "test");
	CHECK(dom != NULL);
	if (!dom)
		goto cleanup;

	CHECK_EQ_INT(virDomainDestroy(dom), 0);
	w = wait_for_wakes(1);
	CHECK(w >= 1);
	CHECK(atomic_load(&woken_with) == DUMMY_SAMPLER);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.st.ndomains, 0);
	CHECK(f.st.domains_valid);

	CHECK_EQ_INT(virDomainCreate(dom), 0);
	CHECK(wait_for_wakes(w + 1) >= w + 1);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.st.ndomains, 1);
cleanup:
	if (dom)
		virDomainFree(dom);
	if (rw)
		virConnectClose(rw);
	fixture_free(&f);
}

/* A connection failing under an open handle (libvirtd gone): the domains
 * are invalidated, the handle dropped, and a later connect works. */
static void test_lost_connection(void)
{
	struct fixture f;

	CHECK_EQ_INT(fixture_init(&f, TEST_URI), 0);
	if (!f.lv)
		return;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.st.ndomains, 1);

	atomic_store(&f.lv->dropped, true);
	set_uri(f.lv, BAD_URI);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), -ECONNREFUSED);
	CHECK(f.lv->conn == NULL);
	CHECK_EQ_INT(f.lv->lifecycle_id, -1);
	CHECK_EQ_INT(f.st.libvirt_up, 0);
	CHECK(!f.st.domains_valid);
	CHECK_EQ_INT(f.st.ndomains, 0);

	set_uri(f.lv, TEST_URI);
	fake_now += NL_LIBVIRT_BACKOFF_MIN_NS;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.st.libvirt_up, 1);
	CHECK_EQ_INT(f.st.ndomains, 1);
	CHECK(f.lv->lifecycle_id >= 0);
	fixture_free(&f);
}

static void test_event_loop_lifetime(void)
{
	struct fixture a, b;

	nl_source_libvirt.free(NULL, NULL);
	CHECK_EQ_INT(nl_libvirt_loop_running(), 0);
	CHECK_EQ_INT(fixture_init(&a, TEST_URI), 0);
	CHECK_EQ_INT(fixture_init(&b, BAD_URI), 0);
	/* one loop thread however many sources */
	for (int i = 0; i < 100 && nl_libvirt_loop_running() == 0; i++)
		usleep(10000);
	CHECK_EQ_INT(nl_libvirt_loop_running(), 1);
	if (a.lv)
		nl_source_libvirt.sample(&a.st, a.lv);
	fixture_free(&a);
	CHECK_EQ_INT(nl_libvirt_loop_running(), 1);
	/* the last free stops and joins it (it would hang here if not) */
	fixture_free(&b);
	CHECK_EQ_INT(nl_libvirt_loop_running(), 0);
	/* and it starts again */
	CHECK_EQ_INT(fixture_init(&a, TEST_URI), 0);
	if (a.lv)
		CHECK_EQ_INT(nl_source_libvirt.sample(&a.st, a.lv), 0);
	fixture_free(&a);
	CHECK_EQ_INT(nl_libvirt_loop_running(), 0);
}

static void test_default_uri(void)
{
	struct nl_state st = { 0 };
	struct nl_libvirt *lv = NULL;
	void *priv = NULL;

	CHECK_EQ_INT(nl_source_libvirt.init(&st, &priv), 0);
	lv = priv;
	CHECK(lv != NULL);
	if (lv)
		CHECK_STR(lv->uri, "qemu:///system");
	CHECK_EQ_INT(st.libvirt_up, 0);
	nl_source_libvirt.free(&st, priv);
}

/* ---- arrivals ---- */

static void test_arrival_of_events(void)
{
	static const struct {
		int event, detail;
		enum nl_arrival how;
		enum nl_lv_op op;
	} rows[] = {
		{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED,
		  NL_ARRIVAL_MIGRATED, NL_LV_OP_ARRIVE },
		{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED,
		  NL_ARRIVAL_RESTORED, NL_LV_OP_ARRIVE },
		{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT,
		  NL_ARRIVAL_SNAPSHOT, NL_LV_OP_ARRIVE },
		{ VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
		  NL_ARRIVAL_MIGRATED, NL_LV_OP_LAND },
		{ VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY,
		  NL_ARRIVAL_MIGRATED, NL_LV_OP_LAND },
		{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED,
		  NL_ARRIVAL_NONE, NL_LV_OP_FORGET },
		{ VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED,
		  NL_ARRIVAL_NONE, NL_LV_OP_FORGET },
		{ VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
		  NL_ARRIVAL_NONE, NL_LV_OP_FORGET },
		/* not arrivals: the same QEMU goes on, or nothing runs */
		{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_WAKEUP,
		  NL_ARRIVAL_NONE, NL_LV_OP_NONE },
		{ VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
		  NL_ARRIVAL_NONE, NL_LV_OP_NONE },
		{ VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT,
		  NL_ARRIVAL_NONE, NL_LV_OP_NONE },
		{ VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
		  NL_ARRIVAL_NONE, NL_LV_OP_NONE },
		{ VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED,
		  NL_ARRIVAL_NONE, NL_LV_OP_NONE },
		{ VIR_DOMAIN_EVENT_STARTED, 99, NL_ARRIVAL_NONE, NL_LV_OP_NONE },
		{ 99, VIR_DOMAIN_EVENT_STARTED_MIGRATED, NL_ARRIVAL_NONE, NL_LV_OP_NONE },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum nl_lv_op op = (enum nl_lv_op)-1;

		CHECK_EQ_INT(nl_libvirt_arrival_of(rows[i].event, rows[i].detail, &op),
			     rows[i].how);
		CHECK_EQ_INT(op, rows[i].op);
	}
	CHECK_EQ_INT(nl_libvirt_arrival_of(VIR_DOMAIN_EVENT_STARTED,
					   VIR_DOMAIN_EVENT_STARTED_RESTORED, NULL),
		     NL_ARRIVAL_RESTORED);
}

/* A domain handle of "test" from a connection of its own (what the event
 * loop passes the callback); NULL on failure. */
struct test_dom {
	virConnectPtr conn;
	virDomainPtr dom;
	char uuid[VIR_UUID_STRING_BUFLEN];
};

static int test_dom_open(struct test_dom *t)
{
	memset(t, 0, sizeof(*t));
	t->conn = virConnectOpen(TEST_URI);
	t->dom = t->conn ? virDomainLookupByName(t->conn, "test") : NULL;
	if (!t->dom || virDomainGetUUIDString(t->dom, t->uuid) < 0)
		return -1;
	return 0;
}

static void test_dom_close(struct test_dom *t)
{
	if (t->dom)
		virDomainFree(t->dom);
	if (t->conn)
		virConnectClose(t->conn);
}

/* Track a VM for QEMU process pid (as the vms source would). */
static struct nl_vm *track_vm(struct nl_state *st, pid_t pid,
			      uint64_t starttime, const char *uuid)
{
	struct nl_vm *vm = calloc(1, sizeof(*vm));

	st->vms = realloc(st->vms, (st->nvms + 1) * sizeof(*st->vms));
	st->vms[st->nvms++] = vm;
	vm->pid = pid;
	vm->starttime = starttime;
	snprintf(vm->name, sizeof(vm->name), "test");
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	vm->backend = NL_BACKEND_LIBVIRT;
	return vm;
}

static void untrack_vms(struct nl_state *st)
{
	for (size_t i = 0; i < st->nvms; i++)
		free(st->vms[i]);
	free(st->vms);
	st->vms = NULL;
	st->nvms = 0;
}

static void event(struct fixture *f, struct test_dom *t, int ev, int detail)
{
	nl_libvirt_lifecycle_cb(NULL, t->dom, ev, detail, f->lv);
}

/* The VM is not tracked when the event comes (the vms source runs after
 * this one): the snapshot of that cycle gets the arrival from publish, the
 * VM itself at the next sample; then publish leaves it to the VM. */
static void test_arrival_for_vm_tracked_later(void)
{
	struct fixture f;
	struct test_dom t;
	struct nl_vm_snap sv[2];
	struct nl_snapshot snap;
	struct nl_vm *vm;
	uint64_t t_event;

	CHECK_EQ_INT(fixture_init(&f, TEST_URI), 0);
	CHECK_EQ_INT(test_dom_open(&t), 0);
	if (!f.lv || !t.dom)
		goto cleanup;
	add_qproc(&f.st, 4242, "test", t.uuid);
	f.st.qprocs[0].starttime = 77;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);

	t_event = fake_now + SEC / 10;
	fake_now = t_event;
	event(&f, &t, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED);
	fake_now = t_event + 2 * SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.lv->npending, 1);

	/* the snapshot of this cycle, with the VM the vms source added and
	 * one it did not match */
	memset(&snap, 0, sizeof(snap));
	memset(sv, 0, sizeof(sv));
	sv[0].pid = 4242;
	snprintf(sv[0].uuid, sizeof(sv[0].uuid), "%s", t.uuid);
	sv[1].pid = 4343;
	snprintf(sv[1].uuid, sizeof(sv[1].uuid), "%s", t.uuid);
	sv[0].arrival_age_seconds = sv[1].arrival_age_seconds = NAN;
	snap.vms = sv;
	snap.nvms = 2;
	f.st.now_ns = fake_now;
	CHECK_EQ_INT(nl_source_libvirt.publish(&f.st, f.lv, &snap), 0);
	CHECK_EQ_INT(sv[0].arrival, NL_ARRIVAL_RESTORED);
	CHECK_NEAR(sv[0].arrival_age_seconds, 2.0, 1e-9);
	CHECK_EQ_INT(sv[1].arrival, NL_ARRIVAL_NONE);
	CHECK(isnan(sv[1].arrival_age_seconds));

	/* next cycle: the VM is tracked; an older VM object of a process
	 * that had the same PID is not it */
	track_vm(&f.st, 4242, 76, t.uuid);
	vm = track_vm(&f.st, 4242, 77, t.uuid);
	fake_now += SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(vm->arrival, NL_ARRIVAL_RESTORED);
	CHECK_EQ_U64(vm->arrived_ns, t_event);
	CHECK_EQ_INT(f.st.vms[0]->arrival, NL_ARRIVAL_NONE);
	CHECK_EQ_INT(f.lv->npending, 0);
	sv[0].arrival = NL_ARRIVAL_NONE;
	CHECK_EQ_INT(nl_source_libvirt.publish(&f.st, f.lv, &snap), 0);
	CHECK_EQ_INT(sv[0].arrival, NL_ARRIVAL_NONE);

	/* further cycles keep it (the age grows in the snapshot) */
	fake_now += 100 * SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(vm->arrival, NL_ARRIVAL_RESTORED);
	CHECK_EQ_U64(vm->arrived_ns, t_event);
cleanup:
	untrack_vms(&f.st);
	test_dom_close(&t);
	fixture_free(&f);
}

/* An arrival whose VM never shows up is dropped after 60 s; one that is
 * forgotten (the domain stopped, or booted normally) before its VM shows up
 * is not applied. */
static void test_arrival_expires_or_is_forgotten(void)
{
	struct fixture f;
	struct test_dom t;
	struct nl_vm *vm;

	CHECK_EQ_INT(fixture_init(&f, TEST_URI), 0);
	CHECK_EQ_INT(test_dom_open(&t), 0);
	if (!f.lv || !t.dom)
		goto cleanup;
	/* no QEMU process resolves for the domain */
	event(&f, &t, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT);
	fake_now += NL_LIBVIRT_ARRIVAL_TTL_NS;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.lv->npending, 1);
	fake_now += SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.lv->npending, 0);

	add_qproc(&f.st, 4242, "test", t.uuid);
	vm = track_vm(&f.st, 4242, 0, t.uuid);
	event(&f, &t, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED);
	event(&f, &t, VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
	event(&f, &t, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(vm->arrival, NL_ARRIVAL_NONE);
	CHECK_EQ_INT(f.lv->npending, 0);
cleanup:
	untrack_vms(&f.st);
	test_dom_close(&t);
	fixture_free(&f);
}

/* STARTED_MIGRATED marks the VM when the incoming migration begins; the
 * RESUMED_MIGRATED that ends it moves the time to when it runs here. The
 * same RESUMED_MIGRATED on its own is a source host whose migration failed:
 * not an arrival. */
static void test_arrival_migration_lands(void)
{
	struct fixture f;
	struct test_dom t;
	struct nl_vm *vm;
	uint64_t t_start, t_land;

	CHECK_EQ_INT(fixture_init(&f, TEST_URI), 0);
	CHECK_EQ_INT(test_dom_open(&t), 0);
	if (!f.lv || !t.dom)
		goto cleanup;
	add_qproc(&f.st, 4242, "test", t.uuid);
	vm = track_vm(&f.st, 4242, 0, t.uuid);

	event(&f, &t, VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(vm->arrival, NL_ARRIVAL_NONE);
	CHECK_EQ_INT(f.lv->npending, 0);

	t_start = fake_now;
	event(&f, &t, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED);
	fake_now += SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(vm->arrival, NL_ARRIVAL_MIGRATED);
	CHECK_EQ_U64(vm->arrived_ns, t_start);
	/* waiting for the end, past the TTL: a migration may take long */
	fake_now += 2 * NL_LIBVIRT_ARRIVAL_TTL_NS;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.lv->npending, 1);

	t_land = fake_now;
	event(&f, &t, VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
	fake_now += SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(vm->arrival, NL_ARRIVAL_MIGRATED);
	CHECK_EQ_U64(vm->arrived_ns, t_land);
	CHECK_EQ_INT(f.lv->npending, 0);

	/* a later failed outgoing migration does not make it arrive again */
	event(&f, &t, VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
	fake_now += SEC;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_U64(vm->arrived_ns, t_land);

	/* the end of a migration says nothing of a restore */
	t_start = fake_now;
	event(&f, &t, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED);
	fake_now += SEC;
	event(&f, &t, VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(vm->arrival, NL_ARRIVAL_RESTORED);
	CHECK_EQ_U64(vm->arrived_ns, t_start);
	CHECK_EQ_INT(f.lv->npending, 0);

	/* a migration whose QEMU went away before it finished is forgotten */
	event(&f, &t, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.lv->npending, 1);
	f.st.nqprocs = 0;
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.lv->npending, 0);
cleanup:
	untrack_vms(&f.st);
	test_dom_close(&t);
	fixture_free(&f);
}

/* The event loop thread can queue at most NL_LIBVIRT_ARRIVALS_MAX events
 * between two cycles; past that the oldest go. */
static void test_arrival_queue_bounded(void)
{
	struct fixture f;
	struct test_dom t;

	CHECK_EQ_INT(fixture_init(&f, TEST_URI), 0);
	CHECK_EQ_INT(test_dom_open(&t), 0);
	if (!f.lv || !t.dom)
		goto cleanup;
	for (int i = 0; i < NL_LIBVIRT_ARRIVALS_MAX + 3; i++) {
		fake_now += SEC;
		event(&f, &t, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED);
	}
	CHECK_EQ_INT(f.lv->nqueue, NL_LIBVIRT_ARRIVALS_MAX);
	CHECK_EQ_INT(f.lv->queue_overflows, 3);
	CHECK_EQ_U64(f.lv->queue[NL_LIBVIRT_ARRIVALS_MAX - 1].at_ns, fake_now);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.lv->nqueue, 0);
	/* one domain: one pending arrival, the newest */
	CHECK_EQ_INT(f.lv->npending, 1);
	CHECK_EQ_U64(f.lv->pending[0].at_ns, fake_now);
cleanup:
	test_dom_close(&t);
	fixture_free(&f);
}

/* Real events from libvirt's test driver: save "test" to a file and
 * restore it; the event loop thread delivers STOPPED_SAVED and
 * STARTED_RESTORED, and the tracked VM is marked restored. */
static void test_arrival_save_restore_end_to_end(void)
{
	struct fixture f;
	struct test_dom t;
	char path[] = "/tmp/nl_test_save_XXXXXX";
	struct nl_vm *vm;
	int fd = mkstemp(path), w;

	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_EQ_INT(fixture_init(&f, TEST_URI), 0);
	CHECK_EQ_INT(test_dom_open(&t), 0);
	if (!f.lv || !t.dom || fd < 0)
		goto cleanup;
	f.st.sampler = DUMMY_SAMPLER;
	add_qproc(&f.st, 4242, "test", t.uuid);
	vm = track_vm(&f.st, 4242, 0, t.uuid);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);

	CHECK_EQ_INT(virDomainSave(t.dom, path), 0);
	w = wait_for_wakes(1);
	CHECK(w >= 1);
	CHECK_EQ_INT(virDomainRestore(t.conn, path), 0);
	CHECK(wait_for_wakes(w + 1) >= w + 1);
	CHECK_EQ_INT(nl_source_libvirt.sample(&f.st, f.lv), 0);
	CHECK_EQ_INT(f.st.ndomains, 1);
	CHECK_EQ_INT(vm->arrival, NL_ARRIVAL_RESTORED);
	CHECK_EQ_INT(f.lv->npending, 0);
cleanup:
	unlink(path);
	untrack_vms(&f.st);
	test_dom_close(&t);
	fixture_free(&f);
}

NL_TEST_MAIN(NL_T(test_resolve_by_uuid), NL_T(test_resolve_by_name),
	     NL_T(test_resolve_not_spoofed),
	     NL_T(test_lists_test_driver), NL_T(test_failing_uri),
	     NL_T(test_libvirt_errors_silenced), NL_T(test_backoff),
	     NL_T(test_event_callbacks_wake),
	     NL_T(test_lifecycle_events_end_to_end),
	     NL_T(test_lost_connection), NL_T(test_event_loop_lifetime),
	     NL_T(test_default_uri), NL_T(test_arrival_of_events),
	     NL_T(test_arrival_for_vm_tracked_later),
	     NL_T(test_arrival_expires_or_is_forgotten),
	     NL_T(test_arrival_migration_lands), NL_T(test_arrival_queue_bounded),
	     NL_T(test_arrival_save_restore_end_to_end))
