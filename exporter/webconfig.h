/* --web.config.file: TLS, basic auth and response headers, in the file
 * format of the Prometheus exporter-toolkit (docs/security.md), so the
 * files operators already have for node_exporter work here too:
 *
 *   tls_server_config:
 *     cert_file: server.crt        # relative paths: to the file's directory
 *     key_file: server.key
 *     client_auth_type: RequireAndVerifyClientCert
 *     client_ca_file: ca.crt
 *     client_allowed_sans: [scraper.example]
 *     min_version: TLS12           # TLS10 .. TLS13
 *     max_version: TLS13
 *     cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
 *     curve_preferences: [X25519, CurveP256]
 *     prefer_server_cipher_suites: true
 *   http_server_config:
 *     http2: true                  # accepted; numalens speaks HTTP/1.1
 *     headers: { X-Frame-Options: deny }
 *   basic_auth_users:
 *     prometheus: $2y$10$...       # bcrypt
 *
 * Parsed with libyaml. An unknown key, a wrong type or value, a file that
 * cannot be read, or a certificate and key that do not load is an error
 * naming the key. */
#ifndef NL_WEBCONFIG_H
#define NL_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum nl_client_auth {
	NL_CLIENT_NONE,             /* NoClientCert */
	NL_CLIENT_REQUEST,          /* RequestClientCert */
	NL_CLIENT_REQUIRE_ANY,      /* RequireAnyClientCert */
	NL_CLIENT_VERIFY_IF_GIVEN,  /* VerifyClientCertIfGiven */
	NL_CLIENT_REQUIRE_VERIFY,   /* RequireAndVerifyClientCert */
};

struct nl_webcfg_pair {
	char *key, *value;
};

struct nl_webcfg {
	bool tls;                     /* tls_server_config with a certificate */
	char *cert_file, *key_file, *client_ca_file;   /* resolved paths */
	char *cert_pem, *key_pem, *ca_pem;             /* their contents */
	enum nl_client_auth client_auth;
	char **allowed_sans;
	size_t nallowed_sans;
	int min_version, max_version; /* 0x0301 (TLS 1.0) .. 0x0304; 0: none */
	char *priorities;             /* GnuTLS priority string */
	struct nl_webcfg_pair *users; /* name -> bcrypt hash */
	size_t nusers;
	char *dummy_hash;             /* checked against for unknown users */
	struct nl_webcfg_pair *headers;
	size_t nheaders;
};

/* Load and check `path`. Returns 0 with *out set, or -1 with a message
 * naming the key in err ("tls_server_config.key_file: ..."). */
int nl_webcfg_load(const char *path, struct nl_webcfg **out, char *err, size_t errlen);
/* Parse a document given as text; relative file names are taken relative
 * to dir. */
int nl_webcfg_parse(const char *yaml, size_t len, const char *dir,
		    struct nl_webcfg **out, char *err, size_t errlen);
void nl_webcfg_free(struct nl_webcfg *c);

/* The hash of user, or NULL. */
const char *nl_webcfg_user_hash(const struct nl_webcfg *c, const char *user);
/* Does `password` match bcrypt `hash`? crypt_r, compared in constant time.
 * Slow on purpose (tens of ms at cost 10). */
bool nl_webcfg_bcrypt_ok(const char *password, const char *hash);
/* A fresh bcrypt hash of `password` at `cost` (4..31) into out. Return 0 or
 * -1. For `numalens hash-password` and the tests. */
int nl_webcfg_bcrypt_hash(const char *password, int cost, char *out, size_t outlen);

/* Identity of the files a config came from (the config and the files it
 * names): a reload is due when it changes. */
struct nl_webcfg_stamp {
	unsigned long long v[4][3];   /* inode, size, mtime ns of each */
};
void nl_webcfg_stamp(const char *path, char *const files[3], struct nl_webcfg_stamp *st);
/* Copy c's cert, key and CA file names into files[3] (NULL where none),
 * freeing what was there; c NULL only frees. Return 0 or -ENOMEM. */
int nl_webcfg_files(const struct nl_webcfg *c, char *files[3]);

#endif
