/* Internals of the /api/v1 code, shared by api.c (routes, replies) and
 * api_msg.c (message builders), and reached by tests/unit/test_api.c. */
#ifndef NL_API_PRIV_H
#define NL_API_PRIV_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "arrivals.h"
#include "hints.h"
#include "numalens.pb-c.h"

/* ---- C enums to numalens.proto enums ---- */

/* enum nl_hint_inputs has no _COUNT: its values are 0 .. this - 1 */
#define NL_API_INPUTS_COUNT (NL_INPUTS_PLACEMENT + 1)

/* The .proto value a C value stands for; the proto's *_UNSPECIFIED (0)
 * for a C value without a row in api_msg.c's tables (test_api.c's enum
 * test fails then). */
Numalens__V1__Policy nl_api_pb_policy(enum nl_policy p);
Numalens__V1__HintKind nl_api_pb_hint_kind(enum nl_hint_kind k);
Numalens__V1__ActionOp nl_api_pb_action_op(enum nl_action_op op);
Numalens__V1__Inputs nl_api_pb_inputs(enum nl_hint_inputs i);
Numalens__V1__ArrivalState nl_api_pb_arrival_state(enum nl_arrival_state st);
/* The engine policy a .proto value stands for: 0, or -EINVAL for a value
 * no engine policy maps to (POLICY_UNSPECIFIED included). */
int nl_api_policy_from_pb(Numalens__V1__Policy v, enum nl_policy *out);

/* ---- building messages (api_msg.c) ---- */

/* One answer's build: the snapshot it reads and the first error. Builders
 * return NULL (or a short list) after an allocation failure and leave
 * -ENOMEM in err; the caller checks err once and frees what was built. */
struct nl_api_bld {
	int err;
	const struct nl_snapshot *s;
	/* The snapshot whose VM indexes an arrival's ranking moves
	 * (nl_place_move.vm) refer to: the one it was registered on, or NULL
	 * when that is gone (the moves then name their VMs by the room-making
	 * hints, or not at all). Placements use s. */
	const struct nl_snapshot *ranked_on;
};

#define OPT(m, field, v) do { (m)->has_##field = 1; (m)->field = (v); } while (0)
#define OPT_D(m, field, v) do { \
	double v_ = (v); \
	if (isfinite(v_)) { (m)->has_##field = 1; (m)->field = v_; } } while (0)

struct nl_api_hint_filter {
	enum nl_policy policy;
	const char *vm;            /* the VM's hints and the moves made for it */
	bool kind_set;
	enum nl_hint_kind kind;
	const char *id;
	/* Hints not (yet) in the snapshot's report, listed after it: the
	 * pending arrivals' room-making hints. An id already in the report is
	 * left out. */
	const struct nl_hint *extra;
	size_t nextra;
};

void *nl_api_msg_new(struct nl_api_bld *b, const ProtobufCMessageDescriptor *d);
/* Free a message tree (a built or an unpacked one). Accepts NULL. */
void nl_api_msg_free(void *m);

Numalens__V1__HintList *nl_api_pb_hint_list(struct nl_api_bld *b,
					    const struct nl_api_hint_filter *f);
Numalens__V1__VmList *nl_api_pb_vm_list(struct nl_api_bld *b);
Numalens__V1__Vm *nl_api_pb_vm(struct nl_api_bld *b, const struct nl_vm_snap *vm,
			       bool detail, enum nl_policy pol);
Numalens__V1__Node **nl_api_pb_nodes(struct nl_api_bld *b, size_t *n);
Numalens__V1__Profile *nl_api_pb_profile(struct nl_api_bld *b, const struct nl_profile *p);
Numalens__V1__Placement *nl_api_pb_placement(struct nl_api_bld *b,
					     const struct nl_placement *pl);
Numalens__V1__Arrival *nl_api_pb_arrival(struct nl_api_bld *b, const struct nl_arrival_entry *e);
Numalens__V1__ArrivalList *nl_api_pb_arrival_list(struct nl_api_bld *b,
						  const struct nl_arrival_entry *e, size_t n,
						  double now);

/* A decoded Profile message to the engine's struct. Return 0 or -EINVAL
 * with the reason in err. */
int nl_api_profile_from_pb(const Numalens__V1__Profile *pm, struct nl_profile *p,
			   char *err, size_t errlen);

#endif
