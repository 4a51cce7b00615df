#!/bin/sh
# deps.sh - install, on Debian 12, what the build and the tests need.
# Runs apt-get only when something is missing. Packages that ship a daemon
# are kept from starting it with a temporary policy-rc.d (there may be no
# init system at all, as in CI).
set -e
what="$1"   # build | run | check
pkgs="libudns-dev gcc make"
if [ "$what" = run ]; then
	pkgs="$pkgs systemd swaks"
elif [ "$what" != build ]; then
	pkgs="$pkgs clang libclang-rt-14-dev swaks libnet-ssleay-perl libauthen-sasl-perl
	      mailutils python3 python3-aiosmtpd ucspi-tcp dnsmasq-base systemd
	      postfix xinetd stunnel4 msmtp openssl whois mandoc man-db groff-base procps util-linux iproute2 cron
	      socat libnss-wrapper procmail"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	made_policy=yes
fi
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
apt-get update -q >&2
apt-get install -y -q --no-install-recommends $missing >&2
[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
exit 0
