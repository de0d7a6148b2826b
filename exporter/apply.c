/* `numalens apply`: see apply.h and docs/api.md ("Reference actuator").
 *
 * The hints come from GET /api/v1/hints as protobuf over a small HTTP/1.1
 * client (one request, Connection: close). Each hint's actions run in
 * order; an action marked `fallback` runs only when the action before it
 * failed (live numatune first, migrate_pages(2) when libvirt cannot). Before
 * a page move the hint's PID is checked to still be that VM's QEMU. */
#include "apply_priv.h"

#include <ctype.h>
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <math.h>
#include <netdb.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "numalens.pb-c.h"
#include "paths.h"
#include "pbjson.h"
#include "types.h"

#define MAX_RESPONSE (64u * 1024 * 1024)
#define NL_MPOL_MF_MOVE (1 << 1)
#define MOVE_BATCH 1024

/* ---- URL and HTTP ---- */

int nl_apply_parse_url(const char *s, struct nl_url *u)
{
	const char *h, *hend, *p, *path;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "http://", 7) != 0)
		return -EINVAL;
	h = s + 7;
	path = strchr(h, '/');
	if (!path)
		path = h + strlen(h);
	if (*h == '[') {
		hend = memchr(h, ']', (size_t)(path - h));
		if (!hend)
			return -EINVAL;
		n = (size_t)(hend - h - 1);
		if (n == 0 || n >= sizeof(u->host))
			return -EINVAL;
		memcpy(u->host, h + 1, n);
		p = hend + 1;
	} else {
		const char *colon = memchr(h, ':', (size_t)(path - h));

		hend = colon ? colon : path;
		n = (size_t)(hend - h);
		if (n == 0 || n >= sizeof(u->host))
			return -EINVAL;
		memcpy(u->host, h, n);
		p = hend;
	}
	if (*p == ':') {
		n = (size_t)(path - p - 1);
		if (n == 0 || n >= sizeof(u->port))
			return -EINVAL;
		memcpy(u->port, p + 1, n);
		if (strspn(u->port, "0123456789") != n || atoi(u->port) > 65535 ||
		    atoi(u->port) == 0)
			return -EINVAL;
	} else if (p != path) {
		return -EINVAL;
	} else {
		snprintf(u->port, sizeof(u->port), "80");
	}
	n = strlen(path);
	while (n && path[n - 1] == '/')
		n--;
	if (n >= sizeof(u->path))
		return -EINVAL;
	memcpy(u->path, path, n);
	return 0;
}

void nl_apply_urlencode(const char *s, struct nl_buf *out)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			nl_buf_putc(out, (char)*p);
		else
			nl_buf_printf(out, "%%%02X", *p);
	}
}

static const char *find_header(const char *head, size_t hlen, const char *name,
			       size_t *vlen)
{
	size_t n = strlen(name);

	for (const char *p = head; p < head + hlen;) {
		const char *eol = memchr(p, '\n', (size_t)(head + hlen - p));
		const char *end = eol ? eol : head + hlen;

		if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(end - v);
			while (*vlen && (v[*vlen - 1] == '\r' || v[*vlen - 1] == ' '))
				(*vlen)--;
			return v;
		}
		p = end + 1;
	}
	return NULL;
}

int nl_apply_parse_response(const char *raw, size_t len, int *status,
			    char *ctype, size_t ctlen, struct nl_buf *body)
{
	const char *sep = NULL, *b, *v;
	size_t hlen, vlen;

	for (size_t i = 0; i + 3 < len; i++) {
		if (memcmp(raw + i, "\r\n\r\n", 4) == 0) {
			sep = raw + i;
			break;
		}
	}
	if (!sep || len < 12 || strncmp(raw, "HTTP/1.", 7) != 0 || raw[8] != ' ' ||
	    !isdigit((unsigned char)raw[9]))
		return -EPROTO;
	*status = atoi(raw + 9);
	hlen = (size_t)(sep - raw) + 2;
	b = sep + 4;
	ctype[0] = '\0';
	v = find_header(raw, hlen, "Content-Type", &vlen);
	if (v)
		snprintf(ctype, ctlen, "%.*s", (int)vlen, v);
	v = find_header(raw, hlen, "Transfer-Encoding", &vlen);
	if (v && vlen >= 7 && strncasecmp(v, "chunked", 7) == 0) {
		const char *p = b, *end = raw + len;

		for (;;) {
			char *e;
			unsigned long sz = strtoul(p, &e, 16);
			const char *crlf;

			if (e == p)
				return -EPROTO;
			crlf = memchr(e, '\n', (size_t)(end - e));
			if (!crlf)
				return -EPROTO;
			p = crlf + 1;
			if (sz == 0)
				break;
			if (sz > (size_t)(end - p))
				return -EPROTO;
			nl_buf_add(body, p, sz);
			p += sz;
			if (p + 2 > end || p[0] != '\r' || p[1] != '\n')
				return -EPROTO;
			p += 2;
		}
		return body->err ? -ENOMEM : 0;
	}
	v = find_header(raw, hlen, "Content-Length", &vlen);
	if (v) {
		unsigned long long n = strtoull(v, NULL, 10);

		if (n > len - (size_t)(b - raw))
			return -EPROTO;    /* truncated */
		nl_buf_add(body, b, (size_t)n);
	} else {
		nl_buf_add(body, b, len - (size_t)(b - raw));
	}
	return body->err ? -ENOMEM : 0;
}

/* GET `target` (path and query) from u. Return 0 with the response, or
 * -errno with a message on stderr. */
static int http_get(const struct nl_url *u, const char *target, double timeout,
		    int *status, char *ctype, size_t ctlen, struct nl_buf *body)
{
	struct addrinfo hints = { 0 }, *ai = NULL, *a;
	struct timeval tv = { (time_t)timeout, (long)((timeout - floor(timeout)) * 1e6) };
	struct nl_buf req = { 0 }, raw = { 0 };
	int fd = -1, rc, gai;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(u->host, u->port, &hints, &ai);
	if (gai) {
		fprintf(stderr, "numalens apply: cannot resolve %s: %s\n", u->host, gai_strerror(gai));
		return -EHOSTUNREACH;
	}
	rc = -ECONNREFUSED;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
		fd = -1;
	}
	if (rc) {
		fprintf(stderr, "numalens apply: cannot connect to %s port %s: %s\n",
			u->host, u->port, strerror(-rc));
		goto cleanup;
	}
	nl_buf_printf(&req, "GET %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
		      "Accept: application/x-protobuf\r\nUser-Agent: numalens-apply\r\n"
		      "Connection: close\r\n\r\n", u->path, target,
		      strchr(u->host, ':') ? "[" : "", u->host,
		      strchr(u->host, ':') ? "]" : "", u->port);
	if (req.err) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (size_t off = 0; off < req.len;) {
		ssize_t w = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);

		if (w <= 0) {
			rc = w < 0 ? -errno : -EPIPE;
			fprintf(stderr, "numalens apply: sending the request: %s\n", strerror(-rc));
			goto cleanup;
		}
		off += (size_t)w;
	}
	for (;;) {
		ssize_t r;

		if (nl_buf_reserve(&raw, 65536)) {
			rc = -ENOMEM;
			goto cleanup;
		}
		r = recv(fd, raw.data + raw.len, 65536, 0);
		if (r < 0) {
			rc = -errno;
			fprintf(stderr, "numalens apply: reading the response: %s\n",
				rc == -EAGAIN ? "timed out" : strerror(-rc));
			goto cleanup;
		}
		if (r == 0)
			break;
		raw.len += (size_t)r;
		if (raw.len > MAX_RESPONSE) {
			rc = -EFBIG;
			fprintf(stderr, "numalens apply: response larger than %u bytes\n", MAX_RESPONSE);
			goto cleanup;
		}
	}
	rc = nl_apply_parse_response(raw.data ? raw.data : "", raw.len, status, ctype,
				     ctlen, body);
	if (rc)
		fprintf(stderr, "numalens apply: malformed HTTP response from %s\n", u->host);
cleanup:
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	nl_buf_free(&req);
	nl_buf_free(&raw);
	return rc;
}

/* ---- options ---- */

struct opts {
	const char *url, *id, *vm, *kind, *policy, *uri, *procfs;
	double timeout;
	bool yes;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: numalens apply (--id=ID | --vm=NAME [--kind=KIND]) [flags]\n\n"
		"Fetch hints from a running numalens and apply them through libvirt.\n"
		"Without --yes nothing changes: every action is printed with its\n"
		"libvirt call and virsh equivalent. With --yes each change is logged\n"
		"with the value before and after. evict hints are never acted on.\n\n"
		"Flags:\n"
		"  --url=URL           numalens to ask (default http://127.0.0.1:9808;\n"
		"                      e.g. http://[::1]:9808; http only)\n"
		"  --id=ID             the hint to apply\n"
		"  --vm=NAME           every hint for VM NAME (incl. room-making moves\n"
		"                      of other VMs for it), in step order\n"
		"  --kind=KIND         with --vm: pin_vcpus, migrate_memory,\n"
		"                      pin_vmm_threads or evict\n"
		"  --policy=POLICY     locality, simple, dino, asymsched (default: the\n"
		"                      server's --hints.policy)\n"
		"  --libvirt.uri=URI   libvirt connection (default qemu:///system)\n"
		"  --path.procfs=PATH  procfs mountpoint (default /proc)\n"
		"  --timeout=SECONDS   HTTP timeout (default 10)\n"
		"  --yes               apply; without it, a dry run\n\n"
		"Exit status: 0 applied (or dry run), 1 an action failed, 2 usage,\n"
		"3 no matching hint.\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
		{ "url", offsetof(struct opts, url) },
		{ "id", offsetof(struct opts, id) },
		{ "vm", offsetof(struct opts, vm) },
		{ "kind", offsetof(struct opts, kind) },
		{ "policy", offsetof(struct opts, policy) },
		{ "libvirt.uri", offsetof(struct opts, uri) },
		{ "path.procfs", offsetof(struct opts, procfs) },
	};

	memset(o, 0, sizeof(*o));
	o->url = "http://127.0.0.1:9808";
	o->uri = "qemu:///system";
	o->procfs = "/proc";
	o->timeout = 10;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;
		size_t n;
		bool found = false;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(a, "--yes")) {
			o->yes = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "numalens apply: unexpected argument \"%s\" (see --help)\n", a);
			return 2;
		}
		a += 2;
		val = strchr(a, '=');
		n = val ? (size_t)(val - a) : strlen(a);
		if (val) {
			val++;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "numalens apply: --%s needs a value\n", a);
			return 2;
		}
		if (n == 7 && !strncmp(a, "timeout", 7)) {
			char *end;

			o->timeout = strtod(val, &end);
			if (end == val || *end || !(o->timeout > 0 && o->timeout <= 3600)) {
				fprintf(stderr, "numalens apply: --timeout: want seconds in (0, 3600]\n");
				return 2;
			}
			continue;
		}
		for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
			if (strlen(strs[k].name) == n && !strncmp(a, strs[k].name, n)) {
				*(const char **)((char *)o + strs[k].off) = val;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "numalens apply: unknown flag --%.*s (see --help)\n", (int)n, a);
			return 2;
		}
	}
	if (!o->id && !o->vm) {
		fprintf(stderr, "numalens apply: give --id=ID or --vm=NAME (see --help)\n");
		return 2;
	}
	if (o->kind && !o->vm) {
		fprintf(stderr, "numalens apply: --kind goes with --vm\n");
		return 2;
	}
	/* the PIDs and TIDs of a fixture tree are unrelated real processes */
	if (o->yes && strcmp(o->procfs, "/proc") != 0) {
		fprintf(stderr, "numalens apply: --yes acts on real processes: it needs --path.procfs=/proc\n");
		return 2;
	}
	return 0;
}

/* ---- libvirt ---- */

static void lv_silent(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static const char *lv_err(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

static void map_format(const unsigned char *map, int maplen, char *buf, size_t len)
{
	struct nl_cpuset s;

	nl_cpuset_zero(&s);
	for (int c = 0; c < maplen * 8 && c < NL_MAX_CPUS; c++)
		if (VIR_CPU_USABLE(map, maplen, 0, c))
			nl_cpuset_set(&s, c);
	nl_cpuset_format(&s, buf, len);
}

/* CPU list -> libvirt map of `ncpus` CPUs. Return 0 or -ERANGE (a CPU this
 * host does not have: the hint is from another host) / -EINVAL. */
static int map_parse(const char *list, unsigned char *map, int maplen, int ncpus)
{
	struct nl_cpuset s;
	int rc = nl_cpuset_parse(&s, list ? list : "");

	if (rc)
		return rc;
	memset(map, 0, (size_t)maplen);
	for (int c = 0; c < NL_MAX_CPUS; c++) {
		if (!nl_cpuset_isset(&s, c))
			continue;
		if (c >= ncpus)
			return -ERANGE;
		VIR_USE_CPU(map, c);
	}
	return nl_cpuset_count(&s) ? 0 : -EINVAL;
}

struct ctx {
	const struct opts *o;
	virConnectPtr conn;
	int ncpus, maplen;
};

static int vcpu_pin_now(struct ctx *c, virDomainPtr dom, int vcpu, char *buf, size_t len)
{
	int max = virDomainGetMaxVcpus(dom), rc = -EIO;
	unsigned char *maps;

	if (max <= 0 || vcpu >= max)
		return -ENOENT;
	maps = calloc((size_t)max, (size_t)c->maplen);
	if (!maps)
		return -ENOMEM;
	if (virDomainGetVcpuPinInfo(dom, max, maps, c->maplen, VIR_DOMAIN_AFFECT_LIVE) >= 0) {
		map_format(maps + (size_t)vcpu * (size_t)c->maplen, c->maplen, buf, len);
		rc = 0;
	}
	free(maps);
	return rc;
}

static int emulator_pin_now(struct ctx *c, virDomainPtr dom, char *buf, size_t len)
{
	unsigned char *map = calloc(1, (size_t)c->maplen);
	int rc = -EIO;

	if (!map)
		return -ENOMEM;
	if (virDomainGetEmulatorPinInfo(dom, map, c->maplen, VIR_DOMAIN_AFFECT_LIVE) > 0) {
		map_format(map, c->maplen, buf, len);
		rc = 0;
	}
	free(map);
	return rc;
}

static int iothread_pin_now(virDomainPtr dom, int id, char *buf, size_t len)
{
	virDomainIOThreadInfoPtr *info = NULL;
	int n = virDomainGetIOThreadInfo(dom, &info, VIR_DOMAIN_AFFECT_LIVE), rc = -ENOENT;

	if (n < 0)
		return -EIO;
	for (int i = 0; i < n; i++) {
		if ((int)info[i]->iothread_id == id) {
			map_format(info[i]->cpumap, info[i]->cpumaplen, buf, len);
			rc = 0;
		}
		virDomainIOThreadInfoFree(info[i]);
	}
	free(info);
	return rc;
}

static int numa_now(virDomainPtr dom, char *buf, size_t len)
{
	virTypedParameterPtr params = NULL;
	int n = 0, rc = -EIO;

	if (virDomainGetNumaParameters(dom, NULL, &n, VIR_DOMAIN_AFFECT_LIVE) < 0 || n <= 0)
		return -EIO;
	params = calloc((size_t)n, sizeof(*params));
	if (!params)
		return -ENOMEM;
	if (virDomainGetNumaParameters(dom, params, &n, VIR_DOMAIN_AFFECT_LIVE) == 0) {
		const char *ns = "";
		int mode = -1;

		virTypedParamsGetString(params, n, VIR_DOMAIN_NUMA_NODESET, &ns);
		virTypedParamsGetInt(params, n, VIR_DOMAIN_NUMA_MODE, &mode);
		snprintf(buf, len, "nodeset \"%s\" mode %s", ns ? ns : "",
			 mode == VIR_DOMAIN_NUMATUNE_MEM_STRICT ? "strict" :
			 mode == VIR_DOMAIN_NUMATUNE_MEM_PREFERRED ? "preferred" :
			 mode == VIR_DOMAIN_NUMATUNE_MEM_INTERLEAVE ? "interleave" : "other");
		rc = 0;
	}
	virTypedParamsFree(params, n);
	return rc;
}

/* ---- processes ---- */

/* Is `pid` still the QEMU of VM `vm`? QEMU runs with "-name NAME[,...]"
 * or "-name guest=NAME[,...]" (libvirt), commas in NAME doubled. */
static bool pid_is_vm(int pid, const char *vm)
{
	char path[NL_PATH_MAX], *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	bool ok = false;

	if (pid <= 0 || nl_path_proc(path, sizeof(path), "%d/cmdline", pid) < 0)
		return false;
	n = nl_read_file_alloc(path, &buf, &cap);
	for (ssize_t i = 0; n > 0 && i < n && !ok;) {
		const char *arg = buf + i;
		size_t l = strnlen(arg, (size_t)(n - i));

		if (!strcmp(arg, "-name") && i + (ssize_t)l + 1 < n) {
			const char *v = arg + l + 1, *w = vm;

			if (!strncmp(v, "guest=", 6))
				v += 6;
			/* compare up to the first single comma */
			while (*v && *w) {
				if (*v == ',' && v[1] != ',')
					break;
				if (*v != *w)
					break;
				v += *v == ',' ? 2 : 1;
				w++;
			}
			ok = *w == '\0' && (*v == '\0' || (*v == ',' && v[1] != ','));
		}
		i += (ssize_t)l + 1;
	}
	free(buf);
	return ok;
}

static int thread_of_vm(int pid, int tid)
{
	char path[NL_PATH_MAX], comm[32] = "", want[32];

	if (nl_path_proc(path, sizeof(path), "%d/task/%d", pid, tid) == 0 &&
	    access(path, F_OK) == 0)
		return 0;
	/* vhost workers are their own kernel threads: comm "vhost-PID" */
	snprintf(want, sizeof(want), "vhost-%d", pid);
	if (nl_path_proc(path, sizeof(path), "%d/comm", tid) == 0 &&
	    nl_read_file(path, comm, sizeof(comm)) > 0 &&
	    !strcmp(nl_rstrip(comm), want))
		return 0;
	return -ESRCH;
}

static void mask_set(unsigned long *m, int node)
{
	m[node / (8 * sizeof(long))] |= 1UL << (node % (8 * sizeof(long)));
}

int nl_apply_move_pages(int pid, int from, int to, uint64_t bytes, bool yes,
			uint64_t *found, uint64_t *moved)
{
	char path[NL_PATH_MAX], *maps = NULL;
	size_t cap = 0;
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t want = (bytes + (uint64_t)psz - 1) / (uint64_t)psz;
	void *pages[MOVE_BATCH], *sel[MOVE_BATCH];
	int status[MOVE_BATCH], nodes[MOVE_BATCH];
	ssize_t n;
	int rc = 0;

	*found = *moved = 0;
	if (nl_path_proc(path, sizeof(path), "%d/maps", pid) < 0)
		return -ENAMETOOLONG;
	n = nl_read_file_alloc(path, &maps, &cap);
	if (n < 0)
		return (int)n;
	for (char *line = maps; line && *line && *found < want; ) {
		char *eol = strchr(line, '\n');
		unsigned long lo, hi, off, inode;
		char perms[8], dev[16];
		int fields;

		if (eol)
			*eol = '\0';
		fields = sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perms, &off, dev, &inode);
		line = eol ? eol + 1 : NULL;
		/* guest RAM: private, writable, anonymous, at least 2 MiB */
		if (fields < 6 || perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p' ||
		    inode != 0 || hi - lo < 2 * 1024 * 1024)
			continue;
		for (unsigned long a = lo; a < hi && *found < want;) {
			int cnt = 0, nsel = 0;

			for (; a < hi && cnt < MOVE_BATCH; a += (unsigned long)psz)
				pages[cnt++] = (void *)a;
			if (syscall(SYS_move_pages, pid, (unsigned long)cnt, pages, NULL, status, 0) < 0) {
				rc = -errno;
				goto cleanup;
			}
			for (int i = 0; i < cnt && *found + (uint64_t)nsel < want; i++)
				if (status[i] == from)
					sel[nsel++] = pages[i];
			*found += (uint64_t)nsel;
			if (!yes || nsel == 0)
				continue;
			for (int i = 0; i < nsel; i++)
				nodes[i] = to;
			if (syscall(SYS_move_pages, pid, (unsigned long)nsel, sel, nodes, status,
				    NL_MPOL_MF_MOVE) < 0) {
				rc = -errno;
				goto cleanup;
			}
			for (int i = 0; i < nsel; i++)
				*moved += status[i] == to;
		}
	}
cleanup:
	free(maps);
	*found *= (uint64_t)psz;
	*moved *= (uint64_t)psz;
	return rc;
}

/* ---- actions ---- */

static const char *op_label(Numalens__V1__ActionOp op)
{
	switch (op) {
	case NUMALENS__V1__ACTION_OP__PIN_VCPU: return "pin vCPU";
	case NUMALENS__V1__ACTION_OP__PIN_EMULATOR: return "pin emulator threads";
	case NUMALENS__V1__ACTION_OP__PIN_IOTHREAD: return "pin iothread";
	case NUMALENS__V1__ACTION_OP__PIN_THREAD: return "pin thread";
	case NUMALENS__V1__ACTION_OP__NUMATUNE: return "live numatune";
	case NUMALENS__V1__ACTION_OP__MIGRATE_PAGES: return "migrate_pages";
	case NUMALENS__V1__ACTION_OP__MOVE_PAGES: return "move_pages";
	case NUMALENS__V1__ACTION_OP__MIGRATE_VM: return "live-migrate the VM";
	default: return "unknown action";
	}
}

/* Run (or with !yes, describe) one action. Return 0 or -errno. */
static int do_action(struct ctx *c, const Numalens__V1__Hint *h, virDomainPtr dom,
		     const Numalens__V1__Action *a)
{
	bool yes = c->o->yes;
	char before[NL_MAX_CPUS * 5] = "?", after[NL_MAX_CPUS * 5] = "?";
	unsigned char *map = NULL;
	const char *what = op_label(a->op);
	int idx = a->has_index ? a->index : -1, rc = 0;

	printf("  %s %s", yes ? "apply:" : "would:", what);
	if (idx >= 0)
		printf(" %d", idx);
	if (a->cpus)
		printf(" -> CPUs %s", a->cpus);
	if (a->nodes)
		printf(" -> nodeset %s", a->nodes);
	if (a->n_from_nodes)
		printf(" (nodes %d%s -> %d, %llu bytes)", a->from_nodes[0],
		       a->n_from_nodes > 1 ? ",..." : "", a->to_node,
		       (unsigned long long)a->bytes);
	printf("\n");
	if (a->libvirt && a->libvirt[0])
		printf("        libvirt: %s\n", a->libvirt);
	if (a->command && a->command[0])
		printf("        same as: %s\n", a->command);

	switch (a->op) {
	case NUMALENS__V1__ACTION_OP__PIN_VCPU:
	case NUMALENS__V1__ACTION_OP__PIN_EMULATOR:
	case NUMALENS__V1__ACTION_OP__PIN_IOTHREAD: {
		char label[48];

		if (idx >= 0)
			snprintf(label, sizeof(label), "%s %d", what, idx);
		else
			snprintf(label, sizeof(label), "%s", what);
		if (!dom) {
			printf("        not connected to libvirt: cannot %s\n", yes ? "apply" : "read the current pinning");
			return yes ? -ENOTCONN : 0;
		}
		map = calloc(1, (size_t)c->maplen);
		if (!map)
			return -ENOMEM;
		rc = map_parse(a->cpus, map, c->maplen, c->ncpus);
		if (rc) {
			printf("        error: CPU list \"%s\" is not valid on this host (%d CPUs)%s\n",
			       a->cpus ? a->cpus : "", c->ncpus,
			       rc == -ERANGE ? ": is the hint from another host?" : "");
			goto done;
		}
		if (a->op == NUMALENS__V1__ACTION_OP__PIN_VCPU)
			rc = vcpu_pin_now(c, dom, idx, before, sizeof(before));
		else if (a->op == NUMALENS__V1__ACTION_OP__PIN_EMULATOR)
			rc = emulator_pin_now(c, dom, before, sizeof(before));
		else
			rc = iothread_pin_now(dom, idx, before, sizeof(before));
		if (rc) {
			printf("        error: cannot read the current pinning: %s\n",
			       rc == -ENOENT ? "no such vCPU / iothread" : lv_err());
			goto done;
		}
		if (!yes) {
			printf("        now CPUs %s; dry run, not changed\n", before);
			goto done;
		}
		if (a->op == NUMALENS__V1__ACTION_OP__PIN_VCPU)
			rc = virDomainPinVcpuFlags(dom, (unsigned)idx, map, c->maplen,
						   VIR_DOMAIN_AFFECT_LIVE);
		else if (a->op == NUMALENS__V1__ACTION_OP__PIN_EMULATOR)
			rc = virDomainPinEmulator(dom, map, c->maplen, VIR_DOMAIN_AFFECT_LIVE);
		else
			rc = virDomainPinIOThread(dom, (unsigned)idx, map, c->maplen,
						  VIR_DOMAIN_AFFECT_LIVE);
		if (rc < 0) {
			printf("        FAILED: %s\n", lv_err());
			rc = -EIO;
			goto done;
		}
		if (a->op == NUMALENS__V1__ACTION_OP__PIN_VCPU)
			vcpu_pin_now(c, dom, idx, after, sizeof(after));
		else if (a->op == NUMALENS__V1__ACTION_OP__PIN_EMULATOR)
			emulator_pin_now(c, dom, after, sizeof(after));
		else
			iothread_pin_now(dom, idx, after, sizeof(after));
		printf("        changed: %s: CPUs %s -> %s\n", label, before, after);
		rc = 0;
		break;
	}
	case NUMALENS__V1__ACTION_OP__PIN_THREAD: {
		cpu_set_t cur, want;
		struct nl_cpuset s;

		rc = thread_of_vm(h->pid, idx);
		if (rc) {
			printf("        error: thread %d is not a thread of QEMU %d (stale hint?)\n", idx, h->pid);
			goto done;
		}
		if (nl_cpuset_parse(&s, a->cpus ? a->cpus : "") || !nl_cpuset_count(&s)) {
			printf("        error: bad CPU list\n");
			rc = -EINVAL;
			goto done;
		}
		CPU_ZERO(&want);
		for (int i = 0; i < NL_MAX_CPUS && i < CPU_SETSIZE; i++)
			if (nl_cpuset_isset(&s, i))
				CPU_SET(i, &want);
		if (sched_getaffinity(idx, sizeof(cur), &cur) == 0) {
			struct nl_cpuset b;

			nl_cpuset_zero(&b);
			for (int i = 0; i < CPU_SETSIZE && i < NL_MAX_CPUS; i++)
				if (CPU_ISSET(i, &cur))
					nl_cpuset_set(&b, i);
			nl_cpuset_format(&b, before, sizeof(before));
		}
		if (!yes) {
			printf("        now CPUs %s; dry run, not changed\n", before);
			goto done;
		}
		if (sched_setaffinity(idx, sizeof(want), &want) < 0) {
			rc = -errno;
			printf("        FAILED: sched_setaffinity: %s\n", strerror(-rc));
			goto done;
		}
		printf("        changed: thread %d CPUs %s -> %s\n", idx, before, a->cpus);
		break;
	}
	case NUMALENS__V1__ACTION_OP__NUMATUNE: {
		virTypedParameterPtr params = NULL;
		int np = 0, maxp = 0;

		if (!dom) {
			printf("        not connected to libvirt\n");
			return yes ? -ENOTCONN : 0;
		}
		if (numa_now(dom, before, sizeof(before)))
			snprintf(before, sizeof(before), "unknown (%s)", lv_err());
		if (!yes) {
			printf("        now %s; dry run, not changed (live numatune needs strict mode\n"
			       "        and the cpuset cgroup controller; else the fallback runs)\n", before);
			goto done;
		}
		if (virTypedParamsAddString(&params, &np, &maxp, VIR_DOMAIN_NUMA_NODESET,
					    a->nodes ? a->nodes : "") < 0 ||
		    virDomainSetNumaParameters(dom, params, np, VIR_DOMAIN_AFFECT_LIVE) < 0) {
			printf("        FAILED: %s\n", lv_err());
			rc = -EIO;
		} else {
			numa_now(dom, after, sizeof(after));
			printf("        changed: numatune %s -> %s\n", before, after);
		}
		virTypedParamsFree(params, np);
		break;
	}
	case NUMALENS__V1__ACTION_OP__MIGRATE_PAGES: {
		unsigned long oldm[NL_MAX_CPUS / (8 * sizeof(long))] = { 0 };
		unsigned long newm[NL_MAX_CPUS / (8 * sizeof(long))] = { 0 };
		long left;

		if (!pid_is_vm(h->pid, h->vm)) {
			printf("        error: PID %d is not the QEMU of VM \"%s\" any more (stale hint)\n",
			       h->pid, h->vm);
			rc = -ESRCH;
			goto done;
		}
		for (size_t i = 0; i < a->n_from_nodes; i++)
			if (a->from_nodes[i] >= 0 && a->from_nodes[i] < NL_MAX_CPUS)
				mask_set(oldm, a->from_nodes[i]);
		if (a->to_node < 0 || a->to_node >= NL_MAX_CPUS) {
			rc = -EINVAL;
			goto done;
		}
		mask_set(newm, a->to_node);
		if (!yes) {
			printf("        dry run, not changed\n");
			goto done;
		}
		left = syscall(SYS_migrate_pages, h->pid, (unsigned long)NL_MAX_CPUS + 1, oldm, newm);
		if (left < 0) {
			rc = -errno;
			printf("        FAILED: migrate_pages: %s\n", strerror(-rc));
			goto done;
		}
		printf("        changed: pages of QEMU %d moved to node %d; %ld could not be moved\n",
		       h->pid, a->to_node, left);
		break;
	}
	case NUMALENS__V1__ACTION_OP__MOVE_PAGES: {
		uint64_t found = 0, moved = 0;

		if (!pid_is_vm(h->pid, h->vm)) {
			printf("        error: PID %d is not the QEMU of VM \"%s\" any more (stale hint)\n",
			       h->pid, h->vm);
			rc = -ESRCH;
			goto done;
		}
		if (!a->n_from_nodes) {
			rc = -EINVAL;
			goto done;
		}
		rc = nl_apply_move_pages(h->pid, a->from_nodes[0], a->to_node, a->bytes, yes,
					 &found, &moved);
		if (rc) {
			printf("        FAILED: move_pages: %s\n", strerror(-rc));
			goto done;
		}
		if (!yes)
			printf("        %llu bytes of it are on node %d now; dry run, not changed\n",
			       (unsigned long long)found, a->from_nodes[0]);
		else
			printf("        changed: %llu bytes moved from node %d to node %d (%llu found)\n",
			       (unsigned long long)moved, a->from_nodes[0], a->to_node,
			       (unsigned long long)found);
		break;
	}
	case NUMALENS__V1__ACTION_OP__MIGRATE_VM:
	default:
		printf("        not done: moving a VM to another host is the orchestrator's call\n");
		break;
	}
done:
	free(map);
	return rc;
}

static int apply_hint(struct ctx *c, const Numalens__V1__Hint *h)
{
	char kind[32] = "?", pol[32] = "?";
	virDomainPtr dom = NULL;
	bool need_lv = false, prev_failed = false;
	int failed = 0;

	nl_pbjson_enum_name(&numalens__v1__hint_kind__descriptor, h->kind, kind, sizeof(kind));
	nl_pbjson_enum_name(&numalens__v1__policy__descriptor, h->policy, pol, sizeof(pol));
	printf("hint %s: %s of VM \"%s\" -> %s%d (policy %s, step %d, gain %.2f, confidence %.2f)\n",
	       h->id ? h->id : "?", kind, h->vm ? h->vm : "?",
	       h->target && h->target->node >= 0 ? "node " : "", h->target ? h->target->node : -1,
	       pol, h->step, h->expected_gain, h->confidence);
	if (h->reason)
		printf("  reason: %s: %s\n", h->reason_code ? h->reason_code : "", h->reason);
	if (h->beneficiary)
		printf("  makes room for VM \"%s\"\n", h->beneficiary);
	if (h->kind == NUMALENS__V1__HINT_KIND__EVICT) {
		for (size_t i = 0; i < h->n_actions; i++)
			do_action(c, h, NULL, h->actions[i]);
		return 0;
	}
	for (size_t i = 0; i < h->n_actions; i++)
		need_lv |= h->actions[i]->libvirt && h->actions[i]->libvirt[0];
	if (need_lv && c->conn) {
		dom = h->uuid && h->uuid[0] ? virDomainLookupByUUIDString(c->conn, h->uuid) : NULL;
		if (!dom && h->vm)
			dom = virDomainLookupByName(c->conn, h->vm);
		if (dom && h->vm && strcmp(virDomainGetName(dom), h->vm) != 0) {
			printf("  error: libvirt domain %s is named \"%s\", not \"%s\"\n",
			       h->uuid, virDomainGetName(dom), h->vm);
			virDomainFree(dom);
			return 1;
		}
		if (!dom) {
			printf("  error: no libvirt domain \"%s\": %s\n", h->vm ? h->vm : "?", lv_err());
			return 1;
		}
	}
	for (size_t i = 0; i < h->n_actions; i++) {
		const Numalens__V1__Action *a = h->actions[i];
		bool next_fallback = i + 1 < h->n_actions && h->actions[i + 1]->fallback;
		int rc;

		if (a->fallback && !prev_failed) {
			printf("  skip: %s (fallback, not needed)\n", op_label(a->op));
			continue;
		}
		rc = do_action(c, h, dom, a);
		if (!a->fallback)
			prev_failed = rc != 0;
		if (rc && !(next_fallback && !a->fallback))
			failed++;
		else if (rc)
			printf("        trying the fallback\n");
	}
	if (dom)
		virDomainFree(dom);
	return failed ? 1 : 0;
}

int nl_cmd_apply(int argc, char **argv)
{
	struct opts o;
	struct nl_url u;
	struct nl_buf q = { 0 }, body = { 0 };
	Numalens__V1__HintList *list = NULL;
	struct ctx c = { 0 };
	char ctype[128], err[300];
	int rc, status = 0, ret = 1, failed = 0;
	size_t napplied = 0;

	rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : 2;
	c.o = &o;
	if (nl_apply_parse_url(o.url, &u)) {
		fprintf(stderr, "numalens apply: --url: want http://HOST[:PORT][/PREFIX], got \"%s\"\n", o.url);
		return 2;
	}
	if (nl_paths_set(o.procfs, "/sys") < 0) {
		fprintf(stderr, "numalens apply: bad --path.procfs\n");
		return 2;
	}
	nl_buf_puts(&q, "/api/v1/hints");
	{
		const char *keys[] = { "policy", "vm", "kind", "id" };
		const char *vals[] = { o.policy, o.vm, o.kind, o.id };
		bool first = true;

		for (int i = 0; i < 4; i++) {
			if (!vals[i])
				continue;
			nl_buf_printf(&q, "%c%s=", first ? '?' : '&', keys[i]);
			nl_apply_urlencode(vals[i], &q);
			first = false;
		}
	}
	if (q.err)
		goto cleanup;
	if (http_get(&u, q.data, o.timeout, &status, ctype, sizeof(ctype), &body))
		goto cleanup;
	if (strncasecmp(ctype, "application/x-protobuf", 22) != 0) {
		fprintf(stderr, "numalens apply: %s answered %d with %s: %.300s\n", o.url, status,
			ctype[0] ? ctype : "no content type", body.data ? body.data : "");
		goto cleanup;
	}
	if (status != 200) {
		Numalens__V1__Error *e = numalens__v1__error__unpack(NULL, body.len,
								     (const uint8_t *)(body.data ? body.data : ""));

		fprintf(stderr, "numalens apply: %s answered %d: %s\n", o.url, status,
			e && e->message ? e->message : "(no message)");
		if (e)
			numalens__v1__error__free_unpacked(e, NULL);
		ret = status == 404 ? 3 : 1;
		goto cleanup;
	}
	list = numalens__v1__hint_list__unpack(NULL, body.len,
					       (const uint8_t *)(body.data ? body.data : ""));
	if (!list || nl_pb_check(&list->base, err, sizeof(err))) {
		fprintf(stderr, "numalens apply: the answer is not a valid numalens.v1.HintList%s%s\n",
			list ? ": " : "", list ? err : "");
		goto cleanup;
	}
	if (list->n_hints == 0) {
		fprintf(stderr, "numalens apply: no matching hint%s%s\n",
			o.vm ? " for VM " : "", o.vm ? o.vm : "");
		ret = 3;
		goto cleanup;
	}
	virSetErrorFunc(NULL, lv_silent);
	c.conn = o.yes ? virConnectOpen(o.uri) : virConnectOpenReadOnly(o.uri);
	if (!c.conn) {
		fprintf(stderr, "numalens apply: cannot connect to libvirt at %s: %s%s\n", o.uri,
			lv_err(), o.yes ? "" : " (dry run goes on without the current values)");
	} else {
		c.ncpus = virNodeGetCPUMap(c.conn, NULL, NULL, 0);
		if (c.ncpus <= 0)
			c.ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);
		c.maplen = VIR_CPU_MAPLEN(c.ncpus);
	}
	if (!o.yes)
		printf("dry run: nothing is changed (add --yes to apply)\n");
	for (size_t i = 0; i < list->n_hints; i++) {
		failed += apply_hint(&c, list->hints[i]);
		napplied++;
	}
	printf("%s %zu hint%s%s\n", o.yes ? "applied" : "showed", napplied,
	       napplied == 1 ? "" : "s", failed ? ", with failures" : "");
	ret = failed ? 1 : 0;
cleanup:
	if (c.conn)
		virConnectClose(c.conn);
	if (list)
		numalens__v1__hint_list__free_unpacked(list, NULL);
	nl_buf_free(&q);
	nl_buf_free(&body);
	return ret;
}
