/* Prometheus text exposition format 0.0.4 encoder for a snapshot. The
 * metric reference is docs/metrics.md. */
#ifndef NL_PROM_H
#define NL_PROM_H

#include "buf.h"
#include "snapshot.h"

#define NL_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append the exposition of `s` to `out`. `now` is the wall clock in seconds
 * (for numalens_snapshot_age_seconds). Output is deterministic for a given
 * snapshot and `now`. Return 0 or -ENOMEM. */
int nl_prom_encode(const struct nl_snapshot *s, double now, struct nl_buf *out);

/* Sample values are written with nl_buf_put_double() (buf.h): "NaN",
 * "+Inf", "-Inf", else the shortest decimal that reads back exactly. */
/* Append `s` as a label value body (without quotes): backslash, double
 * quote and newline escaped, invalid UTF-8 bytes replaced by U+FFFD (a
 * scraper rejects the whole scrape on invalid UTF-8). */
void nl_prom_escape_label(struct nl_buf *out, const char *s);

#endif
