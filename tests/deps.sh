#!/bin/sh
# deps.sh - install, on Debian 12, what the build and the tests need, and
# nothing that runs as a service.
#
#   deps.sh build | run | check    install what is missing for that
#   deps.sh extract PACKAGE DIR    unpack PACKAGE's files into DIR without
#                                  installing it (its lib* dependencies and
#                                  netbase, /etc/services and /etc/protocols,
#                                  are installed as plain packages)
#
# apt-get runs only when something is missing, always with
# --no-install-recommends (mailutils would otherwise pull in exim4).
#
# No test installs a mail server or leaves a daemon enabled. Packages that
# ship one are not installed: their programs are extracted under deps/
# (ignored by git), and the tests put deps/*/usr/sbin and deps/*/usr/bin on
# their PATH and start every server themselves:
#   xinetd    its package enables xinetd.service and the SysV script
#   stunnel4  its package enables stunnel.target and adds an account
# Postfix (smtp-source, smtp-sink) is for the benchmarks only: they
# extract it into a cache directory of their own (bench/fetch-postfix.sh).
# The tests' SMTP receivers are aiosmtpd scripts of their own.
#
# What is installed starts nothing: systemd is there for
# systemd-socket-activate and systemd-analyze (the units it enables, a
# getty and pstore, act only where systemd is the init system, and there
# it is installed already), dnsmasq-base is the dnsmasq binary alone, and
# man(1) is mandoc's (not man-db, which adds a daily timer). A temporary
# policy-rc.d keeps any package from starting a service during the
# install.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
what="$1"

# libdeps DEB - the packages DEB depends on (first of alternatives) that
# its programs need to run: libraries, and netbase (xinetd and Postfix
# look up services and protocols by name).
libdeps() {
	dpkg-deb -f "$1" Depends Pre-Depends | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/:any//' |
		tr -d ' ' | grep -E '^(lib|netbase$)' || true
}

# missing_pkgs PKG... - those not installed.
missing_pkgs() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			printf ' %s' "$p"
	done
}

# apt_install PKG... - install as plain packages, starting nothing.
apt_install() {
	[ $# -gt 0 ] || return 0
	made_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=yes
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
		--no-install-recommends "$@" >&2 ||
		{ [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d; return 1; }
	[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
}

# extract PACKAGE DIR - download PACKAGE (the version apt would install),
# install its library dependencies, unpack it into DIR; DIR/.complete
# marks a finished unpack.
extract() {
	pkg=$1 dir=$2
	[ -e "$dir/.complete" ] && return 0
	dl=$(mktemp -d)
	chown _apt "$dl" 2>/dev/null || true   # apt-get downloads as _apt
	(cd "$dl" && apt-get download -q "$pkg" >&2) || {
		apt-get update -q >&2 && (cd "$dl" && apt-get download -q "$pkg" >&2); } ||
		{ rm -rf "$dl"; return 1; }
	# shellcheck disable=SC2046
	apt_install $(missing_pkgs $(libdeps "$dl"/*.deb)) || { rm -rf "$dl"; return 1; }
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg-deb -x "$dl"/*.deb "$dir"
	rm -rf "$dl"
	touch "$dir/.complete"
}

if [ "$what" = extract ]; then
	[ "$(id -u)" = 0 ] || { echo "deps.sh extract: run as root" >&2; exit 1; }
	extract "$2" "$3"
	exit
fi

pkgs="libudns-dev gcc make"
tools=""
if [ "$what" = run ]; then
	pkgs="$pkgs systemd swaks"
elif [ "$what" = check ]; then
	pkgs="$pkgs clang libclang-rt-14-dev swaks libnet-ssleay-perl libauthen-sasl-perl
	      mailutils python3 python3-aiosmtpd ucspi-tcp dnsmasq-base systemd
	      msmtp socat libnss-wrapper openssl whois mandoc groff-base procps util-linux iproute2 netbase
	      procmail"
	tools="xinetd stunnel4"
elif [ "$what" != build ]; then
	echo "usage: deps.sh build|run|check|extract PACKAGE DIR" >&2
	exit 64
fi
# shellcheck disable=SC2086
missing=$(missing_pkgs $pkgs)
tools_missing=""
for t in $tools; do
	[ -e "$top/deps/$t/.complete" ] || tools_missing="$tools_missing $t"
done
[ -z "$missing$tools_missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing:$missing$tools_missing (run as root to install them)" >&2
	exit 1
fi
if [ -n "$missing" ]; then
	echo "deps.sh: installing$missing" >&2
	apt-get update -q >&2
	# shellcheck disable=SC2086
	apt_install $missing
fi
for t in $tools_missing; do
	echo "deps.sh: extracting $t into deps/$t (not installed)" >&2
	extract "$t" "$top/deps/$t"
done
exit 0
