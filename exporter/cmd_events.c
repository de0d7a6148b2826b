/* `numalens events`: see cmd_events.h. The resolution (catalog, encoding,
 * trial opens) happens in collector/perf_plan.c; this file parses flags and
 * formats the table. */
#include "cmd_events.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "log.h"
#include "paths.h"
#include "perf.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: numalens events [--pmu NAME] [--list] [--no-open]\n"
		"                       [--path.procfs PATH] [--path.sysfs PATH]\n"
		"                       [--perf.events NAME=EVENT,...] [--perf.config FILE]\n"
		"                       [--perf.host-mode]\n\n"
		"Print the per-thread perf events numalens counts on this host: the\n"
		"catalog for the CPU model in <procfs>/cpuinfo, or with --pmu NAME the\n"
		"catalog of another model (skx, icx, spr, zen2, zen3, zen4, generic, or\n"
		"a libpfm4 PMU name such as amd64_fam19h_zen4), with the perf_event_attr\n"
		"each event encodes to, its group, and whether it opens here.\n\n"
		"  --list       list the catalogs and exit\n"
		"  --no-open    do not try to open the events\n"
		"  --perf.host-mode  also cycles and instructions guest-only and host-only\n");
}

static const char *fixed_name(enum nl_fixed_slot f)
{
	switch (f) {
	case NL_FIXED_CYCLES: return "cycles";
	case NL_FIXED_INSTRUCTIONS: return "instr";
	case NL_FIXED_NONE: break;
	}
	return "-";
}

static const char *errno_name(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENODEV: return "ENODEV";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EBUSY: return "EBUSY";
	case EMFILE: return "EMFILE";
	default: return "error";
	}
}

static void list_catalogs(FILE *out)
{
	fprintf(out, "%-8s %-18s %-5s %s\n", "CATALOG", "LIBPFM4 PMU", "GP",
		"CPUS");
	for (size_t i = 0; i < nl_catalog_count(); i++) {
		const struct nl_catalog *c = nl_catalog_at(i);

		fprintf(out, "%-8s %-18s %-5d %s\n", c->name,
			c->pmu ? c->pmu : "perf", c->gp_counters, c->desc);
	}
}

static void print_report(FILE *out, const struct nl_perf_resolved *r,
			 bool tried)
{
	const struct nl_catalog *c = r->catalog;

	fprintf(out, "CPU:       %s\n", r->cpu_model[0] ? r->cpu_model :
		"unknown (no x86 family/model in cpuinfo)");
	fprintf(out, "catalog:   %s%s - %s\n", c->name,
		r->custom ? " (replaced by --perf.events)" :
		r->detected ? "" : " (chosen with --pmu)", c->desc);
	if (c->pmu)
		fprintf(out, "libpfm4:   PMU %s, %s\n", c->pmu, r->native ?
			"detected by libpfm4" :
			"not detected by libpfm4 on this CPU: encoded with "
			"LIBPFM_ENCODE_INACTIVE=1");
	else
		fprintf(out, "libpfm4:   perf:: generic events\n");
	fprintf(out, "kernel:    %s\n", r->pmu_detected[0] ?
		"core PMU present" :
		"no core PMU driver: hardware events cannot open here");
	fprintf(out, "counters:  %d general-purpose per thread (SMT %s)%s%s; "
		"NMI watchdog %s\n", r->budget.gp, r->budget.smt ? "on" : "off",
		r->budget.fixed_cycles ? ", fixed for cycles" : "",
		r->budget.fixed_instructions ? ", fixed for instructions" : "",
		r->budget.watchdog ? "on (holds a counter)" : "off");
	for (int g = 0; g < r->ngroups; g++) {
		bool first = true;

		fprintf(out, "group %d:   %s {", g,
			r->groups[g].hardware ? "hardware" : "software");
		for (int i = 0; i < r->nevents; i++) {
			if (!(r->groups[g].events & (1u << i)))
				continue;
			fprintf(out, "%s%s", first ? "" : ",", r->ev[i].name);
			first = false;
		}
		fprintf(out, "}\n");
	}
	fprintf(out, "\n%-18s %-5s %-6s %-4s %-12s %-18s %-14s %-18s %s\n",
		"NAME", "GROUP", "FIXED", "TYPE", "CONFIG", "CONFIG1",
		"EXCL u,k,h,g,H", "OPENS", "EVENT");
	for (int i = 0; i < r->nevents; i++) {
		const struct nl_perf_event_info *e = &r->ev[i];
		char group[16], opens[48], excl[16], cfg[24], cfg1[24];

		if (e->group >= 0)
			snprintf(group, sizeof(group), "%d", e->group);
		else
			snprintf(group, sizeof(group), "-");
		if (e->encode_err && e->encode_err != -E2BIG) {
			fprintf(out, "%-18s %-5s %-6s %-4s %-12s %-18s %-14s "
				"%-18s %s%s\n", e->name, "-", "-", "-", "-",
				"-", "-", "cannot encode", e->pfm,
				e->user ? "  (user)" : "");
			continue;
		}
		snprintf(cfg, sizeof(cfg), "0x%" PRIx64, e->config);
		snprintf(cfg1, sizeof(cfg1), "0x%" PRIx64, e->config1);
		snprintf(excl, sizeof(excl), "%d,%d,%d,%d,%d", e->exclude_user,
			 e->exclude_kernel, e->exclude_hv, e->exclude_guest,
			 e->exclude_host);
		if (e->encode_err == -E2BIG)
			snprintf(opens, sizeof(opens), "no group left");
		else if (!tried || e->open_err == 1)
			snprintf(opens, sizeof(opens), "not tried");
		else if (e->open_err == 0)
			snprintf(opens, sizeof(opens), "yes");
		else
			snprintf(opens, sizeof(opens), "no (%s)",
				 errno_name(-e->open_err));
		fprintf(out, "%-18s %-5s %-6s %-4u %-12s %-18s %-14s %-18s "
			"%s%s\n", e->name, group, fixed_name(e->fixed), e->type,
			cfg, cfg1, excl, opens, e->pfm,
			e->user ? "  (user)" : "");
	}
}

int nl_cmd_events_run(int argc, const char *const *argv, FILE *out,
		      FILE *err)
{
	struct nl_config cfg;
	struct nl_perf_resolved *r = NULL;
	const char *pmu = NULL;
	bool list = false, try_open = true;
	char msg[512];
	int rc = 0;

	nl_config_defaults(&cfg);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		static const char *const with_value[] = {
			"--pmu", "--path.procfs", "--path.sysfs",
			"--perf.events", "--perf.config",
		};
		size_t k, n;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(out);
			goto cleanup;
		}
		if (strcmp(a, "--list") == 0) {
			list = true;
			continue;
		}
		if (strcmp(a, "--no-open") == 0) {
			try_open = false;
			continue;
		}
		if (strcmp(a, "--perf.host-mode") == 0) {
			cfg.perf_host_mode = true;
			continue;
		}
		for (k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
			n = strlen(with_value[k]);
			if (strncmp(a, with_value[k], n) == 0 &&
			    (a[n] == '=' || a[n] == '\0'))
				break;
		}
		if (k == sizeof(with_value) / sizeof(with_value[0])) {
			fprintf(err, "numalens events: unknown argument \"%s\" "
				"(see --help)\n", a);
			rc = 2;
			goto cleanup;
		}
		n = strlen(with_value[k]);
		if (a[n] == '=') {
			val = a + n + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(err, "numalens events: %s needs a value\n", a);
			rc = 2;
			goto cleanup;
		}
		switch (k) {
		case 0: pmu = val; break;
		case 1: cfg.path_procfs = val; break;
		case 2: cfg.path_sysfs = val; break;
		case 3: cfg.events = val; break;
		case 4: cfg.perf_config = val; break;
		}
	}
	if (list) {
		list_catalogs(out);
		goto cleanup;
	}
	if (nl_paths_set(cfg.path_procfs, cfg.path_sysfs) < 0) {
		fprintf(err, "numalens events: invalid --path.procfs or "
			"--path.sysfs\n");
		rc = 2;
		goto cleanup;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		fprintf(err, "numalens events: out of memory\n");
		rc = 1;
		goto cleanup;
	}
	if (nl_perf_resolve(&cfg, pmu, try_open, r, msg, sizeof(msg)) < 0) {
		fprintf(err, "numalens events: %s\n", msg);
		if (pmu && !nl_catalog_find(pmu))
			list_catalogs(err);
		rc = pmu && !nl_catalog_find(pmu) ? 2 : 1;
		goto cleanup;
	}
	print_report(out, r, try_open);
cleanup:
	free(r);
	return rc;
}

int nl_cmd_events(int argc, char **argv)
{
	/* the table is the output; libpfm4 and source notes are noise */
	nl_log_set_level(NL_LOG_ERROR);
	return nl_cmd_events_run(argc, (const char *const *)argv, stdout,
				 stderr);
}
