#!/usr/bin/env bash
# make bench: numalens next to prometheus-libvirt-exporter on the same idle
# demo VMs, in the same run. For N = 1, 10, 30 VMs: /metrics latency (median
# and p90 over SCRAPES scrapes, the two exporters scraped alternately),
# numalens sampler CPU time per cycle, and resident memory of both.
# Writes the table to stdout and, when every measurement was made (all VMs
# seen, every scrape answered, the sampler ran, memory read; the closing
# line "bench: N passed, N failed" says), to tests/bench/results.md. A row
# with a missing measurement is not written as a number.
#
#   tests/bench/bench.sh [build/numalens]
# Knobs (environment): SCRAPES (per exporter per row, default 60), COUNTS
# (VM counts, default "1 10 30"), NL_BENCH_RESULTS (the results file,
# default tests/bench/results.md), NL_EXTRA_FLAGS (extra numalens flags),
# NL_KVM_FIX=0, NL_VIRT_TYPE (tests/lib/vms.sh).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${1:-build/numalens}
# shellcheck source=tests/lib/vms.sh
. tests/lib/vms.sh
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh
SCRAPES=${SCRAPES:-60}
COUNTS=${COUNTS:-"1 10 30"}
RESULTS=${NL_BENCH_RESULTS:-tests/bench/results.md}
# One suite at a time may drive libvirt guests and the fixed ports.
exec 9>/tmp/numalens-libvirt-tests.lock
flock -w 1800 9 || { echo "another libvirt test suite holds the lock" >&2; exit 1; }
PREFIX=nl-bench-
NL_PORT=19810
LV_PORT=19811
OUT=build/bench
mkdir -p "$OUT"
NLPID= LVPID=

cleanup() {
	[ -n "$NLPID" ] && kill "$NLPID" 2>/dev/null
	[ -n "$LVPID" ] && kill "$LVPID" 2>/dev/null
	wait 2>/dev/null
	nl_vm_destroy_prefix "$PREFIX" >/dev/null 2>&1
}
trap cleanup EXIT

nl_need_pkgs prometheus-libvirt-exporter curl >/dev/null ||
	{ nl_fail "prometheus-libvirt-exporter and curl are installed"; nl_summary bench; exit 1; }
nl_libvirt_start || { nl_fail "libvirtd starts"; nl_summary bench; exit 1; }
nl_vm_destroy_prefix "$PREFIX" >/dev/null 2>&1

"$BIN" --web.listen-address=127.0.0.1:$NL_PORT --sample.interval=2s \
	--log.level=warn "${NL_EXTRA[@]}" > "$OUT/numalens.log" 2>&1 &
NLPID=$!
prometheus-libvirt-exporter --web.listen-address=127.0.0.1:$LV_PORT \
	> "$OUT/libvirt-exporter.log" 2>&1 &
LVPID=$!
sleep 1

# stats FILE -> "median p90" in milliseconds ("n/a n/a" for no timing)
stats() {
	sort -n "$1" | awk '{v[NR] = $1} END {
		if (NR == 0) { print "n/a n/a"; exit }
		m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.999)]
		printf "%.2f %.2f\n", m * 1000, p * 1000 }'
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# USS: pages only this process maps (private clean + dirty); PSS: shared
# pages divided among the processes that map them. RSS counts every shared
# library page (libvirt.so pulls in libcrypto, gnutls, glib, libxml2).
uss_kb() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
# mb KB: megabytes, "n/a" when KB is not a measured number
mb() { if nl_is_num "$1" && [ "$1" != 0 ]; then awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; else echo n/a; fi; }
# wait_console SECONDS VM TEXT: until VM's serial console shows TEXT
wait_console() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -le $end ]; do
		grep -q -- "$3" "$NL_VM_DIR/$2.log" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
metric() { curl -fsS "http://127.0.0.1:$NL_PORT/metrics" 2>/dev/null | awk -v n="$1" '$1 == n {print $2}'; }
# mem_mb VAR PID NAME: "RSS / PSS / USS" in MB into VAR, each one checked
# as measured (not in a $(...): the checks count in this shell)
mem_mb() {
	local pid=$2 what=$3 r p u
	r=$(rss_kb "$pid" 2>/dev/null) p=$(pss_kb "$pid" 2>/dev/null) u=$(uss_kb "$pid" 2>/dev/null)
	nl_check_num --names=kB,want "$what: RSS read" "$r" -gt 0
	nl_check_num --names=kB,want "$what: PSS read" "$p" -gt 0
	nl_check_num --names=kB,want "$what: USS read" "$u" -gt 0
	printf -v "$1" '%s / %s / %s' "$(mb "$r")" "$(mb "$p")" "$(mb "$u")"
}

table="| VMs | numalens median ms | numalens p90 ms | libvirt-exporter median ms | libvirt-exporter p90 ms | ratio (median) | numalens sampler CPU ms/cycle | numalens RSS / PSS / USS MB | libvirt-exporter RSS / PSS / USS MB | numalens bytes/scrape |"
table+=$'\n'"|---|---|---|---|---|---|---|---|---|---|"
have=0
for n in $COUNTS; do
	while [ "$have" -lt "$n" ]; do
		have=$((have + 1))
		nl_guest_create "${PREFIX}$have" build/guest/cpuburn.elf "mode=idle" 2 128 1 ||
			{ nl_guests_started; nl_summary bench; exit 1; }
	done
	# let numalens pick all of them up and settle
	c=
	for _ in $(seq 1 100); do
		c=$(curl -fsS "http://127.0.0.1:$NL_PORT/metrics" 2>/dev/null | grep -c "^numalens_vm_info{vm=\"$PREFIX")
		[ "$c" -ge "$n" ] && break
		sleep 0.2
	done
	nl_check_num --names=numalens,started "$n VMs: numalens lists every VM" "$c" -eq "$n"
	sleep 4
	: > "$OUT/nl.$n"; : > "$OUT/lv.$n"
	s0=$(metric numalens_samples_total); c0=$(metric numalens_sample_cpu_seconds_total)
	for _ in $(seq 1 "$SCRAPES"); do
		curl -fsS -o "$OUT/nl.body" -w '%{time_total}\n' "http://127.0.0.1:$NL_PORT/metrics" >> "$OUT/nl.$n"
		curl -fsS -o "$OUT/lv.body" -w '%{time_total}\n' "http://127.0.0.1:$LV_PORT/metrics" >> "$OUT/lv.$n"
	done
	# the sampler's CPU per cycle over at least 3 cycles: 60 fast scrapes
	# can end within one 2 s interval (no cycle: nothing measured)
	for _ in $(seq 1 100); do
		s1=$(metric numalens_samples_total)
		nl_is_num "$s0" && nl_is_num "$s1" && [ "$((s1 - s0))" -ge 3 ] && break
		sleep 0.2
	done
	c1=$(metric numalens_sample_cpu_seconds_total)
	# (curl -f writes no time for a failed request)
	nl_check_num --names=answered,scrapes "$n VMs: every numalens scrape answered" "$(wc -l < "$OUT/nl.$n")" -eq "$SCRAPES"
	nl_check_num --names=answered,scrapes "$n VMs: every libvirt-exporter scrape answered" "$(wc -l < "$OUT/lv.$n")" -eq "$SCRAPES"
	read -r nm np < <(stats "$OUT/nl.$n")
	read -r lm lp < <(stats "$OUT/lv.$n")
	ds=; nl_is_num "$s0" && nl_is_num "$s1" && ds=$((s1 - s0))
	nl_check_num --names=cycles,want "$n VMs: the sampler ran 3 cycles (numalens_samples_total $s0 -> $s1)" "$ds" -ge 3
	nl_check_num --names="CPU seconds,want" "$n VMs: the sampler's CPU time was measured (numalens_sample_cpu_seconds_total)" "$c1" -gt 0
	cpu=n/a ratio=n/a
	nl_is_num "$ds" && [ "$ds" -gt 0 ] && nl_is_num "$c0" && nl_is_num "$c1" &&
		cpu=$(awk -v a="$c0" -v b="$c1" -v d="$ds" 'BEGIN { printf "%.2f", (b - a) / d * 1000 }')
	nl_is_num "$nm" && nl_is_num "$lm" && [ "$lm" != 0.00 ] &&
		ratio=$(awk -v a="$nm" -v b="$lm" 'BEGIN { printf "%.3f", a / b }')
	mem_mb nlmem "$NLPID" "$n VMs: numalens"
	mem_mb lvmem "$LVPID" "$n VMs: libvirt-exporter"
	table+=$'\n'"| $n | $nm | $np | $lm | $lp | $ratio | $cpu | $nlmem | $lvmem | $(wc -c < "$OUT/nl.body" 2>/dev/null || echo n/a) |"
	echo "bench: $n VMs done" >&2
done

fence='```'
floor_row=""
if [ -x build/bench/rss_floor ]; then
	build/bench/rss_floor qemu:///system 4 > /dev/null &
	fpid=$!
	sleep 2
	mem_mb floor "$fpid" "bare libvirt client"
	floor_row="RSS / PSS / USS of a bare libvirt client (tests/bench/rss_floor.c: the same libraries, libpfm4 initialised, the read-only connection open, nothing else): $floor MB."
	wait "$fpid"
fi
extra=$OUT/extra.md
: > "$extra"
if [ -x build/bench/bench_perf ]; then
	{
		echo; echo "### Per-thread counter sampling vs the read() floor"; echo
		echo "$fence"; build/bench/bench_perf 2>&1; echo "$fence"
	} >> "$extra"
fi
if [ -x build/bench/bench_memplace ]; then
	# one memory-bound guest that has touched ~400 MiB
	# (its buffer is resident once memburn says "alive pass=1")
	if nl_guest_create "${PREFIX}mem" build/guest/memburn.elf "stride=4096 size=400" 1 512 0 &&
	   nl_check "memory-bound guest: memburn's 400 MiB buffer is resident" wait_console 60 "${PREFIX}mem" 'memburn: alive pass='; then
		{
			echo; echo "### Memory placement: cgroup numa_stat vs /proc/PID/numa_maps (one VM, 400 MiB touched)"; echo
			echo "$fence"; build/bench/bench_memplace "$(nl_vm_qemu_pid "${PREFIX}mem")" 200 2>&1; echo "$fence"
		} >> "$extra"
	else
		nl_guests_started
	fi
	nl_vm_destroy "${PREFIX}mem" >/dev/null 2>&1
fi

{
	echo "# numalens benchmark"
	echo
	echo "Run: $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs, $(nl_vm_virt_type) guests, $SCRAPES scrapes per exporter per row, scraped alternately."
	echo "Each VM: 2 vCPUs, 1 iothread, 128 MiB, idle guest. numalens --sample.interval=2s."
	echo
	echo "$table"
	echo
	echo "$floor_row"
	cat "$extra"
} > "$OUT/results.md"
cat "$OUT/results.md"
if [ "$NL_FAILED" -eq 0 ]; then
	cp "$OUT/results.md" "$RESULTS"
	echo "bench: results written to $RESULTS"
else
	echo "bench: $RESULTS not written: a measurement is missing (FAIL above); this run's table is $OUT/results.md"
fi
nl_summary bench
