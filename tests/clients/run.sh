#!/usr/bin/env bash
# End-to-end test of the two clients of issue 11 against real daemons on
# fixture hosts (copies of tests/fixtures/two-socket, no libvirt, no root,
# port 0):
#
#   numalens place: a source host (VM alpha, a replayed trace) and three
#   candidates — roomy (resident VM beta, plenty free), tight (delta, room
#   only after moving some of delta's memory) and full (gamma, no room) —
#   plus a port nobody listens on. The ranking, what would move (checked
#   against the candidate's own POST /api/v1/placement answer), --json, and
#   every exit status; --policy and --register as far as the daemon serves
#   them (?policy= on placement, /api/v1/arrivals: then also a follower on
#   the destination taking up the room-making hint of the registration).
#
#   numalens apply --follow --dry-run on the source: each hint id once,
#   lower step first, before/after lines; the server killed -> backoff
#   messages doubling up to --backoff-max, restarted on the same port ->
#   "answers again" and no hint a second time; --state across follower
#   restarts; SIGTERM and SIGINT -> exit 0, also in the middle of a backoff
#   and of a transfer to a server that never answers; a 404 (--vm of a VM
#   not here) polled on, a 400 fatal.
#
#   tests/clients/run.sh [build/numalens]
# NL_EXTRA_FLAGS (environment): extra flags for every daemon started here.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${1:-${BUILD:-build}/numalens}
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh
OUT=${BUILD:-build}/clients
rm -rf "$OUT"
mkdir -p "$OUT"
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		# (-CONT: the stopped daemon of the silent-server check)
		kill "$p" 2>/dev/null && kill -CONT "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
trap cleanup EXIT

for tool in curl jq; do
	command -v "$tool" >/dev/null || { nl_fail "$tool is installed (tests/lib/deps.sh test)"; nl_summary clients; exit 1; }
done

# mkhost NAME VM UUID [NODE0_FREE_KB NODE1_FREE_KB]: a copy of the fixture
# whose QEMU (PID 4242) runs VM as UUID, with that much free per node.
mkhost() {
	local d=$OUT/$1
	cp -a tests/fixtures/two-socket "$d"
	printf '%s\0' /usr/bin/qemu-system-x86_64 -name "guest=$2,debug-threads=on" -S \
		-uuid "$3" -m 2048 -smp 2 > "$d/proc/4242/cmdline"
	if [ $# -ge 5 ]; then
		sed -i "s/MemFree: *[0-9]* kB/MemFree:        $4 kB/" "$d/sys/devices/system/node/node0/meminfo"
		sed -i "s/MemFree: *[0-9]* kB/MemFree:        $5 kB/" "$d/sys/devices/system/node/node1/meminfo"
	fi
}

# The trace of tests/api/run.sh: both vCPU threads busy, one on each node.
replay() {
	local f a b c
	while :; do
		for tid in 4248 4249; do
			f=$1/proc/4242/task/$tid/schedstat
			read -r a b c < "$f"
			printf '%s %s %s\n' $((a + 100000000)) "$b" $((c + 1)) > "$f.tmp" && mv "$f.tmp" "$f"
		done
		sleep 0.1
	done
}

declare -A DPID DPORT
# daemon NAME [PORT]: numalens on host NAME; waits until it listens.
daemon() {
	local name=$1 port=${2:-0} log=$OUT/$1.log p=
	"$BIN" --discovery=proc --no-collector.perf \
		--path.procfs="$OUT/$name/proc" --path.sysfs="$OUT/$name/sys" \
		--web.listen-address="127.0.0.1:$port" --sample.interval=0.2s --log.level=info \
		"${NL_EXTRA[@]}" > "$log" 2>&1 &
	DPID[$name]=$!
	PIDS+=($!)
	for _ in $(seq 1 100); do
		p=$(sed -n 's/.*http: listening on .*(port \([0-9]*\).*/\1/p' "$log" | head -n 1)
		[ -n "$p" ] && break
		sleep 0.05
	done
	DPORT[$name]=$p
	[ -n "$p" ]
}
url() { echo "http://127.0.0.1:${DPORT[$1]}"; }

# A loopback port nobody listens on (privileged: no test binds it).
DEAD=http://127.0.0.1:1

# until SECONDS COMMAND...: retry the command every 0.05 s for that long.
until_ok() {
	local t=$1 i; shift
	for i in $(seq 1 $((t * 20))); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
hints_on() {   # URL: the daemon publishes at least one hint
	[ "$(curl -fsS "$1/api/v1/hints?policy=locality" 2>/dev/null | jq '.hints | length' 2>/dev/null)" -gt 0 ] 2>/dev/null
}
count() {   # PATTERN FILE: lines matching (0 while FILE is not there yet)
	local n
	n=$(grep -c -- "$1" "$2" 2>/dev/null)
	echo "${n:-0}"
}
at_least() {   # N PATTERN FILE
	[ "$(count "$2" "$3")" -ge "$1" ]
}
jqe() {   # EXPR FILE: jq -e, quiet
	jq -e "$1" "$2" >/dev/null
}
# stop PID SIGNAL: send it and wait; the exit status in RC, the time it
# took in SECS.
stop() {
	local t0
	t0=$(date +%s.%N)
	kill -"$2" "$1"
	wait "$1"
	RC=$?
	SECS=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
}

mkhost src alpha 6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e
mkhost roomy beta 11111111-2222-3333-4444-555555555555
mkhost full gamma 22222222-2222-3333-4444-555555555555 100000 100000
# node 0: 1.0 GiB above the 512 MiB reserve, node 1: 1.5 GiB; alpha needs
# 2.01 GiB: node 0 after moving ~1 GiB of delta's 1.5 GiB there to node 1
mkhost tight delta 33333333-2222-3333-4444-555555555555 1572864 2097152
replay "$OUT/src" &
PIDS+=($!)
for h in src roomy full tight; do
	daemon "$h" || { nl_fail "daemon $h listens"; cat "$OUT/$h.log"; nl_summary clients; exit 1; }
done
echo "clients: source $(url src), candidates roomy $(url roomy), tight $(url tight), full $(url full); dead $DEAD"
until_ok 10 hints_on "$(url src)"
nl_check "the source publishes hints (the replayed trace)" hints_on "$(url src)"
# a resident VM's memory is moved for an arrival only once it is measured
measured() {   # HOST VM: its profile has a CPU demand
	curl -fsS "$(url "$1")/api/v1/vms/$2/profile" 2>/dev/null | jq -e 'has("cpu_cores")' >/dev/null 2>&1
}
for hv in src:alpha roomy:beta tight:delta full:gamma; do
	until_ok 10 measured "${hv%%:*}" "${hv#*:}"
	nl_check "${hv%%:*} has measured ${hv#*:}" measured "${hv%%:*}" "${hv#*:}"
done

# --- numalens place ---------------------------------------------------------------
P=(--from="$(url src)" --vm=alpha)
"$BIN" place "${P[@]}" --to="$(url tight),$(url full),$DEAD,$(url roomy)" > "$OUT/place.txt" 2> "$OUT/place.err"
nl_check_num --names=status,want "place ranks the hosts: exit 0" $? -eq 0
row() {   # RANK NAME-OR-URL: the table row of that rank names that host
	grep -qE "^ +$1  $2 " "$OUT/place.txt"
}
nl_check "  ... 1: roomy (fits, nothing moves)" sh -c "grep -qE '^ +1  $(url roomy) +[01] +0\\.[0-9]+  yes +nothing\$' '$OUT/place.txt'"
nl_check "  ... 2: tight, with delta's memory to move" sh -c "grep -qE '^ +2  $(url tight) +0 +0\\.[0-9]+  yes +[0-9.]+ (G|M)iB of 1 VM: delta\$' '$OUT/place.txt'"
nl_check "  ... 3: full, not feasible, with the reason" sh -c "grep -qE '^ +3  $(url full) +[01] +0\\.00  no +memory: needs 2\\.01 GiB' '$OUT/place.txt'"
nl_check "  ... the dead host last, with the error" row - "$DEAD"
nl_check "  ... best: roomy" grep -q "^best: $(url roomy), node " "$OUT/place.txt"

"$BIN" place "${P[@]}" --to="$DEAD,$(url full),$(url roomy),$(url tight)" --json > "$OUT/place.json"
nl_check_num --names=status,want "place --json: exit 0" $? -eq 0
nl_check_eq "  ... hosts best first, whatever the order of --to" \
	"$(jq -r '[.hosts[].url] | join(" ")' "$OUT/place.json" 2>/dev/null)" "$(url roomy) $(url tight) $(url full) $DEAD"
nl_check_eq "  ... best" "$(jq -r .best "$OUT/place.json" 2>/dev/null)" "$(url roomy)"
nl_check_eq "  ... the source's profile" "$(jq -r '.profile.vm + " " + .profile.uuid' "$OUT/place.json" 2>/dev/null)" \
	"alpha 6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e"
nl_check_eq "  ... tight: VMs to move" "$(jq -c '.hosts[1].move_vms' "$OUT/place.json" 2>/dev/null)" '["delta"]'
# what would move, against the candidate's own answer to the same profile
curl -fsS "$(url src)/api/v1/vms/alpha/profile" -o "$OUT/profile.json"
curl -fsS -H 'Content-Type: application/json' --data-binary @"$OUT/profile.json" \
	"$(url tight)/api/v1/placement" -o "$OUT/tight.json"
nl_check_num --nonzero --names=place,placement "  ... tight: bytes to move = the sum of its placement's moves" \
	"$(jq '.hosts[1].move_bytes' "$OUT/place.json" 2>/dev/null)" -eq \
	"$(jq '[.nodes[0].moves[].bytes] | add' "$OUT/tight.json" 2>/dev/null)"
nl_check_eq "  ... tight: the node its placement recommends" "$(jq '.hosts[1].node' "$OUT/place.json" 2>/dev/null)" \
	"$(jq '.recommended_node' "$OUT/tight.json" 2>/dev/null)"
nl_check "  ... full: not feasible, memory" jqe '.hosts[2] | (.fits | not) and (.feasible | not) and .reason_code == "memory"' "$OUT/place.json"
nl_check "  ... dead: the error" jqe '.hosts[3].error | test("cannot connect")' "$OUT/place.json"

"$BIN" place "${P[@]}" --to="$(url full)" > "$OUT/place3.txt" 2>&1
nl_check_num --names=status,want "place: no host fits: exit 3" $? -eq 3
nl_check "  ... says so" grep -q '^no host fits VM "alpha"$' "$OUT/place3.txt"
"$BIN" place "${P[@]}" --to="$(url full),$DEAD" > /dev/null 2>&1
nl_check_num --names=status,want "place: none fits and one could not be asked: exit 4" $? -eq 4
"$BIN" place --from="$DEAD" --vm=alpha --to="$(url roomy)" > /dev/null 2> "$OUT/place4.err"
nl_check_num --names=status,want "place: the source is away: exit 4" $? -eq 4
"$BIN" place --from="$(url src)" --vm=ghost --to="$(url roomy)" > /dev/null 2> "$OUT/place5.err"
nl_check_num --names=status,want "place: no such VM on the source: exit 4" $? -eq 4
nl_check "  ... with the source's message" grep -q 'answered 404: no VM named \\"ghost\\"\|answered 404: no VM named "ghost"' "$OUT/place5.err"
"$BIN" place "${P[@]}" > /dev/null 2>&1
nl_check_num --names=status,want "place without --to: exit 2" $? -eq 2

# ?policy= on POST /api/v1/placement, where the daemon takes it
st=$(curl -sS -o "$OUT/pol.json" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary @"$OUT/profile.json" "$(url roomy)/api/v1/placement?policy=simple")
"$BIN" place "${P[@]}" --to="$(url roomy)" --policy=simple > "$OUT/place6.txt" 2>&1
rc=$?
if [ "$st" = 200 ]; then
	nl_check_num --names=status,want "place --policy=simple: exit 0" "$rc" -eq 0
	nl_check "  ... names the policy" grep -q '; policy simple$' "$OUT/place6.txt"
else
	echo "  note: this daemon's POST /api/v1/placement answers $st to ?policy= ($(jq -r .message "$OUT/pol.json" 2>/dev/null))"
	nl_check_num --names=status,want "place --policy against it: exit 4 (no host could be asked)" "$rc" -eq 4
	nl_check "  ... with the host's message" grep -q "answered $st" "$OUT/place6.txt"
fi

# --register, where the daemon serves /api/v1/arrivals
st=$(curl -sS -o "$OUT/arr.json" -w '%{http_code}' "$(url roomy)/api/v1/arrivals")
"$BIN" place "${P[@]}" --to="$(url tight),$(url roomy)" --register > "$OUT/place7.txt" 2> "$OUT/place7.err"
rc=$?
if [ "$st" = 200 ]; then
	nl_check_num --names=status,want "place --register: exit 0" "$rc" -eq 0
	nl_check "  ... registered on the winner (roomy)" grep -q "^registered on $(url roomy): VM \"alpha\"" "$OUT/place7.txt"
	nl_check "  ... with the destination placement XML" grep -q '<numatune>' "$OUT/place7.txt"
	nl_check "  ... roomy lists the arrival" sh -c \
		"curl -fsS '$(url roomy)/api/v1/arrivals' | jq -e '.arrivals[] | select(.vm == \"alpha\")' >/dev/null"
	nl_check "  ... tight does not" sh -c \
		"curl -fsS '$(url tight)/api/v1/arrivals' | jq -e '[.arrivals[] | select(.vm == \"alpha\")] | length == 0' >/dev/null"
	"$BIN" place "${P[@]}" --to="$(url roomy)" --register > /dev/null 2> "$OUT/place8.err"
	nl_check_num --names=status,want "place --register again (a duplicate): exit 4" $? -eq 4
	curl -fsS -X DELETE "$(url roomy)/api/v1/arrivals/6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e" > /dev/null
	# the whole way: a follower on tight; the arrival registered there; its
	# room-making hint (delta's memory, step 1) picked up by the follower
	"$BIN" apply --follow --dry-run --url="$(url tight)" --policy=locality --interval=0.1 \
		--path.procfs="$OUT/tight/proc" --libvirt.uri=test:///default > "$OUT/follow-arrival.log" 2>&1 &
	F=$!
	PIDS+=($F)
	sleep 0.3
	"$BIN" place "${P[@]}" --to="$(url tight)" --register > "$OUT/place9.txt" 2>&1
	nl_check_num --names=status,want "place --register on tight (room to make): exit 0" $? -eq 0
	rid=$(sed -n 's/^    \([0-9a-f]\{16\}\): migrate_memory of VM "delta" -> node [0-9]* (.*, step 1)$/\1/p' "$OUT/place9.txt")
	nl_check "  ... names delta's room-making hint ($rid)" test -n "$rid"
	until_ok 5 grep -q " follow: new hint $rid: migrate_memory of VM \"delta\" (step 1)\$" "$OUT/follow-arrival.log"
	nl_check "  ... which the follower on tight takes up" \
		grep -q " follow: new hint $rid: migrate_memory of VM \"delta\" (step 1)\$" "$OUT/follow-arrival.log"
	nl_check "  ... as room for alpha" grep -q '^  makes room for VM "alpha"$' "$OUT/follow-arrival.log"
	stop "$F" TERM
	curl -fsS -X DELETE "$(url tight)/api/v1/arrivals/6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e" > /dev/null
else
	echo "  note: this daemon answers $st to GET /api/v1/arrivals: --register is checked against its refusal"
	nl_check_num --names=status,want "place --register against it: exit 4" "$rc" -eq 4
	nl_check "  ... the ranking is still printed" grep -q "^best: $(url roomy)" "$OUT/place7.txt"
	nl_check "  ... and the refusal named" grep -q "registering the arrival on $(url roomy): .* answered $st" "$OUT/place7.err"
fi

# --- numalens apply --follow ---------------------------------------------------
n_hints=$(curl -fsS "$(url src)/api/v1/hints?policy=locality" | jq '.hints | length')
FL=$OUT/follow.log
"$BIN" apply --follow --dry-run --url="$(url src)" --policy=locality --interval=0.1 --backoff-max=0.8 \
	--path.procfs="$OUT/src/proc" --libvirt.uri=test:///default > "$FL" 2>&1 &
F=$!
PIDS+=($F)
until_ok 10 at_least "$n_hints" ' follow: new hint ' "$FL"
nl_check_num --nonzero --names=followed,published "follow: every published hint shown" "$(count ' follow: new hint ' "$FL")" -eq "$n_hints"
ids() { sed -n 's/.* follow: new hint \([0-9a-f]*\):.*/\1/p' "$FL"; }
nl_check_num --nonzero --names=distinct,lines "  ... each id once" "$(ids | sort -u | wc -l)" -eq "$(ids | wc -l)"
steps=$(sed -n 's/.* follow: new hint .*(step \([0-9]*\))$/\1/p' "$FL" | tr '\n' ' ')
nl_check_eq "  ... lower step first (steps in order: $steps)" "$steps" "$(echo "$steps" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')"
nl_check "  ... the VM before" grep -q '^  before: VM "alpha": locality 0\.[0-9]*; memory node 0 1\.50 GiB, node 1 514 MiB' "$FL"
nl_check_num --names=results,hints "  ... a dry-run result for each" "$(count '^  result: dry run, nothing changed$' "$FL")" -eq "$n_hints"
nl_check "  ... through apply's checks (the actions, would: lines)" grep -q '^  would: migrate_pages (nodes 1 -> 0' "$FL"
nl_check "  ... and nothing changed" sh -c "! grep -q 'changed:' '$FL'"
until_ok 5 at_least "$n_hints" ' follow: after hint ' "$FL"
nl_check_num --names=after,hints "  ... the VM after, at a newer snapshot" "$(count ' follow: after hint .* (dry run): VM "alpha": locality ' "$FL")" -eq "$n_hints"
sleep 1
nl_check_num --names=shown,published "  ... still once each after 10 more polls" "$(count ' follow: new hint ' "$FL")" -eq "$n_hints"

# the server goes away, then comes back on the same port
port=${DPORT[src]}
kill "${DPID[src]}"; wait "${DPID[src]}" 2>/dev/null
until_ok 8 at_least 5 ' follow: server away ' "$FL"
waits=$(sed -n 's/.* follow: server away .*; retry [0-9]* in \([0-9.]*\) s$/\1/p' "$FL" | head -n 5 | tr '\n' ' ')
nl_check_eq "follow: server away: retries back off, doubling to --backoff-max" "$waits" "0.1 0.2 0.4 0.8 0.8 "
nl_check "  ... saying why" grep -q ' follow: server away (cannot connect to ' "$FL"
nl_check "  ... the follower keeps running" kill -0 "$F"
daemon src "$port" || nl_fail "the source restarts on port $port"
until_ok 10 grep -q ' follow: server answers again after [0-9]* failed polls ' "$FL"
nl_check "follow: the restarted server is found again" grep -q ' follow: server answers again after [0-9]* failed polls (' "$FL"
until_ok 10 hints_on "$(url src)"
nl_check "  ... which publishes the hints again" hints_on "$(url src)"
sleep 1
nl_check_num --names=shown,published "  ... and none is applied a second time" "$(count ' follow: new hint ' "$FL")" -eq "$n_hints"
stop "$F" TERM
nl_check_num --names=status,want "follow: SIGTERM: exit 0" "$RC" -eq 0
nl_check_num --names=seconds,limit "  ... at once (${SECS} s)" "$SECS" -lt 1
nl_check "  ... saying so" grep -q " follow: stopped by Terminated: 0 hints applied\| follow: stopped by Terminated: $n_hints hints shown" "$FL"

# --state: a restarted follower applies nothing again
FS=$OUT/follow-state.log
"$BIN" apply --follow --dry-run --url="$(url src)" --policy=locality --interval=0.1 \
	--state="$OUT/ids" --path.procfs="$OUT/src/proc" --libvirt.uri=test:///default > "$FS" 2>&1 &
F=$!
PIDS+=($F)
until_ok 10 at_least "$n_hints" ' follow: new hint ' "$FS"
stop "$F" INT
nl_check_num --names=status,want "follow --state: SIGINT: exit 0" "$RC" -eq 0
nl_check "  ... saying so" grep -q ' follow: stopped by Interrupt: ' "$FS"
nl_check_num --nonzero --names=lines,hints "  ... the file holds each id, as shown by a dry run" "$(count '^[0-9a-f]* shown [0-9]* ' "$OUT/ids")" -eq "$n_hints"
"$BIN" apply --follow --dry-run --url="$(url src)" --policy=locality --interval=0.1 \
	--state="$OUT/ids" --path.procfs="$OUT/src/proc" --libvirt.uri=test:///default > "$FS.2" 2>&1 &
F=$!
PIDS+=($F)
sleep 1
nl_check "  ... restarted: reads them" grep -q " follow: $n_hints hint ids from $OUT/ids: not applied again" "$FS.2"
nl_check_num --names=new,want "  ... and shows none again" "$(count ' follow: new hint ' "$FS.2")" -eq 0
stop "$F" TERM

# --vm and --kind filters, a VM that is not there (404: polled on), a 400 (fatal)
"$BIN" apply --follow --dry-run --url="$(url src)" --policy=locality --vm=alpha --kind=migrate_memory \
	--interval=0.1 --path.procfs="$OUT/src/proc" --libvirt.uri=test:///default > "$OUT/follow-kind.log" 2>&1 &
F=$!
PIDS+=($F)
"$BIN" apply --follow --dry-run --url="$(url src)" --policy=locality --vm=ghost --interval=0.1 \
	> "$OUT/follow-ghost.log" 2>&1 &
G=$!
PIDS+=($G)
sleep 1
nl_check_num --names=new,want "follow --vm=alpha --kind=migrate_memory: only that hint" \
	"$(count ' follow: new hint [0-9a-f]*: migrate_memory of VM "alpha"' "$OUT/follow-kind.log")" -eq 1
nl_check_num --names=new,want "  ... and no other" "$(count ' follow: new hint ' "$OUT/follow-kind.log")" -eq 1
nl_check_num --names=lines,want "follow --vm=ghost: the 404 logged once, polled on" \
	"$(count 'answered 404: no VM named "ghost" on this host; polling on$' "$OUT/follow-ghost.log")" -eq 1
nl_check "  ... still running" kill -0 "$G"
stop "$G" TERM
nl_check_num --names=status,want "  ... SIGTERM: exit 0" "$RC" -eq 0
stop "$F" TERM
"$BIN" apply --follow --dry-run --url="$(url src)" --policy=locality --kind=bogus --interval=0.1 \
	> "$OUT/follow-bad.log" 2>&1
nl_check_num --names=status,want "follow --kind=bogus: the server's 400 is fatal: exit 1" $? -eq 1
nl_check "  ... with its message" grep -q 'answered 400: .*bogus.*: stopping$' "$OUT/follow-bad.log"

# signals in a backoff wait and in a transfer that gets no answer
"$BIN" apply --follow --dry-run --url="$DEAD" --policy=locality --interval=0.5 > "$OUT/follow-dead.log" 2>&1 &
F=$!
PIDS+=($F)
until_ok 5 grep -q 'retry 3 in 2.0 s$' "$OUT/follow-dead.log"
stop "$F" TERM
nl_check_num --names=status,want "follow: SIGTERM in a 2 s backoff wait: exit 0" "$RC" -eq 0
nl_check_num --names=seconds,limit "  ... at once (${SECS} s)" "$SECS" -lt 0.5
# a server that takes connections and never answers: a stopped daemon
# (the kernel still completes the handshake into its listen backlog)
mkhost silent alpha 6f3c1a52-9a0e-4d1b-8a0f-0c2f3b4a5d6e
daemon silent || nl_fail "daemon silent listens"
kill -STOP "${DPID[silent]}"
"$BIN" apply --follow --dry-run --url="$(url silent)" --policy=locality \
	--timeout=30 > "$OUT/follow-silent.log" 2>&1 &
F=$!
PIDS+=($F)
sleep 0.5
nl_check "  (the follower waits for an answer)" sh -c "kill -0 $F && ! grep -q 'new hint\|server away' '$OUT/follow-silent.log'"
stop "$F" TERM
nl_check_num --names=status,want "follow: SIGTERM in a transfer that gets no answer (--timeout=30): exit 0" "$RC" -eq 0
nl_check_num --names=seconds,limit "  ... within libcurl's progress interval (${SECS} s)" "$SECS" -lt 2

kill -CONT "${DPID[silent]}"

nl_summary clients
