#!/usr/bin/env bash
# Software counters of numalens' perf source against `perf stat -t TID`
# on a real guest vCPU thread, over the same interval.
#
# A plain QEMU (no libvirt: no lock needed) boots the cpuburn test guest
# with -name debug-threads=on; its "CPU 0/KVM" (or /TCG) thread is counted
# for SECONDS by tests/perfstat/probe (the perf source's own code) run as
# the workload of `perf stat -e task-clock -t TID`, so perf's interval
# encloses the probe's by the probe's start-up and exit only. The two
# task-clock totals must agree within 2%; an empty, zero or unparsable total
# fails and both are printed. (No numalens daemon here: NL_EXTRA_FLAGS does
# not apply.)
#
#   run.sh PROBE [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
PROBE=${1:-build/tests/perfstat_probe}
SECONDS_=${2:-5}
KERNEL=build/guest/cpuburn.elf
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh
OUT=build/perfstat
mkdir -p "$OUT"
QPID=

cleanup() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
}
trap cleanup EXIT

if ! command -v perf >/dev/null; then
	echo "SKIP perfstat: no perf (apt-get install linux-perf)"
	nl_summary perfstat
	exit 0
fi
if ! command -v qemu-system-x86_64 >/dev/null || [ ! -f "$KERNEL" ]; then
	echo "SKIP perfstat: needs qemu-system-x86_64 and $KERNEL (make guests)"
	nl_summary perfstat
	exit 0
fi

accel=tcg
[ -w /dev/kvm ] && accel=kvm:tcg
qemu-system-x86_64 -name guest=nl-perfstat,debug-threads=on \
	-machine pc,accel=$accel -m 64 -smp 1 -display none -nodefaults \
	-serial file:"$OUT/serial.log" -kernel "$KERNEL" -append "mode=burn" \
	> "$OUT/qemu.log" 2>&1 &
QPID=$!

# the vCPU thread: comm "CPU 0/KVM" or "CPU 0/TCG"
tid=
for _ in $(seq 1 100); do
	for t in /proc/$QPID/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in
		"CPU 0/"*) tid=${t##*/} ;;
		esac
	done
	[ -n "$tid" ] && break
	sleep 0.1
done
if [ -z "$tid" ]; then
	cat "$OUT/qemu.log"
	if ! kill -0 "$QPID" 2>/dev/null; then
		nl_cause "guest did not start: $(grep -v '^[[:space:]]*$' "$OUT/qemu.log" | head -n 1)"
	else
		nl_fail "found the vCPU thread of the test guest (QEMU $QPID runs, no \"CPU 0/\" thread)"
	fi
	nl_summary perfstat
	exit 1
fi
nl_pass "vCPU thread $tid ($(cat "/proc/$QPID/task/$tid/comm")) of QEMU $QPID, accel $accel"
sleep 1   # past boot

perf stat -x, -e task-clock,context-switches -t "$tid" -o "$OUT/perf.csv" -- \
	"$PROBE" "$tid" "$SECONDS_" > "$OUT/probe.txt" 2> "$OUT/probe.err"
rc=$?
nl_check_num --names=status,want "probe and perf stat ran" "$rc" -eq 0
cat "$OUT/probe.err"

ours=$(awk '$1 == "task_clock" {print $2}' "$OUT/probe.txt" 2>/dev/null)
# perf -x, prints task-clock in msec: "5001.23,msec,task-clock,..."; a
# "<not counted>" or "<not supported>" first field stays as it is (not a
# number: the check fails)
theirs=$(awk -F, '$3 == "task-clock" { if ($1 ~ /^[0-9.]+$/) printf "%.0f", $1 * 1e6; else printf "%s", $1 }' "$OUT/perf.csv" 2>/dev/null)
echo "  numalens task_clock: ${ours:-?} ns; perf stat task-clock: ${theirs:-?} ns over ${SECONDS_} s"
if nl_is_num "$ours" && nl_is_num "$theirs" && [ "$theirs" != 0 ]; then
	echo "  difference: $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%+.3f", (a - b) / b * 100 }') %"
fi
nl_check_num --names="perf stat ns,10% of the interval" "the vCPU thread ran (task-clock > 10% of the interval)" \
	"$theirs" -gt "$((SECONDS_ * 100000000))"
nl_check_within --nonzero --names=numalens,perf "task_clock within 2% of perf stat" "$ours" "$theirs" 0.02 0
nl_summary perfstat
