/* Request checks of --web.config.file (webauth.h). */
#include "webauth.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 256

struct cache_slot {
	unsigned char key[32];   /* SHA-256 of user \0 password \0 hash */
	bool used, ok;
	uint64_t age;
};

struct nl_webauth {
	pthread_rwlock_t lock;        /* cfg */
	struct nl_webcfg *cfg;
	pthread_mutex_t cache_lock;
	struct cache_slot cache[CACHE_SLOTS];
	uint64_t tick;
	atomic_ulong hits;
};

struct nl_webauth *nl_webauth_new(void)
{
	struct nl_webauth *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	pthread_rwlock_init(&a->lock, NULL);
	pthread_mutex_init(&a->cache_lock, NULL);
	return a;
}

void nl_webauth_free(struct nl_webauth *a)
{
	if (!a)
		return;
	nl_webcfg_free(a->cfg);
	pthread_rwlock_destroy(&a->lock);
	pthread_mutex_destroy(&a->cache_lock);
	explicit_bzero(a->cache, sizeof(a->cache));
	free(a);
}

void nl_webauth_set(struct nl_webauth *a, struct nl_webcfg *cfg)
{
	struct nl_webcfg *old;

	pthread_rwlock_wrlock(&a->lock);
	old = a->cfg;
	a->cfg = cfg;
	pthread_mutex_lock(&a->cache_lock);
	memset(a->cache, 0, sizeof(a->cache));
	pthread_mutex_unlock(&a->cache_lock);
	pthread_rwlock_unlock(&a->lock);
	nl_webcfg_free(old);
}

unsigned long nl_webauth_cache_hits(const struct nl_webauth *a)
{
	return a ? atomic_load(&((struct nl_webauth *)a)->hits) : 0;
}

/* ---- basic auth ---- */

static int cache_key(const char *user, const char *password, const char *hash,
		     unsigned char key[32])
{
	size_t lu = strlen(user), lp = strlen(password), lh = strlen(hash);
	size_t n = lu + lp + lh + 2;
	char *buf = malloc(n);
	int r;

	if (!buf)
		return -1;
	memcpy(buf, user, lu + 1);
	memcpy(buf + lu + 1, password, lp + 1);
	memcpy(buf + lu + lp + 2, hash, lh);
	r = gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, n, key);
	explicit_bzero(buf, n);
	free(buf);
	return r < 0 ? -1 : 0;
}

/* Called with a->lock held for reading. */
static bool password_ok_locked(struct nl_webauth *a, const char *user, const char *password)
{
	const struct nl_webcfg *c = a->cfg;
	const char *hash = nl_webcfg_user_hash(c, user);
	const char *check = hash ? hash : c->dummy_hash;
	unsigned char key[32];
	struct cache_slot *slot = NULL, *oldest = &a->cache[0];
	bool ok, keyed;

	if (!check)
		return false;
	keyed = cache_key(user, password, check, key) == 0;
	if (keyed) {
		pthread_mutex_lock(&a->cache_lock);
		for (size_t i = 0; i < CACHE_SLOTS && !slot; i++) {
			struct cache_slot *s = &a->cache[i];

			if (s->used && !memcmp(s->key, key, sizeof(key)))
				slot = s;
			else if (!s->used || (oldest->used && s->age < oldest->age))
				oldest = s;
		}
		if (slot) {
			slot->age = ++a->tick;
			ok = slot->ok;
			pthread_mutex_unlock(&a->cache_lock);
			atomic_fetch_add(&a->hits, 1);
			return ok && hash;
		}
		pthread_mutex_unlock(&a->cache_lock);
	}
	/* the same work for a user that does not exist */
	ok = nl_webcfg_bcrypt_ok(password, check) && hash;
	if (keyed) {
		pthread_mutex_lock(&a->cache_lock);
		memcpy(oldest->key, key, sizeof(key));
		oldest->used = true;
		oldest->ok = ok;
		oldest->age = ++a->tick;
		pthread_mutex_unlock(&a->cache_lock);
	}
	return ok;
}

bool nl_webauth_password_ok(struct nl_webauth *a, const char *user, const char *password)
{
	bool ok;

	pthread_rwlock_rdlock(&a->lock);
	ok = a->cfg && a->cfg->nusers && password_ok_locked(a, user, password);
	pthread_rwlock_unlock(&a->lock);
	return ok;
}

/* ---- client certificates ---- */

static bool san_matches(const char *san, char *const *sans, size_t nsans)
{
	for (size_t i = 0; i < nsans; i++)
		if (!strcmp(san, sans[i]))
			return true;
	return false;
}

bool nl_webauth_san_allowed(const unsigned char *der, unsigned len, char *const *sans,
			    size_t nsans)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)der, len };
	bool found = false;

	if (gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return false;
	}
	for (unsigned seq = 0; !found; seq++) {
		char buf[512], text[INET6_ADDRSTRLEN];
		size_t size = sizeof(buf) - 1;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);

		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type < 0)
			continue;   /* too long or unparsable: not a match */
		buf[size] = '\0';
		if (type == GNUTLS_SAN_IPADDRESS) {
			if ((size == 4 && inet_ntop(AF_INET, buf, text, sizeof(text))) ||
			    (size == 16 && inet_ntop(AF_INET6, buf, text, sizeof(text))))
				found = san_matches(text, sans, nsans);
		} else if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_RFC822NAME ||
			   type == GNUTLS_SAN_URI) {
			found = strlen(buf) == size && san_matches(buf, sans, nsans);
		}
	}
	gnutls_x509_crt_deinit(crt);
	return found;
}

static enum nl_auth_verdict check_client_cert(const struct nl_webcfg *c,
					      struct MHD_Connection *conn, const char **why)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;
	const gnutls_datum_t *peers;
	unsigned npeers = 0, status = 0;
	bool verify = c->client_auth == NL_CLIENT_REQUIRE_VERIFY ||
		      c->client_auth == NL_CLIENT_VERIFY_IF_GIVEN;
	bool required = c->client_auth == NL_CLIENT_REQUIRE_VERIFY ||
			c->client_auth == NL_CLIENT_REQUIRE_ANY;

	if (c->client_auth == NL_CLIENT_NONE)
		return NL_AUTH_OK;
	if (!s) {
		*why = "no TLS session";
		return NL_AUTH_FORBIDDEN;
	}
	peers = gnutls_certificate_get_peers(s, &npeers);
	if (!peers || !npeers) {
		*why = "a client certificate is required";
		return required ? NL_AUTH_FORBIDDEN : NL_AUTH_OK;
	}
	if (!verify)
		return NL_AUTH_OK;
	if (gnutls_certificate_verify_peers2(s, &status) < 0 || status) {
		*why = "the client certificate is not signed by client_ca_file, or not valid now";
		return NL_AUTH_FORBIDDEN;
	}
	if (c->nallowed_sans &&
	    !nl_webauth_san_allowed(peers[0].data, peers[0].size, c->allowed_sans,
				    c->nallowed_sans)) {
		*why = "the client certificate carries none of client_allowed_sans";
		return NL_AUTH_FORBIDDEN;
	}
	return NL_AUTH_OK;
}

enum nl_auth_verdict nl_webauth_check(struct nl_webauth *a, struct MHD_Connection *conn,
				      const char **why)
{
	enum nl_auth_verdict v = NL_AUTH_OK;

	*why = "";
	pthread_rwlock_rdlock(&a->lock);
	if (a->cfg && a->cfg->tls)
		v = check_client_cert(a->cfg, conn, why);
	if (v == NL_AUTH_OK && a->cfg && a->cfg->nusers) {
		char *pass = NULL;
		char *user = MHD_basic_auth_get_username_password(conn, &pass);

		if (!user || !pass || !password_ok_locked(a, user, pass)) {
			*why = user ? "wrong user name or password" : "no credentials";
			v = NL_AUTH_LOGIN;
		}
		if (pass) {
			explicit_bzero(pass, strlen(pass));
			MHD_free(pass);
		}
		if (user)
			MHD_free(user);
	}
	pthread_rwlock_unlock(&a->lock);
	return v;
}

int nl_webauth_add_headers(struct nl_webauth *a, struct MHD_Response *resp)
{
	int rc = 0;

	pthread_rwlock_rdlock(&a->lock);
	for (size_t i = 0; a->cfg && i < a->cfg->nheaders && rc == 0; i++)
		if (MHD_add_response_header(resp, a->cfg->headers[i].key,
					    a->cfg->headers[i].value) != MHD_YES)
			rc = -1;
	pthread_rwlock_unlock(&a->lock);
	return rc;
}
