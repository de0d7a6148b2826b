/* Setting the uncore source up: which counters to open on which boxes.
 * Built-in rules per CPU model (libpfm4, sysfs alias or raw terms, first
 * that resolves), the [uncore] events of --perf.config, and opening every
 * counter once (never retried). uncore_sysfs.c reads sysfs; uncore.c reads
 * the counters every cycle. */
#include "uncore.h"
#include "uncore_priv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <perfmon/pfmlib_perf_event.h>

#include "evconf.h"
#include "log.h"
#include "paths.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *skip_ws(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

/* ---- CPU identification ---- */

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
				    NL_VENDOR_AMD : NL_VENDOR_OTHER;
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

/* ---- the counters ---- */

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
static int open_box(struct nl_uncore_priv *p, const struct nl_uncore_pmu *b,
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
static int resolve_alt(const struct rule_alt *a, const struct nl_uncore_pmu *b,
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
			const struct nl_uncore_pmu *b, struct resolved *r)
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
		      const struct nl_uncore_pmu *pmus, size_t npmus)
{
	struct nl_uncore_stat *st = NULL;

	for (size_t k = 0; k < npmus; k++) {
		const struct nl_uncore_pmu *b = &pmus[k];
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

/* Where and how an [uncore] event is counted. */
struct user_target {
	bool pfm;                       /* a libpfm4 PMU::EVENT */
	char family[64];                /* kernel PMU family, "" unknown */
	char pfm_base[64];              /* libpfm4 PMU without box number */
	char body[NL_EVCONF_EVENT_MAX]; /* libpfm4 event, terms or alias */
	int box;                        /* one box, or -1 for all */
};

/* Parse the EVENT of an [uncore] line: a libpfm4 "PMU::EVENT", or
 * "PMU/BODY/" as `perf stat -e` takes it ("uncore_imc_0/.../" names one
 * box). *t is filled as far as the text allows, also on error. Return 0
 * or -EINVAL. */
static int user_parse(const char *event, const struct nl_uncore_pmu *pmus,
		      size_t npmus, struct user_target *t)
{
	const char *sep = strstr(event, "::");
	const char *s1 = strchr(event, '/');
	size_t len = strlen(event);
	int rc = 0;

	memset(t, 0, sizeof(*t));
	t->box = -1;
	t->pfm = sep != NULL;
	if (t->pfm) {
		char pmu[64];

		snprintf(pmu, sizeof(pmu), "%.*s", (int)(sep - event), event);
		if (pfm_to_kernel(pmu, t->family, sizeof(t->family),
				  t->pfm_base, sizeof(t->pfm_base), &t->box) < 0)
			rc = -EINVAL;
		snprintf(t->body, sizeof(t->body), "%s", sep + 2);
		return rc;
	}
	if (!s1 || len < 3 || event[len - 1] != '/' || s1 == event + len - 1 ||
	    s1 == event || (size_t)(s1 - event) >= sizeof(t->family))
		return -EINVAL;
	snprintf(t->family, sizeof(t->family), "%.*s", (int)(s1 - event),
		 event);
	snprintf(t->body, sizeof(t->body), "%.*s",
		 (int)(event + len - 1 - s1 - 1), s1 + 1);
	if (!t->body[0] || strchr(t->body, '/'))
		rc = -EINVAL;
	for (size_t k = 0; k < npmus; k++) {
		if (strcmp(pmus[k].name, t->family) == 0 && pmus[k].box >= 0) {
			t->box = pmus[k].box;
			snprintf(t->family, sizeof(t->family), "%s",
				 pmus[k].family);
			break;
		}
	}
	return rc;
}

/* The config of target t on box b into cfg; what resolved it goes into
 * st. Return 0 or -errno. */
static int user_encode(const struct user_target *t,
		       const struct nl_uncore_pmu *b, uint64_t cfg[3],
		       struct nl_uncore_stat *st)
{
	int rc;

	if (t->pfm) {
		char str[NL_EVCONF_EVENT_MAX + 160];

		snprintf(str, sizeof(str), "%s%d::%s", t->pfm_base,
			 b->box < 0 ? 0 : b->box, t->body);
		rc = pfm_codes(str, cfg);
		if (rc == -ENOENT) {
			snprintf(str, sizeof(str), "%s::%s", t->pfm_base,
				 t->body);
			rc = pfm_codes(str, cfg);
		}
		if (rc == 0)
			snprintf(st->source, sizeof(st->source), "libpfm4");
	} else if (strchr(t->body, '=')) {
		struct nl_uncore_format fmt[NL_UNCORE_MAX_FORMATS];
		int nfmt = nl_uncore_read_formats(b->name, fmt, ARRAY_LEN(fmt));

		rc = nfmt < 0 ? nfmt :
		     nl_uncore_encode_terms(t->body, fmt, (size_t)nfmt, cfg);
		if (rc == 0)
			snprintf(st->source, sizeof(st->source), "sysfs");
	} else {
		struct nl_uncore_alias al;

		rc = nl_uncore_resolve_alias(b->name, t->body, &al);
		if (rc == 0) {
			memcpy(cfg, al.config, sizeof(al.config));
			snprintf(st->source, sizeof(st->source), "sysfs");
			st->scale = al.scale;
			snprintf(st->unit, sizeof(st->unit), "%s", al.unit);
		}
	}
	return rc;
}

static int setup_user(struct nl_uncore_priv *p, const char *name,
		      const char *event, const struct nl_uncore_pmu *pmus,
		      size_t npmus)
{
	struct user_target t;
	struct nl_uncore_stat *st;
	int idx = p->u.nuser, rc, found = 0;

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
	rc = user_parse(event, pmus, npmus, &t);
	st = stat_add(&p->u, name, t.family[0] ? t.family : "unknown");
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
		const struct nl_uncore_pmu *b = &pmus[k];
		uint64_t cfg[3];

		if (strcmp(b->family, t.family) != 0 ||
		    (t.box >= 0 && b->box != t.box))
			continue;
		found++;
		rc = user_encode(&t, b, cfg, st);
		if (rc < 0) {
			stat_fail(st, rc);
			continue;
		}
		if (open_box(p, b, cfg, NL_UNCORE_M_USER, idx, 1, 1, st) ==
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
	struct nl_uncore_pmu *pmus = NULL;
	struct nl_evconf conf = { NULL, 0 };
	size_t npmus = 0;
	int ids[NL_MAX_SOCKETS], nids = 0, rc;

	cpu_identify(&p->cpu);
	rc = nl_uncore_discover(&pmus, &npmus);
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

