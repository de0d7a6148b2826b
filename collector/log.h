/* Logging: leveled, printf-checked, with a rate-limited "complaint" helper
 * for problems that would otherwise repeat every sample cycle. */
#ifndef NL_LOG_H
#define NL_LOG_H

#include <stdbool.h>
#include <time.h>

enum nl_log_level { NL_LOG_ERROR, NL_LOG_WARN, NL_LOG_INFO, NL_LOG_DEBUG };

void nl_log_set_level(enum nl_log_level level);
int nl_log_parse_level(const char *s, enum nl_log_level *out);
void nl_log(enum nl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define nl_err(...)   nl_log(NL_LOG_ERROR, __VA_ARGS__)
#define nl_warn(...)  nl_log(NL_LOG_WARN, __VA_ARGS__)
#define nl_info(...)  nl_log(NL_LOG_INFO, __VA_ARGS__)
#define nl_debug(...) nl_log(NL_LOG_DEBUG, __VA_ARGS__)

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
