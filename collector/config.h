/* Run-time configuration, filled from flags by exporter/main.c. */
#ifndef NL_CONFIG_H
#define NL_CONFIG_H

#include <stdbool.h>

#include "model.h"

enum nl_discovery { NL_DISCOVERY_AUTO, NL_DISCOVERY_LIBVIRT, NL_DISCOVERY_PROC };

/* Hint engine settings (--hints.*); defaults in nl_hint_config_defaults()
 * (hints.c), meaning in docs/api.md. */
struct nl_hint_config {
	int policy;                     /* --hints.policy, enum nl_policy */
	double enter_gain;              /* --hints.enter-gain, 0.2 */
	double exit_gain;               /* --hints.exit-gain, 0.05 */
	unsigned confirm_windows;       /* --hints.confirm-windows, 3 */
	double cooldown_seconds;        /* --hints.cooldown, 300 */
	double ttl_seconds;             /* --hints.ttl, 120 */
	double mpki_threshold;          /* --hints.mpki-threshold, 5 */
	double bandwidth_threshold;     /* --hints.bandwidth-threshold, B/s */
	double proxy_threshold;         /* --hints.proxy-threshold, 1 */
	double memory_reserve;          /* --hints.memory-reserve, bytes */
	double cpu_limit;               /* --hints.cpu-limit, 0.9 */
	double min_move;                /* --hints.min-move, bytes */
};

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
