/* JSON <-> protobuf-c by descriptor. See pbjson.h. */
#include "pbjson.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- enum names ---- */

/* "HintKind" -> "HINT_KIND_" */
static void enum_prefix(const char *short_name, char *buf, size_t len)
{
	size_t o = 0;

	for (const char *p = short_name; *p && o + 3 < len; p++) {
		if (p != short_name && isupper((unsigned char)*p) &&
		    islower((unsigned char)p[-1]))
			buf[o++] = '_';
		buf[o++] = (char)toupper((unsigned char)*p);
	}
	buf[o++] = '_';
	buf[o] = '\0';
}

static const char *json_enum_name(const ProtobufCEnumDescriptor *d,
				  const char *value_name, char *buf, size_t len)
{
	char prefix[64];
	size_t n, o = 0;

	enum_prefix(d->short_name, prefix, sizeof(prefix));
	n = strlen(prefix);
	if (strncmp(value_name, prefix, n) == 0 && value_name[n])
		value_name += n;
	for (const char *p = value_name; *p && o + 1 < len; p++)
		buf[o++] = (char)tolower((unsigned char)*p);
	buf[o] = '\0';
	return buf;
}

const char *nl_pbjson_enum_name(const ProtobufCEnumDescriptor *d, int value,
				char *buf, size_t len)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);

	return v ? json_enum_name(d, v->name, buf, len) : NULL;
}

static const ProtobufCEnumValue *enum_by_json(const ProtobufCEnumDescriptor *d,
					      const char *s)
{
	char buf[96];

	for (unsigned i = 0; i < d->n_values; i++)
		if (strcmp(json_enum_name(d, d->values[i].name, buf, sizeof(buf)), s) == 0)
			return &d->values[i];
	return NULL;
}

/* ---- encoding ---- */

static void json_string(struct nl_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	nl_buf_putc(b, '"');
	while (*p) {
		size_t n = nl_buf_utf8_len((const char *)p);

		if (!n) {
			nl_buf_puts(b, "\\ufffd");
			p++;
			continue;
		}
		if (n > 1) {
			nl_buf_add(b, p, n);
			p += n;
			continue;
		}
		switch (*p) {
		case '"': nl_buf_puts(b, "\\\""); break;
		case '\\': nl_buf_puts(b, "\\\\"); break;
		case '\n': nl_buf_puts(b, "\\n"); break;
		case '\r': nl_buf_puts(b, "\\r"); break;
		case '\t': nl_buf_puts(b, "\\t"); break;
		default:
			if (*p < 0x20)
				nl_buf_printf(b, "\\u%04x", *p);
			else
				nl_buf_putc(b, (char)*p);
		}
		p++;
	}
	nl_buf_putc(b, '"');
}

static void json_double(struct nl_buf *b, double v)
{
	if (!isfinite(v)) {
		nl_buf_puts(b, "null");
		return;
	}
	nl_buf_put_double(b, v);
}

static void encode_msg(const ProtobufCMessage *m, struct nl_buf *b);

static void encode_value(const ProtobufCFieldDescriptor *f, const void *p,
			 struct nl_buf *b)
{
	char name[96];

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		nl_buf_printf(b, "%d", *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		nl_buf_printf(b, "%u", *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		nl_buf_printf(b, "%lld", (long long)*(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		nl_buf_printf(b, "%llu", (unsigned long long)*(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		json_double(b, *(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		json_double(b, *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		nl_buf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const char *s = nl_pbjson_enum_name(f->descriptor, v, name, sizeof(name));

		if (s)
			json_string(b, s);
		else
			nl_buf_printf(b, "%d", v);
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		json_string(b, *(char *const *)p);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		json_string(b, "");   /* not used by the schema */
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		encode_msg(*(ProtobufCMessage *const *)p, b);
		break;
	}
}

static size_t type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

/* Is optional field f present in m? */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;

	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)(base + f->offset) != NULL;
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
}

static void encode_msg(const ProtobufCMessage *m, struct nl_buf *b)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	bool first = true;

	nl_buf_putc(b, '{');
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(const char *const *)(base + f->offset);

			nl_buf_printf(b, "%s\"%s\":[", first ? "" : ",", f->name);
			for (size_t k = 0; k < n; k++) {
				if (k)
					nl_buf_putc(b, ',');
				encode_value(f, arr + k * type_size(f->type), b);
			}
			nl_buf_putc(b, ']');
			first = false;
			continue;
		}
		if (!present(m, f))
			continue;
		nl_buf_printf(b, "%s\"%s\":", first ? "" : ",", f->name);
		encode_value(f, base + f->offset, b);
		first = false;
	}
	nl_buf_putc(b, '}');
}

int nl_pbjson_encode(const ProtobufCMessage *m, struct nl_buf *out)
{
	encode_msg(m, out);
	return out->err;
}

/* ---- decoding ---- */

struct dec {
	char *err;
	size_t errlen;
	int rc;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	if (d->rc)
		return d->rc;
	va_start(ap, fmt);
	vsnprintf(d->err, d->errlen, fmt, ap);
	va_end(ap);
	d->rc = -EINVAL;
	return d->rc;
}

static int oom(struct dec *d)
{
	if (!d->rc) {
		snprintf(d->err, d->errlen, "out of memory");
		d->rc = -ENOMEM;
	}
	return d->rc;
}

static int decode_msg(struct dec *d, const ProtobufCMessageDescriptor *md,
		      const cJSON *obj, ProtobufCMessage **out, const char *path);

/* Store JSON value j for field f at p (an element slot). */
static int decode_value(struct dec *d, const ProtobufCFieldDescriptor *f,
			const cJSON *j, void *p, const char *path)
{
	double v;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		bool is_signed = f->type == PROTOBUF_C_TYPE_INT32 ||
				 f->type == PROTOBUF_C_TYPE_SINT32 ||
				 f->type == PROTOBUF_C_TYPE_SFIXED32 ||
				 f->type == PROTOBUF_C_TYPE_INT64 ||
				 f->type == PROTOBUF_C_TYPE_SINT64 ||
				 f->type == PROTOBUF_C_TYPE_SFIXED64;
		bool wide = type_size(f->type) == 8;
		double lo = is_signed ? (wide ? -9007199254740992.0 : INT32_MIN) : 0;
		double hi = wide ? 9007199254740992.0 : is_signed ? INT32_MAX : UINT32_MAX;

		if (!cJSON_IsNumber(j))
			return fail(d, "%s: want an integer", path);
		v = j->valuedouble;
		if (!isfinite(v) || v != floor(v))
			return fail(d, "%s: want an integer, got %g", path, v);
		if (v < lo || v > hi)
			return fail(d, "%s: %.17g out of range", path, v);
		if (wide && is_signed)
			*(int64_t *)p = (int64_t)v;
		else if (wide)
			*(uint64_t *)p = (uint64_t)v;
		else if (is_signed)
			*(int32_t *)p = (int32_t)v;
		else
			*(uint32_t *)p = (uint32_t)v;
		return 0;
	}
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
			return fail(d, "%s: want a number", path);
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)p = (float)j->valuedouble;
		else
			*(double *)p = j->valuedouble;
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!cJSON_IsBool(j))
			return fail(d, "%s: want true or false", path);
		*(protobuf_c_boolean *)p = cJSON_IsTrue(j);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev;

		if (!cJSON_IsString(j))
			return fail(d, "%s: want a string", path);
		ev = enum_by_json(f->descriptor, j->valuestring);
		if (!ev)
			return fail(d, "%s: unknown value \"%.64s\"", path, j->valuestring);
		*(int *)p = ev->value;
		return 0;
	}
	case PROTOBUF_C_TYPE_STRING:
		if (!cJSON_IsString(j))
			return fail(d, "%s: want a string", path);
		if (!nl_buf_utf8_valid(j->valuestring))
			return fail(d, "%s: not valid UTF-8", path);
		*(char **)p = strdup(j->valuestring);
		return *(char **)p ? 0 : oom(d);
	case PROTOBUF_C_TYPE_BYTES:
		return fail(d, "%s: bytes fields are not supported", path);
	case PROTOBUF_C_TYPE_MESSAGE:
		if (!cJSON_IsObject(j))
			return fail(d, "%s: want an object", path);
		return decode_msg(d, f->descriptor, j, (ProtobufCMessage **)p, path);
	}
	return fail(d, "%s: unsupported type", path);
}

static int decode_msg(struct dec *d, const ProtobufCMessageDescriptor *md,
		      const cJSON *obj, ProtobufCMessage **out, const char *path)
{
	ProtobufCMessage *m = malloc(md->sizeof_message);
	char *base;
	const cJSON *j;

	*out = NULL;
	if (!m)
		return oom(d);
	protobuf_c_message_init(md, m);
	*out = m;
	base = (char *)m;
	cJSON_ArrayForEach(j, obj) {
		const ProtobufCFieldDescriptor *f;
		char sub[256];

		if (!j->string)
			return fail(d, "%s: malformed member", path);
		for (const cJSON *k = obj->child; k != j; k = k->next)
			if (k->string && strcmp(k->string, j->string) == 0)
				return fail(d, "%s: duplicate field \"%.64s\"", path, j->string);
		f = protobuf_c_message_descriptor_get_field_by_name(md, j->string);
		if (!f)
			return fail(d, "%s: unknown field \"%.64s\" (%s has no such field)",
				    path, j->string, md->short_name);
		snprintf(sub, sizeof(sub), "%s.%s", path, f->name);
		if (cJSON_IsNull(j))
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = (size_t)cJSON_GetArraySize(j), k = 0, sz = type_size(f->type);
			char *arr;
			const cJSON *e;

			if (!cJSON_IsArray(j))
				return fail(d, "%s: want an array", sub);
			if (n == 0)
				continue;
			arr = calloc(n, sz);
			if (!arr)
				return oom(d);
			*(char **)(base + f->offset) = arr;
			cJSON_ArrayForEach(e, j) {
				char el[280];

				snprintf(el, sizeof(el), "%s[%zu]", sub, k);
				*(size_t *)(base + f->quantifier_offset) = k + 1;
				if (cJSON_IsNull(e))
					return fail(d, "%s: null in an array", el);
				if (decode_value(d, f, e, arr + k * sz, el))
					return d->rc;
				k++;
			}
			continue;
		}
		if (decode_value(d, f, j, base + f->offset, sub))
			return d->rc;
		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE &&
		    f->label == PROTOBUF_C_LABEL_OPTIONAL)
			*(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
	}
	return 0;
}

int nl_pbjson_decode(const ProtobufCMessageDescriptor *md, const char *json,
		     size_t len, ProtobufCMessage **out, char *err, size_t errlen)
{
	struct dec d = { err, errlen, 0 };
	const char *end = NULL;
	cJSON *root;
	ProtobufCMessage *m = NULL;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	/* nothing but white space may follow the value */
	while (root && end && end < json + len && isspace((unsigned char)*end))
		end++;
	if (root && end != json + len) {
		snprintf(err, errlen, "malformed JSON at byte %zu: data after the value",
			 end ? (size_t)(end - json) : len);
		cJSON_Delete(root);
		return -EINVAL;
	}
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		size_t off = at && at >= json && at <= json + len ? (size_t)(at - json) : len;

		if (off > len)
			off = len;
		snprintf(err, errlen, "malformed JSON at byte %zu", off);
		return -EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		snprintf(err, errlen, "the body must be a JSON object (a %s)", md->short_name);
		return -EINVAL;
	}
	decode_msg(&d, md, root, &m, md->short_name);
	cJSON_Delete(root);
	if (d.rc) {
		if (m)
			protobuf_c_message_free_unpacked(m, NULL);
		return d.rc;
	}
	*out = m;
	return 0;
}

/* ---- checks of unpacked protobuf ---- */

static int check_msg(struct dec *d, const ProtobufCMessage *m, const char *path,
		     int depth)
{
	const ProtobufCMessageDescriptor *md = m->descriptor;
	const char *base = (const char *)m;

	if (depth > 32)
		return fail(d, "%s: nested too deep", path);
	if (m->n_unknown_fields)
		return fail(d, "%s: unknown field number %u (%s has no such field)",
			    path, m->unknown_fields[0].tag, md->short_name);
	for (unsigned i = 0; i < md->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &md->fields[i];
		size_t n = 1, sz = type_size(f->type);
		const char *arr = base + f->offset;
		char sub[256];

		snprintf(sub, sizeof(sub), "%s.%s", path, f->name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			arr = *(const char *const *)(base + f->offset);
		} else if (!present(m, f)) {
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			const void *p = arr + k * sz;

			if (f->type == PROTOBUF_C_TYPE_ENUM &&
			    !protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p))
				return fail(d, "%s: unknown enum value %d", sub, *(const int *)p);
			if (f->type == PROTOBUF_C_TYPE_STRING && *(char *const *)p &&
			    !nl_buf_utf8_valid(*(char *const *)p))
				return fail(d, "%s: not valid UTF-8", sub);
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage *const *)p &&
			    check_msg(d, *(ProtobufCMessage *const *)p, sub, depth + 1))
				return d->rc;
		}
	}
	return 0;
}

int nl_pb_check(const ProtobufCMessage *m, char *err, size_t errlen)
{
	struct dec d = { err, errlen, 0 };

	if (errlen)
		err[0] = '\0';
	return check_msg(&d, m, m->descriptor->short_name, 0);
}
