# shellcheck shell=bash
# Live migration with the profile sent ahead (issue 11), sourced by
# tests/lab/guest.sh in the 2node-mig guest. Two runs, printed side by side:
#
#   setup (both runs)  node 1: a memory-bound VM (mhog) and the source VM
#                      (msrc, memburn) take its CPUs; node 0: a memory-hungry
#                      but low-traffic VM (mcold) fills it, so that the
#                      incoming VM fits on no node as the host stands.
#   run 1 (profile)    msrc's profile is registered as an arrival
#                      (POST /api/v1/arrivals) before the migration starts;
#                      `numalens apply --follow` makes the room the answer
#                      asks for; the destination QEMU (-incoming) is started
#                      with the answer's nodes (numactl), then msrc is
#                      live-migrated to it (HMP `migrate`).
#   run 2 (baseline)   no profile: the destination starts where this host's
#                      default puts it (its CPUs on node 0, memory local
#                      first) and --follow acts on whatever numalens says
#                      after the VM has arrived.
#
# Measured from the end of the migration (the source's `info migrate` says
# completed): the first hint about the arrived VM, its vCPU locality in the
# first snapshot that has it, the time to locality >= 0.95, and the bytes
# moved after arrival (the kernel's cgroup numa_stat of the arrived VM and
# of mcold: what left each node). Targets: run 1 local (>= 0.95) in the
# first snapshot after arrival and nothing moved after it; run 2 a hint
# within 2 sample windows of the first snapshot that scores the arrived VM.
#
# The destination VM gets its own name and UUID (mdst): source and
# destination are on the same host here, and a registration for a UUID
# that already runs on the host is refused, as it must be.

LM_SRC_MON=4445 LM_DST_PORT=4446
LM_MEM=128 LM_SIZE=64
LM_RESERVE=$((48 * 1048576))

# hmp PORT COMMAND: the monitor's answer in HMP_OUT (HMP over TCP, one
# client at a time: the banner's prompt, then the answer and a prompt)
HMP_OUT=
hmp() {
	local fd all= chunk i
	HMP_OUT=
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf '%s\n' "$2" >&"$fd"
	for i in $(seq 1 40); do
		IFS= read -r -d '' -N 4096 -t 0.25 chunk <&"$fd"
		all+=$chunk
		[[ $all == *'(qemu) '*'(qemu) '* ]] && break
	done
	exec {fd}<&-
	HMP_OUT=${all//$'\r'/}
	[[ $all == *'(qemu) '*'(qemu) '* ]]
}

# nl_restart FLAG...: numalens again with the lab's flags plus these
nl_restart() {
	kill "$NLPID" 2>/dev/null && wait "$NLPID" 2>/dev/null
	"$NL" "${NLFLAGS[@]}" "${EXTRA[@]}" "$@" >> "$OUT/numalens.log" 2>&1 &
	NLPID=$!
	local i
	for i in $(seq 1 100); do http_get /metrics "$M" && return 0; nap 0.2; done
	return 1
}

# node_free N: MemFree of node N, bytes
node_free() {
	local k
	read -r _ _ _ k _ < <(grep MemFree "/sys/devices/system/node/node$1/meminfo")
	echo $((k * 1024))
}
# cg_node_bytes NAME: "B0 B1" anon+shmem+file per node of the VM's cgroup
cg_node_bytes() {
	awk '$1 == "anon" || $1 == "shmem" || $1 == "file" {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); sub("N", "", kv[1]); b[kv[1]] += kv[2] } }
		END { printf "%d %d\n", b[0], b[1] }' "$CG/lab-$1/memory.numa_stat" 2>/dev/null
}
# moved_since "B0 B1" "B0 B1": bytes that left a node between the two
moved_since() {
	local a=($1) b=($2) m=0 n
	for n in 0 1; do
		[ "${a[$n]:-0}" -gt "${b[$n]:-0}" ] && m=$((m + a[n] - b[n]))
	done
	echo "$m"
}

# lm_setup: mhog and msrc on node 1, mcold filling node 0. Sets LM_NEED
# (the profile's memory) and writes the profile to $OUT/lm-profile.json.
lm_setup() {
	local free0 cold
	VM_MEM=$LM_MEM vm_start mhog 1 "stride=4096 size=$LM_SIZE" --membind=1 --cpunodebind=1
	vm_wait_resident mhog 90 || { LM_WHY="mhog: ${WAIT_WHY:-not started}"; return 1; }
	VM_MEM=$LM_MEM VM_EXTRA="-monitor tcp:127.0.0.1:$LM_SRC_MON,server=on,wait=off" \
		vm_start msrc 1 "stride=4096 size=$LM_SIZE" --membind=1 --cpunodebind=1
	LM_SRC_PID=$VM_PID
	vm_wait_resident msrc 90 || { LM_WHY="msrc: ${WAIT_WHY:-not started}"; return 1; }
	wait_samples 2
	http_get /api/v1/vms/msrc/profile "$OUT/lm-profile.json" ||
		{ LM_WHY="msrc profile: HTTP ${HTTP_STATUS:-none}"; return 1; }
	LM_NEED=$(jq -r '.memory_bytes // 0' "$OUT/lm-profile.json")
	isnum "$LM_NEED" && [ "$LM_NEED" -gt 0 ] || { LM_WHY="profile without memory_bytes"; return 1; }
	free0=$(node_free 0)
	# node 0 left with about half the VM free: the kernel cannot put the
	# arriving VM there, and the arrival needs room made (the VM and the
	# reserve, less what is free)
	cold=$(( (free0 - LM_NEED / 2) / 1048576 - 30 ))
	[ "$cold" -gt 64 ] || { LM_WHY="node 0 has only $((free0 / 1048576)) MiB free"; return 1; }
	log "livemig: profile $((LM_NEED / 1048576)) MiB; node 0 free $((free0 / 1048576)) MiB; mcold of $cold MiB on node 0"
	VM_MEM=$((cold + 64)) vm_start mcold 1 "stride=4096 size=$cold mode=touch" --cpunodebind=0 --preferred=0
	vm_wait_resident mcold 150 "memburn: buffer touched once" ||
		{ LM_WHY="mcold: ${WAIT_WHY:-not started}"; return 1; }
	# until its CPU time from touching has left the smoothed figures and
	# it counts as cold (not memory-intensive): only then can its memory
	# make room
	local end=$((SECONDS + 90)) mi=
	while [ $SECONDS -le $end ]; do
		wait_samples 1
		http_get /api/v1/vms/mcold /tmp/lm-mcold.json &&
			mi=$(jq -r '.memory_intensive // false' /tmp/lm-mcold.json) && [ "$mi" = false ] && break
		nap 0.5
	done
	log "livemig: mcold memory-intensive: ${mi:-unknown} ($(jq -c '{intensity, cpu_cores, memory_bytes}' /tmp/lm-mcold.json 2>/dev/null))"
	[ "$mi" = false ] || { LM_WHY="mcold still memory-intensive after 90 s"; return 1; }
	return 0
}

# listening PORT: a TCP socket listens on 127.0.0.1:PORT (/proc/net/tcp; a
# test connection would be taken by QEMU -incoming as the migration)
listening() {
	local hex line
	printf -v hex '%04X' "$1"
	while read -r line; do
		set -- $line
		[ "$2" = "0100007F:$hex" ] && [ "$4" = 0A ] && return 0
	done < /proc/net/tcp
	return 1
}

# lm_migrate: live-migrate msrc to the destination listening on
# LM_DST_PORT; LM_TEND is when the source said completed (microseconds)
lm_migrate() {
	local i st
	for i in $(seq 1 300); do listening $LM_DST_PORT && break; nap 0.2; done
	listening $LM_DST_PORT || { LM_WHY="the destination QEMU does not listen on $LM_DST_PORT"; return 1; }
	hmp $LM_SRC_MON "migrate_set_parameter max-bandwidth 4G" &&
	hmp $LM_SRC_MON "migrate_set_parameter downtime-limit 20000" &&
	hmp $LM_SRC_MON "migrate_set_capability auto-converge on" &&
	hmp $LM_SRC_MON "migrate -d tcp:127.0.0.1:$LM_DST_PORT" ||
		{ LM_WHY="HMP migrate: ${HMP_OUT:-no monitor}"; return 1; }
	for i in $(seq 1 600); do
		hmp $LM_SRC_MON "info migrate"
		st=$(sed -n 's/^Migration status: *//p' <<< "$HMP_OUT")
		[ $((i % 10)) = 1 ] && log "livemig: migration $st: $(grep -E '^(transferred ram|remaining ram|throughput|dirty pages rate|cpu throttle percentage):' <<< "$HMP_OUT" | paste -sd, -)"
		case "$st" in
		completed) LM_TEND=$(now); return 0 ;;
		failed*|cancelled*) LM_WHY="migration $st"; return 1 ;;
		esac
		nap 0.2
	done
	LM_WHY="migration not completed after 120 s (status ${st:-?})"
	return 1
}

# snap_time VAR FILE: the time (microseconds, the clock of now()) the
# snapshot in the scrape FILE was made: the file's scrape time (SCRAPE_TS)
# less numalens_snapshot_age_seconds; no fork
snap_time() {
	local line a i f
	printf -v "$1" '%s' ""
	while IFS= read -r line; do
		[[ $line == 'numalens_snapshot_age_seconds '* ]] || continue
		a=${line##* }
		i=${a%%.*} f=0
		[ "$i" != "$a" ] && f=${a#*.}
		f=${f}000000
		printf -v "$1" '%d' $(( SCRAPE_TS - (10#${i:-0} * 1000000 + 10#${f:0:6}) ))
		return 0
	done < "$2"
	return 1
}

# snap_seq VAR FILE: numalens_samples_total in the scrape FILE: which
# snapshot it is (one per sample cycle); no fork
snap_seq() {
	local line
	printf -v "$1" '%s' ""
	while IFS= read -r line; do
		[[ $line == 'numalens_samples_total '* ]] || continue
		printf -v "$1" '%s' "${line##* }"
		return 0
	done < "$2"
	return 1
}

# lm_first SECONDS, called as soon as the migration ended, and lm_observe
# SECONDS after it: the first snapshot made after it
# ended (LM_FIRST_LOC: the VM's vCPU locality there, "none" when it has
# none; LM_FIRST_DT), then until the deadline the first hint about mdst
# (LM_HINT_DT, LM_HINT_KIND) and the time to locality >= 0.95 (LM_LOC_DT).
# LM_SEQ_END is the last snapshot made before the end, LM_FIRST_SEQ the
# first after it; LM_VM_ST the time of the first snapshot that scores the VM
# (the start of its windows).
# Run 1 stops 3 intervals after it is local; run 2 when it is local and has
# had a hint. LM_TRACE: every snapshot seen, "seconds:locality".
lm_first() {
	local end=$(( $(now) + $(us "$1") )) st v seq
	LM_FIRST_LOC= LM_FIRST_DT= LM_LOC_DT= LM_TRACE=
	LM_SEQ_END= LM_FIRST_SEQ= LM_VM_ST=
	# scrapes only (no fork) until a snapshot newer than the migration's end
	while [ "$(now)" -le "$end" ]; do
		if scrape "$M"; then
			SCRAPE_TS=$(now)
			snap_seq seq "$M"
			if snap_time st "$M" && [ "$st" -gt "$LM_TEND" ]; then
				loc3 v "$M" mdst
				LM_FIRST_SEQ=$seq
				[ -n "$v" ] && LM_VM_ST=$st
				LM_FIRST_LOC=${v:-none} LM_FIRST_DT=$(secs_between "$LM_TEND" "$st")
				LM_TRACE+="$LM_FIRST_DT:$LM_FIRST_LOC "
				[ -n "$v" ] && ge "$v" 0.95 && LM_LOC_DT=$LM_FIRST_DT
				break
			fi
			LM_SEQ_END=$seq
		fi
		nap 0.05
	done
}

lm_observe() {
	local end=$(( $(now) + $(us "$1") )) st v id kind node created last=
	LM_HINT_DT= LM_HINT_KIND= LM_HINT_WIN=
	while [ "$(now)" -le "$end" ]; do
		if scrape "$M"; then
			SCRAPE_TS=$(now)
			loc3 v "$M" mdst
			if snap_time st "$M" && [ "$st" != "$last" ]; then
				last=$st
				[ -n "$v" ] && [ -z "$LM_VM_ST" ] && LM_VM_ST=$st
				LM_TRACE+="$(secs_between "$LM_TEND" "$st"):${v:-none} "
				if [ -n "$v" ] && [ -z "$LM_LOC_DT" ] && ge "$v" 0.95; then
					LM_LOC_DT=$(secs_between "$LM_TEND" "$st")
				fi
			fi
		fi
		if [ -z "$LM_HINT_DT" ]; then
			while read -r id kind node created; do
				[ -n "$kind" ] || continue
				LM_HINT_KIND="$kind->$node" LM_HINT_DT=$(secs_between "$LM_TEND" "$(us "$created")")
				# whole windows from the first snapshot that scored the VM
				# to the one that published the hint (cycles drift by a
				# fraction of one under TCG: rounded)
				[ -n "$LM_VM_ST" ] && LM_HINT_WIN=$(( ($(us "$created") - LM_VM_ST + $(us "$INTERVAL") / 2) / $(us "$INTERVAL") ))
				break
			done < <(hints_of mdst)
		fi
		[ -n "$LM_LOC_DT" ] && [ -n "$LM_HINT_DT" ] && break
		[ -n "$LM_LOC_DT" ] && [ "$LM_RUN" = 1 ] &&
			[ "$(( $(now) - LM_TEND ))" -gt $(( $(us "$INTERVAL") * 3 )) ] && break
		nap 0.2
	done
}

lm_teardown() {
	[ -n "${LM_FOLLOW:-}" ] && kill "$LM_FOLLOW" 2>/dev/null && wait "$LM_FOLLOW" 2>/dev/null
	LM_FOLLOW=
	local v
	for v in mdst msrc mcold mhog; do vm_stop "$v"; done
	VMS=()
}

# lm_run 1|2: one run; prints nothing, sets LM_R<run>_* for the table
lm_run() {
	local run=$1 uuid nodes b0c b0d b1c b1d moved t0 i need_free
	LM_RUN=$run LM_WHY= LM_TEND=
	uuid=$(printf '6e756d61-6c65-6e73-6c69-76656d69670%d' "$run")
	T0=$(now)
	lm_setup || { lm_teardown; return 1; }
	jq --arg u "$uuid" '.vm = "mdst" | .uuid = $u' "$OUT/lm-profile.json" > /tmp/lm-profile.json
	LM_FOLLOW=
	if [ "$run" = 1 ]; then
		jq '{profile: ., policy: "locality"}' /tmp/lm-profile.json > /tmp/lm-arrival.json
		if ! http POST /api/v1/arrivals "$OUT/lm-arrival-$run.json" /tmp/lm-arrival.json; then
			LM_WHY="POST /api/v1/arrivals: HTTP ${HTTP_STATUS:-none}: $(head -c 300 "$OUT/lm-arrival-$run.json")"
			http_get /api/v1/vms "$OUT/lm-vms-refused.json"
			lm_teardown; return 1
		fi
		nodes=$(jq -r '.nodes | map(tostring) | join(",")' "$OUT/lm-arrival-$run.json")
		note "livemig run 1: arrival registered: nodes ${nodes:-none}; $(jq -r '[.ranking[] | "\(.node):\(.score * 100 | round / 100)(\(.reason_code))"] | join(" ")' "$OUT/lm-arrival-$run.json"); $(jq -r '.hints | length' "$OUT/lm-arrival-$run.json") room-making hint(s)"
		[ -n "$nodes" ] || { LM_WHY="the arrival chose no node"; lm_teardown; return 1; }
	fi
	"$NL" apply --follow --url="$URL" --policy=locality --yes > "$OUT/lm-follow-$run.log" 2>&1 &
	LM_FOLLOW=$!
	if [ "$run" = 1 ]; then
		# the room the answer asked for, made by --follow before the
		# destination starts: each room-making hint applied
		local nroom applied=0
		nroom=$(jq -r '.hints | length' "$OUT/lm-arrival-$run.json")
		t0=$(now)
		for i in $(seq 1 300); do
			applied=$(grep -c '^  result: applied' "$OUT/lm-follow-$run.log")
			[ "$applied" -ge "$nroom" ] && break
			nap 0.2
		done
		note "livemig run 1: room made by --follow in $(since "$t0")s: $applied of $nroom room-making hint(s) applied; node 0 free $(( $(node_free 0) / 1048576 )) MiB, the VM needs $((LM_NEED / 1048576)) MiB + the reserve"
		[ "$applied" -ge "$nroom" ] || { LM_WHY="room-making hints not applied after 60 s (see lm-follow-1.log)"; lm_teardown; return 1; }
		VM_MEM=$LM_MEM VM_EXTRA="-uuid $uuid -incoming tcp:127.0.0.1:$LM_DST_PORT" \
			vm_start mdst 1 "stride=4096 size=$LM_SIZE" --membind="$nodes" --cpunodebind="$nodes"
	else
		VM_MEM=$LM_MEM VM_EXTRA="-uuid $uuid -incoming tcp:127.0.0.1:$LM_DST_PORT" \
			vm_start mdst 1 "stride=4096 size=$LM_SIZE" --cpunodebind=0
	fi
	LM_DST_PID=$VM_PID
	lm_migrate || { lm_teardown; return 1; }
	b0d=$(cg_node_bytes mdst) b0c=$(cg_node_bytes mcold)
	# the first snapshot after the end, scraped every 50 ms from now (the
	# newest snapshot at some later scrape could be the second one)
	lm_first $(( 2 * ${INTERVAL%.*} + 5 ))
	vm_stop msrc
	# run 2 is watched for 90 s: long enough for the baseline to win the
	# locality back through --follow (the paper's 12-22 s, here in a TCG
	# guest); run 1 needs a few intervals
	lm_observe $([ "$run" = 1 ] && echo $(( 6 * ${INTERVAL%.*} + 20 )) || echo 90)
	b1d=$(cg_node_bytes mdst) b1c=$(cg_node_bytes mcold)
	moved=$(( $(moved_since "$b0d" "$b1d") + $(moved_since "$b0c" "$b1c") ))
	log "livemig run $run: snapshots after the migration (s:locality): $LM_TRACE"
	log "livemig run $run: mdst bytes per node at arrival $b0d, at the end $b1d; mcold $b0c -> $b1c"
	http_get /api/v1/arrivals "$OUT/lm-arrivals-$run.json" >/dev/null
	printf -v "LM_R${run}_FIRST" '%s' "${LM_FIRST_LOC:-none} at +${LM_FIRST_DT:-?}s"
	printf -v "LM_R${run}_LOC" '%s' "${LM_LOC_DT:+${LM_LOC_DT}s}"
	printf -v "LM_R${run}_HINT" '%s' "${LM_HINT_DT:+${LM_HINT_KIND} at +${LM_HINT_DT}s}"
	printf -v "LM_R${run}_MOVED" '%s' "$moved"
	printf -v "LM_R${run}_STATE" '%s' "$(jq -r --arg u "$uuid" '[.arrivals[]? | select(.uuid == $u) | .state] | first // "none"' "$OUT/lm-arrivals-$run.json" 2>/dev/null)"
	printf -v "LM_R${run}_FIRSTLOC" '%s' "${LM_FIRST_LOC:-}"
	printf -v "LM_R${run}_FIRSTDT" '%s' "${LM_FIRST_DT:-}"
	printf -v "LM_R${run}_HINTDT" '%s' "${LM_HINT_DT:-}"
	printf -v "LM_R${run}_HINTWIN" '%s' "${LM_HINT_WIN:-}"
	printf -v "LM_R${run}_SEQS" '%s' "${LM_SEQ_END:-?}->${LM_FIRST_SEQ:-?}"
	cp "$OUT/lm-follow-$run.log" "$OUT/lm-follow-$run.txt" 2>/dev/null
	lm_teardown
	return 0
}

sc_livemig() {
	[ "$HINTS" = 1 ] || return 0
	local run ok lim t_all s0 s1
	t_all=$(now)
	LM_R1_HINT= LM_R2_HINT= LM_R1_FIRST= LM_R2_FIRST= LM_R1_LOC= LM_R2_LOC=
	LM_R1_MOVED=0 LM_R2_MOVED=0 LM_R1_STATE= LM_R2_STATE= LM_R1_FIRSTLOC= LM_R2_FIRSTLOC=
	LM_R1_FIRSTDT= LM_R2_FIRSTDT= LM_R1_HINTDT= LM_R2_HINTDT=
	LM_R1_HINTWIN= LM_R2_HINTWIN= LM_R1_SEQS= LM_R2_SEQS=
	( while :; do log "livemig: progress: node 0 free $(( $(node_free 0) / 1048576 )) MiB, node 1 free $(( $(node_free 1) / 1048576 )) MiB, load $(cut -d' ' -f1-3 /proc/loadavg)"; nap 10; done ) &
	LM_DEBUG=$!
	# a memory reserve a 1 GiB node can hold with three VMs on the host;
	# and no automatic NUMA balancing, so that what moves is what numalens
	# asked for
	echo 0 > /proc/sys/kernel/numa_balancing 2>/dev/null
	nl_restart --hints.memory-reserve=$LM_RESERVE ||
		{ result "live migration: numalens restarted with a 48 MiB reserve" "up" "not up" 1 "$t_all"; return; }
	for run in 1 2; do
		if ! lm_run "$run"; then
			result "live migration run $run: setup and migration" "done" "$LM_WHY" 1 "$T0"
			kill "$LM_DEBUG" 2>/dev/null
			nl_restart; return
		fi
	done
	note "livemig (from the end of the migration)    run 1 (profile sent ahead) | run 2 (baseline, no profile)"
	note "livemig   first hint about the VM           ${LM_R1_HINT:-none} | ${LM_R2_HINT:-none}"
	note "livemig   locality in the first snapshot    $LM_R1_FIRST | $LM_R2_FIRST"
	note "livemig   vCPU locality >= 0.95 after       ${LM_R1_LOC:-not within the watch} | ${LM_R2_LOC:-not within 90 s}"
	note "livemig   bytes moved after arrival         $((LM_R1_MOVED / 1048576)) MiB | $((LM_R2_MOVED / 1048576)) MiB"
	note "livemig   arrival state                     $LM_R1_STATE | $LM_R2_STATE"
	note "livemig   snapshots at the end (last before -> first after)  $LM_R1_SEQS | $LM_R2_SEQS"
	# run 1: local in the first snapshot made after the migration ended
	# (the next sample cycle: numalens_samples_total one up from the last
	# snapshot before the end). Its time is the sampler's punctuality, not
	# the arrival's: bounded at two intervals, as a cycle in a loaded TCG
	# guest runs up to about a second late
	lim=$(awk -v i="$INTERVAL" 'BEGIN { print 2 * i }')
	s0=${LM_R1_SEQS%->*} s1=${LM_R1_SEQS#*->}
	# (the last before is unknown when the first scrape after the end
	# already had a newer one: then that one is the first)
	[[ $s1 =~ ^[0-9]+$ ]] && { ! [[ $s0 =~ ^[0-9]+$ ]] || [ "$s1" = $((s0 + 1)) ]; } &&
		ge "${LM_R1_FIRSTLOC:-x}" 0.95 && le "${LM_R1_FIRSTDT:-x}" "$lim"; ok=$?
	result "live migration run 1 (profile sent ahead): locality in the first snapshot after arrival" \
		">= 0.95 in the next cycle, within ${lim}s" "$LM_R1_FIRST (snapshot $LM_R1_SEQS)" $ok "$t_all"
	[ "$LM_R1_MOVED" -le $((4 * 1048576)) ]; ok=$?
	result "live migration run 1: memory moved after arrival" "<= 4 MiB" "$((LM_R1_MOVED / 1048576)) MiB" $ok "$t_all"
	[ "$LM_R1_STATE" = ARRIVED ] || [ "$LM_R1_STATE" = arrived ]; ok=$?
	result "live migration run 1: the registered arrival was matched" "ARRIVED" "$LM_R1_STATE" $ok "$t_all"
	# run 2: a hint within 2 windows of the first snapshot that scored the
	# arrived VM (one window of evidence, the arrival's short confirmation)
	[ -n "$LM_R2_HINTWIN" ] && [ "$LM_R2_HINTWIN" -le 2 ]; ok=$?
	result "live migration run 2 (baseline): first hint after arrival" "within 2 windows of the VM's first snapshot" \
		"${LM_R2_HINT:-none}${LM_R2_HINTWIN:+, window $LM_R2_HINTWIN}" $ok "$t_all"
	kill "$LM_DEBUG" 2>/dev/null
	nl_restart
}
