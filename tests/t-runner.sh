#!/bin/bash
# t-runner.sh - tests/run itself: a copy of it (with lib.sh) runs tiny
# scripts in a scratch tree, and each way a script can lose or fake its
# assertions must count as a failure: no plan, a plan after the first
# assertion, a Python helper that dies at import (fewer lines than
# planned), more lines than planned, a non-zero exit, a timeout, a
# sanitizer report. A clean script and a skipped assertion count as such.
. "$(dirname "$0")/lib.sh"
plan 12

F=$T/fake
mkdir -p "$F/tests"
cp "$TOP/tests/run" "$TOP/tests/lib.sh" "$F/tests/"
# fake NAME BODY - tests/t-NAME.sh: lib.sh, then BODY.
fake() {
	printf '. "$(dirname "$0")/lib.sh"\n%s\n' "$2" >"$F/tests/t-$1.sh"
}
fake clean 'plan 2; ok one; ok two'
fake noplan 'ok one; ok two'
fake latepan 'ok one; plan 2; ok two'
# The failure of the issue: mboxrd_check.py died at import, and the
# script went on with its own few assertions, green.
fake helperdied 'plan 4
$PY -c "import no_such_module_here; print(\"ok - from the helper\")" 2>/dev/null
ok own one; ok own two'
fake extra 'plan 1; ok one; ok two'
fake notok 'plan 2; ok one; nok two'
fake exits 'plan 1; ok one; exit 3'
fake slow 'plan 1; ok one; sleep 30'
# What an ASan report looks like to the runner: a file in log_path.
fake sanitizer 'plan 1; ok one
p=${ASAN_OPTIONS#log_path=}; echo "ERROR: AddressSanitizer" >"${p%%:*}.42"'
fake skipped 'plan 2; ok one; skip 1 "no IPv6 loopback"'

out=$(cd / && env -u TESTS TEST_TIMEOUT=3 sh "$F/tests/run" build 2>&1)
rc=$?
line() { printf '%s\n' "$out" | grep "^== build/t-$1: "; }

expect_eq "a script with its plan and every assertion passing" "$(line clean)" \
	"== build/t-clean: 2 passed"
expect_eq "no plan line: failed" "$(line noplan)" \
	"== build/t-noplan: 2 passed, 1 failed (no plan line)"
expect_eq "a plan after the first assertion: failed" "$(line latepan)" \
	"== build/t-latepan: 2 passed, 1 failed (the plan must come once, before the first assertion)"
expect_eq "a helper that died at import: its missing assertions fail" "$(line helperdied)" \
	"== build/t-helperdied: 2 passed, 2 failed (2 of 4 planned assertions ran)"
expect_eq "more assertions than planned: failed" "$(line extra)" \
	"== build/t-extra: 2 passed, 1 failed (2 assertions, 1 planned)"
expect_eq "a not ok line: failed" "$(line notok)" \
	"== build/t-notok: 1 passed, 1 failed"
expect_eq "a non-zero exit: failed" "$(line exits)" \
	"== build/t-exits: 1 passed, 1 failed (exit status 3)"
expect_eq "a script over its time: failed" "$(line slow)" \
	"== build/t-slow: 1 passed, 1 failed (timed out after 3s)"
expect_eq "a sanitizer report: failed" "$(line sanitizer)" \
	"== build/t-sanitizer: 1 passed, 1 failed (sanitizer report)"
expect_eq "a skipped assertion: counted apart, not failed" "$(line skipped)" \
	"== build/t-skipped: 1 passed, 1 skipped"
expect_eq "the closing line adds them up" "$(printf '%s\n' "$out" | tail -n 1)" \
	"15 passed, 9 failed, 1 skipped"
expect_eq "the runner exits 1 when anything failed" "$rc" 1
