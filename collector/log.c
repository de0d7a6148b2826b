#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum nl_log_level log_level = NL_LOG_INFO;
static FILE *log_stream;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void nl_log_set_level(enum nl_log_level level)
{
	log_level = level;
}

void nl_log_set_stream(FILE *f)
{
	log_stream = f;
}

size_t nl_log_escape(char *out, size_t outlen, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (!outlen)
		return 0;
	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		char e[4];
		size_t k = 2;

		e[0] = '\\';
		switch (c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				e[1] = 'x';
				e[2] = hex[c >> 4];
				e[3] = hex[c & 15];
				k = 4;
			} else {
				e[0] = (char)c;
				k = 1;
			}
		}
		if (n + k > outlen - 1)
			break;
		memcpy(out + n, e, k);
		n += k;
	}
	out[n] = '\0';
	return n;
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
	char msg[1024], esc[2048];
	struct timespec ts;
	struct tm tm;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	nl_log_escape(esc, sizeof(esc), msg);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* logfmt, one line whatever the message holds: easy for journald
	 * and for grep */
	fprintf(log_stream ? log_stream : stderr, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=\"%s\"\n",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], esc);
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
