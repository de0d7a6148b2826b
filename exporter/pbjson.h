/* JSON for protobuf-c messages, driven by their descriptors, so the API has
 * one message tree per answer and two encodings of it that cannot drift
 * apart. The mapping (exporter/numalens-json.md):
 *   - keys are the .proto field names; absent optional fields are left out,
 *     repeated fields are always present (possibly []);
 *   - enums are strings: the value name in lower case without the prefix
 *     that repeats the enum's name (POLICY_LOCALITY -> "locality",
 *     PIN_VCPUS -> "pin_vcpus");
 *   - 64-bit integers are JSON numbers; doubles use the shortest form that
 *     reads back exactly; strings are UTF-8 (invalid bytes become U+FFFD).
 * Decoding is strict: unknown keys, duplicate keys, wrong types, integers
 * out of range and unknown enum names are errors; null means "absent". */
#ifndef NL_PBJSON_H
#define NL_PBJSON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "buf.h"

/* Append the JSON form of `m` to `out`. Return 0 or -ENOMEM. */
int nl_pbjson_encode(const ProtobufCMessage *m, struct nl_buf *out);

/* Parse `len` bytes of JSON into a new message of type `d` (free with
 * protobuf_c_message_free_unpacked(msg, NULL)). Return 0, -EINVAL with a
 * message in err, or -ENOMEM. */
int nl_pbjson_decode(const ProtobufCMessageDescriptor *d, const char *json,
		     size_t len, ProtobufCMessage **out, char *err, size_t errlen);

/* Check an unpacked message: no unknown fields, enum values that exist,
 * strings that are valid UTF-8. Return 0 or -EINVAL with a message. */
int nl_pb_check(const ProtobufCMessage *m, char *err, size_t errlen);

/* The JSON name of an enum value (see above) into buf; NULL when the value
 * is not in the enum. */
const char *nl_pbjson_enum_name(const ProtobufCEnumDescriptor *d, int value,
				char *buf, size_t len);

#endif
