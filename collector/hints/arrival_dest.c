/* The destination placement of an expected arrival: the <numatune> and
 * <cputune> fragments to migrate with, and how to pass them (libvirt's
 * VIR_MIGRATE_PARAM_DEST_XML, or virsh migrate --xml), so that the VM's
 * memory is allocated on the chosen node(s) as it arrives instead of
 * being moved afterwards (docs/api.md, "Arrivals in the engine").
 *
 * No <memnode>: the profile carries no guest NUMA cells, and <memory>
 * binds every cell to the nodeset. Attribute values are this host's CPU
 * and node lists; they are escaped all the same, and the VM's name goes
 * only into the shell words of virsh_usage, quoted. */
#include "arrivals_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
	char *p;
	size_t n, cap;
	int err;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (b->err)
		return;
	for (;;) {
		size_t room = b->cap - b->n;

		va_start(ap, fmt);
		w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (w < 0) {
			b->err = -EINVAL;
			return;
		}
		if (b->p && (size_t)w < room) {
			b->n += (size_t)w;
			return;
		}
		{
			size_t cap = b->cap ? b->cap : 256;
			char *q;

			while (cap < b->n + (size_t)w + 1)
				cap *= 2;
			q = realloc(b->p, cap);
			if (!q) {
				b->err = -ENOMEM;
				return;
			}
			b->p = q;
			b->cap = cap;
		}
	}
}

/* The string, or NULL (out of memory); the buffer is handed over. */
static char *sb_take(struct sbuf *b)
{
	char *p = b->err ? NULL : b->p;

	if (b->err)
		free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
	return p;
}

/* XML attribute text (single quotes) of s into out. */
static void xml_attr(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 7 < len; s++) {
		const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" :
				*s == '\'' ? "&apos;" : *s == '"' ? "&quot;" : NULL;

		if (e) {
			memcpy(out + o, e, strlen(e));
			o += strlen(e);
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

#define LIST_LEN (NL_MAX_CPUS * 5)

int nl_arrival_dest_build(const struct nl_snapshot *s, const struct nl_profile *p,
			  const int *nodes, int n, struct nl_dest_placement *out)
{
	struct nl_cpuset cpus;
	char *list = malloc(LIST_LEN), *cpus_q = malloc(LIST_LEN * 6);
	char nodeset[NL_MAX_NODES * 6] = "", nodes_q[sizeof(nodeset) * 6];
	char q[NL_NAME_MAX * 4 + 8], file[NL_NAME_MAX + 8], fq[NL_NAME_MAX * 4 + 16];
	struct sbuf b = { 0 };
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!list || !cpus_q)
		goto cleanup;
	nl_cpuset_zero(&cpus);
	for (int i = 0; i < n; i++) {
		int ix = nl_topology_node_index(&s->topo, nodes[i]);

		if (ix >= 0)
			nl_cpuset_or(&cpus, &s->topo.nodes[ix].cpus);
		nl_hints_appendf(nodeset, sizeof(nodeset), "%s%d", i ? "," : "", nodes[i]);
	}
	nl_cpuset_format(&cpus, list, LIST_LEN);
	xml_attr(list, cpus_q, LIST_LEN * 6);
	xml_attr(nodeset, nodes_q, sizeof(nodes_q));

	sb_printf(&b, "<numatune>\n  <memory mode='strict' nodeset='%s'/>\n</numatune>", nodes_q);
	out->numatune_xml = sb_take(&b);
	sb_printf(&b, "<cputune>\n");
	for (uint32_t v = 0; v < p->vcpus; v++)
		sb_printf(&b, "  <vcpupin vcpu='%u' cpuset='%s'/>\n", v, cpus_q);
	sb_printf(&b, "  <emulatorpin cpuset='%s'/>\n", cpus_q);
	for (uint32_t t = 1; t <= p->iothreads; t++)
		sb_printf(&b, "  <iothreadpin iothread='%u' cpuset='%s'/>\n", t, cpus_q);
	sb_printf(&b, "</cputune>");
	out->cputune_xml = sb_take(&b);
	sb_printf(&b,
		  "VIR_MIGRATE_PARAM_DEST_XML (\"destination_xml\"), a VIR_TYPED_PARAM_STRING for virDomainMigrate3() or virDomainMigrateToURI3(): the domain XML of VM %s as virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE) returns it on the source, with its <numatune> and <cputune> replaced by numatune_xml and cputune_xml (memory strictly on node%s %s, vCPUs, emulator and iothreads on CPUs %s)",
		  p->vm, n > 1 ? "s" : "", nodeset, list);
	out->migrate_param = sb_take(&b);
	/* a file name for the XML: the VM's name without slashes */
	snprintf(file, sizeof(file), "%s.xml", p->vm);
	for (char *c = file; *c; c++)
		if (*c == '/')
			*c = '_';
	nl_hints_shell_quote(p->vm, q, sizeof(q));
	nl_hints_shell_quote(file, fq, sizeof(fq));
	sb_printf(&b,
		  "virsh dumpxml --migratable %s > %s\n"
		  "# in %s, replace <numatune> and <cputune> with numatune_xml and cputune_xml\n"
		  "virsh migrate --live --xml %s %s qemu+ssh://DEST/system   # DEST: this host",
		  q, fq, fq, fq, q);
	out->virsh_usage = sb_take(&b);
	if (out->numatune_xml && out->cputune_xml && out->migrate_param && out->virsh_usage)
		rc = 0;
cleanup:
	free(list);
	free(cpus_q);
	if (rc)
		nl_dest_placement_free(out);
	return rc;
}

void nl_dest_placement_free(struct nl_dest_placement *d)
{
	free(d->numatune_xml);
	free(d->cputune_xml);
	free(d->migrate_param);
	free(d->virsh_usage);
	memset(d, 0, sizeof(*d));
}
