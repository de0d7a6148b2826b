/* Internals of the resctrl source, for tests only. */
#ifndef NL_RESCTRL_PRIV_H
#define NL_RESCTRL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "paths.h"
#include "resctrl.h"
#include "state.h"

/* The registry row (resctrl.c). */
extern const struct nl_source nl_source_resctrl;

/* The changes the source makes to resctrl, replaceable so that a test can
 * emulate the kernel on a plain directory tree (where mkdir does not
 * create tasks and mon_data). Each returns 0 or -errno. */
struct nl_resctrl_ops {
	int (*mkdir)(const char *path, void *arg);
	int (*rmdir)(const char *path, void *arg);
	int (*write_task)(const char *tasks, pid_t tid, void *arg);
	void *arg;
};

/* One of our monitoring groups. */
struct nl_resctrl_group {
	char name[NL_NAME_MAX];        /* directory under mon_groups */
	char vm[NL_NAME_MAX];
	enum nl_resctrl_state state;
	bool created;                  /* the directory is ours and exists */
	bool warned;                   /* FOREIGN logged once */
	uint64_t gen;                  /* last cycle its VM was seen */
	uint64_t tasks_written;        /* write_task() calls that worked */
	int ndom;
	struct nl_resctrl_dom dom[NL_MAX_L3_DOMAINS];
};

/* Sorted TID list of a tasks file. */
struct nl_resctrl_tids {
	pid_t *v;
	size_t n, cap;
	bool loaded;
};

#define NL_RESCTRL_BACKOFF_MIN_NS (10ULL * 1000000000ULL)
#define NL_RESCTRL_BACKOFF_MAX_NS (300ULL * 1000000000ULL)

struct nl_resctrl_priv {
	struct nl_resctrl_ops ops;
	uint64_t (*now_ns)(void);      /* monotonic clock (tests: fake) */
	char root[NL_PATH_MAX];        /* <sysfs>/fs/resctrl */
	bool active;
	uint32_t features;             /* NL_RESCTRL_* */
	bool stale_pending;            /* leftover groups still to remove */
	struct nl_resctrl_group *groups;
	size_t ngroups, cap_groups;
	uint64_t gen;
	/* RMID exhaustion: no mkdir before retry_at_ns */
	bool exhausted;
	uint64_t retry_at_ns, backoff_ns;
	uint64_t mkdirs;               /* mkdir attempts (tests) */
	int lock_fd;                   /* held during a cycle's changes, -1 */
	bool lock_busy;                /* someone else held it this cycle */
	struct nl_complaint c_mkdir, c_write, c_read, c_lock;
	struct nl_resctrl_vm *out;     /* this cycle's VMs, sorted */
	size_t nout, cap_out;
	struct nl_resctrl pub;         /* the summary of the last cycle
					  (pub.vms = out); the row's publish
					  hook copies it into the snapshot */
};

struct nl_resctrl_priv *nl_resctrl_priv_new(const struct nl_resctrl_ops *ops,
					    uint64_t (*now_ns)(void));
/* Find resctrl under --path.sysfs, remove stale numalens-* groups. Return
 * 0 (also when resctrl or L3 monitoring is absent: p->active false). */
int nl_resctrl_setup(struct nl_resctrl_priv *p);

/* "numalens-<uuid>" when the VM has a UUID, else
 * "numalens-<name with every byte outside [A-Za-z0-9_.-] as '_'>-<pid>",
 * cut to fit. Returns buf. */
char *nl_resctrl_group_name(const char *vm, const char *uuid, pid_t pid,
			    char *buf, size_t len);

/* Parse mon_features: NL_RESCTRL_* bits of the three events we read. */
uint32_t nl_resctrl_parse_features(const char *text);

/* Load a tasks file (one TID per line) sorted. Return 0 or -errno. */
int nl_resctrl_tids_load(struct nl_resctrl_tids *t, const char *path);
bool nl_resctrl_tids_has(const struct nl_resctrl_tids *t, pid_t tid);
void nl_resctrl_tids_free(struct nl_resctrl_tids *t);

#endif
