# t-deploy-install.sh - make install / uninstall, the installed units
# (systemd-analyze verify and security), the man pages (mandoc, groff)
# and the sample configuration.
#
# make runs in a copy of the tree, with a copy of $BIN as its build
# directory, so that nothing is rebuilt or written in the real ones.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC"
cp -a "$TOP"/Makefile "$TOP"/*.c "$TOP"/*.h "$TOP"/man "$TOP"/systemd \
	"$TOP"/xinetd.d "$TOP"/cron.d "$TOP"/logrotate.d "$TOP"/etc "$TOP"/stunnel "$TOP"/contrib "$SRC"/ 2>/dev/null
cp -a "$BIN" "$T/bin"
# Every build product newer than every source: make builds nothing.
find "$T/bin" -type f -exec touch {} +

# inst DESTDIR [VAR=VALUE...] - make install; output in $T/make.log.
inst() {
	local d=$1; shift
	make -C "$SRC" -s install O="$T/bin" DESTDIR="$d" "$@" >"$T/make.log" 2>&1
}
# files DIR - every file and link under DIR with its mode, sorted.
files() { (cd "$1" && find . \( -type f -o -type l \) -printf '%m %P\n' | LC_ALL=C sort); }
# paths DIR - the same without the modes.
paths() { files "$1" | sed 's/^[0-9]* //' | LC_ALL=C sort; }

# --- PREFIX=/usr into a DESTDIR: the exact file list ------------------
R=$T/root
if inst "$R" PREFIX=/usr; then ok "make install DESTDIR PREFIX=/usr succeeds"; else
	nok "make install DESTDIR PREFIX=/usr succeeds"
	sed 's/^/   make: /' "$T/make.log"
fi
expect_eq "installed file list (PREFIX=/usr)" "$(files "$R")" "$(cat <<-'LIST'
	644 etc/cron.d/relay-agent
	644 etc/logrotate.d/smtp-session
	644 etc/smtp-session.conf
	644 etc/smtp-submission.conf
	644 etc/stunnel/smarthost-starttls.conf
	644 etc/stunnel/smarthost.conf
	644 etc/stunnel/smtps.conf
	644 etc/stunnel/submission-starttls.conf
	644 etc/xinetd.d/smtp
	644 usr/lib/systemd/system/relay-agent.service
	644 usr/lib/systemd/system/relay-agent.timer
	644 usr/lib/systemd/system/smtp-local.socket
	644 usr/lib/systemd/system/smtp-local@.service
	644 usr/lib/systemd/system/smtp-mkmbox.socket
	644 usr/lib/systemd/system/smtp-mkmbox@.service
	644 usr/lib/systemd/system/smtp-pickup.path
	644 usr/lib/systemd/system/smtp-pickup.service
	644 usr/lib/systemd/system/smtp-session.socket
	644 usr/lib/systemd/system/smtp-session@.service
	644 usr/lib/systemd/system/smtp-submission-starttls.service
	644 usr/lib/systemd/system/smtp-submission.service
	644 usr/share/man/man5/smtp-session.conf.5
	644 usr/share/man/man8/relay-agent.8
	644 usr/share/man/man8/sendmail.8
	644 usr/share/man/man8/smtp-mkmbox.8
	644 usr/share/man/man8/smtp-session.8
	644 usr/share/smtp-session/filter-loopback.conf
	644 usr/share/smtp-session/rblsmtpd.conf
	755 usr/lib/smtp-session/clamdscan-filter
	755 usr/lib/smtp-session/rspamc-filter
	755 usr/lib/smtp-session/sendmail
	755 usr/lib/smtp-session/smtp-mkmbox
	755 usr/lib/smtp-session/smtp-postdrop
	755 usr/lib/smtp-session/spamc-filter
	755 usr/lib/smtp-session/tcpremoteip
	755 usr/sbin/relay-agent
	755 usr/sbin/smtp-session
	777 usr/lib/smtp-session/mailq
	777 usr/lib/smtp-session/newaliases
	LIST
)"
check "installed smtp-session is the built one" cmp -s "$BIN/smtp-session" "$R/usr/sbin/smtp-session"
check "installed relay-agent is the built one" cmp -s "$BIN/relay-agent" "$R/usr/sbin/relay-agent"
check "no placeholder left in installed files" \
	bash -c "! grep -rI '@[A-Z]*@' '$R/etc' '$R/usr/lib'"
expect_eq "units run the programs from /usr/sbin" \
	"$(grep -h '^ExecStart=' "$R"/usr/lib/systemd/system/*.service | sort)" \
	"ExecStart=/usr/bin/stunnel4 /etc/stunnel/smtps.conf
ExecStart=/usr/bin/stunnel4 /etc/stunnel/submission-starttls.conf
ExecStart=/usr/lib/smtp-session/smtp-mkmbox -c /etc/smtp-session.conf
ExecStart=/usr/sbin/relay-agent -c /etc/smtp-session.conf
ExecStart=/usr/sbin/relay-agent -p -c /etc/smtp-session.conf
ExecStart=/usr/sbin/smtp-session -c /etc/smtp-session.conf
ExecStart=/usr/sbin/smtp-session -c /etc/smtp-session.conf"
expect_eq "stunnel's submission service runs /usr/sbin/smtp-session -c /etc/smtp-submission.conf" \
	"$(grep -E '^(exec|execArgs) = ' "$R/etc/stunnel/smtps.conf")" \
	"exec = /usr/sbin/smtp-session
execArgs = smtp-session -c /etc/smtp-submission.conf"
expect_eq "xinetd entry runs /usr/sbin/smtp-session -c /etc/smtp-session.conf" \
	"$(grep -E '^\s*server(_args)?\s*=' "$R/etc/xinetd.d/smtp" | tr -s ' \t' ' ')" \
	" server = /usr/sbin/smtp-session
 server_args = -c /etc/smtp-session.conf"
check "cron line runs /usr/sbin/relay-agent as root (it becomes the spool's owner)" \
	grep -qE '^\*/5 \* \* \* \*[[:space:]]+root[[:space:]].*/usr/sbin/relay-agent -c /etc/smtp-session.conf$' \
	"$R/etc/cron.d/relay-agent"
check "the xinetd entry is installed disabled" \
	grep -qE '^[[:space:]]*disable[[:space:]]*=[[:space:]]*yes[[:space:]]*$' "$R/etc/xinetd.d/smtp"

# --- default PREFIX is /usr/local; nothing lands outside DESTDIR -------
R2=$T/root2
check "make install with the default PREFIX succeeds" inst "$R2"
expect_eq "installed file list (default PREFIX)" "$(paths "$R2")" "$(cat <<-'LIST'
	etc/cron.d/relay-agent
	etc/logrotate.d/smtp-session
	etc/smtp-session.conf
	etc/smtp-submission.conf
	etc/stunnel/smarthost-starttls.conf
	etc/stunnel/smarthost.conf
	etc/stunnel/smtps.conf
	etc/stunnel/submission-starttls.conf
	etc/xinetd.d/smtp
	usr/local/lib/smtp-session/clamdscan-filter
	usr/local/lib/smtp-session/mailq
	usr/local/lib/smtp-session/newaliases
	usr/local/lib/smtp-session/rspamc-filter
	usr/local/lib/smtp-session/sendmail
	usr/local/lib/smtp-session/smtp-mkmbox
	usr/local/lib/smtp-session/smtp-postdrop
	usr/local/lib/smtp-session/spamc-filter
	usr/local/lib/smtp-session/tcpremoteip
	usr/local/lib/systemd/system/relay-agent.service
	usr/local/lib/systemd/system/relay-agent.timer
	usr/local/lib/systemd/system/smtp-local.socket
	usr/local/lib/systemd/system/smtp-local@.service
	usr/local/lib/systemd/system/smtp-mkmbox.socket
	usr/local/lib/systemd/system/smtp-mkmbox@.service
	usr/local/lib/systemd/system/smtp-pickup.path
	usr/local/lib/systemd/system/smtp-pickup.service
	usr/local/lib/systemd/system/smtp-session.socket
	usr/local/lib/systemd/system/smtp-session@.service
	usr/local/lib/systemd/system/smtp-submission-starttls.service
	usr/local/lib/systemd/system/smtp-submission.service
	usr/local/sbin/relay-agent
	usr/local/sbin/smtp-session
	usr/local/share/man/man5/smtp-session.conf.5
	usr/local/share/man/man8/relay-agent.8
	usr/local/share/man/man8/sendmail.8
	usr/local/share/man/man8/smtp-mkmbox.8
	usr/local/share/man/man8/smtp-session.8
	usr/local/share/smtp-session/filter-loopback.conf
	usr/local/share/smtp-session/rblsmtpd.conf
	LIST
)"
check "units name /usr/local/sbin with the default PREFIX" \
	grep -q '^ExecStart=/usr/local/sbin/smtp-session ' "$R2/usr/local/lib/systemd/system/smtp-session@.service"
P=/opt/smtp-session-test-$$
check "make install with PREFIX=$P writes only under DESTDIR" \
	bash -c "make -C '$SRC' -s install O='$T/bin' DESTDIR='$T/root3' PREFIX='$P' >/dev/null 2>&1 &&
		[ -x '$T/root3$P/sbin/smtp-session' ] && [ ! -e '$P' ]"

# --- reinstall keeps the administrator's files; uninstall -------------
echo "# changed by the administrator" >>"$R/etc/smtp-session.conf"
check "make install again succeeds" inst "$R" PREFIX=/usr
check "make install keeps a changed /etc/smtp-session.conf" \
	grep -q 'changed by the administrator' "$R/etc/smtp-session.conf"
check "make uninstall succeeds" \
	bash -c "make -C '$SRC' -s uninstall DESTDIR='$R' PREFIX=/usr >'$T/make.log' 2>&1"
expect_eq "make uninstall leaves only the changed configuration" \
	"$(paths "$R")" "etc/smtp-session.conf"
make -C "$SRC" -s uninstall DESTDIR="$R2" >/dev/null 2>&1
expect_eq "make uninstall removes every file of an unchanged install" "$(files "$R2")" ""

# --- systemd-analyze on units installed under a private prefix --------
# verify needs the programs at the path the units name: install under
# $T/v, with the configuration directory there too.
V=$T/v
check "make install PREFIX=$V SYSCONFDIR=$V/etc succeeds" inst "" PREFIX="$V" SYSCONFDIR="$V/etc"
U=$V/lib/systemd/system
out=$(cd "$U" && MANPATH=$V/share/man systemd-analyze verify \
	./smtp-session.socket ./smtp-session@.service ./relay-agent.service ./relay-agent.timer \
	./smtp-submission.service ./smtp-submission-starttls.service 2>&1)
rc=$?
expect_eq "systemd-analyze verify accepts the units (and finds their man pages)" "$rc:$out" "0:"
score() {
	(cd "$U" && systemd-analyze security --offline=true "./$1" 2>&1) |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}
s=$(score smtp-session@.service)
echo "# systemd-analyze security: smtp-session@.service exposure $s"
check "smtp-session@.service exposure $s is at most 2.0" \
	awk -v s="$s" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }'
s=$(score relay-agent.service)
echo "# systemd-analyze security: relay-agent.service exposure $s"
check "relay-agent.service exposure $s is at most 2.0" \
	awk -v s="$s" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }'
s=$(score smtp-submission.service)
echo "# systemd-analyze security: smtp-submission.service exposure $s"
check "smtp-submission.service exposure $s is at most 2.0" \
	awk -v s="$s" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }'
s=$(score smtp-submission-starttls.service)
echo "# systemd-analyze security: smtp-submission-starttls.service exposure $s"
check "smtp-submission-starttls.service exposure $s is at most 2.0" \
	awk -v s="$s" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }'

# --- man pages ---------------------------------------------------------
# Cross references are looked up in the installed pages as well; the
# system's own database may be out of date, which is not ours to report.
M=$R2/usr/local/share/man
make -C "$SRC" -s install O="$T/bin" DESTDIR="$R2" >/dev/null 2>&1
makewhatis "$M" 2>/dev/null
for p in man8/smtp-session.8 man8/relay-agent.8 man5/smtp-session.conf.5; do
	out=$(mandoc -Tlint -W style -m "$M" "$M/$p" 2>&1 | grep -v 'outdated mandoc.db')
	expect_eq "mandoc -Tlint reports nothing on $(basename $p)" "$out" ""
	out=$(groff -ww -mandoc -z "$M/$p" 2>&1)
	expect_eq "groff -ww reports nothing on $(basename $p)" "$out" ""
done

# Every flag and key of the contract is described.
for f in c d V; do
	check "smtp-session(8) describes -$f" grep -q "^\.It Fl $f" "$TOP/man/smtp-session.8"
done
for f in c v f l V; do
	check "relay-agent(8) describes -$f" grep -q "^\.It Fl $f" "$TOP/man/relay-agent.8"
done
keys="hostname domain users mailbox_dir spool_dir relay_from auth_file
      max_message_size max_recipients timeout log log_transcript nameserver
      dns_timeout remote_port connect_timeout smtp_timeout smarthost
      smarthost_auth tls_wrapped max_connections retry_min retry_max
      queue_lifetime aliases smarthost_auth_file submit_socket mkmbox_socket"
missing=""
for k in $keys; do
	grep -q "^\.It Cm $k\b" "$TOP/man/smtp-session.conf.5" || missing="$missing $k"
done
expect_eq "smtp-session.conf(5) describes every key" "$missing" ""
for p in smtp-session.8 relay-agent.8 smtp-session.conf.5; do
	check "$p has EXAMPLES and FILES" \
		bash -c "grep -q '^\.Sh EXAMPLES' '$TOP/man/$p' && grep -q '^\.Sh FILES' '$TOP/man/$p'"
done

# --- the sample configuration works --------------------------------------
mkdir -p "$T/mail" "$T/spool"
printf 'alice\npostmaster: alice\n' >"$T/users"
sed "s|^users .*|users $T/users|" "$R/etc/smtp-session.conf" >"$T/conf"
printf 'mailbox_dir %s\nspool_dir %s\nlog %s\n' "$T/mail" "$T/spool" "$T/log" >>"$T/conf"
got=$(printf 'EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@example.org>\r\nQUIT\r\n' |
	"$BIN/smtp-session" -c "$T/conf" 2>&1 | tr -d '\r' | cut -c1-3 | sort -u | tr '\n' ' ')
expect_eq "the sample configuration serves a session" "$got" "220 221 250 "
