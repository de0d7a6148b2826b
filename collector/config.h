/* Run-time configuration, filled from flags by exporter/main.c. */
#ifndef NL_CONFIG_H
#define NL_CONFIG_H

#include <stdbool.h>

#include "hints_config.h"
#include "types.h"

/* Users a QEMU may run as: root, libvirt's default QEMU user on Debian
 * (qemu.conf user=) and on Fedora/RHEL. */
#define NL_DEFAULT_QEMU_USERS "root,libvirt-qemu,qemu"

#define NL_MAX_LISTEN 8

enum nl_discovery { NL_DISCOVERY_AUTO, NL_DISCOVERY_LIBVIRT, NL_DISCOVERY_PROC };

/* --collector.NAME=true|false as given on the command line. */
struct nl_collector_flag {
	const char *name;               /* a registry row's name */
	bool enabled;
};

struct nl_config {
	/* --web.listen-address, repeatable: the first one given replaces
	 * the default ":9808" */
	const char *listen_addresses[NL_MAX_LISTEN];
	unsigned nlisten;
	bool listen_given;
	bool systemd_socket;            /* --web.systemd-socket */
	const char *web_config_file;    /* --web.config.file (exporter-toolkit
					   format), NULL: plain HTTP */
	const char *telemetry_path;     /* --web.telemetry-path, "/metrics" */
	unsigned web_max_requests;      /* --web.max-requests, 40 (0: no limit) */
	unsigned web_max_per_ip;        /* --web.max-connections-per-ip, 16 */
	unsigned web_max_connections;   /* --web.max-connections, 1024 */
	unsigned web_request_timeout;   /* --web.request-timeout seconds, 10 */
	const char *libvirt_uri;        /* --libvirt.uri, "qemu:///system" */
	const char *libvirt_run_dir;    /* --libvirt.run-dir: NAME.pid files;
					   NULL: the URI's own */
	enum nl_discovery discovery;    /* --discovery auto|libvirt|proc */
	const char *qemu_users;         /* --discovery.qemu-users */
	double sample_interval;         /* --sample.interval seconds, 2 */
	double numa_maps_interval;      /* --placement.numa-maps-interval, 30 */
	const char *path_procfs;        /* --path.procfs, "/proc" */
	const char *path_sysfs;         /* --path.sysfs, "/sys" */
	const char *events;             /* --perf.events: comma-separated
					   name=libpfm4 pairs; NULL = default */
	const char *perf_config;        /* --perf.config: user event file
					   (docs/events.md); NULL = none */
	bool perf_host_mode;            /* --perf.host-mode: cycles and
					   instructions guest-only and
					   host-only too (perf_plan.c) */
	/* collectors switched on or off by flag, by name, the last flag for
	 * a name winning; the others follow their registry row */
	struct nl_collector_flag collectors[NL_MAX_SOURCES];
	int ncollectors;
	int max_vms;                    /* safety cap, 4096 */
	struct nl_hint_config hints;    /* --hints.* */
};

void nl_config_defaults(struct nl_config *c);

/* Record --collector.NAME=on (name must outlive c). Return 0, or -E2BIG
 * when more than NL_MAX_SOURCES names were given. */
int nl_config_set_collector(struct nl_config *c, const char *name, bool on);
/* The flag given for `name`: 1 on, 0 off, -1 not given. */
int nl_config_collector(const struct nl_config *c, const char *name);

#endif
