#!/usr/bin/env bash
# End-to-end test of the /api/v1 HTTP API: the real daemon on a fixture host
# (tests/fixtures/two-socket, copied) whose vCPU counters advance (a
# replayed trace: both vCPUs busy, one on each node, 75% of the memory on
# node 0), so that the hint engine makes a real decision. Checks the JSON
# answers, decodes the protobuf answers of every endpoint with
# `protoc --decode` against exporter/numalens.proto, posts profiles in both
# encodings (one built by `protoc --encode`), sends every kind of bad
# request, reads the hint metrics (and promtool), and runs
# `numalens apply` in dry-run mode over IPv4 and IPv6. Then arrivals, on a
# second daemon where alpha's memory may make room: POST /api/v1/arrivals
# in JSON and protobuf (the answer decoded by protoc), the room-making hint
# found at once by GET /api/v1/hints?id= and `numalens apply --id`, every
# refused registration changing nothing, DELETE, and ?policy= on
# POST /api/v1/placement.
# No fixed port (port 0) and no libvirt: no lock needed. Every comparison
# fails on an empty, zero (where a measurement is expected) or unparsable
# side and prints both; a count of zero hints or answers fails.
#
#   tests/api/run.sh [build/numalens]
# NL_EXTRA_FLAGS (environment): extra flags for the daemon, to break a
# measurement on purpose (e.g. '--hints.enter-gain=1': no hint at all).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${1:-${BUILD:-build}/numalens}
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh
OUT=${BUILD:-build}/api
PROTO=exporter/numalens.proto
rm -rf "$OUT"
mkdir -p "$OUT"
cp -a tests/fixtures/two-socket "$OUT/host"
NLPID= NLPID2= RPID=

cleanup() {
	[ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
	[ -n "$NLPID" ] && kill "$NLPID" 2>/dev/null && wait "$NLPID" 2>/dev/null
	[ -n "$NLPID2" ] && kill "$NLPID2" 2>/dev/null && wait "$NLPID2" 2>/dev/null
}
trap cleanup EXIT

for tool in curl jq protoc; do
	command -v "$tool" >/dev/null || { nl_fail "$tool is installed (tests/lib/deps.sh test)"; nl_summary api; exit 1; }
done

# The trace: every 0.1 s each vCPU thread runs 0.1 s more (one busy core
# each). vCPU 0 sits on CPU 1 (node 0), vCPU 1 on CPU 5 (node 1).
replay() {
	local f a b c
	while :; do
		for tid in 4248 4249; do
			f=$OUT/host/proc/4242/task/$tid/schedstat
			read -r a b c < "$f"
			printf '%s %s %s\n' $((a + 100000000)) "$b" $((c + 1)) > "$f.tmp" && mv "$f.tmp" "$f"
		done
		sleep 0.1
	done
}
replay &
RPID=$!

"$BIN" --discovery=proc --no-collector.perf \
	--path.procfs="$OUT/host/proc" --path.sysfs="$OUT/host/sys" \
	--web.listen-address=":0" --sample.interval=0.2s --log.level=info \
	"${NL_EXTRA[@]}" > "$OUT/numalens.log" 2>&1 &
NLPID=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*http: listening on .*(port \([0-9]*\).*/\1/p' "$OUT/numalens.log" | head -n 1)
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "$PORT" ] || { nl_fail "daemon listens"; cat "$OUT/numalens.log"; nl_summary api; exit 1; }
URL=http://127.0.0.1:$PORT
echo "api: daemon on port $PORT, fixture two-socket with a replayed trace"

# code METHOD PATH [curl args...]: prints the HTTP status, body to $OUT/body
code() {
	local m=$1 p=$2; shift 2
	curl -sS -o "$OUT/body" -w '%{http_code}' -X "$m" "$@" "$URL$p"
}
jqe() {   # EXPR FILE: jq -e, quiet
	jq -e "$1" "$2" >/dev/null
}
decode() {   # TYPE FILE
	protoc --decode="numalens.v1.$1" --proto_path=exporter "$PROTO" < "$2"
}

t0=$(date +%s.%N)
for _ in $(seq 1 200); do
	n=$(curl -fsS "$URL/api/v1/hints" 2>/dev/null | jq '.hints | length' 2>/dev/null)
	[ "${n:-0}" -gt 0 ] && break
	sleep 0.05
done
dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')
echo "    first hints after ${dt}s (1 window for rates + 3 to confirm, 0.2 s each)"
nl_check_num --names=hints,want "the engine publishes hints for the remote VM" "$n" -gt 0

# --- JSON -------------------------------------------------------------------
curl -fsS "$URL/api/v1/hints" -o "$OUT/hints.json"
H=$OUT/hints.json
nl_check_eq "default policy is locality" "$(jq -r .policy "$H" 2>/dev/null)" locality
nl_check_eq "inputs are placement (no PMU in the fixture)" "$(jq -r .inputs "$H" 2>/dev/null)" placement
nl_check_eq "pin_vcpus of alpha to node 0" \
	"$(jq -r '.hints[] | select(.kind=="pin_vcpus" and .vm=="alpha") | .target.node' "$H" 2>/dev/null)" 0
nl_check_eq "pin_vcpus targets node 0's CPUs" \
	"$(jq -r '.hints[] | select(.kind=="pin_vcpus") | .target.cpus' "$H" 2>/dev/null)" 0-3
mem1=$(curl -fsS "$URL/api/v1/vms/alpha" | jq '.memory[] | select(.node==1) | .bytes' 2>/dev/null)
nl_check_num --names=bytes,want "alpha has memory on node 1 (/api/v1/vms/alpha)" "$mem1" -gt 0
nl_check_eq "migrate_memory moves node 1's memory ($mem1 bytes) to node 0" \
	"$(jq -r '.hints[] | select(.kind=="migrate_memory") | "\(.target.node) \(.target.from_nodes[0]) \(.target.bytes)"' "$H" 2>/dev/null)" "0 1 $mem1"
# (of at least one hint: "all of none" is no check)
nl_check_num --nonzero --names=complete,hints "every hint has id, reason, evidence, gain, cost, confidence, times, actions" \
	"$(jq '[.hints[] | select(.id and .reason_code and .reason and .evidence and .expected_gain
		and (.cost_bytes != null) and .cost_seconds and .confidence and .created and .expires
		and (.actions | length > 0))] | length' "$H" 2>/dev/null)" -eq "$(jq '.hints | length' "$H" 2>/dev/null)"
nl_check "a /proc-discovered VM is pinned per thread (taskset)" \
	jqe '.hints[] | select(.kind=="pin_vcpus") | .actions[] | select(.command == "taskset -pc 0-3 4249")' "$H"
nl_check "the memory move names migratepages" \
	jqe '.hints[] | select(.kind=="migrate_memory") | .actions[] | select(.command == "migratepages 4242 1 0")' "$H"
nl_check "evidence: proxy intensity, placement locality about 0.5" \
	jqe '.hints[0].evidence | .intensity_metric == "proxy" and .locality > 0.4 and .locality < 0.6' "$H"
id=$(jq -r '.hints[] | select(.kind=="pin_vcpus") | .id' "$H" 2>/dev/null)
sleep 1
nl_check_eq --names=now,before "the hint keeps its id over cycles" \
	"$(curl -fsS "$URL/api/v1/hints?kind=pin_vcpus" | jq -r '.hints[0].id // empty' 2>/dev/null)" "$id"
for p in locality simple dino asymsched; do
	nl_check_eq --names=status,want "?policy=$p answers" "$(code GET "/api/v1/hints?policy=$p")" 200
done

# --- protobuf, decoded by protoc ----------------------------------------------
pb() {   # PATH TYPE
	curl -fsS -H 'Accept: application/x-protobuf' "$URL$1" -o "$OUT/pb.bin" &&
		decode "$2" "$OUT/pb.bin" > "$OUT/pb.txt"
}
nl_check "protoc --decode HintList" pb /api/v1/hints HintList
nl_check "  ... has the pin_vcpus hint" grep -q 'kind: PIN_VCPUS' "$OUT/pb.txt"
nl_check "  ... with the id" grep -q "id: \"$id\"" "$OUT/pb.txt"
nl_check "protoc --decode VmList" pb /api/v1/vms VmList
nl_check "  ... lists alpha" grep -q 'name: "alpha"' "$OUT/pb.txt"
nl_check "protoc --decode Vm" pb /api/v1/vms/alpha Vm
nl_check "  ... with per-role detail" grep -q 'role: "vcpu"' "$OUT/pb.txt"
nl_check "protoc --decode Profile" pb /api/v1/vms/alpha/profile Profile
cp "$OUT/pb.bin" "$OUT/profile.pb"
nl_check "  ... with memory and history" sh -c "grep -q 'memory_bytes: 2153775104' '$OUT/pb.txt' && grep -q 'history {' '$OUT/pb.txt'"
nl_check "protoc --decode Error (404)" sh -c \
	"curl -sS -H 'Accept: application/x-protobuf' '$URL/api/v1/vms/nope' -o '$OUT/err.bin' &&
	 protoc --decode=numalens.v1.Error --proto_path=exporter '$PROTO' < '$OUT/err.bin' | grep -q 'code: 404'"
nl_check "Content-Type names the message" sh -c \
	"curl -sSI -X GET -H 'Accept: application/x-protobuf' '$URL/api/v1/hints' | grep -qi '^Content-Type: application/x-protobuf; proto=numalens.v1.HintList'"

# --- placement ------------------------------------------------------------------
curl -fsS "$URL/api/v1/vms/alpha/profile" -o "$OUT/profile.json"
nl_check_eq --names=status,want "POST the JSON profile: 200" "$(code POST /api/v1/placement -H 'Content-Type: application/json' --data-binary @"$OUT/profile.json")" 200
nl_check "  ... both nodes ranked, best first" jqe '.fits and (.nodes | length == 2) and .nodes[0].score >= .nodes[1].score and .recommended_node == .nodes[0].node' "$OUT/body"
nl_check_eq --names=status,want "POST the protobuf profile: 200" "$(code POST /api/v1/placement -H 'Content-Type: application/x-protobuf' -H 'Accept: application/x-protobuf' --data-binary @"$OUT/profile.pb")" 200
nl_check "  ... protoc --decode Placement" sh -c "protoc --decode=numalens.v1.Placement --proto_path=exporter '$PROTO' < '$OUT/body' | grep -q 'fits: true'"
printf 'vm: "incoming" memory_bytes: 1073741824 cpu_cores: 1.5 memory_intensive: true\n' |
	protoc --encode=numalens.v1.Profile --proto_path=exporter "$PROTO" > "$OUT/enc.pb"
nl_check_eq --names=status,want "POST a Profile built by protoc --encode: 200" "$(code POST /api/v1/placement -H 'Content-Type: application/x-protobuf' --data-binary @"$OUT/enc.pb")" 200
nl_check_eq "  ... for the incoming VM" "$(jq -r .vm "$OUT/body" 2>/dev/null)" incoming
printf 'vm: "huge" memory_bytes: 1099511627776\n' |
	protoc --encode=numalens.v1.Profile --proto_path=exporter "$PROTO" > "$OUT/huge.pb"
code POST /api/v1/placement -H 'Content-Type: application/x-protobuf' --data-binary @"$OUT/huge.pb" >/dev/null
nl_check "a 1 TiB VM fits nowhere" jqe '(.fits | not) and .recommended_node == -1 and .nodes[0].reason_code == "memory"' "$OUT/body"

# --- bad requests -----------------------------------------------------------------
bad() {   # WANT MESSAGE METHOD PATH [curl args]
	local want=$1 msg=$2 got; shift 2
	got=$(code "$@")
	if [ "$got" = "$want" ] && grep -q -- "$msg" "$OUT/body"; then
		nl_pass "$want $msg"
	else
		nl_fail "$want $msg (got $got: $(head -c 300 "$OUT/body"))"
	fi
}
J=(-H 'Content-Type: application/json')
P=(-H 'Content-Type: application/x-protobuf')
bad 400 "malformed JSON" POST /api/v1/placement "${J[@]}" --data-binary '{"vm": "x",'
bad 400 'unknown field \\"mem\\"' POST /api/v1/placement "${J[@]}" --data-binary '{"vm":"x","mem":1}'
bad 400 "want an integer" POST /api/v1/placement "${J[@]}" --data-binary '{"vm":"x","memory_bytes":"1G"}'
head -c 20 "$OUT/profile.pb" > "$OUT/trunc.pb"
bad 400 "malformed protobuf" POST /api/v1/placement "${P[@]}" --data-binary @"$OUT/trunc.pb"
printf '\377\377\377\377\377\377\377\377\377\377\377' > "$OUT/invalid.pb"
bad 400 "malformed protobuf" POST /api/v1/placement "${P[@]}" --data-binary @"$OUT/invalid.pb"
{ cat "$OUT/enc.pb"; printf '\230\006\001'; } > "$OUT/unknown.pb"
bad 400 "unknown field number 99" POST /api/v1/placement "${P[@]}" --data-binary @"$OUT/unknown.pb"
head -c $((300 * 1024)) /dev/zero | tr '\000' ' ' > "$OUT/big.json"
bad 413 "larger than" POST /api/v1/placement "${J[@]}" --data-binary @"$OUT/big.json"
bad 413 "larger than" POST /api/v1/placement "${J[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$OUT/big.json"
bad 415 "not supported" POST /api/v1/placement --data-binary '{"vm":"x"}'
bad 404 'no VM named \\"ghost\\"' GET "/api/v1/hints?vm=ghost"
bad 404 'no VM named \\"ghost\\"' GET /api/v1/vms/ghost/profile
bad 400 "unknown policy" GET "/api/v1/hints?policy=numad"
bad 400 "unknown query argument" GET "/api/v1/vms?limit=3"
bad 405 "not allowed" GET /api/v1/placement
bad 404 "no API endpoint" GET /api/v1/bogus
bad 406 "lists neither" GET /api/v1/hints -H 'Accept: text/html'
curl -fsS "$URL/api/v1/hints" >/dev/null
nl_check "the daemon survived all of it" kill -0 "$NLPID"
nl_check "/healthz still ok" curl -fsS "$URL/healthz" -o /dev/null

# --- metrics ------------------------------------------------------------------------
curl -fsS "$URL/metrics" -o "$OUT/metrics.txt"
nl_check "numalens_hint_info for alpha's pin_vcpus" \
	grep -q "^numalens_hint_info{id=\"$id\",vm=\"alpha\",kind=\"pin_vcpus\",policy=\"locality\",target=\"0\"} 1" "$OUT/metrics.txt"
nl_check "numalens_hints per policy" grep -q '^numalens_hints{policy="dino"} ' "$OUT/metrics.txt"
nl_check "numalens_hint_cost_bytes of the move" \
	grep -q "^numalens_hint_cost_bytes{vm=\"alpha\",kind=\"migrate_memory\",target=\"0\"} $mem1\$" "$OUT/metrics.txt"
if command -v promtool >/dev/null; then
	nl_check "promtool check metrics" sh -c "promtool check metrics < '$OUT/metrics.txt' >/dev/null 2>&1"
fi

# --- latency --------------------------------------------------------------------------
lat() {   # PATH ACCEPT -> "MEAN-SECONDS ANSWERS" over 50 requests (only 2xx answers count)
	local p=$1 a=$2
	for _ in $(seq 1 50); do
		curl -fsS -o /dev/null -w '%{time_total}\n' -H "Accept: $a" "$URL$p" 2>/dev/null
	done | awk '{s += $1} END {printf "%.4f %d", NR ? s / NR : -1, NR}'
}
read -r l1 n1 < <(lat /api/v1/hints application/json)
read -r l2 n2 < <(lat /api/v1/hints application/x-protobuf)
read -r l3 n3 < <(lat /api/v1/vms application/json)
echo "    latency (mean of 50, curl incl. connect): hints JSON ${l1}s, protobuf ${l2}s, vms ${l3}s"
nl_check_num --names=answers,want "the latency runs got 150 answers of 150 requests" "$((n1 + n2 + n3))" -eq 150

# --- numalens apply, dry run --------------------------------------------------------
"$BIN" apply --url="$URL" --vm=alpha --path.procfs="$OUT/host/proc" > "$OUT/apply.txt" 2>&1
rc=$?
nl_check_num --names=status,want "apply dry run exits 0" "$rc" -eq 0
nl_check "  ... says it is a dry run and changes nothing" grep -q '^dry run: nothing is changed' "$OUT/apply.txt"
nl_check "  ... shows the per-thread pins and the page move" \
	sh -c "grep -q 'would: pin thread 4249 -> CPUs 0-3' '$OUT/apply.txt' && grep -q 'would: migrate_pages' '$OUT/apply.txt'"
nl_check "  ... and no line says changed (of the lines that say what it would do)" \
	sh -c "grep -q 'would:' '$OUT/apply.txt' && ! grep -q 'changed:' '$OUT/apply.txt'"
"$BIN" apply --url="http://[::1]:$PORT" --id="$id" --path.procfs="$OUT/host/proc" > "$OUT/apply6.txt" 2>&1
nl_check "apply --id over IPv6 ([::1]) finds the hint" sh -c "grep -q 'hint $id: pin_vcpus' '$OUT/apply6.txt'"
"$BIN" apply --url="$URL" --id=0000000000000000 > "$OUT/apply3.txt" 2>&1
nl_check_num --names=status,want "apply of an unknown id exits 3" $? -eq 3
"$BIN" apply --url="$URL" --vm=ghost > "$OUT/apply4.txt" 2>&1
nl_check "apply for an unknown VM exits 3 with the server's message" \
	sh -c "grep -q 'no VM named' '$OUT/apply4.txt'"
"$BIN" apply --url="https://127.0.0.1:$PORT" --vm=alpha > "$OUT/apply-https.txt" 2>&1
nl_check_num --names=status,want "apply over https to a plain-HTTP numalens fails (exit 1)" $? -eq 1
"$BIN" apply --url="ftp://127.0.0.1:$PORT" --vm=alpha > /dev/null 2>&1
nl_check_num --names=status,want "apply refuses a URL that is not http or https (exit 2)" $? -eq 2
"$BIN" apply --url="$URL" --vm=alpha --yes --path.procfs="$OUT/host/proc" > "$OUT/apply5.txt" 2>&1
nl_check_num --names=status,want "apply --yes refuses a fixture procfs (its PIDs are not real)" $? -eq 2

# --- arrivals -------------------------------------------------------------------------
# A second daemon on the same host (same trace), where alpha does not count as
# memory-intensive (--hints.proxy-threshold=1000), so that its memory can make room
# for an arriving VM; its default policy is simple.
"$BIN" --discovery=proc --no-collector.perf \
	--path.procfs="$OUT/host/proc" --path.sysfs="$OUT/host/sys" \
	--web.listen-address="127.0.0.1:0" --sample.interval=0.2s --log.level=info \
	--hints.proxy-threshold=1000 --hints.policy=simple \
	"${NL_EXTRA[@]}" > "$OUT/numalens2.log" 2>&1 &
NLPID2=$!
PORT2=
for _ in $(seq 1 100); do
	PORT2=$(sed -n 's/.*http: listening on .*(port \([0-9]*\).*/\1/p' "$OUT/numalens2.log" | head -n 1)
	[ -n "$PORT2" ] && break
	sleep 0.05
done
URL2=http://127.0.0.1:$PORT2
for _ in $(seq 1 100); do
	curl -fsS "$URL2/api/v1/vms" -o "$OUT/vms2.json" 2>/dev/null &&
		jqe '.vms[0].cpu_cores > 0' "$OUT/vms2.json" && break
	sleep 0.05
done
nl_check "second daemon (alpha not memory-intensive) measures alpha" jqe '.vms[0].cpu_cores > 0 and (.vms[0].memory_intensive | not)' "$OUT/vms2.json"
code2() {   # like code, on the second daemon
	local m=$1 p=$2; shift 2
	curl -sS -o "$OUT/body" -D "$OUT/headers" -w '%{http_code}' -X "$m" "$@" "$URL2$p"
}
uuids() {   # the registered UUIDs, sorted, one line
	curl -fsS "$URL2/api/v1/arrivals" | jq -c '[.arrivals[].uuid] | sort' 2>/dev/null
}
UIN=0a0b0c0d-1111-4222-8333-444455556666
UIN2=0a0b0c0d-1111-4222-8333-777788889999
# 11.2 GiB: node 1 has 10.95 GiB free above the 512 MiB reserve, node 0 8.92 GiB
ARR='{"profile":{"vm":"incoming","uuid":"'$UIN'","source_host":"src1","memory_bytes":12025908428,"vcpus":2,"cpu_cores":1,"memory_intensive":true,"llc_mpki":30}}'
nl_check_eq --names=status,want "POST /api/v1/arrivals (JSON, default policy): 201" \
	"$(code2 POST /api/v1/arrivals "${J[@]}" --data-binary "$ARR")" 201
cp "$OUT/body" "$OUT/arrival.json"
A=$OUT/arrival.json
nl_check_eq "  ... vm, uuid, policy, state" "$(jq -r '"\(.vm) \(.uuid) \(.policy) \(.state)"' "$A" 2>/dev/null)" "incoming $UIN simple pending"
nl_check_eq "  ... the chosen node is 1" "$(jq -c .nodes "$A" 2>/dev/null)" "[1]"
nl_check "  ... every node ranked, with score and reason, best first" \
	jqe '(.ranking | length == 2) and ([.ranking[] | select(.score != null and (.reason | length > 0))] | length == 2) and .ranking[0].node == 1 and .ranking[0].score >= .ranking[1].score' "$A"
nl_check "  ... says why it won" jqe '.reason | length > 0' "$A"
nl_check "  ... node 1 fits after moving alpha's memory" \
	jqe '.ranking[0].reason_code == "fits_after_moves" and .ranking[0].moves[0].vm == "alpha" and .ranking[0].moves[0].to_node == 0' "$A"
nl_check "  ... a room-making hint for alpha with its own id" \
	jqe '.hints[0] | (.id | length == 16) and .kind == "migrate_memory" and .vm == "alpha" and .beneficiary == "incoming" and .policy == "simple" and (.reason | startswith("arrival of VM incoming"))' "$A"
nl_check "  ... <numatune> strict on node 1" jqe '.placement.numatune_xml | contains("<numatune>") and contains("nodeset='"'1'"'")' "$A"
nl_check "  ... <cputune> pins both vCPUs and the emulator to node 1's CPUs" \
	jqe '.placement.cputune_xml | contains("<vcpupin vcpu='"'0'"' cpuset='"'4-7'"'/>") and contains("<vcpupin vcpu='"'1'"' cpuset='"'4-7'"'/>") and contains("<emulatorpin cpuset='"'4-7'"'/>")' "$A"
nl_check "  ... the migrate parameter and virsh usage" \
	jqe '(.placement.migrate_param | contains("VIR_MIGRATE_PARAM_DEST_XML")) and (.placement.virsh_usage | contains("virsh migrate") and contains("--xml"))' "$A"
nl_check_num --names=ttl,want "  ... expires 10 minutes after created" \
	"$(jq '.expires - .created | round' "$A" 2>/dev/null)" -eq 600
nl_check_eq "  ... with the profile it was sent" "$(jq -r '"\(.profile.vm) \(.profile.source_host) \(.profile.memory_bytes)"' "$A" 2>/dev/null)" "incoming src1 12025908428"
rid=$(jq -r '.hints[0].id // empty' "$A" 2>/dev/null)
curl -fsS "$URL2/api/v1/hints?id=$rid" -o "$OUT/rh.json"
nl_check_eq "GET /api/v1/hints?id=<the arrival's hint id> finds it" "$(jq -r '.hints[0].id // empty' "$OUT/rh.json" 2>/dev/null)" "$rid"
nl_check_eq "  ... with the same target and bytes" \
	"$(jq -c '.hints[0].target | [.node, .from_nodes, .bytes]' "$OUT/rh.json" 2>/dev/null)" \
	"$(jq -c '.hints[0].target | [.node, .from_nodes, .bytes]' "$A" 2>/dev/null)"
# (its dry run asks move_pages(2) where the pages are: the fixture's PID is
# not a real process, so that step fails, exit 1; 3 would be "no such hint")
"$BIN" apply --url="$URL2" --id="$rid" --path.procfs="$OUT/host/proc" > "$OUT/apply-arr.txt" 2>&1
nl_check_num --names=status,want "numalens apply --id=<the arrival's hint id> finds it (exit not 3)" $? -ne 3
nl_check "  ... and would move alpha's pages off node 1, for incoming" sh -c "grep -q 'hint $rid: migrate_memory of VM \"alpha\" -> node 0' '$OUT/apply-arr.txt' && grep -q 'would: move_pages (nodes 1 -> 0' '$OUT/apply-arr.txt' && grep -q 'makes room for VM \"incoming\"' '$OUT/apply-arr.txt'"
sleep 0.5
nl_check_num --names=count,want "after the engine's next cycles the hint is listed once" \
	"$(curl -fsS "$URL2/api/v1/hints" | jq --arg id "$rid" '[.hints[] | select(.id == $id)] | length' 2>/dev/null)" -eq 1
nl_check_num --names=count,want "  ... and not under another policy" \
	"$(curl -fsS "$URL2/api/v1/hints?policy=locality" | jq --arg id "$rid" '[.hints[] | select(.id == $id)] | length' 2>/dev/null)" -eq 0
nl_check_eq "GET /api/v1/arrivals lists it" "$(uuids)" "[\"$UIN\"]"
nl_check_eq --names=status,want "GET /api/v1/arrivals/UUID: 200" "$(code2 GET /api/v1/arrivals/$UIN)" 200
nl_check_eq "  ... its ranking's move still names alpha (a newer snapshot than the POST's)" \
	"$(jq -r '.ranking[0].moves[0].vm' "$OUT/body" 2>/dev/null)" alpha

# protobuf: a request built by protoc --encode, the answers decoded by protoc
printf 'profile { vm: "incoming2" uuid: "%s" memory_bytes: 1073741824 cpu_cores: 0.5 } policy: POLICY_DINO ttl_seconds: 120\n' "$UIN2" |
	protoc --encode=numalens.v1.ArrivalRequest --proto_path=exporter "$PROTO" > "$OUT/arr.pb"
nl_check_eq --names=status,want "POST an ArrivalRequest built by protoc --encode: 201" \
	"$(code2 POST /api/v1/arrivals "${P[@]}" -H 'Accept: application/x-protobuf' --data-binary @"$OUT/arr.pb")" 201
decode Arrival "$OUT/body" > "$OUT/arr.txt" 2>&1
nl_check "  ... protoc --decode Arrival: pending, dino, the uuid" \
	sh -c "grep -q 'state: ARRIVAL_STATE_PENDING' '$OUT/arr.txt' && grep -q 'policy: POLICY_DINO' '$OUT/arr.txt' && grep -q 'uuid: \"$UIN2\"' '$OUT/arr.txt'"
nl_check "  ... with a ranking and the placement XML" \
	sh -c "grep -q '^ranking {' '$OUT/arr.txt' && grep -q 'numatune_xml: \"<numatune>' '$OUT/arr.txt'"
nl_check "  ... expiring after its 120 s" \
	sh -c "awk '/^created:/ {c = \$2} /^expires:/ {e = \$2} END {exit !(e - c > 119.9 && e - c < 120.1)}' '$OUT/arr.txt'"
nl_check "protoc --decode ArrivalList lists both" sh -c \
	"curl -fsS -H 'Accept: application/x-protobuf' '$URL2/api/v1/arrivals' -o '$OUT/al.pb' &&
	 protoc --decode=numalens.v1.ArrivalList --proto_path=exporter '$PROTO' < '$OUT/al.pb' > '$OUT/al.txt' &&
	 grep -q 'uuid: \"$UIN\"' '$OUT/al.txt' && grep -q 'uuid: \"$UIN2\"' '$OUT/al.txt'"

# bad arrivals: a clear 4xx each, and nothing changes
both=$(uuids)
bad2() {   # WANT MESSAGE METHOD PATH [curl args]: bad() on the second daemon, then
	# the registered UUIDs must be as before
	local want=$1 msg=$2 got now; shift 2
	got=$(code2 "$@")
	now=$(uuids)
	if [ "$got" = "$want" ] && grep -q -- "$msg" "$OUT/body" && [ -n "$now" ] && [ "$now" = "$both" ]; then
		nl_pass "$want $msg (registrations unchanged)"
	else
		nl_fail "$want $msg (got $got: $(head -c 300 "$OUT/body"); registered $now, before $both)"
	fi
}
alpha_uuid=6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e
bad2 409 "already running" POST /api/v1/arrivals "${J[@]}" --data-binary '{"profile":{"vm":"alpha2","uuid":"'$alpha_uuid'","memory_bytes":1073741824}}'
bad2 409 "already registered" POST /api/v1/arrivals "${J[@]}" --data-binary "$ARR"
bad2 400 'unknown value \\"numad\\"' POST /api/v1/arrivals "${J[@]}" --data-binary '{"profile":{"vm":"x","uuid":"0a0b0c0d-1111-4222-8333-000000000003","memory_bytes":1},"policy":"numad"}'
printf '\012\003\012\001x\020\011' > "$OUT/badpol.pb"
bad2 400 "unknown enum value 9" POST /api/v1/arrivals "${P[@]}" --data-binary @"$OUT/badpol.pb"
bad2 422 "more than any node has in all" POST /api/v1/arrivals "${J[@]}" --data-binary '{"profile":{"vm":"huge","uuid":"0a0b0c0d-1111-4222-8333-000000000001","memory_bytes":1099511627776}}'
bad2 400 "ttl_seconds" POST /api/v1/arrivals "${J[@]}" --data-binary '{"profile":{"vm":"x","uuid":"0a0b0c0d-1111-4222-8333-000000000002","memory_bytes":1},"ttl_seconds":-1}'
bad2 400 "profile is required" POST /api/v1/arrivals "${J[@]}" --data-binary '{"policy":"dino"}'
bad2 400 'unknown field \\"colour\\"' POST /api/v1/arrivals "${J[@]}" --data-binary '{"profile":{"vm":"x","memory_bytes":1},"colour":1}'
bad2 400 "not a numalens.v1.ArrivalRequest" POST /api/v1/arrivals "${P[@]}" --data-binary @"$OUT/trunc.pb"
bad2 413 "larger than" POST /api/v1/arrivals "${J[@]}" --data-binary @"$OUT/big.json"
bad2 415 "not supported" POST /api/v1/arrivals --data-binary "$ARR"
bad2 400 "empty body" POST /api/v1/arrivals "${J[@]}" --data-binary ''
bad2 404 "no arrival of UUID" DELETE /api/v1/arrivals/0a0b0c0d-1111-4222-8333-00000000dead
bad2 404 "no arrival of UUID" GET /api/v1/arrivals/0a0b0c0d-1111-4222-8333-00000000dead
bad2 405 "not allowed" DELETE /api/v1/arrivals
nl_check "  ... with Allow: GET, HEAD, POST" grep -qi '^Allow: GET, HEAD, POST' "$OUT/headers"
bad2 405 "not allowed" POST /api/v1/arrivals/$UIN "${J[@]}" --data-binary "$ARR"
nl_check "  ... with Allow: GET, HEAD, DELETE" grep -qi '^Allow: GET, HEAD, DELETE' "$OUT/headers"

# withdraw
nl_check_eq --names=status,want "DELETE /api/v1/arrivals/UUID: 200" "$(code2 DELETE /api/v1/arrivals/$UIN)" 200
nl_check_eq "  ... answers with the withdrawn arrival" "$(jq -r .uuid "$OUT/body" 2>/dev/null)" "$UIN"
nl_check_eq "  ... no longer listed" "$(uuids)" "[\"$UIN2\"]"
t0=$(date +%s.%N)
for _ in $(seq 1 40); do
	n=$(curl -fsS "$URL2/api/v1/hints?id=$rid" | jq '.hints | length' 2>/dev/null)
	[ "$n" = 0 ] && break
	sleep 0.05
done
dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')
echo "    room-making hint gone ${dt}s after the DELETE"
nl_check_num --names=hints,want "  ... and its room-making hint is withdrawn" "$n" -eq 0
nl_check_eq --names=status,want "DELETE it again: 404" "$(code2 DELETE /api/v1/arrivals/$UIN)" 404

# POST /api/v1/placement honours ?policy=
nl_check_eq --names=status,want "POST /api/v1/placement?policy=dino: 200" \
	"$(code2 POST '/api/v1/placement?policy=dino' "${J[@]}" --data-binary '{"vm":"w","memory_bytes":1073741824}')" 200
nl_check_eq "  ... ranked under dino" "$(jq -r .policy "$OUT/body" 2>/dev/null)" dino
nl_check_eq --names=status,want "POST /api/v1/placement (no ?policy=): the server's default" \
	"$(code2 POST /api/v1/placement "${J[@]}" --data-binary '{"vm":"w","memory_bytes":1073741824}')-$(jq -r .policy "$OUT/body" 2>/dev/null)" 200-simple
both=$(uuids)
bad2 400 "unknown policy" POST '/api/v1/placement?policy=numad' "${J[@]}" --data-binary '{"vm":"w","memory_bytes":1}'
nl_check "the second daemon survived all of it" kill -0 "$NLPID2"

nl_summary api
