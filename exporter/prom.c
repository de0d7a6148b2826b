/* Prometheus text format 0.0.4. Every family is written in one block (HELP,
 * TYPE, samples) in a fixed order; VMs are sorted by name and series by
 * role and index here, whatever order the snapshot holds them in, so two
 * scrapes of one snapshot are byte-identical. Families without samples are
 * left out entirely. */
#include "prom.h"
#include "version.h"
#include "hints.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct family {
	const char *name;
	const char *type;
	const char *help;
};

#define FAMILY(var, n, t, h) \
	static const struct family var = { "numalens_" n, t, h }

FAMILY(f_build_info, "build_info", "gauge",
       "Always 1; the numalens version in a label.");
FAMILY(f_node_info, "node_info", "gauge",
       "Always 1 for each NUMA node; its online CPUs in a label.");
FAMILY(f_node_distance, "node_distance", "gauge",
       "ACPI SLIT distance from node to peer (10 = local).");
FAMILY(f_node_mem_total, "node_memory_total_bytes", "gauge",
       "Memory on the NUMA node, in bytes.");
FAMILY(f_node_mem_free, "node_memory_free_bytes", "gauge",
       "Free memory on the NUMA node, in bytes.");
FAMILY(f_node_numastat, "node_numastat_pages_total", "counter",
       "Kernel per-node allocation counters (numastat), in pages.");
FAMILY(f_vm_info, "vm_info", "gauge",
       "Always 1 for each tracked VM; identity in labels.");
FAMILY(f_vm_pid, "vm_pid", "gauge",
       "Process id of the VM's QEMU process.");
FAMILY(f_vm_mem, "vm_memory_bytes", "gauge",
       "Resident memory of the VM on each NUMA node, in bytes: guest RAM (kind=guest) and the VMM's own memory (kind=vmm), or kind=all when the split is not known.");
FAMILY(f_vm_mem_source, "vm_memory_source_info", "gauge",
       "Always 1; where the VM's per-node memory figure comes from.");
FAMILY(f_vm_numa_maps_capped, "vm_numa_maps_capped", "gauge",
       "1 when the VM's /proc/PID/numa_maps was longer than numalens reads (64 MiB): its memory figures are of the part read. Absent otherwise.");
FAMILY(f_vm_device, "vm_device_info", "gauge",
       "Always 1 for each passthrough (VFIO) PCI device of the VM; its NUMA node in a label (\"unknown\" when the firmware gives none).");
FAMILY(f_vm_arrival, "vm_arrival_info", "gauge",
       "Always 1 for a VM that arrived here rather than booted: by live migration, restore, snapshot, or a QEMU started with -incoming; how in a label.");
FAMILY(f_vm_arrival_age, "vm_arrival_age_seconds", "gauge",
       "Seconds since the VM's arrival was seen.");
FAMILY(f_vm_threads, "vm_threads", "gauge",
       "Number of tracked threads of the VM per role.");
FAMILY(f_thread_cpu, "thread_cpu_seconds_total", "counter",
       "On-CPU time per vCPU / iothread, or summed per role for emulator and vhost threads, in seconds.");
FAMILY(f_vm_node_cpu, "vm_node_cpu_seconds_total", "counter",
       "On-CPU time of the VM's threads of a role on the CPUs of each NUMA node, in seconds.");
FAMILY(f_thread_events, "thread_events_total", "counter",
       "Per-thread perf event counts, scaled for multiplexing.");
FAMILY(f_thread_scaling, "thread_perf_scaling_ratio", "gauge",
       "Share of the last window the hardware counter group was scheduled on the PMU (1 = no multiplexing).");
FAMILY(f_thread_group_scaling, "thread_perf_group_scaling_ratio", "gauge",
       "Share of the last window each hardware counter group was scheduled on the PMU (0 = never, while the thread ran).");
FAMILY(f_vm_affinity, "vm_role_affinity_info", "gauge",
       "Always 1; union of the CPUs and NUMA nodes the VM's threads of a role may run on and allocate from.");
FAMILY(f_vm_locality, "vm_locality_ratio", "gauge",
       "Share of the role's memory accesses estimated to be node-local (0..1; 1 = all local).");
FAMILY(f_vm_cell_locality, "vm_cell_locality_ratio", "gauge",
       "Share of a guest NUMA cell's memory accesses estimated to be node-local: the cell's vCPUs against the cell's own memory (0..1).");
FAMILY(f_vm_cell_mem, "vm_cell_memory_bytes", "gauge",
       "Resident memory of a guest NUMA cell on each host NUMA node, in bytes (from the memory backend mapping of the cell).");
FAMILY(f_vm_cells_invalid, "vm_cells_invalid", "gauge",
       "1 when the VM's guest NUMA cells are configured but do not add up (the VM is then scored as a whole); the log says why.");
FAMILY(f_vm_distance, "vm_access_distance", "gauge",
       "SLIT distance of the role's memory accesses, weighted by CPU time and memory placement (10 = all local).");
FAMILY(f_vm_mpki, "vm_llc_misses_per_kilo_instruction", "gauge",
       "Last-level cache misses per 1000 instructions of the role over the last window (PMU).");
FAMILY(f_vm_cpi, "vm_cycles_per_instruction", "gauge",
       "Core cycles per instruction of the role over the last window (PMU).");
FAMILY(f_vm_host_cycles, "vm_vcpu_host_cycles_ratio", "gauge",
       "Share of the VM's vCPU threads' cycles spent in host mode (VM exits, in-kernel emulation) over the last window (PMU, --perf.host-mode).");
FAMILY(f_event_supported, "event_supported", "gauge",
       "1 when the perf event counts on this host, 0 when it cannot be opened.");
FAMILY(f_pmu_info, "pmu_info", "gauge",
       "Always 1; the hardware PMU libpfm4 detected and the CPU model.");
FAMILY(f_perf_catalog, "perf_catalog_info", "gauge",
       "Always 1; the per-thread event catalog in use (custom: --perf.events).");
FAMILY(f_perf_group, "perf_group_info", "gauge",
       "Always 1 for each perf group every thread opens; its events in a label.");
FAMILY(f_coll_success, "collector_success", "gauge",
       "1 when the collector's last run succeeded, else 0.");
FAMILY(f_coll_duration, "collector_duration_seconds", "gauge",
       "Duration of the collector's last run, in seconds.");
FAMILY(f_sample_duration, "sample_duration_seconds", "gauge",
       "Duration of the last sample cycle, in seconds.");
FAMILY(f_sample_cpu, "sample_cpu_seconds_total", "counter",
       "CPU time spent by the sampler thread, in seconds.");
FAMILY(f_snapshot_age, "snapshot_age_seconds", "gauge",
       "Age of the served snapshot at scrape time, in seconds.");
FAMILY(f_libvirt_up, "libvirt_up", "gauge",
       "1 when the libvirt connection works, else 0.");
FAMILY(f_threads_tracked, "threads_tracked", "gauge",
       "Number of VM threads tracked.");
FAMILY(f_perf_fds, "perf_fds", "gauge",
       "Number of open perf event file descriptors.");
FAMILY(f_samples_total, "samples_total", "counter",
       "Number of sample cycles completed.");
/* hint engine (collector/hints.c): the --hints.policy hints */
FAMILY(f_hints, "hints", "gauge",
       "Number of migration hints published under each policy.");
FAMILY(f_hint_info, "hint_info", "gauge",
       "Always 1 for each hint of the default policy; its id and target in labels.");
FAMILY(f_hint_gain, "hint_expected_gain", "gauge",
       "Expected gain of the hint (locality or contention share, 0..1).");
FAMILY(f_hint_cost, "hint_cost_bytes", "gauge",
       "Memory the hint moves, in bytes (0 for pins).");
FAMILY(f_hint_confidence, "hint_confidence", "gauge",
       "Confidence in the hint, 0..1.");
FAMILY(f_hint_duration, "hint_engine_duration_seconds", "gauge",
       "Duration of the hint engine's last run (all policies), in seconds.");
/* uncore collector */
FAMILY(f_uncore_supported, "uncore_supported", "gauge",
       "1 when at least one uncore (memory controller / socket link) counter counts on this host.");
FAMILY(f_uncore_dram, "uncore_dram_bytes_total", "counter",
       "Memory-controller traffic of the socket, summed over its memory channels, in bytes (multiplex-scaled).");
FAMILY(f_uncore_link, "uncore_link_bytes_total", "counter",
       "Data the socket sent over each inter-socket link (UPI / xGMI), in bytes (multiplex-scaled).");
FAMILY(f_uncore_events, "uncore_events_total", "counter",
       "User-defined uncore events ([uncore] of --perf.config), raw counts summed over the socket's boxes (multiplex-scaled).");
FAMILY(f_uncore_event_supported, "uncore_event_supported", "gauge",
       "1 when the uncore event counts on at least one box of the PMU, 0 when it cannot be resolved or opened; source tells where its encoding came from.");
FAMILY(f_uncore_event_scale, "uncore_event_scale", "gauge",
       "The kernel's .scale of a user-defined uncore event alias: multiply uncore_events_total by it to get the unit.");
/* resctrl collector */
FAMILY(f_resctrl_active, "resctrl_active", "gauge",
       "1 when resctrl is mounted with L3 monitoring and numalens monitors VMs with it.");
FAMILY(f_resctrl_exhausted, "resctrl_rmid_exhausted", "gauge",
       "1 while a VM waits for a free resctrl monitoring ID (RMID).");
FAMILY(f_resctrl_groups, "resctrl_groups", "gauge",
       "Number of resctrl monitoring groups numalens holds.");
FAMILY(f_vm_resctrl_info, "vm_resctrl_info", "gauge",
       "Always 1; whether the VM is monitored by resctrl, and in which group.");
FAMILY(f_vm_llc, "vm_llc_occupancy_bytes", "gauge",
       "Last-level cache the VM's threads occupy in each L3 domain (resctrl), in bytes.");
FAMILY(f_vm_mbm_local, "vm_mbm_local_bytes_total", "counter",
       "Memory traffic of the VM's threads to the local memory of each L3 domain (resctrl MBM), in bytes.");
FAMILY(f_vm_mbm_total, "vm_mbm_total_bytes_total", "counter",
       "Memory traffic of the VM's threads through each L3 domain, local and remote (resctrl MBM), in bytes.");

struct label {
	const char *key;
	const char *value;
};

struct enc {
	struct nl_buf *out;
	const struct family *fam;   /* family whose header was written last */
};

/* A VM with its series in output order. */
struct vm_view {
	const struct nl_vm_snap *vm;
	const struct nl_series **ser;
	size_t nser;
};

void nl_prom_escape_label(struct nl_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = nl_buf_utf8_len((const char *)p);

		if (n == 0) {
			nl_buf_puts(out, "\xef\xbf\xbd");
			p++;
		} else if (*p == '\\') {
			nl_buf_puts(out, "\\\\");
			p++;
		} else if (*p == '"') {
			nl_buf_puts(out, "\\\"");
			p++;
		} else if (*p == '\n') {
			nl_buf_puts(out, "\\n");
			p++;
		} else {
			nl_buf_add(out, p, n);
			p += n;
		}
	}
}

/* Write the header if `f` is a new family, then the name and labels, up to
 * the space before the value. */
static void sample_begin(struct enc *e, const struct family *f,
			 const struct label *l, size_t nl)
{
	if (e->fam != f) {
		nl_buf_printf(e->out, "# HELP %s %s\n# TYPE %s %s\n",
			      f->name, f->help, f->name, f->type);
		e->fam = f;
	}
	nl_buf_puts(e->out, f->name);
	for (size_t i = 0; i < nl; i++) {
		nl_buf_puts(e->out, i ? "," : "{");
		nl_buf_puts(e->out, l[i].key);
		nl_buf_puts(e->out, "=\"");
		nl_prom_escape_label(e->out, l[i].value);
		nl_buf_putc(e->out, '"');
	}
	nl_buf_puts(e->out, nl ? "} " : " ");
}

static void sample_f64(struct enc *e, const struct family *f,
		       const struct label *l, size_t nl, double v)
{
	sample_begin(e, f, l, nl);
	nl_buf_put_double(e->out, v);
	nl_buf_putc(e->out, '\n');
}

static void sample_u64(struct enc *e, const struct family *f,
		       const struct label *l, size_t nl, uint64_t v)
{
	sample_begin(e, f, l, nl);
	nl_buf_printf(e->out, "%" PRIu64 "\n", v);
}

/* Nanoseconds as exact decimal seconds (a double would round beyond
 * 2^53 ns, about 104 days of summed CPU time). */
static void sample_ns(struct enc *e, const struct family *f,
		      const struct label *l, size_t nl, uint64_t ns)
{
	sample_begin(e, f, l, nl);
	nl_buf_printf(e->out, "%" PRIu64 ".%09" PRIu64 "\n",
		      ns / 1000000000u, ns % 1000000000u);
}

#define NLAB(a) (sizeof(a) / sizeof((a)[0]))

static int cmp_vm(const void *a, const void *b)
{
	const struct vm_view *x = a, *y = b;
	int c = strcmp(x->vm->name, y->vm->name);

	if (c)
		return c;
	c = strcmp(x->vm->uuid, y->vm->uuid);
	if (c)
		return c;
	return (x->vm->pid > y->vm->pid) - (x->vm->pid < y->vm->pid);
}

static int cmp_series(const void *a, const void *b)
{
	const struct nl_series *x = *(const struct nl_series *const *)a;
	const struct nl_series *y = *(const struct nl_series *const *)b;

	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Sorted views of the VMs and their series. *views and *ser are freed by
 * the caller (also on failure). */
static int build_views(const struct nl_snapshot *s, struct vm_view **views,
		       const struct nl_series ***ser)
{
	size_t total = 0, off = 0;

	*views = NULL;
	*ser = NULL;
	if (s->nvms == 0)
		return 0;
	for (size_t i = 0; i < s->nvms; i++)
		total += s->vms[i].nseries;
	*views = calloc(s->nvms, sizeof(**views));
	*ser = calloc(total ? total : 1, sizeof(**ser));
	if (!*views || !*ser)
		return -ENOMEM;
	for (size_t i = 0; i < s->nvms; i++) {
		struct vm_view *v = &(*views)[i];

		v->vm = &s->vms[i];
		v->ser = *ser + off;
		v->nser = v->vm->nseries;
		for (size_t j = 0; j < v->nser; j++)
			v->ser[j] = &v->vm->series[j];
		off += v->nser;
		qsort(v->ser, v->nser, sizeof(*v->ser), cmp_series);
	}
	qsort(*views, s->nvms, sizeof(**views), cmp_vm);
	return 0;
}

static const char *thread_label(const struct nl_series *se, char *buf,
				size_t len)
{
	if (se->index < 0)
		return "";
	snprintf(buf, len, "%d", se->index);
	return buf;
}

static const char *node_label(const struct nl_snapshot *s, int idx, char *buf,
			      size_t len)
{
	snprintf(buf, len, "%d", s->topo.nodes[idx].id);
	return buf;
}

/* Node ids (ascending, since topo.nodes is sorted by id) of the node
 * indexes set in `mask`, as a kernel-style list. Indexes beyond the known
 * topology are dropped. */
static void format_node_ids(const struct nl_snapshot *s, uint64_t mask,
			    char *buf, size_t len)
{
	size_t off = 0;
	int i = 0, n = s->topo_valid ? s->topo.nnodes : 0;

	buf[0] = '\0';
	while (i < n) {
		int j = i, w;

		if (!((mask >> i) & 1)) {
			i++;
			continue;
		}
		while (j + 1 < n && ((mask >> (j + 1)) & 1) &&
		       s->topo.nodes[j + 1].id == s->topo.nodes[j].id + 1)
			j++;
		if (j == i)
			w = snprintf(buf + off, len - off, "%s%d", off ? "," : "",
				     s->topo.nodes[i].id);
		else
			w = snprintf(buf + off, len - off, "%s%d-%d",
				     off ? "," : "", s->topo.nodes[i].id,
				     s->topo.nodes[j].id);
		if (w < 0 || (size_t)w >= len - off) {
			buf[off] = '\0';
			return;
		}
		off += (size_t)w;
		i = j + 1;
	}
}

static void encode_host(struct enc *e, const struct nl_snapshot *s)
{
	const struct nl_topology *t = &s->topo;
	struct label l[2];
	char node[16], peer[16];
	char cpus[NL_MAX_CPUS * 5];
	static const char *const numastat_names[] = {
		"numa_hit", "numa_miss", "numa_foreign",
		"interleave_hit", "local_node", "other_node",
	};

	l[0] = (struct label){ "version", nl_version };
	sample_u64(e, &f_build_info, l, 1, 1);
	if (!s->topo_valid)
		return;

	for (int i = 0; i < t->nnodes; i++) {
		l[0] = (struct label){ "node", node_label(s, i, node, sizeof(node)) };
		l[1] = (struct label){ "cpus", nl_cpuset_format(&t->nodes[i].cpus,
								cpus, sizeof(cpus)) };
		sample_u64(e, &f_node_info, l, 2, 1);
	}
	for (int i = 0; i < t->nnodes; i++) {
		for (int j = 0; j < t->nnodes; j++) {
			l[0] = (struct label){ "node", node_label(s, i, node, sizeof(node)) };
			l[1] = (struct label){ "peer", node_label(s, j, peer, sizeof(peer)) };
			sample_u64(e, &f_node_distance, l, 2,
				   (uint64_t)t->distance[i][j]);
		}
	}
	for (int i = 0; i < t->nnodes; i++) {
		l[0] = (struct label){ "node", node_label(s, i, node, sizeof(node)) };
		sample_u64(e, &f_node_mem_total, l, 1, t->nodes[i].mem_total_bytes);
	}
	for (int i = 0; i < t->nnodes; i++) {
		l[0] = (struct label){ "node", node_label(s, i, node, sizeof(node)) };
		sample_u64(e, &f_node_mem_free, l, 1, t->nodes[i].mem_free_bytes);
	}
	for (int i = 0; i < t->nnodes; i++) {
		const struct nl_numastat *ns = &t->nodes[i].numastat;
		const uint64_t v[] = {
			ns->numa_hit, ns->numa_miss, ns->numa_foreign,
			ns->interleave_hit, ns->local_node, ns->other_node,
		};

		if (!t->nodes[i].has_numastat)
			continue;
		l[0] = (struct label){ "node", node_label(s, i, node, sizeof(node)) };
		for (size_t k = 0; k < NLAB(v); k++) {
			l[1] = (struct label){ "type", numastat_names[k] };
			sample_u64(e, &f_node_numastat, l, 2, v[k]);
		}
	}
}

static void encode_vm_identity(struct enc *e, const struct nl_snapshot *s,
			       const struct vm_view *v, size_t nv)
{
	struct label l[3];
	char node[16];

	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		l[1] = (struct label){ "uuid", v[i].vm->uuid };
		l[2] = (struct label){ "backend", nl_backend_name(v[i].vm->backend) };
		sample_u64(e, &f_vm_info, l, 3, 1);
	}
	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		sample_u64(e, &f_vm_pid, l, 1, (uint64_t)v[i].vm->pid);
	}
	for (size_t i = 0; i < nv && s->topo_valid; i++) {
		if (v[i].vm->mem_source == NL_MEM_NONE)
			continue;
		const struct nl_vm_snap *vm = v[i].vm;

		l[0] = (struct label){ "vm", vm->name };
		for (int n = 0; n < s->topo.nnodes; n++) {
			l[1] = (struct label){ "node", node_label(s, n, node, sizeof(node)) };
			if (!vm->mem_split) {
				l[2] = (struct label){ "kind", "all" };
				sample_u64(e, &f_vm_mem, l, 3, vm->mem_bytes[n]);
				continue;
			}
			l[2] = (struct label){ "kind", "guest" };
			sample_u64(e, &f_vm_mem, l, 3, vm->mem_guest_bytes[n]);
			l[2] = (struct label){ "kind", "vmm" };
			sample_u64(e, &f_vm_mem, l, 3, vm->mem_vmm_bytes[n]);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		l[1] = (struct label){ "source", nl_mem_source_name(v[i].vm->mem_source) };
		sample_u64(e, &f_vm_mem_source, l, 2, 1);
	}
	for (size_t i = 0; i < nv; i++) {
		if (!v[i].vm->numa_maps_capped)
			continue;
		l[0] = (struct label){ "vm", v[i].vm->name };
		sample_u64(e, &f_vm_numa_maps_capped, l, 1, 1);
	}
	for (size_t i = 0; i < nv; i++) {
		const struct nl_vm_snap *vm = v[i].vm;
		int nd = vm->ndevices < NL_MAX_VM_DEVICES ? vm->ndevices : NL_MAX_VM_DEVICES;

		l[0] = (struct label){ "vm", vm->name };
		for (int d = 0; d < nd; d++) {
			if (vm->devices[d].node >= 0)
				snprintf(node, sizeof(node), "%d", vm->devices[d].node);
			else
				snprintf(node, sizeof(node), "unknown");
			l[1] = (struct label){ "device", vm->devices[d].device };
			l[2] = (struct label){ "node", node };
			sample_u64(e, &f_vm_device, l, 3, 1);
		}
	}
	for (size_t i = 0; i < nv && s->topo_valid; i++) {
		const struct nl_vm_snap *vm = v[i].vm;
		char cell[16];

		l[0] = (struct label){ "vm", vm->name };
		for (int c = 0; c < vm->ncells; c++) {
			if (!vm->cells[c].mem_known)
				continue;
			snprintf(cell, sizeof(cell), "%d", vm->cells[c].cfg.id);
			l[1] = (struct label){ "cell", cell };
			for (int n = 0; n < s->topo.nnodes; n++) {
				l[2] = (struct label){ "node", node_label(s, n, node, sizeof(node)) };
				sample_u64(e, &f_vm_cell_mem, l, 3, vm->cells[c].mem_bytes[n]);
			}
		}
	}
	for (size_t i = 0; i < nv; i++) {
		if (!v[i].vm->cells_invalid)
			continue;
		l[0] = (struct label){ "vm", v[i].vm->name };
		sample_u64(e, &f_vm_cells_invalid, l, 1, 1);
	}
	for (size_t i = 0; i < nv; i++) {
		if (v[i].vm->arrival == NL_ARRIVAL_NONE)
			continue;
		l[0] = (struct label){ "vm", v[i].vm->name };
		l[1] = (struct label){ "uuid", v[i].vm->uuid };
		l[2] = (struct label){ "how", nl_arrival_name(v[i].vm->arrival) };
		sample_u64(e, &f_vm_arrival, l, 3, 1);
	}
	for (size_t i = 0; i < nv; i++) {
		if (v[i].vm->arrival == NL_ARRIVAL_NONE ||
		    isnan(v[i].vm->arrival_age_seconds))
			continue;
		l[0] = (struct label){ "vm", v[i].vm->name };
		l[1] = (struct label){ "uuid", v[i].vm->uuid };
		sample_f64(e, &f_vm_arrival_age, l, 2, v[i].vm->arrival_age_seconds);
	}
}

static void encode_vm_cpu(struct enc *e, const struct nl_snapshot *s,
			  const struct vm_view *v, size_t nv)
{
	struct label l[3];
	char thread[16], node[16];

	for (size_t i = 0; i < nv; i++) {
		uint64_t count[NL_ROLE_COUNT] = { 0 };

		for (size_t j = 0; j < v[i].nser; j++)
			if (v[i].ser[j]->role < NL_ROLE_COUNT)
				count[v[i].ser[j]->role] += v[i].ser[j]->nthreads;
		l[0] = (struct label){ "vm", v[i].vm->name };
		for (int r = 0; r < NL_ROLE_COUNT; r++) {
			l[1] = (struct label){ "role", nl_role_name((enum nl_role)r) };
			sample_u64(e, &f_vm_threads, l, 2, count[r]);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		for (size_t j = 0; j < v[i].nser; j++) {
			const struct nl_series *se = v[i].ser[j];

			l[1] = (struct label){ "role", nl_role_name(se->role) };
			l[2] = (struct label){ "thread", thread_label(se, thread, sizeof(thread)) };
			sample_ns(e, &f_thread_cpu, l, 3, se->run_ns);
		}
	}
	for (size_t i = 0; i < nv && s->topo_valid; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		/* series are sorted by role: sum each run of one role */
		for (size_t j = 0; j < v[i].nser;) {
			enum nl_role role = v[i].ser[j]->role;
			size_t end = j;

			while (end < v[i].nser && v[i].ser[end]->role == role)
				end++;
			l[1] = (struct label){ "role", nl_role_name(role) };
			for (int n = 0; n < s->topo.nnodes; n++) {
				uint64_t sum = 0;

				for (size_t k = j; k < end; k++)
					sum += v[i].ser[k]->node_ns[n];
				l[2] = (struct label){ "node", node_label(s, n, node, sizeof(node)) };
				sample_ns(e, &f_vm_node_cpu, l, 3, sum);
			}
			j = end;
		}
	}
}

static void encode_vm_events(struct enc *e, const struct nl_snapshot *s,
			     const struct vm_view *v, size_t nv)
{
	struct label l[4];
	char thread[16];
	uint32_t hw_mask = 0;
	int nev = s->nevents < NL_MAX_EVENTS ? s->nevents : NL_MAX_EVENTS;

	for (int k = 0; k < nev; k++)
		if (s->events[k].hardware)
			hw_mask |= 1u << k;
	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		for (size_t j = 0; j < v[i].nser; j++) {
			const struct nl_series *se = v[i].ser[j];

			l[1] = (struct label){ "role", nl_role_name(se->role) };
			l[2] = (struct label){ "thread", thread_label(se, thread, sizeof(thread)) };
			for (int k = 0; k < nev; k++) {
				if (!((se->events_valid >> k) & 1))
					continue;
				l[3] = (struct label){ "event", s->events[k].name };
				sample_u64(e, &f_thread_events, l, 4, se->events[k]);
			}
		}
	}
	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		for (size_t j = 0; j < v[i].nser; j++) {
			const struct nl_series *se = v[i].ser[j];

			if (!(se->events_valid & hw_mask))
				continue;
			l[1] = (struct label){ "role", nl_role_name(se->role) };
			l[2] = (struct label){ "thread", thread_label(se, thread, sizeof(thread)) };
			sample_f64(e, &f_thread_scaling, l, 3, se->scaling_ratio);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		for (size_t j = 0; j < v[i].nser; j++) {
			const struct nl_series *se = v[i].ser[j];
			char group[16];

			if (!(se->events_valid & hw_mask))
				continue;
			l[1] = (struct label){ "role", nl_role_name(se->role) };
			l[2] = (struct label){ "thread", thread_label(se, thread, sizeof(thread)) };
			for (int g = 0; g < s->nperf_groups && g < NL_MAX_GROUPS; g++) {
				/* a group that never counted on this thread
				 * has no ratio to show */
				if (!s->perf_groups[g].hardware ||
				    !(se->events_valid & s->perf_groups[g].events))
					continue;
				snprintf(group, sizeof(group), "%d", g);
				l[3] = (struct label){ "group", group };
				sample_f64(e, &f_thread_group_scaling, l, 4,
					   se->group_scaling[g]);
			}
		}
	}
}

/* One sample per VM and role of a per-role score array of struct nl_vm_snap
 * (at byte offset off), skipping NaN and, when need is not 0, roles whose
 * pmu_scores lack that bit. */
static void vm_role_scores(struct enc *e, const struct family *f,
			   const struct vm_view *v, size_t nv, size_t off,
			   unsigned need)
{
	struct label l[2];

	for (size_t i = 0; i < nv; i++) {
		const double *val = (const double *)((const char *)v[i].vm + off);

		l[0] = (struct label){ "vm", v[i].vm->name };
		for (int r = 0; r <= NL_ROLE_ALL; r++) {
			if ((need && !(v[i].vm->pmu_scores[r] & need)) ||
			    isnan(val[r]))
				continue;
			l[1] = (struct label){ "role", nl_role_name((enum nl_role)r) };
			sample_f64(e, f, l, 2, val[r]);
		}
	}
}

static void encode_vm_placement(struct enc *e, const struct nl_snapshot *s,
				const struct vm_view *v, size_t nv)
{
	struct label l[4];
	char cpus[NL_MAX_CPUS * 5], nodes[NL_MAX_NODES * 8];

	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		for (size_t j = 0; j < v[i].nser;) {
			enum nl_role role = v[i].ser[j]->role;
			struct nl_cpuset set;
			uint64_t mems = 0;

			nl_cpuset_zero(&set);
			for (; j < v[i].nser && v[i].ser[j]->role == role; j++) {
				nl_cpuset_or(&set, &v[i].ser[j]->cpus_allowed);
				mems |= v[i].ser[j]->mems_allowed;
			}
			/* every thread may run somewhere: empty = not read */
			if (nl_cpuset_count(&set) == 0)
				continue;
			format_node_ids(s, mems, nodes, sizeof(nodes));
			l[1] = (struct label){ "role", nl_role_name(role) };
			l[2] = (struct label){ "cpus", nl_cpuset_format(&set, cpus, sizeof(cpus)) };
			l[3] = (struct label){ "nodes", nodes };
			sample_u64(e, &f_vm_affinity, l, 4, 1);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		l[2] = (struct label){ "source", "placement" };
		for (int r = 0; r <= NL_ROLE_ALL; r++) {
			if (isnan(v[i].vm->locality[r]))
				continue;
			l[1] = (struct label){ "role", nl_role_name((enum nl_role)r) };
			sample_f64(e, &f_vm_locality, l, 3, v[i].vm->locality[r]);
		}
		l[2] = (struct label){ "source", "pmu" };
		for (int r = 0; r <= NL_ROLE_ALL; r++) {
			if (!(v[i].vm->pmu_scores[r] & NL_PMU_SCORE_LOCALITY) ||
			    isnan(v[i].vm->pmu_locality[r]))
				continue;
			l[1] = (struct label){ "role", nl_role_name((enum nl_role)r) };
			sample_f64(e, &f_vm_locality, l, 3, v[i].vm->pmu_locality[r]);
		}
		l[2] = (struct label){ "source", "placement" };
	}
	for (size_t i = 0; i < nv; i++) {
		const struct nl_vm_snap *vm = v[i].vm;
		char cell[16];

		l[0] = (struct label){ "vm", vm->name };
		l[2] = (struct label){ "role", "vcpu" };
		for (int c = 0; c < vm->ncells; c++) {
			if (isnan(vm->cells[c].locality))
				continue;
			snprintf(cell, sizeof(cell), "%d", vm->cells[c].cfg.id);
			l[1] = (struct label){ "cell", cell };
			sample_f64(e, &f_vm_cell_locality, l, 3, vm->cells[c].locality);
		}
	}
	vm_role_scores(e, &f_vm_distance, v, nv, offsetof(struct nl_vm_snap, distance), 0);
	vm_role_scores(e, &f_vm_mpki, v, nv, offsetof(struct nl_vm_snap, llc_mpki),
		       NL_PMU_SCORE_MPKI);
	vm_role_scores(e, &f_vm_cpi, v, nv, offsetof(struct nl_vm_snap, cpi),
		       NL_PMU_SCORE_CPI);
	for (size_t i = 0; i < nv; i++) {
		if (isnan(v[i].vm->vcpu_host_cycles_ratio))
			continue;
		l[0] = (struct label){ "vm", v[i].vm->name };
		sample_f64(e, &f_vm_host_cycles, l, 1, v[i].vm->vcpu_host_cycles_ratio);
	}
}

static bool collector_on(const struct nl_snapshot *s, const char *name)
{
	for (int c = 0; c < s->ncollectors && c < NL_MAX_SOURCES; c++)
		if (s->collectors[c].name &&
		    strcmp(s->collectors[c].name, name) == 0)
			return s->collectors[c].enabled;
	return false;
}

/* Per-socket uncore counters; nothing at all when the collector is off. */
static void encode_uncore(struct enc *e, const struct nl_snapshot *s)
{
	const struct nl_uncore *u = &s->uncore;
	struct label l[3];
	char sock[16], sub[16];
	int ns = u->nsockets < NL_MAX_SOCKETS ? u->nsockets : NL_MAX_SOCKETS;
	int nst = u->nstats < NL_MAX_UNCORE_STATS ? u->nstats
						    : NL_MAX_UNCORE_STATS;
	int nu = u->nuser < NL_MAX_UNCORE_USER ? u->nuser : NL_MAX_UNCORE_USER;

	if (!collector_on(s, "uncore"))
		return;
	sample_u64(e, &f_uncore_supported, NULL, 0, u->supported ? 1 : 0);
	for (int i = 0; i < ns; i++) {
		const struct nl_uncore_socket *so = &u->sockets[i];

		snprintf(sock, sizeof(sock), "%d", so->id);
		l[0] = (struct label){ "socket", sock };
		for (int d = 0; d < NL_UNCORE_NDIR; d++) {
			if (!(so->dram_valid & (1u << d)))
				continue;
			l[1] = (struct label){ "direction",
					       nl_uncore_dir_name((enum nl_uncore_dir)d) };
			sample_u64(e, &f_uncore_dram, l, 2, so->dram_bytes[d]);
		}
	}
	for (int i = 0; i < ns; i++) {
		const struct nl_uncore_socket *so = &u->sockets[i];

		snprintf(sock, sizeof(sock), "%d", so->id);
		l[0] = (struct label){ "socket", sock };
		for (int k = 0; k < NL_MAX_UNCORE_LINKS; k++) {
			if (!(so->link_valid & (1u << k)))
				continue;
			snprintf(sub, sizeof(sub), "%d", k);
			l[1] = (struct label){ "link", sub };
			sample_u64(e, &f_uncore_link, l, 2, so->link_bytes[k]);
		}
	}
	for (int i = 0; i < ns; i++) {
		const struct nl_uncore_socket *so = &u->sockets[i];

		snprintf(sock, sizeof(sock), "%d", so->id);
		l[0] = (struct label){ "socket", sock };
		for (int k = 0; k < nu; k++) {
			if (!(so->user_valid & (1u << k)))
				continue;
			l[1] = (struct label){ "event", u->user[k] };
			sample_u64(e, &f_uncore_events, l, 2, so->user[k]);
		}
	}
	for (int i = 0; i < nst; i++) {
		l[0] = (struct label){ "event", u->stats[i].event };
		l[1] = (struct label){ "pmu", u->stats[i].pmu };
		l[2] = (struct label){ "source", u->stats[i].source[0] ?
				       u->stats[i].source : "none" };
		sample_u64(e, &f_uncore_event_supported, l, 3,
			   u->stats[i].supported ? 1 : 0);
	}
	for (int k = 0; k < nu; k++) {
		for (int i = 0; i < nst; i++) {
			const struct nl_uncore_stat *st = &u->stats[i];

			if (strcmp(st->event, u->user[k]) != 0 ||
			    !(st->scale > 0))
				continue;
			l[0] = (struct label){ "event", st->event };
			l[1] = (struct label){ "unit", st->unit };
			sample_f64(e, &f_uncore_event_scale, l, 2, st->scale);
			break;
		}
	}
}

/* resctrl monitoring per VM; nothing at all when the collector is off. */
static void encode_resctrl(struct enc *e, const struct nl_snapshot *s)
{
	const struct nl_resctrl *r = &s->resctrl;
	struct label l[3];
	char dom[16];

	if (!collector_on(s, "resctrl"))
		return;
	sample_u64(e, &f_resctrl_active, NULL, 0, r->active ? 1 : 0);
	if (!r->active)
		return;
	sample_u64(e, &f_resctrl_exhausted, NULL, 0, r->rmid_exhausted ? 1 : 0);
	sample_u64(e, &f_resctrl_groups, NULL, 0, r->groups);
	for (size_t i = 0; i < r->nvms; i++) {
		l[0] = (struct label){ "vm", r->vms[i].name };
		l[1] = (struct label){ "group", r->vms[i].group };
		l[2] = (struct label){ "state",
				       nl_resctrl_state_name(r->vms[i].state) };
		sample_u64(e, &f_vm_resctrl_info, l, 3, 1);
	}
	static const struct {
		const struct family *f;
		uint32_t bit;
	} fams[] = {
		{ &f_vm_llc, NL_RESCTRL_LLC },
		{ &f_vm_mbm_local, NL_RESCTRL_LOCAL },
		{ &f_vm_mbm_total, NL_RESCTRL_TOTAL },
	};
	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		for (size_t i = 0; i < r->nvms; i++) {
			const struct nl_resctrl_vm *v = &r->vms[i];

			l[0] = (struct label){ "vm", v->name };
			for (int d = 0; d < v->ndom && d < NL_MAX_L3_DOMAINS; d++) {
				const struct nl_resctrl_dom *dm = &v->dom[d];

				if (!(dm->valid & fams[k].bit))
					continue;
				snprintf(dom, sizeof(dom), "%d", dm->id);
				l[1] = (struct label){ "domain", dom };
				sample_u64(e, fams[k].f, l, 2,
					   fams[k].bit == NL_RESCTRL_LLC ?
					   dm->llc_occupancy :
					   fams[k].bit == NL_RESCTRL_LOCAL ?
					   dm->mbm_local : dm->mbm_total);
			}
		}
	}
}

static void encode_self(struct enc *e, const struct nl_snapshot *s, double now)
{
	struct label l[2];
	int nev = s->nevents < NL_MAX_EVENTS ? s->nevents : NL_MAX_EVENTS;
	int ncoll = s->ncollectors < NL_MAX_SOURCES ? s->ncollectors
						     : NL_MAX_SOURCES;
	double age = now - s->timestamp;

	for (int k = 0; k < nev; k++) {
		if (s->events[k].supported == -1)
			continue;
		l[0] = (struct label){ "event", s->events[k].name };
		sample_u64(e, &f_event_supported, l, 1,
			   s->events[k].supported > 0 ? 1 : 0);
	}
	l[0] = (struct label){ "pmu", s->pmu_name[0] ? s->pmu_name : "none" };
	l[1] = (struct label){ "model", s->cpu_model };
	sample_u64(e, &f_pmu_info, l, 2, 1);
	if (s->perf_catalog[0]) {
		l[0] = (struct label){ "catalog", s->perf_catalog };
		sample_u64(e, &f_perf_catalog, l, 1, 1);
	}
	for (int g = 0; g < s->nperf_groups && g < NL_MAX_GROUPS; g++) {
		struct label gl[3];
		char group[16], names[NL_MAX_EVENTS * 64];
		size_t off = 0;

		names[0] = '\0';
		for (int k = 0; k < nev; k++) {
			int n;

			if (!(s->perf_groups[g].events & (1u << k)) ||
			    s->events[k].supported == 0)
				continue;
			n = snprintf(names + off, sizeof(names) - off, "%s%s",
				     off ? "," : "", s->events[k].name);
			if (n < 0 || (size_t)n >= sizeof(names) - off)
				break;
			off += (size_t)n;
		}
		if (off == 0)
			continue;   /* none of its events counts here */
		snprintf(group, sizeof(group), "%d", g);
		gl[0] = (struct label){ "group", group };
		gl[1] = (struct label){ "kind", s->perf_groups[g].hardware ?
					"hardware" : "software" };
		gl[2] = (struct label){ "events", names };
		sample_u64(e, &f_perf_group, gl, 3, 1);
	}
	for (int c = 0; c < ncoll; c++) {
		if (!s->collectors[c].enabled || !s->collectors[c].name)
			continue;
		l[0] = (struct label){ "collector", s->collectors[c].name };
		sample_u64(e, &f_coll_success, l, 1, s->collectors[c].success);
	}
	for (int c = 0; c < ncoll; c++) {
		if (!s->collectors[c].enabled || !s->collectors[c].name)
			continue;
		l[0] = (struct label){ "collector", s->collectors[c].name };
		sample_f64(e, &f_coll_duration, l, 1,
			   s->collectors[c].duration_seconds);
	}
	sample_f64(e, &f_sample_duration, NULL, 0, s->sample_duration_seconds);
	sample_f64(e, &f_sample_cpu, NULL, 0, s->sample_cpu_seconds_total);
	/* a wall clock stepped backwards must not show a negative age */
	sample_f64(e, &f_snapshot_age, NULL, 0, age > 0 ? age : 0);
	if (s->libvirt_up != -1)
		sample_u64(e, &f_libvirt_up, NULL, 0, s->libvirt_up ? 1 : 0);
	sample_u64(e, &f_threads_tracked, NULL, 0, s->threads_tracked);
	sample_u64(e, &f_perf_fds, NULL, 0, s->perf_fds);
	sample_u64(e, &f_samples_total, NULL, 0, s->samples_total);
}

/* Hints of the default policy, one series per (vm, kind, target): a VM
 * has at most one hint per kind and target, so the labels are bounded by
 * VMs x 4 kinds. The id is on numalens_hint_info only. */
static void encode_hints(struct enc *e, const struct nl_snapshot *s)
{
	const struct nl_hint_report *r = s->hints;
	const struct family *fams[] = { &f_hint_gain, &f_hint_cost, &f_hint_confidence };
	struct label l[5];
	char target[16];
	int p;

	if (!r)
		return;
	p = r->default_policy;
	for (int q = 0; q < NL_POLICY_COUNT; q++) {
		l[0] = (struct label){ "policy", nl_policy_name((enum nl_policy)q) };
		sample_u64(e, &f_hints, l, 1, r->nhints[q]);
	}
	for (size_t i = 0; i < r->nhints[p]; i++) {
		const struct nl_hint *h = &r->hints[p][i];

		if (h->target_node >= 0)
			snprintf(target, sizeof(target), "%d", h->target_node);
		else
			snprintf(target, sizeof(target), "other_host");
		l[0] = (struct label){ "id", h->id };
		l[1] = (struct label){ "vm", h->vm };
		l[2] = (struct label){ "kind", nl_hint_kind_name(h->kind) };
		l[3] = (struct label){ "policy", nl_policy_name(h->policy) };
		l[4] = (struct label){ "target", target };
		sample_u64(e, &f_hint_info, l, 5, 1);
	}
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		for (size_t i = 0; i < r->nhints[p]; i++) {
			const struct nl_hint *h = &r->hints[p][i];
			double v = f == 0 ? h->expected_gain :
				   f == 1 ? (double)h->cost_bytes : h->confidence;

			if (isnan(v))
				continue;
			if (h->target_node >= 0)
				snprintf(target, sizeof(target), "%d", h->target_node);
			else
				snprintf(target, sizeof(target), "other_host");
			l[0] = (struct label){ "vm", h->vm };
			l[1] = (struct label){ "kind", nl_hint_kind_name(h->kind) };
			l[2] = (struct label){ "target", target };
			if (f == 1)
				sample_u64(e, fams[f], l, 3, h->cost_bytes);
			else
				sample_f64(e, fams[f], l, 3, v);
		}
	}
	sample_f64(e, &f_hint_duration, NULL, 0, r->duration_seconds);
}

int nl_prom_encode(const struct nl_snapshot *s, double now, struct nl_buf *out)
{
	struct enc e = { .out = out, .fam = NULL };
	struct vm_view *views = NULL;
	const struct nl_series **ser = NULL;
	int ret;

	ret = build_views(s, &views, &ser);
	if (ret)
		goto cleanup;
	encode_host(&e, s);
	encode_uncore(&e, s);
	encode_vm_identity(&e, s, views, s->nvms);
	encode_vm_cpu(&e, s, views, s->nvms);
	encode_vm_events(&e, s, views, s->nvms);
	encode_vm_placement(&e, s, views, s->nvms);
	encode_resctrl(&e, s);
	encode_hints(&e, s);
	encode_self(&e, s, now);
	ret = out->err;

cleanup:
	free(views);
	free(ser);
	return ret;
}
