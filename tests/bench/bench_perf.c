/* Cost of one perf-source sample cycle versus the number of tracked
 * threads, against the floor of doing only the group read()s directly
 * (one read() per open group per thread, measured in the same run).
 *
 *   bench_perf [cycles]      (default 200 cycles per size)
 *
 * Two event sets: the host's catalog (here without a PMU: one software
 * group per thread), and a split set of six "hardware" events on a
 * stand-in PMU with two counters (opened as software events, as the unit
 * tests do), which the source splits into three hardware groups plus the
 * software one: four reads per thread. The threads sleep the whole time,
 * as most QEMU threads do. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "types.h"
#include "perf.h"
#include "perf_priv.h"

struct sleeper {
	atomic_int tid;
	int pipe_rd;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	char c;

	atomic_store(&s->tid, (int)syscall(SYS_gettid));
	/* blocks until the write end closes */
	while (read(s->pipe_rd, &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* The stand-in PMU: hardware events become task-clock events, and a group
 * may hold at most `counters` of them (EINVAL beyond, as the kernel's
 * group validation answers). */
static int sim_counters = 2;
static int sim_members[1 << 16];

static int sim_open(struct perf_event_attr *attr, pid_t tid, int cpu,
		    int group_fd, unsigned long flags, void *arg)
{
	struct perf_event_attr a = *attr;
	bool hw = attr->type != PERF_TYPE_SOFTWARE;
	int fd;

	(void)arg;
	if (hw) {
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_TASK_CLOCK;
		if (group_fd >= 0 && group_fd < (1 << 16) &&
		    sim_members[group_fd] >= sim_counters) {
			errno = EINVAL;
			return -1;
		}
	}
	fd = (int)syscall(__NR_perf_event_open, &a, tid, cpu, group_fd, flags);
	if (fd >= 0 && fd < (1 << 16)) {
		if (group_fd < 0)
			sim_members[fd] = hw;
		else if (hw && group_fd < (1 << 16))
			sim_members[group_fd]++;
	}
	return fd;
}

#define SPLIT_EVENTS \
	"cycles=perf::PERF_COUNT_HW_CPU_CYCLES,instructions=perf::PERF_COUNT_HW_INSTRUCTIONS," \
	"llc_references=perf::PERF_COUNT_HW_CACHE_REFERENCES,llc_misses=perf::PERF_COUNT_HW_CACHE_MISSES," \
	"branches=perf::PERF_COUNT_HW_BRANCH_INSTRUCTIONS,branch_misses=perf::PERF_COUNT_HW_BRANCH_MISSES," \
	"task_clock=perf::PERF_COUNT_SW_TASK_CLOCK,context_switches=perf::PERF_COUNT_SW_CONTEXT_SWITCHES"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of n samples (sorts them). */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run(int nthreads, int cycles, bool split)
{
	struct sleeper *sl = NULL;
	pthread_t *th = NULL;
	struct nl_thread *threads = NULL;
	double *t_sample = NULL, *t_floor = NULL;
	struct nl_config cfg;
	struct nl_state st;
	struct nl_vm vm, *vms[1];
	struct nl_perf_priv *p = NULL;
	void *priv = NULL;
	pthread_attr_t attr;
	int pfd[2] = { -1, -1 };
	int started = 0, rc = -1, reads = 0;
	double t0, open_ms;

	sl = calloc((size_t)nthreads, sizeof(*sl));
	th = calloc((size_t)nthreads, sizeof(*th));
	threads = calloc((size_t)nthreads, sizeof(*threads));
	t_sample = calloc((size_t)cycles, sizeof(double));
	t_floor = calloc((size_t)cycles, sizeof(double));
	if (!sl || !th || !threads || !t_sample || !t_floor || pipe(pfd) < 0)
		goto cleanup;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (; started < nthreads; started++) {
		sl[started].pipe_rd = pfd[0];
		if (pthread_create(&th[started], &attr, sleeper_main,
				   &sl[started]) != 0)
			break;
	}
	pthread_attr_destroy(&attr);
	if (started < nthreads)
		goto cleanup;
	for (int i = 0; i < nthreads; i++) {
		while (!atomic_load(&sl[i].tid))
			usleep(100);
		threads[i].tid = atomic_load(&sl[i].tid);
		threads[i].index = -1;
	}

	nl_config_defaults(&cfg);
	if (split)
		cfg.events = SPLIT_EVENTS;
	memset(&st, 0, sizeof(st));
	memset(&vm, 0, sizeof(vm));
	st.cfg = &cfg;
	vm.threads = threads;
	vm.nthreads = vm.cap_threads = (size_t)nthreads;
	vms[0] = &vm;
	st.vms = vms;
	st.nvms = 1;
	if (nl_source_perf.init(&st, &priv) < 0)
		goto cleanup;
	p = priv;
	if (split) {
		/* the plan trusts 4 counters; the stand-in PMU has 2 */
		p->budget.gp = 4;
		p->budget.fixed_cycles = p->budget.fixed_instructions = false;
		nl_perf_plan_build(&p->plan, st.perf.events, p->fixed, st.perf.nevents,
				   &p->budget);
		p->open_fn = sim_open;
	}

	t0 = now_us();
	if (nl_source_perf.sample(&st, priv) < 0)
		goto cleanup;
	open_ms = (now_us() - t0) / 1e3;
	if (p->nthreads != (size_t)nthreads) {
		fprintf(stderr, "only %zu of %d threads opened\n", p->nthreads,
			nthreads);
		goto cleanup;
	}

	for (int c = 0; c < cycles; c++) {
		uint64_t buf[3 + 2 * NL_MAX_EVENTS];

		t0 = now_us();
		nl_source_perf.sample(&st, priv);
		t_sample[c] = now_us() - t0;

		/* the floor: the same group reads, nothing else */
		reads = 0;
		t0 = now_us();
		for (size_t i = 0; i < p->nthreads; i++) {
			for (int k = 0; k < p->threads[i]->ngroups; k++) {
				const struct nl_perf_group *g =
					&p->threads[i]->grp[k];

				if (g->nfds == 0)
					continue;
				if (read(g->fd[0], buf, sizeof(buf)) <= 0)
					goto cleanup;
				reads++;
			}
		}
		t_floor[c] = now_us() - t0;
	}
	{
		double s = median(t_sample, cycles), f = median(t_floor, cycles);

		printf("%-7s %8d %8llu %9d %10.2f %11.1f %10.1f %12.3f %7.2f\n",
		       split ? "split" : "catalog", nthreads,
		       (unsigned long long)st.perf.fds, reads, open_ms,
		       s, f, (s - f) / nthreads, s / f);
	}
	rc = 0;
cleanup:
	nl_source_perf.free(&st, priv);
	if (pfd[1] >= 0)
		close(pfd[1]);   /* wakes every sleeper: read() returns 0 */
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (pfd[0] >= 0)
		close(pfd[0]);
	free(sl);
	free(th);
	free(threads);
	free(t_sample);
	free(t_floor);
	return rc;
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 10, 100, 500, 1000 };
	int cycles = argc > 1 ? atoi(argv[1]) : 200;
	struct rlimit rl;

	if (cycles < 1)
		cycles = 1;
	/* 1000 threads x 8 events is more fds than the usual soft limit */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	nl_log_set_level(NL_LOG_WARN);
	printf("perf source sample cycle, median of %d cycles (us)\n", cycles);
	printf("%-7s %8s %8s %9s %10s %11s %10s %12s %7s\n", "events",
	       "threads", "fds", "reads", "open_ms", "sample_us", "floor_us",
	       "extra_us/thr", "ratio");
	for (int split = 0; split <= 1; split++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (run(sizes[i], cycles, split) < 0)
				return 1;
	return 0;
}
