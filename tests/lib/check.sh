# Shared helpers for the shell test suites: pass/fail accounting with the
# closing line "N passed, N failed", and metric scraping.
# shellcheck shell=bash

NL_PASSED=0
NL_FAILED=0

nl_pass() { NL_PASSED=$((NL_PASSED + 1)); echo "  ok   $*"; }
nl_fail() { NL_FAILED=$((NL_FAILED + 1)); echo "  FAIL $*"; }

# nl_check DESCRIPTION COMMAND...: passes when the command succeeds.
nl_check() {
	local what=$1; shift
	if "$@"; then nl_pass "$what"; else nl_fail "$what"; fi
}

# nl_summary SUITE: prints the closing line, records it for `make test`'s
# total, and returns non-zero when anything failed.
nl_summary() {
	local suite=$1
	echo "$suite: $NL_PASSED passed, $NL_FAILED failed"
	mkdir -p "${BUILD:-build}"
	echo "$suite $NL_PASSED $NL_FAILED" > "${BUILD:-build}/.test-$suite"
	[ "$NL_FAILED" -eq 0 ]
}

# nl_metric FILE SELECTOR: prints the values of samples whose name+labels
# line starts with SELECTOR (e.g. 'numalens_vm_info{vm="a"'), one a line.
nl_metric() {
	grep -F -- "$2" "$1" | grep -v '^#' | awk '{print $NF}'
}

# nl_scrape URL OUT: fetch the metrics page into OUT.
nl_scrape() {
	curl -fsS --max-time 5 "$1" -o "$2"
}

# nl_float_within A B REL ABS: |A-B| <= max(REL*|B|, ABS)
nl_float_within() {
	awk -v a="$1" -v b="$2" -v rel="$3" -v abs="$4" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		bb = b < 0 ? -b : b
		lim = rel * bb; if (lim < abs) lim = abs
		exit !(d <= lim)
	}'
}
