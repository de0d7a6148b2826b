# Shared helpers for the shell test suites: pass/fail accounting with the
# closing line "N passed, N failed", checks of measured values that cannot
# pass on an empty, zero or unparsable side, and metric scraping.
# shellcheck shell=bash
#
# Checks of measurements (each prints both sides when it fails):
#   nl_check_num  [OPTS] DESC A OP B         A OP B as numbers; OP is one of
#                                            -eq -ne -lt -le -gt -ge
#   nl_check_within [OPTS] DESC A B REL [ABS]  |A-B| <= max(REL*|B|, ABS)
#   nl_check_eq   [OPTS] DESC GOT WANT       strings, neither side empty
#   nl_check_none [OPTS] DESC BAD COUNT      BAD (a list of offenders) is
#                                            empty and COUNT > 0 items were
#                                            looked at
# OPTS:
#   --nonzero      a side that is 0 fails (a measurement that must have
#                  measured something: bytes, CPU seconds, a count)
#   --names=L,R    what the two sides are, for the message (default
#                  "left,right"; nl_check_eq: "got,want")
# A side that is empty or not a decimal number ("", "null", "NaN", "1 2")
# always fails nl_check_num and nl_check_within.
#
# Guests that did not start (tests/lib/vms.sh must be sourced):
#   nl_guest_create NAME ARGS...   nl_vm_create; on failure keeps the reason
#   nl_guests_started              after the creates: one FAIL line
#                                  "guests did not start (NAMES): REASON"
#                                  when any failed (returns 1), which
#                                  nl_summary repeats above the closing line
#
# NL_EXTRA_FLAGS (environment): extra flags, split on blanks, that a suite
# passes to every numalens daemon it starts (as "${NL_EXTRA[@]}"), to break a
# measurement on purpose and see the checks fail, e.g.
#   NL_EXTRA_FLAGS='--no-collector.numa_stat --no-collector.numa_maps'

NL_PASSED=0
NL_FAILED=0
NL_CAUSE=
NL_GUESTS_FAILED=()
NL_GUEST_WHY=
read -r -a NL_EXTRA <<< "${NL_EXTRA_FLAGS:-}"
[ "${#NL_EXTRA[@]}" -eq 0 ] || echo "  note NL_EXTRA_FLAGS: every numalens started here gets: ${NL_EXTRA[*]}"

# nl__1l VALUE: VALUE on one line (newlines shown as \n), for a message.
nl__1l() { local v=${1//$'\n'/\\n}; printf '%s' "$v"; }

nl_pass() { NL_PASSED=$((NL_PASSED + 1)); echo "  ok   $*"; }
nl_fail() { NL_FAILED=$((NL_FAILED + 1)); echo "  FAIL $*"; }

# nl_check DESCRIPTION COMMAND...: passes when the command succeeds.
nl_check() {
	local what=$1; shift
	if "$@"; then nl_pass "$what"; else nl_fail "$what"; fi
}

# nl_cause MESSAGE: a failure that explains the ones after it (guests that
# did not start): counted and printed once, and repeated by nl_summary just
# above the closing line. Only the first cause is kept.
nl_cause() {
	[ -n "$NL_CAUSE" ] || NL_CAUSE=$1
	nl_fail "$1"
}

# nl_summary SUITE: prints the closing line, records it for `make test`'s
# total, and returns non-zero when anything failed.
nl_summary() {
	local suite=$1
	[ -z "$NL_CAUSE" ] || echo "$suite: first cause of the failures above: $NL_CAUSE"
	echo "$suite: $NL_PASSED passed, $NL_FAILED failed"
	mkdir -p "${BUILD:-build}"
	echo "$suite $NL_PASSED $NL_FAILED" > "${BUILD:-build}/.test-$suite"
	[ "$NL_FAILED" -eq 0 ]
}

# nl_is_num VALUE: VALUE is one decimal number (sign, fraction and exponent
# allowed). "", "null", "NaN", "+Inf", "?" and "1 2" are not.
nl_is_num() {
	[[ $1 =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]
}

# nl__opts ARGS...: parses the leading OPTS of the nl_check_* functions into
# nl__nonzero and nl__names; sets nl__shift to the number of words used.
nl__opts() {
	nl__nonzero=0 nl__shift=0
	while [ $# -gt 0 ]; do
		case $1 in
		--nonzero) nl__nonzero=1 ;;
		--names=*) nl__names=${1#--names=} ;;
		*) break ;;
		esac
		shift
		nl__shift=$((nl__shift + 1))
	done
}

# nl__side NAME VALUE: empty when VALUE is a usable side, else why not.
nl__side() {
	if [ -z "$2" ]; then
		echo "$1 is empty"
	elif ! nl_is_num "$2"; then
		echo "$1 is not a number"
	elif [ "$nl__nonzero" = 1 ] && awk -v v="$2" 'BEGIN { exit !(v + 0 == 0) }'; then
		echo "$1 is zero where a measurement is expected"
	fi
}

# nl__sides A B: the reason the pair cannot be compared, or empty.
nl__sides() {
	local l=${nl__names%%,*} r=${nl__names#*,} why
	why=$(nl__side "$l" "$1")
	[ -n "$why" ] || why=$(nl__side "$r" "$2")
	printf '%s' "$why"
}

# nl_check_num [OPTS] DESCRIPTION A OP B
nl_check_num() {
	local nl__nonzero nl__shift nl__names=left,right
	nl__opts "$@"; shift "$nl__shift"
	local what=$1 a=$2 op=$3 b=$4 why sym
	local l=${nl__names%%,*} r=${nl__names#*,}
	case $op in
	-eq) sym='==' ;; -ne) sym='!=' ;; -lt) sym='<' ;;
	-le) sym='<=' ;; -gt) sym='>' ;; -ge) sym='>=' ;;
	*) nl_fail "$what: nl_check_num: unknown operator '$op'"; return 1 ;;
	esac
	why=$(nl__sides "$a" "$b")
	if [ -z "$why" ] && ! awk -v a="$a" -v b="$b" -v op="$sym" 'BEGIN {
		a += 0; b += 0
		if (op == "==") r = a == b; else if (op == "!=") r = a != b
		else if (op == "<") r = a < b; else if (op == "<=") r = a <= b
		else if (op == ">") r = a > b; else r = a >= b
		exit !r }'; then
		why="not $(nl__1l "$a") $sym $(nl__1l "$b")"
	fi
	if [ -z "$why" ]; then nl_pass "$what"; return 0; fi
	nl_fail "$what [$l '$(nl__1l "$a")', $r '$(nl__1l "$b")': $why]"
	return 1
}

# nl_check_within [OPTS] DESCRIPTION A B REL [ABS]: |A-B| <= max(REL*|B|, ABS)
nl_check_within() {
	local nl__nonzero nl__shift nl__names=left,right
	nl__opts "$@"; shift "$nl__shift"
	local what=$1 a=$2 b=$3 rel=$4 abs=${5:-0} why
	local l=${nl__names%%,*} r=${nl__names#*,}
	why=$(nl__sides "$a" "$b")
	if [ -z "$why" ]; then
		why=$(awk -v a="$a" -v b="$b" -v rel="$rel" -v abs="$abs" -v r="$r" 'BEGIN {
			d = a - b; if (d < 0) d = -d
			bb = b < 0 ? -b : b
			lim = rel * bb; if (lim < abs) lim = abs
			if (!(d <= lim)) printf "|%s - %s| = %g > %g (%g%% of %s, at least %s)", a, b, d, lim, rel * 100, r, abs
		}')
	fi
	if [ -z "$why" ]; then nl_pass "$what"; return 0; fi
	nl_fail "$what [$l '$(nl__1l "$a")', $r '$(nl__1l "$b")': $why]"
	return 1
}

# nl_check_eq [--names=L,R] DESCRIPTION GOT WANT: string equality; an empty
# side fails (WANT is never meant to be empty: test that with nl_check_none).
nl_check_eq() {
	local nl__nonzero nl__shift nl__names=got,want
	nl__opts "$@"; shift "$nl__shift"
	local what=$1 got=$2 want=$3 why=
	local l=${nl__names%%,*} r=${nl__names#*,}
	if [ -z "$got" ]; then why="$l is empty"
	elif [ -z "$want" ]; then why="$r is empty"
	elif [ "$got" != "$want" ]; then why=differ
	fi
	if [ -z "$why" ]; then nl_pass "$what"; return 0; fi
	nl_fail "$what [$l '$(nl__1l "$got")', $r '$(nl__1l "$want")': $why]"
	return 1
}

# nl_check_none [--names=L,R] DESCRIPTION BAD COUNT: nothing is wrong (BAD,
# the offenders, is empty) among COUNT items, and there were items to look
# at (COUNT a number > 0): "every X is fine" over nothing is no check.
nl_check_none() {
	local nl__nonzero nl__shift nl__names=offenders,checked
	nl__opts "$@"; shift "$nl__shift"
	local what=$1 bad=$2 n=$3 why=
	local l=${nl__names%%,*} r=${nl__names#*,}
	if ! nl_is_num "$n"; then why="$r is not a count"
	elif ! awk -v n="$n" 'BEGIN { exit !(n + 0 > 0) }'; then why="nothing was checked"
	elif [ -n "$bad" ]; then why="$l found"
	fi
	if [ -z "$why" ]; then nl_pass "$what"; return 0; fi
	nl_fail "$what [$l '$(nl__1l "$bad")', $r '$(nl__1l "$n")': $why]"
	return 1
}

# nl_sum: the sum of the numbers on stdin, one a line; prints nothing when
# there is no line or a line is not a number (so that "no series" stays an
# empty side instead of becoming 0).
nl_sum() {
	local v s=() bad=0
	while IFS= read -r v; do
		nl_is_num "$v" || bad=1
		s+=("$v")
	done
	[ "${#s[@]}" -gt 0 ] && [ "$bad" = 0 ] || return 0
	printf '%s\n' "${s[@]}" | awk '{ t += $1 } END { printf "%.17g\n", t }'
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

# nl_float_within A B REL ABS: |A-B| <= max(REL*|B|, ABS); false when a side
# is not a number.
nl_float_within() {
	nl_is_num "$1" && nl_is_num "$2" || return 1
	awk -v a="$1" -v b="$2" -v rel="$3" -v abs="$4" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		bb = b < 0 ? -b : b
		lim = rel * bb; if (lim < abs) lim = abs
		exit !(d <= lim)
	}'
}

# ---- guests that did not start ----------------------------------------------

# nl__guest_why NAME ERR: one line saying why guest NAME did not start: the
# first libvirt error that is more than "Failed to create domain" and QEMU's
# own complaint (from ERR, else the last line of QEMU's log under libvirt),
# else the first line of ERR.
nl__guest_why() {
	local name=$1 err=$2 why qemu log=/var/log/libvirt/qemu/$1.log
	why=$(printf '%s\n' "$err" | sed -n '/^error: Failed to create domain/d; s/^error: //p' | head -n 1)
	qemu=$(printf '%s\n' "$err" | grep -m 1 'qemu-system[^:]*: ')
	[ -n "$qemu" ] || qemu=$(grep -v '^[[:space:]]*$' "$log" 2>/dev/null | tail -n 1)
	qemu=${qemu#*qemu-system*: }
	if [ -n "$qemu" ] && [[ $why != *"$qemu"* ]]; then
		why="${why:+$why; }QEMU: $qemu"
	fi
	[ -n "$why" ] || why=$(printf '%s\n' "$err" | head -n 1)
	why=${why:-no message}
	printf '%s' "${why:0:400}"
}

# nl_guest_create NAME KERNEL CMDLINE [VCPUS] [MEM_MIB] [IOTHREADS]:
# nl_vm_create (tests/lib/vms.sh), quiet; when it fails, NAME is added to
# NL_GUESTS_FAILED, the first reason is kept for nl_guests_started, and the
# status is non-zero. Once a guest of the suite has failed, later ones are
# not tried (libvirt takes ~45 s to give up on each, for the same reason).
nl_guest_create() {
	local err
	if [ -n "$NL_GUEST_WHY" ]; then
		NL_GUESTS_FAILED+=("$1")
		return 1
	fi
	err=$(nl_vm_create "$@" 2>&1 >/dev/null) && return 0
	NL_GUESTS_FAILED+=("$1")
	NL_GUEST_WHY=$(nl__guest_why "$1" "$err")
	return 1
}

# nl_guests_started: after a suite's nl_guest_create calls: when any guest
# failed, one FAIL line "guests did not start (NAMES): REASON", the cause of
# what fails later (later calls: "NAMES not started, as above"); returns 1.
nl_guests_started() {
	[ "${#NL_GUESTS_FAILED[@]}" -eq 0 ] && return 0
	if [ -z "$NL_CAUSE" ]; then
		nl_cause "guests did not start (${NL_GUESTS_FAILED[*]}): $NL_GUEST_WHY"
	else
		nl_fail "guests ${NL_GUESTS_FAILED[*]} not started either (see the first failure)"
	fi
	NL_GUESTS_FAILED=()
	return 1
}
