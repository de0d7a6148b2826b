/* The user event file (--perf.config=FILE), shared by the per-thread perf
 * collector ([thread] section) and the uncore collector ([uncore] section).
 * Format: docs/events.md. */
#ifndef NL_EVCONF_H
#define NL_EVCONF_H

#include <stddef.h>

enum nl_evconf_section { NL_EVCONF_THREAD, NL_EVCONF_UNCORE };

#define NL_EVCONF_NAME_MAX  64    /* NAME, 1..63 characters */
#define NL_EVCONF_EVENT_MAX 256   /* EVENT, 1..255 characters */

struct nl_evconf_entry {
	enum nl_evconf_section section;
	char name[NL_EVCONF_NAME_MAX];
	char event[NL_EVCONF_EVENT_MAX];
	int line;                     /* 1-based line in the file */
};

struct nl_evconf {
	struct nl_evconf_entry *entries;   /* in file order */
	size_t n;
};

/* Parse the file at path into *out (zeroed first). Return 0, or -errno with
 * "PATH:LINE: reason" (or "PATH: reason") in err: -ENOENT/-EACCES/... the
 * file cannot be read, -EINVAL a syntax error. *out is empty on error. */
int nl_evconf_load(const char *path, struct nl_evconf *out, char *err,
		   size_t errlen);

/* Parse text (what the file holds; `path` only names it in messages). */
int nl_evconf_parse(const char *text, const char *path, struct nl_evconf *out,
		    char *err, size_t errlen);

void nl_evconf_free(struct nl_evconf *c);

const char *nl_evconf_section_name(enum nl_evconf_section s);

#endif
