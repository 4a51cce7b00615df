#!/bin/sh
# fresh-root.sh - make check on a machine that has nothing yet: a Debian 12
# root made by debootstrap (minbase, plus git and make), a fresh clone of
# the commit checked out here, and make check run inside it as root.
#
# usage: tests/fresh-root.sh      (as root; also make check-fresh)
#   FRESH_CACHE    where the pristine root is kept between runs and the
#                  log of the last run is written
#                  (default /var/tmp/smtp-session-fresh-root)
#   FRESH_TIMEOUT  seconds allowed for make check (default 3600)
#   MIRROR         the Debian mirror (default: the one this machine's apt
#                  sources name)
#
# The pristine root is made once (debootstrap --variant=minbase
# --include=git,make bookworm) and never changed. Each run copies it,
# clones the commit into /src of the copy, and runs make check there in a
# chroot inside new mount and PID namespaces (unshare): the root is a mount
# point as on a machine, /proc, /sys, /dev (with /dev/pts) and /run are
# mounted for it alone, and every process it started ends with it. Only the network is the machine's (apt-get must
# reach the mirror; the tests use loopback). The copy is removed
# afterwards. Uncommitted changes are not part of the run.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${FRESH_CACHE:-/var/tmp/smtp-session-fresh-root}
limit=${FRESH_TIMEOUT:-3600}
say() { echo "fresh-root: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "run as root (debootstrap, chroot, namespaces)"; exit 1; }
commit=$(git -C "$top" rev-parse HEAD) || exit 1
[ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ] ||
	say "uncommitted changes are not tested: commit $commit only"

if [ -z "${MIRROR:-}" ]; then
	MIRROR=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		sed -n -e 's/^URIs:[[:space:]]*//p' \
		       -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
		tr ' ' '\n' | grep -m1 -E '/debian/?$')
	MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi

# --- the pristine root, made once -----------------------------------------
pristine=$cache/bookworm
if [ ! -e "$pristine/.complete" ]; then
	if ! command -v debootstrap >/dev/null; then
		say "installing debootstrap"
		apt-get update -q >&2 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
				--no-install-recommends debootstrap >&2 || exit 1
	fi
	say "debootstrap bookworm (minbase, git, make) from $MIRROR into $pristine"
	mkdir -p "$cache"
	rm -rf --one-file-system "$pristine.tmp"
	debootstrap --variant=minbase --include=git,make bookworm "$pristine.tmp" "$MIRROR" \
		>"$cache/debootstrap.log" 2>&1 || {
		say "debootstrap failed (see $cache/debootstrap.log)"; tail -n 20 "$cache/debootstrap.log" >&2
		exit 1
	}
	touch "$pristine.tmp/.complete"
	rm -rf --one-file-system "$pristine"
	mv "$pristine.tmp" "$pristine"
fi

# --- a copy of it, the clone, make check ------------------------------------
work=$cache/run.$$
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
say "copying the root; cloning $commit"
cp -a "$pristine" "$work" || exit 1
cp /etc/resolv.conf "$work/etc/resolv.conf"
git clone -q --no-checkout "$top" "$work/src" &&
	git -C "$work/src" checkout -q --detach "$commit" || exit 1

log=$cache/last.log
say "make check in the new root (at most ${limit}s; log: $log)"
start=$(date +%s)
# shellcheck disable=SC2016
timeout -k 30 "$limit" unshare --mount --pid --fork --kill-child sh -c '
	r=$1
	mount --make-rprivate / &&
	mount --bind "$r" "$r" &&
	mount -t proc proc "$r/proc" &&
	mount --rbind /sys "$r/sys" &&
	mount --rbind /dev "$r/dev" &&
	mount -t tmpfs -o mode=0755 tmpfs "$r/run" || exit 1
	exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		sh -c "cd /src && make check"
' fresh-root "$work" </dev/null >"$log" 2>&1
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
