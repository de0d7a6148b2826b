#!/usr/bin/env bash
# Real integration test: a real libvirtd, two real QEMU guests (2 vCPUs and
# one iothread each), the real numalens binary. Checks what an operator
# would: every thread has a series with the right role, vCPU CPU time agrees
# with the kernel's schedstat, per-node memory agrees with the VM's cgroup,
# a destroyed VM vanishes and a started VM appears within one interval, and
# a VM saved and restored is reported as arrived (how="restored") within one
# interval (and an arrival registered for it while it was saved is matched in
# that same cycle), a uid-65534 look-alike QEMU and vhost worker are ignored
# with one log line, and the exposition passes promtool. Every comparison fails on an empty, zero
# (where a measurement is expected) or unparsable side and prints both.
#
#   tests/integration/run.sh [build/numalens]
# Knobs (environment):
#   NL_IT_PORT       numalens' port (default 19808)
#   NL_EXTRA_FLAGS   extra numalens flags, to break a measurement on purpose
#                    and see the checks go red, e.g.
#                    NL_EXTRA_FLAGS='--no-collector.numa_stat --no-collector.numa_maps'
#                    (no memory) or '--no-collector.schedstat' (CPU seconds)
#   NL_KVM_FIX=0, NL_VIRT_TYPE   see tests/lib/vms.sh
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${1:-build/numalens}
# shellcheck source=tests/lib/vms.sh
. tests/lib/vms.sh
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

# One suite at a time may drive libvirt guests and the fixed ports.
exec 9>/tmp/numalens-libvirt-tests.lock
flock -w 1800 9 || { echo "another libvirt test suite holds the lock" >&2; exit 1; }
PREFIX=nl-it-
INTERVAL=1
PORT=${NL_IT_PORT:-19808}
URL="http://127.0.0.1:$PORT/metrics"
OUT=build/it
mkdir -p "$OUT"
NLPID=

cleanup() {
	[ -n "$NLPID" ] && kill "$NLPID" 2>/dev/null && wait "$NLPID" 2>/dev/null
	nl_vm_destroy_prefix "$PREFIX" >/dev/null 2>&1
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "integration: skipped: needs root to run libvirtd and read QEMU's /proc"
	nl_summary integration
	exit 0
fi
nl_libvirt_start || { nl_fail "libvirtd starts"; nl_summary integration; exit 1; }
echo "integration: libvirt + QEMU guests ($(nl_vm_virt_type))"
nl_vm_destroy_prefix "$PREFIX" >/dev/null 2>&1

nl_guest_create "${PREFIX}mem" build/guest/memburn.elf "stride=64 size=160" 2 256 1
nl_guest_create "${PREFIX}cpu" build/guest/cpuburn.elf "" 2 256 1
nl_guests_started

"$BIN" --web.listen-address="127.0.0.1:$PORT" --sample.interval=${INTERVAL}s \
	--log.level=info "${NL_EXTRA[@]}" > "$OUT/numalens.log" 2>&1 &
NLPID=$!

# wait_until SECONDS COMMAND...: poll every 50 ms.
wait_until() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	while [ $SECONDS -le $end ]; do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
has_vm() { nl_scrape "$URL" "$OUT/m" 2>/dev/null && grep -q "^numalens_vm_info{vm=\"$1\"" "$OUT/m"; }
lacks_vm() { nl_scrape "$URL" "$OUT/m" 2>/dev/null && ! grep -q "^numalens_vm_info{vm=\"$1\"" "$OUT/m"; }
samples() { nl_metric "$1" 'numalens_samples_total '; }
# more_samples N: numalens has published N snapshots since the last call
# (of this one or of fresh_snapshot); leaves the scrape in $OUT/f.
SAMPLES0=
more_samples() {
	local now
	nl_scrape "$URL" "$OUT/f" 2>/dev/null || return 1
	now=$(samples "$OUT/f")
	nl_is_num "$now" || return 1
	[ -n "$SAMPLES0" ] || SAMPLES0=$now
	[ "$((now - SAMPLES0))" -ge "$1" ] || return 1
	SAMPLES0=$now
}

nl_check "both guests appear" wait_until 30 sh -c \
	"curl -fsS '$URL' 2>/dev/null | grep -q 'vm=\"${PREFIX}mem\"' && curl -fsS '$URL' | grep -q 'vm=\"${PREFIX}cpu\"'"
# a few windows of data: three more snapshots
SAMPLES0=
nl_check "numalens publishes 3 more snapshots" wait_until 15 more_samples 3
cp "$OUT/f" "$OUT/metrics.txt" 2>/dev/null || : > "$OUT/metrics.txt"
M=$OUT/metrics.txt
FIRST_SAMPLES=$(samples "$M") T_FIRST=$SECONDS

nl_check_num "libvirt_up is 1" "$(nl_metric "$M" 'numalens_libvirt_up ')" -eq 1

# --- every thread has a series with the right role --------------------------
for vm in "${PREFIX}mem" "${PREFIX}cpu"; do
	pid=$(nl_vm_qemu_pid "$vm")
	nv=0 ni=0 ne=0
	for c in /proc/"$pid"/task/*/comm; do
		comm=$(cat "$c" 2>/dev/null) || continue
		case "$comm" in
		"CPU "*/KVM|"CPU "*/TCG) nv=$((nv + 1)) ;;
		"IO mon_iothread") ne=$((ne + 1)) ;;
		"IO "*) ni=$((ni + 1)) ;;
		vhost-*) ;;
		*) ne=$((ne + 1)) ;;
		esac
	done
	nl_check_eq --names=/proc,want "$vm: /proc shows 2 vCPU threads and 1 iothread" "$nv:$ni" "2:1"
	nl_check_num --names=numalens,want "$vm: vcpu thread count 2" \
		"$(nl_metric "$M" "numalens_vm_threads{vm=\"$vm\",role=\"vcpu\"}")" -eq 2
	nl_check_num --names=numalens,want "$vm: iothread count 1" \
		"$(nl_metric "$M" "numalens_vm_threads{vm=\"$vm\",role=\"iothread\"}")" -eq 1
	nl_check_num --names=numalens,want "$vm: emulator threads counted ($ne in /proc)" \
		"$(nl_metric "$M" "numalens_vm_threads{vm=\"$vm\",role=\"emulator\"}")" -ge 1
	for sel in 'role="vcpu",thread="0"' 'role="vcpu",thread="1"' \
		   'role="iothread",thread="1"' 'role="emulator",thread=""'; do
		nl_check "$vm: series $sel" grep -q "^numalens_thread_cpu_seconds_total{vm=\"$vm\",$sel}" "$M"
	done
	nl_check_within --names=numalens,want "$vm: placement locality of vCPUs is 1 on a one-node host" \
		"$(nl_metric "$M" "numalens_vm_locality_ratio{vm=\"$vm\",role=\"vcpu\",source=\"placement\"}")" 1 0 0.001
done

# --- vCPU CPU seconds agree with schedstat ------------------------------------
# Wait for a fresh snapshot, then read schedstat at once: both describe the
# same instant to within a scrape. Do it twice, 10 s apart, compare deltas.
fresh_snapshot() {
	local before now
	nl_scrape "$URL" "$OUT/f" || return 1
	before=$(samples "$OUT/f")
	for _ in $(seq 1 200); do
		nl_scrape "$URL" "$OUT/f" || return 1
		now=$(samples "$OUT/f")
		nl_is_num "$now" && [ "$now" != "$before" ] && SAMPLES0=$now && return 0
		sleep 0.01
	done
	return 1
}
vcpu_schedstat() {   # VM INDEX -> seconds
	local pid=$1 idx=$2 t
	for t in /proc/"$pid"/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in
		"CPU $idx/"*) awk '{printf "%.9f\n", $1 / 1e9}' "$t/schedstat"; return ;;
		esac
	done
}
# delta NEW OLD: NEW - OLD, empty unless both are numbers
delta() { nl_is_num "$1" && nl_is_num "$2" && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.9f\n", a - b }'; }
declare -A A_NL A_K
for round in 1 2; do
	fresh_snapshot || nl_fail "fresh snapshot (numalens_samples_total advances: '$(samples "$OUT/f" 2>/dev/null)')"
	for vm in "${PREFIX}mem" "${PREFIX}cpu"; do
		pid=$(nl_vm_qemu_pid "$vm" 2>/dev/null)
		for i in 0 1; do
			k=
			[ -n "$pid" ] && k=$(vcpu_schedstat "$pid" "$i")
			n=$(nl_metric "$OUT/f" "numalens_thread_cpu_seconds_total{vm=\"$vm\",role=\"vcpu\",thread=\"$i\"}")
			if [ "$round" = 1 ]; then
				A_NL[$vm.$i]=$n; A_K[$vm.$i]=$k
			else
				dn=$(delta "$n" "${A_NL[$vm.$i]}")
				dk=$(delta "$k" "${A_K[$vm.$i]}")
				echo "    $vm vCPU $i: numalens ${A_NL[$vm.$i]:-?} -> ${n:-?} (+${dn:-?}s), schedstat ${A_K[$vm.$i]:-?} -> ${k:-?} (+${dk:-?}s)"
				# vCPU 0 of both guests burns CPU: 10 s must show. vCPU 1
				# is an AP the guest never starts: about 0 is right there.
				nz=(); [ "$i" = 0 ] && nz=(--nonzero)
				nl_check_within "${nz[@]}" --names=numalens,schedstat "$vm vCPU $i CPU seconds within 5% of schedstat" \
					"$dn" "$dk" 0.05 0.02
			fi
		done
	done
	[ "$round" = 1 ] && sleep 10
done

# --- memory per node agrees with the VM's own cgroup --------------------------
vm_cgroup_anon_bytes() {   # PID -> anon(+shmem) bytes from memory.numa_stat
	local pid=$1 path dir
	path=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/"$pid"/cgroup)
	if [ -n "$path" ]; then
		dir=/sys/fs/cgroup/memory$path
	else
		path=$(awk -F: '$1 == "0" {print $3}' /proc/"$pid"/cgroup)
		dir=/sys/fs/cgroup$path
		[ -f /sys/fs/cgroup/cgroup.controllers ] || dir=/sys/fs/cgroup/unified$path
	fi
	case "$(basename "$dir")" in emulator|vcpu*|iothread*) dir=$(dirname "$dir") ;; esac
	if grep -q '^anon N' "$dir/memory.numa_stat"; then   # v2: bytes
		awk '$1 == "anon" || $1 == "shmem" { for (i = 2; i <= NF; i++) { split($i, kv, "="); s += kv[2] } } END { print s }' "$dir/memory.numa_stat"
	else                                                 # v1: pages
		awk -v ps="$(getconf PAGESIZE)" '
			/^hierarchical_anon=/ { split($1, kv, "="); h = kv[2] * ps }
			/^anon=/ { split($1, kv, "="); a = kv[2] * ps }
			END { print (h != "" ? h : a) }' "$dir/memory.numa_stat"
	fi
}
# memburn says "alive pass=1" on its console once its buffer is resident
# (under TCG that takes longer than under KVM): wait for it, not a fixed time
nl_check "${PREFIX}mem: memburn's buffer is resident (its console says so)" \
	wait_until 60 grep -q 'memburn: alive pass=' "$NL_VM_DIR/${PREFIX}mem.log"
fresh_snapshot || nl_fail "fresh snapshot (numalens_samples_total advances: '$(samples "$OUT/f" 2>/dev/null)')"
declare -A MEM
for vm in "${PREFIX}mem" "${PREFIX}cpu"; do
	pid=$(nl_vm_qemu_pid "$vm" 2>/dev/null)
	want=
	[ -n "$pid" ] && want=$(vm_cgroup_anon_bytes "$pid")
	got=$(nl_metric "$OUT/f" "numalens_vm_memory_bytes{vm=\"$vm\"" | nl_sum)
	MEM[$vm]=$got
	echo "    $vm memory: numalens ${got:-(none)} B, cgroup numa_stat ${want:-(none)} B"
	nl_check_within --nonzero --names=numalens,cgroup "$vm memory per node sums to within 5% of the cgroup numa_stat" \
		"$got" "$want" 0.05 0
	nl_check_num --names=numalens,want "$vm memory is non-zero" "$got" -gt 0
done
b=${MEM[${PREFIX}cpu]}
nl_is_num "$b" && b=$(awk -v b="$b" 'BEGIN { printf "%.0f", b + 100 * 1048576 }')
nl_check_num --nonzero --names="${PREFIX}mem bytes,${PREFIX}cpu bytes + 100 MiB" \
	"the memory-bound guest has more resident memory than the CPU-bound one" "${MEM[${PREFIX}mem]}" -gt "$b"

# --- promtool -----------------------------------------------------------------
if command -v promtool >/dev/null; then
	nl_check "promtool check metrics" sh -c "promtool check metrics < '$M' > '$OUT/promtool.txt' 2>&1"
	[ -s "$OUT/promtool.txt" ] && cat "$OUT/promtool.txt"
else
	echo "  skip promtool: not installed"
fi

# --- discovery cannot be spoofed ----------------------------------------------
# The attack of issue 13, as uid 65534: a process named "kvm" whose command
# line carries a real VM's -name and -uuid (both on /metrics), and one named
# "vhost-<that VM's QEMU PID>". Neither becomes a VM nor a thread of one; the
# daemon logs one rate-limited line about them.
spoof_dir=$(mktemp -d /tmp/nl-spoof-XXXXXX)
chmod 755 "$spoof_dir"
cp /bin/bash "$spoof_dir/kvm"
real_pid=$(nl_vm_qemu_pid "${PREFIX}mem")
cp /bin/sleep "$spoof_dir/vhost-$real_pid"
real_uuid=$(virsh -q -c qemu:///system domuuid "${PREFIX}mem" 2>/dev/null | tr -d ' ')
setpriv --reuid 65534 --regid 65534 --clear-groups "$spoof_dir/kvm" -c 'while :; do sleep 1; done' \
	-name "guest=${PREFIX}mem,debug-threads=on" -uuid "$real_uuid" > /dev/null 2>&1 &
spoof_qemu=$!
setpriv --reuid 65534 --regid 65534 --clear-groups "$spoof_dir/vhost-$real_pid" 120 &
spoof_vhost=$!
sleep 0.2
nl_check_eq --names=comm,want "the spoof runs as 'kvm' with the real VM's uuid" \
	"$(cat /proc/$spoof_qemu/comm 2>/dev/null)" kvm
nl_check "numalens publishes 2 snapshots with the spoof running" wait_until 15 more_samples 2
SP=$OUT/spoofed.txt
cp "$OUT/f" "$SP" 2>/dev/null || : > "$SP"
nl_check_eq --names=numalens,want "still 2 VMs with the spoof running" \
	"$(grep -c '^numalens_vm_info{' "$SP")" 2
nl_check_eq --names=numalens,want "${PREFIX}mem is still its own QEMU's (2 vCPU threads, 1 iothread)" \
	"$(nl_metric "$SP" "numalens_vm_threads{vm=\"${PREFIX}mem\",role=\"vcpu\"}"):$(nl_metric "$SP" "numalens_vm_threads{vm=\"${PREFIX}mem\",role=\"iothread\"}")" 2:1
vh_now=$(nl_metric "$SP" "numalens_vm_threads{vm=\"${PREFIX}mem\",role=\"vhost\"}")
vh_before=$(nl_metric "$M" "numalens_vm_threads{vm=\"${PREFIX}mem\",role=\"vhost\"}")
nl_check_eq --names=numalens,before "the fake vhost-$real_pid is no thread of ${PREFIX}mem" \
	"vhost=${vh_now:-0}" "vhost=${vh_before:-0}"
nl_check_eq --names=log,want "one log line names the look-alikes" \
	"$(grep -c 'discovery: ignoring 2 process' "$OUT/numalens.log")" 1
kill "$spoof_qemu" "$spoof_vhost" 2>/dev/null
wait "$spoof_qemu" "$spoof_vhost" 2>/dev/null
rm -rf "$spoof_dir"

# --- lifecycle: destroy and start ---------------------------------------------
virsh -q -c qemu:///system destroy "${PREFIX}cpu" >/dev/null
t0=$(date +%s.%N)
# (a timeout leaves dt at 10 s and more: a failure with both sides)
wait_until 10 lacks_vm "${PREFIX}cpu"
dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')
echo "    destroyed VM gone from /metrics after ${dt}s"
nl_check_num --names=seconds,interval "destroyed VM gone within one sample interval" "$dt" -le "$INTERVAL"

nl_guest_create "${PREFIX}new" build/guest/cpuburn.elf "mode=idle" 1 128 0
nl_guests_started
t0=$(date +%s.%N)
wait_until 10 has_vm "${PREFIX}new"
dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')
echo "    started VM on /metrics after ${dt}s"
nl_check_num --names=seconds,interval "started VM tracked within one sample interval" "$dt" -le "$INTERVAL"

# --- arrival: virsh save, then virsh restore ----------------------------------
# A VM that booted here has no arrival line. Restored, it is a new QEMU that
# libvirt reports with VIR_DOMAIN_EVENT_STARTED_RESTORED: numalens must show
# numalens_vm_arrival_info{how="restored"} within one sample interval of the
# restore, and the VMs left alone must still have none.
arrived_as() {   # VM HOW
	nl_scrape "$URL" "$OUT/a" 2>/dev/null &&
		grep -q "^numalens_vm_arrival_info{vm=\"$1\",uuid=\"[^\"]*\",how=\"$2\"} 1\$" "$OUT/a"
}
nl_scrape "$URL" "$OUT/a" 2>/dev/null || : > "$OUT/a"
nl_check "a VM that booted here has no arrival line (${PREFIX}new)" \
	sh -c "grep -q '^numalens_vm_info{vm=\"${PREFIX}new\"' '$OUT/a' && ! grep -q '^numalens_vm_arrival_info{vm=\"${PREFIX}new\"' '$OUT/a'"
pid_before=$(nl_vm_qemu_pid "${PREFIX}new" 2>/dev/null)
# Its profile, taken here as a source host would send it; an arrival for a
# UUID that runs here is refused (409) and registers nothing.
API=${URL%/metrics}
uuid=$(virsh -q -c qemu:///system domuuid "${PREFIX}new" 2>/dev/null | tr -d '[:space:]')
curl -fsS --max-time 5 "$API/api/v1/vms/${PREFIX}new/profile" -o "$OUT/new.profile" 2>/dev/null || : > "$OUT/new.profile"
jq '{profile: ., policy: "locality"}' "$OUT/new.profile" > "$OUT/new.arrival" 2>/dev/null || : > "$OUT/new.arrival"
post_arrival() {   # -> HTTP status; the answer in $OUT/arrival.out
	curl -sS --max-time 5 -o "$OUT/arrival.out" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary @"$OUT/new.arrival" "$API/api/v1/arrivals" 2>/dev/null
}
nl_check_eq --names=status,want "an arrival for the running ${PREFIX}new (UUID ${uuid:-?}) is refused" "$(post_arrival)" 409
nl_check_eq --names=arrivals,want "... and registers nothing" \
	"$(curl -fsS --max-time 5 "$API/api/v1/arrivals" 2>/dev/null | jq -r '.arrivals | length')" 0
SAVE=$OUT/${PREFIX}new.save
rm -f "$SAVE"
if nl_check "virsh save ${PREFIX}new" nl__virsh save "${PREFIX}new" "$SAVE"; then
	nl_check "saved VM gone from /metrics" wait_until 10 lacks_vm "${PREFIX}new"
	# while it is away: registered, as the source would before a migration
	nl_check_eq --names=status,want "arrival of ${PREFIX}new registered while it is saved" "$(post_arrival)" 201
	nl_check_eq --names=state,want "... pending" "$(jq -r .state "$OUT/arrival.out" 2>/dev/null)" pending
	nl_check "virsh restore of the saved file" nl__virsh restore "$SAVE"
	t0=$(date +%s.%N)
	wait_until 10 arrived_as "${PREFIX}new" restored
	dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')
	echo "    restored VM shown as arrived (how=\"restored\") after ${dt}s"
	nl_check_num --names=seconds,interval "restored VM reported as arrived (how=\"restored\") within one sample interval" \
		"$dt" -le "$INTERVAL"
	nl_check "the restored VM runs in a new QEMU (pid ${pid_before:-?} before)" \
		sh -c "p=\$(cat /run/libvirt/qemu/${PREFIX}new.pid 2>/dev/null); [ -n \"\$p\" ] && [ \"\$p\" != '${pid_before:-none}' ]"
	age=$(nl_metric "$OUT/a" "numalens_vm_arrival_age_seconds{vm=\"${PREFIX}new\"")
	nl_check_num --names=age,limit "its numalens_vm_arrival_age_seconds is at most ${dt}s + 1" "$age" -le \
		"$(awk -v d="$dt" 'BEGIN{print d + 1}')"
	nl_check "VMs not restored have no arrival line" \
		sh -c "! grep -q '^numalens_vm_arrival_info{vm=\"${PREFIX}mem\"' '$OUT/a'"
	# the registered arrival was matched in the cycle that saw the VM
	# arrive: its `arrived` is the time the arrival was seen (scrape time
	# less the snapshot's age less the arrival's age), within half a cycle
	curl -fsS --max-time 5 "$API/api/v1/arrivals/$uuid" -o "$OUT/arrival.got" 2>/dev/null || : > "$OUT/arrival.got"
	nl_check_eq --names=state,want "registered arrival of ${PREFIX}new matched" "$(jq -r .state "$OUT/arrival.got" 2>/dev/null)" arrived
	nl_check_eq --names=how,want "... as restored" "$(jq -r .how "$OUT/arrival.got" 2>/dev/null)" restored
	seen=$(awk -v t="$(stat -c %.9Y "$OUT/a")" -v s="$(nl_metric "$OUT/a" 'numalens_snapshot_age_seconds ')" -v a="$age" \
		'BEGIN { if (s != "" && a != "") printf "%.3f", t - s - a }')
	matched=$(jq -r '.arrived // empty' "$OUT/arrival.got" 2>/dev/null)
	nl_check_within --names=arrived,seen "... in the cycle that saw it arrive (arrived vs seen, s)" \
		"$matched" "$seen" 0 "$(awk -v i="$INTERVAL" 'BEGIN { print i / 2 }')"
	# it landed where the arrival placed it (one node here): no hint for it
	nl_check_eq --names=hints,want "... and, already in place, it has no hints" \
		"$(curl -fsS --max-time 5 "$API/api/v1/hints?vm=${PREFIX}new" 2>/dev/null | jq -r '[.hints[]? | select(.vm == "'"${PREFIX}new"'")] | length')" 0
	curl -fsS --max-time 5 -X DELETE "$API/api/v1/arrivals/$uuid" -o /dev/null 2>/dev/null
fi
rm -f "$SAVE"

# --- libvirtd goes away and comes back -----------------------------------------
# numalens must say so (libvirt_up 0), keep the running VMs visible under
# their libvirt names through the /proc scan, and reconnect with backoff.
lv_up() { nl_scrape "$URL" "$OUT/m" 2>/dev/null && [ "$(nl_metric "$OUT/m" 'numalens_libvirt_up ')" = "$1" ]; }
lvpid=$(pgrep -x libvirtd | head -n 1)
if [ -n "$lvpid" ]; then
	kill "$lvpid"
	wait_until 20 sh -c "! kill -0 $lvpid 2>/dev/null"
	nl_check "libvirtd stopped: libvirt_up drops to 0" wait_until 10 lv_up 0
	nl_check "libvirtd stopped: running VMs still shown under their libvirt names" \
		grep -q "^numalens_vm_info{vm=\"${PREFIX}mem\",.*backend=\"libvirt\"" "$OUT/m"
	sleep 3
	nl_libvirt_start >/dev/null
	t0=$SECONDS
	nl_check "libvirtd back: reconnected (libvirt_up 1)" wait_until 70 lv_up 1
	echo "    reconnected $((SECONDS - t0))s after libvirtd came back"
	nl_check "after reconnect: VMs listed by libvirt again" has_vm "${PREFIX}mem"
else
	nl_fail "libvirtd pid not found"
fi

# numalens sampled all along, libvirtd's restart included: at least one
# snapshot per two intervals since the first scrape (a count of nothing
# fails)
nl_scrape "$URL" "$OUT/last" 2>/dev/null || : > "$OUT/last"
n=$(delta "$(samples "$OUT/last")" "$FIRST_SAMPLES")
nl_check_num --nonzero --names=snapshots,want "numalens published snapshots through the run (from ${FIRST_SAMPLES:-?})" \
	"${n%.*}" -ge "$(( (SECONDS - T_FIRST) / (2 * INTERVAL) ))"
nl_check "numalens still running" kill -0 "$NLPID"
nl_summary integration
