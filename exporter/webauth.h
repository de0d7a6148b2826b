/* What --web.config.file asks of each request once TLS is up: a verified
 * client certificate with an allowed SAN, basic auth against bcrypt hashes
 * (results cached, as exporter-toolkit does: bcrypt takes tens of ms), and
 * the configured response headers. The configuration can be swapped while
 * requests run (a reload). */
#ifndef NL_WEBAUTH_H
#define NL_WEBAUTH_H

#include <microhttpd.h>
#include <stdbool.h>

#include "webconfig.h"

struct nl_webauth;

enum nl_auth_verdict {
	NL_AUTH_OK,
	NL_AUTH_LOGIN,       /* 401 with WWW-Authenticate: Basic */
	NL_AUTH_FORBIDDEN,   /* 403: no, or a refused, client certificate */
};

struct nl_webauth *nl_webauth_new(void);
void nl_webauth_free(struct nl_webauth *a);
/* Use cfg from now on (NULL: nothing asked); takes it, frees the one
 * before and forgets the cached results. */
void nl_webauth_set(struct nl_webauth *a, struct nl_webcfg *cfg);

/* Check a request's credentials. *why says what failed (static text). */
enum nl_auth_verdict nl_webauth_check(struct nl_webauth *a, struct MHD_Connection *conn,
				      const char **why);
/* Is user:password one of the configured users? Cached. */
bool nl_webauth_password_ok(struct nl_webauth *a, const char *user, const char *password);
/* Add the configured headers to a response. Return 0 or -1. */
int nl_webauth_add_headers(struct nl_webauth *a, struct MHD_Response *resp);
/* Cached checks answered without running bcrypt, since start (tests). */
unsigned long nl_webauth_cache_hits(const struct nl_webauth *a);

/* Does a certificate (DER) carry one of `sans` as a DNS name, e-mail
 * address, URI or IP address? */
bool nl_webauth_san_allowed(const unsigned char *der, unsigned len, char *const *sans,
			    size_t nsans);

#endif
