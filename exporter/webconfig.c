/* The exporter-toolkit web configuration file (webconfig.h), read with
 * libyaml's document API; bcrypt through libxcrypt's crypt_r. */
#include "webconfig.h"

#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <gnutls/gnutls.h>
#include <yaml.h>

#include "paths.h"

#define MAX_FILE (1024 * 1024)   /* a certificate chain or key is far less */

struct parse {
	yaml_document_t *doc;
	const char *dir;
	struct nl_webcfg *c;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct parse *p, int id)
{
	return yaml_document_get_node(p->doc, id);
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n ? n->type : YAML_NO_NODE) {
	case YAML_SCALAR_NODE:
		return "a value";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* A scalar that YAML reads as null ("", "~", "null") */
static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	return !n || (s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		      (!*s || !strcmp(s, "~") || !strcmp(s, "null")));
}

static int want_string(struct parse *p, const char *key, const yaml_node_t *n,
		       char **out)
{
	const char *s = scalar(n);

	if (!s)
		return fail(p, "%s: want a string, got %s", key, node_kind(n));
	free(*out);
	*out = strdup(is_null(n) ? "" : s);
	return *out ? 0 : fail(p, "%s: out of memory", key);
}

static int want_bool(struct parse *p, const char *key, const yaml_node_t *n, bool *out)
{
	const char *s = scalar(n);

	if (s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")))
		*out = true;
	else if (s && (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")))
		*out = false;
	else
		return fail(p, "%s: want true or false, got \"%s\"", key, s ? s : node_kind(n));
	return 0;
}

/* A list of strings (null: empty). */
static int want_list(struct parse *p, const char *key, yaml_node_t *n,
		     char ***out, size_t *nout)
{
	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(p, "%s: want a list, got %s", key, node_kind(n));
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		const char *s = scalar(node(p, *it));
		char **na;

		if (!s)
			return fail(p, "%s: want a list of strings", key);
		na = realloc(*out, (*nout + 1) * sizeof(**out));
		if (!na)
			return fail(p, "%s: out of memory", key);
		*out = na;
		if (!(na[*nout] = strdup(s)))
			return fail(p, "%s: out of memory", key);
		(*nout)++;
	}
	return 0;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* ---- TLS versions, cipher suites, curves: Go's names, GnuTLS's ---- */

static const struct {
	const char *name;
	int version;
	const char *gnutls;
} versions[] = {
	{ "TLS10", 0x0301, "VERS-TLS1.0" },
	{ "TLS11", 0x0302, "VERS-TLS1.1" },
	{ "TLS12", 0x0303, "VERS-TLS1.2" },
	{ "TLS13", 0x0304, "VERS-TLS1.3" },
};

/* Go's TLS 1.0-1.2 suite names (crypto/tls), as a key exchange, a cipher
 * and a MAC in GnuTLS's terms. Go does not let TLS 1.3 suites be chosen;
 * neither does this. */
static const struct {
	const char *name, *kx, *cipher, *mac;
} suites[] = {
	{ "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "AES-128-CBC", "SHA1" },
	{ "TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "AES-256-CBC", "SHA1" },
	{ "TLS_RSA_WITH_AES_128_CBC_SHA256", "RSA", "AES-128-CBC", "SHA256" },
	{ "TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "AES-128-GCM", "AEAD" },
	{ "TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "AES-256-GCM", "AEAD" },
	{ "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA", "AES-128-CBC", "SHA1" },
	{ "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA", "AES-256-CBC", "SHA1" },
	{ "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA", "AES-128-CBC", "SHA1" },
	{ "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA", "AES-256-CBC", "SHA1" },
	{ "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA", "AES-128-CBC", "SHA256" },
	{ "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA", "AES-128-CBC", "SHA256" },
	{ "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA", "AES-128-GCM", "AEAD" },
	{ "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA", "AES-128-GCM", "AEAD" },
	{ "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA", "AES-256-GCM", "AEAD" },
	{ "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA", "AES-256-GCM", "AEAD" },
	{ "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD" },
	{ "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD" },
	/* Go's older aliases */
	{ "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD" },
	{ "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD" },
};

static const struct {
	const char *name, *gnutls;
} curves[] = {
	{ "CurveP256", "GROUP-SECP256R1" },
	{ "CurveP384", "GROUP-SECP384R1" },
	{ "CurveP521", "GROUP-SECP521R1" },
	{ "X25519", "GROUP-X25519" },
};

static int parse_version(struct parse *p, const char *key, const yaml_node_t *n, int *out)
{
	const char *s = scalar(n);

	for (size_t i = 0; s && i < sizeof(versions) / sizeof(versions[0]); i++)
		if (!strcmp(s, versions[i].name)) {
			*out = versions[i].version;
			return 0;
		}
	return fail(p, "%s: unknown TLS version \"%s\" (TLS10, TLS11, TLS12, TLS13)", key,
		    s ? s : node_kind(n));
}

/* Add "+ITEM" to a priority string unless it is there. */
static void prio_add(char *buf, size_t len, const char *item)
{
	char want[64];
	size_t have = strlen(buf);

	snprintf(want, sizeof(want), ":+%s", item);
	if (strstr(buf, want))
		return;
	snprintf(buf + have, len - have, "%s", want);
}

/* The GnuTLS priority string: NORMAL, versions min..max, and when suites
 * are named, only their key exchanges, ciphers and MACs (GnuTLS combines
 * them freely: a suite made of listed parts is allowed too), plus the
 * TLS 1.3 ciphers, which are not chosen. */
static int build_priorities(struct parse *p, char **ciphers, size_t nciphers,
			    char **curvel, size_t ncurves)
{
	char buf[2048] = "NORMAL:-VERS-ALL";
	int lo = p->c->min_version ? p->c->min_version : 0x0303;
	int hi = p->c->max_version ? p->c->max_version : 0x0304;

	if (hi < lo)
		return fail(p, "tls_server_config.max_version: lower than min_version");
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (versions[i].version >= lo && versions[i].version <= hi)
			prio_add(buf, sizeof(buf), versions[i].gnutls);
	if (nciphers) {
		strncat(buf, ":-KX-ALL:-CIPHER-ALL:-MAC-ALL", sizeof(buf) - strlen(buf) - 1);
		for (size_t i = 0; i < nciphers; i++) {
			size_t k = 0;

			while (k < sizeof(suites) / sizeof(suites[0]) &&
			       strcmp(suites[k].name, ciphers[i]))
				k++;
			if (k == sizeof(suites) / sizeof(suites[0]))
				return fail(p, "tls_server_config.cipher_suites: unknown suite \"%s\"",
					    ciphers[i]);
			prio_add(buf, sizeof(buf), suites[k].kx);
			prio_add(buf, sizeof(buf), suites[k].cipher);
			prio_add(buf, sizeof(buf), suites[k].mac);
		}
		if (hi >= 0x0304) {
			prio_add(buf, sizeof(buf), "AES-128-GCM");
			prio_add(buf, sizeof(buf), "AES-256-GCM");
			prio_add(buf, sizeof(buf), "CHACHA20-POLY1305");
			prio_add(buf, sizeof(buf), "AEAD");
		}
	}
	if (ncurves) {
		strncat(buf, ":-GROUP-ALL", sizeof(buf) - strlen(buf) - 1);
		for (size_t i = 0; i < ncurves; i++) {
			size_t k = 0;

			while (k < sizeof(curves) / sizeof(curves[0]) &&
			       strcmp(curves[k].name, curvel[i]))
				k++;
			if (k == sizeof(curves) / sizeof(curves[0]))
				return fail(p, "tls_server_config.curve_preferences: unknown curve \"%s\" (CurveP256, CurveP384, CurveP521, X25519)",
					    curvel[i]);
			prio_add(buf, sizeof(buf), curves[k].gnutls);
		}
	}
	p->c->priorities = strdup(buf);
	return p->c->priorities ? 0 : fail(p, "out of memory");
}

/* ---- files ---- */

static int read_named(struct parse *p, const char *key, char **path, char **pem)
{
	char full[NL_PATH_MAX], *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if ((*path)[0] != '/' && p->dir &&
	    snprintf(full, sizeof(full), "%s/%s", p->dir, *path) < (int)sizeof(full)) {
		char *d = strdup(full);

		if (!d)
			return fail(p, "%s: out of memory", key);
		free(*path);
		*path = d;
	}
	n = nl_read_file_alloc(*path, &buf, &cap);
	if (n < 0) {
		free(buf);
		return fail(p, "%s: cannot read %s: %s", key, *path, strerror((int)-n));
	}
	if (n == 0 || n > MAX_FILE) {
		free(buf);
		return fail(p, "%s: %s is %s", key, *path, n ? "larger than 1 MiB" : "empty");
	}
	*pem = buf;
	return 0;
}

/* Do the certificate and key load, and match (GnuTLS checks that the key
 * is the certificate's), the CA file hold a certificate, and GnuTLS take
 * the priority string? */
static int check_tls(struct parse *p)
{
	struct nl_webcfg *c = p->c;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	gnutls_datum_t cert = { (unsigned char *)c->cert_pem, (unsigned)strlen(c->cert_pem) };
	gnutls_datum_t key = { (unsigned char *)c->key_pem, (unsigned)strlen(c->key_pem) };
	const char *where = NULL;
	int r, rc = 0;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return fail(p, "tls_server_config: GnuTLS: out of memory");
	r = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
	if (r < 0)
		rc = fail(p, "tls_server_config.key_file: %s and %s do not load as a certificate and its key: %s",
			  c->cert_file, c->key_file, gnutls_strerror(r));
	if (rc == 0 && c->ca_pem) {
		gnutls_datum_t ca = { (unsigned char *)c->ca_pem, (unsigned)strlen(c->ca_pem) };

		r = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
		if (r <= 0)
			rc = fail(p, "tls_server_config.client_ca_file: %s holds no PEM certificate%s%s",
				  c->client_ca_file, r < 0 ? ": " : "", r < 0 ? gnutls_strerror(r) : "");
	}
	gnutls_certificate_free_credentials(cred);
	if (rc == 0) {
		r = gnutls_priority_init(&prio, c->priorities, &where);
		if (r < 0)
			rc = fail(p, "tls_server_config: GnuTLS refuses \"%s\" at \"%s\": %s",
				  c->priorities, where ? where : "?", gnutls_strerror(r));
		else
			gnutls_priority_deinit(prio);
	}
	return rc;
}

/* ---- sections ---- */

static const char *const client_auth_names[] = {
	[NL_CLIENT_NONE] = "NoClientCert",
	[NL_CLIENT_REQUEST] = "RequestClientCert",
	[NL_CLIENT_REQUIRE_ANY] = "RequireAnyClientCert",
	[NL_CLIENT_VERIFY_IF_GIVEN] = "VerifyClientCertIfGiven",
	[NL_CLIENT_REQUIRE_VERIFY] = "RequireAndVerifyClientCert",
};

static int parse_tls(struct parse *p, yaml_node_t *m)
{
	struct nl_webcfg *c = p->c;
	char **ciphers = NULL, **curvel = NULL;
	size_t nciphers = 0, ncurves = 0;
	bool ignored;
	int rc = 0;

	if (is_null(m))
		return 0;
	if (m->type != YAML_MAPPING_NODE)
		return fail(p, "tls_server_config: want a mapping, got %s", node_kind(m));
	for (yaml_node_pair_t *kv = m->data.mapping.pairs.start;
	     rc == 0 && kv < m->data.mapping.pairs.top; kv++) {
		const char *k = scalar(node(p, kv->key));
		yaml_node_t *v = node(p, kv->value);
		char key[96];

		snprintf(key, sizeof(key), "tls_server_config.%s", k ? k : "?");
		if (!k)
			rc = fail(p, "tls_server_config: a key that is not a string");
		else if (!strcmp(k, "cert_file"))
			rc = want_string(p, key, v, &c->cert_file);
		else if (!strcmp(k, "key_file"))
			rc = want_string(p, key, v, &c->key_file);
		else if (!strcmp(k, "client_ca_file"))
			rc = want_string(p, key, v, &c->client_ca_file);
		else if (!strcmp(k, "client_auth_type")) {
			const char *s = scalar(v);
			size_t i = 0;

			while (s && i < sizeof(client_auth_names) / sizeof(client_auth_names[0]) &&
			       strcmp(s, client_auth_names[i]))
				i++;
			if (!s || i == sizeof(client_auth_names) / sizeof(client_auth_names[0]))
				rc = fail(p, "%s: unknown \"%s\" (NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)",
					  key, s ? s : node_kind(v));
			else
				c->client_auth = (enum nl_client_auth)i;
		} else if (!strcmp(k, "client_allowed_sans"))
			rc = want_list(p, key, v, &c->allowed_sans, &c->nallowed_sans);
		else if (!strcmp(k, "min_version"))
			rc = parse_version(p, key, v, &c->min_version);
		else if (!strcmp(k, "max_version"))
			rc = parse_version(p, key, v, &c->max_version);
		else if (!strcmp(k, "cipher_suites"))
			rc = want_list(p, key, v, &ciphers, &nciphers);
		else if (!strcmp(k, "curve_preferences"))
			rc = want_list(p, key, v, &curvel, &ncurves);
		else if (!strcmp(k, "prefer_server_cipher_suites"))
			rc = want_bool(p, key, v, &ignored);   /* GnuTLS: the server's order */
		else
			rc = fail(p, "%s: unknown key", key);
	}
	if (rc == 0 && (c->cert_file && *c->cert_file) != (c->key_file && *c->key_file))
		rc = fail(p, "tls_server_config.%s: missing (cert_file and key_file go together)",
			  c->cert_file && *c->cert_file ? "key_file" : "cert_file");
	if (rc == 0 && c->cert_file && *c->cert_file) {
		c->tls = true;
		rc = read_named(p, "tls_server_config.cert_file", &c->cert_file, &c->cert_pem);
		if (rc == 0)
			rc = read_named(p, "tls_server_config.key_file", &c->key_file, &c->key_pem);
	} else if (rc == 0 && (c->client_ca_file || c->client_auth != NL_CLIENT_NONE ||
			       c->nallowed_sans)) {
		rc = fail(p, "tls_server_config.cert_file: missing (client certificates need TLS)");
	}
	/* libmicrohttpd asks a client for its certificate only when it has
	 * a CA to trust: every mode but NoClientCert needs one here */
	if (rc == 0 && c->client_auth != NL_CLIENT_NONE &&
	    !(c->client_ca_file && *c->client_ca_file))
		rc = fail(p, "tls_server_config.client_ca_file: missing (client_auth_type %s needs it%s)",
			  client_auth_names[c->client_auth],
			  c->client_auth == NL_CLIENT_REQUIRE_VERIFY ||
			  c->client_auth == NL_CLIENT_VERIFY_IF_GIVEN ? ": clients are verified against it" :
			  ": numalens asks for client certificates only with a CA");
	if (rc == 0 && c->client_ca_file && *c->client_ca_file) {
		if (c->client_auth == NL_CLIENT_NONE)
			rc = fail(p, "tls_server_config.client_auth_type: NoClientCert with a client_ca_file (say which client certificates to ask for)");
		else
			rc = read_named(p, "tls_server_config.client_ca_file",
					&c->client_ca_file, &c->ca_pem);
	}
	if (rc == 0 && c->nallowed_sans && c->client_auth != NL_CLIENT_REQUIRE_VERIFY &&
	    c->client_auth != NL_CLIENT_VERIFY_IF_GIVEN)
		rc = fail(p, "tls_server_config.client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert or VerifyClientCertIfGiven");
	if (rc == 0 && c->tls)
		rc = build_priorities(p, ciphers, nciphers, curvel, ncurves);
	if (rc == 0 && c->tls)
		rc = check_tls(p);
	free_list(ciphers, nciphers);
	free_list(curvel, ncurves);
	return rc;
}

/* exporter-toolkit's list of headers that may be set, and the values the
 * two checked ones may take. */
static int check_header(struct parse *p, const char *name, const char *value)
{
	static const char *const allowed[] = {
		"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
		"X-XSS-Protection", "Strict-Transport-Security",
	};
	size_t i = 0;

	while (i < sizeof(allowed) / sizeof(allowed[0]) && strcasecmp(name, allowed[i]))
		i++;
	if (i == sizeof(allowed) / sizeof(allowed[0]))
		return fail(p, "http_server_config.headers.%s: not a header that may be set (Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, X-XSS-Protection, Strict-Transport-Security)",
			    name);
	if (!strcasecmp(name, "X-Frame-Options") && strcasecmp(value, "deny") &&
	    strcasecmp(value, "sameorigin"))
		return fail(p, "http_server_config.headers.X-Frame-Options: \"%s\" (deny or sameorigin)", value);
	if (!strcasecmp(name, "X-Content-Type-Options") && strcasecmp(value, "nosniff"))
		return fail(p, "http_server_config.headers.X-Content-Type-Options: \"%s\" (nosniff)", value);
	for (const char *s = value; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return fail(p, "http_server_config.headers.%s: a control character", name);
	return 0;
}

static int push_pair(struct parse *p, const char *key, struct nl_webcfg_pair **arr,
		     size_t *n, const char *k, const char *v)
{
	struct nl_webcfg_pair *na = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!na)
		return fail(p, "%s: out of memory", key);
	*arr = na;
	na[*n].key = strdup(k);
	na[*n].value = strdup(v);
	(*n)++;
	return na[*n - 1].key && na[*n - 1].value ? 0 : fail(p, "%s: out of memory", key);
}

static int parse_http(struct parse *p, yaml_node_t *m)
{
	int rc = 0;
	bool ignored;

	if (is_null(m))
		return 0;
	if (m->type != YAML_MAPPING_NODE)
		return fail(p, "http_server_config: want a mapping, got %s", node_kind(m));
	for (yaml_node_pair_t *kv = m->data.mapping.pairs.start;
	     rc == 0 && kv < m->data.mapping.pairs.top; kv++) {
		const char *k = scalar(node(p, kv->key));
		yaml_node_t *v = node(p, kv->value);

		if (k && !strcmp(k, "http2")) {
			rc = want_bool(p, "http_server_config.http2", v, &ignored);
		} else if (k && !strcmp(k, "headers")) {
			if (is_null(v))
				continue;
			if (v->type != YAML_MAPPING_NODE)
				return fail(p, "http_server_config.headers: want a mapping, got %s",
					    node_kind(v));
			for (yaml_node_pair_t *h = v->data.mapping.pairs.start;
			     rc == 0 && h < v->data.mapping.pairs.top; h++) {
				const char *hk = scalar(node(p, h->key));
				const char *hv = scalar(node(p, h->value));

				if (!hk || !hv)
					rc = fail(p, "http_server_config.headers: want name: value pairs");
				else if ((rc = check_header(p, hk, hv)) == 0)
					rc = push_pair(p, "http_server_config.headers",
						       &p->c->headers, &p->c->nheaders, hk, hv);
			}
		} else {
			rc = fail(p, "http_server_config.%s: unknown key", k ? k : "?");
		}
	}
	return rc;
}

static int parse_users(struct parse *p, yaml_node_t *m)
{
	int rc = 0;

	if (is_null(m))
		return 0;
	if (m->type != YAML_MAPPING_NODE)
		return fail(p, "basic_auth_users: want a mapping of user: bcrypt hash, got %s",
			    node_kind(m));
	for (yaml_node_pair_t *kv = m->data.mapping.pairs.start;
	     rc == 0 && kv < m->data.mapping.pairs.top; kv++) {
		const char *u = scalar(node(p, kv->key));
		const char *h = scalar(node(p, kv->value));

		if (!u || !*u || strchr(u, ':'))
			rc = fail(p, "basic_auth_users: a user name must be a non-empty string without ':'");
		else if (!h || strncmp(h, "$2", 2) || strlen(h) != 60)
			rc = fail(p, "basic_auth_users.%s: not a bcrypt hash ($2y$10$ and 53 more characters)", u);
		else if (nl_webcfg_user_hash(p->c, u))
			rc = fail(p, "basic_auth_users.%s: given twice", u);
		else
			rc = push_pair(p, "basic_auth_users", &p->c->users, &p->c->nusers, u, h);
	}
	/* An unknown user is checked against a hash of the same cost, so a
	 * wrong name costs as long as a wrong password. */
	if (rc == 0 && p->c->nusers) {
		char buf[128];
		int cost = atoi(p->c->users[0].value + 4);

		if (nl_webcfg_bcrypt_hash("numalens: no such user", cost, buf, sizeof(buf)) < 0 ||
		    !(p->c->dummy_hash = strdup(buf)))
			rc = fail(p, "basic_auth_users: cannot make a bcrypt hash (libcrypt)");
	}
	return rc;
}

int nl_webcfg_parse(const char *yaml, size_t len, const char *dir,
		    struct nl_webcfg **out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct parse p = { .doc = &doc, .dir = dir, .err = err, .errlen = errlen };
	yaml_node_t *root;
	int rc = 0;

	*out = NULL;
	if (!(p.c = calloc(1, sizeof(*p.c))))
		return fail(&p, "out of memory");
	if (!yaml_parser_initialize(&parser)) {
		free(p.c);
		return fail(&p, "cannot start the YAML parser");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = fail(&p, "YAML: %s at line %zu column %zu",
			  parser.problem ? parser.problem : "syntax error",
			  parser.problem_mark.line + 1, parser.problem_mark.column + 1);
		yaml_parser_delete(&parser);
		nl_webcfg_free(p.c);
		return rc;
	}
	root = yaml_document_get_root_node(&doc);
	if (root && !is_null(root) && root->type != YAML_MAPPING_NODE)
		rc = fail(&p, "the file: want a mapping at the top, got %s", node_kind(root));
	for (yaml_node_pair_t *kv = root && root->type == YAML_MAPPING_NODE ?
				    root->data.mapping.pairs.start : NULL;
	     rc == 0 && kv && kv < root->data.mapping.pairs.top; kv++) {
		const char *k = scalar(node(&p, kv->key));
		yaml_node_t *v = node(&p, kv->value);

		if (k && !strcmp(k, "tls_server_config"))
			rc = parse_tls(&p, v);
		else if (k && !strcmp(k, "http_server_config"))
			rc = parse_http(&p, v);
		else if (k && !strcmp(k, "basic_auth_users"))
			rc = parse_users(&p, v);
		else
			rc = fail(&p, "%s: unknown key (tls_server_config, http_server_config, basic_auth_users)",
				  k ? k : "?");
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc) {
		nl_webcfg_free(p.c);
		return rc;
	}
	*out = p.c;
	return 0;
}

int nl_webcfg_load(const char *path, struct nl_webcfg **out, char *err, size_t errlen)
{
	char *buf = NULL, *dir, *slash;
	size_t cap = 0;
	ssize_t n = nl_read_file_alloc(path, &buf, &cap);
	int rc;

	*out = NULL;
	if (n < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror((int)-n));
		free(buf);
		return -1;
	}
	if (n > MAX_FILE) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		free(buf);
		return -1;
	}
	dir = strdup(path);
	if (!dir) {
		free(buf);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	rc = nl_webcfg_parse(buf ? buf : "", (size_t)n, slash ? (dir[0] ? dir : "/") : ".",
			     out, err, errlen);
	free(dir);
	free(buf);
	return rc;
}

static void free_pairs(struct nl_webcfg_pair *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

void nl_webcfg_free(struct nl_webcfg *c)
{
	if (!c)
		return;
	free(c->cert_file);
	free(c->key_file);
	free(c->client_ca_file);
	free(c->cert_pem);
	if (c->key_pem) {
		explicit_bzero(c->key_pem, strlen(c->key_pem));
		free(c->key_pem);
	}
	free(c->ca_pem);
	free_list(c->allowed_sans, c->nallowed_sans);
	free(c->priorities);
	free_pairs(c->users, c->nusers);
	free(c->dummy_hash);
	free_pairs(c->headers, c->nheaders);
	free(c);
}

const char *nl_webcfg_user_hash(const struct nl_webcfg *c, const char *user)
{
	for (size_t i = 0; c && user && i < c->nusers; i++)
		if (!strcmp(c->users[i].key, user))
			return c->users[i].value;
	return NULL;
}

bool nl_webcfg_bcrypt_ok(const char *password, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *r;
	unsigned char diff = 0;
	size_t n = strlen(hash);

	if (!cd)
		return false;
	r = crypt_r(password, hash, cd);
	if (!r || r[0] == '*' || strlen(r) != n) {
		free(cd);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(r[i] ^ hash[i]);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return diff == 0;
}

int nl_webcfg_bcrypt_hash(const char *password, int cost, char *out, size_t outlen)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *r = NULL;

	if (cd && cost >= 4 && cost <= 31 &&
	    crypt_gensalt_rn("$2y$", (unsigned long)cost, NULL, 0, salt, sizeof(salt)))
		r = crypt_r(password, salt, cd);
	if (!r || r[0] == '*' || strlen(r) >= outlen) {
		free(cd);
		return -1;
	}
	strcpy(out, r);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return 0;
}

static void stamp_one(const char *path, unsigned long long v[3])
{
	struct stat sb;

	v[0] = v[1] = v[2] = 0;
	if (path && *path && stat(path, &sb) == 0) {
		v[0] = (unsigned long long)sb.st_ino;
		v[1] = (unsigned long long)sb.st_size;
		v[2] = (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull +
		       (unsigned long long)sb.st_mtim.tv_nsec;
	}
}

void nl_webcfg_stamp(const char *path, char *const files[3], struct nl_webcfg_stamp *st)
{
	stamp_one(path, st->v[0]);
	for (int i = 0; i < 3; i++)
		stamp_one(files[i], st->v[i + 1]);
}

int nl_webcfg_files(const struct nl_webcfg *c, char *files[3])
{
	const char *src[3] = { c ? c->cert_file : NULL, c ? c->key_file : NULL,
			       c ? c->client_ca_file : NULL };
	int rc = 0;

	for (int i = 0; i < 3; i++) {
		free(files[i]);
		files[i] = src[i] && *src[i] ? strdup(src[i]) : NULL;
		if (src[i] && *src[i] && !files[i])
			rc = -ENOMEM;
	}
	return rc;
}
