# t-deb-install.sh - the Debian package installed, used, upgraded, removed
# and purged in a throwaway Debian 12 root (tests/debroot.sh: debootstrap
# minbase, cached; its own /run, where no systemd runs, and a policy-rc.d
# that forbids starting services), never on this machine's own system.
#
# Installed with apt-get (its dependencies come from the mirror), then:
# the account, the spool, /etc/aliases and the generated configuration;
# "echo hi | sendmail root" (no socket without systemd: the maildrop); the
# cron line's command, which does nothing while /run/systemd/system
# exists and delivers otherwise; the logrotate entry; a message queued
# for a foreign domain (its smarthost refuses) that must survive an
# upgrade; remove, which keeps the configuration and the queue; purge,
# which keeps the mailboxes, the queue and the account.
. "$(dirname "$0")/lib.sh"
N=27
plan $N
if [ "$BIN" != "$TOP/build" ]; then
	skip $N "the package is built from the sources: tested with the plain build only"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	skip $N "needs root to make and enter a Debian root"
	exit 0
fi

VERSION=$(sed -n 's/^#define VERSION "\(.*\)"$/\1/p' "$TOP/util.h")
ARCH=$(dpkg --print-architecture)
NAME=smtp-session_${VERSION}_$ARCH.deb
ENABLED="relay-agent.timer smtp-local.socket smtp-mkmbox.socket smtp-pickup.path smtp-session.socket"
R=$T/root
cleanup_root() { rm -rf --one-file-system "$R"; }
trap 'cleanup_root; cleanup' EXIT

sh "$TOP/tests/debroot.sh" copy "$R" 2>"$T/debroot.err"
rc=$?
if [ $rc -eq 77 ]; then
	sed 's/^/# /' "$T/debroot.err"
	skip $N "no throwaway Debian root here: $(tail -n 1 "$T/debroot.err")"
	exit 0
elif [ $rc -ne 0 ]; then
	sed 's/^/   /' "$T/debroot.err"
fi

# inroot [TIMEOUT] CMD... - CMD in the root; output on stdout.
inroot() {
	local t=120
	case $1 in [0-9]*) t=$1; shift;; esac
	timeout -k 5 "$t" sh "$TOP/tests/debroot.sh" enter "$R" "$@" 2>&1
}
# sh_in SCRIPT - a shell script in the root.
sh_in() { inroot /bin/sh -c "$1"; }
# apt_in ARGS... - apt-get in the root, noninteractive; log in $T/apt.log.
apt_in() {
	inroot 300 env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends \
		-o Dpkg::Use-Pty=0 "$@" >>"$T/apt.log"
}
# cron_cmd - the command of the installed cron line (run as cron would).
cron_cmd() { grep -E '^[0-9*]' "$R/etc/cron.d/relay-agent" | sed -E 's/^([^[:space:]]+[[:space:]]+){6}//'; }
cron_path() { sed -n 's/^PATH=//p' "$R/etc/cron.d/relay-agent"; }
run_cron() { inroot env -i "PATH=$(cron_path)" /bin/sh -c "$1$(cron_cmd)"; }

# --- build and install ---------------------------------------------------------
SRC=$T/src
mkdir -p "$SRC"
(cd "$TOP" && tar -c --exclude=./.git --exclude='./build*' --exclude=./run --exclude=./deps \
	--exclude=./bench/results .) | tar -x -C "$SRC"
make -C "$SRC" -s deb O="$T/out" >"$T/deb.out" 2>&1
check "make deb builds the package" test -f "$T/out/$NAME"
mkdir -p "$R/tmp/pkg"
cp "$T/out/$NAME" "$R/tmp/pkg/" 2>/dev/null
# postinst takes the host's mail name from /etc/mailname.
echo mail.test.example >"$R/etc/mailname"
if apt_in install "/tmp/pkg/$NAME"; then ok "apt-get install ./$NAME in a fresh Debian 12"; else
	nok "apt-get install ./$NAME in a fresh Debian 12"; tail -n 30 "$T/apt.log" | sed 's/^/   /'
fi
expect_eq "dpkg: installed, version $VERSION" \
	"$(inroot dpkg-query -W -f='${Status} ${Version}' smtp-session)" "install ok installed $VERSION"

# --- what the postinst set up --------------------------------------------------
expect_eq "the system account vmail: no login, in groups vmail and mail" \
	"$(sh_in 'u=$(id -u vmail) && [ "$u" -lt 1000 ] && echo system; getent passwd vmail | cut -d: -f7; id -nG vmail | tr " " "\n" | sort | tr "\n" " "')" \
	"system
/usr/sbin/nologin
mail vmail "
expect_eq "the spool (0711), the maildrop (sticky, the drop group's) and the log directory" \
	"$(sh_in 'stat -c "%n %U:%G %a" /var/spool/smtp-session /var/spool/smtp-session/maildrop /var/log/smtp-session')" \
	"/var/spool/smtp-session vmail:vmail 711
/var/spool/smtp-session/maildrop vmail:smtpdrop 1730
/var/log/smtp-session vmail:vmail 750"
expect_eq "smtp-postdrop is setgid smtpdrop (dpkg-statoverride)" \
	"$(sh_in 'stat -c "%U:%G %a" /usr/lib/smtp-session/smtp-postdrop')" "root:smtpdrop 2755"
check "/etc/aliases is created with postmaster: root" grep -qx 'postmaster: root' "$R/etc/aliases"
expect_eq "/etc/smtp-session.conf is written for this host (/etc/mailname), world-readable" \
	"$(stat -c '%U:%G %a' "$R/etc/smtp-session.conf"; grep -v '^#' "$R/etc/smtp-session.conf" | grep .)" \
	"root:root 644
hostname mail.test.example
domain mail.test.example
users system"
links=$(cd "$R/etc/systemd/system" && for l in *.wants/*; do
	case $(readlink "$l") in */smtp-*|*/relay-agent*) echo "${l##*/}";; esac; done | LC_ALL=C sort | tr '\n' ' ')
expect_eq "the units are enabled (deb-systemd-helper), though nothing runs them here" \
	"$links" "$(printf '%s\n' $ENABLED | LC_ALL=C sort | tr '\n' ' ')"

# --- local mail: sendmail, the maildrop, the cron line ----------------------------
token=deb-$$-$RANDOM
out=$(sh_in "echo 'hi $token' | /usr/sbin/sendmail root; echo rc=\$?")
expect_eq "echo hi | /usr/sbin/sendmail root succeeds without systemd (the maildrop)" "$out" "rc=0"
drop() { sh_in 'find /var/spool/smtp-session/maildrop -type f | wc -l'; }
expect_eq "the message waits in the maildrop" "$(drop)" 1
out=$(run_cron 'mkdir -p /run/systemd/system && ')
expect_eq "the cron line does nothing where systemd is the init system" "$out:$(drop)" ":1"
out=$(run_cron '')
expect_eq "the cron line runs relay-agent otherwise, quietly" "$out" ""
check "the message is in /var/mail/root" grep -q "^hi $token\$" "$R/var/mail/root"
expect_eq "/var/mail/root belongs to root, group mail, mode 0660; the maildrop is empty" \
	"$(stat -c '%U:%G %a' "$R/var/mail/root" 2>&1):$(drop)" "root:mail 660:0"

# --- logrotate -----------------------------------------------------------------
apt_in install logrotate
sh_in 'echo line >/var/log/smtp-session/smtp-session.log && chown vmail: /var/log/smtp-session/smtp-session.log' >/dev/null
out=$(sh_in 'logrotate -f -s /tmp/logrotate.state /etc/logrotate.d/smtp-session && ls /var/log/smtp-session')
expect_eq "logrotate rotates the log file without error" "$out" "smtp-session.log.1"

# --- a queued message survives an upgrade ----------------------------------------
PORT=$(free_port)   # nothing listens there: the smarthost refuses
echo "smarthost 127.0.0.1:$PORT" >>"$R/etc/smtp-session.conf"
cp "$R/etc/smtp-session.conf" "$T/conf.before"
sh_in "echo 'far $token' | /usr/sbin/sendmail someone@far.example" >/dev/null
run_cron '' >/dev/null
queue() { sh_in 'relay-agent -l' | grep -c 'someone@far.example'; }
spool() { sh_in 'cd /var/spool/smtp-session && find . -type f ! -path "./maildrop/*" | sort'; }
expect_eq "a message to a foreign domain waits in the queue" "$(queue)" 1
spool_before=$(spool)
mbox_before=$(cat "$R/var/mail/root" 2>/dev/null)
rm -rf "$T/repack"
dpkg-deb -R "$T/out/$NAME" "$T/repack" 2>/dev/null &&
	sed -i "s/^Version: .*/Version: $VERSION+upgrade1/" "$T/repack/DEBIAN/control" &&
	dpkg-deb --root-owner-group -b "$T/repack" "$R/tmp/pkg/upgrade.deb" >/dev/null 2>&1
if apt_in install /tmp/pkg/upgrade.deb; then ok "upgrade to $VERSION+upgrade1 with apt-get"; else
	nok "upgrade to $VERSION+upgrade1 with apt-get"; tail -n 30 "$T/apt.log" | sed 's/^/   /'
fi
check "the upgrade leaves /etc/smtp-session.conf as the administrator left it" \
	cmp -s "$T/conf.before" "$R/etc/smtp-session.conf"
expect_eq "the queued message and the mailbox survive the upgrade" \
	"$(queue):$(spool):$(cat "$R/var/mail/root" 2>/dev/null)" "1:$spool_before:$mbox_before"

# --- remove --------------------------------------------------------------------
if apt_in remove smtp-session; then ok "apt-get remove"; else
	nok "apt-get remove"; tail -n 30 "$T/apt.log" | sed 's/^/   /'
fi
expect_eq "remove takes the programs and keeps the configuration (dpkg: config-files)" \
	"$(ls "$R/usr/sbin/smtp-session" "$R/usr/sbin/sendmail" 2>/dev/null; inroot dpkg-query -W -f='${Status}' smtp-session;
	   echo; cmp -s "$T/conf.before" "$R/etc/smtp-session.conf" && echo conf kept;
	   [ -f "$R/etc/cron.d/relay-agent" ] && echo cron kept)" \
	"deinstall ok config-files
conf kept
cron kept"
expect_eq "remove keeps the queued mail" "$(spool)" "$spool_before"

# --- purge ---------------------------------------------------------------------
if apt_in purge smtp-session; then ok "apt-get purge"; else
	nok "apt-get purge"; tail -n 30 "$T/apt.log" | sed 's/^/   /'
fi
left=""
for f in /etc/smtp-session.conf /etc/cron.d/relay-agent /etc/logrotate.d/smtp-session \
	/etc/xinetd.d/smtp /etc/smtp-submission.conf /etc/stunnel/smtps.conf \
	/etc/systemd/system/smtp-session.socket.d/loopback.conf /var/log/smtp-session; do
	[ -e "$R$f" ] && left="$left $f"
done
expect_eq "purge removes the configuration, the cron file, the logrotate entry and the logs" "$left" ""
expect_eq "purge keeps the mailboxes, the queue, the account and its groups, /etc/aliases" \
	"$(cat "$R/var/mail/root" 2>/dev/null):$(spool):$(sh_in 'getent passwd vmail >/dev/null && getent group smtpdrop >/dev/null && echo account'):$(grep -c 'postmaster: root' "$R/etc/aliases")" \
	"$mbox_before:$spool_before:account:1"
expect_eq "purge forgets the statoverride and the enablement of the units" \
	"$(inroot dpkg-statoverride --list | grep smtp-session; cd "$R/etc/systemd/system" && for l in *.wants/*; do
		case $(readlink "$l") in */smtp-*|*/relay-agent*) echo "$l";; esac; done)" ""
