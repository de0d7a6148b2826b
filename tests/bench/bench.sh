#!/usr/bin/env bash
# make bench: numalens next to prometheus-libvirt-exporter on the same idle
# demo VMs, in the same run. For N = 1, 10, 30 VMs: /metrics latency (median
# and p90 over SCRAPES scrapes, the two exporters scraped alternately),
# numalens sampler CPU time per cycle, and resident memory of both.
# Writes the table to stdout and to tests/bench/results.md.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${1:-build/numalens}
# shellcheck source=tests/lib/vms.sh
. tests/lib/vms.sh
SCRAPES=${SCRAPES:-60}
COUNTS=${COUNTS:-"1 10 30"}
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

nl_need_pkgs prometheus-libvirt-exporter curl >/dev/null
nl_libvirt_start
nl_vm_destroy_prefix "$PREFIX" >/dev/null 2>&1

"$BIN" --web.listen-address=127.0.0.1:$NL_PORT --sample.interval=2s \
	--log.level=warn > "$OUT/numalens.log" 2>&1 &
NLPID=$!
prometheus-libvirt-exporter --web.listen-address=127.0.0.1:$LV_PORT \
	> "$OUT/libvirt-exporter.log" 2>&1 &
LVPID=$!
sleep 1

# stats FILE -> "median p90" in milliseconds
stats() {
	sort -n "$1" | awk '{v[NR] = $1} END {
		m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.999)]
		printf "%.2f %.2f\n", m * 1000, p * 1000 }'
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# USS: pages only this process maps (private clean + dirty); PSS: shared
# pages divided among the processes that map them. RSS counts every shared
# library page (libvirt.so pulls in libcrypto, gnutls, glib, libxml2).
uss_kb() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
metric() { curl -fsS "http://127.0.0.1:$NL_PORT/metrics" | awk -v n="$1" '$1 == n {print $2}'; }

table="| VMs | numalens median ms | numalens p90 ms | libvirt-exporter median ms | libvirt-exporter p90 ms | ratio (median) | numalens sampler CPU ms/cycle | numalens RSS / PSS / USS MB | libvirt-exporter RSS / PSS / USS MB | numalens bytes/scrape |"
table+=$'\n'"|---|---|---|---|---|---|---|---|---|---|"
have=0
for n in $COUNTS; do
	while [ "$have" -lt "$n" ]; do
		have=$((have + 1))
		nl_vm_create "${PREFIX}$have" build/guest/cpuburn.elf "mode=idle" 2 128 1 >/dev/null ||
			{ echo "bench: could not start VM $have" >&2; exit 1; }
	done
	# let numalens pick all of them up and settle
	for _ in $(seq 1 100); do
		c=$(curl -fsS "http://127.0.0.1:$NL_PORT/metrics" | grep -c "^numalens_vm_info{vm=\"$PREFIX")
		[ "$c" -ge "$n" ] && break
		sleep 0.2
	done
	sleep 4
	: > "$OUT/nl.$n"; : > "$OUT/lv.$n"
	s0=$(metric numalens_samples_total); c0=$(metric numalens_sample_cpu_seconds_total)
	for _ in $(seq 1 "$SCRAPES"); do
		curl -fsS -o "$OUT/nl.body" -w '%{time_total}\n' "http://127.0.0.1:$NL_PORT/metrics" >> "$OUT/nl.$n"
		curl -fsS -o "$OUT/lv.body" -w '%{time_total}\n' "http://127.0.0.1:$LV_PORT/metrics" >> "$OUT/lv.$n"
	done
	s1=$(metric numalens_samples_total); c1=$(metric numalens_sample_cpu_seconds_total)
	read -r nm np < <(stats "$OUT/nl.$n")
	read -r lm lp < <(stats "$OUT/lv.$n")
	cpu=$(awk -v a="$c0" -v b="$c1" -v x="$s0" -v y="$s1" 'BEGIN { if (y > x) printf "%.2f", (b - a) / (y - x) * 1000; else print "n/a" }')
	ratio=$(awk -v a="$nm" -v b="$lm" 'BEGIN { printf "%.3f", a / b }')
	table+=$'\n'"| $n | $nm | $np | $lm | $lp | $ratio | $cpu | $(mb "$(rss_kb $NLPID)") / $(mb "$(pss_kb $NLPID)") / $(mb "$(uss_kb $NLPID)") | $(mb "$(rss_kb $LVPID)") / $(mb "$(pss_kb $LVPID)") / $(mb "$(uss_kb $LVPID)") | $(wc -c < "$OUT/nl.body") |"
	echo "bench: $n VMs done" >&2
done

fence='```'
floor_row=""
if [ -x build/bench/rss_floor ]; then
	build/bench/rss_floor qemu:///system 4 > /dev/null &
	fpid=$!
	sleep 2
	floor_row="RSS / PSS / USS of a bare libvirt client (tests/bench/rss_floor.c: the same libraries, libpfm4 initialised, the read-only connection open, nothing else): $(mb "$(rss_kb $fpid)") / $(mb "$(pss_kb $fpid)") / $(mb "$(uss_kb $fpid)") MB."
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
	nl_vm_create "${PREFIX}mem" build/guest/memburn.elf "stride=4096 size=400" 1 512 0 >/dev/null
	sleep 12
	{
		echo; echo "### Memory placement: cgroup numa_stat vs /proc/PID/numa_maps (one VM, 400 MiB touched)"; echo
		echo "$fence"; build/bench/bench_memplace "$(nl_vm_qemu_pid "${PREFIX}mem")" 200 2>&1; echo "$fence"
	} >> "$extra"
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
} | tee tests/bench/results.md
