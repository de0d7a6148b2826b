# shellcheck shell=bash
# The VMM's own memory away from guest RAM (issue 12; the bhyve paper's
# costly layout), sourced by tests/lab/guest.sh. QEMU runs under numactl
# --membind=N1, so its heap, stacks and device state come from node 1,
# while guest RAM is a memory backend bound to node 0; every thread runs on
# node 0. numalens must split the VM's memory by kind and score the VMM's
# threads against the VMM's own memory: kind=guest on node 0, most kind=vmm
# bytes on node 1, a low emulator locality and a vCPU locality of 1. The
# kernel's own split (the backend's numa_maps line vs the rest, without page
# cache, as numalens counts it) is in the row, and the VMM share on node 1
# must match it.

# mem_kind FILE VM KIND NODE: the sample's bytes, empty when absent
mem_kind() { metric "$1" "numalens_vm_memory_bytes{vm=\"$2\",node=\"$4\",kind=\"$3\"} "; }
# share A B: A / (A + B) with three decimals, empty when both are 0
share() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (a + b > 0) printf "%.3f", a / (a + b) }'; }
mib() { awk -v b="${1:-0}" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# kernel_split PID NODE-A NODE-B: "backend A/B MiB, rest A/B MiB" from the
# process's numa_maps (the backend is the mapping with policy bind:NODE-A;
# the rest as a memory cgroup counts it: of a regular file's mapping, the
# page cache of QEMU's binary and libraries, only the private copies)
kernel_split() {
	awk -v a="N$2" -v b="N$3" -v bind="bind:$2" '
		{ ps = 4096; g = ($2 == bind); pc = 0; huge = 0; anon = -1; tot = 0; na = 0; nb = 0
		  for (i = 3; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "kernelpagesize_kB") ps = kv[2] * 1024
			else if (kv[1] == "file") pc = ($i !~ /^file=\/(memfd:|dev\/shm\/|SYSV)/)
			else if ($i == "huge") huge = 1
			else if (kv[1] == "anon") anon = kv[2]
			else if (kv[1] ~ /^N[0-9]+$/) { tot += kv[2]; if (kv[1] == a) na = kv[2]; if (kv[1] == b) nb = kv[2] }
		  }
		  f = 1; if (!g && pc && !huge) f = (anon < 0 || tot == 0) ? 0 : (anon >= tot ? 1 : anon / tot)
		  x[g, 0] += na * ps * f; x[g, 1] += nb * ps * f }
		END { printf "backend %.1f/%.1f MiB, rest %.1f/%.1f MiB %.3f", x[1, 0] / 1048576, x[1, 1] / 1048576,
			x[0, 0] / 1048576, x[0, 1] / 1048576, (x[0, 0] + x[0, 1] > 0) ? x[0, 1] / (x[0, 0] + x[0, 1]) : 0 }' \
		"/proc/$1/numa_maps"
}

sc_vmmem() {
	local g0 g1 v0 v1 e c s k ok end
	VM_MONITOR=$((PORT + 1)) \
	VM_EXTRA="-object memory-backend-ram,id=ram0,size=${VM_MEM:-256}M,host-nodes=$N0,policy=bind -numa node,nodeid=0,memdev=ram0" \
		scenario "guest RAM node 0, VMM memory node 1: memory by kind" "VM running" 1 \
		--membind=$N1 --cpunodebind=$N0 || return
	# the split comes with the first numa_maps reading; the emulator's
	# locality with a window in which the monitor kept it busy
	end=$((SECONDS + 30))
	while :; do
		scrape "$M" && v1=$(mem_kind "$M" "$VM" vmm "$N1") && [ -n "$v1" ] &&
			e=$(role_locality "$M" "$VM" emulator) && [ -n "$e" ] && break
		[ $SECONDS -le $end ] || break
		nap 0.5
	done
	k=$(kernel_split "$VM_PID" "$N0" "$N1")
	g0=$(mem_kind "$M" "$VM" guest "$N0"); g1=$(mem_kind "$M" "$VM" guest "$N1")
	v0=$(mem_kind "$M" "$VM" vmm "$N0"); v1=$(mem_kind "$M" "$VM" vmm "$N1")
	s=$(share "$v1" "$v0"); ge "${s:-0}" 0.6; ok=$?
	result "VMM memory node 1: kind=vmm bytes on node 1" ">= 0.60 of kind=vmm" \
		"$(mib "$v0")/$(mib "$v1") MiB on nodes $N0/$N1 (${s:-none}; kernel: ${k% *})" $ok "$T0"
	# numalens's share against the kernel's own, read a moment later
	within "${s:-x}" "${k##* }" 0.10; ok=$?
	result "VMM memory node 1: kind=vmm share on node 1 as the kernel's" "kernel ${k##* } +-0.10" \
		"${s:-none}" $ok "$T0"
	s=$(share "$g0" "$g1"); ge "${s:-0}" 0.95; ok=$?
	result "VMM memory node 1: kind=guest bytes on node 0" ">= 0.95 of kind=guest" \
		"$(mib "$g0")/$(mib "$g1") MiB on nodes $N0/$N1 (${s:-none})" $ok "$T0"
	le "${e:-x}" 0.4; ok=$?
	result "VMM memory node 1: emulator locality (against VMM memory)" "<= 0.40" "${e:-absent}" $ok "$T0"
	c=$(vcpu_locality "$M" "$VM")
	ge "${c:-x}" 0.95; ok=$?
	result "VMM memory node 1: vCPU locality (against guest RAM)" ">= 0.95" "${c:-absent}" $ok "$T0"
	vm_stop "$VM"
}
