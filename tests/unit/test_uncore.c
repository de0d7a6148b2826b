/* Tests of the uncore source: the sysfs format/alias encoder, resolution
 * against fixture PMU trees of Skylake-SP, Ice Lake-SP, Sapphire Rapids,
 * Zen 3 and Zen 4 hosts (tests/fixtures/uncore-*), per-socket summing over
 * boxes and multiplex scaling fed through fake open/read calls, a libpfm4
 * cross-check (in a child with LIBPFM_ENCODE_INACTIVE=1), and real
 * perf_event_open() failures, which must be reported once and not retried.
 * This VM has no uncore PMU: nothing here needs one. */
#include "harness.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <perfmon/pfmlib.h>

#include "config.h"
#include "paths.h"
#include "prom.h"
#include "uncore.h"
#include "uncore_priv.h"

#define FIX NL_SRCDIR "/tests/fixtures"

/* ---- fake counters ---- */

#define FAKE_MAX 256

struct fake {
	int nopen;
	struct {
		struct perf_event_attr attr;
		int cpu;
	} open[FAKE_MAX];
	uint64_t val[FAKE_MAX][3];
	int read_err;              /* returned by every read when nonzero */
	int closes;
};

static int f_open(const struct perf_event_attr *a, int cpu, void *arg)
{
	struct fake *f = arg;

	if (f->nopen >= FAKE_MAX)
		return -EMFILE;
	f->open[f->nopen].attr = *a;
	f->open[f->nopen].cpu = cpu;
	return 1000 + f->nopen++;
}

static int f_read(int fd, uint64_t v[3], void *arg)
{
	struct fake *f = arg;

	if (f->read_err)
		return f->read_err;
	memcpy(v, f->val[fd - 1000], 3 * sizeof(uint64_t));
	return 0;
}

static void f_close(int fd, void *arg)
{
	struct fake *f = arg;

	(void)fd;
	f->closes++;
}

static struct nl_uncore_priv *fake_setup(struct fake *f, const char *host,
					 const struct nl_config *cfg)
{
	struct nl_uncore_ops ops = { f_open, f_read, f_close, f };
	struct nl_uncore_priv *p;
	char sys[512];

	memset(f, 0, sizeof(*f));
	snprintf(sys, sizeof(sys), "%s/sys", host);
	/* no proc tree: the CPU must come from sysfs modalias */
	nl_paths_set(FIX "/none/proc", sys);
	p = nl_uncore_priv_new(&ops);
	if (p && nl_uncore_setup(p, cfg) < 0) {
		nl_source_uncore.free(NULL, p);
		p = NULL;
	}
	return p;
}

/* perf type of PMU `pmu` in a fixture, read independently of the source */
static uint32_t fixture_type(const char *host, const char *pmu)
{
	char path[512];
	unsigned v = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/sys/bus/event_source/devices/%s/type",
		 host, pmu);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	if (fscanf(fp, "%u", &v) != 1)
		v = 0;
	fclose(fp);
	return v;
}

/* Number of recorded opens of PMU `pmu` with config `config` (and config1
 * `c1`), on any CPU; *cpus gets the CPUs as a bit mask. */
static int count_opens(const struct fake *f, const char *host,
		       const char *pmu, uint64_t config, uint64_t c1,
		       uint64_t *cpus)
{
	uint32_t type = fixture_type(host, pmu);
	int n = 0;

	if (cpus)
		*cpus = 0;
	for (int i = 0; i < f->nopen; i++) {
		const struct perf_event_attr *a = &f->open[i].attr;

		if (a->type != type || a->config != config || a->config1 != c1)
			continue;
		n++;
		if (cpus)
			*cpus |= 1ULL << f->open[i].cpu;
	}
	return n;
}

static int opens_of_type(const struct fake *f, uint32_t type)
{
	int n = 0;

	for (int i = 0; i < f->nopen; i++)
		n += f->open[i].attr.type == type;
	return n;
}

/* Every open must be a plain system-wide counting event: the uncore drivers
 * reject sampling and exclude bits. */
static void check_attrs(const struct fake *f)
{
	for (int i = 0; i < f->nopen; i++) {
		const struct perf_event_attr *a = &f->open[i].attr;

		CHECK(a->size == sizeof(*a));
		CHECK(a->sample_period == 0);
		CHECK(!a->exclude_user && !a->exclude_kernel && !a->exclude_hv &&
		      !a->exclude_guest && !a->exclude_host && !a->inherit);
		CHECK(a->read_format == (PERF_FORMAT_TOTAL_TIME_ENABLED |
					 PERF_FORMAT_TOTAL_TIME_RUNNING));
	}
}

static bool pfm_pmu_active(const char *name)
{
	pfm_pmu_t i;

	if (pfm_initialize() != PFM_SUCCESS)
		return false;
	pfm_for_all_pmus(i) {
		pfm_pmu_info_t info;

		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (pfm_get_pmu_info(i, &info) == PFM_SUCCESS && info.name &&
		    strcmp(info.name, name) == 0)
			return info.is_present;
	}
	return false;
}

/* ---- the pure encoder ---- */

static void test_format_parse(void)
{
	struct nl_uncore_format f;

	CHECK_EQ_INT(nl_uncore_format_parse("event", "config:0-7\n", &f), 0);
	CHECK_EQ_INT(f.reg, 0);
	CHECK_EQ_INT(f.nbits, 8);
	CHECK_EQ_INT(f.bit[0], 0);
	CHECK_EQ_INT(f.bit[7], 7);
	CHECK_STR(f.name, "event");

	/* AMD family 17h+ DF: three ranges */
	CHECK_EQ_INT(nl_uncore_format_parse("event", "config:0-7,32-35,59-60", &f), 0);
	CHECK_EQ_INT(f.nbits, 14);
	CHECK_EQ_INT(f.bit[8], 32);
	CHECK_EQ_INT(f.bit[11], 35);
	CHECK_EQ_INT(f.bit[12], 59);
	CHECK_EQ_INT(f.bit[13], 60);

	CHECK_EQ_INT(nl_uncore_format_parse("filter_tid", "config1:0-8", &f), 0);
	CHECK_EQ_INT(f.reg, 1);
	CHECK_EQ_INT(f.nbits, 9);
	CHECK_EQ_INT(nl_uncore_format_parse("edge", "config:18", &f), 0);
	CHECK_EQ_INT(f.nbits, 1);
	CHECK_EQ_INT(f.bit[0], 18);
	CHECK_EQ_INT(nl_uncore_format_parse("mask1", "config2:32-63", &f), 0);
	CHECK_EQ_INT(f.reg, 2);
	CHECK_EQ_INT(f.nbits, 32);
	CHECK_EQ_INT(nl_uncore_format_parse("raw", "config:0-63", &f), 0);
	CHECK_EQ_INT(f.nbits, 64);

	/* listed out of order: still filled lowest bit first */
	CHECK_EQ_INT(nl_uncore_format_parse("umask", "config:32-35,8-15", &f), 0);
	CHECK_EQ_INT(f.bit[0], 8);
	CHECK_EQ_INT(f.bit[8], 32);

	CHECK_EQ_INT(nl_uncore_format_parse("x", "config3:0-7", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "cfg:0-7", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "config:7-0", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "config:64", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "config:60-64", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "config:0-7,5", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "config:", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "config:a-b", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "config:0-7 junk", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "config:0-7,", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("x", "0-7", &f), -EINVAL);
	CHECK_EQ_INT(nl_uncore_format_parse("", "config:0-7", &f), -EINVAL);
}

/* formats as the kernel writes them for the PMUs of the fixtures */
static size_t mkfmt(struct nl_uncore_format *f, const char *const *spec)
{
	size_t n = 0;

	for (; spec[0]; spec += 2) {
		if (nl_uncore_format_parse(spec[0], spec[1], &f[n]) == 0)
			n++;
		else
			fprintf(stderr, "  bad format %s %s\n", spec[0], spec[1]);
	}
	return n;
}

static void test_encode_terms(void)
{
	static const char *const skx[] = {
		"event", "config:0-7", "umask", "config:8-15", "edge", "config:18",
		"inv", "config:23", "thresh", "config:24-31",
		"filter_tid", "config1:0-8", "filter_opc0", "config1:41-50",
		"mask0", "config2:0-31", NULL,
	};
	static const char *const spr[] = {
		"event", "config:0-7", "umask", "config:8-15,32-55", NULL,
	};
	static const char *const zen3_df[] = {
		"event", "config:0-7,32-35,59-60", "umask", "config:8-15", NULL,
	};
	static const char *const zen4_df[] = {
		"event", "config:0-7,32-37", "umask", "config:8-15,24-27", NULL,
	};
	static const char *const umc[] = {
		"event", "config:0-7", "rdwrmask", "config:8-9", NULL,
	};
	struct nl_uncore_format f[16];
	uint64_t c[3];
	size_t n;

	n = mkfmt(f, skx);
	CHECK_EQ_INT(n, 8);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x04,umask=0x03", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x304);
	CHECK_EQ_U64(c[1], 0);
	CHECK_EQ_U64(c[2], 0);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x04,umask=0x0c\n", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0xc04);
	/* a bare term is 1; decimal stays decimal ("010" is ten, as in perf) */
	CHECK_EQ_INT(nl_uncore_encode_terms("event=010,edge,inv", f, n, c), 0);
	CHECK_EQ_U64(c[0], 10 | (1u << 18) | (1u << 23));
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x34,thresh=0xff", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x34 | 0xffULL << 24);
	/* config1 / config2 fields */
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x34,filter_tid=0x1ff,filter_opc0=0x202",
					    f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x34);
	CHECK_EQ_U64(c[1], 0x1ff | 0x202ULL << 41);
	CHECK_EQ_INT(nl_uncore_encode_terms("mask0=0xdeadbeef", f, n, c), 0);
	CHECK_EQ_U64(c[2], 0xdeadbeefULL);
	/* whole registers */
	CHECK_EQ_INT(nl_uncore_encode_terms("config=0x1234,config1=5,config2=0x10",
					    f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x1234);
	CHECK_EQ_U64(c[1], 5);
	CHECK_EQ_U64(c[2], 0x10);
	/* a later term replaces an earlier one's bits */
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0xff,event=0x05", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x05);

	/* errors */
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x04,foo=1", f, n, c), -ENOENT);
	CHECK_EQ_INT(nl_uncore_encode_terms("umask=0x100", f, n, c), -ERANGE);
	CHECK_EQ_INT(nl_uncore_encode_terms("filter_tid=0x200", f, n, c), -ERANGE);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=", f, n, c), -EINVAL);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x", f, n, c), -EINVAL);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0xzz", f, n, c), -EINVAL);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=-1", f, n, c), -EINVAL);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x04,umask=?", f, n, c), -EINVAL);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x04,,umask=1", f, n, c), -EINVAL);
	CHECK_EQ_INT(nl_uncore_encode_terms("=1", f, n, c), -EINVAL);
	CHECK_EQ_INT(nl_uncore_encode_terms("", f, n, c), -EINVAL);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x04", f, 0, c), -ENOENT);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x1ffffffffffffffff", f, n, c),
		     -EINVAL);

	/* SPR umask_ext4: the value spills from bits 8-15 into 32-55 */
	n = mkfmt(f, spr);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x05,umask=0xcf", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0xcf05);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x05,umask=0x1ff", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x1ULL << 32 | 0xff05);
	CHECK_EQ_INT(nl_uncore_encode_terms("umask=0xffffffff", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0xffffffULL << 32 | 0xff00);
	CHECK_EQ_INT(nl_uncore_encode_terms("umask=0x100000000", f, n, c), -ERANGE);

	/* AMD Zen 2/3 DF: 14-bit events over config:0-7,32-35,59-60 */
	n = mkfmt(f, zen3_df);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x07,umask=0x38", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x3807);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x107,umask=0x38", f, n, c), 0);
	CHECK_EQ_U64(c[0], 1ULL << 32 | 0x3807);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x1c7,umask=0x38", f, n, c), 0);
	CHECK_EQ_U64(c[0], 1ULL << 32 | 0x38c7);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x7c7,umask=0x02", f, n, c), 0);
	CHECK_EQ_U64(c[0], 7ULL << 32 | 0x02c7);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x3fff", f, n, c), 0);
	CHECK_EQ_U64(c[0], 3ULL << 59 | 0xfULL << 32 | 0xff);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x4000", f, n, c), -ERANGE);

	/* Zen 4 DF (PerfMonV2): event14v2 and umask12 */
	n = mkfmt(f, zen4_df);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x1f,umask=0x7fe", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x7ULL << 24 | 0xfe00 | 0x1f);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x3f1f", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x3fULL << 32 | 0x1f);

	/* Zen 4 UMC */
	n = mkfmt(f, umc);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x0a,rdwrmask=0x1", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x10a);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x0a,rdwrmask=0x2", f, n, c), 0);
	CHECK_EQ_U64(c[0], 0x20a);
	CHECK_EQ_INT(nl_uncore_encode_terms("event=0x0a,rdwrmask=0x4", f, n, c), -ERANGE);
}

static void test_unit_bytes(void)
{
	double b = 0;

	CHECK_EQ_INT(nl_uncore_unit_bytes(6.103515625e-5, "MiB", &b), 0);
	CHECK(b == 64.0);     /* exactly: 2^-14 MiB */
	CHECK_EQ_INT(nl_uncore_unit_bytes(64, "Bytes", &b), 0);
	CHECK(b == 64.0);
	CHECK_EQ_INT(nl_uncore_unit_bytes(1e-6, "MB", &b), 0);
	CHECK_NEAR(b, 1.0, 1e-12);
	CHECK_EQ_INT(nl_uncore_unit_bytes(0.5, "KiB", &b), 0);
	CHECK(b == 512.0);
	CHECK_EQ_INT(nl_uncore_unit_bytes(2.3283064365386962890625e-10, "Joules",
					  &b), -EINVAL);
	CHECK_EQ_INT(nl_uncore_unit_bytes(0, "MiB", &b), -EINVAL);
	CHECK_EQ_INT(nl_uncore_unit_bytes(-1, "MiB", &b), -EINVAL);
	CHECK_EQ_INT(nl_uncore_unit_bytes(1, "", &b), -EINVAL);
}

static void test_modalias_and_names(void)
{
	struct nl_uncore_cpu c;
	char fam[64];
	int box;

	CHECK_EQ_INT(nl_uncore_parse_modalias(
		"cpu:type:x86,ven0000fam0006mod0055:feature:,0000,0001\n", &c), 0);
	CHECK_EQ_INT(c.vendor, NL_VENDOR_INTEL);
	CHECK_EQ_INT(c.family, 6);
	CHECK_EQ_INT(c.model, 0x55);
	CHECK_EQ_INT(nl_uncore_parse_modalias(
		"cpu:type:x86,ven0002fam0019mod0011:feature:,0000", &c), 0);
	CHECK_EQ_INT(c.vendor, NL_VENDOR_AMD);
	CHECK_EQ_INT(c.family, 0x19);
	CHECK_EQ_INT(c.model, 0x11);
	CHECK_EQ_INT(nl_uncore_parse_modalias(
		"cpu:type:x86,ven0009fam0018mod0000:feature:", &c), 0);
	CHECK_EQ_INT(c.vendor, NL_VENDOR_OTHER);
	CHECK_EQ_INT(nl_uncore_parse_modalias("cpu:type:aarch64:feature:", &c),
		     -EINVAL);

	nl_uncore_split_pmu("uncore_imc_12", fam, sizeof(fam), &box);
	CHECK_STR(fam, "uncore_imc");
	CHECK_EQ_INT(box, 12);
	nl_uncore_split_pmu("uncore_imc_free_running_0", fam, sizeof(fam), &box);
	CHECK_STR(fam, "uncore_imc_free_running");
	CHECK_EQ_INT(box, 0);
	nl_uncore_split_pmu("amd_umc_23", fam, sizeof(fam), &box);
	CHECK_STR(fam, "amd_umc");
	CHECK_EQ_INT(box, 23);
	nl_uncore_split_pmu("amd_df", fam, sizeof(fam), &box);
	CHECK_STR(fam, "amd_df");
	CHECK_EQ_INT(box, -1);
	nl_uncore_split_pmu("power", fam, sizeof(fam), &box);
	CHECK_STR(fam, "power");
	CHECK_EQ_INT(box, -1);
	/* a number not after '_' is part of the name (Intel DSA: "dsa0") */
	nl_uncore_split_pmu("dsa0", fam, sizeof(fam), &box);
	CHECK_STR(fam, "dsa0");
	CHECK_EQ_INT(box, -1);
	nl_uncore_split_pmu("_5", fam, sizeof(fam), &box);
	CHECK_EQ_INT(box, -1);
}

static void test_scale(void)
{
	CHECK_EQ_U64(nl_uncore_scale(100, 1000, 1000), 100);
	CHECK_EQ_U64(nl_uncore_scale(100, 1000, 500), 200);
	CHECK_EQ_U64(nl_uncore_scale(100, 1000, 333), 300);
	CHECK_EQ_U64(nl_uncore_scale(12345, 1000, 0), 0);
	/* running > enabled (clock skew between the two): no inflation */
	CHECK_EQ_U64(nl_uncore_scale(1000, 1000, 1001), 1000);
	CHECK_EQ_U64(nl_uncore_scale(UINT64_MAX, 2, 1), UINT64_MAX);
	CHECK_EQ_U64(nl_uncore_scale(UINT64_MAX / 2, 2, 1), UINT64_MAX - 1);
}

/* ---- resolution against the fixture hosts ---- */

static void test_fixture_skx(void)
{
	const char *host = FIX "/uncore-skx";
	const struct nl_uncore_stat *s;
	struct nl_uncore_priv *p;
	struct fake f;
	uint64_t cpus;
	bool pfm = pfm_pmu_active("skx_unc_imc0");

	p = fake_setup(&f, host, NULL);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(p->cpu.vendor, NL_VENDOR_INTEL);
	CHECK_EQ_INT(p->cpu.model, 0x55);
	CHECK_EQ_INT(p->u.nsockets, 2);
	CHECK_EQ_INT(p->u.sockets[0].id, 0);
	CHECK_EQ_INT(p->u.sockets[1].id, 1);
	/* 6 IMC boxes x rd/wr + 3 UPI links, each on CPU 0 and CPU 4 */
	CHECK_EQ_INT(f.nopen, 30);
	CHECK_EQ_INT((int)p->nctr, 30);
	CHECK_EQ_U64(p->u.fds, 30);
	check_attrs(&f);
	for (int i = 0; i < 6; i++) {
		char pmu[32];

		snprintf(pmu, sizeof(pmu), "uncore_imc_%d", i);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0x304, 0, &cpus), 2);
		CHECK_EQ_U64(cpus, 0x11);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0xc04, 0, &cpus), 2);
		CHECK_EQ_U64(cpus, 0x11);
	}
	for (int i = 0; i < 3; i++) {
		char pmu[32];

		snprintf(pmu, sizeof(pmu), "uncore_upi_%d", i);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0xf02, 0, &cpus), 2);
		CHECK_EQ_U64(cpus, 0x11);
	}
	/* not mistaken for uncore: RAPL, CHA, M2M, IIO free-running */
	CHECK_EQ_INT(opens_of_type(&f, fixture_type(host, "power")), 0);
	CHECK_EQ_INT(opens_of_type(&f, fixture_type(host, "uncore_cha_0")), 0);
	CHECK_EQ_INT(opens_of_type(&f, fixture_type(host,
					"uncore_iio_free_running_0")), 0);

	s = nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc");
	CHECK(s && s->supported == 1 && s->err == 0);
	/* libpfm4 4.13 knows SKX IMCs, but only calls them present on one */
	if (s)
		CHECK_STR(s->source, pfm ? "libpfm4" : "sysfs");
	if (s && !pfm) {
		CHECK(s->scale == 6.103515625e-5);
		CHECK_STR(s->unit, "MiB");
	}
	s = nl_uncore_find_stat(&p->u, "link_tx", "uncore_upi");
	CHECK(s && s->supported == 1);
	if (s)
		CHECK_STR(s->source, pfm ? "libpfm4" : "builtin");
	CHECK(nl_uncore_find_stat(&p->u, "dram_all", NULL) == NULL);
	for (int k = 0; k < 2; k++) {
		const struct nl_uncore_socket *so = &p->u.sockets[k];

		CHECK_EQ_U64(so->dram_valid, (1u << NL_UNCORE_READ) |
					     (1u << NL_UNCORE_WRITE));
		CHECK_EQ_U64(so->link_valid, 0x7);
	}
	nl_source_uncore.free(NULL, p);
	CHECK_EQ_INT(f.closes, 30);
}

static void test_fixture_icx(void)
{
	const char *host = FIX "/uncore-icx";
	const struct nl_uncore_stat *s;
	struct nl_uncore_priv *p;
	struct fake f;
	uint64_t cpus;

	p = fake_setup(&f, host, NULL);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(p->cpu.model, 0x6a);
	/* 12 IMC boxes x 2 + 3 UPI, x 2 sockets */
	CHECK_EQ_INT(f.nopen, 54);
	check_attrs(&f);
	for (int i = 0; i < 12; i++) {
		char pmu[32];

		snprintf(pmu, sizeof(pmu), "uncore_imc_%d", i);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0x0f04, 0, &cpus), 2);
		CHECK_EQ_U64(cpus, 0x11);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0x3004, 0, NULL), 2);
	}
	for (int i = 0; i < 3; i++) {
		char pmu[32];

		snprintf(pmu, sizeof(pmu), "uncore_upi_%d", i);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0xf02, 0, NULL), 2);
	}
	/* the free-running IMC counters are another family */
	for (int i = 0; i < 4; i++) {
		char pmu[40];

		snprintf(pmu, sizeof(pmu), "uncore_imc_free_running_%d", i);
		CHECK_EQ_INT(opens_of_type(&f, fixture_type(host, pmu)), 0);
	}
	s = nl_uncore_find_stat(&p->u, "dram_write", "uncore_imc");
	CHECK(s && s->supported && strcmp(s->source, "sysfs") == 0);
	s = nl_uncore_find_stat(&p->u, "link_tx", "uncore_upi");
	CHECK(s && s->supported && strcmp(s->source, "builtin") == 0);
	CHECK(nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc_free_running")
	      == NULL);
	nl_source_uncore.free(NULL, p);
}

static void test_fixture_spr(void)
{
	const char *host = FIX "/uncore-spr";
	const struct nl_uncore_stat *s;
	struct nl_uncore_priv *p;
	struct fake f;

	p = fake_setup(&f, host, NULL);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(p->cpu.model, 0x8f);
	/* 8 IMC x 2 + 4 UPI, x 2 sockets */
	CHECK_EQ_INT(f.nopen, 40);
	for (int i = 0; i < 8; i++) {
		char pmu[32];

		snprintf(pmu, sizeof(pmu), "uncore_imc_%d", i);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0xcf05, 0, NULL), 2);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0xf005, 0, NULL), 2);
	}
	for (int i = 0; i < 4; i++) {
		char pmu[32];

		snprintf(pmu, sizeof(pmu), "uncore_upi_%d", i);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0xf02, 0, NULL), 2);
	}
	CHECK_EQ_U64(p->u.sockets[0].link_valid, 0xf);
	s = nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc");
	CHECK(s && s->supported && strcmp(s->source, "sysfs") == 0);
	nl_source_uncore.free(NULL, p);
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A copy of fixture `name` in a fresh temporary directory. */
static bool copy_fixture(const char *name, char *dir, size_t len)
{
	char cmd[1024];

	snprintf(dir, len, "/tmp/nl-uncore-XXXXXX");
	if (!mkdtemp(dir))
		return false;
	snprintf(cmd, sizeof(cmd), "cp -a '%s/%s/sys' '%s/'", FIX, name, dir);
	return sh(cmd) == 0;
}

static void rm_tree(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	sh(cmd);
}

/* Sapphire Rapids under a kernel older than 6.4, which has no IMC aliases:
 * the built-in SPR codes, through the same format files. */
static void test_spr_without_aliases(void)
{
	const struct nl_uncore_stat *s;
	struct nl_uncore_priv *p;
	struct fake f;
	char dir[64], cmd[256];

	CHECK(copy_fixture("uncore-spr", dir, sizeof(dir)));
	snprintf(cmd, sizeof(cmd), "rm -rf %s/sys/devices/uncore_imc_*/events",
		 dir);
	CHECK_EQ_INT(sh(cmd), 0);
	p = fake_setup(&f, dir, NULL);
	CHECK(p != NULL);
	if (p) {
		CHECK_EQ_INT(count_opens(&f, dir, "uncore_imc_3", 0xcf05, 0, NULL), 2);
		CHECK_EQ_INT(count_opens(&f, dir, "uncore_imc_3", 0xf005, 0, NULL), 2);
		s = nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc");
		CHECK(s && s->supported && strcmp(s->source, "builtin") == 0);
		CHECK(s && s->scale == 0 && s->unit[0] == '\0');
		nl_source_uncore.free(NULL, p);
	}
	/* an unknown Intel model without aliases: nothing to count, said so */
	snprintf(cmd, sizeof(cmd), "sed -i 's/mod008F/mod00AD/' "
		 "%s/sys/devices/system/cpu/modalias", dir);
	CHECK_EQ_INT(sh(cmd), 0);
	p = fake_setup(&f, dir, NULL);
	CHECK(p != NULL);
	if (p) {
		s = nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc");
		CHECK(s && !s->supported && s->err == -ENOENT);
		s = nl_uncore_find_stat(&p->u, "link_tx", "uncore_upi");
		CHECK(s && !s->supported);
		CHECK_EQ_INT(f.nopen, 0);
		CHECK(!p->u.supported);
		nl_source_uncore.free(NULL, p);
	}
	rm_tree(dir);
}

/* The alias resolver on real trees: scale and unit, and errors for what a
 * tree lacks (no such alias, no format directory, a term without its format
 * file). */
static void test_resolve_alias_files(void)
{
	struct nl_uncore_alias al;
	char dir[64], cmd[512], sys[128];

	nl_paths_set(FIX "/none/proc", FIX "/uncore-spr/sys");
	CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_5", "cas_count_write", &al), 0);
	CHECK_EQ_U64(al.config[0], 0xf005);
	CHECK(al.scale == 6.103515625e-5);
	CHECK_STR(al.unit, "MiB");
	CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_5", "clockticks", &al), 0);
	CHECK_EQ_U64(al.config[0], 0x01);
	CHECK(al.scale == 0 && al.unit[0] == '\0');
	CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_5", "nope", &al), -ENOENT);
	CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_99", "clockticks", &al),
		     -ENOENT);
	CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_5", "../type", &al), -EINVAL);
	CHECK_EQ_INT(nl_uncore_resolve_alias("..", "clockticks", &al), -EINVAL);

	CHECK(copy_fixture("uncore-spr", dir, sizeof(dir)));
	snprintf(cmd, sizeof(cmd), "rm -rf %s/sys/devices/uncore_imc_1/format && "
		 "rm %s/sys/devices/uncore_imc_2/format/umask", dir, dir);
	CHECK_EQ_INT(sh(cmd), 0);
	snprintf(sys, sizeof(sys), "%s/sys", dir);
	nl_paths_set(FIX "/none/proc", sys);
	CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_1", "cas_count_read", &al),
		     -ENOENT);
	CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_2", "cas_count_read", &al),
		     -ENOENT);
	CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_3", "cas_count_read", &al), 0);
	rm_tree(dir);
}

/* Ice Lake-SP under a kernel from before the 2022 fix, whose aliases carry
 * the Skylake umasks: the vendor's codes win. */
static void test_icx_old_aliases(void)
{
	const struct nl_uncore_stat *s;
	struct nl_uncore_priv *p;
	struct fake f;
	char dir[64], cmd[512];

	CHECK(copy_fixture("uncore-icx", dir, sizeof(dir)));
	snprintf(cmd, sizeof(cmd),
		 "for d in %s/sys/devices/uncore_imc_[0-9]*/events; do "
		 "echo event=0x04,umask=0x03 > $d/cas_count_read; "
		 "echo event=0x04,umask=0x0c > $d/cas_count_write; done", dir);
	CHECK_EQ_INT(sh(cmd), 0);
	p = fake_setup(&f, dir, NULL);
	CHECK(p != NULL);
	if (p) {
		CHECK_EQ_INT(count_opens(&f, dir, "uncore_imc_7", 0x0f04, 0, NULL), 2);
		CHECK_EQ_INT(count_opens(&f, dir, "uncore_imc_7", 0x3004, 0, NULL), 2);
		CHECK_EQ_INT(count_opens(&f, dir, "uncore_imc_7", 0x0304, 0, NULL), 0);
		s = nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc");
		CHECK(s && s->supported && strcmp(s->source, "builtin") == 0);
		nl_source_uncore.free(NULL, p);
	}
	rm_tree(dir);
}

static void test_fixture_zen3(void)
{
	const char *host = FIX "/uncore-zen3";
	const struct nl_uncore_stat *s;
	struct nl_uncore_priv *p;
	struct fake f;
	uint64_t cpus;
	static const uint64_t dram[8] = {
		0x3807, 0x3847, 0x3887, 0x38c7,
		1ULL << 32 | 0x3807, 1ULL << 32 | 0x3847,
		1ULL << 32 | 0x3887, 1ULL << 32 | 0x38c7,
	};
	static const uint64_t link[4] = {
		7ULL << 32 | 0x02c7, 8ULL << 32 | 0x0207,
		8ULL << 32 | 0x0247, 8ULL << 32 | 0x0287,
	};

	p = fake_setup(&f, host, NULL);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(p->cpu.vendor, NL_VENDOR_AMD);
	CHECK_EQ_INT(p->cpu.family, 0x19);
	/* one amd_df for the system, on CPU 0 and CPU 4: 8 DRAM + 4 links */
	CHECK_EQ_INT(f.nopen, 24);
	check_attrs(&f);
	for (int i = 0; i < 8; i++) {
		CHECK_EQ_INT(count_opens(&f, host, "amd_df", dram[i], 0, &cpus), 2);
		CHECK_EQ_U64(cpus, 0x11);
	}
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(count_opens(&f, host, "amd_df", link[i], 0, NULL), 2);
	CHECK_EQ_INT(opens_of_type(&f, fixture_type(host, "amd_l3")), 0);
	s = nl_uncore_find_stat(&p->u, "dram_all", "amd_df");
	CHECK(s && s->supported && strcmp(s->source, "builtin") == 0);
	s = nl_uncore_find_stat(&p->u, "link_tx", "amd_df");
	CHECK(s && s->supported);
	CHECK(nl_uncore_find_stat(&p->u, "dram_read", NULL) == NULL);
	CHECK_EQ_U64(p->u.sockets[1].dram_valid, 1u << NL_UNCORE_ALL);
	CHECK_EQ_U64(p->u.sockets[1].link_valid, 0xf);
	nl_source_uncore.free(NULL, p);
}

static void test_fixture_zen4(void)
{
	const char *host = FIX "/uncore-zen4";
	const struct nl_uncore_stat *s;
	struct nl_uncore_priv *p;
	struct fake f;
	uint64_t cpus;

	p = fake_setup(&f, host, NULL);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(p->cpu.model, 0x11);
	/* 24 UMCs, each on the one CPU of its socket, rd + wr */
	CHECK_EQ_INT(f.nopen, 48);
	check_attrs(&f);
	for (int i = 0; i < 24; i++) {
		char pmu[32];

		snprintf(pmu, sizeof(pmu), "amd_umc_%d", i);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0x10a, 0, &cpus), 1);
		CHECK_EQ_U64(cpus, i < 12 ? 0x1 : 0x10);
		CHECK_EQ_INT(count_opens(&f, host, pmu, 0x20a, 0, NULL), 1);
	}
	/* Zen 4's data fabric events are not the Zen 2/3 ones: not opened,
	 * and reported as not counting */
	CHECK_EQ_INT(opens_of_type(&f, fixture_type(host, "amd_df")), 0);
	s = nl_uncore_find_stat(&p->u, "link_tx", "amd_df");
	CHECK(s && !s->supported && s->err == -ENOENT);
	s = nl_uncore_find_stat(&p->u, "dram_read", "amd_umc");
	CHECK(s && s->supported && strcmp(s->source, "builtin") == 0);
	CHECK(p->u.supported);
	nl_source_uncore.free(NULL, p);
}

/* ---- summing and scaling ---- */

static void set_all(struct nl_uncore_priv *p, struct fake *f, uint64_t val,
		    uint64_t en, uint64_t run)
{
	for (size_t i = 0; i < p->nctr; i++) {
		int k = p->ctr[i].fd - 1000;

		f->val[k][0] = val;
		f->val[k][1] = en;
		f->val[k][2] = run;
	}
}

static struct nl_uncore_counter *find_ctr(struct nl_uncore_priv *p,
					  const char *pmu,
					  enum nl_uncore_metric m, int sub,
					  int socket)
{
	for (size_t i = 0; i < p->nctr; i++) {
		struct nl_uncore_counter *c = &p->ctr[i];

		if (strcmp(c->pmu, pmu) == 0 && c->metric == m && c->sub == sub &&
		    p->u.sockets[c->slot].id == socket)
			return c;
	}
	return NULL;
}

/* What the source's row publishes into a snapshot (a static one: the
 * snapshot is large). */
static const struct nl_uncore *pub(void *priv)
{
	static struct nl_snapshot snap;

	memset(&snap, 0, sizeof(snap));
	CHECK_EQ_INT(nl_source_uncore.publish(NULL, priv, &snap), 0);
	return &snap.uncore;
}

static void test_socket_sums(void)
{
	struct nl_uncore_priv *p;
	struct nl_config cfg;
	struct nl_state st;
	struct fake f;
	struct nl_uncore_counter *c;
	const struct nl_uncore_socket *s0, *s1;

	memset(&st, 0, sizeof(st));
	nl_config_defaults(&cfg);
	st.cfg = &cfg;
	p = fake_setup(&f, FIX "/uncore-skx", &cfg);
	CHECK(p != NULL);
	if (!p)
		return;
	/* window 1: every counter 100 counts, fully scheduled */
	set_all(p, &f, 100, 1000, 1000);
	CHECK_EQ_INT(nl_source_uncore.sample(&st, p), 0);
	s0 = nl_uncore_find_socket(pub(p), 0);
	s1 = nl_uncore_find_socket(pub(p), 1);
	CHECK(s0 && s1);
	if (!s0 || !s1)
		goto out;
	/* 6 boxes x 100 CAS x 64 bytes */
	CHECK_EQ_U64(s0->dram_bytes[NL_UNCORE_READ], 6 * 100 * 64);
	CHECK_EQ_U64(s0->dram_bytes[NL_UNCORE_WRITE], 6 * 100 * 64);
	CHECK_EQ_U64(s1->dram_bytes[NL_UNCORE_READ], 6 * 100 * 64);
	/* one UPI link: 100 data flits x 64/9 bytes */
	CHECK_EQ_U64(s0->link_bytes[0], 711);
	CHECK_EQ_U64(s0->link_bytes[2], 711);

	/* window 2: socket 0's IMC 2 reads multiplexed at 50%: 200 raw
	 * counts in half the time count as 400; socket 1 untouched */
	c = find_ctr(p, "uncore_imc_2", NL_UNCORE_M_DRAM, NL_UNCORE_READ, 0);
	CHECK(c != NULL);
	if (!c)
		goto out;
	f.val[c->fd - 1000][0] = 300;
	f.val[c->fd - 1000][1] = 3000;
	f.val[c->fd - 1000][2] = 2000;
	CHECK_EQ_INT(nl_source_uncore.sample(&st, p), 0);
	s0 = nl_uncore_find_socket(pub(p), 0);
	s1 = nl_uncore_find_socket(pub(p), 1);
	CHECK_EQ_U64(s0->dram_bytes[NL_UNCORE_READ], (6 * 100 + 400) * 64);
	CHECK_EQ_U64(s1->dram_bytes[NL_UNCORE_READ], 6 * 100 * 64);
	CHECK_NEAR(c->ratio, 0.5, 1e-12);

	/* window 3: not scheduled at all, yet the raw value moved: nothing
	 * is added, the ratio is undefined */
	f.val[c->fd - 1000][0] = 5300;
	f.val[c->fd - 1000][1] = 4000;
	CHECK_EQ_INT(nl_source_uncore.sample(&st, p), 0);
	s0 = nl_uncore_find_socket(pub(p), 0);
	CHECK_EQ_U64(s0->dram_bytes[NL_UNCORE_READ], (6 * 100 + 400) * 64);
	CHECK(isnan(c->ratio));

	/* window 4: running again; only this window's counts, no spike from
	 * the gap */
	f.val[c->fd - 1000][0] = 5400;
	f.val[c->fd - 1000][1] = 5000;
	f.val[c->fd - 1000][2] = 3000;
	CHECK_EQ_INT(nl_source_uncore.sample(&st, p), 0);
	s0 = nl_uncore_find_socket(pub(p), 0);
	CHECK_EQ_U64(s0->dram_bytes[NL_UNCORE_READ], (6 * 100 + 400 + 100) * 64);

	/* a failing read keeps the totals and fails the collector run */
	f.read_err = -EIO;
	CHECK_EQ_INT(nl_source_uncore.sample(&st, p), -EIO);
	s0 = nl_uncore_find_socket(pub(p), 0);
	CHECK_EQ_U64(s0->dram_bytes[NL_UNCORE_READ], (6 * 100 + 400 + 100) * 64);
	f.read_err = 0;
	CHECK_EQ_INT(nl_source_uncore.sample(&st, p), 0);
out:
	nl_source_uncore.free(&st, p);
	CHECK_EQ_INT(f.closes, f.nopen);
}

/* Zen 3: eight DF DRAM channels summed into one "all" figure per socket,
 * xGMI links 32 bytes per count; Zen 4: UMCs summed per socket. */
static void test_amd_sums(void)
{
	struct nl_uncore_priv *p;
	struct nl_state st;
	struct fake f;
	const struct nl_uncore_socket *s;

	memset(&st, 0, sizeof(st));
	p = fake_setup(&f, FIX "/uncore-zen3", NULL);
	CHECK(p != NULL);
	if (p) {
		set_all(p, &f, 10, 100, 100);
		CHECK_EQ_INT(nl_source_uncore.sample(&st, p), 0);
		s = nl_uncore_find_socket(pub(p), 1);
		CHECK(s && s->dram_bytes[NL_UNCORE_ALL] == 8 * 10 * 64);
		CHECK(s && s->link_bytes[3] == 10 * 32);
		nl_source_uncore.free(&st, p);
	}
	p = fake_setup(&f, FIX "/uncore-zen4", NULL);
	CHECK(p != NULL);
	if (p) {
		set_all(p, &f, 10, 100, 100);
		CHECK_EQ_INT(nl_source_uncore.sample(&st, p), 0);
		s = nl_uncore_find_socket(pub(p), 0);
		CHECK(s && s->dram_bytes[NL_UNCORE_READ] == 12 * 10 * 64);
		CHECK(s && s->dram_bytes[NL_UNCORE_WRITE] == 12 * 10 * 64);
		CHECK(s && s->link_valid == 0);
		nl_source_uncore.free(&st, p);
	}
}

/* ---- real opens ---- */

/* The real perf_event_open() on PMU types that exist nowhere: every open
 * fails, each is reported once, none is tried again in later cycles. */
static void test_open_failure_not_retried(void)
{
	struct nl_uncore_priv *p;
	struct nl_state st;
	char dir[64], cmd[512];
	const struct nl_uncore_stat *s;
	uint64_t opens;

	memset(&st, 0, sizeof(st));
	CHECK(copy_fixture("uncore-skx", dir, sizeof(dir)));
	/* types far beyond any the kernel hands out, so this holds on a real
	 * Skylake-SP too */
	snprintf(cmd, sizeof(cmd),
		 "n=2000000000; for f in %s/sys/devices/uncore_*/type; do "
		 "echo $n > $f; n=$((n+1)); done", dir);
	CHECK_EQ_INT(sh(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/sys", dir);
	nl_paths_set(FIX "/none/proc", cmd);
	p = nl_uncore_priv_new(NULL);
	CHECK(p != NULL);
	if (!p)
		goto out;
	CHECK_EQ_INT(nl_uncore_setup(p, NULL), 0);
	opens = p->opens;
	CHECK_EQ_U64(opens, 30);
	CHECK_EQ_INT((int)p->nctr, 0);
	CHECK(!p->u.supported);
	s = nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc");
	CHECK(s && s->supported == 0 && s->err == -ENOENT);
	s = nl_uncore_find_stat(&p->u, "link_tx", "uncore_upi");
	CHECK(s && s->supported == 0 && s->err != 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(nl_source_uncore.sample(&st, p), 0);
	CHECK_EQ_U64(p->opens, opens);
	CHECK(!pub(p)->supported);
	CHECK_EQ_INT(pub(p)->nstats, 3);
	nl_source_uncore.free(&st, p);
out:
	rm_tree(dir);
}

/* No PMU tree at all (this VM, a fixture without bus/event_source): a
 * normal state, the source works and reports nothing. */
static void test_no_uncore(void)
{
	struct nl_config cfg;
	struct nl_state st;
	void *priv = NULL;

	memset(&st, 0, sizeof(st));
	nl_config_defaults(&cfg);
	st.cfg = &cfg;
	nl_paths_set(FIX "/two-socket/proc", FIX "/two-socket/sys");
	CHECK_EQ_INT(nl_source_uncore.init(&st, &priv), 0);
	CHECK(priv != NULL);
	CHECK_EQ_INT(nl_source_uncore.sample(&st, priv), 0);
	CHECK(!pub(priv)->supported);
	CHECK_EQ_INT(pub(priv)->nsockets, 0);
	CHECK_EQ_INT(pub(priv)->nstats, 0);
	nl_source_uncore.free(&st, priv);

	/* and on this machine's own /sys, whatever it has */
	nl_paths_set("/proc", "/sys");
	CHECK_EQ_INT(nl_source_uncore.init(&st, &priv), 0);
	CHECK_EQ_INT(nl_source_uncore.sample(&st, priv), 0);
	nl_source_uncore.free(&st, priv);
}

/* ---- [uncore] events of --perf.config ---- */

static const char *write_conf(char *path, size_t len, const char *text)
{
	FILE *fp;

	snprintf(path, len, "/tmp/nl-uncore-conf-%d", (int)getpid());
	fp = fopen(path, "w");
	if (!fp)
		return NULL;
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void test_user_events(void)
{
	const char *host = FIX "/uncore-skx";
	struct nl_uncore_priv *p;
	struct nl_config cfg;
	struct nl_state st;
	struct fake f;
	char path[128];
	const struct nl_uncore_stat *s;
	const struct nl_uncore_socket *so;
	uint64_t cpus;

	memset(&st, 0, sizeof(st));
	nl_config_defaults(&cfg);
	cfg.perf_config = write_conf(path, sizeof(path),
		"[thread]\n"
		"l2 = perf::PERF_COUNT_HW_CACHE_MISSES\n"
		"[uncore]\n"
		"imc_reads = uncore_imc/cas_count_read/\n"
		"rpq = uncore_imc/event=0x10,umask=0x0/   # terms\n"
		"one_box = uncore_imc_2/cas_count_write/\n"
		"cha_tid = uncore_cha/event=0x34,umask=0x11,filter_tid=0x1ff/\n"
		"no_alias = uncore_imc/no_such_alias/\n"
		"no_pmu = uncore_xyz/event=1/\n"
		"bad_term = uncore_imc/event=0x10,bogus=1/\n"
		"garbage = uncore_imc\n"
		"traversal = uncore_imc/../../x/\n"
		"dram_read = uncore_imc/cas_count_write/\n");
	CHECK(cfg.perf_config != NULL);
	p = fake_setup(&f, host, &cfg);
	CHECK(p != NULL);
	if (!p)
		goto out;
	CHECK_EQ_INT(p->u.nuser, 9);   /* not the tenth, "dram_read" */
	CHECK_STR(p->u.user[0], "imc_reads");
	s = nl_uncore_find_stat(&p->u, "imc_reads", "uncore_imc");
	CHECK(s && s->supported && strcmp(s->source, "sysfs") == 0);
	CHECK(s && s->scale == 6.103515625e-5 && strcmp(s->unit, "MiB") == 0);
	/* the built-in read counter on both sockets plus the user's own */
	CHECK_EQ_INT(count_opens(&f, host, "uncore_imc_0", 0x304, 0, &cpus), 4);
	CHECK_EQ_U64(cpus, 0x11);
	CHECK_EQ_INT(count_opens(&f, host, "uncore_imc_0", 0x10, 0, NULL), 2);
	/* one_box: only uncore_imc_2 gets a second write counter */
	CHECK_EQ_INT(count_opens(&f, host, "uncore_imc_2", 0xc04, 0, NULL), 4);
	CHECK_EQ_INT(count_opens(&f, host, "uncore_imc_3", 0xc04, 0, NULL), 2);
	CHECK_EQ_INT(count_opens(&f, host, "uncore_cha_1", 0x1134, 0x1ff, &cpus), 2);
	CHECK_EQ_U64(cpus, 0x11);
	s = nl_uncore_find_stat(&p->u, "one_box", "uncore_imc");
	CHECK(s && s->supported);
	s = nl_uncore_find_stat(&p->u, "no_alias", "uncore_imc");
	CHECK(s && !s->supported && s->err == -ENOENT);
	s = nl_uncore_find_stat(&p->u, "no_pmu", "uncore_xyz");
	CHECK(s && !s->supported && s->err == -ENODEV);
	s = nl_uncore_find_stat(&p->u, "bad_term", "uncore_imc");
	CHECK(s && !s->supported && s->err == -ENOENT);
	s = nl_uncore_find_stat(&p->u, "garbage", NULL);
	CHECK(s && !s->supported && s->err == -EINVAL);
	s = nl_uncore_find_stat(&p->u, "traversal", NULL);
	CHECK(s && !s->supported);
	CHECK(nl_uncore_find_stat(&p->u, "l2", NULL) == NULL);
	/* a user event may not take a built-in event's name */
	s = nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc");
	CHECK(s && strcmp(s->source, "sysfs") == 0 && s->supported);
	CHECK_EQ_INT(count_opens(&f, host, "uncore_imc_3", 0xc04, 0, NULL), 2);

	/* raw counts, summed over boxes */
	set_all(p, &f, 7, 10, 10);
	CHECK_EQ_INT(nl_source_uncore.sample(&st, p), 0);
	so = nl_uncore_find_socket(pub(p), 1);
	CHECK(so && so->user[0] == 6 * 7);          /* imc_reads */
	CHECK(so && so->user[2] == 7);              /* one_box */
	CHECK(so && so->user[3] == 4 * 7);          /* cha_tid, 4 CHAs */
	CHECK(so && !(so->user_valid & (1u << 4))); /* no_alias */
	nl_source_uncore.free(&st, p);
out:
	if (cfg.perf_config)
		unlink(cfg.perf_config);
}

/* libpfm4 4.13's Skylake-SP uncore tables, usable here only with
 * LIBPFM_ENCODE_INACTIVE=1 (which stays for the process lifetime, so in a
 * child): on the SKX fixture they must win and agree with the kernel's
 * aliases; on the ICX fixture they must not be used at all. */
static void test_libpfm4_skx(void)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		const char *host = FIX "/uncore-skx";
		struct nl_uncore_alias al;
		struct nl_uncore_priv *p;
		struct nl_config cfg;
		struct fake f;
		const struct nl_uncore_stat *s;
		char path[128];

		/* only this child's own checks decide its exit status */
		nl_t_failed_checks = 0;
		/* the parent may have initialised libpfm4 already: start over
		 * so that it reads the variable */
		setenv("LIBPFM_ENCODE_INACTIVE", "1", 1);
		pfm_terminate();
		nl_config_defaults(&cfg);
		cfg.perf_config = write_conf(path, sizeof(path),
			"[uncore]\n"
			"rpq = skx_unc_imc::UNC_M_RPQ_INSERTS\n"
			"rpq2 = skx_unc_imc2::UNC_M_RPQ_INSERTS\n"
			"upi_null = skx_unc_upi::UNC_UPI_TXL_FLITS:ALL_NULL\n"
			"nope = skx_unc_imc::NO_SUCH_EVENT\n");
		p = fake_setup(&f, host, &cfg);
		CHECK(p != NULL);
		if (p) {
			s = nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc");
			CHECK(s && strcmp(s->source, "libpfm4") == 0);
			s = nl_uncore_find_stat(&p->u, "link_tx", "uncore_upi");
			CHECK(s && strcmp(s->source, "libpfm4") == 0);
			/* the two tables agree */
			CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_4",
						"cas_count_read", &al), 0);
			CHECK_EQ_U64(al.config[0], 0x304);
			CHECK_EQ_INT(count_opens(&f, host, "uncore_imc_4", 0x304,
						 0, NULL), 2);
			CHECK_EQ_INT(nl_uncore_resolve_alias("uncore_imc_4",
						"cas_count_write", &al), 0);
			CHECK_EQ_U64(al.config[0], 0xc04);
			CHECK_EQ_INT(count_opens(&f, host, "uncore_imc_4", 0xc04,
						 0, NULL), 2);
			CHECK_EQ_INT(count_opens(&f, host, "uncore_upi_1", 0xf02,
						 0, NULL), 2);
			/* user events by libpfm4 name */
			s = nl_uncore_find_stat(&p->u, "rpq", "uncore_imc");
			CHECK(s && s->supported &&
			      strcmp(s->source, "libpfm4") == 0);
			CHECK_EQ_INT(count_opens(&f, host, "uncore_imc_5", 0x10,
						 0, NULL), 2);
			CHECK_EQ_INT(count_opens(&f, host, "uncore_imc_2", 0x10,
						 0, NULL), 4);
			CHECK_EQ_INT(count_opens(&f, host, "uncore_upi_2", 0x2702,
						 0, NULL), 2);
			s = nl_uncore_find_stat(&p->u, "nope", "uncore_imc");
			CHECK(s && !s->supported);
			nl_source_uncore.free(NULL, p);
		}
		unlink(path);
		p = fake_setup(&f, FIX "/uncore-icx", NULL);
		CHECK(p != NULL);
		if (p) {
			s = nl_uncore_find_stat(&p->u, "dram_read", "uncore_imc");
			CHECK(s && strcmp(s->source, "sysfs") == 0);
			CHECK_EQ_INT(count_opens(&f, FIX "/uncore-icx",
						 "uncore_imc_0", 0x0f04, 0, NULL), 2);
			nl_source_uncore.free(NULL, p);
		}
		_exit(nl_t_failed_checks ? 1 : 0);
	}
	CHECK(pid > 0);
	if (pid > 0) {
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}


/* promtool's linter must accept the text (skipped where not installed). */
static int promtool_ok(const char *text)
{
	char path[] = "/tmp/nl-uncore-prom-XXXXXX", cmd[128], msg[512];
	FILE *pp;
	size_t n;
	int fd, rc;

	if (system("command -v promtool >/dev/null 2>&1") != 0)
		return 1;
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	pp = popen(cmd, "r");
	if (!pp)
		return 0;
	n = fread(msg, 1, sizeof(msg) - 1, pp);
	msg[n] = '\0';
	rc = pclose(pp);
	unlink(path);
	if (rc != 0 || n > 0)
		fprintf(stderr, "  promtool: %s\n", msg);
	return rc == 0 && n == 0;
}

static struct nl_snapshot esnap;

/* The uncore families on /metrics: exact lines, order, and nothing at all
 * when the collector is off. */
static void test_encode(void)
{
	struct nl_uncore *u = &esnap.uncore;
	struct nl_buf b;

	memset(&esnap, 0, sizeof(esnap));
	esnap.refs = 1;
	esnap.ncollectors = 1;
	esnap.collectors[0] = (struct nl_collector_stat){ "uncore", true, true, 0 };
	u->supported = true;
	u->nsockets = 2;
	u->sockets[0].id = 0;
	u->sockets[0].dram_valid = 1u << NL_UNCORE_READ | 1u << NL_UNCORE_WRITE;
	u->sockets[0].dram_bytes[NL_UNCORE_READ] = 6400;
	u->sockets[0].dram_bytes[NL_UNCORE_WRITE] = 128;
	u->sockets[0].link_valid = 0x5;
	u->sockets[0].link_bytes[0] = 711;
	u->sockets[0].link_bytes[2] = 7;
	u->sockets[1].id = 1;
	u->sockets[1].dram_valid = 1u << NL_UNCORE_ALL;
	u->sockets[1].dram_bytes[NL_UNCORE_ALL] = 64;
	u->sockets[1].user_valid = 1;
	u->sockets[1].user[0] = 42;
	u->nuser = 1;
	snprintf(u->user[0], sizeof(u->user[0]), "imc_reads");
	u->nstats = 2;
	u->stats[0] = (struct nl_uncore_stat){ "dram_read", "uncore_imc", "sysfs",
					       1, 0, 6.103515625e-5, "MiB" };
	u->stats[1] = (struct nl_uncore_stat){ "imc_reads", "uncore_imc", "",
					       0, -ENOENT, 6.103515625e-5, "MiB" };
	nl_buf_init(&b);
	CHECK_EQ_INT(nl_prom_encode(&esnap, 0, &b), 0);
	CHECK(b.data != NULL);
	if (!b.data)
		return;
	CHECK(strstr(b.data, "\nnumalens_uncore_supported 1\n") != NULL);
	CHECK(strstr(b.data, "# TYPE numalens_uncore_dram_bytes_total counter\n"
		     "numalens_uncore_dram_bytes_total{socket=\"0\",direction=\"read\"} 6400\n"
		     "numalens_uncore_dram_bytes_total{socket=\"0\",direction=\"write\"} 128\n"
		     "numalens_uncore_dram_bytes_total{socket=\"1\",direction=\"all\"} 64\n")
	      != NULL);
	CHECK(strstr(b.data, "numalens_uncore_link_bytes_total{socket=\"0\",link=\"0\"} 711\n"
		     "numalens_uncore_link_bytes_total{socket=\"0\",link=\"2\"} 7\n")
	      != NULL);
	CHECK(strstr(b.data, "numalens_uncore_events_total{socket=\"1\",event=\"imc_reads\"} 42\n")
	      != NULL);
	CHECK(strstr(b.data, "numalens_uncore_event_supported{event=\"dram_read\",pmu=\"uncore_imc\",source=\"sysfs\"} 1\n"
		     "numalens_uncore_event_supported{event=\"imc_reads\",pmu=\"uncore_imc\",source=\"none\"} 0\n")
	      != NULL);
	CHECK(strstr(b.data, "numalens_uncore_event_scale{event=\"imc_reads\",unit=\"MiB\"} 6.103515625e-05\n")
	      != NULL);
	/* a built-in event's scale is already in its bytes */
	CHECK(strstr(b.data, "numalens_uncore_event_scale{event=\"dram_read\"") == NULL);
	/* per-socket host families come before the VM ones */
	CHECK(strstr(b.data, "numalens_uncore_supported") <
	      strstr(b.data, "numalens_pmu_info"));
	CHECK(promtool_ok(b.data));

	/* collector off: not a single uncore line */
	esnap.collectors[0].enabled = false;
	nl_buf_reset(&b);
	CHECK_EQ_INT(nl_prom_encode(&esnap, 0, &b), 0);
	CHECK(b.data && strstr(b.data, "uncore") == NULL);
	/* on, with nothing here: only "not supported" */
	memset(u, 0, sizeof(*u));
	esnap.collectors[0].enabled = true;
	nl_buf_reset(&b);
	CHECK_EQ_INT(nl_prom_encode(&esnap, 0, &b), 0);
	CHECK(b.data && strstr(b.data, "\nnumalens_uncore_supported 0\n") != NULL);
	CHECK(b.data && strstr(b.data, "numalens_uncore_dram") == NULL &&
	      strstr(b.data, "numalens_uncore_event_supported") == NULL);
	nl_buf_free(&b);
}

NL_TEST_MAIN(NL_T(test_format_parse), NL_T(test_encode_terms),
	     NL_T(test_unit_bytes), NL_T(test_modalias_and_names),
	     NL_T(test_scale), NL_T(test_fixture_skx), NL_T(test_fixture_icx),
	     NL_T(test_fixture_spr), NL_T(test_spr_without_aliases),
	     NL_T(test_icx_old_aliases), NL_T(test_resolve_alias_files),
	     NL_T(test_fixture_zen3), NL_T(test_fixture_zen4),
	     NL_T(test_socket_sums), NL_T(test_amd_sums),
	     NL_T(test_open_failure_not_retried), NL_T(test_no_uncore),
	     NL_T(test_user_events), NL_T(test_libpfm4_skx), NL_T(test_encode))
