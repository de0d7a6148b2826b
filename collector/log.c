#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum nl_log_level log_level = NL_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void nl_log_set_level(enum nl_log_level level)
{
	log_level = level;
}

int nl_log_parse_level(const char *s, enum nl_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum nl_log_level)i;
			return 0;
		}
	}
	return -1;
}

static void vlog(enum nl_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	struct timespec ts;
	struct tm tm;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* logfmt, one line: easy for journald and for grep */
	fprintf(stderr, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=\"%s\"\n",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], msg);
}

void nl_log(enum nl_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void nl_complain(struct nl_complaint *c, enum nl_log_level level,
		 const char *fmt, ...)
{
	time_t now = time(NULL);
	va_list ap;

	if (c->active && now - c->last < c->interval)
		return;
	if (!c->active)
		c->interval = 60;
	else if (c->interval < 3600)
		c->interval *= 2;
	c->active = true;
	c->last = now;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void nl_complain_clear(struct nl_complaint *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->active)
		return;
	c->active = false;
	va_start(ap, fmt);
	vlog(NL_LOG_INFO, fmt, ap);
	va_end(ap);
}
