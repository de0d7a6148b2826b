#!/usr/bin/env bash
#
# numalens demo: boots two small test VMs under libvirt and runs the numalens
# daemon in the foreground so its metrics can be looked at:
#
#   numalens-demo-mem  memburn guest (memory-bound), 2 vCPUs, 256 MiB, 1 iothread
#   numalens-demo-cpu  cpuburn guest (CPU-bound),    2 vCPUs, 256 MiB, 1 iothread
#
# Usage (as root, from anywhere; `make demo` runs it):
#   tests/demo/demo.sh [numalens args...]
#
# Environment:
#   NUMALENS_BIN   daemon to run (default build/numalens; built with
#                  `make build/numalens` if it is missing)
#   NUMALENS_PORT  port shown in the URL (default 9808); pass the matching
#                  option to the daemon yourself if you change it
#   BUILD          build directory (default build)
#   NL_VIRT_TYPE   kvm or qemu (TCG), see tests/lib/vms.sh
#   NL_KVM_FIX=0   do not give /dev/kvm to group kvm when no udev did: TCG
#
# The VMs are destroyed when the daemon exits, on Ctrl-C and on SIGTERM.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=tests/lib/vms.sh
. "$ROOT/tests/lib/vms.sh"

BUILD=${BUILD:-build}
BIN=${NUMALENS_BIN:-$BUILD/numalens}
PORT=${NUMALENS_PORT:-9808}
VMS=(numalens-demo-mem numalens-demo-cpu)

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: must run as root (libvirt qemu:///system, perf counters)" >&2
	exit 1
fi

nl_need_pkgs qemu-system-x86 libvirt-daemon-system libvirt-clients \
	gcc make pkg-config libpfm4-dev libmicrohttpd-dev libvirt-dev \
	libprotobuf-c-dev protobuf-c-compiler

make -s -f tests/guest/guest.mk BUILD="$BUILD" guests
if [ -z "${NUMALENS_BIN:-}" ] && [ ! -x "$BIN" ]; then
	make -s "$BIN"
fi

child=
# shellcheck disable=SC2317 # invoked from the traps below
cleanup() {
	local i
	trap - INT TERM EXIT
	# The terminal or a pipe reading our output may be gone already (Ctrl-C
	# reaches `make demo | tee` too): never die of SIGPIPE before the VMs
	# are destroyed.
	trap '' PIPE
	if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
		kill -TERM "$child" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$child" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	echo "demo.sh: destroying demo VMs" >&2 || true
	for vm in "${VMS[@]}"; do
		nl_vm_destroy "$vm"
	done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nl_libvirt_start
case $(nl_vm_virt_type) in
kvm) echo "demo.sh: guests run under KVM" ;;
*)   echo "demo.sh: guests run under TCG (emulated; see the line above for why)" ;;
esac
for vm in "${VMS[@]}"; do
	nl_vm_destroy "$vm" # leftovers of an earlier run
done
nl_vm_create numalens-demo-mem "$BUILD/guest/memburn.elf" 'mode=burn stride=64' 2 256 1
nl_vm_create numalens-demo-cpu "$BUILD/guest/cpuburn.elf" 'mode=burn' 2 256 1
for vm in "${VMS[@]}"; do
	echo "demo.sh: VM $vm: QEMU pid $(nl_vm_qemu_pid "$vm"), console $NL_VM_DIR/$vm.log"
done

echo "demo.sh: metrics at http://127.0.0.1:$PORT/metrics (Ctrl-C stops the demo)"
# Run the daemon as a child and wait for it, so that SIGTERM to this script
# is handled at once (bash runs traps only after a *foreground* child ends).
# Its stdin is passed through explicitly (an async child would get /dev/null).
"$BIN" "$@" <&0 &
child=$!
rc=0
wait "$child" || rc=$?
child=
echo "demo.sh: daemon exited with status $rc" >&2
exit "$rc"
