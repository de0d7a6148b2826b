#include "config.h"

#include <errno.h>
#include <string.h>

void nl_config_defaults(struct nl_config *c)
{
	memset(c, 0, sizeof(*c));
	c->listen_addresses[0] = ":9808";
	c->nlisten = 1;
	c->telemetry_path = "/metrics";
	c->web_max_requests = 40;
	c->web_max_per_ip = 16;
	c->web_max_connections = 1024;
	c->web_request_timeout = 10;
	c->libvirt_uri = "qemu:///system";
	c->discovery = NL_DISCOVERY_AUTO;
	c->qemu_users = NL_DEFAULT_QEMU_USERS;
	c->sample_interval = 2.0;
	c->numa_maps_interval = 30.0;
	c->path_procfs = "/proc";
	c->path_sysfs = "/sys";
	c->events = NULL;
	c->max_vms = 4096;
	nl_hint_config_defaults(&c->hints);
}

int nl_config_set_collector(struct nl_config *c, const char *name, bool on)
{
	for (int i = 0; i < c->ncollectors; i++) {
		if (strcmp(c->collectors[i].name, name) == 0) {
			c->collectors[i].enabled = on;
			return 0;
		}
	}
	if (c->ncollectors >= NL_MAX_SOURCES)
		return -E2BIG;
	c->collectors[c->ncollectors].name = name;
	c->collectors[c->ncollectors].enabled = on;
	c->ncollectors++;
	return 0;
}

int nl_config_collector(const struct nl_config *c, const char *name)
{
	for (int i = 0; i < c->ncollectors; i++)
		if (strcmp(c->collectors[i].name, name) == 0)
			return c->collectors[i].enabled;
	return -1;
}
