/* Per-socket uncore counters: see uncore.h. */
#include "uncore.h"
#include "uncore_priv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <perfmon/pfmlib_perf_event.h>

#include "evconf.h"
#include "log.h"
#include "paths.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

const char *nl_uncore_dir_name(enum nl_uncore_dir d)
{
	switch (d) {
	case NL_UNCORE_READ:  return "read";
	case NL_UNCORE_WRITE: return "write";
	case NL_UNCORE_ALL:   return "all";
	default:              return "unknown";
	}
}

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

/* ---- CPU identification ---- */

int nl_uncore_parse_modalias(const char *text, struct nl_uncore_cpu *out)
{
	const char *p = strstr(text, "ven");
	unsigned ven, fam, mod;

	memset(out, 0, sizeof(*out));
	if (!p || sscanf(p, "ven%4xfam%4xmod%4x", &ven, &fam, &mod) != 3)
		return -EINVAL;
	/* X86_VENDOR_INTEL 0, X86_VENDOR_AMD 2 (arch/x86 processor.h) */
	out->vendor = ven == 0 ? NL_VENDOR_INTEL :
		      ven == 2 ? NL_VENDOR_AMD : NL_VENDOR_UNKNOWN;
	out->family = fam;
	out->model = mod;
	return 0;
}

/* The CPU from sysfs (so one --path.sysfs tree describes a host), else from
 * the first block of <procfs>/cpuinfo. */
static void cpu_identify(struct nl_uncore_cpu *c)
{
	char path[NL_PATH_MAX], text[4096];
	char *line, *save = NULL;

	memset(c, 0, sizeof(*c));
	if (nl_path_sys(path, sizeof(path), "devices/system/cpu/modalias") == 0 &&
	    nl_read_file(path, text, sizeof(text)) > 0 &&
	    nl_uncore_parse_modalias(text, c) == 0)
		return;
	if (nl_path_proc(path, sizeof(path), "cpuinfo") < 0 ||
	    nl_read_file(path, text, sizeof(text)) <= 0)
		return;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		const char *val;

		if (!colon)
			continue;
		*colon = '\0';
		nl_rstrip(line);
		val = skip_ws(colon + 1);
		if (strcmp(line, "vendor_id") == 0)
			c->vendor = strncmp(val, "GenuineIntel", 12) == 0 ?
				    NL_VENDOR_INTEL :
				    strncmp(val, "AuthenticAMD", 12) == 0 ?
				    NL_VENDOR_AMD : NL_VENDOR_UNKNOWN;
		else if (strcmp(line, "cpu family") == 0)
			c->family = (unsigned)strtoul(val, NULL, 10);
		else if (strcmp(line, "model") == 0)
			c->model = (unsigned)strtoul(val, NULL, 10);
		else if (strcmp(line, "flags") == 0)
			break;
	}
}

static bool is_intel(const struct nl_uncore_cpu *c)
{
	return c->vendor == NL_VENDOR_INTEL && c->family == 6;
}

/* Skylake-SP, Cascade Lake, Cooper Lake */
static bool is_skx(const struct nl_uncore_cpu *c)
{
	return is_intel(c) && c->model == 0x55;
}

/* Ice Lake-SP, Ice Lake-D */
static bool is_icx(const struct nl_uncore_cpu *c)
{
	return is_intel(c) && (c->model == 0x6a || c->model == 0x6c);
}

/* Sapphire Rapids, Emerald Rapids */
static bool is_spr(const struct nl_uncore_cpu *c)
{
	return is_intel(c) && (c->model == 0x8f || c->model == 0xcf);
}

static bool is_upi_host(const struct nl_uncore_cpu *c)
{
	return is_skx(c) || is_icx(c) || is_spr(c);
}

static bool is_amd(const struct nl_uncore_cpu *c)
{
	return c->vendor == NL_VENDOR_AMD;
}

/* Zen 2 (family 17h from model 30h) and Zen 3 (family 19h except the Zen 4
 * model ranges): their data-fabric events are the ones below. */
static bool is_zen23(const struct nl_uncore_cpu *c)
{
	unsigned m = c->model;

	if (!is_amd(c))
		return false;
	if (c->family == 0x17)
		return m >= 0x30;
	if (c->family == 0x19)
		return !((m >= 0x10 && m <= 0x1f) || (m >= 0x60 && m <= 0x7f) ||
			 (m >= 0xa0 && m <= 0xaf));
	return false;
}

/* ---- built-in rules ---- */

enum rule_src { SRC_PFM, SRC_ALIAS, SRC_TERMS };

static const char *const src_names[] = { "libpfm4", "sysfs", "builtin" };

#define MAX_SUB 8

/* One way to count a metric on one box: one or more events (summed), each
 * `bytes_num / bytes_den` bytes per count unless a sysfs alias says
 * otherwise through .scale/.unit. */
struct rule_alt {
	bool (*match)(const struct nl_uncore_cpu *c);   /* NULL: any CPU */
	enum rule_src src;
	const char *pfm_pmu;           /* SRC_PFM: libpfm4 PMU, box appended */
	const char *ev[MAX_SUB + 1];
	uint64_t bytes_num, bytes_den;
};

/* rule.sub for NL_UNCORE_M_LINK */
#define LINK_IS_BOX  (-1)   /* the box number is the link (uncore_upi_N) */
#define LINK_IS_EV   (-2)   /* the event's index in alt.ev is the link */

struct rule {
	const char *family;
	const char *event;
	enum nl_uncore_metric metric;
	int sub;
	struct rule_alt alt[6];
};

/* Sources, verified against Linux (arch/x86/events/intel/uncore_snbep.c,
 * arch/x86/events/amd/uncore.c, tools/perf/pmu-events) and libpfm4 4.13:
 * - Intel IMC CAS_COUNT.RD/WR: SKX event 0x04 umask 0x03/0x0c (also
 *   libpfm4 skx_unc_imcN::UNC_M_CAS_COUNT:RD/WR), ICX 0x04 0x0f/0x30, SPR
 *   and EMR 0x05 0xcf/0xf0; kernel aliases cas_count_read/_write with
 *   .scale 6.103515625e-5 .unit MiB = 64 bytes; Granite Rapids has
 *   per-sub-channel aliases _sch0/_sch1 instead.
 * - Intel UPI TxL_FLITS.ALL_DATA event 0x02 umask 0x0f on SKX, ICX, SPR:
 *   data flits, 64/9 bytes each (the perf tool's upi_data_transmit_bw).
 * - AMD UMC (Zen 4+, PerfMonV2, Linux 6.7+): umc_cas_cmd.rd/.wr event
 *   0x0a rdwrmask 1/2, one 64-byte CAS each.
 * - AMD DF (Zen 2/3): dram_channel_data_controller_0..7 event
 *   0x07 + 0x40*N umask 0x38, 64 bytes, reads and writes together;
 *   remote_outbound_data_controller_0..3 (xGMI) event 0x7c7 + 0x40*N umask
 *   0x02, 32 bytes. */
static const struct rule rules[] = {
	{ "uncore_imc", "dram_read", NL_UNCORE_M_DRAM, NL_UNCORE_READ, {
		{ is_skx, SRC_PFM, "skx_unc_imc", { "UNC_M_CAS_COUNT:RD" }, 64, 1 },
		{ is_intel, SRC_ALIAS, NULL, { "cas_count_read" }, 64, 1 },
		{ is_intel, SRC_ALIAS, NULL, { "cas_count_read_sch0",
					       "cas_count_read_sch1" }, 64, 1 },
		{ is_skx, SRC_TERMS, NULL, { "event=0x04,umask=0x03" }, 64, 1 },
		{ is_icx, SRC_TERMS, NULL, { "event=0x04,umask=0x0f" }, 64, 1 },
		{ is_spr, SRC_TERMS, NULL, { "event=0x05,umask=0xcf" }, 64, 1 },
	} },
	{ "uncore_imc", "dram_write", NL_UNCORE_M_DRAM, NL_UNCORE_WRITE, {
		{ is_skx, SRC_PFM, "skx_unc_imc", { "UNC_M_CAS_COUNT:WR" }, 64, 1 },
		{ is_intel, SRC_ALIAS, NULL, { "cas_count_write" }, 64, 1 },
		{ is_intel, SRC_ALIAS, NULL, { "cas_count_write_sch0",
					       "cas_count_write_sch1" }, 64, 1 },
		{ is_skx, SRC_TERMS, NULL, { "event=0x04,umask=0x0c" }, 64, 1 },
		{ is_icx, SRC_TERMS, NULL, { "event=0x04,umask=0x30" }, 64, 1 },
		{ is_spr, SRC_TERMS, NULL, { "event=0x05,umask=0xf0" }, 64, 1 },
	} },
	{ "uncore_upi", "link_tx", NL_UNCORE_M_LINK, LINK_IS_BOX, {
		{ is_skx, SRC_PFM, "skx_unc_upi",
		  { "UNC_UPI_TXL_FLITS:ALL_DATA" }, 64, 9 },
		{ is_upi_host, SRC_TERMS, NULL, { "event=0x02,umask=0x0f" }, 64, 9 },
	} },
	{ "amd_umc", "dram_read", NL_UNCORE_M_DRAM, NL_UNCORE_READ, {
		{ is_amd, SRC_TERMS, NULL, { "event=0x0a,rdwrmask=0x1" }, 64, 1 },
	} },
	{ "amd_umc", "dram_write", NL_UNCORE_M_DRAM, NL_UNCORE_WRITE, {
		{ is_amd, SRC_TERMS, NULL, { "event=0x0a,rdwrmask=0x2" }, 64, 1 },
	} },
	{ "amd_df", "dram_all", NL_UNCORE_M_DRAM, NL_UNCORE_ALL, {
		{ is_zen23, SRC_TERMS, NULL, {
		  "event=0x07,umask=0x38", "event=0x47,umask=0x38",
		  "event=0x87,umask=0x38", "event=0xc7,umask=0x38",
		  "event=0x107,umask=0x38", "event=0x147,umask=0x38",
		  "event=0x187,umask=0x38", "event=0x1c7,umask=0x38" }, 64, 1 },
	} },
	{ "amd_df", "link_tx", NL_UNCORE_M_LINK, LINK_IS_EV, {
		{ is_zen23, SRC_TERMS, NULL, {
		  "event=0x7c7,umask=0x02", "event=0x807,umask=0x02",
		  "event=0x847,umask=0x02", "event=0x887,umask=0x02" }, 32, 1 },
	} },
};

/* ---- discovery ---- */

#define MAX_PMU_CPUS (NL_MAX_SOCKETS * 8)

struct upmu {
	char name[64];
	char family[64];
	int box;
	uint32_t type;
	int ncpu;
	int cpu[MAX_PMU_CPUS];
	int socket[MAX_PMU_CPUS];
};

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
	const struct upmu *x = a, *y = b;
	int c = strcmp(x->family, y->family);

	if (c)
		return c;
	return (x->box > y->box) - (x->box < y->box);
}

/* Every PMU with a cpumask (uncore PMUs have one; core PMUs do not), sorted
 * by family and box. *out is freed by the caller. */
static int discover(struct upmu **out, size_t *n)
{
	char path[NL_PATH_MAX], text[4096];
	struct upmu *v = NULL;
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
		struct upmu *u;
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
			struct upmu *nv = realloc(v, ncap * sizeof(*nv));

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
		for (int c = 0; c < NL_MAX_CPUS && u->ncpu < MAX_PMU_CPUS; c++) {
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

/* ---- the counters ---- */

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

static int socket_slot(const struct nl_uncore *u, int id)
{
	for (int i = 0; i < u->nsockets; i++)
		if (u->sockets[i].id == id)
			return i;
	return -1;
}

static struct nl_uncore_stat *stat_add(struct nl_uncore *u, const char *event,
				       const char *pmu)
{
	struct nl_uncore_stat *s;

	for (int i = 0; i < u->nstats; i++)
		if (strcmp(u->stats[i].event, event) == 0 &&
		    strcmp(u->stats[i].pmu, pmu) == 0)
			return &u->stats[i];
	if (u->nstats >= NL_MAX_UNCORE_STATS)
		return NULL;
	s = &u->stats[u->nstats++];
	memset(s, 0, sizeof(*s));
	snprintf(s->event, sizeof(s->event), "%s", event);
	snprintf(s->pmu, sizeof(s->pmu), "%s", pmu);
	return s;
}

static void stat_fail(struct nl_uncore_stat *s, int err)
{
	if (s && !s->err)
		s->err = err;
}

/* num/den for a byte multiplier: exact for whole numbers (64), micro-byte
 * precision otherwise. */
static void to_fraction(double m, uint64_t *num, uint64_t *den)
{
	double r = nearbyint(m);

	if (r >= 1 && fabs(m - r) <= 1e-9 * r) {
		*num = (uint64_t)r;
		*den = 1;
	} else {
		*num = (uint64_t)llround(m * 1e6);
		*den = 1000000;
	}
}

/* Open one counter on every CPU of box b. Return the number opened. */
static int open_box(struct nl_uncore_priv *p, const struct upmu *b,
		    const uint64_t cfg[3], enum nl_uncore_metric metric,
		    int sub, uint64_t num, uint64_t den,
		    struct nl_uncore_stat *st)
{
	int opened = 0;

	for (int i = 0; i < b->ncpu; i++) {
		struct nl_uncore_counter *c;
		int slot = socket_slot(&p->u, b->socket[i]);
		int fd;

		if (slot < 0)
			continue;
		if (p->nctr == p->cap_ctr) {
			size_t ncap = p->cap_ctr ? p->cap_ctr * 2 : 32;
			struct nl_uncore_counter *nc =
				realloc(p->ctr, ncap * sizeof(*nc));

			if (!nc)
				return -ENOMEM;
			p->ctr = nc;
			p->cap_ctr = ncap;
		}
		c = &p->ctr[p->nctr];
		memset(c, 0, sizeof(*c));
		c->attr.size = sizeof(c->attr);
		c->attr.type = b->type;
		c->attr.config = cfg[0];
		c->attr.config1 = cfg[1];
		c->attr.config2 = cfg[2];
		c->attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED |
				      PERF_FORMAT_TOTAL_TIME_RUNNING;
		/* uncore PMUs reject exclude_* bits and sampling: all 0 */
		p->opens++;
		fd = p->ops.open(&c->attr, b->cpu[i], p->ops.arg);
		if (fd < 0) {
			stat_fail(st, fd);
			nl_debug("uncore: cannot open %s type %u config %#llx "
				 "on CPU %d: %s", b->name, b->type,
				 (unsigned long long)cfg[0], b->cpu[i],
				 strerror(-fd));
			continue;
		}
		c->fd = fd;
		c->metric = metric;
		c->sub = sub;
		c->slot = slot;
		c->cpu = b->cpu[i];
		snprintf(c->pmu, sizeof(c->pmu), "%s", b->name);
		c->num = num;
		c->den = den ? den : 1;
		c->ratio = NAN;
		p->nctr++;
		p->u.fds++;
		opened++;
		switch (metric) {
		case NL_UNCORE_M_DRAM:
			p->u.sockets[slot].dram_valid |= 1u << sub;
			break;
		case NL_UNCORE_M_LINK:
			p->u.sockets[slot].link_valid |= 1u << sub;
			break;
		case NL_UNCORE_M_USER:
			p->u.sockets[slot].user_valid |= 1u << sub;
			break;
		}
	}
	if (opened && st)
		st->supported = 1;
	return opened;
}

/* libpfm4's encoding of `str` for no OS: codes[0] is the event select
 * register (the perf config), codes[1..] filters (config1, config2). */
static int pfm_codes(const char *str, uint64_t cfg[3])
{
	pfm_pmu_encode_arg_t arg;
	int rc;

	cfg[0] = cfg[1] = cfg[2] = 0;
	if (pfm_initialize() != PFM_SUCCESS)
		return -ENODEV;
	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	rc = pfm_get_os_event_encoding(str, PFM_PLM0 | PFM_PLM3, PFM_OS_NONE,
				       &arg);
	if (rc != PFM_SUCCESS)
		return rc == PFM_ERR_NOMEM ? -ENOMEM : -ENOENT;
	for (int i = 0; i < arg.count && i < 3; i++)
		cfg[i] = arg.codes[i];
	free(arg.codes);
	return 0;
}

struct resolved {
	enum rule_src src;
	int n;
	uint64_t cfg[MAX_SUB][3];
	uint64_t num, den;
	double scale;
	char unit[16];
};

/* Resolve alternative `a` on box b. Return 0 or -errno. */
static int resolve_alt(const struct rule_alt *a, const struct upmu *b,
		       struct resolved *r)
{
	memset(r, 0, sizeof(*r));
	r->src = a->src;
	r->num = a->bytes_num;
	r->den = a->bytes_den;
	for (int i = 0; i < MAX_SUB && a->ev[i]; i++) {
		int rc = -ENOENT;

		switch (a->src) {
		case SRC_PFM: {
			char str[256];

			snprintf(str, sizeof(str), "%s%d::%s", a->pfm_pmu,
				 b->box < 0 ? 0 : b->box, a->ev[i]);
			rc = pfm_codes(str, r->cfg[i]);
			if (rc == -ENOENT) {
				/* more kernel boxes than libpfm4 PMUs: the
				 * encoding is the same for every box */
				snprintf(str, sizeof(str), "%s0::%s",
					 a->pfm_pmu, a->ev[i]);
				rc = pfm_codes(str, r->cfg[i]);
			}
			break;
		}
		case SRC_ALIAS: {
			struct nl_uncore_alias al;
			double bytes;

			rc = nl_uncore_resolve_alias(b->name, a->ev[i], &al);
			if (rc < 0)
				break;
			memcpy(r->cfg[i], al.config, sizeof(al.config));
			if (al.scale > 0 && al.unit[0] &&
			    nl_uncore_unit_bytes(al.scale, al.unit, &bytes) == 0) {
				to_fraction(bytes, &r->num, &r->den);
				r->scale = al.scale;
				snprintf(r->unit, sizeof(r->unit), "%s", al.unit);
			}
			break;
		}
		case SRC_TERMS: {
			struct nl_uncore_format fmt[NL_UNCORE_MAX_FORMATS];
			int nfmt = nl_uncore_read_formats(b->name, fmt,
							  ARRAY_LEN(fmt));

			rc = nfmt < 0 ? nfmt :
			     nl_uncore_encode_terms(a->ev[i], fmt, (size_t)nfmt,
						    r->cfg[i]);
			break;
		}
		}
		if (rc < 0)
			return rc;
		r->n++;
	}
	return r->n ? 0 : -ENOENT;
}

/* Kernels before the 2022 fix gave Ice Lake-SP the Skylake CAS umasks
 * (0x03/0x0c instead of 0x0f/0x30): where numalens has the vendor's codes
 * for this model and the kernel's alias disagrees, the vendor's win. */
static void check_alias(struct nl_uncore_priv *p, const struct rule *ru,
			const struct upmu *b, struct resolved *r)
{
	for (size_t a = 0; a < ARRAY_LEN(ru->alt); a++) {
		const struct rule_alt *alt = &ru->alt[a];
		struct resolved t;
		bool same = true;

		if (alt->src != SRC_TERMS || !alt->ev[0] ||
		    (alt->match && !alt->match(&p->cpu)) ||
		    resolve_alt(alt, b, &t) < 0)
			continue;
		for (int i = 0; i < t.n; i++)
			same &= t.n == r->n && memcmp(t.cfg[i], r->cfg[i],
						      sizeof(t.cfg[i])) == 0;
		if (same)
			return;
		if (b->box <= 0)
			nl_warn("uncore: the kernel's %s alias of %s (config "
				"%#llx) differs from the CPU vendor's encoding "
				"(%#llx); counting the vendor's", ru->event,
				b->name, (unsigned long long)r->cfg[0][0],
				(unsigned long long)t.cfg[0][0]);
		*r = t;
		return;
	}
}

static int setup_rule(struct nl_uncore_priv *p, const struct rule *ru,
		      const struct upmu *pmus, size_t npmus)
{
	struct nl_uncore_stat *st = NULL;

	for (size_t k = 0; k < npmus; k++) {
		const struct upmu *b = &pmus[k];
		struct resolved r;
		int rc = -ENOENT;

		if (strcmp(b->family, ru->family) != 0)
			continue;
		if (!st) {
			st = stat_add(&p->u, ru->event, ru->family);
			if (!st)
				return 0;
		}
		for (size_t a = 0; a < ARRAY_LEN(ru->alt); a++) {
			const struct rule_alt *alt = &ru->alt[a];

			if (!alt->ev[0] || (alt->match && !alt->match(&p->cpu)))
				continue;
			rc = resolve_alt(alt, b, &r);
			if (rc == 0)
				break;
		}
		if (rc < 0) {
			stat_fail(st, rc);
			continue;
		}
		if (r.src == SRC_ALIAS)
			check_alias(p, ru, b, &r);
		if (!st->source[0]) {
			snprintf(st->source, sizeof(st->source), "%s",
				 src_names[r.src]);
			st->scale = r.scale;
			snprintf(st->unit, sizeof(st->unit), "%s", r.unit);
		}
		for (int i = 0; i < r.n; i++) {
			int sub = ru->sub;

			if (ru->metric == NL_UNCORE_M_LINK)
				sub = ru->sub == LINK_IS_EV ? i : b->box;
			if (sub < 0 || (ru->metric == NL_UNCORE_M_LINK &&
					sub >= NL_MAX_UNCORE_LINKS))
				continue;
			if (open_box(p, b, r.cfg[i], ru->metric, sub, r.num,
				     r.den, st) == -ENOMEM)
				return -ENOMEM;
		}
	}
	return 0;
}

/* ---- [uncore] events of --perf.config ---- */

/* libpfm4 uncore PMU ("skx_unc_imc", "skx_unc_imc2") -> kernel family
 * ("uncore_imc"), libpfm4 PMU without box ("skx_unc_imc") and box (2, or
 * -1 for all). The kernel calls libpfm4's "ubo" "ubox". */
static int pfm_to_kernel(const char *pfm_pmu, char *family, size_t len,
			 char *pfm_base, size_t blen, int *box)
{
	const char *unc = strstr(pfm_pmu, "_unc_");
	size_t n = strlen(pfm_pmu), unit;

	if (!unc)
		return -EINVAL;
	while (n > 0 && isdigit((unsigned char)pfm_pmu[n - 1]))
		n--;
	*box = n < strlen(pfm_pmu) ? atoi(pfm_pmu + n) : -1;
	snprintf(pfm_base, blen, "%.*s", (int)n, pfm_pmu);
	unc += 5;
	if ((size_t)(unc - pfm_pmu) >= n)
		return -EINVAL;
	unit = n - (size_t)(unc - pfm_pmu);
	if (unit == 3 && strncmp(unc, "ubo", 3) == 0)
		snprintf(family, len, "uncore_ubox");
	else
		snprintf(family, len, "uncore_%.*s", (int)unit, unc);
	return 0;
}

static int setup_user(struct nl_uncore_priv *p, const char *name,
		      const char *event, const struct upmu *pmus, size_t npmus)
{
	char family[64], pfm_base[64], body[NL_EVCONF_EVENT_MAX];
	const char *sep = strstr(event, "::");
	struct nl_uncore_stat *st;
	int idx = p->u.nuser, box = -1, rc = 0, found = 0;
	bool pfm = sep != NULL;

	if (idx >= NL_MAX_UNCORE_USER) {
		nl_warn("uncore: more than %d [uncore] events; \"%s\" is not "
			"counted", NL_MAX_UNCORE_USER, name);
		return 0;
	}
	for (size_t r = 0; r < ARRAY_LEN(rules); r++) {
		if (strcmp(rules[r].event, name) == 0) {
			nl_warn("uncore: [uncore] %s: the name of a built-in "
				"event; not counted (choose another)", name);
			return 0;
		}
	}
	snprintf(p->u.user[idx], sizeof(p->u.user[idx]), "%s", name);
	p->u.nuser++;
	body[0] = '\0';
	family[0] = '\0';
	if (pfm) {
		char pmu[64];

		snprintf(pmu, sizeof(pmu), "%.*s", (int)(sep - event), event);
		if (pfm_to_kernel(pmu, family, sizeof(family), pfm_base,
				  sizeof(pfm_base), &box) < 0)
			rc = -EINVAL;
		snprintf(body, sizeof(body), "%s", sep + 2);
	} else {
		/* PMU/BODY/ as `perf stat -e` takes it */
		const char *s1 = strchr(event, '/');
		size_t len = strlen(event);

		if (!s1 || len < 3 || event[len - 1] != '/' ||
		    s1 == event + len - 1 || s1 == event ||
		    (size_t)(s1 - event) >= sizeof(family)) {
			rc = -EINVAL;
		} else {
			snprintf(family, sizeof(family), "%.*s",
				 (int)(s1 - event), event);
			snprintf(body, sizeof(body), "%.*s",
				 (int)(event + len - 1 - s1 - 1), s1 + 1);
			if (!body[0] || strchr(body, '/'))
				rc = -EINVAL;
			/* "uncore_imc_0/.../" names one box */
			for (size_t k = 0; k < npmus; k++)
				if (strcmp(pmus[k].name, family) == 0 &&
				    pmus[k].box >= 0) {
					box = pmus[k].box;
					snprintf(family, sizeof(family), "%s",
						 pmus[k].family);
					break;
				}
		}
	}
	st = stat_add(&p->u, name, family[0] ? family : "unknown");
	if (!st)
		return 0;
	if (rc < 0) {
		stat_fail(st, rc);
		nl_warn("uncore: [uncore] %s = %s: want PMU/ALIAS/, "
			"PMU/TERM=VALUE,.../ or a libpfm4 PMU::EVENT; not "
			"counted", name, event);
		return 0;
	}
	for (size_t k = 0; k < npmus; k++) {
		const struct upmu *b = &pmus[k];
		uint64_t cfg[3];
		uint64_t num = 1, den = 1;

		if (strcmp(b->family, family) != 0 || (box >= 0 && b->box != box))
			continue;
		found++;
		if (pfm) {
			char str[NL_EVCONF_EVENT_MAX + 160];

			snprintf(str, sizeof(str), "%s%d::%s", pfm_base,
				 b->box < 0 ? 0 : b->box, body);
			rc = pfm_codes(str, cfg);
			if (rc == -ENOENT) {
				snprintf(str, sizeof(str), "%s::%s", pfm_base,
					 body);
				rc = pfm_codes(str, cfg);
			}
			if (rc == 0)
				snprintf(st->source, sizeof(st->source),
					 "libpfm4");
		} else if (strchr(body, '=')) {
			struct nl_uncore_format fmt[NL_UNCORE_MAX_FORMATS];
			int nfmt = nl_uncore_read_formats(b->name, fmt,
							  ARRAY_LEN(fmt));

			rc = nfmt < 0 ? nfmt :
			     nl_uncore_encode_terms(body, fmt, (size_t)nfmt, cfg);
			if (rc == 0)
				snprintf(st->source, sizeof(st->source),
					 "sysfs");
		} else {
			struct nl_uncore_alias al;

			rc = nl_uncore_resolve_alias(b->name, body, &al);
			if (rc == 0) {
				memcpy(cfg, al.config, sizeof(cfg));
				snprintf(st->source, sizeof(st->source),
					 "sysfs");
				st->scale = al.scale;
				snprintf(st->unit, sizeof(st->unit), "%s",
					 al.unit);
			}
		}
		if (rc < 0) {
			stat_fail(st, rc);
			continue;
		}
		if (open_box(p, b, cfg, NL_UNCORE_M_USER, idx, num, den, st) ==
		    -ENOMEM)
			return -ENOMEM;
	}
	if (!found)
		stat_fail(st, -ENODEV);
	if (!st->supported)
		nl_info("uncore: [uncore] event %s (%s) does not count here "
			"(%s)", name, event,
			strerror(st->err ? -st->err : ENOENT));
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int nl_uncore_setup(struct nl_uncore_priv *p, const struct nl_config *cfg)
{
	struct upmu *pmus = NULL;
	struct nl_evconf conf = { NULL, 0 };
	size_t npmus = 0;
	int ids[NL_MAX_SOCKETS], nids = 0, rc;

	cpu_identify(&p->cpu);
	rc = discover(&pmus, &npmus);
	if (rc < 0)
		goto cleanup;
	/* socket slots, sorted by id, from every CPU any PMU lists */
	for (size_t k = 0; k < npmus; k++) {
		for (int i = 0; i < pmus[k].ncpu; i++) {
			bool have = false;

			for (int j = 0; j < nids; j++)
				have |= ids[j] == pmus[k].socket[i];
			if (have)
				continue;
			if (nids == NL_MAX_SOCKETS) {
				nl_warn("uncore: more than %d sockets; socket "
					"%d is not counted", NL_MAX_SOCKETS,
					pmus[k].socket[i]);
				continue;
			}
			ids[nids++] = pmus[k].socket[i];
		}
	}
	qsort(ids, (size_t)nids, sizeof(ids[0]), cmp_int);
	p->u.nsockets = nids;
	for (int i = 0; i < nids; i++)
		p->u.sockets[i].id = ids[i];

	for (size_t r = 0; r < ARRAY_LEN(rules); r++) {
		rc = setup_rule(p, &rules[r], pmus, npmus);
		if (rc < 0)
			goto cleanup;
	}
	if (cfg && cfg->perf_config) {
		char err[512];

		/* main.c has validated the file; a change since is logged */
		if (nl_evconf_load(cfg->perf_config, &conf, err,
				   sizeof(err)) < 0) {
			nl_warn("uncore: --perf.config: %s", err);
		} else {
			for (size_t i = 0; i < conf.n; i++) {
				if (conf.entries[i].section != NL_EVCONF_UNCORE)
					continue;
				rc = setup_user(p, conf.entries[i].name,
						conf.entries[i].event, pmus,
						npmus);
				if (rc < 0)
					goto cleanup;
			}
		}
	}
	p->u.supported = p->nctr > 0;
	if (npmus == 0)
		nl_info("uncore: no uncore PMUs on this host; nothing to count");
	else
		nl_info("uncore: %zu counters on %d sockets (CPU vendor %d "
			"family %#x model %#x)", p->nctr, p->u.nsockets,
			(int)p->cpu.vendor, p->cpu.family, p->cpu.model);
	for (int i = 0; i < p->u.nstats; i++) {
		const struct nl_uncore_stat *s = &p->u.stats[i];

		if (!s->supported && s->err)
			nl_info("uncore: %s on %s does not count here: %s",
				s->event, s->pmu, strerror(-s->err));
	}
	rc = 0;
cleanup:
	nl_evconf_free(&conf);
	free(pmus);
	return rc;
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
static void publish(struct nl_uncore_priv *p)
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

int nl_uncore_source_init(struct nl_state *st, void **priv)
{
	struct nl_uncore_priv *p = nl_uncore_priv_new(NULL);
	int rc;

	*priv = NULL;
	if (!p)
		return -ENOMEM;
	rc = nl_uncore_setup(p, st->cfg);
	if (rc < 0) {
		nl_uncore_source_free(st, p);
		return rc;
	}
	st->uncore = p->u;
	*priv = p;
	return 0;
}

int nl_uncore_source_sample(struct nl_state *st, void *priv)
{
	struct nl_uncore_priv *p = priv;
	int failed = 0, last_err = 0;

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
	publish(p);
	if (st)
		st->uncore = p->u;
	return failed ? last_err : 0;
}

void nl_uncore_source_free(struct nl_state *st, void *priv)
{
	struct nl_uncore_priv *p = priv;

	if (!p)
		return;
	for (size_t i = 0; i < p->nctr; i++)
		if (p->ctr[i].fd >= 0 && p->ops.close)
			p->ops.close(p->ctr[i].fd, p->ops.arg);
	free(p->ctr);
	if (st)
		memset(&st->uncore, 0, sizeof(st->uncore));
	free(p);
}

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
	int s = socket_slot(u, id);

	return s < 0 ? NULL : &u->sockets[s];
}
