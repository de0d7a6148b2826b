#!/usr/bin/env bash
# `make demo` as a new user runs it, checked: the two demo VMs start, the
# daemon serves vCPU, emulator and iothread series for both, and Ctrl-C
# destroys the VMs. Prints which accelerator libvirt gave the guests (the
# domain type QEMU really runs with) and whether /dev/kvm was changed.
#
#   tests/demo/smoke.sh [EXPECT]     EXPECT: kvm or qemu, checked if given
#
# Runs `make demo` itself (its own deps step, build, libvirtd start), on the
# demo's fixed port 9808. Closing line: "demo: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/check.sh
. tests/lib/vms.sh

EXPECT=${1:-}
PORT=9808
OUT=${BUILD:-build}/demo-smoke
VMS=(numalens-demo-mem numalens-demo-cpu)
mkdir -p "$OUT"
kvm_before=$(stat -c '%U:%G %a' /dev/kvm 2>/dev/null || echo none)

# The demo runs in its own process group, as under a terminal, so that the
# SIGINT below reaches make, demo.sh and the daemon as Ctrl-C would.
setsid make --no-print-directory demo > "$OUT/demo.log" 2>&1 < /dev/null &
DEMO=$!
stop_demo() {
	kill -INT -- "-$DEMO" 2>/dev/null
	for _ in $(seq 1 150); do
		kill -0 "$DEMO" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL -- "-$DEMO" 2>/dev/null
	wait "$DEMO" 2>/dev/null
}
trap 'stop_demo; nl_vm_destroy_prefix numalens-demo- >/dev/null 2>&1' EXIT

# Up to 5 minutes: a fresh machine installs packages and builds first.
ready=
for _ in $(seq 1 600); do
	kill -0 "$DEMO" 2>/dev/null || break
	if curl -fsS --max-time 2 "http://127.0.0.1:$PORT/metrics" -o "$OUT/m.prom" 2>/dev/null; then
		ok=1
		for vm in "${VMS[@]}"; do
			for role in vcpu emulator iothread; do
				grep -q "^numalens_thread_cpu_seconds_total{vm=\"$vm\",role=\"$role\"" \
					"$OUT/m.prom" || ok=
			done
		done
		[ -n "$ok" ] && { ready=1; break; }
	fi
	sleep 0.5
done
if [ -z "$ready" ]; then
	nl_fail "make demo serves both VMs within 5 minutes (last lines of its output follow)"
	tail -n 30 "$OUT/demo.log" | sed 's/^/    | /'
	nl_summary demo
	exit 1
fi
nl_pass "make demo serves /metrics on port $PORT"

# The accelerator the guests really got, from libvirt's live domain XML.
accel=
for vm in "${VMS[@]}"; do
	t=$(setsid -w virsh -q -c qemu:///system dumpxml "$vm" </dev/null 2>/dev/null |
		sed -n "1s/^<domain type='\([a-z]*\)'.*/\1/p")
	accel="$accel${accel:+ }$vm=${t:-?}"
	[ -n "$t" ] && nl_pass "$vm runs (domain type $t)" || nl_fail "$vm runs (no live domain XML)"
	if [ -n "$EXPECT" ]; then
		nl_check "$vm got the expected accelerator: want $EXPECT, got ${t:-nothing}" \
			test "$t" = "$EXPECT"
	fi
done
echo "demo: accelerator: $accel; /dev/kvm before: $kvm_before, now: $(stat -c '%U:%G %a' /dev/kvm 2>/dev/null || echo none)"
if [ "${NL_KVM_FIX:-1}" = 0 ]; then
	nl_check "NL_KVM_FIX=0 left /dev/kvm as it was ($kvm_before)" \
		test "$(stat -c '%U:%G %a' /dev/kvm 2>/dev/null || echo none)" = "$kvm_before"
fi

# A second scrape a few samples later: vCPU time of each VM grows (the
# guests compute), and every role has a series with a number.
sleep 5
curl -fsS --max-time 5 "http://127.0.0.1:$PORT/metrics" -o "$OUT/m2.prom"
for vm in "${VMS[@]}"; do
	for role in vcpu emulator iothread; do
		n=$(grep -c "^numalens_thread_cpu_seconds_total{vm=\"$vm\",role=\"$role\"" "$OUT/m2.prom")
		nl_check "$vm has $role series (found $n)" test "$n" -ge 1
	done
	a=$(awk -v vm="$vm" 'index($0, "numalens_thread_cpu_seconds_total{vm=\"" vm "\",role=\"vcpu\"") == 1 {s += $NF} END {printf "%.3f", s}' "$OUT/m.prom")
	b=$(awk -v vm="$vm" 'index($0, "numalens_thread_cpu_seconds_total{vm=\"" vm "\",role=\"vcpu\"") == 1 {s += $NF} END {printf "%.3f", s}' "$OUT/m2.prom")
	nl_check "$vm vCPU seconds grow between scrapes (before '$a', after '$b')" \
		awk -v a="$a" -v b="$b" 'BEGIN { exit !(a != "" && b != "" && b + 0 > a + 0) }'
done

# Ctrl-C: the daemon stops and both VMs are destroyed.
stop_demo
trap - EXIT
left=$(setsid -w virsh -q -c qemu:///system list --name </dev/null 2>/dev/null | grep -c '^numalens-demo-')
nl_check "Ctrl-C destroyed the demo VMs ($left left)" test "$left" -eq 0
nl_check "the daemon is gone from port $PORT" \
	sh -c "! curl -fsS --max-time 2 http://127.0.0.1:$PORT/healthz >/dev/null 2>&1"
nl_summary demo
