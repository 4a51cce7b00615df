#!/bin/sh
# tests/filters/deps.sh - install, on Debian 12, the scanners that make
# check-filters tests the wrappers of contrib/filters against: spamd and
# spamc, rspamd, clamd and clamdscan (and what the tests need beside).
#
# Their packages enable and start system services. Neither may happen
# here: a policy-rc.d that refuses every start is in place while apt-get
# runs, and every unit or init script link the installation added is
# disabled afterwards. The tests run each daemon themselves, in the
# foreground, with a private configuration. freshclam is never run.
#
# When a package cannot be installed, this says so and exits 0: the
# tests of what is missing are then reported as skipped.
pkgs="spamassassin spamc spamd rspamd clamav-daemon clamdscan
      dnsmasq-base python3 util-linux iproute2 procps"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "check-filters: missing packages:$missing (run as root to install them);" \
		"their tests are skipped" >&2
	exit 0
fi

# links - every unit and init script link that enables something.
links() {
	find /etc/systemd/system /etc/rc0.d /etc/rc1.d /etc/rc2.d /etc/rc3.d \
		/etc/rc4.d /etc/rc5.d /etc/rc6.d /etc/rcS.d -type l 2>/dev/null | LC_ALL=C sort
}
before=$(mktemp) || exit 1
links >"$before"

echo "check-filters: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	made_policy=yes
fi
ok=yes
apt-get update -q >&2 &&
	apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 $missing >&2 ||
	ok=no
[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d

# Disable what the installation enabled: a new link in a .wants
# directory names a unit; a new S link in an rc directory an init script.
new=$(links | LC_ALL=C comm -13 "$before" -)
rm -f "$before"
units=$(printf '%s\n' "$new" | sed -n \
	-e 's|^/etc/systemd/system/[^/]*\.wants/\(.*\)$|\1|p' \
	-e 's|^/etc/rc[0-6S]\.d/S[0-9][0-9]\(.*\)$|\1.service|p' | LC_ALL=C sort -u)
for u in $units; do
	echo "check-filters: disabling $u (enabled by its package)" >&2
	if command -v systemctl >/dev/null; then
		systemctl disable --quiet "$u" >&2 2>&1
	else
		name=${u%.service}
		[ -x "/etc/init.d/$name" ] && update-rc.d "$name" disable >&2 2>&1
		deb-systemd-helper disable "$u" >&2 2>&1
	fi
done
if [ $ok = no ]; then
	echo "check-filters: apt-get could not install$missing; their tests are skipped" >&2
fi
exit 0
