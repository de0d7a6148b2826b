/* Tests of the perf source: libpfm4 encoding (guest mode counted), the
 * multiplexing arithmetic, the group bookkeeping, and a real measurement of
 * this process's own threads with software events. Hardware events cannot
 * count on this VM (no PMU driver): there the test checks they are marked
 * unsupported once; on a host with a PMU it checks they count. */
#include "harness.h"
#include "pfm_raw.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <perfmon/pfmlib_perf_event.h>

#include "catalog.h"
#include "config.h"
#include "evconf.h"
#include "log.h"
#include "paths.h"
#include "perf.h"
#include "perf_priv.h"

/* ---- helpers ---- */

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static int find_event(const struct nl_state *st, const char *name)
{
	for (int i = 0; i < st->perf.nevents; i++)
		if (strcmp(st->perf.events[i].name, name) == 0)
			return i;
	return -1;
}

static bool host_has_pmu(void)
{
	struct stat sb;

	return stat("/sys/bus/event_source/devices/cpu", &sb) == 0 ||
	       stat("/sys/bus/event_source/devices/cpu_core", &sb) == 0;
}

/* A fake VM holding the given TIDs. */
struct fake {
	struct nl_config cfg;
	struct nl_state st;
	struct nl_vm vm;
	struct nl_vm *vms[1];
	struct nl_thread threads[8];
	void *priv;
};

static void fake_init(struct fake *f, const char *events)
{
	memset(f, 0, sizeof(*f));
	nl_config_defaults(&f->cfg);
	f->cfg.events = events;
	f->st.cfg = &f->cfg;
	snprintf(f->vm.name, sizeof(f->vm.name), "test");
	f->vm.pid = getpid();
	f->vm.threads = f->threads;
	f->vm.cap_threads = 8;
	f->vms[0] = &f->vm;
	f->st.vms = f->vms;
	f->st.nvms = 1;
}

static void fake_add(struct fake *f, pid_t tid)
{
	struct nl_thread *t = &f->threads[f->vm.nthreads++];

	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->index = -1;
	t->role = NL_ROLE_EMULATOR;
}

static void fake_remove(struct fake *f, pid_t tid)
{
	for (size_t i = 0; i < f->vm.nthreads; i++) {
		if (f->threads[i].tid == tid) {
			memmove(&f->threads[i], &f->threads[i + 1],
				(f->vm.nthreads - i - 1) * sizeof(f->threads[0]));
			f->vm.nthreads--;
			return;
		}
	}
}

static struct nl_thread *fake_thread(struct fake *f, pid_t tid)
{
	for (size_t i = 0; i < f->vm.nthreads; i++)
		if (f->threads[i].tid == tid)
			return &f->threads[i];
	return NULL;
}

/* ---- encoding ---- */

static void test_encode_default_catalog(void)
{
	static const struct {
		const char *name;
		bool hw;
		uint32_t type;
		uint64_t config;
	} want[] = {
		{ "cycles", true, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
		{ "instructions", true, PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS },
		{ "llc_misses", true, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES },
		{ "llc_references", true, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES },
		{ "task_clock", false, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK },
		{ "context_switches", false, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES },
		{ "cpu_migrations", false, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS },
		{ "page_faults", false, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS },
	};
	struct nl_state st;
	size_t nwant = sizeof(want) / sizeof(want[0]);

	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, NULL, NULL), 0);
	CHECK_EQ_INT(st.perf.nevents, (int)nwant);
	for (size_t i = 0; i < nwant && (int)i < st.perf.nevents; i++) {
		struct perf_event_attr a;
		bool hw = !want[i].hw;

		CHECK_STR(st.perf.events[i].name, want[i].name);
		CHECK_EQ_INT(st.perf.events[i].supported, -1);
		CHECK_EQ_INT(st.perf.events[i].group, -1);
		CHECK(!st.perf.events[i].user);
		CHECK_EQ_INT(nl_perf_encode(st.perf.events[i].pfm, &a, &hw), 0);
		CHECK_EQ_INT(hw, want[i].hw);
		CHECK_EQ_INT(a.type, want[i].type);
		CHECK_EQ_U64(a.config, want[i].config);
		CHECK_EQ_INT(a.exclude_user, 0);
		CHECK_EQ_INT(a.exclude_kernel, 0);
		CHECK_EQ_INT(a.exclude_guest, 0);
		CHECK_EQ_INT(a.exclude_host, 0);
	}
}

/* The source's own attrs (what it passes to perf_event_open) keep guest
 * mode for every hardware event, and ask for the group read format. */
static void test_source_attrs_count_guest(void)
{
	struct fake f;
	struct nl_perf_priv *p;
	struct nl_cpuid id;
	const struct nl_catalog *c;
	int nhw = 0, want_hw = 0;

	c = nl_catalog_for_cpu(nl_catalog_cpuid(&id) == 0 ? &id : NULL);
	for (size_t i = 0; i < c->nevents; i++)
		want_hw += strncmp(c->events[i].pfm, "perf::PERF_COUNT_SW_", 20) != 0;
	fake_init(&f, NULL);
	CHECK_EQ_INT(nl_source_perf.init(&f.st, &f.priv), 0);
	p = f.priv;
	CHECK(p != NULL);
	/* the host's catalog */
	CHECK(p == NULL || p->catalog == c);
	CHECK_STR(f.st.perf.catalog, c->name);
	CHECK(f.st.perf.ngroups >= 2);
	for (int i = 0; p && i < f.st.perf.nevents; i++) {
		const struct perf_event_attr *a = &p->attr[i];

		CHECK_EQ_INT(a->read_format, PERF_FORMAT_GROUP |
			     PERF_FORMAT_TOTAL_TIME_ENABLED |
			     PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_ID);
		CHECK_EQ_INT(a->inherit, 0);
		CHECK_EQ_INT(a->disabled, 0);
		CHECK_EQ_INT(f.st.perf.events[i].hardware, a->type != PERF_TYPE_SOFTWARE);
		CHECK_EQ_INT(a->exclude_guest, 0);
		nhw += f.st.perf.events[i].hardware;
		/* every event is in exactly one published group */
		{
			int in = 0;

			for (int g = 0; g < f.st.perf.ngroups; g++)
				if (f.st.perf.groups[g].events & (1u << i)) {
					in++;
					CHECK_EQ_INT(f.st.perf.events[i].group, g);
					CHECK_EQ_INT(f.st.perf.groups[g].hardware,
						     f.st.perf.events[i].hardware);
				}
			CHECK_EQ_INT(in, 1);
		}
	}
	CHECK_EQ_INT(nhw, want_hw);
	nl_source_perf.free(&f.st, f.priv);
}

static void test_encode_guest_fallback(void)
{
	struct perf_event_attr a;
	bool hw = false;

	/* libpfm4 leaves exclude_guest set by default ... */
	CHECK_EQ_INT(pfm_initialize(), PFM_SUCCESS);
	CHECK_EQ_INT(nl_t_raw_encode("perf::PERF_COUNT_HW_CPU_CYCLES", &a), PFM_SUCCESS);
	CHECK_EQ_INT(a.exclude_guest, 1);
	/* ... and with "mh=0" the appended modifiers conflict, so the plain
	 * encoding is used and exclude_guest is cleared by hand */
	CHECK_EQ_INT(nl_t_raw_encode("perf::PERF_COUNT_HW_CPU_CYCLES:mh=0", &a), PFM_SUCCESS);
	CHECK_EQ_INT(a.exclude_guest, 1);
	CHECK_EQ_INT(nl_perf_encode("perf::PERF_COUNT_HW_CPU_CYCLES:mh=0", &a, &hw), 0);
	CHECK(hw);
	CHECK_EQ_INT(a.exclude_guest, 0);
	/* a software event: libpfm4 sets exclude_guest, which the kernel
	 * ignores for it; cleared all the same */
	CHECK_EQ_INT(nl_t_raw_encode("perf::PERF_COUNT_SW_PAGE_FAULTS", &a), PFM_SUCCESS);
	CHECK_EQ_INT(a.exclude_guest, 1);
	CHECK_EQ_INT(nl_perf_encode("perf::PERF_COUNT_SW_PAGE_FAULTS", &a, &hw), 0);
	CHECK(!hw);
	CHECK_EQ_INT(a.exclude_guest, 0);
	CHECK_EQ_INT(a.type, PERF_TYPE_SOFTWARE);
}

static void test_encode_errors(void)
{
	struct perf_event_attr a;

	CHECK_EQ_INT(nl_perf_encode("perf::NO_SUCH_EVENT_AT_ALL", &a, NULL), -ENOENT);
	CHECK_EQ_INT(nl_perf_encode("nosuchpmu::FOO", &a, NULL), -ENOENT);
	CHECK_EQ_INT(nl_perf_encode("perf::PERF_COUNT_HW_CPU_CYCLES:bogus=3", &a, NULL), -EINVAL);
	CHECK_EQ_INT(nl_perf_encode("", &a, NULL), -EINVAL);
	CHECK_EQ_INT(nl_perf_encode(NULL, &a, NULL), -EINVAL);
}

/* Real model-specific events of PMUs not present here: libpfm4 encodes
 * them with LIBPFM_ENCODE_INACTIVE=1, read when the library initializes. */
static void model_specific_checks(void)
{
	static const struct {
		const char *pfm;
		uint64_t code;   /* umask << 8 | event, from the vendor tables */
	} ev[] = {
		{ "skx::MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM", 0x01d3 },
		{ "skx::MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM", 0x02d3 },
		{ "icx::MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM", 0x01d3 },
		{ "amd64_fam19h_zen3::DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_LCL", 0x0843 },
		{ "amd64_fam19h_zen3::DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_RMT", 0x4043 },
	};

	/* the variable is read when the library initializes */
	pfm_terminate();
	setenv("LIBPFM_ENCODE_INACTIVE", "1", 1);
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		struct perf_event_attr a, plain;
		bool hw = false;
		int rc = nl_perf_encode(ev[i].pfm, &a, &hw);

		CHECK_EQ_INT(rc, 0);
		if (rc < 0) {
			fprintf(stderr, "  (%s)\n", ev[i].pfm);
			continue;
		}
		CHECK(hw);
		CHECK_EQ_INT(a.type, PERF_TYPE_RAW);
		CHECK_EQ_U64(a.config & 0xffff, ev[i].code);
		CHECK_EQ_INT(a.exclude_guest, 0);
		CHECK_EQ_INT(a.exclude_host, 0);
		CHECK_EQ_INT(a.exclude_user, 0);
		CHECK_EQ_INT(a.exclude_kernel, 0);
		/* the modifiers change nothing but the guest bit */
		CHECK_EQ_INT(nl_t_raw_encode(ev[i].pfm, &plain), PFM_SUCCESS);
		CHECK_EQ_INT(plain.exclude_guest, 1);
		CHECK_EQ_U64(plain.config, a.config);
		CHECK_EQ_U64(plain.config1, a.config1);
	}
}

/* Real model-specific events of PMUs not present here, encoded with
 * LIBPFM_ENCODE_INACTIVE=1 in a child process: libpfm4 keeps that mode
 * for the life of the process, even across pfm_terminate(). */
static void test_encode_model_specific(void)
{
	struct perf_event_attr a;
	char pmu[64];

	nl_t_in_child(model_specific_checks);
	/* without the variable an inactive PMU's event does not encode, so
	 * the child really went through the inactive tables. This process may
	 * have set the variable itself already: the perf source does when
	 * libpfm4 does not detect the catalog's CPU (under valgrind, whose
	 * CPUID shows a Haswell on any host), and then the check says nothing. */
	nl_perf_pmu_name(pmu, sizeof(pmu));
	if (strcmp(pmu, "skx") != 0 && !getenv("LIBPFM_ENCODE_INACTIVE"))
		CHECK_EQ_INT(nl_perf_encode("skx::MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM",
					    &a, NULL), -ENOENT);
}

/* ---- arithmetic ---- */

static void test_scale_delta(void)
{
	/* nothing measured: nothing added */
	CHECK_EQ_U64(nl_perf_scale_delta(1000, 500, 0), 0);
	CHECK_EQ_U64(nl_perf_scale_delta(0, 0, 0), 0);
	/* no multiplexing: identity */
	CHECK_EQ_U64(nl_perf_scale_delta(12345, 777, 777), 12345);
	CHECK_EQ_U64(nl_perf_scale_delta(UINT64_MAX, 5, 5), UINT64_MAX);
	/* counted half the time: doubled */
	CHECK_EQ_U64(nl_perf_scale_delta(1000, 200, 100), 2000);
	CHECK_EQ_U64(nl_perf_scale_delta(1000, 300, 100), 3000);
	/* rounded to nearest */
	CHECK_EQ_U64(nl_perf_scale_delta(1, 3, 2), 2);
	CHECK_EQ_U64(nl_perf_scale_delta(10, 4, 3), 13);
	/* raw * enabled far above 2^64 */
	CHECK_EQ_U64(nl_perf_scale_delta(1ULL << 62, 3000000000ULL, 1500000000ULL),
		     1ULL << 63);
	CHECK_EQ_U64(nl_perf_scale_delta(1000000000000000000ULL, 4000000000000ULL,
					 1000000000000ULL),
		     4000000000000000000ULL);
	CHECK_EQ_U64(nl_perf_scale_delta(UINT64_MAX / 3, UINT64_MAX, UINT64_MAX / 2),
		     (UINT64_MAX / 3) * 2 + 1);
	/* result above 2^64 saturates */
	CHECK_EQ_U64(nl_perf_scale_delta(1ULL << 63, 4, 1), UINT64_MAX);
}

static void test_parse_read(void)
{
	uint64_t buf[3 + 2 * NL_MAX_EVENTS + 2];
	struct nl_perf_read r;

	buf[0] = 2; buf[1] = 1000; buf[2] = 500;
	buf[3] = 11; buf[4] = 101; buf[5] = 22; buf[6] = 102;
	CHECK_EQ_INT(nl_perf_parse_read(buf, 7 * sizeof(uint64_t), &r), 0);
	CHECK_EQ_U64(r.nr, 2);
	CHECK_EQ_U64(r.enabled, 1000);
	CHECK_EQ_U64(r.running, 500);
	CHECK_EQ_U64(r.value[0], 11);
	CHECK_EQ_U64(r.id[0], 101);
	CHECK_EQ_U64(r.value[1], 22);
	CHECK_EQ_U64(r.id[1], 102);
	/* short, ragged, over-long */
	CHECK_EQ_INT(nl_perf_parse_read(buf, 6 * sizeof(uint64_t), &r), -EINVAL);
	CHECK_EQ_INT(nl_perf_parse_read(buf, 7 * sizeof(uint64_t) - 1, &r), -EINVAL);
	CHECK_EQ_INT(nl_perf_parse_read(buf, 2 * sizeof(uint64_t), &r), -EINVAL);
	CHECK_EQ_INT(nl_perf_parse_read(buf, 9 * sizeof(uint64_t), &r), -EINVAL);
	buf[0] = NL_MAX_EVENTS + 1;
	CHECK_EQ_INT(nl_perf_parse_read(buf, sizeof(buf), &r), -E2BIG);
	buf[0] = 0;
	CHECK_EQ_INT(nl_perf_parse_read(buf, 3 * sizeof(uint64_t), &r), 0);
}

static void set_read(struct nl_perf_read *r, uint64_t en, uint64_t run,
		     uint64_t v0, uint64_t v1)
{
	/* the kernel's order is not trusted: members listed swapped */
	memset(r, 0, sizeof(*r));
	r->nr = 2;
	r->enabled = en;
	r->running = run;
	r->id[0] = 702; r->value[0] = v1;
	r->id[1] = 701; r->value[1] = v0;
}

static void test_group_update(void)
{
	struct nl_perf_group g;
	struct nl_perf_read r;
	uint64_t events[NL_MAX_EVENTS] = { 0 }, win[NL_MAX_EVENTS] = { 0 };
	uint32_t valid = 0;
	double ratio;

	memset(&g, 0, sizeof(g));
	g.nfds = 2;
	g.ev[0] = 3; g.id[0] = 701;
	g.ev[1] = 5; g.id[1] = 702;

	/* first read: baseline is 0 at open, everything since counts */
	set_read(&r, 100, 100, 40, 7);
	ratio = nl_perf_group_update(&g, &r, events, win, &valid);
	CHECK_EQ_U64(events[3], 40);
	CHECK_EQ_U64(events[5], 7);
	CHECK_EQ_U64(win[3], 40);
	CHECK_EQ_U64(valid, (1u << 3) | (1u << 5));
	CHECK_NEAR(ratio, 1.0, 1e-12);

	/* multiplexed: ran 50 of 200 ns -> deltas x4 */
	memset(win, 0, sizeof(win));
	set_read(&r, 300, 150, 140, 17);
	ratio = nl_perf_group_update(&g, &r, events, win, &valid);
	CHECK_EQ_U64(events[3], 40 + 400);
	CHECK_EQ_U64(events[5], 7 + 40);
	CHECK_EQ_U64(win[3], 400);
	CHECK_EQ_U64(win[5], 40);
	CHECK_NEAR(ratio, 0.25, 1e-12);

	/* enabled (the thread ran) but never scheduled on the PMU: nothing
	 * added, ratio 0 (and whatever the raw values say is not carried
	 * into a later window) */
	memset(win, 0, sizeof(win));
	set_read(&r, 400, 150, 145, 18);
	ratio = nl_perf_group_update(&g, &r, events, win, &valid);
	CHECK_EQ_U64(events[3], 440);
	CHECK_EQ_U64(events[5], 47);
	CHECK_EQ_U64(win[3], 0);
	CHECK_NEAR(ratio, 0.0, 0);

	/* thread asleep the whole window: nothing added, NaN */
	ratio = nl_perf_group_update(&g, &r, events, win, &valid);
	CHECK_EQ_U64(events[3], 440);
	CHECK(isnan(ratio));

	/* back to full time: no spike from the empty windows */
	set_read(&r, 500, 250, 150, 20);
	ratio = nl_perf_group_update(&g, &r, events, win, &valid);
	CHECK_EQ_U64(events[3], 445);
	CHECK_EQ_U64(events[5], 49);
	CHECK_EQ_U64(win[3], 5);
	CHECK_NEAR(ratio, 1.0, 1e-12);

	/* counters going backwards (a reset): no negative, no wrap-around */
	memset(win, 0, sizeof(win));
	set_read(&r, 600, 350, 10, 2);
	ratio = nl_perf_group_update(&g, &r, events, win, &valid);
	CHECK_EQ_U64(events[3], 445);
	CHECK_EQ_U64(win[3], 0);
	CHECK_NEAR(ratio, 1.0, 1e-12);

	/* huge multiplexed deltas saturate the window sum, not wrap */
	memset(&g, 0, sizeof(g));
	g.nfds = 2;
	g.ev[0] = 3; g.id[0] = 701;
	g.ev[1] = 5; g.id[1] = 702;
	memset(events, 0, sizeof(events));
	win[3] = UINT64_MAX - 10;
	set_read(&r, 4, 1, 1ULL << 62, 0);
	ratio = nl_perf_group_update(&g, &r, events, win, &valid);
	CHECK_EQ_U64(events[3], UINT64_MAX);
	CHECK_EQ_U64(win[3], UINT64_MAX);
	CHECK_NEAR(ratio, 0.25, 1e-12);
}

/* ---- catalog ---- */

static void test_catalog_spec(void)
{
	struct nl_state st;
	char many[2048];
	size_t off = 0;

	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf,
		" a = perf::PERF_COUNT_SW_TASK_CLOCK ,b=skx::MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM",
		NULL), 0);
	CHECK_EQ_INT(st.perf.nevents, 2);
	CHECK_STR(st.perf.events[0].name, "a");
	CHECK_STR(st.perf.events[0].pfm, "perf::PERF_COUNT_SW_TASK_CLOCK");
	CHECK_STR(st.perf.events[1].name, "b");
	CHECK_STR(st.perf.events[1].pfm, "skx::MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM");
	CHECK_EQ_INT(st.perf.events[1].supported, -1);

	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, "a", NULL), -EINVAL);
	CHECK_EQ_INT(st.perf.nevents, 0);
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, "=perf::X", NULL), -EINVAL);
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, "a=", NULL), -EINVAL);
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, "a=x,,b=y", NULL), -EINVAL);
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, "a=x,a=y", NULL), -EINVAL);
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=x",
		NULL), -EINVAL);
	for (int i = 0; i <= NL_MAX_EVENTS; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%se%d=x",
					i ? "," : "", i);
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, many, NULL), -E2BIG);
	/* no catalog: the generic table */
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, NULL, NULL), 0);
	CHECK_EQ_INT(st.perf.nevents, 8);
	CHECK_STR(st.perf.events[0].name, "cycles");
	/* a model's catalog */
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, NULL, nl_catalog_find("zen3")), 0);
	CHECK_EQ_INT(st.perf.nevents, (int)nl_catalog_find("zen3")->nevents);
	CHECK_STR(st.perf.events[2].name, "dram_local");
	CHECK_STR(st.perf.events[2].pfm,
		  "amd64_fam19h_zen3::ANY_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_LCL");
}

/* [thread] entries of --perf.config: replace catalog events by name,
 * append the rest, never beyond NL_MAX_EVENTS. */
static void test_user_events(void)
{
	static const char text[] =
		"dram_local = icx::OCR:READS_TO_CORE_LOCAL_DRAM\n"
		"[uncore]\n"
		"imc_reads = uncore_imc/cas_count_read/\n"
		"[thread]\n"
		"faults_min = perf::PERF_COUNT_SW_PAGE_FAULTS_MIN\n";
	struct nl_state st;
	struct nl_evconf conf;
	char err[256], many[8192];
	size_t off = 0;
	int n;

	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(nl_evconf_parse(text, "t.conf", &conf, err, sizeof(err)), 0);
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, NULL, nl_catalog_find("icx")), 0);
	n = st.perf.nevents;
	CHECK_EQ_INT(nl_perf_user_events(&st.perf, &conf), 0);
	CHECK_EQ_INT(st.perf.nevents, n + 1);
	CHECK_STR(st.perf.events[2].name, "dram_local");
	CHECK_STR(st.perf.events[2].pfm, "icx::OCR:READS_TO_CORE_LOCAL_DRAM");
	CHECK(st.perf.events[2].user);
	CHECK(!st.perf.events[3].user);
	CHECK_STR(st.perf.events[n].name, "faults_min");
	CHECK(st.perf.events[n].user);
	CHECK_EQ_INT(st.perf.events[n].supported, -1);
	/* the [uncore] entry is not ours */
	for (int i = 0; i < st.perf.nevents; i++)
		CHECK(strcmp(st.perf.events[i].name, "imc_reads") != 0);
	nl_evconf_free(&conf);

	/* too many in all */
	for (int i = 0; i < NL_MAX_EVENTS; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off,
					"u%d = perf::PERF_COUNT_SW_PAGE_FAULTS\n", i);
	CHECK_EQ_INT(nl_evconf_parse(many, "t.conf", &conf, err, sizeof(err)), 0);
	CHECK_EQ_INT(nl_perf_catalog_load(&st.perf, NULL, NULL), 0);
	CHECK_EQ_INT(nl_perf_user_events(&st.perf, &conf), -E2BIG);
	nl_evconf_free(&conf);
}

/* A source with a bad --perf.events does not start. */
static void test_init_bad_spec(void)
{
	struct fake f;

	fake_init(&f, "oops");
	CHECK_EQ_INT(nl_source_perf.init(&f.st, &f.priv), -EINVAL);
	CHECK(f.priv == NULL);
	/* an event libpfm4 does not know is unsupported, not fatal */
	fake_init(&f, "x=perf::NO_SUCH_EVENT_AT_ALL,t=perf::PERF_COUNT_SW_TASK_CLOCK");
	CHECK_EQ_INT(nl_source_perf.init(&f.st, &f.priv), 0);
	CHECK_EQ_INT(f.st.perf.events[0].supported, 0);
	CHECK_EQ_INT(f.st.perf.events[0].err, -ENOENT);
	CHECK_EQ_INT(f.st.perf.events[1].supported, -1);
	CHECK(!f.st.perf.events[1].hardware);
	nl_source_perf.free(&f.st, f.priv);
}

/* ---- host identification (fixture trees) ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	CHECK(fp != NULL);
	if (!fp)
		return;
	fputs(text, fp);
	fclose(fp);
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

static void test_cpu_model(void)
{
	char tmpl[] = "/tmp/nl_perf_proc_XXXXXX";
	char *dir = mkdtemp(tmpl);
	char model[128];

	CHECK(dir != NULL);
	if (!dir)
		return;
	CHECK_EQ_INT(nl_paths_set(dir, NULL), 0);
	write_file(dir, "cpuinfo",
		   "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
		   "model\t\t: 85\nmodel name\t: Intel(R) Xeon(R) Gold 6138\n"
		   "stepping\t: 4\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\n"
		   "cpu family\t: 6\nmodel\t\t: 85\n\n");
	nl_perf_cpu_model(model, sizeof(model));
	CHECK_STR(model, "GenuineIntel 6/85");
	write_file(dir, "cpuinfo",
		   "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n"
		   "model\t\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\n");
	nl_perf_cpu_model(model, sizeof(model));
	CHECK_STR(model, "AuthenticAMD 25/1");
	write_file(dir, "cpuinfo",
		   "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n"
		   "CPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\n\n");
	nl_perf_cpu_model(model, sizeof(model));
	CHECK_STR(model, "0x41 8/0xd0c");
	write_file(dir, "cpuinfo", "");
	nl_perf_cpu_model(model, sizeof(model));
	CHECK_STR(model, "");
	CHECK_EQ_INT(nl_paths_set("/proc", NULL), 0);
	rm_rf(dir);
	/* the real one */
	nl_perf_cpu_model(model, sizeof(model));
	CHECK(model[0] != '\0');
	CHECK(strchr(model, '/') != NULL);
}

/* What libpfm4 itself reports as present core PMUs. */
static bool pfm_core_pmu(const char *name)
{
	pfm_pmu_t i;

	pfm_for_all_pmus(i) {
		pfm_pmu_info_t info;

		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (pfm_get_pmu_info(i, &info) == PFM_SUCCESS && info.is_present &&
		    info.type == PFM_PMU_TYPE_CORE &&
		    (!name || strcmp(info.name, name) == 0))
			return true;
	}
	return false;
}

static void test_pmu_name(void)
{
	char tmpl[] = "/tmp/nl_perf_sys_XXXXXX";
	char *dir = mkdtemp(tmpl);
	char path[PATH_MAX + 64];
	char pmu[64];

	CHECK(dir != NULL);
	if (!dir)
		return;
	CHECK_EQ_INT(pfm_initialize(), PFM_SUCCESS);
	/* a kernel with software events only: no PMU, whatever CPUID says */
	snprintf(path, sizeof(path), "mkdir -p '%s/bus/event_source/devices/software'", dir);
	CHECK_EQ_INT(system(path), 0);
	CHECK_EQ_INT(nl_paths_set(NULL, dir), 0);
	nl_perf_pmu_name(pmu, sizeof(pmu));
	CHECK_STR(pmu, "");
	/* a kernel with a core PMU driver: libpfm4's name for it */
	snprintf(path, sizeof(path), "mkdir -p '%s/bus/event_source/devices/cpu'", dir);
	CHECK_EQ_INT(system(path), 0);
	nl_perf_pmu_name(pmu, sizeof(pmu));
	if (pfm_core_pmu(NULL)) {
		CHECK(pmu[0] != '\0');
		CHECK(pfm_core_pmu(pmu));
	} else {
		CHECK_STR(pmu, "");
	}
	CHECK_EQ_INT(nl_paths_set(NULL, "/sys"), 0);
	rm_rf(dir);
	/* this host */
	nl_perf_pmu_name(pmu, sizeof(pmu));
	if (!host_has_pmu())
		CHECK_STR(pmu, "");
}

/* ---- real measurement ---- */

struct busy {
	atomic_int stop;
	atomic_int tid;
};

static void *busy_main(void *arg)
{
	struct busy *b = arg;
	volatile uint64_t x = 0;

	atomic_store(&b->tid, my_tid());
	while (!atomic_load(&b->stop))
		x++;
	return NULL;
}

/* A busy thread that can be parked: while the test holds `gate`, a parked
 * thread blocks on it and uses no CPU, so counters read one after another
 * all see the same final value (even under valgrind, where reads are far
 * apart). */
struct gated_busy {
	atomic_int stop, park, parked, tid;
	pthread_mutex_t gate;
};

static void *gated_busy_main(void *arg)
{
	struct gated_busy *b = arg;
	volatile uint64_t x = 0;

	atomic_store(&b->tid, my_tid());
	while (!atomic_load(&b->stop)) {
		x++;
		if (atomic_load(&b->park)) {
			atomic_store(&b->parked, 1);
			pthread_mutex_lock(&b->gate);
			pthread_mutex_unlock(&b->gate);
			atomic_store(&b->parked, 0);
		}
	}
	return NULL;
}

static void sleep_ms(int ms);

/* A thread that sleeps until told to stop: a second live TID. */
static void *sleeper_main(void *arg)
{
	struct busy *b = arg;

	atomic_store(&b->tid, my_tid());
	while (!atomic_load(&b->stop))
		sleep_ms(2);
	return NULL;
}

static pid_t sleeper_start(struct busy *b, pthread_t *th)
{
	atomic_store(&b->stop, 0);
	atomic_store(&b->tid, 0);
	if (pthread_create(th, NULL, sleeper_main, b) != 0)
		return -1;
	while (!atomic_load(&b->tid))
		sleep_ms(1);
	return atomic_load(&b->tid);
}

static void sleeper_stop(struct busy *b, pthread_t th)
{
	atomic_store(&b->stop, 1);
	pthread_join(th, NULL);
}

static uint64_t cputime_ns(clockid_t cid)
{
	struct timespec ts;

	clock_gettime(cid, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Count lines of a file containing needle. */
static int count_lines(FILE *fp, const char *needle)
{
	char line[2048];
	int n = 0;

	rewind(fp);
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, needle))
			n++;
	return n;
}

/* Fault in fresh pages of this thread (after a context switch: siblings
 * of a group opened on the calling thread itself start counting when it
 * is next scheduled in). */
static void touch_pages(void)
{
	size_t len = 64 * 4096;
	char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(mem != MAP_FAILED);
	for (size_t i = 0; mem != MAP_FAILED && i < len; i += 4096)
		((volatile char *)mem)[i] = 1;
	if (mem != MAP_FAILED)
		munmap(mem, len);
}

/* task_clock of the busy thread over the window (tc1..tc2) matches its
 * CPU time, bracketed by the clock reads around each sample (c1a..c1b,
 * c2a..c2b). */
static void check_task_clock(uint64_t c1a, uint64_t c1b, uint64_t c2a,
			     uint64_t c2b, uint64_t tc1, uint64_t tc2)
{
	double lo = (double)(c2a - c1b), hi = (double)(c2b - c1a);
	double got = (double)(tc2 - tc1);

	/* 5%, and one scheduler tick at HZ=250 (4 ms): a loaded machine
	 * once gave a reading just past hi * 1.05 */
	double slack = 4e6;

	CHECK(hi > 50e6);   /* it did run */
	if (!(got >= lo * 0.95 - slack && got <= hi * 1.05 + slack))
		fprintf(stderr, "  task_clock %.0f ns, CPU time %.0f..%.0f ns\n",
			got, lo, hi);
	CHECK(got >= lo * 0.95 - slack);
	CHECK(got <= hi * 1.05 + slack);
}

/* After two cycles over the busy thread bt and this one (mt): what
 * counts, and (without a PMU) that hardware events were tried once. */
static void check_events(const struct fake *f, const struct nl_perf_priv *p,
			 const struct nl_thread *bt, const struct nl_thread *mt,
			 const uint64_t *hw_attempts, int icyc, bool pmu)
{
	for (int i = 0; i < f->st.perf.nevents; i++) {
		const struct nl_event_desc *e = &f->st.perf.events[i];

		if (!e->hardware) {
			CHECK_EQ_INT(e->supported, 1);
			CHECK_EQ_INT(e->err, 0);
			CHECK(bt->events_valid & (1u << i));
			CHECK(mt->events_valid & (1u << i));
		} else if (pmu) {
			CHECK_EQ_INT(e->supported, 1);
			CHECK(bt->events_valid & (1u << i));
		} else {
			/* no PMU here: -ENOENT, one open attempt over two
			 * threads and two cycles, nothing valid */
			CHECK_EQ_INT(e->supported, 0);
			CHECK_EQ_INT(e->err, -ENOENT);
			CHECK_EQ_U64(p->event_open_attempts[i], 1);
			CHECK_EQ_U64(hw_attempts[i], 1);
			CHECK(!(bt->events_valid & (1u << i)));
		}
	}
	if (pmu) {
		CHECK(bt->events[icyc] > 0);
		CHECK(!isnan(bt->scaling_ratio));
	} else {
		CHECK_NEAR(bt->scaling_ratio, 1.0, 0);
		CHECK_NEAR(mt->scaling_ratio, 1.0, 0);
		/* 4 software events on each of 2 threads */
		CHECK_EQ_U64(f->st.perf.fds, 8);
	}
	CHECK_EQ_U64(f->st.perf.fds, p->nfds);
	CHECK_EQ_U64(p->nthreads, 2);
}

/* Give stderr back, show the failed checks the log caught, and check that
 * "unsupported" was said once per hardware event (without a PMU). */
static void check_log(FILE *log, int saved_err, bool pmu)
{
	if (saved_err >= 0) {
		fflush(stderr);
		dup2(saved_err, 2);
		close(saved_err);
	}
	if (log) {
		/* checks that failed while stderr went to the log */
		char line[2048];

		rewind(log);
		while (fgets(line, sizeof(line), log))
			if (strncmp(line, "  ", 2) == 0)
				fputs(line, stderr);
	}
	if (log && !pmu) {
		CHECK_EQ_INT(count_lines(log, "event cycles ("), 1);
		CHECK_EQ_INT(count_lines(log, "event instructions ("), 1);
		CHECK_EQ_INT(count_lines(log, "event llc_misses ("), 1);
		CHECK_EQ_INT(count_lines(log, "event llc_references ("), 1);
		CHECK_EQ_INT(count_lines(log, "event task_clock ("), 0);
	}
	if (log)
		fclose(log);
}

static void test_measure_threads(void)
{
	struct fake f;
	struct busy b = { 0, 0 };
	pthread_t th;
	clockid_t cid;
	struct nl_perf_priv *p;
	struct nl_thread *bt, *mt;
	uint64_t c1a, c1b, c2a, c2b, tc1, tc2, pf_main1;
	uint64_t hw_attempts[NL_MAX_EVENTS] = { 0 };
	int itc, ipf, icyc, saved_err = -1;
	uint64_t fds_before;
	bool pmu = host_has_pmu();
	FILE *log = tmpfile();
	pid_t self = my_tid(), busy_tid;

	CHECK(log != NULL);
	CHECK_EQ_INT(pthread_create(&th, NULL, busy_main, &b), 0);
	while (!atomic_load(&b.tid))
		sleep_ms(1);
	busy_tid = atomic_load(&b.tid);
	CHECK_EQ_INT(pthread_getcpuclockid(th, &cid), 0);

	fake_init(&f, NULL);
	fake_add(&f, self);
	fake_add(&f, busy_tid);
	/* capture the log: "unsupported" must be said once per event */
	fflush(stderr);
	if (log) {
		saved_err = dup(2);
		dup2(fileno(log), 2);
	}
	nl_log_set_level(NL_LOG_INFO);
	CHECK_EQ_INT(nl_source_perf.init(&f.st, &f.priv), 0);
	p = f.priv;
	if (!p)
		goto cleanup;
	itc = find_event(&f.st, "task_clock");
	ipf = find_event(&f.st, "page_faults");
	icyc = find_event(&f.st, "cycles");
	CHECK(itc >= 0 && ipf >= 0 && icyc >= 0);
	if (itc < 0 || ipf < 0 || icyc < 0)
		goto cleanup;

	c1a = cputime_ns(cid);
	CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
	c1b = cputime_ns(cid);
	bt = fake_thread(&f, busy_tid);
	mt = fake_thread(&f, self);
	CHECK(bt != NULL && mt != NULL);
	if (!bt || !mt)
		goto cleanup;
	tc1 = bt->events[itc];
	pf_main1 = mt->events[ipf];
	for (int i = 0; i < f.st.perf.nevents; i++)
		if (f.st.perf.events[i].hardware)
			hw_attempts[i] = p->event_open_attempts[i];

	/* until the busy thread has run 100 ms (a loaded machine gives it
	 * less than the wall time), at most 5 s */
	for (int i = 0; i < 500 && cputime_ns(cid) - c1b < 100000000; i++)
		sleep_ms(10);
	/* page faults of this thread */
	touch_pages();

	c2a = cputime_ns(cid);
	CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
	c2b = cputime_ns(cid);
	bt = fake_thread(&f, busy_tid);
	mt = fake_thread(&f, self);
	CHECK(bt != NULL && mt != NULL);
	if (!bt || !mt)
		goto cleanup;
	tc2 = bt->events[itc];
	check_task_clock(c1a, c1b, c2a, c2b, tc1, tc2);
	CHECK(mt->events[ipf] >= pf_main1 + 32);
	CHECK(mt->events[itc] > 0);
	check_events(&f, p, bt, mt, hw_attempts, icyc, pmu);

	/* the busy thread exits and discovery drops it: its fds close at the
	 * next sample */
	atomic_store(&b.stop, 1);
	pthread_join(th, NULL);
	fds_before = f.st.perf.fds;
	fake_remove(&f, busy_tid);
	CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
	CHECK_EQ_U64(f.st.perf.fds, fds_before / 2);
	CHECK_EQ_U64(p->nthreads, 1);
	CHECK_EQ_INT(p->threads[0]->tid, self);
	/* still no retry of the unsupported events */
	for (int i = 0; i < f.st.perf.nevents; i++)
		if (f.st.perf.events[i].hardware && !pmu)
			CHECK_EQ_U64(p->event_open_attempts[i], 1);
cleanup:
	check_log(log, saved_err, pmu);
	if (!atomic_load(&b.stop)) {
		atomic_store(&b.stop, 1);
		pthread_join(th, NULL);
	}
	nl_source_perf.free(&f.st, f.priv);
	CHECK_EQ_U64(f.st.perf.fds, 0);
}

/* A thread gone between discovery and open is skipped, not an error and
 * not an unsupported event; it is not remembered either. */
static void test_vanished_thread(void)
{
	struct fake f;
	struct nl_perf_priv *p;
	pid_t child = fork();
	int status;

	if (child == 0)
		_exit(0);
	CHECK(child > 0);
	CHECK_EQ_INT(waitpid(child, &status, 0), child);
	fake_init(&f, "t=perf::PERF_COUNT_SW_TASK_CLOCK");
	fake_add(&f, child);
	/* counted in an earlier window: the value stays and stays valid, so
	 * role sums do not dip */
	f.threads[0].events_valid = 1;
	f.threads[0].events[0] = 12345;
	CHECK_EQ_INT(nl_source_perf.init(&f.st, &f.priv), 0);
	p = f.priv;
	if (!p)
		return;
	CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
	CHECK_EQ_INT(f.st.perf.events[0].supported, -1);
	CHECK_EQ_INT(f.st.perf.events[0].err, 0);
	CHECK_EQ_U64(p->nthreads, 0);
	CHECK_EQ_U64(f.st.perf.fds, 0);
	CHECK_EQ_U64(p->event_open_attempts[0], 1);
	CHECK_EQ_INT(f.threads[0].events_valid, 1);
	CHECK_EQ_U64(f.threads[0].events[0], 12345);
	CHECK(isnan(f.threads[0].scaling_ratio));
	nl_source_perf.free(&f.st, f.priv);
}

/* ---- group rebuilding, with a stand-in for perf_event_open ---- */

struct mock {
	uint64_t fail_config;     /* event to fail */
	int fail_errno;
	bool only_in_group;       /* fail only when joining a group */
	int allow;                /* opens allowed before EMFILE; <0: all */
	int calls;
	pid_t watch;              /* count the attempts on this TID */
	int watch_calls;
};

static int mock_open(struct perf_event_attr *attr, pid_t tid, int cpu,
		     int group_fd, unsigned long flags, void *arg)
{
	struct mock *m = arg;

	m->calls++;
	if (tid == m->watch)
		m->watch_calls++;
	if (attr->type == PERF_TYPE_SOFTWARE && attr->config == m->fail_config &&
	    (!m->only_in_group || group_fd >= 0)) {
		errno = m->fail_errno;
		return -1;
	}
	if (m->allow == 0) {
		errno = EMFILE;
		return -1;
	}
	if (m->allow > 0)
		m->allow--;
	return (int)syscall(__NR_perf_event_open, attr, tid, cpu, group_fd, flags);
}

#define SW3 "a=perf::PERF_COUNT_SW_TASK_CLOCK,b=perf::PERF_COUNT_SW_PAGE_FAULTS," \
	    "c=perf::PERF_COUNT_SW_CONTEXT_SWITCHES"

static void run_mock(struct mock *m, int nthreads, struct fake *f)
{
	fake_init(f, SW3);
	for (int i = 0; i < nthreads; i++)
		fake_add(f, my_tid());   /* same TID: counted once */
	CHECK_EQ_INT(nl_source_perf.init(&f->st, &f->priv), 0);
	if (!f->priv)
		return;
	((struct nl_perf_priv *)f->priv)->open_fn = mock_open;
	((struct nl_perf_priv *)f->priv)->open_arg = m;
	CHECK_EQ_INT(nl_source_perf.sample(&f->st, f->priv), 0);
}

static void test_group_member_unsupported(void)
{
	struct mock m = { PERF_COUNT_SW_PAGE_FAULTS, EOPNOTSUPP, false, -1, 0, 0, 0 };
	struct nl_perf_priv *p;
	struct fake f;

	run_mock(&m, 1, &f);
	p = f.priv;
	if (!p)
		return;
	/* b failed in the group, then alone: dropped; a and c count */
	CHECK_EQ_INT(f.st.perf.events[1].supported, 0);
	CHECK_EQ_INT(f.st.perf.events[1].err, -EOPNOTSUPP);
	CHECK_EQ_U64(p->event_open_attempts[1], 2);
	CHECK_EQ_INT(f.st.perf.events[0].supported, 1);
	CHECK_EQ_INT(f.st.perf.events[2].supported, 1);
	CHECK_EQ_U64(f.st.perf.fds, 2);
	CHECK_EQ_INT(p->threads[0]->grp[0].nfds, 2);
	CHECK_EQ_INT(f.threads[0].events_valid, (1 << 0) | (1 << 2));
	CHECK_NEAR(f.threads[0].scaling_ratio, 1.0, 0);
	/* a new thread does not try b again */
	{
		struct busy b;
		pthread_t th;
		pid_t tid = sleeper_start(&b, &th);

		CHECK(tid > 0);
		fake_add(&f, tid);
		CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
		CHECK_EQ_U64(p->event_open_attempts[1], 2);
		CHECK_EQ_U64(p->nthreads, 2);
		CHECK_EQ_U64(f.st.perf.fds, 4);
		sleeper_stop(&b, th);
	}
	nl_source_perf.free(&f.st, f.priv);
}

static void test_group_leader_unsupported(void)
{
	struct mock m = { PERF_COUNT_SW_TASK_CLOCK, ENOENT, false, -1, 0, 0, 0 };
	struct nl_perf_priv *p;
	struct fake f;

	run_mock(&m, 1, &f);
	p = f.priv;
	if (!p)
		return;
	/* a leader that fails failed alone: one attempt, b leads */
	CHECK_EQ_INT(f.st.perf.events[0].supported, 0);
	CHECK_EQ_INT(f.st.perf.events[0].err, -ENOENT);
	CHECK_EQ_U64(p->event_open_attempts[0], 1);
	CHECK_EQ_INT(p->threads[0]->grp[0].ev[0], 1);
	CHECK_EQ_INT(f.threads[0].events_valid, (1 << 1) | (1 << 2));
	nl_source_perf.free(&f.st, f.priv);
}

/* An event the kernel will not add to a group but opens alone (a group
 * too large for the PMU, events of different PMUs) gets a group of its
 * own: the plan is split, the thread reopened, and later threads do not
 * try the failing join again. */
static void test_group_member_cannot_join(void)
{
	struct mock m = { PERF_COUNT_SW_CONTEXT_SWITCHES, EINVAL, true, -1, 0, 0, 0 };
	struct nl_perf_priv *p;
	struct fake f;
	uint64_t gen0;

	/* the same TID twice in the VM list: opened and read once */
	run_mock(&m, 2, &f);
	p = f.priv;
	if (!p)
		return;
	gen0 = p->plan.gen;
	CHECK_EQ_INT(f.st.perf.events[2].supported, 1);
	CHECK_EQ_INT(f.st.perf.events[2].err, 0);
	CHECK_EQ_INT(f.st.perf.events[2].group, 1);
	/* join (fails), alone (works), then as the new group's leader */
	CHECK_EQ_U64(p->event_open_attempts[2], 3);
	CHECK_EQ_U64(p->event_open_attempts[0], 2);
	CHECK_EQ_U64(p->nthreads, 1);
	CHECK_EQ_U64(f.st.perf.fds, 3);
	CHECK_EQ_INT(f.st.perf.ngroups, 2);
	CHECK_EQ_U64(f.st.perf.groups[0].events, 3);
	CHECK_EQ_U64(f.st.perf.groups[1].events, 4);
	CHECK_EQ_INT(p->threads[0]->ngroups, 2);
	CHECK_EQ_U64(p->threads[0]->plan_gen, p->plan.gen);
	CHECK_EQ_INT(f.threads[0].events_valid, 7);
	CHECK_EQ_INT(f.threads[0].win_valid, 7);
	CHECK_NEAR(f.threads[0].group_scaling[1], 1.0, 0);
	/* a second thread: no failed join any more */
	{
		struct busy b;
		pthread_t th;
		pid_t tid = sleeper_start(&b, &th);

		CHECK(tid > 0);
		fake_add(&f, tid);
		CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
		CHECK_EQ_U64(p->event_open_attempts[2], 4);
		CHECK_EQ_U64(p->plan.gen, gen0);
		CHECK_EQ_U64(f.st.perf.fds, 6);
		sleeper_stop(&b, th);
	}
	nl_source_perf.free(&f.st, f.priv);
}

/* ---- group plans and a PMU with few counters ---- */

static void plan_events(struct nl_event_desc *ev, int n, const bool *hw)
{
	memset(ev, 0, sizeof(*ev) * (size_t)n);
	for (int i = 0; i < n; i++) {
		snprintf(ev[i].name, sizeof(ev[i].name), "e%d", i);
		ev[i].hardware = hw[i];
		ev[i].supported = -1;
	}
}

static void test_plan_build(void)
{
	static const bool hw[9] = { true, true, true, true, true, true, true,
				    false, false };
	static const enum nl_fixed_slot fx[9] = {
		NL_FIXED_CYCLES, NL_FIXED_INSTRUCTIONS, NL_FIXED_NONE,
		NL_FIXED_NONE, NL_FIXED_NONE, NL_FIXED_NONE, NL_FIXED_CYCLES,
	};
	struct nl_counter_budget b = { 4, true, true, false, true };
	struct nl_event_desc ev[NL_MAX_EVENTS];
	struct nl_perf_plan plan;
	struct nl_state st;
	uint64_t gen;

	memset(&plan, 0, sizeof(plan));
	/* fixed counters beside 4 general-purpose ones: the second cycles
	 * event (e6) needs a general-purpose counter */
	plan_events(ev, 9, hw);
	nl_perf_plan_build(&plan, ev, fx, 9, &b);
	CHECK_EQ_INT(plan.ngroups, 3);
	CHECK_EQ_INT(plan.nev[0], 6);
	CHECK_EQ_INT(plan.nev[1], 1);
	CHECK_EQ_INT(plan.ev[1][0], 6);
	CHECK(plan.hardware[0] && plan.hardware[1] && !plan.hardware[2]);
	CHECK_EQ_INT(plan.nev[2], 2);
	CHECK_EQ_INT(ev[5].group, 0);
	CHECK_EQ_INT(ev[6].group, 1);
	CHECK_EQ_INT(ev[8].group, 2);
	gen = plan.gen;

	/* no fixed counters (watchdog, AMD): 4 per group */
	b.fixed_cycles = b.fixed_instructions = false;
	nl_perf_plan_build(&plan, ev, fx, 9, &b);
	CHECK(plan.gen > gen);
	CHECK_EQ_INT(plan.ngroups, 3);
	CHECK_EQ_INT(plan.nev[0], 4);
	CHECK_EQ_INT(plan.nev[1], 3);
	CHECK_EQ_INT(ev[4].group, 1);

	/* unsupported events are left out; software alone is one group */
	ev[0].supported = 0;
	ev[1].supported = 0;
	nl_perf_plan_build(&plan, ev, NULL, 9, &b);
	CHECK_EQ_INT(ev[0].group, -1);
	CHECK_EQ_INT(plan.nev[0], 4);
	CHECK_EQ_INT(plan.ev[0][0], 2);
	CHECK_EQ_INT(plan.nev[1], 1);
	for (int i = 0; i < 7; i++)
		ev[i].supported = 0;
	nl_perf_plan_build(&plan, ev, NULL, 9, &b);
	CHECK_EQ_INT(plan.ngroups, 1);
	CHECK(!plan.hardware[0]);

	/* one counter, 9 hardware events: 7 hardware groups and the
	 * software one fill NL_MAX_GROUPS; the rest cannot be counted */
	{
		bool allhw[10] = { true, true, true, true, true, true, true,
				   true, true, false };

		plan_events(ev, 10, allhw);
		b.gp = 1;
		nl_perf_plan_build(&plan, ev, NULL, 10, &b);
		CHECK_EQ_INT(plan.ngroups, NL_MAX_GROUPS);
		CHECK_EQ_INT(ev[6].group, 6);
		CHECK_EQ_INT(ev[7].supported, 0);
		CHECK_EQ_INT(ev[7].err, -E2BIG);
		CHECK_EQ_INT(ev[8].err, -E2BIG);
		CHECK_EQ_INT(ev[9].group, NL_MAX_GROUPS - 1);
		/* and a full plan cannot be split */
		CHECK_EQ_INT(nl_perf_plan_split(&plan, ev, 10, 0, 1), -EINVAL);
		CHECK_EQ_INT(nl_perf_plan_split(&plan, ev, 10, 7, 0), -EINVAL);
	}

	/* splitting: the tail moves to a new group right after */
	plan_events(ev, 9, hw);
	b.gp = 8;
	nl_perf_plan_build(&plan, ev, NULL, 9, &b);
	CHECK_EQ_INT(plan.ngroups, 2);
	gen = plan.gen;
	CHECK_EQ_INT(nl_perf_plan_split(&plan, ev, 9, 0, 5), 0);
	CHECK(plan.gen > gen);
	CHECK_EQ_INT(plan.ngroups, 3);
	CHECK_EQ_INT(plan.nev[0], 5);
	CHECK_EQ_INT(plan.nev[1], 2);
	CHECK_EQ_INT(plan.ev[1][0], 5);
	CHECK(plan.hardware[1]);
	CHECK(!plan.hardware[2]);
	CHECK_EQ_INT(ev[6].group, 1);
	CHECK_EQ_INT(ev[7].group, 2);
	CHECK_EQ_INT(nl_perf_plan_split(&plan, ev, 9, 0, 0), -EINVAL);
	CHECK_EQ_INT(nl_perf_plan_split(&plan, ev, 9, 0, 5), -EINVAL);
	CHECK_EQ_INT(nl_perf_plan_split(&plan, ev, 9, 3, 1), -EINVAL);
	memset(&st, 0, sizeof(st));
	nl_perf_plan_publish(&plan, &st.perf);
	CHECK_EQ_INT(st.perf.ngroups, 3);
	CHECK_EQ_U64(st.perf.groups[0].events, 0x1f);
	CHECK_EQ_U64(st.perf.groups[1].events, 0x60);
	CHECK_EQ_U64(st.perf.groups[2].events, 0x180);
}

/* A stand-in PMU with `counters` counters: "hardware" events are opened as
 * software task-clock events (this machine has no PMU), and a group that
 * would hold more than `counters` of them is refused with EINVAL, as the
 * kernel's group validation does. */
struct simpmu {
	int counters;
	int members[4096];          /* hardware members, by leader fd */
	int join_failures;
};

static int simpmu_open(struct perf_event_attr *attr, pid_t tid, int cpu,
		       int group_fd, unsigned long flags, void *arg)
{
	struct simpmu *s = arg;
	struct perf_event_attr a = *attr;
	bool hw = attr->type != PERF_TYPE_SOFTWARE;
	int fd;

	if (hw) {
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_TASK_CLOCK;
		if (group_fd >= 0 && group_fd < 4096 &&
		    s->members[group_fd] >= s->counters) {
			s->join_failures++;
			errno = EINVAL;
			return -1;
		}
	}
	fd = (int)syscall(__NR_perf_event_open, &a, tid, cpu, group_fd, flags);
	if (fd >= 0 && fd < 4096) {
		if (group_fd < 0)
			s->members[fd] = hw;
		else if (hw && group_fd < 4096)
			s->members[group_fd]++;
	}
	return fd;
}

#define HW6 "c=perf::PERF_COUNT_HW_CPU_CYCLES,i=perf::PERF_COUNT_HW_INSTRUCTIONS," \
	    "r=perf::PERF_COUNT_HW_CACHE_REFERENCES,m=perf::PERF_COUNT_HW_CACHE_MISSES," \
	    "b=perf::PERF_COUNT_HW_BRANCH_INSTRUCTIONS,x=perf::PERF_COUNT_HW_BRANCH_MISSES," \
	    "t=perf::PERF_COUNT_SW_TASK_CLOCK"

static void test_simulated_pmu_split(void)
{
	static struct simpmu s;
	struct nl_perf_priv *p;
	struct fake f;
	struct gated_busy b;
	pthread_t th;
	pid_t tid;

	memset(&s, 0, sizeof(s));
	memset(&b, 0, sizeof(b));
	pthread_mutex_init(&b.gate, NULL);
	s.counters = 2;
	CHECK_EQ_INT(pthread_create(&th, NULL, gated_busy_main, &b), 0);
	while (!atomic_load(&b.tid))
		sleep_ms(1);
	tid = atomic_load(&b.tid);
	fake_init(&f, HW6);
	fake_add(&f, tid);
	CHECK_EQ_INT(nl_source_perf.init(&f.st, &f.priv), 0);
	p = f.priv;
	if (!p)
		goto cleanup;
	for (int i = 0; i < 6; i++)
		CHECK(f.st.perf.events[i].hardware);
	/* the plan believes in 4 counters, the PMU has 2 */
	p->budget.gp = 4;
	p->budget.fixed_cycles = p->budget.fixed_instructions = false;
	nl_perf_plan_build(&p->plan, f.st.perf.events, p->fixed, f.st.perf.nevents,
			   &p->budget);
	nl_perf_plan_publish(&p->plan, &f.st.perf);
	CHECK_EQ_INT(p->plan.ngroups, 3);
	p->open_fn = simpmu_open;
	p->open_arg = &s;

	CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
	/* {c,i,r,m} was refused at r: split into {c,i} {r,m}; {b,x} fits */
	CHECK_EQ_INT(s.join_failures, 1);
	CHECK_EQ_INT(f.st.perf.ngroups, 4);
	CHECK_EQ_U64(f.st.perf.groups[0].events, 0x03);
	CHECK_EQ_U64(f.st.perf.groups[1].events, 0x0c);
	CHECK_EQ_U64(f.st.perf.groups[2].events, 0x30);
	CHECK_EQ_U64(f.st.perf.groups[3].events, 0x40);
	CHECK(f.st.perf.groups[2].hardware && !f.st.perf.groups[3].hardware);
	for (int i = 0; i < f.st.perf.nevents; i++)
		CHECK_EQ_INT(f.st.perf.events[i].supported, 1);
	CHECK_EQ_U64(f.st.perf.fds, 7);
	CHECK_EQ_INT(f.threads[0].events_valid, 0x7f);

	sleep_ms(100);
	/* park the thread: every group then reads the same final count */
	pthread_mutex_lock(&b.gate);
	atomic_store(&b.park, 1);
	while (!atomic_load(&b.parked))
		sleep_ms(1);
	sleep_ms(5);
	CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
	atomic_store(&b.park, 0);
	pthread_mutex_unlock(&b.gate);
	/* every group counted the busy thread for the whole window */
	for (int g = 0; g < 4; g++)
		CHECK_NEAR(f.threads[0].group_scaling[g], 1.0, 1e-9);
	CHECK_NEAR(f.threads[0].scaling_ratio, 1.0, 1e-9);
	CHECK_EQ_INT(f.threads[0].win_valid, 0x7f);
	/* every group measured the same thing (the thread's task clock)
	 * of a thread parked before the reads: the split groups agree */
	CHECK(f.threads[0].win_events[6] > 0);
	for (int i = 0; i < 6; i++) {
		double a = (double)f.threads[0].win_events[i];
		double w = (double)f.threads[0].win_events[6];

		CHECK(fabs(a - w) <= 0.05 * w + 1e6);
	}
	CHECK_EQ_INT(s.join_failures, 1);
	nl_source_perf.free(&f.st, f.priv);
cleanup:
	atomic_store(&b.stop, 1);
	pthread_join(th, NULL);
	pthread_mutex_destroy(&b.gate);
}

static void test_emfile_stops_opening(void)
{
	struct mock m = { UINT64_MAX, 0, false, 1, 0, 0, 0 };
	struct nl_perf_priv *p;
	struct fake f;
	struct busy b;
	pthread_t th;
	pid_t tid = sleeper_start(&b, &th);

	CHECK(tid > 0);
	m.watch = tid;
	fake_init(&f, "a=perf::PERF_COUNT_SW_TASK_CLOCK,b=perf::PERF_COUNT_SW_PAGE_FAULTS");
	fake_add(&f, my_tid());
	fake_add(&f, tid);
	CHECK_EQ_INT(nl_source_perf.init(&f.st, &f.priv), 0);
	p = f.priv;
	if (!p)
		goto cleanup;
	p->open_fn = mock_open;
	p->open_arg = &m;
	/* one open allowed: the first group fails half-way with EMFILE and
	 * is closed, the limit is raised once, the retry fails again, and
	 * the second thread is not even tried this cycle */
	CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
	CHECK(m.calls == 2 || m.calls == 3);  /* 3 if the limit could rise */
	CHECK_EQ_INT(m.watch_calls, 0);
	CHECK_EQ_U64(f.st.perf.fds, 0);
	CHECK_EQ_U64(p->nthreads, 0);
	CHECK_EQ_INT(f.st.perf.events[0].supported, -1);
	CHECK_EQ_INT(f.st.perf.events[1].supported, -1);
	CHECK_EQ_INT(f.threads[0].events_valid, 0);
	CHECK_EQ_INT(f.threads[1].events_valid, 0);
	CHECK(isnan(f.threads[1].scaling_ratio));
	CHECK(p->c_emfile.active);
	/* still none: one attempt per cycle, no further raise */
	m.calls = 0;
	CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
	CHECK_EQ_INT(m.calls, 1);
	/* fds again: both threads open, the complaint clears */
	m.allow = -1;
	CHECK_EQ_INT(nl_source_perf.sample(&f.st, f.priv), 0);
	CHECK_EQ_U64(p->nthreads, 2);
	CHECK_EQ_U64(f.st.perf.fds, 4);
	CHECK(!p->c_emfile.active);
	CHECK_EQ_INT(f.st.perf.events[0].supported, 1);
	CHECK_EQ_INT(f.st.perf.events[1].supported, 1);
	CHECK(f.threads[1].events_valid == 3);
cleanup:
	nl_source_perf.free(&f.st, f.priv);
	sleeper_stop(&b, th);
}

NL_TEST_MAIN(NL_T(test_encode_default_catalog),
	     NL_T(test_source_attrs_count_guest),
	     NL_T(test_encode_guest_fallback),
	     NL_T(test_encode_errors),
	     NL_T(test_encode_model_specific),
	     NL_T(test_scale_delta),
	     NL_T(test_parse_read),
	     NL_T(test_group_update),
	     NL_T(test_catalog_spec),
	     NL_T(test_user_events),
	     NL_T(test_init_bad_spec),
	     NL_T(test_cpu_model),
	     NL_T(test_pmu_name),
	     NL_T(test_measure_threads),
	     NL_T(test_vanished_thread),
	     NL_T(test_group_member_unsupported),
	     NL_T(test_group_leader_unsupported),
	     NL_T(test_group_member_cannot_join),
	     NL_T(test_plan_build),
	     NL_T(test_simulated_pmu_split),
	     NL_T(test_emfile_stops_opening))
