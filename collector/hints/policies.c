/* The policy table: one row per built-in policy, by enum nl_policy. Each
 * row is defined in its family's file (policy_*.c); adding a policy is its
 * enum value, its declaration and row here, and its file
 * (docs/internals-hints.md). */
#include "engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The rows, each defined in its family's file. */
extern const struct nl_hint_policy nl_hint_policy_locality;   /* policy_greedy.c */
extern const struct nl_hint_policy nl_hint_policy_simple;     /* policy_greedy.c */
extern const struct nl_hint_policy nl_hint_policy_dino;       /* policy_dino.c */
extern const struct nl_hint_policy nl_hint_policy_asymsched;  /* policy_asymsched.c */

const struct nl_hint_policy *const nl_hint_policies[NL_POLICY_COUNT] = {
	[NL_POLICY_LOCALITY]  = &nl_hint_policy_locality,
	[NL_POLICY_SIMPLE]    = &nl_hint_policy_simple,
	[NL_POLICY_DINO]      = &nl_hint_policy_dino,
	[NL_POLICY_ASYMSCHED] = &nl_hint_policy_asymsched,
};

const char *nl_policy_name(enum nl_policy p)
{
	return (unsigned)p < NL_POLICY_COUNT ? nl_hint_policies[p]->name : "unknown";
}

int nl_policy_parse(const char *s, enum nl_policy *out)
{
	for (int p = 0; p < NL_POLICY_COUNT; p++) {
		if (strcmp(s, nl_hint_policies[p]->name) == 0) {
			*out = (enum nl_policy)p;
			return 0;
		}
	}
	return -EINVAL;
}

/* Both texts are built once from the table; names are short words. */
static char names_text[NL_POLICY_COUNT * 24];
static char error_text[sizeof(names_text) + 32];
static pthread_once_t texts_once = PTHREAD_ONCE_INIT;

static void texts_init(void)
{
	size_t o = 0;

	for (int p = 0; p < NL_POLICY_COUNT && o < sizeof(names_text); p++) {
		const char *sep = p == 0 ? "" : p == NL_POLICY_COUNT - 1 ? " or " : ", ";
		int w = snprintf(names_text + o, sizeof(names_text) - o, "%s%s", sep,
				 nl_hint_policies[p]->name);

		if (w < 0)
			break;
		o += (size_t)w;
	}
	snprintf(error_text, sizeof(error_text), "--hints.policy must be %s", names_text);
}

const char *nl_policy_names(void)
{
	pthread_once(&texts_once, texts_init);
	return names_text;
}

const char *nl_hints_policy_error(void)
{
	pthread_once(&texts_once, texts_init);
	return error_text;
}
