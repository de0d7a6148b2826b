/* /proc scan: QEMU processes (name from -name guest=NAME, -uuid) and vhost
 * workers that are processes of their own. Rebuilt every cycle. It also
 * watches QEMUs started with -incoming (the destination of a migration, a
 * restore) and marks the VM arrived (NL_ARRIVAL_INCOMING) in the cycle it
 * sees their vCPUs begin to run. */
#ifndef NL_PROCSCAN_H
#define NL_PROCSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "state.h"

/* Fills st->qprocs and st->kworkers; sets arrival / arrived_ns of tracked
 * VMs (st->vms) whose -incoming QEMU began running. publish puts the
 * arrival of a VM tracked only this cycle into the snapshot. */
extern const struct nl_source nl_source_procscan;

/* Parse a NUL-separated QEMU command line of len bytes into name / uuid
 * ("" when absent). */
void nl_procscan_parse_cmdline(const char *cmdline, size_t len,
			       char *name, size_t name_len,
			       char *uuid, size_t uuid_len);
/* True when the command line has -incoming with a value (tcp:..., defer,
 * exec:..., fd:...): a QEMU that waits for a VM's state to come in. */
bool nl_procscan_cmdline_incoming(const char *cmdline, size_t len);
/* ---- trust: what an unprivileged user cannot fake ---- */

/* Parse --discovery.qemu-users ("root,libvirt-qemu,qemu", names or numeric
 * uids) into at most max uids. A name that is no user here is left out
 * (RHEL's "qemu" on Debian). Return the number of uids, or -EINVAL for an
 * empty element or a list longer than max. */
int nl_procscan_parse_users(const char *list, uid_t *uids, int max);
/* The real uid of PID: the Uid line of /proc/PID/status, else the owner of
 * /proc/PID. Return 0 or -errno. */
int nl_proc_uid(pid_t pid, uid_t *uid);
/* Does PID hold /dev/kvm open (one of /proc/PID/fd links to it)? Only
 * root, or the process's own user, can read another process's fd links. */
bool nl_proc_holds_kvm(pid_t pid);

/* True for the comm of a QEMU main thread. */
bool nl_procscan_is_qemu_comm(const char *comm);
/* Field 22 (starttime) and field 39 (processor) of a stat line; parsed after
 * the last ')'. Return 0 or -EINVAL. Either out pointer may be NULL. */
int nl_procscan_parse_stat(const char *stat, uint64_t *starttime, int *cpu);
/* Field `field` (numbered as in proc(5), at least 3) of a stat line, as an
 * unsigned number. Return 0, or -EINVAL when the line has no such field. */
int nl_procscan_stat_field(const char *stat, int field, uint64_t *out);

/* ---- -incoming QEMUs ---- */

/* On-CPU time a vCPU thread spends being set up before QEMU waits for the
 * incoming state (about 1 ms under KVM): more than this, it has run. */
#define NL_INCOMING_SETUP_NS 50000000ULL

/* What the scan knows of an -incoming QEMU. A vCPU thread waiting for the
 * incoming state blocks in QEMU (a futex), has never entered KVM_RUN nor
 * the guest (guest time 0), and its on-CPU time is the setup's and stays
 * put from scan to scan. */
enum nl_incoming {
	NL_INCOMING_UNSEEN,    /* not observed yet */
	NL_INCOMING_WATCH,     /* not started; not seen idle a whole scan */
	NL_INCOMING_WAITING,   /* seen waiting: vCPUs idle between two scans */
	NL_INCOMING_ARRIVED,   /* began running while watched: an arrival */
	NL_INCOMING_RAN,       /* had run the guest already at numalens' first
				  scan: it arrived before numalens looked */
};

/* True for a /proc/PID/task/TID/syscall line of a thread in the KVM_RUN
 * ioctl: "16 0xFD 0xae80 ..." (x86-64 ioctl, the vCPU fd, KVM_RUN); a
 * thread on a CPU reads "running". */
bool nl_procscan_syscall_is_kvm_run(const char *syscall);

/* One scan's look at the vCPU threads of a QEMU. */
struct nl_incoming_obs {
	int nvcpus;               /* vCPU threads found */
	int in_kvm_run;           /* of them, in the KVM_RUN ioctl (from
				     /proc/PID/task/TID/syscall: root only) */
	uint64_t run_ns;          /* their summed on-CPU time */
	uint64_t guest_ticks;     /* their summed guest time (stat field 43;
				     0 where the kernel does not account it,
				     as under nested KVM) */
};

/* The state after observation cur (prev: the previous one, ignored for
 * UNSEEN). fresh: the process was not there at the previous scan (and
 * there was one), so whatever it has done, it did since. A vCPU in
 * KVM_RUN, guest time, or more on-CPU time than setup takes, say it has
 * started; so does on-CPU time growing after a scan in which it stood
 * still. ARRIVED and RAN are final. */
enum nl_incoming nl_procscan_incoming_next(enum nl_incoming s, bool fresh,
					   const struct nl_incoming_obs *prev,
					   const struct nl_incoming_obs *cur);

#endif
