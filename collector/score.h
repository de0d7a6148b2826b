/* Placement-based locality scores.
 *
 * For a VM v and role r, with c(n) the share of the role's CPU time in the
 * last window on CPUs of node n and m(n) the share of the VM's resident
 * memory on node n:
 *
 *   locality  L(v,r) = sum_n c(n) * m(n)                 1.0 all local,
 *                                                        0.5 even 2-node spread
 *   distance  D(v,r) = sum_n sum_k c(n) * m(k) * SLIT(n,k)   10 = all local
 *
 * D is the expected SLIT distance of one memory access when accesses are
 * spread like the memory: the kernel's relative cost of that access. */
#ifndef NL_SCORE_H
#define NL_SCORE_H

#include <stdint.h>

#include "snapshot.h"

/* cpu and mem are indexed by node index, t->nnodes long. Returns 0 and sets
 * both outputs, or -ENODATA (outputs NaN) when either side sums to zero. */
int nl_score_placement(const uint64_t *cpu, const uint64_t *mem,
		       const struct nl_topology *t, double *locality,
		       double *distance);

/* PMU-based scores of one role over one window, from the deltas of the
 * catalog's semantic events (docs/events.md):
 *
 *   locality  dram_local / (dram_local + dram_remote)    1.0 all local
 *   LLC MPKI  1000 * llc_misses / instructions
 *   CPI       cycles / instructions
 *
 * Each is NaN when its inputs are missing or too small to mean anything:
 * fewer than NL_PMU_MIN_DRAM DRAM accesses for the locality, fewer than
 * NL_PMU_MIN_INSTRUCTIONS instructions for MPKI and CPI. Inputs are
 * 64-bit counts; the arithmetic is done in long double, so no sum or
 * product overflows. */
#define NL_PMU_MIN_DRAM         100
#define NL_PMU_MIN_INSTRUCTIONS 10000

double nl_score_pmu_locality(uint64_t dram_local, uint64_t dram_remote);
double nl_score_mpki(uint64_t llc_misses, uint64_t instructions);
double nl_score_cpi(uint64_t cycles, uint64_t instructions);

/* Indexes of the semantic events the PMU scores use in an event list, -1
 * where absent or not counting (supported != 1). */
struct nl_pmu_score_events {
	int cycles, instructions, llc_misses, dram_local, dram_remote;
	int cycles_guest, cycles_host;   /* --perf.host-mode */
};

void nl_score_pmu_events(const struct nl_event_desc *events, int nevents,
			 struct nl_pmu_score_events *out);

/* Fill the three scores from one set of window deltas; valid bit i says
 * win[i] was read. Outputs NaN where undefined. */
void nl_score_pmu(const struct nl_pmu_score_events *ix, const uint64_t *win,
		  uint32_t valid, double *locality, double *mpki, double *cpi);

/* The host-mode share of cycles, host / (host + guest), from the
 * guest-only and host-only cycle deltas (--perf.host-mode); NaN when
 * either was not read or both are 0. */
double nl_score_host_cycles_ratio(const struct nl_pmu_score_events *ix, const uint64_t *win,
				  uint32_t valid);

/* The locality a consumer should use for a VM role: the PMU one when it
 * exists (it measures accesses), else the placement estimate. *source gets
 * NL_LOCALITY_SRC_PMU, NL_LOCALITY_SRC_PLACEMENT, or 0 with NaN returned. */
double nl_score_locality_best(const struct nl_vm_snap *v, int role,
			      uint32_t *source);

#endif
