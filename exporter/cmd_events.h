/* `numalens events`: print the per-thread event catalog resolved for this
 * host (or any catalog with --pmu NAME). */
#ifndef NL_CMD_EVENTS_H
#define NL_CMD_EVENTS_H

#include <stdio.h>

/* argv[0] is "events". Returns the process exit status. */
int nl_cmd_events(int argc, char **argv);

/* The report for an already parsed command line, written to out; for
 * tests. Returns the exit status (0, 1 resolve error, 2 bad usage). */
int nl_cmd_events_run(int argc, const char *const *argv, FILE *out,
		      FILE *err);

#endif
