/* Shared by the libpfm4 unit tests: the plain libpfm4 encoding of an
 * event string (no guest-mode modifiers), what a caller without
 * numalens' modifier handling would get. */
#ifndef NL_TEST_PFM_RAW_H
#define NL_TEST_PFM_RAW_H

#include <string.h>

#include <perfmon/pfmlib_perf_event.h>

static inline int nl_t_raw_encode(const char *pfm, struct perf_event_attr *a)
{
	pfm_perf_encode_arg_t arg;

	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	memset(&arg, 0, sizeof(arg));
	arg.attr = a;
	arg.size = sizeof(arg);
	return pfm_get_os_event_encoding(pfm, PFM_PLM0 | PFM_PLM3,
					 PFM_OS_PERF_EVENT_EXT, &arg);
}

#endif
