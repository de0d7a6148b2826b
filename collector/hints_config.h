/* The hint engine's settings (--hints.*): value types only, so that
 * config.h can hold them without seeing the engine. Defaults in
 * nl_hint_config_defaults(), meaning in docs/api.md. */
#ifndef NL_HINTS_CONFIG_H
#define NL_HINTS_CONFIG_H

/* The built-in policies, in the order of the policy table
 * (collector/hints/policies.c) and of the .proto enum Policy. */
enum nl_policy {
	NL_POLICY_LOCALITY,    /* maximise locality weighted by memory intensity */
	NL_POLICY_SIMPLE,      /* highest LLC miss rate gets the best layout first */
	NL_POLICY_DINO,        /* spread memory-intensive VMs over nodes */
	NL_POLICY_ASYMSCHED,   /* cut remote traffic of the top bandwidth VMs,
				  least memory moved within 10% of the best */
	NL_POLICY_COUNT
};

struct nl_hint_config {
	enum nl_policy policy;          /* --hints.policy, locality */
	double enter_gain;              /* --hints.enter-gain, 0.2 */
	double exit_gain;               /* --hints.exit-gain, 0.05 */
	unsigned confirm_windows;       /* --hints.confirm-windows, 3 */
	double cooldown_seconds;        /* --hints.cooldown, 300 */
	double ttl_seconds;             /* --hints.ttl, 120 */
	double mpki_threshold;          /* --hints.mpki-threshold, 5 */
	double bandwidth_threshold;     /* --hints.bandwidth-threshold, B/s */
	double proxy_threshold;         /* --hints.proxy-threshold, 1 */
	double memory_reserve;          /* --hints.memory-reserve, bytes */
	double cpu_limit;               /* --hints.cpu-limit, 0.9 */
	double min_move;                /* --hints.min-move, bytes */
};

void nl_hint_config_defaults(struct nl_hint_config *c);
/* Check ranges; return NULL or a message naming the bad setting. */
const char *nl_hint_config_check(const struct nl_hint_config *c);

#endif
