/* Tests of the resctrl source on a copy of the fixture resctrl tree
 * (tests/fixtures/resctrl): /sys/fs/resctrl cannot be mounted in this VM,
 * so group creation, removal and task moves go through an ops table that
 * emulates the kernel (mkdir creates tasks and mon_data, as resctrl does).
 * The flock() is the real one, on the copy's root directory. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "paths.h"
#include "prom.h"
#include "resctrl.h"
#include "resctrl_priv.h"
#include "snapshot.h"

#define FIX NL_SRCDIR "/tests/fixtures"
#define ALPHA_UUID "6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e"
#define STALE "numalens-1b4e28ba-2fa1-11d2-883f-0016d3cca427"

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

static void put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
}

static void append(const char *path, const char *text)
{
	FILE *fp = fopen(path, "a");

	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
}

static char *slurp(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (fp) {
		n = fread(buf, 1, len - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
	return buf;
}

/* ---- a kernel stand-in ---- */

struct kern {
	int mkdir_err;          /* next mkdirs fail with this, 0: work */
	int mkdirs, rmdirs, writes;
	pid_t refuse_tid;       /* write_task fails EINVAL for it */
};

static struct kern K;
static uint64_t fake_now;

static uint64_t now_fn(void)
{
	return fake_now;
}

/* mkdir of a monitoring group: the kernel populates it */
static int k_mkdir(const char *path, void *arg)
{
	char f[1024];

	(void)arg;
	K.mkdirs++;
	if (K.mkdir_err)
		return K.mkdir_err;
	if (mkdir(path, 0755) < 0)
		return -errno;
	snprintf(f, sizeof(f), "%s/tasks", path);
	put(f, "");
	snprintf(f, sizeof(f), "%s/cpus_list", path);
	put(f, "\n");
	snprintf(f, sizeof(f), "mkdir -p '%s/mon_data/mon_L3_00' "
		 "'%s/mon_data/mon_L3_01' && cd '%s/mon_data' && "
		 "echo 1048576 > mon_L3_00/llc_occupancy && "
		 "echo 123456789 > mon_L3_00/mbm_total_bytes && "
		 "echo 100000000 > mon_L3_00/mbm_local_bytes && "
		 "echo 524288 > mon_L3_01/llc_occupancy && "
		 "echo 1000 > mon_L3_01/mbm_total_bytes && "
		 "echo Unavailable > mon_L3_01/mbm_local_bytes",
		 path, path, path);
	return sh(f) == 0 ? 0 : -EIO;
}

/* rmdir of a group takes its pseudo-files with it */
static int k_rmdir(const char *path, void *arg)
{
	char cmd[1024];

	(void)arg;
	K.rmdirs++;
	if (!exists(path))
		return -ENOENT;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return sh(cmd) == 0 ? 0 : -EIO;
}

static int k_write_task(const char *tasks, pid_t tid, void *arg)
{
	char line[32];

	(void)arg;
	if (tid == K.refuse_tid)
		return -EINVAL;
	if (!exists(tasks))
		return -ENOENT;
	K.writes++;
	snprintf(line, sizeof(line), "%d\n", (int)tid);
	append(tasks, line);
	return 0;
}

/* ---- a host: the fixture copy plus /proc entries and VMs ---- */

struct host {
	char dir[64];
	char root[256];           /* <dir>/sys/fs/resctrl */
	struct nl_config cfg;
	struct nl_state st;
	struct nl_vm vm[3];
	struct nl_vm *vms[3];
	struct nl_thread th[3][8];
};

static void vm_init(struct host *h, int i, const char *name,
		    const char *uuid, pid_t pid, const pid_t *tids, int n)
{
	struct nl_vm *v = &h->vm[i];

	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->uuid, sizeof(v->uuid), "%s", uuid);
	v->pid = pid;
	v->threads = h->th[i];
	v->cap_threads = 8;
	for (int k = 0; k < n; k++) {
		memset(&h->th[i][k], 0, sizeof(h->th[i][k]));
		h->th[i][k].tid = tids[k];
	}
	v->nthreads = (size_t)n;
}

static bool host_init(struct host *h)
{
	char cmd[1024], path[256];
	static const pid_t alpha[] = { 4242, 4243, 4244 };
	static const pid_t beta[] = { 5000, 5001, 5002 };
	static const pid_t gamma[] = { 6000, 6001 };

	memset(h, 0, sizeof(*h));
	memset(&K, 0, sizeof(K));
	fake_now = 1000000000ULL;
	snprintf(h->dir, sizeof(h->dir), "/tmp/nl-resctrl-XXXXXX");
	if (!mkdtemp(h->dir))
		return false;
	snprintf(cmd, sizeof(cmd), "cp -a '%s/resctrl/sys' '%s/' && mkdir -p "
		 "'%s/proc/5000' '%s/proc/5001' '%s/proc/5002' '%s/proc/6000' "
		 "'%s/proc/6001' '%s/proc/4242' '%s/proc/4243' '%s/proc/4244'",
		 FIX, h->dir, h->dir, h->dir, h->dir, h->dir, h->dir, h->dir,
		 h->dir, h->dir);
	if (sh(cmd) != 0)
		return false;
	snprintf(h->root, sizeof(h->root), "%s/sys/fs/resctrl", h->dir);
	snprintf(path, sizeof(path), "%s/proc", h->dir);
	snprintf(cmd, sizeof(cmd), "%s/sys", h->dir);
	nl_paths_set(path, cmd);
	nl_config_defaults(&h->cfg);
	h->st.cfg = &h->cfg;
	vm_init(h, 0, "alpha", ALPHA_UUID, 4242, alpha, 3);
	/* beta's vCPUs are in libvirt's <cachetune> control group */
	vm_init(h, 1, "beta", "c7a5fdbd-cdaf-9455-926a-d65c16db1809", 5000,
		beta, 3);
	/* gamma's 6001 is in another tool's monitoring group */
	vm_init(h, 2, "gamma", "", 6000, gamma, 2);
	for (int i = 0; i < 3; i++)
		h->vms[i] = &h->vm[i];
	h->st.vms = h->vms;
	h->st.nvms = 3;
	return true;
}

static void host_done(struct host *h)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	sh(cmd);
}

static struct nl_resctrl_priv *new_priv(void)
{
	struct nl_resctrl_ops ops = { k_mkdir, k_rmdir, k_write_task, NULL };
	struct nl_resctrl_priv *p = nl_resctrl_priv_new(&ops, now_fn);

	if (p && nl_resctrl_setup(p) < 0) {
		nl_source_resctrl.free(NULL, p);
		p = NULL;
	}
	return p;
}

/* The summary the source publishes (its row's publish hook copies it). */
static const struct nl_resctrl *pub(const void *priv)
{
	return &((const struct nl_resctrl_priv *)priv)->pub;
}

static const struct nl_resctrl_vm *out_vm(const struct nl_resctrl *r,
					  const char *name)
{
	for (size_t i = 0; i < r->nvms; i++)
		if (strcmp(r->vms[i].name, name) == 0)
			return &r->vms[i];
	return NULL;
}

static void group_path(const struct host *h, const char *group,
		       const char *file, char *buf, size_t len)
{
	snprintf(buf, len, "%s/mon_groups/%s%s%s", h->root, group,
		 file ? "/" : "", file ? file : "");
}

/* ---- tests ---- */

static void test_group_name(void)
{
	char b[NL_NAME_MAX], small[24];

	CHECK_STR(nl_resctrl_group_name("alpha", ALPHA_UUID, 4242, b, sizeof(b)),
		  "numalens-" ALPHA_UUID);
	CHECK_STR(nl_resctrl_group_name("web server/1", "", 77, b, sizeof(b)),
		  "numalens-web_server_1-77");
	CHECK_STR(nl_resctrl_group_name("..", NULL, 5, b, sizeof(b)),
		  "numalens-..-5");
	CHECK_STR(nl_resctrl_group_name("caf\xc3\xa9\n", "", 9, b, sizeof(b)),
		  "numalens-caf___-9");
	/* cut to fit, keeping the PID that makes it unique */
	CHECK_STR(nl_resctrl_group_name("averyveryverylongname", "", 12345,
					small, sizeof(small)),
		  "numalens-averyver-12345");
	CHECK_EQ_INT(strlen(small), sizeof(small) - 1);
}

static void test_features_and_tids(void)
{
	struct nl_resctrl_tids t = { NULL, 0, 0, false };
	char path[64];

	CHECK_EQ_U64(nl_resctrl_parse_features(
		"llc_occupancy\nmbm_total_bytes\nmbm_local_bytes\n"),
		NL_RESCTRL_LLC | NL_RESCTRL_TOTAL | NL_RESCTRL_LOCAL);
	/* AMD's BMEC adds *_config entries: not the events themselves */
	CHECK_EQ_U64(nl_resctrl_parse_features(
		"llc_occupancy\nmbm_total_bytes_config\nmbm_local_bytes\n"),
		NL_RESCTRL_LLC | NL_RESCTRL_LOCAL);
	CHECK_EQ_U64(nl_resctrl_parse_features("llc_occupancy"), NL_RESCTRL_LLC);
	CHECK_EQ_U64(nl_resctrl_parse_features(""), 0);

	snprintf(path, sizeof(path), "/tmp/nl-resctrl-tids-%d", (int)getpid());
	put(path, "7000\n12\n4242\n\n1\n");
	CHECK_EQ_INT(nl_resctrl_tids_load(&t, path), 0);
	CHECK_EQ_INT((int)t.n, 4);
	CHECK(nl_resctrl_tids_has(&t, 4242));
	CHECK(nl_resctrl_tids_has(&t, 1));
	CHECK(nl_resctrl_tids_has(&t, 7000));
	CHECK(!nl_resctrl_tids_has(&t, 13));
	unlink(path);
	CHECK_EQ_INT(nl_resctrl_tids_load(&t, path), -ENOENT);
	CHECK(!nl_resctrl_tids_has(&t, 4242));
	nl_resctrl_tids_free(&t);
}

static void test_not_mounted(void)
{
	struct nl_config cfg;
	struct nl_state st;
	void *priv = NULL;
	struct host h;
	char cmd[512];

	/* no fs/resctrl at all */
	memset(&st, 0, sizeof(st));
	nl_config_defaults(&cfg);
	st.cfg = &cfg;
	nl_paths_set(FIX "/two-socket/proc", FIX "/two-socket/sys");
	CHECK_EQ_INT(nl_source_resctrl.init(&st, &priv), 0);
	CHECK_EQ_INT(nl_source_resctrl.sample(&st, priv), 0);
	CHECK(!pub(priv)->active);
	CHECK_EQ_INT((int)pub(priv)->nvms, 0);
	nl_source_resctrl.free(&st, priv);

	/* mounted, but without L3 monitoring (allocation only) */
	CHECK(host_init(&h));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/info/L3_MON'", h.root);
	CHECK_EQ_INT(sh(cmd), 0);
	priv = new_priv();
	CHECK(priv != NULL);
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, priv), 0);
	CHECK(!pub(priv)->active);
	CHECK_EQ_INT(K.mkdirs, 0);
	nl_source_resctrl.free(&h.st, priv);
	host_done(&h);
}

/* alpha's row after the first cycle: monitored, both L3 domains read. */
static void check_alpha(const struct nl_resctrl_vm *v)
{
	CHECK(v && v->state == NL_RESCTRL_MONITORED);
	if (!v)
		return;
	CHECK_STR(v->group, "numalens-" ALPHA_UUID);
	CHECK_EQ_INT(v->ndom, 2);
	CHECK_EQ_INT(v->dom[0].id, 0);
	CHECK_EQ_U64(v->dom[0].valid, 7);
	CHECK_EQ_U64(v->dom[0].llc_occupancy, 1048576);
	CHECK_EQ_U64(v->dom[0].mbm_total, 123456789);
	CHECK_EQ_U64(v->dom[0].mbm_local, 100000000);
	CHECK_EQ_INT(v->dom[1].id, 1);
	/* "Unavailable" is left out, not read as 0 */
	CHECK_EQ_U64(v->dom[1].valid, NL_RESCTRL_LLC | NL_RESCTRL_TOTAL);
	CHECK_EQ_U64(v->dom[1].mbm_total, 1000);
}

static void test_lifecycle(void)
{
	struct nl_resctrl_priv *p;
	const struct nl_resctrl_vm *v;
	struct nl_snapshot *snap;
	struct nl_collector_stat stat = { "resctrl", true, true, 0 };
	struct host h;
	char path[1024], buf[256], group[NL_NAME_MAX];

	CHECK(host_init(&h));
	p = new_priv();
	CHECK(p != NULL);
	if (!p)
		goto out;
	CHECK(p->active);
	CHECK_EQ_U64(p->features, 7);
	/* the crashed run's group is gone, another tool's is not */
	group_path(&h, STALE, NULL, path, sizeof(path));
	CHECK(!exists(path));
	group_path(&h, "monitor-gamma", "tasks", path, sizeof(path));
	CHECK(exists(path));

	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK_EQ_INT(K.mkdirs, 1);
	CHECK_EQ_INT(K.writes, 3);
	CHECK(p->pub.active);
	CHECK(!p->pub.rmid_exhausted);
	CHECK_EQ_U64(p->pub.groups, 1);
	group_path(&h, "numalens-" ALPHA_UUID, "tasks", path, sizeof(path));
	CHECK_STR(slurp(path, buf, sizeof(buf)), "4242\n4243\n4244\n");
	CHECK_EQ_INT((int)p->pub.nvms, 3);
	CHECK_STR(p->pub.vms[0].name, "alpha");
	CHECK_STR(p->pub.vms[1].name, "beta");
	CHECK_STR(p->pub.vms[2].name, "gamma");
	check_alpha(out_vm(&p->pub, "alpha"));
	/* libvirt <cachetune>: a control group of its own */
	v = out_vm(&p->pub, "beta");
	CHECK(v && v->state == NL_RESCTRL_FOREIGN && v->group[0] == '\0' &&
	      v->ndom == 0);
	/* another tool's monitoring group under the default one */
	v = out_vm(&p->pub, "gamma");
	CHECK(v && v->state == NL_RESCTRL_FOREIGN);
	nl_resctrl_group_name("gamma", "", 6000, group, sizeof(group));
	group_path(&h, group, NULL, path, sizeof(path));
	CHECK(!exists(path));
	/* nothing was written into the foreign groups */
	group_path(&h, "monitor-gamma", "tasks", path, sizeof(path));
	CHECK_STR(slurp(path, buf, sizeof(buf)), "6001\n");
	snprintf(path, sizeof(path), "%s/qemu-2-beta-vcpus_0-1/tasks", h.root);
	CHECK_STR(slurp(path, buf, sizeof(buf)), "5001\n5002\n");

	/* the snapshot holds its own copy */
	snap = nl_snapshot_build(&h.st, &stat, 1, 0);
	CHECK(snap != NULL);
	if (snap) {
		CHECK_EQ_INT(nl_source_resctrl.publish(&h.st, p, snap), 0);
		CHECK_EQ_INT((int)snap->resctrl.nvms, 3);
		CHECK(snap->resctrl.vms != p->pub.vms);
		CHECK_STR(snap->resctrl.vms[0].group, "numalens-" ALPHA_UUID);
		nl_snapshot_put(snap);
	}

	/* steady state: nothing to create or move */
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK_EQ_INT(K.mkdirs, 1);
	CHECK_EQ_INT(K.writes, 3);

	/* a new thread (an iothread started by a hot-plug); one that exited
	 * before we got to it is skipped */
	h.th[0][3].tid = 4245;
	h.th[0][4].tid = 4246;
	h.vm[0].nthreads = 5;
	snprintf(path, sizeof(path), "%s/tasks", h.root);
	append(path, "4245\n");
	snprintf(path, sizeof(path), "%s/proc/4245", h.dir);
	mkdir(path, 0755);
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK_EQ_INT(K.writes, 4);
	group_path(&h, "numalens-" ALPHA_UUID, "tasks", path, sizeof(path));
	CHECK_STR(slurp(path, buf, sizeof(buf)), "4242\n4243\n4244\n4245\n");
	v = out_vm(&p->pub, "alpha");
	CHECK(v && v->state == NL_RESCTRL_MONITORED);

	/* alpha shuts down: its group goes */
	h.vms[0] = &h.vm[1];
	h.vms[1] = &h.vm[2];
	h.st.nvms = 2;
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	group_path(&h, "numalens-" ALPHA_UUID, NULL, path, sizeof(path));
	CHECK(!exists(path));
	CHECK_EQ_U64(p->pub.groups, 0);
	CHECK_EQ_INT((int)p->pub.nvms, 2);
	CHECK(out_vm(&p->pub, "alpha") == NULL);
	/* a published snapshot outlives the source */
	snap = nl_snapshot_build(&h.st, &stat, 1, 0);
	CHECK(snap != NULL);
	if (snap)
		CHECK_EQ_INT(nl_source_resctrl.publish(&h.st, p, snap), 0);
	nl_source_resctrl.free(&h.st, p);
	if (snap) {
		CHECK(snap->resctrl.active && snap->resctrl.nvms == 2);
		CHECK_STR(snap->resctrl.vms[0].name, "beta");
		nl_snapshot_put(snap);
	}
out:
	host_done(&h);
}

static void test_rmid_exhaustion(void)
{
	struct nl_resctrl_priv *p;
	const struct nl_resctrl_vm *v;
	struct host h;
	static const pid_t delta[] = { 7000 };

	CHECK(host_init(&h));
	/* two VMs that could be monitored: alpha and delta */
	vm_init(&h, 1, "delta", "0b3f6a8e-9b8a-4a55-9f0a-4e6b8f6c1d2e", 7000,
		delta, 1);
	h.st.nvms = 2;
	p = new_priv();
	CHECK(p != NULL);
	if (!p)
		goto out;
	K.mkdir_err = -ENOSPC;
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	/* one attempt: the second VM does not try once the first failed */
	CHECK_EQ_INT(K.mkdirs, 1);
	CHECK(p->pub.rmid_exhausted);
	v = out_vm(&p->pub, "alpha");
	CHECK(v && v->state == NL_RESCTRL_NO_RMID && v->group[0] == '\0');
	v = out_vm(&p->pub, "delta");
	CHECK(v && v->state == NL_RESCTRL_NO_RMID);
	/* no retry every cycle */
	for (int i = 0; i < 5; i++) {
		fake_now += 1000000000ULL;
		CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	}
	CHECK_EQ_INT(K.mkdirs, 1);
	/* after the first backoff (10 s), one retry; EBUSY (RMIDs in limbo)
	 * counts the same and doubles the wait */
	fake_now += 5000000000ULL;
	K.mkdir_err = -EBUSY;
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK_EQ_INT(K.mkdirs, 2);
	fake_now += 19000000000ULL;
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK_EQ_INT(K.mkdirs, 2);
	fake_now += 1000000000ULL;
	K.mkdir_err = 0;
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK_EQ_INT(K.mkdirs, 4);
	CHECK(!p->pub.rmid_exhausted);
	CHECK_EQ_U64(p->pub.groups, 2);
	v = out_vm(&p->pub, "delta");
	CHECK(v && v->state == NL_RESCTRL_MONITORED);

	/* another error is reported and fails the run, without backoff */
	h.vm[1].uuid[0] = '\0';    /* a new group name for delta */
	h.st.nvms = 2;
	K.mkdir_err = -EACCES;
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), -EACCES);
	v = out_vm(&p->pub, "delta");
	CHECK(v && v->state == NL_RESCTRL_ERROR);
	CHECK(!p->pub.rmid_exhausted);
	K.mkdir_err = 0;
	nl_source_resctrl.free(&h.st, p);
out:
	host_done(&h);
}

/* While someone else (libvirt) holds the resctrl lock, nothing is changed;
 * the changes happen in the first cycle after it lets go. */
static void test_lock(void)
{
	struct nl_resctrl_priv *p;
	struct host h;
	char path[1024];
	int fd;

	CHECK(host_init(&h));
	h.st.nvms = 1;
	p = new_priv();
	CHECK(p != NULL);
	if (!p)
		goto out;
	fd = open(h.root, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	CHECK_EQ_INT(flock(fd, LOCK_EX), 0);
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK_EQ_INT(K.mkdirs, 0);
	CHECK(out_vm(&p->pub, "alpha") &&
	      out_vm(&p->pub, "alpha")->state == NL_RESCTRL_PENDING);
	flock(fd, LOCK_UN);
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK_EQ_INT(K.mkdirs, 1);
	CHECK_EQ_INT(K.writes, 3);
	/* our lock is released at the end of every cycle */
	CHECK_EQ_INT(flock(fd, LOCK_EX | LOCK_NB), 0);
	/* the VM goes while the lock is held: removal waits */
	h.st.nvms = 0;
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	group_path(&h, "numalens-" ALPHA_UUID, NULL, path, sizeof(path));
	CHECK(exists(path));
	flock(fd, LOCK_UN);
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK(!exists(path));
	close(fd);
	nl_source_resctrl.free(&h.st, p);
out:
	host_done(&h);
}

/* The daemon stops: every group it made goes. A refused task write is
 * reported and the rest still move. */
static void test_free_and_refused_write(void)
{
	struct nl_resctrl_priv *p;
	const struct nl_resctrl_vm *v;
	struct host h;
	char path[1024], buf[128];
	static const pid_t delta[] = { 7000 };

	CHECK(host_init(&h));
	vm_init(&h, 1, "delta", "", 7000, delta, 1);
	h.st.nvms = 2;
	K.refuse_tid = 4243;
	p = new_priv();
	CHECK(p != NULL);
	if (!p)
		goto out;
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	group_path(&h, "numalens-" ALPHA_UUID, "tasks", path, sizeof(path));
	CHECK_STR(slurp(path, buf, sizeof(buf)), "4242\n4244\n");
	v = out_vm(&p->pub, "alpha");
	CHECK(v && v->state == NL_RESCTRL_MONITORED);
	CHECK_EQ_U64(p->pub.groups, 2);
	nl_source_resctrl.free(&h.st, p);
	group_path(&h, "numalens-" ALPHA_UUID, NULL, path, sizeof(path));
	CHECK(!exists(path));
	group_path(&h, "numalens-delta-7000", NULL, path, sizeof(path));
	CHECK(!exists(path));
	group_path(&h, "monitor-gamma", NULL, path, sizeof(path));
	CHECK(exists(path));
out:
	host_done(&h);
}

/* A group removed behind our back is made again. */
static void test_recreate(void)
{
	struct nl_resctrl_priv *p;
	struct host h;
	char path[1024], cmd[1100];

	CHECK(host_init(&h));
	h.st.nvms = 1;
	p = new_priv();
	CHECK(p != NULL);
	if (!p)
		goto out;
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	group_path(&h, "numalens-" ALPHA_UUID, NULL, path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	CHECK_EQ_INT(sh(cmd), 0);
	CHECK(nl_source_resctrl.sample(&h.st, p) == -ENOENT);
	CHECK_EQ_INT(nl_source_resctrl.sample(&h.st, p), 0);
	CHECK(exists(path));
	CHECK_EQ_INT(K.mkdirs, 2);
	CHECK_EQ_INT(K.writes, 6);
	nl_source_resctrl.free(&h.st, p);
out:
	host_done(&h);
}


static struct nl_snapshot esnap;

/* The resctrl families on /metrics: exact lines, and only what applies. */
static void test_encode(void)
{
	struct nl_resctrl_vm vms[2];
	struct nl_buf b;
	FILE *pp;
	char path[] = "/tmp/nl-resctrl-prom-XXXXXX", cmd[128], msg[256];
	int fd;

	memset(&esnap, 0, sizeof(esnap));
	memset(vms, 0, sizeof(vms));
	esnap.refs = 1;
	esnap.ncollectors = 1;
	esnap.collectors[0] = (struct nl_collector_stat){ "resctrl", true, true, 0 };
	esnap.resctrl.active = true;
	esnap.resctrl.groups = 1;
	snprintf(vms[0].name, sizeof(vms[0].name), "alpha");
	snprintf(vms[0].group, sizeof(vms[0].group), "numalens-" ALPHA_UUID);
	vms[0].state = NL_RESCTRL_MONITORED;
	vms[0].ndom = 2;
	vms[0].dom[0] = (struct nl_resctrl_dom){ 0, 7, 1048576, 123456789, 100000000 };
	vms[0].dom[1] = (struct nl_resctrl_dom){ 1, NL_RESCTRL_LLC | NL_RESCTRL_TOTAL,
						 524288, 1000, 0 };
	snprintf(vms[1].name, sizeof(vms[1].name), "beta");
	vms[1].state = NL_RESCTRL_FOREIGN;
	esnap.resctrl.vms = vms;
	esnap.resctrl.nvms = 2;
	nl_buf_init(&b);
	CHECK_EQ_INT(nl_prom_encode(&esnap, 0, &b), 0);
	CHECK(b.data != NULL);
	if (!b.data)
		return;
	CHECK(strstr(b.data, "\nnumalens_resctrl_active 1\n") != NULL);
	CHECK(strstr(b.data, "\nnumalens_resctrl_rmid_exhausted 0\n") != NULL);
	CHECK(strstr(b.data, "\nnumalens_resctrl_groups 1\n") != NULL);
	CHECK(strstr(b.data,
		"numalens_vm_resctrl_info{vm=\"alpha\",group=\"numalens-" ALPHA_UUID "\",state=\"monitored\"} 1\n"
		"numalens_vm_resctrl_info{vm=\"beta\",group=\"\",state=\"foreign_group\"} 1\n") != NULL);
	CHECK(strstr(b.data, "# TYPE numalens_vm_llc_occupancy_bytes gauge\n"
		"numalens_vm_llc_occupancy_bytes{vm=\"alpha\",domain=\"0\"} 1048576\n"
		"numalens_vm_llc_occupancy_bytes{vm=\"alpha\",domain=\"1\"} 524288\n") != NULL);
	CHECK(strstr(b.data, "# TYPE numalens_vm_mbm_local_bytes_total counter\n"
		"numalens_vm_mbm_local_bytes_total{vm=\"alpha\",domain=\"0\"} 100000000\n#") != NULL);
	CHECK(strstr(b.data, "numalens_vm_mbm_total_bytes_total{vm=\"alpha\",domain=\"0\"} 123456789\n"
		"numalens_vm_mbm_total_bytes_total{vm=\"alpha\",domain=\"1\"} 1000\n") != NULL);
	CHECK(strstr(b.data, "vm=\"beta\",domain") == NULL);
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		fd = mkstemp(path);
		CHECK(fd >= 0);
		if (fd >= 0) {
			CHECK(write(fd, b.data, b.len) == (ssize_t)b.len);
			close(fd);
			snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1",
				 path);
			pp = popen(cmd, "r");
			CHECK(pp != NULL);
			if (pp) {
				size_t n = fread(msg, 1, sizeof(msg) - 1, pp);

				msg[n] = '\0';
				CHECK(pclose(pp) == 0);
				CHECK_STR(msg, "");
			}
			unlink(path);
		}
	}

	/* not mounted: only resctrl_active 0 */
	esnap.resctrl.active = false;
	nl_buf_reset(&b);
	CHECK_EQ_INT(nl_prom_encode(&esnap, 0, &b), 0);
	CHECK(b.data && strstr(b.data, "\nnumalens_resctrl_active 0\n") != NULL);
	CHECK(b.data && strstr(b.data, "numalens_vm_resctrl_info") == NULL &&
	      strstr(b.data, "rmid_exhausted") == NULL);
	/* collector off (the default): nothing */
	esnap.collectors[0].enabled = false;
	nl_buf_reset(&b);
	CHECK_EQ_INT(nl_prom_encode(&esnap, 0, &b), 0);
	CHECK(b.data && strstr(b.data, "resctrl") == NULL);
	esnap.resctrl.vms = NULL;
	esnap.resctrl.nvms = 0;
	nl_buf_free(&b);
}

NL_TEST_MAIN(NL_T(test_group_name), NL_T(test_features_and_tids),
	     NL_T(test_not_mounted), NL_T(test_lifecycle),
	     NL_T(test_rmid_exhaustion), NL_T(test_lock),
	     NL_T(test_free_and_refused_write), NL_T(test_recreate),
	     NL_T(test_encode))
