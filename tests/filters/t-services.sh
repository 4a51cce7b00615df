# t-services.sh - installing the scanners for make check-filters left no
# service of theirs enabled (systemd units and init script links) and
# none running: the tests start each daemon themselves, in the
# foreground, and stop it; freshclam never runs.
. "$(dirname "$0")/lib.sh"
UNITS="spamd.service spamassassin-maintenance.timer rspamd.service
       clamav-daemon.service clamav-daemon.socket clamav-freshclam.service
       clamav-freshclam-once.timer clamav-clamonacc.service"
SCRIPTS="spamd rspamd clamav-daemon clamav-freshclam"
PROCS="spamd rspamd clamd freshclam"
plan $(($(echo $UNITS | wc -w) + $(echo $SCRIPTS | wc -w) + $(echo $PROCS | wc -w)))

command -v systemctl >/dev/null || skip_all "systemctl is not installed (package systemd)"
for u in $UNITS; do
	state=$(systemctl is-enabled "$u" 2>/dev/null)
	check "$u is not enabled (${state:-not installed})" \
		bash -c "case '$state' in enabled|enabled-runtime|linked|alias) exit 1;; esac"
done
SKIP=""
for s in $SCRIPTS; do
	check "no rc.d link starts /etc/init.d/$s" \
		bash -c "! ls /etc/rc[2-5S].d/S[0-9][0-9]'$s' >/dev/null 2>&1"
done
for p in $PROCS; do
	check "no $p process is running" bash -c "! pgrep -x '$p' >/dev/null"
done
