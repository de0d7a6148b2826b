#!/usr/bin/env bash
# Deployment test: everything under dashboards/ and deploy/ must work the
# first time.
#
#   static   promtool check config / check rules / test rules (every alert
#            firing and quiet), alert annotations, dashboard structure
#            (unique ids, the datasource variable everywhere, variables
#            defined, PromQL that parses, names that docs/metrics.md
#            documents), Grafana provisioning files, the systemd unit
#            (systemd-analyze verify, hardening and capabilities),
#            make install / uninstall with DESTDIR and PREFIX, the
#            Kubernetes manifests.
#   runtime  (root, libvirt, under the libvirt test lock) real guests; the
#            syscalls numalens makes are all allowed by the unit's
#            SystemCallFilter; numalens as an unprivileged user with exactly
#            the unit's capabilities still measures everything; a real
#            Prometheus scraping numalens with the shipped scrape config and
#            rules evaluates every dashboard query, every variable query and
#            every recording rule without error, with series wherever the
#            data can exist here (tests/deploy/optional.txt says where it
#            cannot), and every rule is healthy.
#
# Every comparison fails on an empty, zero (where a measurement is expected)
# or unparsable side and prints both; "every X is fine" fails when there was
# no X to look at (no panel, no expression, no scrape, no rule).
#
#   tests/deploy/run.sh [build/numalens]
#   NL_DEPLOY_STATIC_ONLY=1 tests/deploy/run.sh    static checks only
# Knobs (environment): NL_DP_PORT (numalens' port, default 19828; Prometheus
# and a helper numalens use the next two); NL_EXTRA_FLAGS, extra flags for
# every numalens daemon started here, to break a measurement on purpose
# (e.g. '--web.telemetry-path=/elsewhere': Prometheus scrapes nothing);
# NL_KVM_FIX=0, NL_VIRT_TYPE (tests/lib/vms.sh).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
BIN=${1:-build/numalens}
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh
# shellcheck source=tests/lib/vms.sh
. tests/lib/vms.sh

SUITE=deploy
# ck DESCRIPTION COMMAND...: ck that also returns the command's status.
ck() {
	local what=$1; shift
	if "$@"; then nl_pass "$what"; return 0; fi
	nl_fail "$what"; return 1
}
# jqt ARGS...: jq -e without output (a test).
jqt() { jq -e "$@" >/dev/null; }
OUT=$ROOT/build/deploy
rm -rf "$OUT"
mkdir -p "$OUT"
OPTIONAL=tests/deploy/optional.txt
RULES=deploy/prometheus/numalens.rules.yml
ALERTS=deploy/prometheus/numalens.alerts.yml
UNIT=deploy/systemd/numalens.service
K8S=deploy/kubernetes
T0=$SECONDS

for tool in promtool jq yq; do
	if ! command -v "$tool" >/dev/null; then
		nl_fail "$tool is installed (tests/lib/deps.sh test installs it)"
		nl_summary "$SUITE"
		exit 1
	fi
done

# yaml2json FILE: one JSON document per YAML document.
yaml2json() { yq -c . "$1"; }

# --- Prometheus rules -------------------------------------------------------
echo "deploy: Prometheus configuration and rules"
ck "promtool check config deploy/prometheus/prometheus.yml" \
	sh -c "promtool check config deploy/prometheus/prometheus.yml > '$OUT/check-config.txt' 2>&1" ||
	cat "$OUT/check-config.txt"
ck "promtool check rules (recording and alerting)" \
	sh -c "promtool check rules $RULES $ALERTS > '$OUT/check-rules.txt' 2>&1" ||
	cat "$OUT/check-rules.txt"
ck "promtool test rules tests/deploy/alerts.test.yml" \
	sh -c "promtool test rules tests/deploy/alerts.test.yml > '$OUT/test-rules.txt' 2>&1" ||
	cat "$OUT/test-rules.txt"

yaml2json "$ALERTS" > "$OUT/alerts.json"
yaml2json "$RULES" > "$OUT/rules.json"
yaml2json tests/deploy/alerts.test.yml > "$OUT/alerts-test.json"
mapfile -t ALERT_NAMES < <(jq -r '.groups[].rules[] | select(.alert) | .alert' "$OUT/alerts.json")
nl_check_num --names=alerts,want "the alert file has alerts" "${#ALERT_NAMES[@]}" -ge 8
for a in "${ALERT_NAMES[@]}"; do
	ck "$a has a summary and a description" jqt --arg a "$a" '
		[.groups[].rules[] | select(.alert == $a)][0].annotations
		| (.summary // "" | length > 10) and (.description // "" | length > 40)' "$OUT/alerts.json"
	ck "$a has a promtool case where it fires" jqt --arg a "$a" '
		[.tests[].alert_rule_test[]? | select(.alertname == $a and ((.exp_alerts // []) | length) > 0)] | length > 0' \
		"$OUT/alerts-test.json"
	ck "$a has a promtool case where it stays quiet" jqt --arg a "$a" '
		[.tests[].alert_rule_test[]? | select(.alertname == $a and ((.exp_alerts // []) | length) == 0)] | length > 0' \
		"$OUT/alerts-test.json"
done

# --- dashboards ---------------------------------------------------------------
echo "deploy: Grafana dashboards"
DASHES=(dashboards/*.json)
ndash=0; for d in "${DASHES[@]}"; do [ -f "$d" ] && ndash=$((ndash + 1)); done
nl_check_num --names=dashboards,want "three dashboards (host, VM, hints)" "$ndash" -eq 3

# All panels, rows' nested panels included.
JQ_DEFS='def allpanels: (.panels // [])[] | (., allpanels);
	def ds_ok: type == "object" and .type == "prometheus" and .uid == "${datasource}";'

# Every expression of every panel: uid, panel id, refId, base64(expr).
: > "$OUT/exprs.tsv"
declare -A DASH_FILE
for d in "${DASHES[@]}"; do
	name=$(basename "$d")
	if ! jq empty "$d" 2>"$OUT/jq.err"; then
		nl_fail "$name is valid JSON: $(cat "$OUT/jq.err")"
		continue
	fi
	uid=$(jq -r '.uid // ""' "$d")
	DASH_FILE[$uid]=$d
	ck "$name: has a uid and a title" jqt '(.uid // "" | length > 0) and (.title // "" | length > 0)' "$d"
	# (each "every ..." below also needs something to be true of)
	ck "$name: panel ids are unique" jqt "$JQ_DEFS"'
		[allpanels | .id] | length > 0 and (length == (unique | length)) and all(.[]; type == "number")' "$d"
	ck "$name: a datasource variable of type prometheus" jqt '
		[.templating.list[] | select(.name == "datasource" and .type == "datasource" and .query == "prometheus")] | length == 1' \
		"$d"
	ck "$name: instance and vm variables" jqt '
		[.templating.list[] | select(.type == "query") | .name] | (index("instance") != null) and (index("vm") != null)' \
		"$d"
	ck "$name: every panel and target uses the datasource variable" jqt "$JQ_DEFS"'
		[allpanels | select(.type != "row") | (.datasource | ds_ok) and all(.targets[]; .datasource | ds_ok)] | length > 0 and all' \
		"$d"
	ck "$name: every query variable uses the datasource variable" jqt "$JQ_DEFS"'
		[.templating.list[] | select(.type == "query") | .datasource | ds_ok] | length > 0 and all' "$d"
	ck "$name: no fixed datasource uid anywhere" jqt '
		[.. | objects | select(has("datasource")) | .datasource | objects | .uid] | length > 0 and all(. == "${datasource}")' "$d"
	ck "$name: every non-row panel has a title, a description and targets with unique refIds" jqt "$JQ_DEFS"'
		[allpanels | select(.type != "row")
		 | (.title | length > 0) and (.description // "" | length > 0) and (.targets | length > 0)
		   and ([.targets[].refId] | length == (unique | length))
		   and all(.targets[]; .expr | length > 0)] | length > 0 and all' "$d"
	ck "$name: panels fit the 24-column grid" jqt "$JQ_DEFS"'
		[allpanels | .gridPos | .w > 0 and .h > 0 and .x >= 0 and .x + .w <= 24] | length > 0 and all' "$d"
	# variables referenced in expressions and variable queries are defined
	vars_used=$(jq -r "$JQ_DEFS"'[(allpanels | .targets[]?.expr), (.templating.list[] | .query | objects | .query)]
		| map(scan("\\$\\{?([A-Za-z_][A-Za-z0-9_]*)") | .[0]) | unique | .[]' "$d")
	vars_def=$(jq -r '.templating.list[].name' "$d")
	undefined= nused=0
	for v in $vars_used; do
		case $v in __rate_interval | __interval | __range | __range_s) continue ;; esac
		nused=$((nused + 1))
		grep -qx "$v" <<<"$vars_def" || undefined="$undefined $v"
	done
	nl_check_none --names=undefined,used "$name: every variable used is defined" "$undefined" "$nused"
	jq -r --arg uid "$uid" "$JQ_DEFS"'allpanels | select(.type != "row") | . as $p
		| .targets[] | [$uid, ($p.id | tostring), .refId, (.expr | @base64)] | @tsv' "$d" >> "$OUT/exprs.tsv"
done
nuid=$(jq -r '.uid // empty' "${DASHES[@]}" 2>/dev/null | sort -u | grep -c .)
nl_check_num --names="distinct uids,dashboards" "dashboard uids are unique" "$nuid" -eq "$ndash"

# Substitute Grafana's variables the way Grafana would for one host and VM.
subst() {   # EXPR INSTANCE VM
	local e=$1
	e=${e//'$__rate_interval'/10s}
	e=${e//'${__rate_interval}'/10s}
	e=${e//'$__interval'/2s}
	e=${e//'$__range'/5m}
	e=${e//'${instance}'/$2}
	e=${e//'$instance'/$2}
	e=${e//'${vm}'/$3}
	e=${e//'$vm'/$3}
	printf '%s' "$e"
}

# PromQL parses: every dashboard expression, variables substituted, as a
# recording rule through promtool (no Prometheus needed).
{
	echo "groups:"
	echo "  - name: dashboard-expressions"
	echo "    rules:"
	while IFS=$'\t' read -r uid id ref b64; do
		e=$(subst "$(base64 -d <<<"$b64")" "h1:9808" "vm1")
		printf '      - record: dashboard_%s_%s_%s\n        expr: %s\n' \
			"${uid//-/_}" "$id" "$ref" "$(jq -Rn --arg e "$e" '$e')"
	done < "$OUT/exprs.tsv"
} > "$OUT/dashboard-exprs.rules.yml"
nexpr=$(wc -l < "$OUT/exprs.tsv")
nl_check_num --names=expressions,want "the dashboards have panel expressions" "$nexpr" -gt 0
ck "all $nexpr dashboard expressions parse (promtool check rules)" \
	sh -c "promtool check rules '$OUT/dashboard-exprs.rules.yml' > '$OUT/dashboard-exprs.txt' 2>&1" ||
	cat "$OUT/dashboard-exprs.txt"

# Optional items exist, and their panels say why they are empty.
declare -A COND ITEM_TAG
while read -r first rest; do
	case $first in
	'' | '#'*) ;;
	@*) COND[$first]=$rest ;;
	pending) ;;
	*) ITEM_TAG[$first]=${rest%% *} ;;
	esac
done < "$OPTIONAL"
mapfile -t RULE_NAMES < <(jq -r '.groups[].rules[] | select(.record) | .record' "$OUT/rules.json")
# is_rule NAME: a recording rule of that name is defined. (No `printf |
# grep -q`: grep leaving early can kill printf with SIGPIPE, and under
# pipefail a defined rule then read as undefined, at random.)
is_rule() {
	local n
	for n in "${RULE_NAMES[@]}"; do [ "$n" = "$1" ] && return 0; done
	return 1
}
stale=
for item in "${!ITEM_TAG[@]}"; do
	tag=${ITEM_TAG[$item]}
	[ -n "${COND[$tag]:-}" ] || stale="$stale $item(unknown tag $tag)"
	case $item in
	rule/*) is_rule "${item#rule/}" || stale="$stale $item" ;;
	*) IFS=/ read -r uid id ref <<<"$item"
	   grep -qP "^\\Q$uid\\E\t$id\t$ref\t" "$OUT/exprs.tsv" || stale="$stale $item"
	   f=${DASH_FILE[$uid]:-}
	   [ -n "$f" ] && jq -e --argjson id "$id" "$JQ_DEFS"'
		[allpanels | select(.id == $id)][0].fieldConfig.defaults.noValue // "" | length > 10' "$f" >/dev/null ||
		stale="$stale $item(no noValue text)" ;;
	esac
done
nl_check_none --names=bad,items "tests/deploy/optional.txt names existing panels and rules, and their panels explain an empty state" \
	"$stale" "${#ITEM_TAG[@]}"

# Every metric name used is documented in docs/metrics.md (or pending), and
# every recording-rule name used is defined.
mapfile -t PENDING < <(awk '$1 == "pending" {print $2}' "$OPTIONAL")
{
	while IFS=$'\t' read -r _ _ _ b64; do base64 -d <<<"$b64"; echo; done < "$OUT/exprs.tsv"
	jq -r '.groups[].rules[].expr' "$OUT/rules.json" "$OUT/alerts.json"
	jq -r '.templating.list[] | .query | objects | .query' "${DASHES[@]}"
} > "$OUT/all-exprs.txt"
undoc= pend= undef= nmetric=0 nrule=0
for m in $(grep -oE 'numalens_[a-z0-9_]+' "$OUT/all-exprs.txt" | sort -u); do
	nmetric=$((nmetric + 1))
	if grep -qE "^#### $m\$" docs/metrics.md; then continue; fi
	p=
	for pre in "${PENDING[@]}"; do case $m in "$pre"*) p=1 ;; esac; done
	if [ -n "$p" ]; then pend="$pend $m"; else undoc="$undoc $m"; fi
done
for r in $(grep -oE 'numalens:[a-z0-9_:]+' "$OUT/all-exprs.txt" | sort -u); do
	nrule=$((nrule + 1))
	is_rule "$r" || undef="$undef $r"
done
nl_check_none --names=undocumented,metrics "every metric used is documented in docs/metrics.md" "$undoc" "$nmetric"
nl_check_none --names=undefined,rules "every recording rule used is defined" "$undef" "$nrule"
[ -n "$pend" ] && echo "  note pending, not yet in docs/metrics.md (tests/deploy/optional.txt):$pend"

# --- Grafana provisioning -------------------------------------------------
echo "deploy: Grafana provisioning"
P=deploy/grafana/provisioning
ck "dashboard provider: file type, a path" sh -c "yq -e '.apiVersion == 1 and (.providers | length == 1)
	and .providers[0].type == \"file\" and (.providers[0].options.path | length > 0)' $P/dashboards/numalens.yaml >/dev/null"
ck "datasource: a Prometheus data source" sh -c "yq -e '.apiVersion == 1
	and .datasources[0].type == \"prometheus\" and (.datasources[0].url | startswith(\"http\"))' $P/datasources/numalens-prometheus.yaml >/dev/null"

# --- systemd unit and make install ------------------------------------------
echo "deploy: systemd unit, make install / uninstall"
key() { sed -n "s/^$1=//p" "$UNIT"; }
nl_check_eq "unit: runs as the dedicated user numalens" "$(key User)" numalens
nl_check_eq "unit: only CAP_PERFMON, bounding and ambient" \
	"$(key CapabilityBoundingSet):$(key AmbientCapabilities)" "CAP_PERFMON:CAP_PERFMON"
for kv in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
	ProtectKernelTunables=yes ProtectControlGroups=yes RestrictNamespaces=yes \
	MemoryDenyWriteExecute=yes 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
	'EnvironmentFile=-/etc/default/numalens' 'SystemCallFilter=@system-service perf_event_open' \
	Type=notify NotifyAccess=main WatchdogSec=60s IPAddressDeny=any IPAddressAllow=localhost; do
	ck "unit: $kv" grep -qxF "$kv" "$UNIT"
done
ck "unit: ExecStart passes \$NUMALENS_ARGS, set in the environment file" sh -c \
	"grep -q '^ExecStart=.*\\\$NUMALENS_ARGS\$' $UNIT && grep -q '^NUMALENS_ARGS=' deploy/systemd/numalens.default"
ck "sysusers.d: creates the user numalens" grep -qE '^u numalens ' deploy/systemd/numalens.sysusers

INST=$OUT/install
make -s --no-print-directory install DESTDIR="$INST" PREFIX=/opt/nl > "$OUT/install.txt" 2>&1
nl_check_num --names=status,want "make install DESTDIR=... PREFIX=/opt/nl succeeds" $? -eq 0 || cat "$OUT/install.txt"
(cd "$INST" && find . -type f | sort) > "$OUT/installed.txt"
cat > "$OUT/installed.want" <<EOF
./etc/default/numalens
./opt/nl/bin/numalens
./opt/nl/lib/systemd/system/numalens.service
./opt/nl/lib/sysusers.d/numalens.conf
./opt/nl/share/numalens/dashboards/numalens-hints.json
./opt/nl/share/numalens/dashboards/numalens-host.json
./opt/nl/share/numalens/dashboards/numalens-vm.json
./opt/nl/share/numalens/grafana/provisioning/dashboards/numalens.yaml
./opt/nl/share/numalens/grafana/provisioning/datasources/numalens-prometheus.yaml
./opt/nl/share/numalens/prometheus/numalens.alerts.yml
./opt/nl/share/numalens/prometheus/numalens.rules.yml
./opt/nl/share/numalens/prometheus/prometheus.yml
EOF
ck "make install: exactly the expected files under DESTDIR" diff -u "$OUT/installed.want" "$OUT/installed.txt"
ck "installed unit: ExecStart=/opt/nl/bin/numalens \$NUMALENS_ARGS" \
	grep -qxF 'ExecStart=/opt/nl/bin/numalens $NUMALENS_ARGS' "$INST/opt/nl/lib/systemd/system/numalens.service"
ck "installed Grafana provider points at the installed dashboards" \
	grep -qE '^ +path: /opt/nl/share/numalens/dashboards$' "$INST/opt/nl/share/numalens/grafana/provisioning/dashboards/numalens.yaml"
echo 'NUMALENS_ARGS="--sample.interval=5s"' >> "$INST/etc/default/numalens"
make -s --no-print-directory install DESTDIR="$INST" PREFIX=/opt/nl > "$OUT/install2.txt" 2>&1
ck "make install again keeps a changed /etc/default/numalens" \
	grep -q 'sample.interval=5s' "$INST/etc/default/numalens"
make -s --no-print-directory uninstall DESTDIR="$INST" PREFIX=/opt/nl > "$OUT/uninstall.txt" 2>&1
nl_check_eq --names=left,want "make uninstall removes everything but the changed config file" \
	"$(cd "$INST" && find . -type f | sort)" "./etc/default/numalens"
rm -rf "$INST"
# (a PREFIX=/usr install that installed nothing would leave nothing too)
make -s --no-print-directory install DESTDIR="$INST" PREFIX=/usr > /dev/null 2>&1
ninst=$(find "$INST" -type f 2>/dev/null | wc -l)
make -s --no-print-directory uninstall DESTDIR="$INST" PREFIX=/usr > /dev/null 2>&1
nleft=$(find "$INST" -type f 2>/dev/null | wc -l)
nl_check_num --names=files,want "make install PREFIX=/usr installs the same $(wc -l < "$OUT/installed.want") files" \
	"$ninst" -eq "$(wc -l < "$OUT/installed.want")"
nl_check_num --names="files left,want" "make install + uninstall with PREFIX=/usr leave no file behind" "$nleft" -eq 0
rm -rf "$INST"

if command -v systemd-analyze >/dev/null; then
	# verify checks that ExecStart exists: install for real under a
	# temporary PREFIX (no DESTDIR), so the path in the unit is the binary.
	VP=$OUT/verify-prefix
	if make -s --no-print-directory install PREFIX="$VP" SYSCONFDIR="$VP/etc" > "$OUT/verify-install.txt" 2>&1; then
		systemd-analyze verify "$VP/lib/systemd/system/numalens.service" > "$OUT/verify.txt" 2>&1
		rc=$?
		nl_check_eq --names="status:bytes of output,want" "systemd-analyze verify: no error, no warning" \
			"$rc:$(wc -c < "$OUT/verify.txt")" "0:0" ||
			cat "$OUT/verify.txt"
		# the check can fail: a misspelt key is reported
		sed 's/^ProtectHome=/ProtectHomme=/' "$VP/lib/systemd/system/numalens.service" > "$OUT/bad.service"
		systemd-analyze verify "$OUT/bad.service" > "$OUT/verify-bad.txt" 2>&1
		ck "systemd-analyze verify reports a misspelt key (the check can fail)" \
			grep -q "Unknown key 'ProtectHomme'" "$OUT/verify-bad.txt"
	else
		nl_fail "install into a temporary prefix for systemd-analyze"; cat "$OUT/verify-install.txt"
	fi
	rm -rf "$VP"
else
	echo "  skip systemd-analyze verify: systemd-analyze not installed (Debian package systemd)"
fi

# --- Kubernetes -------------------------------------------------------------
echo "deploy: Kubernetes manifests"
for f in namespace daemonset service servicemonitor networkpolicy kustomization; do
	yaml2json "$K8S/$f.yaml" > "$OUT/k8s-$f.json" 2>"$OUT/yq.err" ||
		nl_fail "$f.yaml parses: $(cat "$OUT/yq.err")"
done
DS=$OUT/k8s-daemonset.json SVC=$OUT/k8s-service.json SM=$OUT/k8s-servicemonitor.json
C='.spec.template.spec.containers[0]'
kcheck() { local what=$1 file=$2; shift 2; ck "$what" jqt "$@" "$file"; }
kcheck "kustomization lists every manifest" "$OUT/k8s-kustomization.json" \
	'.resources | sort == ["daemonset.yaml", "namespace.yaml", "networkpolicy.yaml", "service.yaml", "servicemonitor.yaml"]'
kcheck "namespace allows what the pod needs (Pod Security privileged)" "$OUT/k8s-namespace.json" \
	'.kind == "Namespace" and .metadata.labels["pod-security.kubernetes.io/enforce"] == "privileged"'
kcheck "DaemonSet: apps/v1, selector matches the pod labels" "$DS" \
	'.kind == "DaemonSet" and .apiVersion == "apps/v1"
	 and (.spec.selector.matchLabels as $s | .spec.template.metadata.labels | contains($s))'
kcheck "DaemonSet: host PID namespace" "$DS" '.spec.template.spec.hostPID == true'
kcheck "DaemonSet: no host network or IPC, no service account token" "$DS" \
	'.spec.template.spec | (.hostNetwork // false) == false and (.hostIPC // false) == false
	 and .automountServiceAccountToken == false'
kcheck "DaemonSet: exactly one container, not privileged, no privilege escalation, read-only root" "$DS" \
	"(.spec.template.spec.containers | length == 1) and ($C.securityContext | (.privileged // false) == false
	 and .allowPrivilegeEscalation == false and .readOnlyRootFilesystem == true)"
kcheck "DaemonSet: capabilities drop ALL, add exactly PERFMON and SYS_PTRACE" "$DS" \
	"$C.securityContext.capabilities | .drop == [\"ALL\"] and (.add | sort) == [\"PERFMON\", \"SYS_PTRACE\"]"
kcheck "DaemonSet: seccomp RuntimeDefault" "$DS" \
	'.spec.template.spec.securityContext.seccompProfile.type == "RuntimeDefault"'
kcheck "DaemonSet: hostPath volumes are exactly /sys and /run/libvirt" "$DS" \
	'[.spec.template.spec.volumes[] | select(.hostPath) | .hostPath.path] | sort == ["/run/libvirt", "/sys"]'
kcheck "DaemonSet: every mount is read-only" "$DS" "[$C.volumeMounts[] | .readOnly == true] | all"
kcheck "DaemonSet: --path.sysfs is where host /sys is mounted" "$DS" \
	"(.spec.template.spec.volumes[] | select(.hostPath.path == \"/sys\") | .name) as \$v
	 | ($C.volumeMounts[] | select(.name == \$v) | .mountPath) as \$m
	 | $C.args | index(\"--path.sysfs=\" + \$m) != null"
kcheck "DaemonSet: libvirt socket directory mounted at /run/libvirt" "$DS" \
	"[$C.volumeMounts[] | select(.mountPath == \"/run/libvirt\")] | length == 1"
kcheck "DaemonSet: port 'metrics' 9808 matches --web.listen-address, probes on /healthz" "$DS" \
	"($C.ports[] | select(.name == \"metrics\") | .containerPort == 9808)
	 and ($C.args | index(\"--web.listen-address=:9808\") != null)
	 and $C.readinessProbe.httpGet.path == \"/healthz\" and $C.livenessProbe.httpGet.path == \"/healthz\""
kcheck "DaemonSet: --web.config.file inside the mounted secret numalens-web, probes over HTTPS" "$DS" \
	"(.spec.template.spec.volumes[] | select(.secret.secretName == \"numalens-web\") | .name) as \$v
	 | ($C.volumeMounts[] | select(.name == \$v) | .mountPath) as \$m
	 | ($C.args | map(select(startswith(\"--web.config.file=\" + \$m + \"/\"))) | length == 1)
	 and $C.readinessProbe.httpGet.scheme == \"HTTPS\" and $C.livenessProbe.httpGet.scheme == \"HTTPS\""
NP=$OUT/k8s-networkpolicy.json
ck "NetworkPolicy: the DaemonSet's pods, ingress only from one namespace on port 'metrics', no egress" jqt -n \
	--slurpfile n "$NP" --slurpfile d "$DS" '$n[0] as $n | $d[0] as $d
	| $n.kind == "NetworkPolicy" and $n.metadata.namespace == $d.metadata.namespace
	  and ($d.spec.template.metadata.labels | contains($n.spec.podSelector.matchLabels))
	  and ($n.spec.policyTypes | sort) == ["Egress", "Ingress"]
	  and ($n.spec.ingress | length == 1)
	  and ($n.spec.ingress[0].from | length == 1 and (.[0] | keys) == ["namespaceSelector"])
	  and $n.spec.ingress[0].ports == [{"port": "metrics", "protocol": "TCP"}]
	  and $n.spec.egress == []'
ck "Service: selects the DaemonSet's pods, port 'metrics'" jqt -n \
	--slurpfile s "$SVC" --slurpfile d "$DS" '$s[0] as $s | $d[0] as $d
	| $s.kind == "Service" and ($d.spec.template.metadata.labels | contains($s.spec.selector))
	  and ($s.spec.ports | any(.name == "metrics" and .port == 9808 and .targetPort == "metrics"))
	  and $s.metadata.namespace == $d.metadata.namespace'
ck "ServiceMonitor: selects the Service, scrapes port 'metrics', instance = node name" jqt -n \
	--slurpfile m "$SM" --slurpfile s "$SVC" '$m[0] as $m | $s[0] as $s
	| $m.apiVersion == "monitoring.coreos.com/v1" and $m.kind == "ServiceMonitor"
	  and ($s.metadata.labels | contains($m.spec.selector.matchLabels))
	  and ($m.spec.namespaceSelector.matchNames | index($s.metadata.namespace) != null)
	  and ($m.spec.endpoints | any(.port == "metrics" and .path == "/metrics" and .scheme == "https"
	       and any(.relabelings[]; .sourceLabels == ["__meta_kubernetes_pod_node_name"] and .targetLabel == "instance")))
	  and $s.metadata.name == "numalens"'
deploy/kubernetes/prometheusrule.sh numalens release=test > "$OUT/prometheusrule.yaml" 2>&1
yaml2json "$OUT/prometheusrule.yaml" > "$OUT/prometheusrule.json" 2>/dev/null || echo '{}' > "$OUT/prometheusrule.json"
ck "prometheusrule.sh: a PrometheusRule with exactly the groups of the two rule files" jqt -n \
	--slurpfile p "$OUT/prometheusrule.json" --slurpfile r "$OUT/rules.json" --slurpfile a "$OUT/alerts.json" '
	$p[0].kind == "PrometheusRule" and $p[0].metadata.labels.release == "test"
	and $p[0].spec.groups == ($r[0].groups + $a[0].groups)'
jq '.spec' "$OUT/prometheusrule.json" > "$OUT/prometheusrule-spec.json"
ck "prometheusrule.sh: its rules pass promtool check rules" sh -c \
	"promtool check rules '$OUT/prometheusrule-spec.json' > '$OUT/prometheusrule-check.txt' 2>&1"
echo "  static checks: $((SECONDS - T0)) s"

# --- runtime: real guests, real Prometheus ------------------------------------
if [ -n "${NL_DEPLOY_STATIC_ONLY:-}" ]; then
	echo "  skip runtime checks: NL_DEPLOY_STATIC_ONLY is set"
	nl_summary "$SUITE"
	exit $?
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "  skip runtime checks: need root (libvirtd, QEMU's /proc, setpriv)"
	nl_summary "$SUITE"
	exit $?
fi
if ! command -v prometheus >/dev/null; then
	nl_fail "prometheus is installed (Debian package prometheus)"
	nl_summary "$SUITE"
	exit 1
fi

# Background processes below are started with 9>&-: nothing may keep the
# lock after this script ends.
exec 9>/tmp/numalens-libvirt-tests.lock
flock -w 1800 9 || { echo "another libvirt test suite holds the lock" >&2; exit 1; }
T1=$SECONDS
VMP=nl-dp-
NL_PORT=${NL_DP_PORT:-19828}
PROM_PORT=$((NL_PORT + 1))
AUX_PORT=$((NL_PORT + 2))
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	nl_vm_destroy_prefix "$VMP" >/dev/null 2>&1
}
trap cleanup EXIT

wait_until() {   # SECONDS COMMAND...
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -le "$end" ]; do "$@" && return 0; sleep 0.2; done
	return 1
}
# (grep without -q: it reads everything, so curl never dies of SIGPIPE,
# which pipefail would count as a failure)
scrape_has() { curl -fsS --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null | grep "$2" >/dev/null; }

nl_libvirt_start || { nl_fail "libvirtd starts"; nl_summary "$SUITE"; exit 1; }
echo "deploy: runtime (libvirt + QEMU $(nl_vm_virt_type), Prometheus $(prometheus --version 2>&1 | awk 'NR==1{print $3}'))"
nl_vm_destroy_prefix "$VMP" >/dev/null 2>&1
nl_guest_create "${VMP}mem" build/guest/memburn.elf "stride=64 size=160" 1 256 1
nl_guest_create "${VMP}cpu" build/guest/cpuburn.elf "" 1 128 0
nl_guests_started
QPID=$(nl_vm_qemu_pid "${VMP}mem" 2>/dev/null)

# --- the syscalls numalens makes are allowed by the unit's filter ------------
# systemd-analyze syscall-filter lists a set with nested @sets: expand them.
expand_filter() {
	local item
	for item in "$@"; do
		case $item in
		@*) expand_filter $(systemd-analyze syscall-filter "$item" 2>/dev/null |
			awk 'NR > 1 && $1 !~ /^#/ && NF == 1 {print $1}') ;;
		*) echo "$item" ;;
		esac
	done
}
if command -v strace >/dev/null && command -v systemd-analyze >/dev/null; then
	read -r -a FILTER <<<"$(key SystemCallFilter)"
	expand_filter "${FILTER[@]}" | sort -u > "$OUT/syscalls-allowed.txt"
	strace -f -qq -o "$OUT/strace.txt" "$BIN" --web.listen-address="127.0.0.1:$AUX_PORT" \
		--sample.interval=500ms --placement.numa-maps-interval=1s "${NL_EXTRA[@]}" \
		> "$OUT/strace-numalens.log" 2>&1 9>&- &
	SPID=$!
	PIDS+=("$SPID")
	wait_until 30 scrape_has "$AUX_PORT" "vm=\"${VMP}mem\"" || nl_fail "numalens under strace sees ${VMP}mem"
	for path in /metrics / /healthz /nonexistent; do curl -s "http://127.0.0.1:$AUX_PORT$path" >/dev/null; done
	sleep 2
	# stop numalens itself; strace exits with its tracee
	kill -TERM $(pgrep -P "$SPID") 2>/dev/null
	wait "$SPID" 2>/dev/null
	sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$OUT/strace.txt" | sort -u > "$OUT/syscalls-used.txt"
	extra=$(comm -23 "$OUT/syscalls-used.txt" "$OUT/syscalls-allowed.txt" | tr '\n' ' ')
	nused=$(wc -l < "$OUT/syscalls-used.txt") nallowed=$(wc -l < "$OUT/syscalls-allowed.txt")
	echo "    numalens made $nused distinct syscalls; the filter allows $nallowed"
	nl_check_num --names=syscalls,want "systemd-analyze expands the unit's SystemCallFilter" "$nallowed" -gt 0
	nl_check_none --names="not allowed,syscalls made" "every syscall numalens made is in the unit's SystemCallFilter" "${extra% }" "$nused"
	ck "the syscall trace saw perf_event_open (the check sees what matters)" \
		grep -qx perf_event_open "$OUT/syscalls-used.txt"
else
	echo "  skip SystemCallFilter check: needs strace and systemd-analyze"
fi

# --- the unit's capabilities are enough, as an unprivileged user --------------
# setpriv reproduces the unit: another uid than QEMU's, no groups, only the
# unit's ambient capabilities, no_new_privs. --discovery=proc: libvirtd here
# authorises non-root read-only clients through polkit over D-Bus, and this
# host runs neither (a systemd host does; see README "Deploy").
caps_arg() {   # "CAP_A CAP_B" -> "-all,+a,+b"
	local s=-all c
	for c in $1; do c=${c#CAP_}; s="$s,+${c,,}"; done
	printf '%s' "$s"
}
run_as_user() {   # NAME CAPS PORT
	local caps port=$3
	caps=$(caps_arg "$2")
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="$caps" --ambient-caps="$caps" \
		--bounding-set="$caps" --no-new-privs \
		"$BIN" --web.listen-address="127.0.0.1:$port" --sample.interval=500ms --discovery=proc \
		"${NL_EXTRA[@]}" > "$OUT/$1.log" 2>&1 9>&- &
	PIDS+=($!)
	if wait_until 20 scrape_has "$port" "^numalens_thread_cpu_seconds_total{vm=\"${VMP}mem\""; then
		sleep 1.5
		curl -fsS "http://127.0.0.1:$port/metrics" > "$OUT/$1.prom"
	else
		: > "$OUT/$1.prom"
	fi
	kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null
}
UNIT_CAPS=$(key AmbientCapabilities)
run_as_user unit-caps "$UNIT_CAPS" "$AUX_PORT"
M=$OUT/unit-caps.prom
ck "as uid 65534 with $UNIT_CAPS: both VMs tracked" sh -c \
	"grep -q '^numalens_vm_info{vm=\"${VMP}mem\"' $M && grep -q '^numalens_vm_info{vm=\"${VMP}cpu\"' $M"
nl_check_none --names=failing,collectors "as uid 65534 with $UNIT_CAPS: every collector succeeds" \
	"$(grep '^numalens_collector_success{.*} 0$' "$M" | sed -n 's/.*collector="\([^"]*\)".*/\1/p' | paste -sd' ')" \
	"$(grep -c '^numalens_collector_success{' "$M")"
nl_check_num --names=seconds,want "as uid 65534 with $UNIT_CAPS: vCPU placement and CPU time measured" \
	"$(nl_metric "$M" "numalens_vm_node_cpu_seconds_total{vm=\"${VMP}mem\",role=\"vcpu\"" | nl_sum)" -gt 0
nl_check_num --names=bytes,want "as uid 65534 with $UNIT_CAPS: memory per node measured" \
	"$(nl_metric "$M" "numalens_vm_memory_bytes{vm=\"${VMP}mem\"" | nl_sum)" -gt 0
ck "as uid 65534 with $UNIT_CAPS: memory per node from the cgroup, no ptrace needed" \
	grep -Eq "^numalens_vm_memory_source_info\\{vm=\"${VMP}mem\",source=\"cgroup_v[12]\"" "$M"
nl_check_within --names=locality,"0.5 +- 0.5" "as uid 65534 with $UNIT_CAPS: locality scored (a ratio in [0, 1])" \
	"$(nl_metric "$M" "numalens_vm_locality_ratio{vm=\"${VMP}mem\",role=\"all\"")" 0.5 0 0.5
nl_check_num --names=task_clock,want "as uid 65534 with $UNIT_CAPS: perf counts QEMU's threads" \
	"$(nl_metric "$M" "numalens_thread_events_total{vm=\"${VMP}mem\",role=\"vcpu\",thread=\"0\",event=\"task_clock\"}")" -gt 0
# Negative controls: what each capability is for.
run_as_user no-caps "" "$AUX_PORT"
ck "without CAP_PERFMON: perf cannot count QEMU's threads (so the unit needs it)" sh -c \
	"grep -q '^numalens_event_supported{event=\"task_clock\"} 0' $OUT/no-caps.prom && ! grep -q '^numalens_thread_events_total' $OUT/no-caps.prom"
if [ -n "$QPID" ]; then
	ck "without CAP_SYS_PTRACE: QEMU's numa_maps is unreadable (why numa_maps is opt-in)" \
		sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all cat /proc/$QPID/numa_maps >/dev/null 2>&1"
	ck "with CAP_SYS_PTRACE: QEMU's numa_maps is readable" \
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+sys_ptrace --ambient-caps=-all,+sys_ptrace \
		--bounding-set=-all,+sys_ptrace sh -c "cat /proc/$QPID/numa_maps >/dev/null"
fi

# --- a real Prometheus with the shipped scrape config and rules --------------
"$BIN" --web.listen-address="127.0.0.1:$NL_PORT" --sample.interval=1s "${NL_EXTRA[@]}" \
	> "$OUT/numalens.log" 2>&1 9>&- &
NLPID=$!
PIDS+=("$NLPID")
# The shipped example, with this run's target, 1 s intervals and absolute
# rule paths.
yq -y --arg t "127.0.0.1:$NL_PORT" --arg d "$ROOT/deploy/prometheus" '
	.global.scrape_interval = "1s" | .global.evaluation_interval = "1s"
	| .rule_files |= map($d + "/" + .)
	| .scrape_configs[0].scrape_interval = "1s" | .scrape_configs[0].scrape_timeout = "1s"
	| .scrape_configs[0].static_configs = [{targets: [$t]}]' deploy/prometheus/prometheus.yml \
	> "$OUT/prometheus.yml"
ck "the test's Prometheus config passes promtool" sh -c "promtool check config '$OUT/prometheus.yml' >/dev/null 2>&1"
mkdir -p "$OUT/tsdb"
prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn > "$OUT/prometheus.log" 2>&1 9>&- &
PIDS+=($!)
PROM=http://127.0.0.1:$PROM_PORT
INSTANCE=127.0.0.1:$NL_PORT
VM=${VMP}mem

pq() {   # QUERY -> response JSON on stdout; non-zero when not "success"
	curl -sS --max-time 10 --data-urlencode "query=$1" "$PROM/api/v1/query" > "$OUT/q.json" 2>/dev/null &&
		jq -e '.status == "success"' "$OUT/q.json" >/dev/null
}
nseries() { jq '.data.result | length' "$OUT/q.json"; }
has_series() { pq "$1" && [ "$(nseries)" -gt 0 ]; }
# pval QUERY: the value of the query's first series (empty without one)
pval() { pq "$1" && jq -r '.data.result[0].value[1] // empty' "$OUT/q.json"; }

ck "Prometheus is ready" wait_until 30 sh -c "curl -fsS '$PROM/-/ready' >/dev/null 2>&1"
ck "Prometheus scrapes numalens (up == 1)" wait_until 30 has_series "up{job=\"numalens\",instance=\"$INSTANCE\"} == 1"
# Data for the rate windows: wait until the derived series of both guests
# exist.
ck "recording rules produce data for the guests" wait_until 60 sh -c "
	curl -s --data-urlencode 'query=numalens:vm_locality:ratio{vm=\"$VM\"} and on() numalens:vm_cpu:rate1m{vm=\"${VMP}cpu\"} and on() numalens:node_numa_miss:ratio_rate1m' '$PROM/api/v1/query' |
	jq -e '.data.result | length > 0' >/dev/null"
sleep 2
echo "    data ready after $((SECONDS - T1)) s"
# what Prometheus got from numalens: successful scrapes, and samples in the
# last one (a run that scraped nothing must not pass as "no series here")
nl_check_num --names=scrapes,want "Prometheus scraped numalens successfully (sum_over_time(up[10m]))" \
	"$(pval "sum_over_time(up{job=\"numalens\",instance=\"$INSTANCE\"}[10m])")" -ge 2
nl_check_num --names=samples,want "the last scrape brought samples (scrape_samples_scraped)" \
	"$(pval "scrape_samples_scraped{job=\"numalens\",instance=\"$INSTANCE\"}")" -gt 0

# Which optional data exists on this host.
declare -A HAVE
for tag in "${!COND[@]}"; do
	if pq "${COND[$tag]}" && [ "$(nseries)" -gt 0 ]; then HAVE[$tag]=1; else HAVE[$tag]=0; fi
	echo "    $tag: $([ "${HAVE[$tag]}" = 1 ] && echo present || echo absent on this host)"
done

# check_query LABEL ITEM EXPR: no error; series unless ITEM is optional and
# its data does not exist here.
nq=0 nempty_ok=0
check_query() {
	local label=$1 item=$2 expr=$3 tag n
	nq=$((nq + 1))
	if ! pq "$expr"; then
		nl_fail "$label: error: $(jq -r '.error // "no answer"' "$OUT/q.json" 2>/dev/null) [$expr]"
		return
	fi
	n=$(nseries 2>/dev/null)
	tag=${ITEM_TAG[$item]:-}
	if ! nl_is_num "$n"; then
		nl_fail "$label: an answer without a series count ('$n') [$expr]"
	elif [ "$n" -gt 0 ]; then
		nl_pass "$label: $n series"
	elif [ -n "$tag" ] && [ "${HAVE[$tag]}" = 0 ]; then
		nempty_ok=$((nempty_ok + 1))
		nl_pass "$label: no series, expected here ($tag absent: ${COND[$tag]})"
	else
		nl_fail "$label: no series [$expr]"
	fi
}

echo "deploy: every dashboard query through Prometheus (instance=$INSTANCE, vm=$VM)"
while IFS=$'\t' read -r uid id ref b64; do
	title=$(jq -r --argjson id "$id" "$JQ_DEFS"'[allpanels | select(.id == $id)][0].title' \
		"${DASH_FILE[$uid]}")
	check_query "$uid/$id/$ref \"$title\"" "$uid/$id/$ref" "$(subst "$(base64 -d <<<"$b64")" "$INSTANCE" "$VM")"
done < "$OUT/exprs.tsv"
nl_check_num --names=queries,expressions "every dashboard expression was queried" "$nq" -eq "$nexpr"

echo "deploy: every variable query through Prometheus"
nvq=0
for d in "${DASHES[@]}"; do
	uid=$(jq -r .uid "$d")
	while IFS=$'\t' read -r name b64; do
		q=$(subst "$(base64 -d <<<"$b64")" "$INSTANCE" "$VM")
		if [[ $q =~ ^label_values\((.*),\ *([A-Za-z_][A-Za-z0-9_]*)\)$ ]]; then
			sel=${BASH_REMATCH[1]} label=${BASH_REMATCH[2]}
			want=$([ "$name" = instance ] && echo "$INSTANCE" || echo "$VM")
			nvq=$((nvq + 1))
			curl -sS -G --data-urlencode "match[]=$sel" "$PROM/api/v1/series" > "$OUT/v.json"
			ck "$uid variable $name: $q lists $want" jqt --arg l "$label" --arg w "$want" \
				'.status == "success" and ([.data[][$l]] | index($w) != null)' "$OUT/v.json"
		else
			nl_fail "$uid variable $name: query is label_values(SELECTOR, LABEL): $q"
		fi
	done < <(jq -r '.templating.list[] | select(.type == "query") | [.name, (.query | if type == "object" then .query else . end | @base64)] | @tsv' "$d")
done
nl_check_num --names=queries,dashboards "variable queries were run (at least instance and vm per dashboard)" "$nvq" -ge $((2 * ndash))

echo "deploy: every recording rule and alert expression through Prometheus"
nrec=0 nalert=0
while IFS=$'\t' read -r record b64; do
	nrec=$((nrec + 1))
	check_query "rule $record" "rule/$record" "$(base64 -d <<<"$b64")"
	# the rule's own output, recorded by Prometheus, agrees
	if pq "$record"; then
		n=$(nseries); tag=${ITEM_TAG[rule/$record]:-}
		if [ "$n" -eq 0 ] && ! { [ -n "$tag" ] && [ "${HAVE[$tag]}" = 0 ]; }; then
			nl_fail "rule $record: Prometheus recorded no series"
		fi
	fi
done < <(jq -r '.groups[].rules[] | select(.record) | [.record, (.expr | @base64)] | @tsv' "$OUT/rules.json")
while IFS=$'\t' read -r alert b64; do
	nalert=$((nalert + 1))
	ck "alert $alert: expression evaluates" pq "$(base64 -d <<<"$b64")"
done < <(jq -r '.groups[].rules[] | select(.alert) | [.alert, (.expr | @base64)] | @tsv' "$OUT/alerts.json")
nl_check_num --names="recording rules,alerts" "recording rules and alert expressions were evaluated" "$nrec" -gt 0
nl_check_num --names="alerts evaluated,alerts in the file" "every alert expression was evaluated" "$nalert" -eq "${#ALERT_NAMES[@]}"

curl -sS "$PROM/api/v1/rules" > "$OUT/rules-state.json" 2>/dev/null
bad=$(jq -r '.data.groups[].rules[] | select(.health != "ok") | "\(.name // .alert): \(.health) \(.lastError // "")"' \
	"$OUT/rules-state.json" 2>/dev/null | paste -sd';')
nr=$(jq '[.data.groups[].rules[]] | length' "$OUT/rules-state.json" 2>/dev/null)
nfile=$(jq '[.groups[].rules[]] | length' "$OUT/rules.json" "$OUT/alerts.json" | nl_sum)
nl_check_num --names="rules loaded,rules in the files" "Prometheus loaded all the rules" "$nr" -eq "$nfile"
nl_check_none --names=unhealthy,rules "every rule Prometheus loaded is healthy" "$bad" "$nr"
# (only an answer counts: a failed request would list no firing alert)
if curl -sS "$PROM/api/v1/alerts" -o "$OUT/alerts-state.json" 2>/dev/null &&
   jq -e '.status == "success"' "$OUT/alerts-state.json" >/dev/null 2>&1; then
	firing=$(jq -r '[.data.alerts[] | select(.state == "firing") | .labels.alertname] | unique | join(" ")' "$OUT/alerts-state.json")
else
	firing="(no answer from /api/v1/alerts)"
fi
nl_check_none --names=firing,"alerting rules" "no alert fires for a healthy host" "$firing" \
	"$(jq '[.data.groups[].rules[] | select(.type == "alerting")] | length' "$OUT/rules-state.json" 2>/dev/null)"

echo "    $nq queries, $nempty_ok legitimately empty here; runtime $((SECONDS - T1)) s, total $((SECONDS - T0)) s"
ck "numalens still running" kill -0 "$NLPID"
nl_summary "$SUITE"
