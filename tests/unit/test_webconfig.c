/* --web.config.file: the exporter-toolkit format as libyaml reads it, every
 * error naming its key, GnuTLS priorities from Go's names, bcrypt, the
 * basic auth cache (webconfig.c, webauth.c). TLS handshakes against real
 * clients are in tests/security/run.sh. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "webauth.h"
#include "webconfig.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	CHECK_EQ_INT(nl_t_put(dir, name, text, -1), 0);
}

/* A real key pair written by openssl into dir (NAME.crt, NAME.key). */
static bool make_pair(const char *name)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s/%s.key -out %s/%s.crt -days 2 -subj /CN=numalens-test "
		 "-addext subjectAltName=DNS:scraper.test,IP:127.0.0.1 >/dev/null 2>&1",
		 dir, name, dir, name);
	return system(cmd) == 0;
}

static int parse(const char *yaml, struct nl_webcfg **c, char *err, size_t len)
{
	return nl_webcfg_parse(yaml, strlen(yaml), dir, c, err, len);
}

/* err must hold `want` */
static void bad(const char *yaml, const char *want)
{
	struct nl_webcfg *c = (struct nl_webcfg *)1;
	char err[512] = "";

	CHECK_EQ_INT(parse(yaml, &c, err, sizeof(err)), -1);
	CHECK(c == NULL);
	if (!strstr(err, want)) {
		fprintf(stderr, "  want \"%s\" in \"%s\"\n", want, err);
		CHECK(0);
	}
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/nl-webcfg-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

static void test_empty_and_plain(void)
{
	struct nl_webcfg *c = NULL;
	char err[256];

	setup();
	CHECK_EQ_INT(parse("", &c, err, sizeof(err)), 0);
	CHECK(c && !c->tls && !c->nusers);
	nl_webcfg_free(c);
	CHECK_EQ_INT(parse("# nothing\ntls_server_config:\nhttp_server_config: {http2: true}\n",
			   &c, err, sizeof(err)), 0);
	CHECK(c && !c->tls);
	nl_webcfg_free(c);
	teardown();
}

static void test_errors_name_the_key(void)
{
	setup();
	bad("tls_server_config:\n  cert_file: a.crt\n", "tls_server_config.key_file: missing");
	bad("tls_server_config:\n  key_file: a.key\n", "tls_server_config.cert_file: missing");
	bad("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n",
	    "tls_server_config.cert_file: cannot read");
	bad("tls_server_config:\n  cert_fil: a.crt\n", "tls_server_config.cert_fil: unknown key");
	bad("basic_auth_user:\n  a: b\n", "basic_auth_user: unknown key");
	bad("basic_auth_users:\n  alice: secret\n", "basic_auth_users.alice: not a bcrypt hash");
	bad("basic_auth_users: [alice]\n", "basic_auth_users: want a mapping");
	bad("http_server_config:\n  headers:\n    Server: numalens\n",
	    "http_server_config.headers.Server: not a header that may be set");
	bad("http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
	    "http_server_config.headers.X-Frame-Options");
	bad("http_server_config:\n  http2: maybe\n", "http_server_config.http2: want true or false");
	bad("tls_server_config: [1]\n", "tls_server_config: want a mapping");
	bad("- a\n- b\n", "want a mapping at the top");
	bad("tls_server_config:\n  cert_file: \"a\n", "YAML:");
	/* client certificates need TLS, and a CA */
	bad("tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n",
	    "tls_server_config.cert_file: missing");
	CHECK(make_pair("server"));
	bad("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	    "  client_auth_type: RequireAndVerifyClientCert\n",
	    "tls_server_config.client_ca_file: missing");
	bad("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	    "  client_auth_type: Sometimes\n", "tls_server_config.client_auth_type: unknown");
	bad("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	    "  min_version: TLS14\n", "tls_server_config.min_version: unknown TLS version");
	bad("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	    "  min_version: TLS13\n  max_version: TLS12\n", "max_version: lower than min_version");
	bad("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	    "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
	    "cipher_suites: unknown suite \"TLS_RSA_WITH_RC4_128_SHA\"");
	bad("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	    "  client_allowed_sans: [a]\n", "client_allowed_sans: needs client_auth_type");
	/* a key that is not the certificate's */
	CHECK(make_pair("other"));
	bad("tls_server_config:\n  cert_file: other.crt\n  key_file: server.key\n",
	    "tls_server_config.key_file:");
	put("empty.pem", "\n");
	bad("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	    "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: empty.pem\n",
	    "tls_server_config.client_ca_file:");
	teardown();
}

static void test_tls_settings(void)
{
	struct nl_webcfg *c = NULL;
	char err[512] = "";

	setup();
	CHECK(make_pair("server"));
	CHECK_EQ_INT(parse("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
			   "  client_auth_type: RequireAndVerifyClientCert\n"
			   "  client_ca_file: server.crt\n"
			   "  client_allowed_sans: [scraper.test, 127.0.0.1]\n"
			   "  min_version: TLS12\n  max_version: TLS12\n"
			   "  cipher_suites:\n    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n"
			   "    - TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256\n"
			   "  curve_preferences: [X25519, CurveP256]\n"
			   "  prefer_server_cipher_suites: true\n"
			   "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
			   "    Strict-Transport-Security: max-age=31536000\n",
			   &c, err, sizeof(err)), 0);
	if (!c) {
		fprintf(stderr, "  %s\n", err);
		teardown();
		return;
	}
	CHECK(c->tls);
	CHECK_EQ_INT(c->client_auth, NL_CLIENT_REQUIRE_VERIFY);
	CHECK(c->ca_pem && strstr(c->ca_pem, "BEGIN CERTIFICATE"));
	/* relative names are the config file's directory's */
	CHECK(strncmp(c->cert_file, dir, strlen(dir)) == 0);
	CHECK_EQ_INT((int)c->nallowed_sans, 2);
	CHECK_STR(c->priorities,
		  "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:-CIPHER-ALL:-MAC-ALL:+ECDHE-ECDSA"
		  ":+AES-128-GCM:+AEAD:+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1");
	CHECK_EQ_INT((int)c->nheaders, 2);
	CHECK_STR(c->headers[0].key, "X-Frame-Options");
	nl_webcfg_free(c);

	/* the defaults: TLS 1.2 and 1.3, GnuTLS's ciphers */
	CHECK_EQ_INT(parse("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
			   &c, err, sizeof(err)), 0);
	if (c)
		CHECK_STR(c->priorities, "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3");
	nl_webcfg_free(c);
	teardown();
}

static void test_bcrypt_and_cache(void)
{
	char hash[128], yaml[256], err[256];
	struct nl_webcfg *c = NULL;
	struct nl_webauth *a = nl_webauth_new();

	setup();
	CHECK_EQ_INT(nl_webcfg_bcrypt_hash("s3cret", 8, hash, sizeof(hash)), 0);
	CHECK(strncmp(hash, "$2y$08$", 7) == 0);
	CHECK_EQ_INT((int)strlen(hash), 60);
	CHECK(nl_webcfg_bcrypt_ok("s3cret", hash));
	CHECK(!nl_webcfg_bcrypt_ok("s3cret ", hash));
	CHECK(!nl_webcfg_bcrypt_ok("", hash));

	snprintf(yaml, sizeof(yaml), "basic_auth_users:\n  alice: %s\n", hash);
	CHECK_EQ_INT(parse(yaml, &c, err, sizeof(err)), 0);
	if (!c || !a) {
		teardown();
		nl_webauth_free(a);
		return;
	}
	CHECK(c->dummy_hash && strncmp(c->dummy_hash, "$2y$08$", 7) == 0);
	nl_webauth_set(a, c);
	CHECK(nl_webauth_password_ok(a, "alice", "s3cret"));
	CHECK(!nl_webauth_password_ok(a, "alice", "wrong"));
	CHECK(!nl_webauth_password_ok(a, "mallory", "s3cret"));
	CHECK_EQ_INT((int)nl_webauth_cache_hits(a), 0);
	/* the second time comes from the cache, for every kind of answer */
	CHECK(nl_webauth_password_ok(a, "alice", "s3cret"));
	CHECK(!nl_webauth_password_ok(a, "alice", "wrong"));
	CHECK(!nl_webauth_password_ok(a, "mallory", "s3cret"));
	CHECK_EQ_INT((int)nl_webauth_cache_hits(a), 3);
	/* a new config forgets what was cached */
	snprintf(yaml, sizeof(yaml), "basic_auth_users:\n  bob: %s\n", hash);
	CHECK_EQ_INT(parse(yaml, &c, err, sizeof(err)), 0);
	nl_webauth_set(a, c);
	CHECK(!nl_webauth_password_ok(a, "alice", "s3cret"));
	CHECK_EQ_INT((int)nl_webauth_cache_hits(a), 3);
	CHECK(nl_webauth_password_ok(a, "bob", "s3cret"));
	nl_webauth_free(a);
	teardown();
}

NL_TEST_MAIN(NL_T(test_empty_and_plain), NL_T(test_errors_name_the_key),
	     NL_T(test_tls_settings), NL_T(test_bcrypt_and_cache))
