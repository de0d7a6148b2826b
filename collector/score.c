#include "score.h"

#include <errno.h>
#include <math.h>
#include <string.h>

int nl_score_placement(const uint64_t *cpu, const uint64_t *mem,
		       const struct nl_topology *t, double *locality,
		       double *distance)
{
	long double csum = 0, msum = 0, l = 0, d = 0;
	int n = t->nnodes;

	*locality = NAN;
	*distance = NAN;
	for (int i = 0; i < n; i++) {
		csum += cpu[i];
		msum += mem[i];
	}
	if (csum <= 0 || msum <= 0)
		return -ENODATA;
	for (int i = 0; i < n; i++) {
		long double c = cpu[i] / csum;

		if (c == 0)
			continue;
		l += c * (mem[i] / msum);
		for (int k = 0; k < n; k++)
			d += c * (mem[k] / msum) * t->distance[i][k];
	}
	*locality = (double)l;
	*distance = (double)d;
	return 0;
}

double nl_score_pmu_locality(uint64_t dram_local, uint64_t dram_remote)
{
	long double sum = (long double)dram_local + (long double)dram_remote;

	if (sum < NL_PMU_MIN_DRAM)
		return NAN;
	return (double)((long double)dram_local / sum);
}

double nl_score_mpki(uint64_t llc_misses, uint64_t instructions)
{
	if (instructions < NL_PMU_MIN_INSTRUCTIONS)
		return NAN;
	return (double)(1000.0L * llc_misses / instructions);
}

double nl_score_cpi(uint64_t cycles, uint64_t instructions)
{
	if (instructions < NL_PMU_MIN_INSTRUCTIONS)
		return NAN;
	return (double)((long double)cycles / instructions);
}

static int find_counting(const struct nl_event_desc *events, int nevents,
			 const char *name)
{
	for (int i = 0; i < nevents && i < NL_MAX_EVENTS; i++)
		if (strcmp(events[i].name, name) == 0)
			return events[i].supported == 1 ? i : -1;
	return -1;
}

void nl_score_pmu_events(const struct nl_event_desc *events, int nevents,
			 struct nl_pmu_score_events *out)
{
	out->cycles = find_counting(events, nevents, "cycles");
	out->instructions = find_counting(events, nevents, "instructions");
	out->llc_misses = find_counting(events, nevents, "llc_misses");
	out->dram_local = find_counting(events, nevents, "dram_local");
	out->dram_remote = find_counting(events, nevents, "dram_remote");
	out->cycles_guest = find_counting(events, nevents, "cycles_guest");
	out->cycles_host = find_counting(events, nevents, "cycles_host");
}

static bool have(int i, uint32_t valid)
{
	return i >= 0 && (valid >> i) & 1;
}

double nl_score_host_cycles_ratio(const struct nl_pmu_score_events *ix, const uint64_t *win,
				  uint32_t valid)
{
	double g, h;

	if (!have(ix->cycles_guest, valid) || !have(ix->cycles_host, valid))
		return NAN;
	g = (double)win[ix->cycles_guest];
	h = (double)win[ix->cycles_host];
	return g + h > 0 ? h / (g + h) : NAN;
}

void nl_score_pmu(const struct nl_pmu_score_events *ix, const uint64_t *win,
		  uint32_t valid, double *locality, double *mpki, double *cpi)
{
	*locality = *mpki = *cpi = NAN;
	if (have(ix->dram_local, valid) && have(ix->dram_remote, valid))
		*locality = nl_score_pmu_locality(win[ix->dram_local],
						  win[ix->dram_remote]);
	if (have(ix->instructions, valid)) {
		if (have(ix->llc_misses, valid))
			*mpki = nl_score_mpki(win[ix->llc_misses],
					      win[ix->instructions]);
		if (have(ix->cycles, valid))
			*cpi = nl_score_cpi(win[ix->cycles],
					    win[ix->instructions]);
	}
}

double nl_score_locality_best(const struct nl_vm_snap *v, int role,
			      uint32_t *source)
{
	*source = 0;
	if (role < 0 || role > NL_ROLE_ALL)
		return NAN;
	if (!isnan(v->pmu_locality[role])) {
		*source = NL_LOCALITY_SRC_PMU;
		return v->pmu_locality[role];
	}
	if (!isnan(v->locality[role])) {
		*source = NL_LOCALITY_SRC_PLACEMENT;
		return v->locality[role];
	}
	return NAN;
}
