/* libvirt discovery: the running domains (name, UUID) of --libvirt.uri,
 * matched to the QEMU processes of the /proc scan. Listens for lifecycle
 * events so a started or stopped VM triggers an immediate extra cycle, and
 * reconnects with backoff when libvirtd goes away. The events that say a VM
 * arrived (incoming migration, restore, snapshot) set its nl_vm.arrival. */
#ifndef NL_LIBVIRT_H
#define NL_LIBVIRT_H

#include "state.h"

/* Not wanted with --discovery=proc. init sets up the libvirt event loop;
 * it does not connect (the first sample does, so a host without libvirtd
 * is a normal state, not an init failure). sample fills st->domains /
 * st->ndomains, st->domains_valid and st->libvirt_up, and returns 0, or
 * -ECONNREFUSED while libvirtd cannot be reached (including while waiting
 * out the reconnect backoff), -ECONNRESET when an open connection failed,
 * -ENOMEM. With the list, it gives the arrivals the lifecycle callback
 * queued to the VMs already tracked; publish puts those of VMs tracked
 * only this cycle into the snapshot (they reach the VM next cycle). An
 * arrival whose VM is not tracked within 60 s is dropped. */
extern const struct nl_source nl_source_libvirt;

/* Set st->domains[i].pid to a (trusted) QEMU process of st->qprocs[]: the
 * one in libvirt's pid file RUN_DIR/NAME.pid when it can be read; else by
 * -uuid first, then by -name, and only a process in a libvirt machine
 * cgroup. 0 when none is. run_dir may be NULL or "". */
void nl_libvirt_resolve_pids(struct nl_state *st, const char *run_dir);
/* Read RUN_DIR/NAME.pid. Return 0, or -errno (-EINVAL: not a PID). */
int nl_libvirt_read_pidfile(const char *run_dir, const char *name, pid_t *pid);
/* Is PID in a libvirt machine cgroup (systemd's machine.slice scope or
 * cgroupfs' /machine/...libvirt-qemu)? */
bool nl_libvirt_in_machine_scope(pid_t pid);

#endif
