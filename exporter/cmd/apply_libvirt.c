/* The libvirt executors of `numalens apply`: vCPU, emulator and iothread
 * pinning and live numatune, each logged with the value before and after.
 * A dry run reads the current value and stops there. See apply_priv.h. */
#include "apply_priv.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* room for a CPU list of NL_MAX_CPUS CPUs at worst ("0,2,4,...") */
#define LIST_LEN (NL_MAX_CPUS * 5)

const char *nl_apply_lv_err(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

static void map_format(const unsigned char *map, int maplen, char *buf, size_t len)
{
	struct nl_cpuset s;

	nl_cpuset_zero(&s);
	for (int c = 0; c < maplen * 8 && c < NL_MAX_CPUS; c++)
		if (VIR_CPU_USABLE(map, maplen, 0, c))
			nl_cpuset_set(&s, c);
	nl_cpuset_format(&s, buf, len);
}

int nl_apply_cpumap(const struct nl_cpuset *s, unsigned char *map, int maplen, int ncpus)
{
	memset(map, 0, (size_t)maplen);
	for (int c = 0; c < NL_MAX_CPUS; c++) {
		if (!nl_cpuset_isset(s, c))
			continue;
		if (c >= ncpus || c >= maplen * 8)
			return -ERANGE;
		VIR_USE_CPU(map, c);
	}
	return nl_cpuset_count(s) ? 0 : -EINVAL;
}

/* ---- the pinning now ---- */

static int vcpu_pin_now(const struct nl_apply_ctx *c, virDomainPtr dom, int vcpu,
			char *buf, size_t len)
{
	int max = virDomainGetMaxVcpus(dom), rc = -EIO;
	unsigned char *maps;

	if (max <= 0 || vcpu < 0 || vcpu >= max)
		return -ENOENT;
	maps = calloc((size_t)max, (size_t)c->maplen);
	if (!maps)
		return -ENOMEM;
	if (virDomainGetVcpuPinInfo(dom, max, maps, c->maplen, VIR_DOMAIN_AFFECT_LIVE) >= 0) {
		map_format(maps + (size_t)vcpu * (size_t)c->maplen, c->maplen, buf, len);
		rc = 0;
	}
	free(maps);
	return rc;
}

static int emulator_pin_now(const struct nl_apply_ctx *c, virDomainPtr dom, int idx,
			    char *buf, size_t len)
{
	unsigned char *map = calloc(1, (size_t)c->maplen);
	int rc = -EIO;

	(void)idx;
	if (!map)
		return -ENOMEM;
	if (virDomainGetEmulatorPinInfo(dom, map, c->maplen, VIR_DOMAIN_AFFECT_LIVE) > 0) {
		map_format(map, c->maplen, buf, len);
		rc = 0;
	}
	free(map);
	return rc;
}

static int iothread_pin_now(const struct nl_apply_ctx *c, virDomainPtr dom, int id,
			    char *buf, size_t len)
{
	virDomainIOThreadInfoPtr *info = NULL;
	int n = virDomainGetIOThreadInfo(dom, &info, VIR_DOMAIN_AFFECT_LIVE), rc = -ENOENT;

	(void)c;
	if (n < 0)
		return -EIO;
	for (int i = 0; i < n; i++) {
		if ((int)info[i]->iothread_id == id) {
			map_format(info[i]->cpumap, info[i]->cpumaplen, buf, len);
			rc = 0;
		}
		virDomainIOThreadInfoFree(info[i]);
	}
	free(info);
	return rc;
}

/* ---- pinning ---- */

static int vcpu_pin(virDomainPtr dom, int vcpu, unsigned char *map, int maplen)
{
	return virDomainPinVcpuFlags(dom, (unsigned)vcpu, map, maplen, VIR_DOMAIN_AFFECT_LIVE);
}

static int emulator_pin(virDomainPtr dom, int idx, unsigned char *map, int maplen)
{
	(void)idx;
	return virDomainPinEmulator(dom, map, maplen, VIR_DOMAIN_AFFECT_LIVE);
}

static int iothread_pin(virDomainPtr dom, int id, unsigned char *map, int maplen)
{
	return virDomainPinIOThread(dom, (unsigned)id, map, maplen, VIR_DOMAIN_AFFECT_LIVE);
}

struct pin_kind {
	int (*now)(const struct nl_apply_ctx *c, virDomainPtr dom, int idx, char *buf, size_t len);
	int (*set)(virDomainPtr dom, int idx, unsigned char *map, int maplen);
};

static int run_pin(const struct nl_apply_ctx *c, const struct nl_apply_act *a,
		   const struct pin_kind *k)
{
	char before[LIST_LEN] = "?", after[LIST_LEN] = "?", label[64];
	unsigned char *map = NULL;
	int rc;

	if (!a->dom) {
		fprintf(c->out, "        not connected to libvirt: cannot %s\n",
			c->yes ? "apply" : "read the current pinning");
		return c->yes ? -ENOTCONN : 0;
	}
	if (a->index >= 0)
		snprintf(label, sizeof(label), "%s %d", a->op->name, a->index);
	else
		snprintf(label, sizeof(label), "%s", a->op->name);
	map = calloc(1, (size_t)c->maplen);
	if (!map)
		return -ENOMEM;
	rc = nl_apply_cpumap(&a->cpus, map, c->maplen, c->ncpus);
	if (rc) {
		fprintf(c->out, "        error: CPU list \"%s\" is not valid on this host (%d CPUs)%s\n",
			a->pb->cpus, c->ncpus, rc == -ERANGE ? ": is the hint from another host?" : "");
		goto cleanup;
	}
	rc = k->now(c, a->dom, a->index, before, sizeof(before));
	if (rc) {
		fprintf(c->out, "        error: cannot read the current pinning: %s\n",
			rc == -ENOENT ? "no such vCPU / iothread" : nl_apply_lv_err());
		goto cleanup;
	}
	if (!c->yes) {
		fprintf(c->out, "        now CPUs %s; dry run, not changed\n", before);
		goto cleanup;
	}
	if (k->set(a->dom, a->index, map, c->maplen) < 0) {
		fprintf(c->out, "        FAILED: %s\n", nl_apply_lv_err());
		rc = -EIO;
		goto cleanup;
	}
	k->now(c, a->dom, a->index, after, sizeof(after));
	fprintf(c->out, "        changed: %s: CPUs %s -> %s\n", label, before, after);
cleanup:
	free(map);
	return rc;
}

int nl_apply_run_pin_vcpu(const struct nl_apply_ctx *c, const struct nl_apply_act *a)
{
	static const struct pin_kind k = { vcpu_pin_now, vcpu_pin };

	return run_pin(c, a, &k);
}

int nl_apply_run_pin_emulator(const struct nl_apply_ctx *c, const struct nl_apply_act *a)
{
	static const struct pin_kind k = { emulator_pin_now, emulator_pin };

	return run_pin(c, a, &k);
}

int nl_apply_run_pin_iothread(const struct nl_apply_ctx *c, const struct nl_apply_act *a)
{
	static const struct pin_kind k = { iothread_pin_now, iothread_pin };

	return run_pin(c, a, &k);
}

/* ---- numatune ---- */

static int numa_now(virDomainPtr dom, char *buf, size_t len)
{
	virTypedParameterPtr params = NULL;
	int n = 0, rc = -EIO;

	if (virDomainGetNumaParameters(dom, NULL, &n, VIR_DOMAIN_AFFECT_LIVE) < 0 || n <= 0)
		return -EIO;
	params = calloc((size_t)n, sizeof(*params));
	if (!params)
		return -ENOMEM;
	if (virDomainGetNumaParameters(dom, params, &n, VIR_DOMAIN_AFFECT_LIVE) == 0) {
		const char *ns = "";
		int mode = -1;

		virTypedParamsGetString(params, n, VIR_DOMAIN_NUMA_NODESET, &ns);
		virTypedParamsGetInt(params, n, VIR_DOMAIN_NUMA_MODE, &mode);
		snprintf(buf, len, "nodeset \"%s\" mode %s", ns ? ns : "",
			 mode == VIR_DOMAIN_NUMATUNE_MEM_STRICT ? "strict" :
			 mode == VIR_DOMAIN_NUMATUNE_MEM_PREFERRED ? "preferred" :
			 mode == VIR_DOMAIN_NUMATUNE_MEM_INTERLEAVE ? "interleave" : "other");
		rc = 0;
	}
	virTypedParamsFree(params, n);
	return rc;
}

int nl_apply_run_numatune(const struct nl_apply_ctx *c, const struct nl_apply_act *a)
{
	char before[LIST_LEN] = "?", after[LIST_LEN] = "?";
	virTypedParameterPtr params = NULL;
	int np = 0, maxp = 0, rc = 0;

	if (!a->dom) {
		fprintf(c->out, "        not connected to libvirt\n");
		return c->yes ? -ENOTCONN : 0;
	}
	if (numa_now(a->dom, before, sizeof(before)))
		snprintf(before, sizeof(before), "unknown (%s)", nl_apply_lv_err());
	if (!c->yes) {
		fprintf(c->out, "        now %s; dry run, not changed (live numatune needs strict mode\n"
			"        and the cpuset cgroup controller; else the fallback runs)\n", before);
		return 0;
	}
	if (virTypedParamsAddString(&params, &np, &maxp, VIR_DOMAIN_NUMA_NODESET, a->pb->nodes) < 0 ||
	    virDomainSetNumaParameters(a->dom, params, np, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		fprintf(c->out, "        FAILED: %s\n", nl_apply_lv_err());
		rc = -EIO;
	} else {
		numa_now(a->dom, after, sizeof(after));
		fprintf(c->out, "        changed: numatune %s -> %s\n", before, after);
	}
	virTypedParamsFree(params, np);
	return rc;
}
