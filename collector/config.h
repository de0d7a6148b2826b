/* Run-time configuration, filled from flags by exporter/main.c. */
#ifndef NL_CONFIG_H
#define NL_CONFIG_H

#include <stdbool.h>

#include "hints_config.h"
#include "model.h"

enum nl_discovery { NL_DISCOVERY_AUTO, NL_DISCOVERY_LIBVIRT, NL_DISCOVERY_PROC };

struct nl_config {
	const char *listen_address;     /* --web.listen-address, ":9808" */
	const char *telemetry_path;     /* --web.telemetry-path, "/metrics" */
	const char *libvirt_uri;        /* --libvirt.uri, "qemu:///system" */
	enum nl_discovery discovery;    /* --discovery auto|libvirt|proc */
	double sample_interval;         /* --sample.interval seconds, 2 */
	double numa_maps_interval;      /* --placement.numa-maps-interval, 30 */
	const char *path_procfs;        /* --path.procfs, "/proc" */
	const char *path_sysfs;         /* --path.sysfs, "/sys" */
	const char *events;             /* --perf.events: comma-separated
					   name=libpfm4 pairs; NULL = default */
	const char *perf_config;        /* --perf.config: user event file
					   (docs/events.md); NULL = none */
	bool collector_enabled[NL_MAX_SOURCES]; /* by registry index */
	bool collector_set[NL_MAX_SOURCES];     /* given on the command line */
	int max_vms;                    /* safety cap, 4096 */
	struct nl_hint_config hints;    /* --hints.* */
};

void nl_config_defaults(struct nl_config *c);

#endif
