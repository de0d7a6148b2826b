/* `numalens apply`: the reference actuator. Fetches hints from a running
 * numalens over HTTP and applies them through libvirt (vCPU, emulator and
 * iothread pinning, live numatune) and, where libvirt cannot, through
 * sched_setaffinity(2), migrate_pages(2) and move_pages(2). Dry run unless
 * --yes; every change is logged with its before and after. docs/api.md. */
#ifndef NL_APPLY_H
#define NL_APPLY_H

int nl_cmd_apply(int argc, char **argv);

#endif
