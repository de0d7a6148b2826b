#include "procscan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "paths.h"

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

struct procscan_priv {
	char *buf;      /* cmdline buffer, reused */
	size_t cap;
};

static int procscan_init(struct nl_state *st, void **priv)
{
	(void)st;
	*priv = calloc(1, sizeof(struct procscan_priv));
	return *priv ? 0 : -ENOMEM;
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
	if (pp)
		free(pp->buf);
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

		snprintf(k.comm, sizeof(k.comm), "%.15s", comm);
		return push_kworker(st, &k);
	}
	if (!nl_procscan_is_qemu_comm(comm))
		return 0;

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
	return rc;
}

const struct nl_source nl_source_procscan = {
	.name = "procscan",
	.default_enabled = true,
	.required = true,
	.init = procscan_init,
	.sample = procscan_sample,
	.free = procscan_free,
};
