/* /proc scan: QEMU processes (name from -name guest=NAME, -uuid) and vhost
 * workers that are processes of their own. Rebuilt every cycle. */
#ifndef NL_PROCSCAN_H
#define NL_PROCSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

/* Fills st->qprocs and st->kworkers. */
extern const struct nl_source nl_source_procscan;

/* Parse a NUL-separated QEMU command line of len bytes into name / uuid
 * ("" when absent). */
void nl_procscan_parse_cmdline(const char *cmdline, size_t len,
			       char *name, size_t name_len,
			       char *uuid, size_t uuid_len);
/* True for the comm of a QEMU main thread. */
bool nl_procscan_is_qemu_comm(const char *comm);
/* Field 22 (starttime) and field 39 (processor) of a stat line; parsed after
 * the last ')'. Return 0 or -EINVAL. Either out pointer may be NULL. */
int nl_procscan_parse_stat(const char *stat, uint64_t *starttime, int *cpu);

#endif
