/* Internals of `numalens place` (exporter/apply.h), shared by its files and
 * reached by tests/unit/test_place.c:
 *
 *   place.c      command line; the source's profile; each candidate's
 *                POST /api/v1/placement; the ranking; --register
 *   place_out.c  the table (or --json) of the ranked hosts and the arrival
 *
 * The HTTP client is `numalens apply`'s (apply_priv.h). */
#ifndef NL_PLACE_PRIV_H
#define NL_PLACE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "numalens.pb-c.h"

/* Exit status (docs/api.md "Across hosts"). */
#define NL_PLACE_OK 0
#define NL_PLACE_USAGE 2
#define NL_PLACE_NO_FIT 3
#define NL_PLACE_NET 4

/* At most this many --to hosts. */
#define NL_PLACE_MAX_HOSTS 64

/* Most VM names listed as "to move" for one host. */
#define NL_PLACE_MAX_MOVERS 8

/* One candidate host and what it answered. */
struct nl_place_host {
	const char *url;           /* as given in --to */
	size_t index;              /* its place in --to */
	int rc;                    /* 0; -errno (no answer) or an HTTP status */
	char err[600];             /* why, when rc */
	Numalens__V1__Placement *pl;
	/* the summary of pl (nl_place_summarise) */
	bool fits;                 /* a node is feasible */
	const Numalens__V1__NodeRank *best;  /* the recommended node, else the top one; or NULL */
	uint64_t move_bytes;       /* resident memory that would move for it */
	size_t nmovers;            /* distinct VMs that would move */
	const char *movers[NL_PLACE_MAX_MOVERS];
};

/* The fields after pl from pl (none when rc or !pl). */
void nl_place_summarise(struct nl_place_host *h);

/* Best first: hosts that answered before those that did not; a fitting
 * host before one that does not; a higher score of its best node; fewer
 * bytes to move; then the order of --to. */
void nl_place_rank(struct nl_place_host *hosts, size_t n);

/* The exit status of ranked hosts: 0 when the first fits, else 4 when any
 * host could not be asked (it might have fitted), else 3. */
int nl_place_status(const struct nl_place_host *hosts, size_t n);

/* Split a --to list on commas into urls (pointers into `list`, which is
 * changed). Return how many, or -EINVAL (an empty item) or -E2BIG (more
 * than max). */
int nl_place_split(char *list, const char **urls, size_t max);

/* What was asked and found, for the output. */
struct nl_place_report {
	const char *from, *vm, *policy;    /* policy NULL: each host's default */
	const Numalens__V1__Profile *profile;
	struct nl_place_host *hosts;       /* ranked */
	size_t n;
	const struct nl_place_host *registered_on;  /* --register: the winner, or NULL */
	const Numalens__V1__Arrival *arrival;       /* its answer, or NULL */
	const char *register_err;          /* --register failed: why; else NULL */
};

/* The ranked hosts as a table, and with --register the arrival: its node,
 * hints and the destination placement XML with its virsh usage. */
void nl_place_print(const struct nl_place_report *r, FILE *out);

/* The same as one JSON object (docs/api.md). Return 0 or -ENOMEM. */
int nl_place_print_json(const struct nl_place_report *r, FILE *out);

#endif
