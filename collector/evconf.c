/* The user event file: see evconf.h and docs/events.md. */
#include "evconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The file is a few lines; anything this large is not an event file. */
#define EVCONF_FILE_MAX (1024 * 1024)

const char *nl_evconf_section_name(enum nl_evconf_section s)
{
	return s == NL_EVCONF_UNCORE ? "uncore" : "thread";
}

static int fail(char *err, size_t errlen, int rc, const char *path, int line,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail(char *err, size_t errlen, int rc, const char *path, int line,
		const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err && errlen) {
		if (line > 0)
			snprintf(err, errlen, "%s:%d: %s", path, line, msg);
		else
			snprintf(err, errlen, "%s: %s", path, msg);
	}
	return rc;
}

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= NL_EVCONF_NAME_MAX)
		return false;
	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

static int add(struct nl_evconf *c, size_t *cap, enum nl_evconf_section sec,
	       const char *name, size_t nlen, const char *ev, size_t elen,
	       int line)
{
	struct nl_evconf_entry *e;

	if (c->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct nl_evconf_entry *n = realloc(c->entries,
						    ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->entries = n;
		*cap = ncap;
	}
	e = &c->entries[c->n++];
	memset(e, 0, sizeof(*e));
	e->section = sec;
	memcpy(e->name, name, nlen);
	memcpy(e->event, ev, elen);
	e->line = line;
	return 0;
}

int nl_evconf_parse(const char *text, const char *path, struct nl_evconf *out,
		    char *err, size_t errlen)
{
	enum nl_evconf_section sec = NL_EVCONF_THREAD;
	const char *p = text;
	size_t cap = 0;
	int line = 0, rc = 0;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *s = p, *e, *hash, *eq;

		if (!eol)
			eol = p + strlen(p);
		line++;
		p = *eol ? eol + 1 : eol;
		e = eol;
		hash = memchr(s, '#', (size_t)(e - s));
		if (hash)
			e = hash;
		trim(&s, &e);
		if (s == e)
			continue;
		if (*s == '[') {
			size_t n = (size_t)(e - s);

			if (n == 8 && memcmp(s, "[thread]", 8) == 0) {
				sec = NL_EVCONF_THREAD;
			} else if (n == 8 && memcmp(s, "[uncore]", 8) == 0) {
				sec = NL_EVCONF_UNCORE;
			} else {
				rc = fail(err, errlen, -EINVAL, path, line,
					  "unknown section \"%.*s\" (want "
					  "[thread] or [uncore])", (int)n, s);
				goto cleanup;
			}
			continue;
		}
		eq = memchr(s, '=', (size_t)(e - s));
		if (!eq) {
			rc = fail(err, errlen, -EINVAL, path, line,
				  "want NAME = EVENT, got \"%.*s\"",
				  (int)(e - s), s);
			goto cleanup;
		}
		{
			const char *ns = s, *ne = eq, *vs = eq + 1, *ve = e;

			trim(&ns, &ne);
			trim(&vs, &ve);
			if (!name_ok(ns, (size_t)(ne - ns))) {
				rc = fail(err, errlen, -EINVAL, path, line,
					  "bad name \"%.*s\" (1-%d characters "
					  "of A-Z a-z 0-9 _, not starting "
					  "with a digit)", (int)(ne - ns), ns,
					  NL_EVCONF_NAME_MAX - 1);
				goto cleanup;
			}
			if (vs == ve || (size_t)(ve - vs) >= NL_EVCONF_EVENT_MAX) {
				rc = fail(err, errlen, -EINVAL, path, line,
					  "%s event for \"%.*s\"",
					  vs == ve ? "empty" : "over-long",
					  (int)(ne - ns), ns);
				goto cleanup;
			}
			for (const char *q = vs; q < ve; q++) {
				if (isspace((unsigned char)*q)) {
					rc = fail(err, errlen, -EINVAL, path,
						  line, "space inside the "
						  "event \"%.*s\"",
						  (int)(ve - vs), vs);
					goto cleanup;
				}
			}
			for (size_t i = 0; i < out->n; i++) {
				const struct nl_evconf_entry *o = &out->entries[i];

				if (o->section == sec &&
				    strlen(o->name) == (size_t)(ne - ns) &&
				    memcmp(o->name, ns, (size_t)(ne - ns)) == 0) {
					rc = fail(err, errlen, -EINVAL, path,
						  line, "duplicate name \"%s\" "
						  "in [%s] (first on line %d)",
						  o->name,
						  nl_evconf_section_name(sec),
						  o->line);
					goto cleanup;
				}
			}
			rc = add(out, &cap, sec, ns, (size_t)(ne - ns), vs,
				 (size_t)(ve - vs), line);
			if (rc < 0) {
				fail(err, errlen, rc, path, line,
				     "out of memory");
				goto cleanup;
			}
		}
	}
cleanup:
	if (rc < 0)
		nl_evconf_free(out);
	return rc;
}

int nl_evconf_load(const char *path, struct nl_evconf *out, char *err,
		   size_t errlen)
{
	FILE *fp = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!path || !*path)
		return fail(err, errlen, -EINVAL, "--perf.config", 0,
			    "empty path");
	fp = fopen(path, "re");
	if (!fp) {
		rc = -errno;
		fail(err, errlen, rc, path, 0, "cannot read: %s",
		     strerror(-rc));
		goto cleanup;
	}
	text = malloc(EVCONF_FILE_MAX + 1);
	if (!text) {
		rc = fail(err, errlen, -ENOMEM, path, 0, "out of memory");
		goto cleanup;
	}
	len = fread(text, 1, EVCONF_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		rc = fail(err, errlen, -EIO, path, 0, "read error");
		goto cleanup;
	}
	if (len > EVCONF_FILE_MAX) {
		rc = fail(err, errlen, -EFBIG, path, 0,
			  "larger than %d bytes", EVCONF_FILE_MAX);
		goto cleanup;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		rc = fail(err, errlen, -EINVAL, path, 0,
			  "contains a NUL byte (not a text file)");
		goto cleanup;
	}
	rc = nl_evconf_parse(text, path, out, err, errlen);
cleanup:
	if (fp)
		fclose(fp);
	free(text);
	return rc;
}

void nl_evconf_free(struct nl_evconf *c)
{
	if (!c)
		return;
	free(c->entries);
	c->entries = NULL;
	c->n = 0;
}
