#!/usr/bin/env bash
# `numalens apply` on real libvirt guests.
#
# This host has one NUMA node, where no placement can be remote. So numalens
# reads the real /proc, the real libvirt and the real cgroup memory
# statistics (sysfs fs/ is a link to /sys/fs), but a sysfs topology that
# splits the two CPUs into two nodes: CPU 0 = node 0, CPU 1 = node 1. All of
# the guest's memory is on node 0 (the only real node), and the test pins
# both vCPUs to CPU 1 with virsh: the engine sees a memory-intensive VM
# (proxy: busy vCPU x resident GiB) running away from its memory and decides,
# from those counters, to pin the vCPUs and the VMM threads to node 0.
# Checks: a dry run changes nothing `virsh vcpupin` / `virsh emulatorpin` /
# `virsh iothreadpin` report; `apply --yes` changes them to what the hint
# says and logs each change; then the engine withdraws the applied hints.
#
# Flags fit the two-CPU host: --hints.cpu-limit=2 (one CPU per fake node,
# and the guest keeps about one busy), --hints.proxy-threshold=0.02 (a
# 256 MiB guest), --hints.confirm-windows=2 and 0.5 s windows (speed).
# Every comparison fails on an empty or unparsable side and prints both.
#
#   tests/apply/run.sh [build/numalens]
# Knobs (environment): NL_APPLY_PORT (default 19822); NL_EXTRA_FLAGS, extra
# flags for the numalens daemon (to break a measurement on purpose, e.g.
# '--no-collector.numa_stat --no-collector.numa_maps': no memory, no hint);
# NL_KVM_FIX=0, NL_VIRT_TYPE (tests/lib/vms.sh).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${1:-build/numalens}
# shellcheck source=tests/lib/vms.sh
. tests/lib/vms.sh
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "apply: skipped: needs root to run libvirtd and change VM pinning"
	nl_summary apply
	exit 0
fi
# One suite at a time may drive libvirt guests and the fixed ports.
exec 9>/tmp/numalens-libvirt-tests.lock
flock -w 1800 9 || { echo "another libvirt test suite holds the lock" >&2; exit 1; }
PREFIX=nl-ap-
VM=${PREFIX}mem
PORT=${NL_APPLY_PORT:-19822}
URL=http://127.0.0.1:$PORT
OUT=build/apply
NLPID=

cleanup() {
	[ -n "$NLPID" ] && kill "$NLPID" 2>/dev/null && wait "$NLPID" 2>/dev/null
	nl_vm_destroy_prefix "$PREFIX" >/dev/null 2>&1
}
trap cleanup EXIT

if [ "$(nproc)" -lt 2 ]; then
	echo "apply: skipped: needs 2 CPUs to split into two fake nodes"
	nl_summary apply
	exit 0
fi
rm -rf "$OUT"
mkdir -p "$OUT"

# --- the two-node sysfs over the real one ------------------------------------
S=$OUT/sys
mkdir -p "$S/devices/system/cpu" "$S/devices/system/node/node0" "$S/devices/system/node/node1"
for f in online possible present; do echo 0-1 > "$S/devices/system/cpu/$f"; done
for f in online possible has_cpu has_memory has_normal_memory; do echo 0-1 > "$S/devices/system/node/$f"; done
echo 0 > "$S/devices/system/node/node0/cpulist"
echo 1 > "$S/devices/system/node/node1/cpulist"
echo 10 20 > "$S/devices/system/node/node0/distance"
echo 20 10 > "$S/devices/system/node/node1/distance"
for n in 0 1; do
	printf 'Node %d MemTotal:       12582912 kB\nNode %d MemFree:        10485760 kB\nNode %d MemUsed:         2097152 kB\n' \
		"$n" "$n" "$n" > "$S/devices/system/node/node$n/meminfo"
done
ln -s /sys/fs "$S/fs"

nl_libvirt_start || { nl_fail "libvirtd starts"; nl_summary apply; exit 1; }
echo "apply: libvirt + QEMU guest ($(nl_vm_virt_type)), fake two-node sysfs over the real host"
nl_vm_destroy_prefix "$PREFIX" >/dev/null 2>&1
nl_guest_create "$VM" build/guest/memburn.elf "stride=64 size=160" 2 256 1
nl_guests_started || { nl_summary apply; exit 1; }
virsh -q -c qemu:///system vcpupin "$VM" 0 1 --live >/dev/null &&
	virsh -q -c qemu:///system vcpupin "$VM" 1 1 --live >/dev/null ||
	nl_fail "pin the vCPUs to CPU 1 (fake node 1)"

"$BIN" --discovery=libvirt --no-collector.perf --path.sysfs="$S" \
	--web.listen-address="127.0.0.1:$PORT" --sample.interval=0.5s \
	--hints.cpu-limit=2 --hints.proxy-threshold=0.02 --hints.confirm-windows=2 \
	--log.level=info "${NL_EXTRA[@]}" > "$OUT/numalens.log" 2>&1 &
NLPID=$!

vcpupin() { virsh -q -c qemu:///system vcpupin "$VM" | awk '{print $1 ":" $2}' | tr '\n' ' '; }
emupin() { virsh -q -c qemu:///system emulatorpin "$VM" | awk '{print $NF}' | tr '\n' ' '; }
iopin() { virsh -q -c qemu:///system iothreadinfo "$VM" | awk '{print $1 ":" $2}' | tr '\n' ' '; }
has_hint() {   # KIND (read whole, then grep: grep -q closing the pipe under pipefail fails at random)
	curl -fsS "$URL/api/v1/hints?vm=$VM&kind=$1" -o "$OUT/has-hint.json" 2>/dev/null &&
		grep -q "\"kind\":\"$1\"" "$OUT/has-hint.json"
}
wait_until() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	while [ $SECONDS -le $end ]; do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

nl_check "the engine hints to pin the vCPUs to node 0" wait_until 90 has_hint pin_vcpus
nl_check "... and the VMM threads" has_hint pin_vmm_threads
curl -fsS "$URL/api/v1/hints?vm=$VM" -o "$OUT/hints.json"
curl -fsS "$URL/api/v1/vms/$VM" -o "$OUT/vm.json"
echo "    $(jq -r '"VM: \(.vcpus) vCPUs, \(.cpu_cores) cores, \(.memory_bytes) bytes, proxy \(.proxy), locality \(.locality)"' "$OUT/vm.json")"
nl_check_eq "the pin targets CPU 0 (node 0, where the memory is)" \
	"$(jq -r '.hints[] | select(.kind=="pin_vcpus") | .target.cpus' "$OUT/hints.json" 2>/dev/null)" 0
jqe() { jq -e "$1" "$2" >/dev/null; }
nl_check "the hint names virsh vcpupin" \
	jqe ".hints[] | select(.kind==\"pin_vcpus\") | .actions[] | select(.command == \"virsh vcpupin $VM 1 0 --live\")" "$OUT/hints.json"

v0=$(vcpupin) e0=$(emupin) i0=$(iopin)
echo "    before: vcpupin [$v0] emulatorpin [$e0] iothreadpin [$i0]"
nl_check_eq "vCPUs start on CPU 1" "$v0" "0:1 1:1 "
# (the "unchanged" checks below need a pinning to compare with)
nl_check_eq --names=emulatorpin,want "virsh reports an emulator and an iothread pinning" \
	"$( [ -n "$e0" ] && [ -n "$i0" ] && echo both)" both

# --- dry run ------------------------------------------------------------------
"$BIN" apply --url="$URL" --vm="$VM" > "$OUT/dry.txt" 2>&1
nl_check_num --names=status,want "dry run exits 0" $? -eq 0
nl_check "dry run shows the current pinning" grep -q 'now CPUs 1; dry run, not changed' "$OUT/dry.txt"
nl_check_eq --names=after,before "dry run changes no vCPU pinning" "$(vcpupin)" "$v0"
nl_check_eq --names=after,before "dry run changes no emulator pinning" "$(emupin)" "$e0"
nl_check_eq --names=after,before "dry run changes no iothread pinning" "$(iopin)" "$i0"

# --- apply --------------------------------------------------------------------
"$BIN" apply --url="$URL" --vm="$VM" --kind=pin_vcpus --yes > "$OUT/yes1.txt" 2>&1
nl_check_num --names=status,want "apply --yes pin_vcpus exits 0" $? -eq 0
sed 's/^/    | /' "$OUT/yes1.txt"
nl_check_eq --names=virsh,want "virsh vcpupin reports CPU 0 for both vCPUs" "$(vcpupin)" "0:0 1:0 "
nl_check "apply logged each vCPU change" \
	sh -c "grep -q 'changed: pin vCPU 0: CPUs 1 -> 0' '$OUT/yes1.txt' && grep -q 'changed: pin vCPU 1: CPUs 1 -> 0' '$OUT/yes1.txt'"
nl_check_eq --names=after,before "emulator pinning untouched by pin_vcpus" "$(emupin)" "$e0"

"$BIN" apply --url="$URL" --vm="$VM" --kind=pin_vmm_threads --yes > "$OUT/yes2.txt" 2>&1
nl_check_num --names=status,want "apply --yes pin_vmm_threads exits 0" $? -eq 0
sed 's/^/    | /' "$OUT/yes2.txt"
nl_check_eq --names=virsh,want "virsh emulatorpin reports CPU 0" "$(emupin)" "0 "
nl_check_eq --names=virsh,want "virsh iothreadinfo reports CPU 0" "$(iopin)" "1:0 "
nl_check "apply logged the emulator change" grep -q "changed: pin emulator threads: CPUs $(echo "$e0" | tr -d ' ') -> 0" "$OUT/yes2.txt"

# --- the engine sees the change -------------------------------------------------
# (an answer without them, not a failed request)
no_hints() {
	curl -fsS "$URL/api/v1/hints?vm=$VM" -o "$OUT/hints-now.json" 2>/dev/null &&
		jq -e '.hints | type == "array"' "$OUT/hints-now.json" >/dev/null &&
		! grep -Eq '"kind":"pin_(vcpus|vmm_threads)"' "$OUT/hints-now.json"
}
nl_check "the applied hints are withdrawn" wait_until 30 no_hints
locality() { curl -fsS "$URL/api/v1/vms/$VM" 2>/dev/null | jq -r '.locality' 2>/dev/null; }
wait_until 15 sh -c "curl -fsS '$URL/api/v1/vms/$VM' | jq -e '.locality > 0.99' >/dev/null"
nl_check_num --names=locality,want "locality is 1 now" "$(locality)" -gt 0.99
nl_check "numalens still running" kill -0 "$NLPID"
nl_summary apply
