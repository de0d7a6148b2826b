# shellcheck shell=bash
# A wide VM with two guest NUMA cells (issue 12), sourced by
# tests/lab/guest.sh. QEMU gets two memory backends, cell 0's bound to node
# 0 and cell 1's to node 1 (preallocated, so both are resident), and one
# vCPU per cell (-numa node,cpus=N,memdev=..). numalens reads the cells
# from the command line and finds each cell's memory in its backend's
# mapping.
#  1. Laid out right (vCPU 0 on node 0, vCPU 1 on node 1): each cell scores
#     1, the VM scores 1 (not the 0.5 of one blob) and gets no hint.
#  2. Crossed (vCPU 0 on node 1, vCPU 1 on node 0): each cell scores 0 and
#     numalens offers a pin_vcpus hint with a cell target; `numalens apply`
#     of each cell hint uncrosses the VM: per-cell locality 1 again.
# vCPU 1 stays halted (memburn runs on the boot vCPU): an idle vCPU counts
# where its affinity lets it run.

# cell_loc FILE VM CELL: the cell's vCPU locality with three decimals
cell_loc() { metric "$1" "numalens_vm_cell_locality_ratio{vm=\"$2\",cell=\"$3\",role=\"vcpu\"} " | fmt3; }
# cell_hints VM: "ID CELL NODE" of each pin_vcpus hint with a cell target
cell_hints() {
	http_get "/api/v1/hints?vm=$1" /tmp/hints.json || return 1
	jq -r --arg vm "$1" '.hints[] | select(.vm == $vm and .kind == "pin_vcpus" and .target.cell != null) | "\(.id) \(.target.cell) \(.target.node)"' /tmp/hints.json
}
# pin_vcpu_to PID INDEX NODE: the vCPU thread's affinity to the node's CPUs
pin_vcpu_to() { taskset -pc "$(node_cpus "$3")" "$(vcpu_tid "$1" "$2")" > /dev/null; }
# wait_cells VM TEST THR SECONDS: until both cells' locality passes TEST
# (le, ge) THR; C0 and C1 are the last values seen
wait_cells() {
	local end=$((SECONDS + $4))
	C0= C1=
	while :; do
		if scrape "$M"; then
			C0=$(cell_loc "$M" "$1" 0) C1=$(cell_loc "$M" "$1" 1)
			"$2" "${C0:-x}" "$3" && "$2" "${C1:-x}" "$3" && return 0
		fi
		[ $SECONDS -le $end ] || return 1
		nap 0.5
	done
}

sc_cells() {
	local ok v h id cell node applied=0 rounds t left
	VM_MEM=256 \
	VM_EXTRA="-object memory-backend-ram,id=m0,size=128M,host-nodes=$N0,policy=bind,prealloc=on -object memory-backend-ram,id=m1,size=128M,host-nodes=$N1,policy=bind,prealloc=on -numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1" \
		scenario "2-cell guest laid out right: per-cell vCPU locality" "VM running" 2 \
		--cpunodebind=$N0 || return
	pin_vcpu_to "$VM_PID" 1 $N1 || { setup_failed "vCPU 1 on node 1"; return; }
	wait_cells "$VM" ge 0.95 20; ok=$?
	result "2-cell guest laid out right: per-cell vCPU locality" ">= 0.95 for cells 0 and 1" \
		"${C0:-absent}, ${C1:-absent}" $ok "$T0"
	v=$(vcpu_locality "$M" "$VM")
	ge "${v:-x}" 0.95; ok=$?
	result "2-cell guest laid out right: VM vCPU locality (cells weighted)" ">= 0.95 (not 0.5)" \
		"${v:-absent}" $ok "$T0"
	if [ "$HINTS" = 1 ]; then
		t=$(now)
		until_since "$t" "$(hint_window)"
		v=$(hints_of "$VM" | awk '{ print $2 "->" $3 }' | paste -sd,) && [ -z "$v" ]; ok=$?
		result "2-cell guest laid out right: no hint" "none after $(hint_window)s" "${v:-none}" $ok "$T0"
	fi

	# crossed: each cell's vCPU on the other cell's node
	pin_vcpu_to "$VM_PID" 0 $N1 && pin_vcpu_to "$VM_PID" 1 $N0 ||
		{ setup_failed "vCPUs crossed"; return; }
	wait_cells "$VM" le 0.05 20; ok=$?
	result "2-cell guest crossed: per-cell vCPU locality" "<= 0.05 for cells 0 and 1" \
		"${C0:-absent}, ${C1:-absent}" $ok "$T0"
	[ "$HINTS" = 1 ] || { vm_stop "$VM"; return; }
	t=$(now)
	# one hint per crossed cell (each cell is planned on its own), applied
	# one by one as numalens lists them
	for rounds in 1 2 3 4; do
		h=
		left=$(( $(hint_window | cut -d. -f1) * 2 + 4 ))
		while [ $left -gt 0 ]; do
			h=$(cell_hints "$VM" | head -1)
			[ -n "$h" ] && break
			wait_cells "$VM" ge 0.95 0 && break
			nap 1; left=$((left - 1))
		done
		[ -n "$h" ] || break
		read -r id cell node <<< "$h"
		"$NL" apply --url="$URL" --id="$id" --yes > "$OUT/apply-cell$cell.txt" 2>&1
		note "cells: hint $id (pin_vcpus, cell $cell -> node $node): numalens apply exit $? ($(grep -c 'changed:' "$OUT/apply-cell$cell.txt") change(s))"
		applied=$((applied + 1))
		wait_cells "$VM" ge 0.95 5 && break
	done
	wait_cells "$VM" ge 0.95 10; ok=$?
	[ "$applied" -ge 1 ] || ok=1
	result "2-cell guest crossed, after numalens apply of its cell hints: per-cell vCPU locality" \
		">= 0.95 for cells 0 and 1" "${C0:-absent}, ${C1:-absent} ($applied hint(s) applied, $(since "$t")s)" $ok "$T0"
	vm_stop "$VM"
}
