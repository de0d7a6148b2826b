#include "config.h"

#include <string.h>

void nl_config_defaults(struct nl_config *c)
{
	memset(c, 0, sizeof(*c));
	c->listen_address = ":9808";
	c->telemetry_path = "/metrics";
	c->libvirt_uri = "qemu:///system";
	c->discovery = NL_DISCOVERY_AUTO;
	c->sample_interval = 2.0;
	c->numa_maps_interval = 30.0;
	c->path_procfs = "/proc";
	c->path_sysfs = "/sys";
	c->events = NULL;
	c->max_vms = 4096;
	nl_hint_config_defaults(&c->hints);
}
