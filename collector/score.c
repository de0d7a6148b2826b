#include "score.h"

#include <errno.h>
#include <math.h>

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
