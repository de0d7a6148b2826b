#!/usr/bin/env bash
# --web.config.file against real clients, on a fixture host (a copy of
# tests/fixtures/two-socket, no libvirt, no root, port 0 on 127.0.0.1):
#   - certificates made here with openssl: a CA, the server's (SAN
#     127.0.0.1), clients signed by the CA with an allowed and a refused SAN,
#     and a self-signed client;
#   - basic auth (a hash from `numalens hash-password`): curl without, with
#     wrong and with right credentials, an unknown user, /healthz too;
#   - TLS: HTTPS with the CA, plain HTTP refused, the configured headers,
#     min_version (a TLS 1.2-only client refused by a TLS 1.3-only server);
#   - mTLS: no client certificate, a self-signed one and one with a SAN not
#     in client_allowed_sans are refused (403); the allowed one is served;
#   - the file re-read when it changes: a new certificate served without a
#     restart; a broken edit logged and the previous config kept; a bad file
#     at start exits 1 naming the key;
#   - numalens apply as a client: https with --tls.ca-file, a client
#     certificate, basic auth; a --url elsewhere refused without them;
#   - two --web.listen-address at once; --web.systemd-socket with a socket
#     passed as systemd does, and sd_notify READY/WATCHDOG/STOPPING;
#   - promtool check web-config on deploy/web-config/*.yml, and a real
#     Prometheus scraping over HTTPS with basic auth
#     (deploy/prometheus/scrape-https.yml): target up, numalens series in.
#   tests/security/run.sh [build/numalens]
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${1:-${BUILD:-build}/numalens}
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh
OUT=$(realpath -m "${BUILD:-build}/security")
rm -rf "$OUT"
mkdir -p "$OUT/pki"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
for tool in openssl curl; do
	command -v $tool >/dev/null || { nl_fail "$tool is installed (tests/lib/deps.sh test)"; nl_summary security; exit 1; }
done
cp -a tests/fixtures/two-socket "$OUT/host"

# --- certificates ---------------------------------------------------------------
P=$OUT/pki
ssl() { openssl "$@" >/dev/null 2>&1; }
ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$P/ca.key" -out "$P/ca.crt" -subj /CN=numalens-test-ca
# leaf NAME SAN [CA]: NAME.crt/NAME.key, signed by the CA (or self-signed)
leaf() {
	local name=$1 san=$2 ca=${3:-ca}
	ssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$name.key" \
		-out "$P/$name.csr" -subj "/CN=$name"
	if [ "$ca" = self ]; then
		ssl x509 -req -in "$P/$name.csr" -signkey "$P/$name.key" -days 2 \
			-extfile <(printf 'subjectAltName=%s\n' "$san") -out "$P/$name.crt"
	else
		ssl x509 -req -in "$P/$name.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
			-days 2 -extfile <(printf 'subjectAltName=%s\n' "$san") -out "$P/$name.crt"
	fi
}
leaf server "IP:127.0.0.1,DNS:localhost"
leaf server2 "IP:127.0.0.1,DNS:localhost"
leaf scraper "DNS:scraper.test"
leaf intruder "DNS:intruder.test"
leaf selfie "DNS:scraper.test" self
nl_check "openssl made a CA, two server and three client certificates" \
	test -s "$P/server.crt" -a -s "$P/server2.crt" -a -s "$P/scraper.crt" -a -s "$P/intruder.crt" -a -s "$P/selfie.crt"
HASH=$(printf 'correct horse\n' | "$BIN" hash-password --cost=6)
nl_check_eq --names=prefix,want "numalens hash-password prints a bcrypt hash" "${HASH:0:7}" '$2y$06$'

# daemon NAME CONFIG [more flags]: numalens on the fixture; waits for the
# port (or for the exit of a daemon that refuses its config)
declare -A DPID DPORT
daemon() {
	local name=$1 cfg=$2 log=$OUT/$1.log p=; shift 2
	"$BIN" --discovery=proc --no-collector.perf --path.procfs="$OUT/host/proc" \
		--path.sysfs="$OUT/host/sys" --sample.interval=0.2s --log.level=info \
		--web.listen-address=127.0.0.1:0 ${cfg:+--web.config.file="$cfg"} "$@" > "$log" 2>&1 &
	DPID[$name]=$!
	PIDS+=($!)
	for _ in $(seq 1 100); do
		p=$(sed -n 's/.*http: listening on .*(port \([0-9]*\).*/\1/p' "$log" | head -n 1)
		[ -n "$p" ] && break
		kill -0 "${DPID[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	DPORT[$name]=$p
	[ -n "$p" ]
}
# code CURL-ARGS...: the HTTP status curl got ("000": no HTTP answer)
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }

# --- basic auth over plain HTTP ------------------------------------------------
cat > "$OUT/auth.yml" <<YML
basic_auth_users:
  prometheus: $HASH
YML
daemon auth "$OUT/auth.yml" || nl_fail "numalens starts with basic_auth_users"
U=http://127.0.0.1:${DPORT[auth]}
nl_check_eq --names=status,want "basic auth: no credentials: 401" "$(code "$U/metrics")" 401
nl_check "basic auth: 401 asks for Basic credentials" sh -c \
	"curl -s -D - -o /dev/null '$U/metrics' | grep -qi '^WWW-Authenticate: Basic realm=\"numalens\"'"
nl_check_eq --names=status,want "basic auth: wrong password: 401" "$(code -u prometheus:wrong "$U/metrics")" 401
nl_check_eq --names=status,want "basic auth: unknown user: 401" "$(code -u mallory:'correct horse' "$U/metrics")" 401
nl_check_eq --names=status,want "basic auth: /healthz needs it too" "$(code "$U/healthz")" 401
nl_check_eq --names=status,want "basic auth: right credentials: 200" \
	"$(code -u prometheus:'correct horse' "$U/metrics")" 200
nl_check_eq --names=status,want "basic auth: the API needs it too" "$(code "$U/api/v1/hints")" 401
# the same credentials again, many times: answered from the cache (bcrypt
# at cost 6 takes milliseconds; 50 requests must not take 50 of them)
t0=$(date +%s%N)
for _ in $(seq 1 50); do code -u prometheus:'correct horse' "$U/healthz" >/dev/null; done
t1=$(date +%s%N)
echo "  note 50 authenticated requests in $(( (t1 - t0) / 1000000 )) ms"
nl_check "numalens logs the refused logins, rate-limited (one line)" \
	test "$(grep -c 'http: refused a login' "$OUT/auth.log")" -eq 1

# --- TLS, headers, versions ----------------------------------------------------
cat > "$OUT/tls.yml" <<YML
tls_server_config:
  cert_file: pki/server.crt
  key_file: pki/server.key
http_server_config:
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: $HASH
YML
daemon tls "$OUT/tls.yml" || nl_fail "numalens starts with TLS"
S=https://127.0.0.1:${DPORT[tls]}
nl_check_eq --names=status,want "TLS: HTTPS with the CA and credentials: 200" \
	"$(code --cacert "$P/ca.crt" -u prometheus:'correct horse' "$S/metrics")" 200
nl_check_eq --names=status,want "TLS: HTTPS without credentials: 401" "$(code --cacert "$P/ca.crt" "$S/metrics")" 401
nl_check_eq --names=status,want "TLS: a client that does not trust the CA gets no answer" "$(code "$S/metrics")" 000
nl_check_eq --names=status,want "TLS: plain HTTP to the TLS port gets no answer" \
	"$(code "http://127.0.0.1:${DPORT[tls]}/metrics")" 000
hdrs=$(curl -s -D - -o /dev/null --cacert "$P/ca.crt" -u prometheus:'correct horse' "$S/metrics")
nl_check "TLS: the configured headers are sent" sh -c \
	"printf '%s' \"\$1\" | grep -qi '^X-Frame-Options: deny' && printf '%s' \"\$1\" | grep -qi '^Strict-Transport-Security: max-age=31536000'" _ "$hdrs"
nl_check "TLS: TLS 1.2 and 1.3 by default" sh -c \
	"curl -s -o /dev/null --cacert '$P/ca.crt' --tls-max 1.2 -u prometheus:'correct horse' '$S/healthz' && curl -s -o /dev/null --tlsv1.3 --cacert '$P/ca.crt' -u prometheus:'correct horse' '$S/healthz'"
cat > "$OUT/tls13.yml" <<YML
tls_server_config:
  cert_file: pki/server.crt
  key_file: pki/server.key
  min_version: TLS13
YML
daemon tls13 "$OUT/tls13.yml" || nl_fail "numalens starts with min_version TLS13"
nl_check_eq --names=status,want "min_version TLS13: a TLS 1.2-only client is refused" \
	"$(code --cacert "$P/ca.crt" --tls-max 1.2 "https://127.0.0.1:${DPORT[tls13]}/healthz")" 000
nl_check_eq --names=status,want "min_version TLS13: TLS 1.3 is served" \
	"$(code --cacert "$P/ca.crt" "https://127.0.0.1:${DPORT[tls13]}/healthz")" 200

# --- client certificates --------------------------------------------------------
cat > "$OUT/mtls.yml" <<YML
tls_server_config:
  cert_file: pki/server.crt
  key_file: pki/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: pki/ca.crt
  client_allowed_sans: [scraper.test]
YML
daemon mtls "$OUT/mtls.yml" || nl_fail "numalens starts with RequireAndVerifyClientCert"
M=https://127.0.0.1:${DPORT[mtls]}/metrics
nl_check_eq --names=status,want "mTLS: no client certificate: refused (403)" "$(code --cacert "$P/ca.crt" "$M")" 403
nl_check_eq --names=status,want "mTLS: a self-signed client certificate: refused (403)" \
	"$(code --cacert "$P/ca.crt" --cert "$P/selfie.crt" --key "$P/selfie.key" "$M")" 403
nl_check_eq --names=status,want "mTLS: a CA-signed certificate whose SAN is not allowed: refused (403)" \
	"$(code --cacert "$P/ca.crt" --cert "$P/intruder.crt" --key "$P/intruder.key" "$M")" 403
nl_check_eq --names=status,want "mTLS: the allowed client certificate: 200" \
	"$(code --cacert "$P/ca.crt" --cert "$P/scraper.crt" --key "$P/scraper.key" "$M")" 200

# --- reload ---------------------------------------------------------------------
serial() {   # PORT -> the serial of the certificate served
	openssl s_client -connect "127.0.0.1:$1" -CAfile "$P/ca.crt" </dev/null 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null | sed 's/serial=//'
}
want=$(openssl x509 -noout -serial -in "$P/server2.crt" | sed 's/serial=//')
before=$(serial "${DPORT[tls]}")
nl_check_eq --names=served,file "reload: the first certificate is served" "$before" \
	"$(openssl x509 -noout -serial -in "$P/server.crt" | sed 's/serial=//')"
sed -i 's#pki/server\.#pki/server2.#' "$OUT/tls.yml"
nl_check "reload: the new certificate is served within 3 s, no restart" \
	sh -c "for i in \$(seq 1 30); do [ \"\$(openssl s_client -connect 127.0.0.1:${DPORT[tls]} -CAfile '$P/ca.crt' </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null)\" = 'serial=$want' ] && exit 0; sleep 0.1; done; exit 1"
nl_check "reload: logged" grep -q 'web.config.file=.*reloaded (TLS on' "$OUT/tls.log"
nl_check "reload: the same daemon still runs" kill -0 "${DPID[tls]}"
printf 'tls_server_config:\n  cert_file: pki/server2.crt\n  key_fil: pki/server2.key\n' > "$OUT/tls.yml"
nl_check "reload: a broken edit is logged, naming the key" sh -c \
	"for i in \$(seq 1 30); do grep -q 'does not load; still serving the previous one: tls_server_config.key_fil: unknown key' '$OUT/tls.log' && exit 0; sleep 0.1; done; exit 1"
nl_check_eq --names=status,want "reload: ... and the previous config (TLS, basic auth) is still served" \
	"$(code --cacert "$P/ca.crt" -u prometheus:'correct horse' "$S/metrics")" 200

# --- numalens apply as a TLS client -----------------------------------------------
# the mTLS daemon (client certificate required); apply's dry run of alpha's hints
printf 'correct horse\n' > "$OUT/password"
A=(--vm=alpha --path.procfs="$OUT/host/proc" --timeout=5)
MU=https://127.0.0.1:${DPORT[mtls]}
"$BIN" apply --url="$MU" --tls.ca-file="$P/ca.crt" "${A[@]}" > "$OUT/apply-nocert.txt" 2>&1
nl_check "apply over https without the client certificate mTLS wants: refused, with a message" \
	grep -q '403' "$OUT/apply-nocert.txt"
"$BIN" apply --url="$MU" --tls.ca-file="$P/ca.crt" --tls.cert-file="$P/scraper.crt" \
	--tls.key-file="$P/scraper.key" "${A[@]}" > "$OUT/apply-mtls.txt" 2>&1
# served: the server's answer, alpha's hints or none (exit 3: no matching hint)
served() { case $1 in 0|3) grep -qE 'hint|alpha' "$2" && ! grep -qE '40[13]|certificate' "$2" ;; *) false ;; esac; }
nl_check "apply over https with the CA and its client certificate: served" served "$?" "$OUT/apply-mtls.txt" ||
	cat "$OUT/apply-mtls.txt"
"$BIN" apply --url="$MU" "${A[@]}" > "$OUT/apply-noca.txt" 2>&1
nl_check "apply over https without --tls.ca-file: the server is not trusted" \
	grep -qi 'certificate' "$OUT/apply-noca.txt"
"$BIN" apply --url=https://numalens.test:9808 "${A[@]}" > "$OUT/apply-far.txt" 2>&1
rc=$?
nl_check_eq --names=exit,want "apply: a --url that is not this host needs --tls.ca-file (or --insecure)" "$rc" 2
nl_check "... and says so" grep -q 'trusted over https with --tls.ca-file, or with --insecure' "$OUT/apply-far.txt"
"$BIN" apply --url="$U" --auth.user=prometheus "${A[@]}" > "$OUT/apply-half.txt" 2>&1
nl_check_eq --names=exit,want "apply: --auth.user without --auth.password-file is a usage error" "$?" 2
"$BIN" apply --url="$U" --auth.user=prometheus --auth.password-file="$OUT/password" "${A[@]}" \
	> "$OUT/apply-auth.txt" 2>&1
nl_check "apply with basic auth: served" served "$?" "$OUT/apply-auth.txt" || cat "$OUT/apply-auth.txt"
"$BIN" apply --url="$U" "${A[@]}" > "$OUT/apply-noauth.txt" 2>&1
nl_check "apply without credentials: 401, with a message" grep -q '401' "$OUT/apply-noauth.txt"

# --- a bad file at start ----------------------------------------------------------
printf 'tls_server_config:\n  cert_file: pki/server.crt\n' > "$OUT/bad.yml"
"$BIN" --discovery=proc --path.procfs="$OUT/host/proc" --path.sysfs="$OUT/host/sys" \
	--web.listen-address=127.0.0.1:0 --web.config.file="$OUT/bad.yml" > "$OUT/bad.log" 2>&1
rc=$?
nl_check_eq --names=exit,want "a bad web config at start: exit 1" "$rc" 1
nl_check "... with a message naming the key" grep -q 'web.config.file=.*bad.yml: tls_server_config.key_file: missing' "$OUT/bad.log"

# --- two listen addresses ---------------------------------------------------------
"$BIN" --discovery=proc --no-collector.perf --path.procfs="$OUT/host/proc" --path.sysfs="$OUT/host/sys" \
	--sample.interval=0.2s --log.level=info --web.listen-address=127.0.0.1:0 \
	--web.listen-address=127.0.0.2:0 > "$OUT/two.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ "$(grep -c 'http: listening on' "$OUT/two.log")" -ge 2 ] && break; sleep 0.05; done
p1=$(sed -n 's/.*listening on 127.0.0.1:0 (port \([0-9]*\).*/\1/p' "$OUT/two.log")
p2=$(sed -n 's/.*listening on 127.0.0.2:0 (port \([0-9]*\).*/\1/p' "$OUT/two.log")
nl_check_eq --names=127.0.0.1,127.0.0.2 "two --web.listen-address: both serve /healthz" \
	"$(code "http://127.0.0.1:$p1/healthz"):$(code "http://127.0.0.2:$p2/healthz")" "200:200"

# --- systemd: socket activation, sd_notify and the watchdog -----------------
# Without systemd here, python3 plays its part: it binds the listening socket
# and passes it as fd 3 (LISTEN_FDS=1, LISTEN_PID=the daemon's), and listens
# on NOTIFY_SOCKET for READY=1 and the WATCHDOG=1 pings (WATCHDOG_USEC=1 s).
if command -v python3 >/dev/null; then
	python3 - "$BIN" "$OUT" > "$OUT/systemd.txt" 2>&1 <<'PY'
import os, socket, sys, time, urllib.request
binary, out = sys.argv[1], sys.argv[2]
lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("127.0.0.1", 0)); lst.listen(16)
port = lst.getsockname()[1]
path = out + "/notify.sock"
note = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); note.bind(path); note.settimeout(0.2)
pid = os.fork()
if pid == 0:
    if lst.fileno() != 3: os.dup2(lst.fileno(), 3)
    os.set_inheritable(3, True)
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), NOTIFY_SOCKET=path,
               WATCHDOG_USEC="1000000")
    log = os.open(out + "/systemd.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(log, 1); os.dup2(log, 2)
    os.execve(binary, [binary, "--discovery=proc", "--no-collector.perf",
                       "--path.procfs=" + out + "/host/proc", "--path.sysfs=" + out + "/host/sys",
                       "--sample.interval=0.2s", "--web.systemd-socket"], env)
lst.close()
msgs, end, served = [], time.time() + 4, None
while time.time() < end:
    try: msgs.append(note.recv(4096).decode())
    except socket.timeout: pass
    if served is None and any("READY=1" in m for m in msgs):
        try: served = urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=2).status
        except Exception as e: served = str(e)
os.kill(pid, 15); os.waitpid(pid, 0)
try:
    while True: msgs.append(note.recv(4096).decode())
except socket.timeout: pass
print("ready=%d watchdog=%d stopping=%d served=%s" % (sum("READY=1" in m for m in msgs),
      sum("WATCHDOG=1" in m for m in msgs), sum("STOPPING=1" in m for m in msgs), served))
PY
	read -r ready wd stopping served < <(sed -n 's/^ready=\([0-9]*\) watchdog=\([0-9]*\) stopping=\([0-9]*\) served=\(.*\)/\1 \2 \3 \4/p' "$OUT/systemd.txt")
	nl_check_eq --names=got,want "--web.systemd-socket: /healthz answered on the socket systemd passed" "${served:-none}" 200 ||
		cat "$OUT/systemd.txt"
	nl_check_eq --names=got,want "sd_notify: READY=1 once, STOPPING=1 at SIGTERM" "${ready:-}:${stopping:-}" 1:1
	nl_check_num --names=pings,want "sd_notify: WATCHDOG=1 every half period (1 s) while the sampler runs: 4 s" "${wd:-}" -ge 6
else
	nl_fail "python3 is installed (yq needs it too)"
fi

# --- promtool and a real Prometheus --------------------------------------------
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
	for ex in deploy/web-config/*.yml; do
		d=$OUT/example-$(basename "$ex" .yml)
		mkdir -p "$d"
		cp "$ex" "$d/"
		cp "$P/server.crt" "$d/numalens.crt"
		cp "$P/server.key" "$d/numalens.key"
		cp "$P/ca.crt" "$d/ca.crt"
		nl_check "promtool check web-config $ex" sh -c \
			"promtool check web-config '$d/$(basename "$ex")' > '$d/promtool.txt' 2>&1 || { cat '$d/promtool.txt'; exit 1; }"
		nl_check "numalens takes $ex too" sh -c \
			"'$BIN' --discovery=proc --path.procfs='$OUT/host/proc' --path.sysfs='$OUT/host/sys' --web.listen-address=127.0.0.1:0 --web.config.file='$d/$(basename "$ex")' --sample.interval=0.2s > '$d/numalens.log' 2>&1 & p=\$!; sleep 1; kill -0 \$p && kill \$p; r=\$?; wait \$p; exit \$r"
	done
	pd=$OUT/prometheus
	mkdir -p "$pd"
	cp "$P/ca.crt" "$pd/numalens-ca.crt"
	printf 'correct horse' > "$pd/numalens-password"
	sed -e "s/127\.0\.0\.1:9808/127.0.0.1:${DPORT[tls]}/" -e "s/_interval: 15s/_interval: 1s/" \
		deploy/prometheus/scrape-https.yml > "$pd/prometheus.yml"
	# the tls daemon serves server2 with basic auth again
	sed -i 's#key_fil:#key_file:#' "$OUT/tls.yml"
	printf 'basic_auth_users:\n  prometheus: %s\n' "$HASH" >> "$OUT/tls.yml"
	nl_check "promtool check config deploy/prometheus/scrape-https.yml" \
		sh -c "promtool check config '$pd/prometheus.yml' > '$pd/promtool.txt' 2>&1 || { cat '$pd/promtool.txt'; exit 1; }"
	prometheus --config.file="$pd/prometheus.yml" --storage.tsdb.path="$pd/data" \
		--web.listen-address=127.0.0.1:0 > "$pd/prometheus.log" 2>&1 &
	PIDS+=($!)
	ppid_=$!
	pport=
	for _ in $(seq 1 100); do
		pport=$(ss -ltnp 2>/dev/null | awk -v p="pid=$ppid_," '$0 ~ p { sub(/.*:/, "", $4); print $4; exit }')
		[ -n "$pport" ] && break
		sleep 0.1
	done
	up=
	for _ in $(seq 1 60); do
		up=$(curl -s "http://127.0.0.1:$pport/api/v1/query?query=up%7Bjob%3D%22numalens%22%7D" |
			jq -r '.data.result[0].value[1] // empty' 2>/dev/null)
		[ "$up" = 1 ] && break
		sleep 0.5
	done
	nl_check_eq --names=prometheus,want "a real Prometheus scrapes numalens over HTTPS with basic auth (up)" "$up" 1
	n=$(curl -s "http://127.0.0.1:$pport/api/v1/query?query=count(%7Bjob%3D%22numalens%22%2C__name__%3D~%22numalens_.*%22%7D)" |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null)
	nl_check_num --names=prometheus,want "... and stores numalens series" "$n" -gt 10
else
	nl_fail "promtool and prometheus are installed (tests/lib/deps.sh test)"
fi

nl_summary security
