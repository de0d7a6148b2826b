/* The HTTP client of `numalens apply`, on libcurl: the hints URL built from
 * --url with libcurl's URL API, one GET, and the answer read as a
 * numalens.v1.HintList (or the server's numalens.v1.Error).
 *
 * Plain http only, for now: https is refused as --url, and the transfer
 * allows the http scheme alone, until TLS client options (CA, client
 * certificate) come with flags of their own. The proxy variables of the
 * environment are not used: the server is a numalens on this host or on the
 * management network, and the hand-written client before this one never
 * used them either. */
#include "apply_priv.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "pbjson.h"

/* ---- the URL ---- */

static int url_rc(CURLUcode uc)
{
	return uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

static bool has_part(CURLU *u, CURLUPart part)
{
	char *v = NULL;
	bool has = curl_url_get(u, part, &v, 0) == CURLUE_OK;

	curl_free(v);
	return has;
}

/* Append "key=value" to a query, the value percent-encoded by libcurl
 * (everything but ALPHA / DIGIT / "-._~"). Nothing when val is NULL. */
static void add_arg(struct nl_buf *q, const char *key, const char *val)
{
	char *enc;

	if (!val)
		return;
	enc = curl_easy_escape(NULL, val, 0);
	if (!enc) {
		q->err = -ENOMEM;
		return;
	}
	nl_buf_printf(q, "%s%s=%s", q->len ? "&" : "", key, enc);
	curl_free(enc);
}

/* The path below `base`'s prefix (PREFIX/api/v1/ENDPOINT[/NAME[/SUB]]) and
 * the query, into u. NAME is percent-encoded like a query value. */
static int set_target(CURLU *u, const struct nl_apply_path *p)
{
	struct nl_buf path = { 0 }, query = { 0 };
	char *prefix = NULL, *name = NULL;
	CURLUcode uc;
	size_t n;
	int rc;

	uc = curl_url_get(u, CURLUPART_PATH, &prefix, 0);
	if (uc)
		return url_rc(uc);
	n = strlen(prefix);
	while (n && prefix[n - 1] == '/')
		n--;
	nl_buf_add(&path, prefix, n);
	nl_buf_printf(&path, "/api/v1/%s", p->endpoint);
	if (p->name && (!strcmp(p->name, ".") || !strcmp(p->name, ".."))) {
		/* a dot segment libcurl would squash away before sending */
		nl_buf_puts(&path, p->name[1] ? "/%2e%2e" : "/%2e");
	} else if (p->name) {
		name = curl_easy_escape(NULL, p->name, 0);
		if (!name)
			path.err = -ENOMEM;
		else
			nl_buf_printf(&path, "/%s", name);
	}
	if (p->sub)
		nl_buf_printf(&path, "/%s", p->sub);
	for (size_t i = 0; i < NL_APPLY_MAX_ARGS && p->args[i][0]; i++)
		add_arg(&query, p->args[i][0], p->args[i][1]);
	if (path.err || query.err) {
		rc = -ENOMEM;
		goto cleanup;
	}
	/* already encoded: libcurl must not encode the %XX again */
	uc = curl_url_set(u, CURLUPART_PATH, path.data, 0);
	if (!uc)
		uc = curl_url_set(u, CURLUPART_QUERY, query.len ? query.data : NULL, 0);
	rc = uc ? url_rc(uc) : 0;
cleanup:
	curl_free(name);
	curl_free(prefix);
	nl_buf_free(&path);
	nl_buf_free(&query);
	return rc;
}

int nl_apply_hints_url(const char *base, const struct nl_apply_query *q, char **out)
{
	struct nl_apply_path p = { "hints", NULL, NULL,
		{ { "policy", q->policy }, { "vm", q->vm }, { "kind", q->kind }, { "id", q->id } } };

	return nl_apply_api_url(base, &p, out);
}

int nl_apply_api_url(const char *base, const struct nl_apply_path *p, char **out)
{
	CURLU *u = NULL;
	char *port = NULL, *url = NULL;
	CURLUcode uc;
	int rc = -EINVAL;

	*out = NULL;
	/* the scheme as typed: libcurl alone would also take "http:/host" */
	if (strncasecmp(base, "http://", 7) != 0 && strncasecmp(base, "https://", 8) != 0)
		return -EINVAL;
	u = curl_url();
	if (!u)
		return -ENOMEM;
	uc = curl_url_set(u, CURLUPART_URL, base, 0);
	if (uc) {
		rc = url_rc(uc);
		goto cleanup;
	}
	/* no credentials (no auth options yet), no query or fragment of its own */
	if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
	    has_part(u, CURLUPART_OPTIONS) || has_part(u, CURLUPART_QUERY) ||
	    has_part(u, CURLUPART_FRAGMENT))
		goto cleanup;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && atoi(port) == 0)
		goto cleanup;
	rc = set_target(u, p);
	if (rc)
		goto cleanup;
	uc = curl_url_get(u, CURLUPART_URL, &url, 0);
	if (uc) {
		rc = url_rc(uc);
		goto cleanup;
	}
	*out = strdup(url);
	rc = *out ? 0 : -ENOMEM;
cleanup:
	curl_free(url);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* ---- the GET ---- */

struct sink {
	struct nl_buf *body;
	size_t max;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (len > s->max - s->body->len) {
		s->too_big = true;
		return 0;           /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	return nl_buf_add(s->body, data, len) ? 0 : len;
}

/* CURLcode to -errno, and the message. */
static int transfer_error(CURLcode cc, const struct sink *s, const char *url, double timeout,
			  const char *ebuf, char *err, size_t errlen)
{
	const char *why = ebuf[0] ? ebuf : curl_easy_strerror(cc);

	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(err, errlen, "cannot resolve the host of %s: %s", url, why);
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		snprintf(err, errlen, "cannot connect to %s: %s", url, why);
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "%s: no answer within %g s (--timeout): %s", url, timeout, why);
		return -ETIMEDOUT;
	case CURLE_FILESIZE_EXCEEDED:
		snprintf(err, errlen, "%s: response larger than %zu bytes", url, s->max);
		return -EFBIG;
	case CURLE_WRITE_ERROR:
		if (s->too_big) {
			snprintf(err, errlen, "%s: response larger than %zu bytes", url, s->max);
			return -EFBIG;
		}
		snprintf(err, errlen, "%s: out of memory", url);
		return -ENOMEM;
	case CURLE_OUT_OF_MEMORY:
		snprintf(err, errlen, "%s: out of memory", url);
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		snprintf(err, errlen, "%s: stopped (signal)", url);
		return -ECANCELED;
	default:
		snprintf(err, errlen, "%s: %s", url, why);
		return -EPROTO;
	}
}

/* Set by nl_apply_http_stop_on(): a transfer ends when it turns non-zero. */
static volatile sig_atomic_t *stop_flag;

void nl_apply_http_stop_on(volatile sig_atomic_t *flag)
{
	stop_flag = flag;
}

/* libcurl calls this at least once a second while a transfer runs, and
 * more often while data flows: the way a signal ends a transfer that a
 * poll(2) inside libcurl would otherwise resume. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	(void)arg, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return stop_flag && *stop_flag;
}

static const struct nl_apply_client *client;

void nl_apply_http_client(const struct nl_apply_client *c)
{
	client = c;
}

int nl_apply_client_from(const char *prog, const struct nl_apply_opts *o,
			 struct nl_apply_client *c, char *pw, size_t pwlen)
{
	memset(c, 0, sizeof(*c));
	c->ca_file = o->ca_file;
	c->cert_file = o->cert_file;
	c->key_file = o->key_file;
	c->user = o->user;
	if (!o->cert_file != !o->key_file) {
		fprintf(stderr, "numalens %s: --tls.cert-file and --tls.key-file go together\n", prog);
		return 2;
	}
	if (!o->user != !o->password_file) {
		fprintf(stderr, "numalens %s: --auth.user and --auth.password-file go together\n", prog);
		return 2;
	}
	if (o->password_file) {
		FILE *f = fopen(o->password_file, "r");

		if (!f || !fgets(pw, (int)pwlen, f)) {
			fprintf(stderr, "numalens %s: --auth.password-file=%s: %s\n", prog,
				o->password_file, f ? "empty" : strerror(errno));
			if (f)
				fclose(f);
			return 2;
		}
		fclose(f);
		pw[strcspn(pw, "\r\n")] = '\0';
		c->password = pw;
	}
	return 0;
}

/* TLS and basic auth of the client set, if any. */
static CURLcode set_client(CURL *h)
{
	CURLcode cc = CURLE_OK;

	if (!client)
		return cc;
	if (client->ca_file)
		cc = curl_easy_setopt(h, CURLOPT_CAINFO, client->ca_file);
	if (!cc && client->cert_file)
		cc = curl_easy_setopt(h, CURLOPT_SSLCERT, client->cert_file);
	if (!cc && client->key_file)
		cc = curl_easy_setopt(h, CURLOPT_SSLKEY, client->key_file);
	if (!cc && client->user) {
		cc = curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		if (!cc)
			cc = curl_easy_setopt(h, CURLOPT_USERNAME, client->user);
		if (!cc)
			cc = curl_easy_setopt(h, CURLOPT_PASSWORD, client->password);
	}
	return cc;
}

/* The options of one transfer, in the order they are set. */
static CURLcode set_options(CURL *h, const struct nl_apply_req *q, struct curl_slist *hdrs,
			    struct sink *s, char *ebuf)
{
	long ms = (long)(q->timeout * 1000 + 0.5);
	CURLcode cc;

	if (ms < 1)
		ms = 1;
	cc = curl_easy_setopt(h, CURLOPT_URL, q->url);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!cc)
		cc = set_client(h);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_USERAGENT, q->agent ? q->agent : "numalens-apply");
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)q->max_bytes);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (!cc && q->body) {
		/* POSTFIELDS, not COPYPOSTFIELDS: the body outlives the call */
		cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		if (!cc)
			cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
	}
	return cc;
}

int nl_apply_http(const struct nl_apply_req *q, struct nl_apply_reply *r, char *err, size_t errlen)
{
	struct sink s = { &r->body, q->max_bytes, false };
	struct curl_slist *hdrs = NULL, *more;
	char ebuf[CURL_ERROR_SIZE] = "", ctype_hdr[160];
	const char *ctype = NULL;
	CURL *h = NULL;
	CURLcode cc;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	h = curl_easy_init();
	hdrs = curl_slist_append(NULL, "Accept: " NL_API_PROTOBUF);
	if (hdrs && q->body) {
		snprintf(ctype_hdr, sizeof(ctype_hdr), "Content-Type: %s",
			 q->content_type ? q->content_type : NL_API_PROTOBUF);
		more = curl_slist_append(hdrs, ctype_hdr);
		/* no "Expect: 100-continue" round trip for a small body */
		more = more ? curl_slist_append(more, "Expect:") : NULL;
		if (!more) {
			curl_slist_free_all(hdrs);
			hdrs = NULL;
		}
	}
	if (!h || !hdrs) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto cleanup;
	}
	cc = set_options(h, q, hdrs, &s, ebuf);
	if (!cc)
		cc = curl_easy_perform(h);
	if (cc) {
		rc = transfer_error(cc, &s, q->url, q->timeout, ebuf, err, errlen);
		goto cleanup;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
		snprintf(r->content_type, sizeof(r->content_type), "%s", ctype);
cleanup:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return rc;
}

int nl_apply_http_get(const char *url, double timeout, size_t max_bytes,
		      struct nl_apply_reply *r, char *err, size_t errlen)
{
	struct nl_apply_req q = { .url = url, .timeout = timeout, .max_bytes = max_bytes };

	return nl_apply_http(&q, r, err, errlen);
}

void nl_apply_reply_free(struct nl_apply_reply *r)
{
	if (r)
		nl_buf_free(&r->body);
}

bool nl_apply_url_is_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	bool ok = false;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
		struct in_addr a4;

		ok = !strcasecmp(host, "localhost") || !strcmp(host, "[::1]") ||
		     (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127);
	}
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* ---- the answer ---- */

/* Does `s` hold a byte a terminal acts on: C0 controls but tab and newline
 * (a multi-line "same as" command is the server's to send), DEL, or a C1
 * control (U+0080..U+009F, UTF-8 C2 80..C2 9F: 8-bit CSI and friends)? */
static bool has_ctrl(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f ||
		    (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return true;
	return false;
}

char *nl_apply_escape_ctrl(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * n + 1), *w = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
			w += sprintf(w, "\\x%02x", *p);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			w += sprintf(w, "\\x%02x", p[1]);
			p++;
		} else {
			*w++ = (char)*p;
		}
	}
	*w = '\0';
	return out;
}

/* Every string of `m` and its sub-messages with control bytes escaped
 * (nl_apply_escape_ctrl), so nothing a server says can drive the
 * operator's terminal. Strings of an unpacked message are malloc()ed one
 * by one (protobuf-c's default allocator), so each is replaced in place. */
static int sanitize(ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *base = (char *)m + f->offset;
		size_t n = 1;
		void **items = (void **)base;

		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(size_t *)((char *)m + f->quantifier_offset);
			items = *(void ***)base;
		}
		for (size_t k = 0; items && k < n; k++) {
			if (!items[k])
				continue;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				if (sanitize(items[k]))
					return -ENOMEM;
			} else if (items[k] != f->default_value && has_ctrl(items[k])) {
				char *e = nl_apply_escape_ctrl(items[k]);

				if (!e)
					return -ENOMEM;
				free(items[k]);
				items[k] = e;
			}
		}
	}
	return 0;
}

/* err with control bytes escaped, in place (cut to errlen) */
static void escape_err(char *err, size_t errlen)
{
	char *e;

	if (!has_ctrl(err) || !(e = nl_apply_escape_ctrl(err)))
		return;
	snprintf(err, errlen, "%s", e);
	free(e);
}

int nl_apply_decode(const char *server, const struct nl_apply_reply *r,
		    const ProtobufCMessageDescriptor *d, ProtobufCMessage **out,
		    char *err, size_t errlen)
{
	const uint8_t *data = (const uint8_t *)(r->body.data ? r->body.data : "");
	ProtobufCMessage *m;
	char why[300];

	*out = NULL;
	if (strncasecmp(r->content_type, NL_API_PROTOBUF, strlen(NL_API_PROTOBUF)) != 0) {
		snprintf(err, errlen, "%s answered %ld with %s: %.300s", server, r->status,
			 r->content_type[0] ? r->content_type : "no content type",
			 r->body.data ? r->body.data : "");
		escape_err(err, errlen);
		return -EPROTO;
	}
	if (r->status < 200 || r->status > 299) {
		Numalens__V1__Error *e = numalens__v1__error__unpack(NULL, r->body.len, data);

		snprintf(err, errlen, "%s answered %ld: %s", server, r->status,
			 e && e->message ? e->message : "(no message)");
		if (e)
			numalens__v1__error__free_unpacked(e, NULL);
		escape_err(err, errlen);
		return r->status > 0 ? (int)r->status : -EPROTO;
	}
	m = protobuf_c_message_unpack(d, NULL, r->body.len, data);
	if (!m || nl_pb_check(m, why, sizeof(why)) ||
	    (sanitize(m) && snprintf(why, sizeof(why), "out of memory") > 0)) {
		snprintf(err, errlen, "the answer of %s is not a valid %s%s%s", server, d->name,
			 m ? ": " : "", m ? why : "");
		escape_err(err, errlen);
		if (m)
			protobuf_c_message_free_unpacked(m, NULL);
		return -EPROTO;
	}
	*out = m;
	return 0;
}

Numalens__V1__HintList *nl_apply_hints_decode(const char *server,
					      const struct nl_apply_reply *r, int *ret,
					      char *err, size_t errlen)
{
	ProtobufCMessage *m;
	int rc;

	rc = nl_apply_decode(server, r, &numalens__v1__hint_list__descriptor, &m, err, errlen);
	*ret = rc == 0 ? 0 : rc == 404 ? 3 : 1;
	return (Numalens__V1__HintList *)m;
}
