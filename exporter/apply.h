/* `numalens apply`: the reference actuator. Fetches hints from a running
 * numalens over HTTP (libcurl) and applies them through libvirt (vCPU,
 * emulator and iothread pinning, live numatune) and, where libvirt cannot,
 * through sched_setaffinity(2), migrate_pages(2) and move_pages(2). Dry run
 * unless --yes; every change is logged with its before and after.
 * docs/api.md. The code lives in exporter/cmd/ (apply_priv.h says which
 * file does what); this header stays here for main.c's subcommand table. */
#ifndef NL_APPLY_H
#define NL_APPLY_H

int nl_cmd_apply(int argc, char **argv);

/* `numalens place`: rank candidate hosts for live-migrating a VM, from its
 * profile on the source and each candidate's POST /api/v1/placement;
 * --register registers the arrival on the best one. exporter/cmd/place.c,
 * docs/api.md ("Across hosts"). */
int nl_cmd_place(int argc, char **argv);

#endif
