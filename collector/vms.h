/* Reconciles the tracked VM set from this cycle's libvirt domain list and
 * /proc scan, according to --discovery. */
#ifndef NL_VMS_H
#define NL_VMS_H

#include "sampler.h"

int nl_vms_source_sample(struct nl_state *st, void *priv);
void nl_vms_source_free(struct nl_state *st, void *priv);

/* Free one tracked VM (NULL is fine). */
void nl_vm_free(struct nl_vm *vm);

#endif
