#!/usr/bin/env bash
# Build settings stick: in a throwaway BUILD directory, a plain build, then
# `make SANITIZE=address,undefined all`, then a plain build again must each
# rebuild every object (the $(BUILD)/flags.stamp of the Makefile), with the
# sanitizers in every object exactly when they were asked for; and a rerun
# with unchanged settings rebuilds nothing.
#
#   tests/deploy/buildflags.sh        (no root; about a minute on 2 cores)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

SUITE=buildflags
T0=$SECONDS
TMP=$(mktemp -d /tmp/numalens-buildflags.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT
B=$TMP/build

# mk [VAR=VALUE...]: make all in the throwaway directory, free of whatever
# settings the calling make or the environment would pass down; VAR=VALUE
# go on make's command line, except CFLAGS, which the Makefile appends to and
# so takes from the environment.
mk() {
	local -a envs=() vars=()
	local a
	for a in "$@"; do
		case $a in CFLAGS=*) envs+=("$a") ;; *) vars+=("$a") ;; esac
	done
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE -u CFLAGS -u LDFLAGS -u LDLIBS \
		"${envs[@]}" make -s -j2 BUILD="$B" "${vars[@]}" all > "$TMP/make.log" 2>&1 ||
		{ sed 's/^/       /' "$TMP/make.log" | tail -n 20; return 1; }
}
# objects: every object of `all`, one a line.
objects() { find "$B" -name '*.o' | sort; }
# stale_since MARKER: objects not rewritten since MARKER was made.
stale_since() { find "$B" -name '*.o' ! -newer "$1" -printf '%P\n' | sort; }
# with_symbol PREFIX: objects that reference a symbol starting with PREFIX.
with_symbol() {
	local o
	for o in $(objects); do
		nm "$o" | awk -v p="$1" 'index($NF, p) == 1 { f = 1 } END { exit !f }' && echo "$o"
	done
}
count() { grep -c . <<< "$1"; }
# links_libasan: the binary needs libasan.
links_libasan() { readelf -d "$B/numalens" | awk '/NEEDED.*libasan/ { f = 1 } END { exit !f }'; }

# build NAME ARGS...: a build that must rewrite every object of the one before.
build() {
	local name=$1 t=$SECONDS stale
	shift
	touch "$TMP/marker"
	# a build within the same timestamp tick as the marker would look stale
	sleep 0.05
	if ! mk "$@"; then
		nl_fail "$name: make BUILD=\$tmp ${*:+$* }all"
		return 1
	fi
	stale=$(stale_since "$TMP/marker")
	nl_check "$name: make BUILD=\$tmp ${*:+$* }all rebuilds every object ($(count "$(objects)") objects, $((SECONDS - t)) s)${stale:+; not rebuilt: $(paste -sd ' ' <<< "$stale")}" \
		test -z "$stale" -a -n "$(objects)"
}

echo "buildflags: SANITIZE and the other build settings rebuild every object"
if build "plain" && [ "$(count "$(objects)")" -gt 10 ]; then
	N=$(count "$(objects)")
	asan=$(with_symbol __asan_)
	nl_check "plain: no object references __asan_ ($(count "$asan")/$N)" test -z "$asan"
	nl_check "plain: numalens does not link libasan" eval '! links_libasan'

	touch "$TMP/marker"
	sleep 0.05
	mk
	rewritten=$(find "$B" -name '*.o' -newer "$TMP/marker" -printf '%P\n')
	nl_check "plain again: unchanged settings rebuild nothing${rewritten:+: $(paste -sd ' ' <<< "$rewritten")}" \
		test -z "$rewritten"

	if build "sanitize" SANITIZE=address,undefined; then
		asan=$(with_symbol __asan_)
		ubsan=$(with_symbol __ubsan_handle_)
		nl_check "sanitize: every object references __asan_ ($(count "$asan")/$N)" \
			test "$(count "$asan")" -eq "$N"
		nl_check "sanitize: objects reference __ubsan_handle_ ($(count "$ubsan")/$N)" \
			test "$(count "$ubsan")" -gt 0
		nl_check "sanitize: numalens links libasan" links_libasan
		collector=$(grep -c '/collector/' <<< "$asan")
		nl_check "sanitize: the collector objects are instrumented ($collector of $(objects | grep -c /collector/))" \
			test "$collector" -gt 0 -a "$collector" -eq "$(objects | grep -c /collector/)"
	fi

	if build "plain after sanitize"; then
		asan=$(with_symbol __asan_)
		nl_check "plain after sanitize: no object references __asan_ ($(count "$asan")/$N)" test -z "$asan"
		nl_check "plain after sanitize: numalens does not link libasan" eval '! links_libasan'
	fi

	if build "CFLAGS" CFLAGS="-O1 -g"; then
		# (awk reads all of readelf's output: an early exit would be a
		# SIGPIPE, a failure under pipefail)
		o1=$(for o in $(objects); do
			readelf --debug-dump=info "$o" 2>/dev/null |
				awk '/DW_AT_producer/ && / -O1( |$)/ { f = 1 } END { exit !f }' && echo "$o"
		done)
		nl_check "CFLAGS: every object was compiled with -O1 (DW_AT_producer: $(count "$o1")/$N)" \
			test "$(count "$o1")" -eq "$N"
	fi
	build "CC" CC=gcc
else
	nl_fail "plain: a build with objects ($(count "$(objects)") found)"
fi

echo "  .. buildflags: $((SECONDS - T0)) s in all"
nl_summary "$SUITE"
