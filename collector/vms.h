/* Reconciles the tracked VM set from this cycle's libvirt domain list and
 * /proc scan, according to --discovery. */
#ifndef NL_VMS_H
#define NL_VMS_H

#include "state.h"

/* Fills st->vms. */
extern const struct nl_source nl_source_vms;

/* Free one tracked VM (NULL is fine). */
void nl_vm_free(struct nl_vm *vm);
/* The tracked VM of QEMU process pid, or NULL. */
struct nl_vm *nl_state_find_vm(struct nl_state *st, pid_t pid);

#endif
