#!/usr/bin/env bash
# Run unit-test binaries (optionally under $VALGRIND) and print one summed
# closing line "N passed, N failed". Exit non-zero if any test failed or a
# binary crashed.
set -u
passed=0 failed=0 crashed=0
for t in "$@"; do
	out=$(${VALGRIND:-} "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^ *$'
	line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		echo "CRASH $t (exit $rc, no summary)"
		crashed=$((crashed + 1))
		continue
	fi
	p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
	f=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "ERROR $t exited $rc (valgrind or sanitizer error?)"
		crashed=$((crashed + 1))
	fi
done
failed=$((failed + crashed))
mkdir -p "${BUILD:-build}"
echo "unit: $passed passed, $failed failed"
echo "unit $passed $failed" > "${BUILD:-build}/.test-unit"
[ "$failed" -eq 0 ]
