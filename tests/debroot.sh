#!/bin/sh
# debroot.sh - throwaway Debian 12 roots for tests that must not touch
# this machine's own system: made once by debootstrap and cached, copied
# for each use, entered in new mount and PID namespaces.
#
#   debroot.sh pristine [PKG,...]   make the cached root when missing and
#                                   print its path (never enter it)
#   debroot.sh copy DIR [PKG,...]   a new copy of it in DIR
#   debroot.sh enter DIR CMD...     run CMD (as root, in a clean
#                                   environment) with DIR as its root
#
#   DEBROOT_CACHE  where the pristine roots are kept
#                  (default /var/tmp/smtp-session-debroot)
#   MIRROR         the Debian mirror (default: the one this machine's apt
#                  sources name)
#
# A pristine root is "debootstrap --variant=minbase bookworm" with the
# packages PKG,... included, one per list of packages, made under a lock;
# apt's package lists are fetched into it once, and its policy-rc.d
# forbids starting any service. It is never changed afterwards: tests
# work on copies (remove them with rm -rf --one-file-system).
#
# "enter" makes the root a mount point, as on a machine (a command in it
# may make namespaces of its own: tests/debroot.sh inside the root of
# make check-fresh), and gives the command its own /proc, /dev (bound from
# the machine), /sys and an empty /run (a tmpfs: no systemd runs there),
# in a mount namespace and a PID namespace of its own: every process it
# starts ends with it, and none of its mounts is seen outside. Only the
# network is the machine's (apt-get reaches the mirror; tests use
# loopback).
#
# One cache, one way to make a root: tests/t-deb-install.sh installs the
# package in a copy of the minbase root, make check-fresh
# (tests/fresh-root.sh) runs make check in a copy of the root with git
# and make.
#
# Exit status 77: the roots cannot be made or entered here (not root, no
# debootstrap and no way to install it, no namespaces, the mirror out of
# reach); the reason is on stderr.
set -u
cache=${DEBROOT_CACHE:-/var/tmp/smtp-session-debroot}
say() { echo "debroot: $*" >&2; }
cannot() { say "$*"; exit 77; }

[ "$(id -u)" = 0 ] || cannot "needs root (debootstrap, chroot, namespaces)"

# mirror - the Debian mirror this machine's apt sources use.
mirror() {
	[ -n "${MIRROR:-}" ] && { echo "$MIRROR"; return; }
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		sed -n -e 's/^URIs:[[:space:]]*//p' \
		       -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
		tr ' ' '\n' | grep -m1 -E '/debian/?$')
	echo "${m:-http://deb.debian.org/debian}"
}

# enter DIR CMD... - CMD run with DIR as its root (pivot_root) in its own
# namespaces.
enter() {
	dir=$1; shift
	[ -d "$dir/etc" ] || { say "enter: $dir is not a root"; exit 1; }
	cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null
	# shellcheck disable=SC2016
	unshare --mount --pid --fork --kill-child --propagation private sh -c '
		r=$1; shift
		mount --bind "$r" "$r" &&
		mount -t proc proc "$r/proc" &&
		mount --rbind /dev "$r/dev" &&
		mount --rbind /sys "$r/sys" &&
		mount -t tmpfs -o mode=0755 tmpfs "$r/run" || exit 125
		# pivot_root, not chroot: a chrooted process may not make a user
		# namespace (the tests run relay-agent in one, tests/unpriv).
		cd "$r" && mkdir -p .debroot-old && pivot_root . .debroot-old &&
			cd / && umount -l /.debroot-old && rmdir /.debroot-old || exit 125
		exec /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
	' debroot "$dir" "$@"
}

# pristine [PKGS] - the cached root with PKGS (comma-separated) included.
pristine() {
	pkgs=${1:-}
	root=$cache/bookworm-minbase${pkgs:+-$(echo "$pkgs" | tr ',' '-')}
	[ -e "$root/.complete" ] && { echo "$root"; return 0; }
	command -v unshare >/dev/null || cannot "no unshare (util-linux)"
	unshare --mount --pid --fork true 2>/dev/null || cannot "cannot make mount and PID namespaces here"
	if ! command -v debootstrap >/dev/null; then
		say "installing debootstrap"
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			-o DPkg::Lock::Timeout=600 --no-install-recommends debootstrap; } >&2 ||
			cannot "debootstrap is not installed and could not be installed"
	fi
	mkdir -p "$cache" || exit 1
	exec 9>"$cache/.lock"
	flock 9
	if [ ! -e "$root/.complete" ]; then
		m=$(mirror)
		say "debootstrap --variant=minbase${pkgs:+ --include=$pkgs} bookworm from $m into $root (once)"
		rm -rf --one-file-system "$root.tmp"
		if ! debootstrap --variant=minbase ${pkgs:+--include="$pkgs"} bookworm "$root.tmp" "$m" \
			>"$cache/debootstrap.log" 2>&1; then
			tail -n 20 "$cache/debootstrap.log" >&2
			rm -rf --one-file-system "$root.tmp"
			cannot "debootstrap failed (log: $cache/debootstrap.log)"
		fi
		printf '#!/bin/sh\n# Nothing in this root may start a service.\nexit 101\n' \
			>"$root.tmp/usr/sbin/policy-rc.d"
		chmod 755 "$root.tmp/usr/sbin/policy-rc.d"
		if ! enter "$root.tmp" apt-get update -q >"$cache/apt-update.log" 2>&1; then
			tail -n 20 "$cache/apt-update.log" >&2
			rm -rf --one-file-system "$root.tmp"
			cannot "apt-get update in the new root failed"
		fi
		rm -f "$root.tmp/etc/resolv.conf" "$root.tmp"/var/cache/apt/archives/*.deb
		touch "$root.tmp/.complete"
		mv "$root.tmp" "$root"
	fi
	exec 9>&-
	echo "$root"
}

case "${1:-}" in
pristine)
	pristine "${2:-}"
	;;
copy)
	[ $# -ge 2 ] || { say "usage: debroot.sh copy DIR [PKG,...]"; exit 64; }
	src=$(pristine "${3:-}") || exit
	rm -rf --one-file-system "$2"
	cp -a "$src" "$2" || exit 1
	rm -f "$2/.complete"
	;;
enter)
	[ $# -ge 3 ] || { say "usage: debroot.sh enter DIR CMD..."; exit 64; }
	shift
	enter "$@"
	;;
*)
	say "usage: debroot.sh pristine [PKG,...] | copy DIR [PKG,...] | enter DIR CMD..."
	exit 64
	;;
esac
