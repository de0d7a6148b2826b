/* Per-socket uncore counters: memory-controller read/write bytes and
 * inter-socket link traffic, plus the [uncore] events of --perf.config.
 *
 * Every box of a PMU family (uncore_imc_0..N, uncore_upi_0..N, amd_umc_N,
 * amd_df) is opened system-wide (pid -1) on each CPU its sysfs cpumask
 * lists, one per socket, and the counts are summed per socket (the socket
 * of a CPU is its topology/physical_package_id). Events are resolved from
 * libpfm4's tables where libpfm4 4.13 knows the uncore PMU (Skylake-SP /
 * Cascade Lake), else from the kernel's sysfs aliases (events/<name>, with
 * .scale/.unit, encoded through format/), else from built-in event codes
 * for the CPU model. All opens happen once at start; a counter that cannot
 * be opened is reported (numalens_uncore_event_supported 0) and never
 * retried. A host without uncore PMUs (any VM) is a normal state.
 * docs/events.md describes the choices per CPU model. */
#ifndef NL_UNCORE_H
#define NL_UNCORE_H

#include "sampler.h"

int nl_uncore_source_init(struct nl_state *st, void **priv);
int nl_uncore_source_sample(struct nl_state *st, void *priv);
void nl_uncore_source_free(struct nl_state *st, void *priv);

#endif
