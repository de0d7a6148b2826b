/* Logging: leveled, printf-checked, with a rate-limited "complaint" helper
 * for problems that would otherwise repeat every sample cycle. */
#ifndef NL_LOG_H
#define NL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

enum nl_log_level { NL_LOG_ERROR, NL_LOG_WARN, NL_LOG_INFO, NL_LOG_DEBUG };

void nl_log_set_level(enum nl_log_level level);
/* Where lines go (NULL: stderr, the default). */
void nl_log_set_stream(FILE *f);
int nl_log_parse_level(const char *s, enum nl_log_level *out);
void nl_log(enum nl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define nl_err(...)   nl_log(NL_LOG_ERROR, __VA_ARGS__)
#define nl_warn(...)  nl_log(NL_LOG_WARN, __VA_ARGS__)
#define nl_info(...)  nl_log(NL_LOG_INFO, __VA_ARGS__)
#define nl_debug(...) nl_log(NL_LOG_DEBUG, __VA_ARGS__)

/* logfmt-quote `in` into `out` (NUL-terminated, at most outlen - 1 bytes):
 * '"' and '\\' get a backslash, newline, CR and tab become \n \r \t, any
 * other byte below 0x20 and 0x7f becomes \xNN. A VM name or a client's
 * string can never end the value or start a second line. An escape is never
 * cut in half at the end of `out`. Returns the bytes written. */
size_t nl_log_escape(char *out, size_t outlen, const char *in);

/* A complaint is logged the first time, then at most once per `interval`
 * seconds (doubling up to an hour) while it persists; nl_complain_clear()
 * logs once that it went away. Zero-initialise. */
struct nl_complaint {
	time_t last;
	int interval;
	bool active;
};

void nl_complain(struct nl_complaint *c, enum nl_log_level level,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void nl_complain_clear(struct nl_complaint *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
