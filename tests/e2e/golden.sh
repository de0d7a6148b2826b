#!/usr/bin/env bash
# Golden end-to-end test: run the real daemon against each fixture host tree
# (tests/fixtures/<case>/{proc,sys}), scrape /metrics over HTTP, drop the
# lines that depend on timing, and diff against <case>.expected.
#   golden.sh BIN            compare
#   golden.sh --update BIN   rewrite the .expected files (review the diff!)
# A case passes only on a scrape of at least 3 snapshots that matches a
# non-empty .expected file; every .expected file must have its fixture, and
# some case must run. NL_GOLDEN_PORT (default 19809); NL_EXTRA_FLAGS: extra
# daemon flags (any that changes the output makes the cases differ).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
update=0
[ "${1:-}" = "--update" ] && { update=1; shift; }
BIN=${1:-${BUILD:-build}/numalens}
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh
PORT=${NL_GOLDEN_PORT:-19809}
OUT=${BUILD:-build}/golden
mkdir -p "$OUT"

# Timing-dependent families: values differ run to run.
volatile='^numalens_(collector_duration_seconds|sample_duration_seconds|sample_cpu_seconds_total|snapshot_age_seconds|samples_total|build_info|hint_engine_duration_seconds)[{ ]'

run_case() {
	local dir=$1 name pid got
	name=$(basename "$dir")
	got=$OUT/$name.prom
	"$BIN" --discovery=proc --no-collector.perf \
		--path.procfs="$dir/proc" --path.sysfs="$dir/sys" \
		--web.listen-address="127.0.0.1:$PORT" --sample.interval=0.2s \
		--log.level=error "${NL_EXTRA[@]}" > "$OUT/$name.log" 2>&1 &
	pid=$!
	# two cycles at least, so that windows exist
	rm -f "$got.raw"
	n=
	for _ in $(seq 1 100); do
		if curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$got.raw" 2>/dev/null; then
			n=$(nl_metric "$got.raw" 'numalens_samples_total ')
			nl_is_num "$n" && [ "${n%.*}" -ge 3 ] && break
		fi
		sleep 0.05
	done
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	[ -f "$got.raw" ] || : > "$got.raw"
	grep -Ev "$volatile" "$got.raw" > "$got"
	# an empty scrape compared with an empty file is no test
	nl_check_num --names=snapshots,want "$name: scraped after 3 snapshots ($(wc -l < "$got") stable lines)" "$n" -ge 3 ||
		{ tail -n 5 "$OUT/$name.log"; return; }
	if [ "$update" = 1 ]; then
		cp "$got" "tests/e2e/$name.expected"
		echo "  updated tests/e2e/$name.expected"
		nl_pass "$name"
	elif ! [ -s "tests/e2e/$name.expected" ]; then
		nl_fail "$name: tests/e2e/$name.expected exists and is not empty (make golden-update writes it)"
	elif diff -u "tests/e2e/$name.expected" "$got" > "$OUT/$name.diff"; then
		nl_pass "$name matches tests/e2e/$name.expected"
	else
		cat "$OUT/$name.diff"
		nl_fail "$name differs from tests/e2e/$name.expected (make golden-update regenerates; review the diff)"
	fi
	if command -v promtool >/dev/null; then
		nl_check "$name: promtool check metrics" sh -c "promtool check metrics < '$got.raw' >/dev/null 2>&1"
	fi
}

ncase=0 orphans=
for d in tests/fixtures/*/; do
	[ -d "$d/proc" ] || continue
	run_case "${d%/}"
	ncase=$((ncase + 1))
done
for e in tests/e2e/*.expected; do
	[ -e "$e" ] || continue
	n=$(basename "$e" .expected)
	[ -d "tests/fixtures/$n/proc" ] || orphans+=" $n"
done
nl_check_none --names=without-fixture,cases "every tests/e2e/*.expected has its fixture, and $ncase cases ran" "$orphans" "$ncase"
nl_summary golden
