/* Thread tracking and role classification for every tracked VM:
 * vcpu ("CPU N/KVM", "CPU N/TCG", or a libvirt vcpuN cgroup), iothread
 * ("IO iothreadN" or an iothreadN cgroup), vhost ("vhost-PID" threads of
 * QEMU and vhost kernel workers), emulator (everything else in QEMU). */
#ifndef NL_THREADS_H
#define NL_THREADS_H

#include "state.h"

/* Fills the threads of every st->vms[i]. */
extern const struct nl_source nl_source_threads;

/* Classify by comm; returns the role and sets *index (-1 if none).
 * Returns NL_ROLE_EMULATOR when the name says nothing. */
enum nl_role nl_threads_classify_comm(const char *comm, int *index);
/* Classify by the thread's cgroup file contents (libvirt puts vCPUs in
 * .../vcpuN, iothreads in .../iothreadN). Returns NL_ROLE_COUNT when the
 * cgroup says nothing. */
enum nl_role nl_threads_classify_cgroup(const char *cgroup_file, int *index);

#endif
