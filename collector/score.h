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

#include "model.h"

/* cpu and mem are indexed by node index, t->nnodes long. Returns 0 and sets
 * both outputs, or -ENODATA (outputs NaN) when either side sums to zero. */
int nl_score_placement(const uint64_t *cpu, const uint64_t *mem,
		       const struct nl_topology *t, double *locality,
		       double *distance);

#endif
