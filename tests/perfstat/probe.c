/* The numalens half of the perf-stat comparison (tests/perfstat/run.sh):
 * counts one thread with the perf source exactly as the daemon does (the
 * host's catalog, one group per plan entry), over SECONDS.
 *
 *   probe TID SECONDS
 *
 * Run as the workload of `perf stat -t TID -- probe TID SECONDS`, so that
 * perf's counting interval encloses this one by the probe's start-up and
 * exit only. Prints "task_clock_ns N" and the other software events. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "perf.h"
#include "perf_priv.h"

int main(int argc, char **argv)
{
	static struct nl_state st;
	static struct nl_vm vm;
	static struct nl_thread th;
	struct nl_vm *vms[1] = { &vm };
	struct nl_config cfg;
	uint64_t before[NL_MAX_EVENTS];
	struct timespec ts;
	void *priv = NULL;
	double secs;
	long tid;
	int rc = 1;

	if (argc != 3 || (tid = strtol(argv[1], NULL, 10)) <= 0 ||
	    (secs = strtod(argv[2], NULL)) <= 0) {
		fprintf(stderr, "usage: probe TID SECONDS\n");
		return 2;
	}
	nl_log_set_level(NL_LOG_WARN);
	nl_config_defaults(&cfg);
	st.cfg = &cfg;
	th.tid = (pid_t)tid;
	th.index = 0;
	th.role = NL_ROLE_VCPU;
	vm.threads = &th;
	vm.nthreads = vm.cap_threads = 1;
	st.vms = vms;
	st.nvms = 1;
	if (nl_source_perf.init(&st, &priv) < 0)
		goto cleanup;
	/* the first sample opens the groups: their counts start at 0, so
	 * the baseline is taken right there */
	if (nl_source_perf.sample(&st, priv) < 0)
		goto cleanup;
	memcpy(before, th.events, sizeof(before));
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - floor(secs)) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	if (nl_source_perf.sample(&st, priv) < 0)
		goto cleanup;
	for (int i = 0; i < st.perf.nevents; i++) {
		if (st.perf.events[i].hardware || !(th.events_valid & (1u << i)))
			continue;
		printf("%s %llu\n", st.perf.events[i].name,
		       (unsigned long long)(th.events[i] - before[i]));
	}
	rc = 0;
cleanup:
	nl_source_perf.free(&st, priv);
	return rc;
}
