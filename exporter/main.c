/* numalens entry point: subcommand dispatch, Prometheus-exporter style
 * flags, and the serve loop (sampler + HTTP until SIGINT/SIGTERM). */
#include <errno.h>
#include "version.h"
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "apply.h"
#include "cmd_events.h"
#include "config.h"
#include "evconf.h"
#include "hints.h"
#include "http.h"
#include "log.h"
#include "paths.h"
#include "perf.h"
#include "sampler.h"
#include "snapshot.h"
#include "webconfig.h"


/* parse_flags() results besides 0 */
#define PARSE_EXIT_OK 1   /* --help / --version printed */
#define PARSE_BAD 2       /* message printed; exit status 2 */

struct options {
	struct nl_config cfg;
	enum nl_log_level log_level;
};

enum flag_kind { F_STRING, F_DURATION, F_DISCOVERY, F_LOGLEVEL, F_DOUBLE, F_UINT,
		 F_BYTES, F_POLICY, F_BOOL, F_LISTEN };

struct flag {
	const char *name;     /* without the leading "--" */
	enum flag_kind kind;
	size_t off;           /* of the value in struct options */
	const char *metavar;
	const char *help;
};

#define CFG(field) offsetof(struct options, cfg.field)

static const struct flag flags[] = {
	{ "web.listen-address", F_LISTEN, CFG(listen_addresses), "ADDRESS",
	  "Address to listen on: \":PORT\" (all, IPv6 and IPv4), \"HOST:PORT\", \"[IPV6]:PORT\"; repeat for several." },
	{ "web.systemd-socket", F_BOOL, CFG(systemd_socket), "true|false",
	  "Also serve the sockets systemd passes (a numalens.socket unit; LISTEN_FDS)." },
	{ "web.config.file", F_STRING, CFG(web_config_file), "FILE",
	  "TLS, basic auth and headers, in the Prometheus exporter-toolkit web config format; re-read when it changes." },
	{ "web.telemetry-path", F_STRING, CFG(telemetry_path), "PATH",
	  "Path under which to expose metrics." },
	{ "web.max-requests", F_UINT, CFG(web_max_requests), "N",
	  "Requests answered at once; more get 503 (0: no limit)." },
	{ "web.max-connections-per-ip", F_UINT, CFG(web_max_per_ip), "N",
	  "Connections one client address may hold open." },
	{ "web.max-connections", F_UINT, CFG(web_max_connections), "N",
	  "Connections open in all." },
	{ "web.request-timeout", F_UINT, CFG(web_request_timeout), "SECONDS",
	  "A request's headers and body must be in within this many seconds (slow clients are closed)." },
	{ "libvirt.uri", F_STRING, CFG(libvirt_uri), "URI",
	  "libvirt connection URI." },
	{ "libvirt.run-dir", F_STRING, CFG(libvirt_run_dir), "DIR",
	  "Where libvirt keeps each running domain's NAME.pid (default: /run/libvirt/qemu for qemu:///system); the VM's QEMU is the PID in it." },
	{ "discovery", F_DISCOVERY, CFG(discovery), "auto|libvirt|proc",
	  "How to find VMs: libvirt, a /proc scan for QEMU processes, or libvirt with the scan as fallback." },
	{ "discovery.qemu-users", F_STRING, CFG(qemu_users), "USER,...",
	  "A /proc-found QEMU is a VM only if it runs as one of these users (names or uids) or holds /dev/kvm open." },
	{ "sample.interval", F_DURATION, CFG(sample_interval), "DURATION",
	  "Time between sample cycles (\"2\", \"2s\", \"500ms\", \"1m\"; at least 100ms)." },
	{ "placement.numa-maps-interval", F_DURATION, CFG(numa_maps_interval), "DURATION",
	  "Time between /proc/PID/numa_maps reads when no cgroup memory.numa_stat is available." },
	{ "path.procfs", F_STRING, CFG(path_procfs), "PATH",
	  "procfs mountpoint." },
	{ "path.sysfs", F_STRING, CFG(path_sysfs), "PATH",
	  "sysfs mountpoint." },
	{ "perf.events", F_STRING, CFG(events), "NAME=EVENT,...",
	  "Per-thread perf events as comma-separated name=libpfm4-event pairs; none = the built-in catalog." },
	{ "perf.config", F_STRING, CFG(perf_config), "FILE",
	  "User-defined per-thread ([thread]) and uncore ([uncore]) events, NAME = EVENT per line (docs/events.md)." },
	{ "perf.host-mode", F_BOOL, CFG(perf_host_mode), "true|false",
	  "Count vCPU threads' cycles and instructions also guest-only and host-only (4 more events: numalens_vm_vcpu_host_cycles_ratio; docs/metrics.md)." },
	{ "hints.policy", F_POLICY, CFG(hints.policy), "POLICY",
	  "Default hint policy (metrics, /api/v1/hints without ?policy=); the policies are listed below." },
	{ "hints.enter-gain", F_DOUBLE, CFG(hints.enter_gain), "GAIN",
	  "Expected gain (0..1) a recommendation needs to become a hint." },
	{ "hints.exit-gain", F_DOUBLE, CFG(hints.exit_gain), "GAIN",
	  "A published hint is withdrawn once its gain stays below this for --hints.confirm-windows windows." },
	{ "hints.confirm-windows", F_UINT, CFG(hints.confirm_windows), "N",
	  "Consecutive sample windows a recommendation must hold before it is published." },
	{ "hints.cooldown", F_DURATION, CFG(hints.cooldown_seconds), "DURATION",
	  "After a VM's hint is published or withdrawn, no hint with another target for this long." },
	{ "hints.ttl", F_DURATION, CFG(hints.ttl_seconds), "DURATION",
	  "A hint expires this long after the last window that confirmed it." },
	{ "hints.mpki-threshold", F_DOUBLE, CFG(hints.mpki_threshold), "MPKI",
	  "LLC misses per 1000 instructions from which a VM is memory-intensive (PMU)." },
	{ "hints.bandwidth-threshold", F_BYTES, CFG(hints.bandwidth_threshold), "BYTES",
	  "DRAM bandwidth per second from which a VM is memory-intensive, when no MPKI (PMU)." },
	{ "hints.proxy-threshold", F_DOUBLE, CFG(hints.proxy_threshold), "CORE_GIB",
	  "Without a PMU: busy vCPU cores x resident GiB from which a VM counts as memory-intensive." },
	{ "hints.memory-reserve", F_BYTES, CFG(hints.memory_reserve), "BYTES",
	  "Free memory no hint plans into on any node (\"512Mi\", \"1Gi\", bytes)." },
	{ "hints.cpu-limit", F_DOUBLE, CFG(hints.cpu_limit), "FRACTION",
	  "Share of a node's CPUs the VM threads planned onto it may use." },
	{ "hints.min-move", F_BYTES, CFG(hints.min_move), "BYTES",
	  "Memory moves smaller than this are not worth a hint." },
	{ "log.level", F_LOGLEVEL, offsetof(struct options, log_level), "LEVEL",
	  "Only log messages with the given severity or above: error, warn, info, debug." },
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

static const char *const discovery_names[] = { "auto", "libvirt", "proc" };
static const char *const level_names[] = { "error", "warn", "info", "debug" };

struct unit {
	const char *suffix;
	double mult;
};

/* A non-negative number followed by one of units[] (exact suffix match).
 * Return 0 or -EINVAL. */
static int parse_scaled(const char *s, const struct unit *units, size_t n,
			double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

/* Seconds from "2", "2s", "1.5s", "500ms", "1m", "1h". Return 0 or -EINVAL. */
static int parse_duration(const char *s, double *out)
{
	static const struct unit units[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 1e-3 }, { "m", 60 }, { "h", 3600 },
	};

	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), out);
}

static void format_default(const struct options *o, const struct flag *f,
			   char *buf, size_t len)
{
	const void *p = (const char *)o + f->off;

	switch (f->kind) {
	case F_LISTEN:
		snprintf(buf, len, "\"%s\"", o->cfg.listen_addresses[0]);
		break;
	case F_STRING: {
		const char *v = *(const char *const *)p;

		if (v)
			snprintf(buf, len, "\"%s\"", v);
		else
			snprintf(buf, len, "none");
		break;
	}
	case F_DURATION:
		snprintf(buf, len, "%gs", *(const double *)p);
		break;
	case F_DISCOVERY:
		snprintf(buf, len, "%s", discovery_names[*(const enum nl_discovery *)p]);
		break;
	case F_LOGLEVEL:
		snprintf(buf, len, "%s", level_names[*(const enum nl_log_level *)p]);
		break;
	case F_DOUBLE:
		snprintf(buf, len, "%g", *(const double *)p);
		break;
	case F_UINT:
		snprintf(buf, len, "%u", *(const unsigned *)p);
		break;
	case F_BYTES:
		snprintf(buf, len, "%.0f", *(const double *)p);
		break;
	case F_POLICY:
		snprintf(buf, len, "%s", nl_policy_name(*(const enum nl_policy *)p));
		break;
	case F_BOOL:
		snprintf(buf, len, "%s", *(const bool *)p ? "true" : "false");
		break;
	}
}

/* Bytes from "1024", "512Mi", "1Gi", "1.5G", "200M", "64k". Return 0 or
 * -EINVAL. */
static int parse_bytes(const char *s, double *out)
{
	static const struct unit units[] = {
		{ "", 1 }, { "k", 1e3 }, { "K", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "T", 1e12 },
		{ "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 },
		{ "Ti", 1099511627776.0 },
	};

	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), out);
}

static void usage(FILE *f, const struct options *defaults)
{
	char def[128];

	fprintf(f, "usage: numalens [serve] [flags]\n\n"
		   "NUMA locality exporter for KVM hosts (Prometheus metrics).\n\n"
		   "Commands:\n"
		   "  serve   run the exporter (the default)\n"
		   "  events  print the perf events for this host (numalens events --help)\n"
		   "  apply   apply a hint of a running numalens through libvirt (numalens apply --help)\n"
		   "  place   rank hosts for live-migrating a VM (numalens place --help)\n\n"
		   "Flags (--flag=value or --flag value):\n"
		   "  -h, --help      show this help and exit\n"
		   "      --version   show the version and exit\n");
	for (size_t i = 0; i < NFLAGS; i++) {
		format_default(defaults, &flags[i], def, sizeof(def));
		fprintf(f, "      --%s=%s\n          %s (default: %s)\n",
			flags[i].name, flags[i].metavar, flags[i].help, def);
	}
	fprintf(f, "\nHint policies (--hints.policy, ?policy=): %s\n", nl_policy_names());
	fprintf(f, "\nCollectors (--collector.NAME / --no-collector.NAME):\n");
	for (int i = 0; i < nl_source_count(); i++)
		fprintf(f, "      --collector.%-14s %s\n", nl_source_name(i),
			nl_source_required(i) ? "required, always on" :
			nl_source_default_enabled(i) ? "enabled by default" :
			"disabled by default");
}

static int set_flag(struct options *o, const struct flag *f, const char *v)
{
	void *p = (char *)o + f->off;

	switch (f->kind) {
	case F_STRING:
		*(const char **)p = v;
		return 0;
	case F_LISTEN:
		(void)p;
		if (!o->cfg.listen_given) {
			o->cfg.listen_given = true;
			o->cfg.nlisten = 0;
		}
		if (o->cfg.nlisten == NL_MAX_LISTEN)
			return -E2BIG;
		o->cfg.listen_addresses[o->cfg.nlisten++] = v;
		return 0;
	case F_DURATION:
		return parse_duration(v, (double *)p);
	case F_DISCOVERY:
		for (size_t i = 0; i < sizeof(discovery_names) / sizeof(discovery_names[0]); i++) {
			if (strcmp(v, discovery_names[i]) == 0) {
				*(enum nl_discovery *)p = (enum nl_discovery)i;
				return 0;
			}
		}
		return -EINVAL;
	case F_LOGLEVEL:
		return nl_log_parse_level(v, (enum nl_log_level *)p) ? -EINVAL : 0;
	case F_DOUBLE: {
		char *end;
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (end == v || *end || errno || !isfinite(d))
			return -EINVAL;
		*(double *)p = d;
		return 0;
	}
	case F_UINT: {
		char *end;
		unsigned long u;

		errno = 0;
		u = strtoul(v, &end, 10);
		if (end == v || *end || errno || u > 1000000 || v[0] == '-')
			return -EINVAL;
		*(unsigned *)p = (unsigned)u;
		return 0;
	}
	case F_BYTES:
		return parse_bytes(v, (double *)p);
	case F_POLICY: {
		enum nl_policy pol;

		if (nl_policy_parse(v, &pol))
			return -EINVAL;
		*(enum nl_policy *)p = pol;
		return 0;
	}
	case F_BOOL:
		if (strcmp(v, "true") && strcmp(v, "false"))
			return -EINVAL;
		*(bool *)p = strcmp(v, "true") == 0;
		return 0;
	}
	return -EINVAL;
}

/* --collector.NAME[=true|false] / --no-collector.NAME. Returns 0, -ENOENT
 * when `arg` is not a collector flag, or PARSE_BAD. */
static int collector_flag(struct options *o, const char *arg)
{
	bool on = true;
	const char *name, *eq;
	char buf[64];
	int idx;

	if (strncmp(arg, "collector.", 10) == 0) {
		name = arg + 10;
	} else if (strncmp(arg, "no-collector.", 13) == 0) {
		name = arg + 13;
		on = false;
	} else {
		return -ENOENT;
	}
	eq = strchr(name, '=');
	if (eq) {
		if (!on || (strcmp(eq + 1, "true") && strcmp(eq + 1, "false"))) {
			fprintf(stderr, "numalens: --%s: want --collector.NAME[=true|false] or --no-collector.NAME\n", arg);
			return PARSE_BAD;
		}
		on = strcmp(eq + 1, "true") == 0;
	}
	snprintf(buf, sizeof(buf), "%.*s", (int)(eq ? (size_t)(eq - name) : strlen(name)), name);
	idx = nl_source_index(buf);
	if (idx < 0) {
		fprintf(stderr, "numalens: unknown collector \"%s\" (see --help)\n", buf);
		return PARSE_BAD;
	}
	if (!on && nl_source_required(idx)) {
		fprintf(stderr, "numalens: collector \"%s\" is required and cannot be disabled\n", buf);
		return PARSE_BAD;
	}
	/* the registry's name outlives the configuration; there are at
	 * most NL_MAX_SOURCES rows, so this cannot run out of room */
	if (nl_config_set_collector(&o->cfg, nl_source_name(idx), on) < 0)
		return PARSE_BAD;
	return 0;
}

static int check_options(const struct options *o)
{
	if (o->cfg.telemetry_path[0] != '/') {
		fprintf(stderr, "numalens: --web.telemetry-path must start with '/'\n");
		return PARSE_BAD;
	}
	if (o->cfg.sample_interval < 0.1) {
		fprintf(stderr, "numalens: --sample.interval must be at least 100ms\n");
		return PARSE_BAD;
	}
	if (o->cfg.numa_maps_interval <= 0) {
		fprintf(stderr, "numalens: --placement.numa-maps-interval must be positive\n");
		return PARSE_BAD;
	}
	{
		const char *bad = nl_hint_config_check(&o->cfg.hints);

		if (bad) {
			fprintf(stderr, "numalens: %s\n", bad);
			return PARSE_BAD;
		}
	}
	if (o->cfg.perf_config) {
		struct nl_evconf c;
		char err[512];

		if (nl_evconf_load(o->cfg.perf_config, &c, err, sizeof(err)) < 0) {
			fprintf(stderr, "numalens: --perf.config: %s\n", err);
			return PARSE_BAD;
		}
		nl_evconf_free(&c);
	}
	return 0;
}

static void options_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	nl_config_defaults(&o->cfg);
	o->log_level = NL_LOG_INFO;
}

/* Parse argv[1..argc-1]. Return 0, PARSE_EXIT_OK or PARSE_BAD. */
static int parse_flags(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val;
		const struct flag *f = NULL;
		size_t n;
		int ret;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			struct options d;

			options_defaults(&d);
			usage(stdout, &d);
			return PARSE_EXIT_OK;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("numalens version %s\n", nl_version);
			return PARSE_EXIT_OK;
		}
		if (strncmp(arg, "--", 2) != 0) {
			fprintf(stderr, "numalens: unexpected argument \"%s\" (see --help)\n", arg);
			return PARSE_BAD;
		}
		arg += 2;
		ret = collector_flag(o, arg);
		if (ret != -ENOENT) {
			if (ret)
				return ret;
			continue;
		}
		val = strchr(arg, '=');
		n = val ? (size_t)(val - arg) : strlen(arg);
		for (size_t k = 0; k < NFLAGS; k++)
			if (strlen(flags[k].name) == n && strncmp(arg, flags[k].name, n) == 0)
				f = &flags[k];
		if (!f) {
			fprintf(stderr, "numalens: unknown flag --%.*s (see --help)\n", (int)n, arg);
			return PARSE_BAD;
		}
		if (val) {
			val++;
		} else if (f->kind == F_BOOL) {
			val = "true";     /* a bare switch */
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "numalens: --%s needs a value\n", f->name);
			return PARSE_BAD;
		}
		if (set_flag(o, f, val)) {
			fprintf(stderr, "numalens: --%s: invalid value \"%s\" (want %s)\n",
				f->name, val, f->metavar);
			return PARSE_BAD;
		}
	}
	return check_options(o);
}

static struct nl_snapshot *sampler_get(void *arg)
{
	return nl_sampler_get(arg);
}

static void sampler_put(void *arg, struct nl_snapshot *snap)
{
	(void)arg;
	nl_snapshot_put(snap);
}

/* After POST or DELETE /api/v1/arrivals: the engine's room-making hints
 * are in the next snapshot, so make that one now. */
static void sampler_wake(void *arg)
{
	nl_sampler_wake(arg);
}

/* Is the sampler alive: a snapshot younger than /healthz allows? */
static bool sampler_alive(struct nl_sampler *sampler, double interval)
{
	struct nl_snapshot *snap = nl_sampler_get(sampler);
	struct timespec ts;
	double age;

	if (!snap)
		return true;   /* the first cycle may take a while: not stuck */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	age = ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec - (double)snap->mono_ns) / 1e9;
	nl_snapshot_put(snap);
	return age <= 3 * interval + 10;
}

/* Wait for SIGINT or SIGTERM and return it. Under systemd with
 * WatchdogSec=, ping the watchdog every half period while the sampler
 * publishes snapshots: a stuck sampler gets the daemon restarted. */
static int wait_for_stop(const sigset_t *sigs, struct nl_sampler *sampler, double interval)
{
	uint64_t usec = 0;
	bool watchdog = sd_watchdog_enabled(0, &usec) > 0 && usec > 0;
	bool warned = false;

	if (watchdog)
		nl_info("systemd watchdog: every %.1f s while the sampler runs",
			(double)usec / 2e6);
	for (;;) {
		struct timespec t = { (time_t)(usec / 2000000), (long)(usec / 2 % 1000000) * 1000 };
		int sig = watchdog ? sigtimedwait(sigs, NULL, &t) : 0;

		if (!watchdog && sigwait(sigs, &sig) == 0)
			return sig;
		if (sig > 0)
			return sig;
		if (sampler_alive(sampler, interval)) {
			sd_notify(0, "WATCHDOG=1");
			warned = false;
		} else if (!warned) {
			nl_err("the sampler published no snapshot for more than %.0f s: not pinging the systemd watchdog",
			       3 * interval + 10);
			warned = true;
		}
	}
}

/* numalens hash-password [--cost=N]: a bcrypt hash of the first line of
 * stdin, for basic_auth_users in --web.config.file. */
static int cmd_hash_password(int argc, char **argv)
{
	char line[256], hash[128];
	int cost = 10;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--cost=", 7) && atoi(argv[i] + 7) >= 4 &&
		    atoi(argv[i] + 7) <= 31) {
			cost = atoi(argv[i] + 7);
		} else {
			fprintf(stderr, "usage: numalens hash-password [--cost=4..31] < password\n"
				"Prints a bcrypt hash of the first line of stdin for basic_auth_users (--web.config.file).\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (fgets(line, sizeof(line), stdin))
		line[strcspn(line, "\r\n")] = '\0';
	else
		line[0] = '\0';
	if (!line[0]) {
		fprintf(stderr, "numalens hash-password: no password on stdin\n");
		return 1;
	}
	if (nl_webcfg_bcrypt_hash(line, cost, hash, sizeof(hash)) < 0) {
		fprintf(stderr, "numalens hash-password: libcrypt made no bcrypt hash\n");
		return 1;
	}
	explicit_bzero(line, sizeof(line));
	printf("%s\n", hash);
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct options o;
	struct nl_sampler *sampler = NULL;
	struct nl_http *http = NULL;
	sigset_t sigs;
	int ret, sig, rc = 1;

	options_defaults(&o);
	ret = parse_flags(argc, argv, &o);
	if (ret)
		return ret == PARSE_EXIT_OK ? 0 : 2;
	nl_log_set_level(o.log_level);
	/* Block the stop signals before any thread starts, so every thread
	 * inherits the mask and only sigwait() below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	nl_info("numalens %s starting", nl_version);
	/* libpfm4 reads its environment once; set it up (catalog detection,
	 * LIBPFM_ENCODE_INACTIVE) before any other thread exists */
	if (nl_paths_set(o.cfg.path_procfs, o.cfg.path_sysfs) == 0)
		nl_perf_prepare();
	sampler = nl_sampler_new(&o.cfg);
	if (!sampler) {
		nl_err("cannot create the sampler");
		goto cleanup;
	}
	http = nl_http_start_opts(
		&(struct nl_http_opts){
			.listen = o.cfg.listen_addresses,
			/* with the systemd socket, the default address is not
			 * opened too: only those given */
			.nlisten = o.cfg.systemd_socket && !o.cfg.listen_given ? 0 : o.cfg.nlisten,
			.systemd_socket = o.cfg.systemd_socket,
			.telemetry_path = o.cfg.telemetry_path,
			.web_config_file = o.cfg.web_config_file,
			.limits = &(struct nl_http_limits){
				.request_seconds = o.cfg.web_request_timeout,
				.per_ip = o.cfg.web_max_per_ip,
				.total = o.cfg.web_max_connections,
				.max_requests = o.cfg.web_max_requests,
				.max_requests_set = true } },
		&(struct nl_http_source){ .get = sampler_get, .put = sampler_put,
					  .arg = sampler,
					  .interval = o.cfg.sample_interval,
					  .arrivals = nl_sampler_arrivals(sampler),
					  .wake = sampler_wake });
	if (!http)
		goto cleanup;
	ret = nl_sampler_start(sampler);
	if (ret) {
		nl_err("cannot start the sampler thread: %s", strerror(-ret));
		goto cleanup;
	}
	sd_notify(0, "READY=1\nSTATUS=serving");
	sig = wait_for_stop(&sigs, sampler, o.cfg.sample_interval);
	nl_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	sd_notify(0, "STOPPING=1");
	rc = 0;

cleanup:
	/* HTTP first: it waits for running requests, which hold snapshots;
	 * nl_sampler_free() stops the sampler thread */
	nl_http_stop(http);
	nl_sampler_free(sampler);
	return rc;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "serve", cmd_serve },
	{ "events", nl_cmd_events },
	{ "apply", nl_cmd_apply },
	{ "place", nl_cmd_place },
	{ "hash-password", cmd_hash_password },
};

int main(int argc, char **argv)
{
	/* "numalens [command] [flags]": no command means serve */
	if (argc > 1 && argv[1][0] != '-') {
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (strcmp(argv[1], commands[i].name) == 0)
				return commands[i].run(argc - 1, argv + 1);
		fprintf(stderr, "numalens: unknown command \"%s\" (see --help)\n", argv[1]);
		return 2;
	}
	return cmd_serve(argc, argv);
}
