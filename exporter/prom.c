/* Prometheus text format 0.0.4. Every family is written in one block (HELP,
 * TYPE, samples) in a fixed order; VMs are sorted by name and series by
 * role and index here, whatever order the snapshot holds them in, so two
 * scrapes of one snapshot are byte-identical. Families without samples are
 * left out entirely. */
#include "prom.h"
#include "version.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
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
       "Resident memory of the VM on each NUMA node, in bytes.");
FAMILY(f_vm_mem_source, "vm_memory_source_info", "gauge",
       "Always 1; where the VM's per-node memory figure comes from.");
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
FAMILY(f_vm_affinity, "vm_role_affinity_info", "gauge",
       "Always 1; union of the CPUs and NUMA nodes the VM's threads of a role may run on and allocate from.");
FAMILY(f_vm_locality, "vm_locality_ratio", "gauge",
       "Share of the role's memory accesses estimated to be node-local (0..1; 1 = all local).");
FAMILY(f_vm_distance, "vm_access_distance", "gauge",
       "SLIT distance of the role's memory accesses, weighted by CPU time and memory placement (10 = all local).");
FAMILY(f_event_supported, "event_supported", "gauge",
       "1 when the perf event counts on this host, 0 when it cannot be opened.");
FAMILY(f_pmu_info, "pmu_info", "gauge",
       "Always 1; the hardware PMU libpfm4 detected and the CPU model.");
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

/* Length of the valid UTF-8 sequence at p, or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* overlongs, surrogates and > U+10FFFF show in the second byte */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void nl_prom_escape_label(struct nl_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_len(p);

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

void nl_prom_format_double(struct nl_buf *out, double v)
{
	char tmp[40];

	if (isnan(v)) {
		nl_buf_puts(out, "NaN");
		return;
	}
	if (isinf(v)) {
		nl_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* shortest of %.15g..%.17g that reads back exactly: 0.1 stays "0.1" */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	nl_buf_puts(out, tmp);
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
	nl_prom_format_double(e->out, v);
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
		l[0] = (struct label){ "vm", v[i].vm->name };
		for (int n = 0; n < s->topo.nnodes; n++) {
			l[1] = (struct label){ "node", node_label(s, n, node, sizeof(node)) };
			sample_u64(e, &f_vm_mem, l, 2, v[i].vm->mem_bytes[n]);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		l[1] = (struct label){ "source", nl_mem_source_name(v[i].vm->mem_source) };
		sample_u64(e, &f_vm_mem_source, l, 2, 1);
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
	}
	for (size_t i = 0; i < nv; i++) {
		l[0] = (struct label){ "vm", v[i].vm->name };
		for (int r = 0; r <= NL_ROLE_ALL; r++) {
			if (isnan(v[i].vm->distance[r]))
				continue;
			l[1] = (struct label){ "role", nl_role_name((enum nl_role)r) };
			sample_f64(e, &f_vm_distance, l, 2, v[i].vm->distance[r]);
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
	encode_vm_identity(&e, s, views, s->nvms);
	encode_vm_cpu(&e, s, views, s->nvms);
	encode_vm_events(&e, s, views, s->nvms);
	encode_vm_placement(&e, s, views, s->nvms);
	encode_self(&e, s, now);
	ret = out->err;

cleanup:
	free(views);
	free(ser);
	return ret;
}
