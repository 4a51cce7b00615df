#!/bin/bash
# t-fuzz.sh - replay every seed and regression input under tests/fuzz/
# through its libFuzzer harness (built by `make fuzz-build`, which
# `make check` runs). A crash, a sanitizer report or a failed internal
# check makes the harness exit non-zero.
. "$(dirname "$0")/lib.sh"
plan 5
for f in session config addr mime dataread; do
	h="$TOP/build-fuzz/fuzz-$f"
	if [ ! -x "$h" ]; then
		nok "harness $f is built (run make fuzz-build)"
		continue
	fi
	n=$(ls "$TOP/tests/fuzz/$f" | wc -l)
	if "$h" -runs=1 "$TOP"/tests/fuzz/"$f"/* >"$T/$f.log" 2>&1; then
		ok "fuzz-$f replays its $n corpus inputs cleanly"
	else
		nok "fuzz-$f replays its $n corpus inputs cleanly"
		tail -n 30 "$T/$f.log"
	fi
done
