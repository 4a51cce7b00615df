#!/bin/sh
# fresh-root.sh - make check on a machine that has nothing yet: a Debian 12
# root (debootstrap minbase, plus git and make), a fresh clone of the
# commit checked out here, and make check run inside it as root.
#
# usage: tests/fresh-root.sh      (as root; also make check-fresh)
#   FRESH_TIMEOUT  seconds allowed for make check (default 5400)
#   DEBROOT_CACHE, MIRROR  as for tests/debroot.sh
#
# The root comes from tests/debroot.sh, the one place that makes
# throwaway Debian roots: "debroot.sh pristine git,make" makes it once and
# caches it, "debroot.sh copy" gives this run its own copy (without the
# policy-rc.d of the cached root: a fresh machine has none, and deps.sh
# must cope), and "debroot.sh enter" runs make check in it, in new mount
# and PID namespaces with the root a mount point: every process the run
# started ends with it. The copy is removed afterwards, the log of the
# last run kept beside the cached root (last-check.log). Uncommitted
# changes are not part of the run.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
limit=${FRESH_TIMEOUT:-5400}
say() { echo "fresh-root: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "run as root (debootstrap, chroot, namespaces)"; exit 1; }
commit=$(git -C "$top" rev-parse HEAD) || exit 1
[ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ] ||
	say "uncommitted changes are not tested: commit $commit only"

pristine=$(sh "$top/tests/debroot.sh" pristine git,make) || exit 1
cache=$(dirname "$pristine")
work=$cache/fresh.$$
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
say "copying $pristine; cloning $commit"
sh "$top/tests/debroot.sh" copy "$work" git,make || exit 1
rm -f "$work/usr/sbin/policy-rc.d"
git clone -q --no-checkout "$top" "$work/src" &&
	git -C "$work/src" checkout -q --detach "$commit" || exit 1

log=$cache/last-check.log
say "make check in the new root (at most ${limit}s; log: $log)"
start=$(date +%s)
timeout -k 30 "$limit" sh "$top/tests/debroot.sh" enter "$work" sh -c 'cd /src && make check' \
	</dev/null >"$log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 >&2
if [ "$rc" -eq 0 ]; then
	say "make check passed in the fresh root (${took}s)"
else
	grep -E '^== .*failed' "$log" >&2
	[ "$rc" -eq 124 ] && say "timed out after ${limit}s"
	say "make check failed in the fresh root: exit status $rc after ${took}s (log: $log)"
fi
exit "$rc"
