/* Internals of `numalens apply` (exporter/apply.h), shared by its files and
 * reached by tests/unit/test_apply.c:
 *
 *   apply.c          command line, the fetch, the per-hint loop (fallbacks)
 *   follow.c         apply --follow: the poll loop, the set of applied ids,
 *                    the backoff while the server is away, signals
 *   apply_http.c     --url and the hints URL; GET through libcurl; the answer
 *   apply_actions.c  the action table: one row per numalens.v1.ActionOp
 *   apply_libvirt.c  vCPU, emulator and iothread pinning, live numatune
 *   apply_proc.c     thread affinity, migrate_pages(2), move_pages(2), and
 *                    the checks that a hint's PID and TIDs are still the VM's
 *
 * Everything an action prints goes to nl_apply_ctx.out (stdout in the
 * command), so a test reads it back. */
#ifndef NL_APPLY_PRIV_H
#define NL_APPLY_PRIV_H

#include <libvirt/libvirt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "apply.h"
#include "buf.h"
#include "config.h"
#include "types.h"
#include "numalens.pb-c.h"

/* Largest answer read from the server. */
#define NL_APPLY_MAX_RESPONSE (64u * 1024 * 1024)

/* The command line (apply.c). */
struct nl_apply_opts {
	const char *url, *id, *vm, *kind, *policy, *uri, *procfs;
	const char *state;         /* --follow: the file of applied ids, or NULL */
	const char *follow_only;   /* a --follow flag that was given, for the check */
	double timeout;            /* HTTP, seconds */
	double interval;           /* --follow: between polls */
	double backoff_max;        /* --follow: longest wait between retries */
	bool yes, dry_run, follow;
	bool insecure;             /* --insecure: a --url that is not loopback */
	/* client TLS and basic auth, for a numalens with --web.config.file */
	const char *ca_file;       /* --tls.ca-file: the server's CA */
	const char *cert_file;     /* --tls.cert-file: our certificate (mTLS) */
	const char *key_file;      /* --tls.key-file */
	const char *user;          /* --auth.user */
	const char *password_file; /* --auth.password-file */
};

/* How every request reaches the server: TLS (https URLs) and basic auth.
 * NULL members are left to libcurl's defaults. */
struct nl_apply_client {
	const char *ca_file, *cert_file, *key_file;
	const char *user, *password;
};
/* Use c for every request from now on (copied by pointer: it must outlive
 * them); NULL: none. */
void nl_apply_http_client(const struct nl_apply_client *c);
/* Fill c from o, reading the password file into pw (pwlen bytes). Return 0,
 * or 2 with a message on stderr ("numalens PROG: ..."). */
int nl_apply_client_from(const char *prog, const struct nl_apply_opts *o,
			 struct nl_apply_client *c, char *pw, size_t pwlen);

/* ---- HTTP (apply_http.c) ---- */

/* What GET /api/v1/hints is asked for; NULL members are left out. */
struct nl_apply_query {
	const char *policy, *vm, *kind, *id;
};

#define NL_APPLY_MAX_ARGS 8

/* An endpoint under PREFIX/api/v1/: ENDPOINT[/NAME[/SUB]]?KEY=VALUE&...
 * NAME (a VM name or UUID) and values are percent-encoded; an argument with
 * a NULL value is left out, the list ends at the first NULL key. */
struct nl_apply_path {
	const char *endpoint;      /* "hints", "vms", "placement", "arrivals" */
	const char *name;          /* NULL: none */
	const char *sub;           /* "profile", or NULL */
	const char *args[NL_APPLY_MAX_ARGS][2];
};

/* One "--name=value" or "--name value" flag at argv[*i] (*i moves past a
 * separate value): name and len (not NUL-ended at len), value. Return 0,
 * or 2 with a usage message on stderr ("numalens PROG: ..."). */
struct nl_cmd_flag {
	const char *name, *value;
	size_t len;
};
int nl_cmd_flag(const char *prog, int argc, char **argv, int *i, struct nl_cmd_flag *f);

/* The URL of `p` on the server `base` names: http[s]://HOST[:PORT][/PREFIX],
 * HOST a name, an IPv4 address or [IPv6]. *out is the caller's to free().
 * Return 0, -EINVAL (not such a URL: another scheme, user info (give
 * --auth.user), a query or fragment, port 0) or -ENOMEM. */
int nl_apply_api_url(const char *base, const struct nl_apply_path *p, char **out);

/* `s` with each control byte (C0 but tab and newline, DEL, UTF-8 C1) as \xNN; the
 * caller frees it; NULL when out of memory. Every string from a server is
 * passed through it before it is printed (nl_apply_decode()). */
char *nl_apply_escape_ctrl(const char *s);

/* Does the http URL name this host: localhost, 127.0.0.0/8 or [::1]? */
bool nl_apply_url_is_loopback(const char *url);

/* The same for GET PREFIX/api/v1/hints?... */
int nl_apply_hints_url(const char *base, const struct nl_apply_query *q, char **out);

struct nl_apply_reply {
	long status;
	char content_type[128];    /* "" when the server sent none */
	struct nl_buf body;
};

/* One request: a GET, or a POST of `body` when it is not NULL. */
struct nl_apply_req {
	const char *url;
	double timeout;            /* seconds to connect, and for the whole exchange */
	size_t max_bytes;          /* of the answer's body */
	const void *body;
	size_t body_len;
	const char *content_type;  /* of the body; NULL: protobuf */
	const char *agent;         /* User-Agent; NULL: numalens-apply */
};

/* The request through libcurl, asking for protobuf. Return 0 with any HTTP
 * status in *r, or -ETIMEDOUT, -EFBIG, -EHOSTUNREACH (cannot resolve),
 * -ECONNREFUSED (cannot connect), -ECANCELED (the stop flag was set),
 * -ENOMEM or -EPROTO, with a message in err. */
int nl_apply_http(const struct nl_apply_req *q, struct nl_apply_reply *r, char *err, size_t errlen);
/* nl_apply_http() of a GET. */
int nl_apply_http_get(const char *url, double timeout, size_t max_bytes,
		      struct nl_apply_reply *r, char *err, size_t errlen);
void nl_apply_reply_free(struct nl_apply_reply *r);

/* From now on a transfer stops (-ECANCELED) within about a second of *flag
 * turning non-zero, e.g. from a signal handler. NULL: never. */
void nl_apply_http_stop_on(volatile sig_atomic_t *flag);

/* The answer as a message of type d (2xx, protobuf, no unknown fields)
 * into *out, the caller's to protobuf_c_message_free_unpacked(). Return 0,
 * the HTTP status (>= 300) of an error answer, or -EPROTO (not protobuf,
 * not such a message), with a message in err that names `server`. */
int nl_apply_decode(const char *server, const struct nl_apply_reply *r,
		    const ProtobufCMessageDescriptor *d, ProtobufCMessage **out,
		    char *err, size_t errlen);

/* The hint list in the server's answer, or NULL with the exit status in
 * *ret (3 for a 404, the server's "no VM named ...", else 1) and a message
 * in err that names the server as `server`. */
Numalens__V1__HintList *nl_apply_hints_decode(const char *server,
					      const struct nl_apply_reply *r, int *ret,
					      char *err, size_t errlen);

/* ---- actions (apply_actions.c) ---- */

struct nl_apply_ctx {
	FILE *out;                 /* the log of what is (or would be) done */
	bool yes;                  /* act; else a dry run */
	virConnectPtr conn;        /* NULL: not connected to libvirt */
	int ncpus, maplen;         /* host CPUs as libvirt counts them */
};

struct nl_apply_op;

/* One action of a hint, as its op's validate() read it. */
struct nl_apply_act {
	const struct nl_apply_op *op;
	const Numalens__V1__Hint *hint;
	const Numalens__V1__Action *pb;
	virDomainPtr dom;          /* the hint's domain, or NULL */
	int index;                 /* vCPU, iothread id or TID; -1 when none */
	struct nl_cpuset cpus;     /* pin ops: the CPUs to pin to */
	struct nl_cpuset nodes;    /* numatune: the nodeset */
};

/* A row of the action table. */
struct nl_apply_op {
	Numalens__V1__ActionOp op;
	const char *name;          /* as the log says it: "pin vCPU" */
	/* Check the action's own fields (not the host) into *a. Return 0 or
	 * -EINVAL with an "error:" line. */
	int (*validate)(const struct nl_apply_ctx *c, struct nl_apply_act *a);
	/* Read the current state and, with c->yes, change it; log both.
	 * Return 0 or -errno (the hint's next fallback runs). */
	int (*run)(const struct nl_apply_ctx *c, const struct nl_apply_act *a);
	/* The op's fields, after the name on the "would:" / "apply:" line. */
	void (*describe)(const Numalens__V1__Action *a, FILE *out);
};

/* The row of `op`, or NULL (ACTION_OP_UNSPECIFIED, or newer than us). */
const struct nl_apply_op *nl_apply_op_find(Numalens__V1__ActionOp op);
/* The row's name, or "unknown action". */
const char *nl_apply_op_name(Numalens__V1__ActionOp op);

/* Log, validate and run one action of hint h. Return 0 or -errno. */
int nl_apply_action(const struct nl_apply_ctx *c, const Numalens__V1__Hint *h,
		    virDomainPtr dom, const Numalens__V1__Action *a);

/* Log and apply one hint: its domain, then its actions in order, each
 * `fallback` one only when the one before it failed. Return 0, or 1 when
 * an action failed with no fallback left. (apply.c) */
int nl_apply_hint(const struct nl_apply_ctx *c, const Numalens__V1__Hint *h);

/* Connect c to libvirt at o->uri (read-only unless o->yes). Without it a
 * dry run goes on; a change through libvirt then fails. (apply.c) */
void nl_apply_connect(const struct nl_apply_opts *o, struct nl_apply_ctx *c);

/* `bytes` for a log line: "1.50 GiB", "512 MiB", "4096 B". (apply.c) */
void nl_apply_fmt_bytes(uint64_t bytes, char *buf, size_t len);

/* ---- apply --follow (follow.c) ---- */

/* Poll, apply each new hint once, back off while the server is away, until
 * SIGINT or SIGTERM (exit status 0) or a fatal error (1). */
int nl_apply_follow(const struct nl_apply_opts *o);

/* The ids of the hints a follower applied (or, in a dry run, showed). */
struct nl_follow_ids;

struct nl_follow_ids *nl_follow_ids_new(bool dry_run);
void nl_follow_ids_free(struct nl_follow_ids *s);
bool nl_follow_ids_has(const struct nl_follow_ids *s, const char *id);
size_t nl_follow_ids_count(const struct nl_follow_ids *s);
/* Add id; with a state file open, append "ID applied|shown TIME NOTE" and
 * sync it to disk before returning. Return 0, -EEXIST, -EINVAL (empty,
 * longer than 64, blanks or control characters), -ENOMEM or the write's
 * -errno. */
int nl_follow_ids_add(struct nl_follow_ids *s, const char *id, const char *note);
/* Read the ids in the state file `path` (created when missing), then keep
 * it open for nl_follow_ids_add(). Ids a dry run only showed are taken by
 * a dry-run set alone. Return the number of ids read, or -errno. */
int nl_follow_ids_open(struct nl_follow_ids *s, const char *path);

/* The wait before retry number `failures` (1 the first) while the server
 * is away: `interval`, doubled for each failure after the first, at most
 * `max`. */
double nl_follow_backoff(double interval, double max, unsigned failures);

/* Of the n hints, those to apply now into out (room for n): a valid id not
 * in s nor earlier in the list, lower step first, the server's order
 * within a step. Return how many. */
size_t nl_follow_pick(Numalens__V1__Hint *const *hints, size_t n,
		      const struct nl_follow_ids *s, const Numalens__V1__Hint **out);

/* ---- libvirt executors (apply_libvirt.c) ---- */

int nl_apply_run_pin_vcpu(const struct nl_apply_ctx *c, const struct nl_apply_act *a);
int nl_apply_run_pin_emulator(const struct nl_apply_ctx *c, const struct nl_apply_act *a);
int nl_apply_run_pin_iothread(const struct nl_apply_ctx *c, const struct nl_apply_act *a);
int nl_apply_run_numatune(const struct nl_apply_ctx *c, const struct nl_apply_act *a);

/* The libvirt error message of the last failed call, never NULL. */
const char *nl_apply_lv_err(void);

/* A CPU set as a libvirt CPU map of `maplen` bytes for a host of `ncpus`
 * CPUs. Return 0, -ERANGE (a CPU this host does not have: the hint is from
 * another host) or -EINVAL (empty). */
int nl_apply_cpumap(const struct nl_cpuset *s, unsigned char *map, int maplen, int ncpus);

/* ---- process executors (apply_proc.c) ---- */

int nl_apply_run_pin_thread(const struct nl_apply_ctx *c, const struct nl_apply_act *a);
int nl_apply_run_migrate_pages(const struct nl_apply_ctx *c, const struct nl_apply_act *a);
int nl_apply_run_move_pages(const struct nl_apply_ctx *c, const struct nl_apply_act *a);

/* The users QEMU may run as: discovery's default (config.h). */
#define NL_APPLY_QEMU_USERS NL_DEFAULT_QEMU_USERS

/* Is `pid` a QEMU this host runs, by discovery's checks, which an
 * unprivileged user cannot fake: it runs as one of `qemu_users` (a
 * --discovery.qemu-users list; NULL: root only), or holds /dev/kvm open. */
bool nl_apply_pid_trusted(int pid, const char *qemu_users);
/* Is `pid` still the QEMU of VM `vm` (its -name, and trusted), under
 * --path.procfs? */
bool nl_apply_pid_is_vm(int pid, const char *vm);

/* Pages of `psz` bytes that hold `bytes`, rounded up. */
uint64_t nl_apply_pages_for(uint64_t bytes, long psz);

/* Is this /proc/PID/maps line guest RAM (private, writable, anonymous, at
 * least 2 MiB)? Fills *lo, *hi. */
bool nl_apply_maps_ram(const char *line, unsigned long *lo, unsigned long *hi);

/* Of `n` pages whose node move_pages(2) reported in status[], copy those
 * on node `from` into sel[], at most `limit`. Return how many. */
int nl_apply_pages_on(void *const *pages, const int *status, int n, int from,
		      uint64_t limit, void **sel);

/* A node mask of `nlongs` longs with the given node ids set. Return 0 or
 * -EINVAL (an id below 0 or past the mask). */
int nl_apply_node_mask(const int *nodes, size_t n, unsigned long *mask, size_t nlongs);

/* move_pages(2) of up to `bytes` of process pid's guest RAM from node
 * `from` to node `to`; with !yes only counts. *found: bytes seen on
 * `from` (up to `bytes`), *moved: bytes that moved. Return 0 or -errno. */
int nl_apply_move_pages(int pid, int from, int to, uint64_t bytes, bool yes,
			uint64_t *found, uint64_t *moved);

#endif
