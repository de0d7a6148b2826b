#!/usr/bin/env bash
# Sum the closing lines the test suites recorded under build/.test-* into
# the one line CI reads.
set -u
p=0 f=0
for r in build/.test-*; do
	[ -f "$r" ] || continue
	read -r _ a b < "$r"
	p=$((p + a)); f=$((f + b))
done
echo "make test: $p passed, $f failed"
[ "$f" -eq 0 ]
