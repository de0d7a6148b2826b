/* The monotonic clock that the sampler, its sources and the hint engine
 * time themselves with. Stands alone so that timing needs no sampler. */
#ifndef NL_CLOCK_H
#define NL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t nl_now_ns(void);

#endif
