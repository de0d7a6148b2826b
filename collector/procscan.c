#include "procscan.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "paths.h"
#include "threads.h"

/* ---- trust ---- */

int nl_procscan_parse_users(const char *list, uid_t *uids, int max)
{
	const char *p = list;
	int n = 0;

	if (!list || !*list)
		return -EINVAL;
	for (;;) {
		size_t len = strcspn(p, ",");
		char name[64], *end, pwbuf[1024];
		struct passwd pw, *pwp = NULL;
		unsigned long v;

		if (len == 0 || len >= sizeof(name) || n >= max)
			return -EINVAL;
		memcpy(name, p, len);
		name[len] = '\0';
		v = strtoul(name, &end, 10);
		if (isdigit((unsigned char)name[0]) && !*end)
			uids[n++] = (uid_t)v;
		else if (getpwnam_r(name, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp)
			uids[n++] = pwp->pw_uid;
		if (!p[len])
			break;
		p += len + 1;
	}
	return n;
}

int nl_proc_uid(pid_t pid, uid_t *uid)
{
	char path[NL_PATH_MAX], buf[4096];
	const char *line;
	struct stat sb;

	if (nl_path_proc(path, sizeof(path), "%d/status", (int)pid) < 0)
		return -ENAMETOOLONG;
	if (nl_read_file(path, buf, sizeof(buf)) > 0 &&
	    (line = strstr(buf, "\nUid:")) != NULL) {
		*uid = (uid_t)strtoul(line + 5, NULL, 10);
		return 0;
	}
	if (nl_path_proc(path, sizeof(path), "%d", (int)pid) < 0)
		return -ENAMETOOLONG;
	if (stat(path, &sb) < 0)
		return -errno;
	*uid = sb.st_uid;
	return 0;
}

bool nl_proc_holds_kvm(pid_t pid)
{
	char path[NL_PATH_MAX], link[NL_PATH_MAX], target[64];
	struct dirent *e;
	bool found = false;
	DIR *d;

	if (nl_path_proc(path, sizeof(path), "%d/fd", (int)pid) < 0 ||
	    !(d = nl_opendir(path)))
		return false;
	while (!found && (e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.' ||
		    snprintf(link, sizeof(link), "%s/%s", path, e->d_name) >= (int)sizeof(link))
			continue;
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, "/dev/kvm") == 0;
		}
	}
	closedir(d);
	return found;
}

bool nl_procscan_is_qemu_comm(const char *comm)
{
	/* "qemu-system-x86" (argv[0] truncated to 15 chars), RHEL's
	 * "qemu-kvm", and the "kvm" wrapper of some distributions. */
	return strncmp(comm, "qemu-system-", 12) == 0 ||
	       strcmp(comm, "qemu-kvm") == 0 || strcmp(comm, "kvm") == 0;
}

/* Copy QEMU option element [s, s+n) into dst, undoing ",," escaping. */
static void copy_opt(char *dst, size_t dlen, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < dlen; i++) {
		dst[o++] = s[i];
		if (s[i] == ',' && i + 1 < n && s[i + 1] == ',')
			i++;
	}
	dst[o] = '\0';
}

/* Find the name in a -name value: "guest=NAME,debug-threads=on", or the
 * legacy "NAME,process=..." form. Commas inside are doubled by libvirt. */
static void parse_name_opt(const char *v, char *name, size_t name_len)
{
	const char *p = v;

	while (*p) {
		const char *e = p;

		/* one element ends at a single comma */
		while (*e && !(*e == ',' && e[1] != ',')) {
			if (*e == ',' && e[1] == ',')
				e++;
			e++;
		}
		if (strncmp(p, "guest=", 6) == 0) {
			copy_opt(name, name_len, p + 6, (size_t)(e - p - 6));
			return;
		}
		if (p == v && !memchr(p, '=', (size_t)(e - p)))
			copy_opt(name, name_len, p, (size_t)(e - p));
		if (!*e)
			break;
		p = e + 1;
	}
}

void nl_procscan_parse_cmdline(const char *cmdline, size_t len,
			       char *name, size_t name_len,
			       char *uuid, size_t uuid_len)
{
	const char *p = cmdline, *end = cmdline + len;

	name[0] = '\0';
	uuid[0] = '\0';
	while (p < end) {
		size_t n = strnlen(p, (size_t)(end - p));
		const char *next = p + n + 1;

		if (next < end && (strcmp(p, "-name") == 0 ||
				   strcmp(p, "--name") == 0)) {
			name[0] = '\0';
			parse_name_opt(next, name, name_len);
		} else if (next < end && (strcmp(p, "-uuid") == 0 ||
					  strcmp(p, "--uuid") == 0)) {
			snprintf(uuid, uuid_len, "%s", next);
		}
		p = next;
	}
}

bool nl_procscan_cmdline_incoming(const char *cmdline, size_t len)
{
	const char *p = cmdline, *end = cmdline + len;

	while (p < end) {
		size_t n = strnlen(p, (size_t)(end - p));
		const char *next = p + n + 1;

		if (next < end && *next && (strcmp(p, "-incoming") == 0 ||
					    strcmp(p, "--incoming") == 0))
			return true;
		p = next;
	}
	return false;
}

int nl_procscan_stat_field(const char *stat, int field, uint64_t *out)
{
	const char *p = strrchr(stat, ')');
	int f = 2;

	if (!p || field < 3)
		return -EINVAL;
	p++;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		if (++f == field) {
			*out = strtoull(p, NULL, 10);
			return 0;
		}
		while (*p && *p != ' ')
			p++;
	}
	return -EINVAL;
}

int nl_procscan_parse_stat(const char *stat, uint64_t *starttime, int *cpu)
{
	const char *p = strrchr(stat, ')');
	int field = 2;   /* the ')' closes field 2 (comm) */

	if (!p)
		return -EINVAL;
	p++;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		field++;
		if (field == 22 && starttime)
			*starttime = strtoull(p, NULL, 10);
		if (field == 39) {
			if (cpu)
				*cpu = atoi(p);
			return 0;
		}
		while (*p && *p != ' ')
			p++;
	}
	/* Old kernels may lack field 39; starttime alone is enough then. */
	if (field >= 22) {
		if (cpu)
			*cpu = -1;
		return 0;
	}
	return -EINVAL;
}

/* Append one element of size sz to a growable array. */
static int push(void **arr, size_t *n, size_t *cap, size_t sz, const void *elem)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *na = realloc(*arr, ncap * sz);

		if (!na)
			return -ENOMEM;
		*arr = na;
		*cap = ncap;
	}
	memcpy((char *)*arr + *n * sz, elem, sz);
	(*n)++;
	return 0;
}

static int push_qproc(struct nl_state *st, const struct nl_qproc *q)
{
	return push((void **)&st->qprocs, &st->nqprocs, &st->cap_qprocs,
		    sizeof(*q), q);
}

static int push_kworker(struct nl_state *st, const struct nl_kworker *k)
{
	return push((void **)&st->kworkers, &st->nkworkers, &st->cap_kworkers,
		    sizeof(*k), k);
}

/* ---- -incoming QEMUs ---- */

/* Has it run the guest, from this one look? */
static bool incoming_started(const struct nl_incoming_obs *o)
{
	return o->guest_ticks > 0 || o->in_kvm_run > 0 ||
	       (o->nvcpus > 0 && o->run_ns > (uint64_t)o->nvcpus * NL_INCOMING_SETUP_NS);
}

enum nl_incoming nl_procscan_incoming_next(enum nl_incoming s, bool fresh,
					   const struct nl_incoming_obs *prev,
					   const struct nl_incoming_obs *cur)
{
	switch (s) {
	case NL_INCOMING_UNSEEN:
		if (incoming_started(cur))
			return fresh ? NL_INCOMING_ARRIVED : NL_INCOMING_RAN;
		return NL_INCOMING_WATCH;
	case NL_INCOMING_WATCH:
	case NL_INCOMING_WAITING:
		if (incoming_started(cur))
			return NL_INCOMING_ARRIVED;
		/* vCPU threads still appearing: QEMU is setting up */
		if (cur->nvcpus == 0 || cur->nvcpus != prev->nvcpus ||
		    cur->run_ns < prev->run_ns)
			return NL_INCOMING_WATCH;
		if (cur->run_ns == prev->run_ns)
			return NL_INCOMING_WAITING;
		/* They ran since the last scan: that is the start only if
		 * they had been idle a whole scan before (else: setup). */
		return s == NL_INCOMING_WAITING ? NL_INCOMING_ARRIVED :
						  NL_INCOMING_WATCH;
	case NL_INCOMING_ARRIVED:
	case NL_INCOMING_RAN:
		break;
	}
	return s;
}

/* One -incoming QEMU process being watched. */
struct incoming_rec {
	pid_t pid;
	uint64_t starttime;
	enum nl_incoming state;
	struct nl_incoming_obs obs;   /* the last observation */
	uint64_t seen_scan;           /* index of the last scan that saw it */
	uint64_t arrived_ns;          /* st->now_ns of the scan that saw it start */
	bool applied;                 /* given to its tracked VM */
};

#define NL_QEMU_USERS_MAX 16

struct procscan_priv {
	char *buf;      /* cmdline buffer, reused */
	size_t cap;
	uid_t uids[NL_QEMU_USERS_MAX];   /* --discovery.qemu-users */
	int nuids;
	/* processes that looked like a VM but failed the checks, this scan */
	unsigned untrusted;
	pid_t untrusted_pid;
	struct nl_complaint spoof;
	struct incoming_rec *inc;
	size_t ninc, cap_inc;
	uint64_t scans;   /* completed scans */
};

/* Is task tid of pid a vCPU thread: by name ("CPU N/KVM"; QEMU names its
 * threads with debug-threads=on, which libvirt sets), or by_cgroup by
 * libvirt's per-vCPU cgroup. */
static bool thread_is_vcpu(struct procscan_priv *pp, pid_t pid, const char *tid,
			   bool by_cgroup)
{
	char path[NL_PATH_MAX], comm[64];
	int idx;

	if (!by_cgroup) {
		if (nl_path_proc(path, sizeof(path), "%d/task/%s/comm", (int)pid, tid) < 0 ||
		    nl_read_file(path, comm, sizeof(comm)) < 0)
			return false;
		nl_rstrip(comm);
		return nl_threads_classify_comm(comm, &idx) == NL_ROLE_VCPU;
	}
	if (nl_path_proc(path, sizeof(path), "%d/task/%s/cgroup", (int)pid, tid) < 0 ||
	    nl_read_file_alloc(path, &pp->buf, &pp->cap) < 0)
		return false;
	return nl_threads_classify_cgroup(pp->buf, &idx) == NL_ROLE_VCPU;
}

bool nl_procscan_syscall_is_kvm_run(const char *syscall)
{
	unsigned long nr, fd, req;

	return sscanf(syscall, "%lu 0x%lx 0x%lx", &nr, &fd, &req) == 3 &&
	       nr == 16 && req == 0xae80;
}

/* /proc/PID/task/TID/syscall is readable only with ptrace access (root):
 * false when it is not. */
static bool in_kvm_run(pid_t pid, const char *tid)
{
	char path[NL_PATH_MAX], sc[256];

	if (nl_path_proc(path, sizeof(path), "%d/task/%s/syscall", (int)pid, tid) < 0 ||
	    nl_read_file(path, sc, sizeof(sc)) < 0)
		return false;
	return nl_procscan_syscall_is_kvm_run(sc);
}

/* Add vCPU thread tid's guest time and on-CPU time (schedstat, else
 * utime + stime) to o. */
static void add_vcpu(pid_t pid, const char *tid, struct nl_incoming_obs *o)
{
	char path[NL_PATH_MAX], stat[1024], sched[128];
	uint64_t v, ut, stt;

	if (nl_path_proc(path, sizeof(path), "%d/task/%s/stat", (int)pid, tid) < 0 ||
	    nl_read_file(path, stat, sizeof(stat)) < 0)
		return;     /* gone meanwhile */
	o->nvcpus++;
	if (nl_procscan_stat_field(stat, 43, &v) == 0)
		o->guest_ticks += v;
	if (in_kvm_run(pid, tid))
		o->in_kvm_run++;
	if (nl_path_proc(path, sizeof(path), "%d/task/%s/schedstat", (int)pid, tid) == 0 &&
	    nl_read_file(path, sched, sizeof(sched)) > 0) {
		o->run_ns += strtoull(sched, NULL, 10);
	} else if (nl_procscan_stat_field(stat, 14, &ut) == 0 &&
		   nl_procscan_stat_field(stat, 15, &stt) == 0) {
		long hz = sysconf(_SC_CLK_TCK);

		o->run_ns += (ut + stt) * (uint64_t)(1000000000L / (hz > 0 ? hz : 100));
	}
}

static void incoming_observe(struct procscan_priv *pp, pid_t pid,
			     struct nl_incoming_obs *o)
{
	char path[NL_PATH_MAX];

	memset(o, 0, sizeof(*o));
	if (nl_path_proc(path, sizeof(path), "%d/task", (int)pid) < 0)
		return;
	for (int by_cgroup = 0; by_cgroup < 2 && o->nvcpus == 0; by_cgroup++) {
		DIR *d = nl_opendir(path);
		struct dirent *de;

		if (!d)
			return;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			if (thread_is_vcpu(pp, pid, de->d_name, by_cgroup))
				add_vcpu(pid, de->d_name, o);
		}
		closedir(d);
	}
}

/* A QEMU with -incoming, seen in this scan: one more step of its state. */
static int incoming_scan(struct nl_state *st, struct procscan_priv *pp,
			 const struct nl_qproc *q)
{
	struct incoming_rec *r = NULL;
	struct nl_incoming_obs cur;
	enum nl_incoming next;
	bool fresh = false;

	for (size_t i = 0; i < pp->ninc && !r; i++)
		if (pp->inc[i].pid == q->pid && pp->inc[i].starttime == q->starttime)
			r = &pp->inc[i];
	if (!r) {
		struct incoming_rec n = { .pid = q->pid, .starttime = q->starttime };

		if (push((void **)&pp->inc, &pp->ninc, &pp->cap_inc, sizeof(n), &n) < 0)
			return -ENOMEM;
		r = &pp->inc[pp->ninc - 1];
		fresh = pp->scans > 0;
	}
	r->seen_scan = pp->scans;
	if (r->state == NL_INCOMING_ARRIVED || r->state == NL_INCOMING_RAN)
		return 0;
	incoming_observe(pp, q->pid, &cur);
	next = nl_procscan_incoming_next(r->state, fresh, &r->obs, &cur);
	r->obs = cur;
	if (next == NL_INCOMING_ARRIVED) {
		r->arrived_ns = st->now_ns;
		nl_info("QEMU %d (%s), started with -incoming, began running: the VM arrived",
			(int)q->pid, q->name[0] ? q->name : "unnamed");
	}
	r->state = next;
	return 0;
}

/* After a whole scan: forget the processes that are gone, give each new
 * arrival to its VM once the VM is tracked (the vms source runs after this
 * one, so a QEMU first seen this scan gets it next cycle). An arrival
 * libvirt reported already is kept: it says more. */
static void incoming_finish(struct nl_state *st, struct procscan_priv *pp)
{
	size_t w = 0;

	for (size_t i = 0; i < pp->ninc; i++) {
		struct incoming_rec *r = &pp->inc[i];

		if (r->seen_scan != pp->scans)
			continue;
		for (size_t j = 0; r->state == NL_INCOMING_ARRIVED && !r->applied &&
				   j < st->nvms; j++) {
			struct nl_vm *vm = st->vms[j];

			if (vm->pid != r->pid || vm->starttime != r->starttime)
				continue;
			if (vm->arrival == NL_ARRIVAL_NONE) {
				vm->arrival = NL_ARRIVAL_INCOMING;
				vm->arrived_ns = r->arrived_ns;
			}
			r->applied = true;
		}
		pp->inc[w++] = *r;
	}
	pp->ninc = w;
	pp->scans++;
}

static int procscan_init(struct nl_state *st, void **priv)
{
	const char *users = st->cfg && st->cfg->qemu_users ?
			    st->cfg->qemu_users : NL_DEFAULT_QEMU_USERS;
	struct procscan_priv *pp = calloc(1, sizeof(*pp));
	int n;

	if (!pp)
		return -ENOMEM;
	n = nl_procscan_parse_users(users, pp->uids, NL_QEMU_USERS_MAX);
	if (n < 0) {
		nl_err("--discovery.qemu-users=%s: a comma-separated list of at most %d users",
			 users, NL_QEMU_USERS_MAX);
		free(pp);
		return n;
	}
	pp->nuids = n;
	*priv = pp;
	return 0;
}

/* A QEMU is one if it runs as one of the QEMU users or holds /dev/kvm
 * open: a user who can do either could run a VM anyway. */
static bool qemu_trusted(const struct procscan_priv *pp, pid_t pid)
{
	uid_t uid;

	if (nl_proc_uid(pid, &uid) < 0)
		return false;
	for (int i = 0; i < pp->nuids; i++)
		if (pp->uids[i] == uid)
			return true;
	return nl_proc_holds_kvm(pid);
}

/* Only a kernel thread has an empty command line (and no mm): a process
 * that merely calls itself "vhost-N" has one. */
static bool is_kernel_thread(struct procscan_priv *pp, pid_t pid)
{
	char path[NL_PATH_MAX];

	return nl_path_proc(path, sizeof(path), "%d/cmdline", (int)pid) == 0 &&
	       nl_read_file_alloc(path, &pp->buf, &pp->cap) == 0;
}

static void untrusted(struct procscan_priv *pp, pid_t pid)
{
	if (!pp->untrusted++ || pid < pp->untrusted_pid)
		pp->untrusted_pid = pid;
}

static void procscan_free(struct nl_state *st, void *priv)
{
	struct procscan_priv *pp = priv;

	free(st->qprocs);
	st->qprocs = NULL;
	st->nqprocs = st->cap_qprocs = 0;
	free(st->kworkers);
	st->kworkers = NULL;
	st->nkworkers = st->cap_kworkers = 0;
	if (pp) {
		free(pp->buf);
		free(pp->inc);
	}
	free(pp);
}

static int scan_one(struct nl_state *st, struct procscan_priv *pp, pid_t pid)
{
	char path[NL_PATH_MAX], comm[64], stat[1024];
	struct nl_qproc q;
	ssize_t n;

	if (nl_path_proc(path, sizeof(path), "%d/comm", (int)pid) < 0)
		return 0;
	if (nl_read_file(path, comm, sizeof(comm)) < 0)
		return 0;     /* gone meanwhile: not an error */
	nl_rstrip(comm);

	if (strncmp(comm, "vhost-", 6) == 0 && isdigit((unsigned char)comm[6])) {
		struct nl_kworker k = { .pid = pid, .owner = atoi(comm + 6) };

		if (!is_kernel_thread(pp, pid)) {
			untrusted(pp, pid);
			return 0;
		}
		snprintf(k.comm, sizeof(k.comm), "%.15s", comm);
		return push_kworker(st, &k);
	}
	if (!nl_procscan_is_qemu_comm(comm))
		return 0;
	if (!qemu_trusted(pp, pid)) {
		untrusted(pp, pid);
		return 0;
	}

	memset(&q, 0, sizeof(q));
	q.pid = pid;
	if (nl_path_proc(path, sizeof(path), "%d/stat", (int)pid) < 0 ||
	    nl_read_file(path, stat, sizeof(stat)) < 0 ||
	    nl_procscan_parse_stat(stat, &q.starttime, NULL) < 0)
		return 0;
	if (nl_path_proc(path, sizeof(path), "%d/cmdline", (int)pid) < 0)
		return 0;
	n = nl_read_file_alloc(path, &pp->buf, &pp->cap);
	if (n < 0)
		return 0;
	nl_procscan_parse_cmdline(pp->buf, (size_t)n, q.name, sizeof(q.name),
				  q.uuid, sizeof(q.uuid));
	if (nl_procscan_cmdline_incoming(pp->buf, (size_t)n) &&
	    incoming_scan(st, pp, &q) < 0)
		return -ENOMEM;
	return push_qproc(st, &q);
}

static int procscan_sample(struct nl_state *st, void *priv)
{
	struct procscan_priv *pp = priv;
	char path[NL_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	st->nqprocs = 0;
	st->nkworkers = 0;
	pp->untrusted = 0;
	if (nl_path_proc(path, sizeof(path), "%s", "") < 0)
		return -ENAMETOOLONG;
	d = nl_opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		rc = scan_one(st, pp, (pid_t)pid);
		if (rc < 0)
			break;
	}
	closedir(d);
	if (pp->untrusted)
		nl_complain(&pp->spoof, NL_LOG_WARN,
			    "discovery: ignoring %u process(es) named like a QEMU or vhost worker that are not one (PID %d: not run by --discovery.qemu-users, no /dev/kvm; or a vhost name with a command line)",
			    pp->untrusted, (int)pp->untrusted_pid);
	else if (pp->spoof.active)
		nl_complain_clear(&pp->spoof, "discovery: no more look-alike QEMU processes");
	if (rc == 0)
		incoming_finish(st, pp);
	return rc;
}

/* Arrivals of QEMUs first seen by this cycle's scan: the vms source
 * tracked their VM after the scan, so they go into this snapshot here and
 * into the VM at the next scan. libvirt's publish, later in the run order,
 * names the arrival more precisely when it knows it. */
static int procscan_publish(const struct nl_state *st, void *priv,
			    struct nl_snapshot *snap)
{
	const struct procscan_priv *pp = priv;

	for (size_t i = 0; i < pp->ninc; i++) {
		const struct incoming_rec *r = &pp->inc[i];

		for (size_t j = 0; r->state == NL_INCOMING_ARRIVED && !r->applied &&
				   j < snap->nvms; j++) {
			struct nl_vm_snap *v = &snap->vms[j];

			if (v->pid != r->pid || v->arrival != NL_ARRIVAL_NONE)
				continue;
			v->arrival = NL_ARRIVAL_INCOMING;
			v->arrival_age_seconds = st->now_ns > r->arrived_ns ?
				(double)(st->now_ns - r->arrived_ns) / 1e9 : 0;
		}
	}
	return 0;
}

const struct nl_source nl_source_procscan = {
	.name = "procscan",
	.default_enabled = true,
	.required = true,
	.init = procscan_init,
	.sample = procscan_sample,
	.publish = procscan_publish,
	.free = procscan_free,
};
