/* The uncore source's view of sysfs: PMU format/ and events/ files
 * encoded into perf_event_attr configs the way the perf tool does, the
 * CPU model from modalias, and the discovery of uncore PMUs and the
 * sockets of their CPUs. Everything here is pure or reads sysfs through
 * the path helper; uncore_setup.c decides what to open. */
#include "uncore.h"
#include "uncore_priv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "paths.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- sysfs event encoding ---- */

static const char *skip_ws(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

/* Parse an unsigned number the way the perf tool does: 0x... is hex,
 * anything else decimal (no octal). */
static int parse_num(const char *s, size_t n, uint64_t *out)
{
	char buf[32], *end;
	int base = 10;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (n > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'))
		base = 16;
	if (!isxdigit((unsigned char)buf[base == 16 ? 2 : 0]))
		return -EINVAL;
	errno = 0;
	*out = strtoull(buf, &end, base);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

static int reg_index(const char *s, size_t n)
{
	if (n == 6 && memcmp(s, "config", 6) == 0)
		return 0;
	if (n == 7 && memcmp(s, "config1", 7) == 0)
		return 1;
	if (n == 7 && memcmp(s, "config2", 7) == 0)
		return 2;
	return -1;
}

static int cmp_u8(const void *a, const void *b)
{
	return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b;
}

int nl_uncore_format_parse(const char *name, const char *text,
			   struct nl_uncore_format *out)
{
	const char *p = skip_ws(text), *colon;
	uint64_t seen = 0;

	memset(out, 0, sizeof(*out));
	if (!name || !*name || strlen(name) >= sizeof(out->name))
		return -EINVAL;
	snprintf(out->name, sizeof(out->name), "%s", name);
	colon = strchr(p, ':');
	if (!colon)
		return -EINVAL;
	out->reg = reg_index(p, (size_t)(colon - p));
	if (out->reg < 0)
		return -EINVAL;
	p = colon + 1;
	for (;;) {
		const char *end = p;
		uint64_t lo, hi;
		const char *dash;

		while (*end && *end != ',' && !isspace((unsigned char)*end))
			end++;
		dash = memchr(p, '-', (size_t)(end - p));
		if (parse_num(p, (size_t)((dash ? dash : end) - p), &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (dash && parse_num(dash + 1, (size_t)(end - dash - 1), &hi) < 0)
			return -EINVAL;
		if (hi > 63 || lo > hi)
			return -EINVAL;
		for (uint64_t b = lo; b <= hi; b++) {
			if (seen & (1ULL << b))
				return -EINVAL;
			seen |= 1ULL << b;
			out->bit[out->nbits++] = (uint8_t)b;
		}
		p = end;
		if (*p != ',')
			break;
		p++;
	}
	/* only trailing whitespace (the newline) may follow */
	if (*skip_ws(p))
		return -EINVAL;
	/* the perf tool fills the value's bits into the field's bits in
	 * ascending order, whatever order the ranges are listed in */
	qsort(out->bit, (size_t)out->nbits, 1, cmp_u8);
	return 0;
}

int nl_uncore_encode_terms(const char *terms,
			   const struct nl_uncore_format *fmt, size_t nfmt,
			   uint64_t cfg[3])
{
	const char *p = terms;

	cfg[0] = cfg[1] = cfg[2] = 0;
	if (!terms || !*skip_ws(terms))
		return -EINVAL;
	for (;;) {
		const char *end = strchr(p, ',');
		const char *s, *e, *eq, *ns, *ne;
		const struct nl_uncore_format *f = NULL;
		uint64_t val = 1;
		int reg;

		if (!end)
			end = p + strlen(p);
		s = p;
		e = end;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (s == e)
			return -EINVAL;
		eq = memchr(s, '=', (size_t)(e - s));
		ns = s;
		ne = eq ? eq : e;
		while (ne > ns && isspace((unsigned char)ne[-1]))
			ne--;
		if (ne == ns)
			return -EINVAL;
		if (eq) {
			const char *vs = eq + 1;

			while (vs < e && isspace((unsigned char)*vs))
				vs++;
			if (parse_num(vs, (size_t)(e - vs), &val) < 0)
				return -EINVAL;
		}
		reg = reg_index(ns, (size_t)(ne - ns));
		for (size_t i = 0; i < nfmt; i++) {
			if (strlen(fmt[i].name) == (size_t)(ne - ns) &&
			    memcmp(fmt[i].name, ns, (size_t)(ne - ns)) == 0) {
				f = &fmt[i];
				break;
			}
		}
		if (!f && reg >= 0) {
			cfg[reg] = val;
		} else if (!f) {
			return -ENOENT;
		} else {
			if (f->nbits < 64 && (val >> f->nbits))
				return -ERANGE;
			for (int i = 0; i < f->nbits; i++) {
				uint64_t bit = 1ULL << f->bit[i];

				cfg[f->reg] &= ~bit;
				if ((val >> i) & 1)
					cfg[f->reg] |= bit;
			}
		}
		if (!*end)
			break;
		p = end + 1;
	}
	return 0;
}

int nl_uncore_unit_bytes(double scale, const char *unit, double *bytes)
{
	static const struct { const char *unit; double mult; } units[] = {
		{ "B", 1 }, { "Bytes", 1 }, { "bytes", 1 },
		{ "KiB", 1024.0 }, { "MiB", 1048576.0 },
		{ "GiB", 1073741824.0 },
		{ "kB", 1e3 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 },
	};

	if (!unit || !(scale > 0) || !isfinite(scale))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			*bytes = scale * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- sysfs readers ---- */

/* Names read from sysfs or the user's file end up in paths. */
static bool name_safe(const char *s)
{
	if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return false;
	return true;
}

static int pmu_path(char *buf, size_t len, const char *pmu, const char *rest)
{
	if (!name_safe(pmu))
		return -EINVAL;
	return nl_path_sys(buf, len, "bus/event_source/devices/%s%s%s", pmu,
			   rest ? "/" : "", rest ? rest : "");
}

int nl_uncore_read_formats(const char *pmu, struct nl_uncore_format *fmt,
			   size_t cap)
{
	char path[NL_PATH_MAX], text[256];
	struct dirent *de;
	DIR *d;
	int n = 0, rc;

	rc = pmu_path(path, sizeof(path), pmu, "format");
	if (rc < 0)
		return rc;
	d = nl_opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char file[NL_PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)n >= cap) {
			rc = -E2BIG;
			goto cleanup;
		}
		if (snprintf(file, sizeof(file), "%s/%s", path, de->d_name) >=
		    (int)sizeof(file))
			continue;
		if (nl_read_file(file, text, sizeof(text)) < 0)
			continue;
		/* a format the parser does not understand cannot be used by
		 * any term; leave it out rather than fail the whole PMU */
		if (nl_uncore_format_parse(de->d_name, nl_rstrip(text),
					   &fmt[n]) == 0)
			n++;
	}
	rc = n;
cleanup:
	closedir(d);
	return rc;
}

int nl_uncore_resolve_alias(const char *pmu, const char *alias,
			    struct nl_uncore_alias *out)
{
	struct nl_uncore_format fmt[NL_UNCORE_MAX_FORMATS];
	char path[NL_PATH_MAX], rel[128], text[512];
	int nfmt, rc;

	memset(out, 0, sizeof(*out));
	if (!name_safe(alias) ||
	    snprintf(rel, sizeof(rel), "events/%s", alias) >= (int)sizeof(rel))
		return -EINVAL;
	rc = pmu_path(path, sizeof(path), pmu, rel);
	if (rc < 0)
		return rc;
	rc = (int)nl_read_file(path, text, sizeof(text));
	if (rc < 0)
		return rc;
	nfmt = nl_uncore_read_formats(pmu, fmt, ARRAY_LEN(fmt));
	if (nfmt < 0)
		return nfmt;
	rc = nl_uncore_encode_terms(nl_rstrip(text), fmt, (size_t)nfmt,
				    out->config);
	if (rc < 0)
		return rc;
	snprintf(rel, sizeof(rel), "events/%s.scale", alias);
	if (pmu_path(path, sizeof(path), pmu, rel) == 0 &&
	    nl_read_file(path, text, sizeof(text)) > 0) {
		char *end;
		double v = strtod(text, &end);

		if (end != text && isfinite(v) && v > 0)
			out->scale = v;
	}
	snprintf(rel, sizeof(rel), "events/%s.unit", alias);
	if (pmu_path(path, sizeof(path), pmu, rel) == 0 &&
	    nl_read_file(path, text, sizeof(text)) > 0)
		snprintf(out->unit, sizeof(out->unit), "%s", nl_rstrip(text));
	return 0;
}

/* ---- CPU identification (uncore_setup.c matches the models) ---- */

int nl_uncore_parse_modalias(const char *text, struct nl_uncore_cpu *out)
{
	const char *p = strstr(text, "ven");
	unsigned ven, fam, mod;

	memset(out, 0, sizeof(*out));
	if (!p || sscanf(p, "ven%4xfam%4xmod%4x", &ven, &fam, &mod) != 3)
		return -EINVAL;
	/* X86_VENDOR_INTEL 0, X86_VENDOR_AMD 2 (arch/x86 processor.h) */
	out->vendor = ven == 0 ? NL_VENDOR_INTEL :
		      ven == 2 ? NL_VENDOR_AMD : NL_VENDOR_OTHER;
	out->family = fam;
	out->model = mod;
	return 0;
}

/* ---- discovery ---- */

void nl_uncore_split_pmu(const char *name, char *family, size_t len,
			 int *box)
{
	size_t n = strlen(name), i = n;

	while (i > 0 && isdigit((unsigned char)name[i - 1]))
		i--;
	if (i < n && i > 1 && name[i - 1] == '_' && n - i < 6) {
		*box = atoi(name + i);
		snprintf(family, len, "%.*s", (int)(i - 1), name);
	} else {
		*box = -1;
		snprintf(family, len, "%s", name);
	}
}

static int socket_of_cpu(int cpu)
{
	char path[NL_PATH_MAX];
	int64_t v;

	if (nl_path_sys(path, sizeof(path),
			"devices/system/cpu/cpu%d/topology/physical_package_id",
			cpu) < 0 || nl_read_s64(path, &v) < 0 || v < 0 ||
	    v > 0xffff)
		return -1;
	return (int)v;
}

static int cmp_upmu(const void *a, const void *b)
{
	const struct nl_uncore_pmu *x = a, *y = b;
	int c = strcmp(x->family, y->family);

	if (c)
		return c;
	return (x->box > y->box) - (x->box < y->box);
}

int nl_uncore_discover(struct nl_uncore_pmu **out, size_t *n)
{
	char path[NL_PATH_MAX], text[4096];
	struct nl_uncore_pmu *v = NULL;
	size_t cap = 0, cnt = 0;
	struct dirent *de;
	DIR *d = NULL;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (nl_path_sys(path, sizeof(path), "bus/event_source/devices") < 0)
		return 0;
	d = nl_opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		struct nl_uncore_pmu *u;
		struct nl_cpuset set;
		int64_t type;
		char file[NL_PATH_MAX];

		if (!name_safe(de->d_name) || strlen(de->d_name) >= sizeof(u->name))
			continue;
		if (pmu_path(file, sizeof(file), de->d_name, "cpumask") < 0 ||
		    nl_read_file(file, text, sizeof(text)) <= 0 ||
		    nl_cpuset_parse(&set, nl_rstrip(text)) < 0)
			continue;
		if (pmu_path(file, sizeof(file), de->d_name, "type") < 0 ||
		    nl_read_s64(file, &type) < 0 || type < 0 ||
		    type > UINT32_MAX)
			continue;
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct nl_uncore_pmu *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				rc = -ENOMEM;
				goto cleanup;
			}
			v = nv;
			cap = ncap;
		}
		u = &v[cnt];
		memset(u, 0, sizeof(*u));
		memcpy(u->name, de->d_name, strlen(de->d_name) + 1);
		nl_uncore_split_pmu(u->name, u->family, sizeof(u->family),
				    &u->box);
		u->type = (uint32_t)type;
		for (int c = 0; c < NL_MAX_CPUS && u->ncpu < NL_UNCORE_PMU_CPUS; c++) {
			int s;

			if (!nl_cpuset_isset(&set, c))
				continue;
			s = socket_of_cpu(c);
			if (s < 0) {
				nl_warn("uncore: no physical_package_id for "
					"CPU %d of %s; not counted there", c,
					u->name);
				continue;
			}
			u->cpu[u->ncpu] = c;
			u->socket[u->ncpu] = s;
			u->ncpu++;
		}
		if (u->ncpu > 0)
			cnt++;
	}
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_upmu);
	*out = v;
	*n = cnt;
	v = NULL;
cleanup:
	free(v);
	if (d)
		closedir(d);
	return rc;
}

