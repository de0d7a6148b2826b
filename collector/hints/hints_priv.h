/* Internals of the hint engine shared by its files and reached by
 * tests/unit/test_hints.c: the engine's constants and the helpers with a
 * contract of their own. The policy interface is policy.h. */
#ifndef NL_HINTS_PRIV_H
#define NL_HINTS_PRIV_H

#include "policy.h"

/* Bytes moved per second by page migration and by a live migration, for
 * the cost estimate of a hint (docs/api.md). */
#define NL_HINT_MOVE_RATE (1024.0 * 1024 * 1024)
/* Bytes per counted DRAM access / LLC miss (one cache line). */
#define NL_HINT_LINE_BYTES 64.0
/* Leaving the memory-intensive class takes falling below this share of the
 * entering threshold (hysteresis). */
#define NL_HINT_INTENSITY_EXIT 0.7
/* VMM threads using less CPU than this (cores) get no hint of their own. */
#define NL_HINT_VMM_MIN_CORES 0.01
/* Smoothing of CPU time and intensity: x = a * new + (1 - a) * old. */
#define NL_HINT_EWMA 0.5

/* FNV-1a over (VM key, kind, target), as 16 hex digits. */
void nl_hints_make_id(const char *vm_key, enum nl_hint_kind kind,
		      int target_node, char out[NL_HINT_ID_LEN]);
/* Append the libvirt calls and equivalent commands for hint h about
 * snapshot VM vm. Return 0 or -ENOMEM. */
int nl_hints_build_actions(struct nl_hint *h, const struct nl_vm_snap *vm,
			   const struct nl_topology *topo);
/* A deep copy of hint src (its actions too) into dst. Return 0 or
 * -ENOMEM (dst then holds no actions). */
int nl_hint_copy(struct nl_hint *dst, const struct nl_hint *src);
/* The memory (bytes) and CPU (cores) an incoming VM of profile p needs:
 * memory_bytes, else the sum of its per-node memory; cpu_cores (+ the VMM
 * threads' cores), else one per vCPU, else 1. */
double nl_hints_profile_mem_need(const struct nl_profile *p);
double nl_hints_profile_cpu_need(const struct nl_profile *p);

/* Append printf output to the string in buf (len bytes), truncating. */
void nl_hints_appendf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Quote a word for a POSIX shell when it needs quoting. */
void nl_hints_shell_quote(const char *s, char *out, size_t len);
/* Where cold memory leaving node index h goes: the nearest node (SLIT)
 * whose room[] is positive, the one with the most room among equally near
 * ones; -1 when no other node has room. */
int nl_hints_nearest_room(const struct nl_topology *t, const double *room,
			  int h);

#endif
