#!/bin/bash
# t-mta-install.sh - the host's own mail as installed: sendmail, mailq,
# newaliases, smtp-postdrop and smtp-mkmbox in PREFIX/lib/smtp-session
# (not on the PATH), smtp-postdrop setgid when root installs, the
# programs finding each other there when linked in as /usr/sbin/sendmail
# would be; the new units' sandboxes (systemd-analyze security) and the
# socket modes; sendmail(8) and smtp-mkmbox(8) lint clean and complete.
. "$(dirname "$0")/lib.sh"
plan 21

SRC=$TOP
P=$T/pfx
# Built for this PREFIX (compiled-in paths), installed without DESTDIR
# as root; DROPGROUP nogroup stands for smtpdrop (no group is created).
make -C "$SRC" -s O="$T/obj" PREFIX="$P" SYSCONFDIR="$T/etc" DROPGROUP=nogroup install \
	>"$T/make.log" 2>&1
expect_eq "make install PREFIX=... (root, no DESTDIR): exit 0" "$?" 0
expect_eq "PREFIX/lib/smtp-session holds the programs and filter wrappers; mailq and newaliases are sendmail" \
	"$(cd "$P/lib/smtp-session" && for f in *; do if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f"; fi; done)" \
	"clamdscan-filter
mailq -> sendmail
newaliases -> sendmail
rspamc-filter
sendmail
smtp-mkmbox
smtp-postdrop
spamc-filter
tcpremoteip"
expect_eq "smtp-postdrop is setgid to the maildrop's group, mode 2755" \
	"$(stat -c '%a %G' "$P/lib/smtp-session/smtp-postdrop")" "2755 nogroup"
check "nothing of sendmail lands on the PATH (PREFIX/bin, PREFIX/sbin)" \
	bash -c "! ls '$P/bin' 2>/dev/null | grep -q . && [ ! -e '$P/sbin/sendmail' ] && [ ! -e '$P/sbin/mailq' ]"
check "smtp-mkmbox@.service runs PREFIX/lib/smtp-session/smtp-mkmbox" \
	grep -qx "ExecStart=$P/lib/smtp-session/smtp-mkmbox -c $T/etc/smtp-session.conf" \
	"$P/lib/systemd/system/smtp-mkmbox@.service"

# --- linked in as the host's sendmail and mailq ---------------------------
NG=$(getent group nogroup | cut -d: -f3)
mkdir -p "$T/usrsbin" "$T/mail" "$T/spool/maildrop"
ln -s "$P/lib/smtp-session/sendmail" "$T/usrsbin/sendmail"
ln -s "$P/lib/smtp-session/mailq" "$T/usrsbin/mailq"
chmod 0711 "$T/spool" && chgrp "$NG" "$T/spool/maildrop" && chmod 1730 "$T/spool/maildrop"
printf 'alice\npostmaster: alice\n' >"$T/users"
printf '%s\n' "hostname mx.test.example" "domain test.example" "users $T/users" \
	"mailbox_dir $T/mail" "spool_dir $T/spool" "log $T/log" \
	"submit_socket $T/none.sock" >"$T/conf"
chmod 644 "$T/conf" "$T/users"
printf 'Subject: installed\n\nby the installed sendmail\n' |
	setpriv --reuid=65534 --regid=65534 --clear-groups "$T/usrsbin/sendmail" -C "$T/conf" alice
expect_eq "the linked sendmail, as nobody, with no socket: exit 0" "$?" 0
expect_eq "it found the installed smtp-postdrop: one file in the maildrop" \
	"$(ls "$T/spool/maildrop" | wc -l)" 1
"$T/usrsbin/mailq" -C "$T/conf" >"$T/mailq.out" 2>&1
expect_eq "the linked mailq (root) runs the installed relay-agent -l" "$?:$(cat "$T/mailq.out")" "0:Mail queue is empty"
"$P/sbin/relay-agent" -c "$T/conf"
check "the installed relay-agent picks it up with the installed smtp-session" \
	grep -q '^by the installed sendmail$' "$T/mail/alice"

# --- units --------------------------------------------------------------
U=$P/lib/systemd/system
for u in smtp-local@.service smtp-pickup.service smtp-mkmbox@.service; do
	s=$(systemd-analyze security --offline=true "$U/$u" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	echo "# systemd-analyze security: $u exposure $s"
	check "$u exposure ($s) is at most 2.0" awk -v s="$s" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }'
done
check "smtp-local@.service lets the real uid through (no PrivateUsers=)" \
	bash -c "! grep -q '^PrivateUsers=' '$U/smtp-local@.service' &&
		systemd-analyze security --offline=true '$U/smtp-local@.service' 2>/dev/null | grep -q 'PrivateUsers='"
expect_eq "smtp-local.socket: the default submit_socket, mode 0666, one session per connection" \
	"$(grep -E '^(ListenStream|SocketMode|Accept)=' "$U/smtp-local.socket")" \
	"ListenStream=/run/smtp-session/submit.sock
Accept=yes
SocketMode=0666"
expect_eq "smtp-mkmbox.socket: the default mkmbox_socket, the service group only" \
	"$(grep -E '^(ListenStream|SocketGroup|SocketMode)=' "$U/smtp-mkmbox.socket")" \
	"ListenStream=/run/smtp-session/mkmbox.sock
SocketGroup=vmail
SocketMode=0660"
expect_eq "smtp-mkmbox@.service keeps only CAP_CHOWN" \
	"$(grep -E '^(User|CapabilityBoundingSet)=' "$U/smtp-mkmbox@.service")" "User=root
CapabilityBoundingSet=CAP_CHOWN"
check "smtp-pickup.path starts relay-agent -p when the maildrop changes" \
	bash -c "grep -qx 'PathChanged=/var/spool/smtp-session/maildrop' '$U/smtp-pickup.path' &&
		grep -q '^ExecStart=.*/relay-agent -p ' '$U/smtp-pickup.service'"

# --- man pages ---------------------------------------------------------------
for p in sendmail.8 smtp-mkmbox.8; do
	out=$( { mandoc -Tlint -W style "$TOP/man/$p"; groff -ww -mandoc -z "$TOP/man/$p"; } 2>&1 |
		grep -v 'referenced manual not found\|outdated mandoc.db')
	expect_eq "mandoc and groff report nothing on $p" "$out" ""
done
missing=""
for f in C f r F t i oi bm bs bp bi q v V B N R o; do
	grep -q "^\.It .*Fl $f\b" "$TOP/man/sendmail.8" || missing="$missing -$f"
done
expect_eq "sendmail(8) describes every option" "$missing" ""

make -C "$SRC" -s O="$T/obj" PREFIX="$P" SYSCONFDIR="$T/etc" uninstall >/dev/null 2>&1
check "make uninstall removes PREFIX/lib/smtp-session" test ! -e "$P/lib/smtp-session"
