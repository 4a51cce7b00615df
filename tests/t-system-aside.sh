#!/bin/bash
# t-system-aside.sh - under "users system" a mailbox its user made
# unusable holds back no one else's mail: with tess's mbox hard-linked
# into her home and uma's mode 0600 (the service account, in group mail,
# cannot open it), a message from sam to sam, tess and uma is accepted,
# sam's copy is in his mailbox at once, and tess's and uma's wait in the
# queue, their mailboxes untouched, the reason logged. relay-agent
# defers them while nothing changes, delivers uma's once her mode is
# mended, and bounces tess's to sam once its queue lifetime is over.
# (A private password and group database through nss_wrapper, as in
# t-system-users.sh; needs root.)
. "$(dirname "$0")/lib.sh"
plan 14

[ -n "$NSSLIB" ] || nok "libnss-wrapper is installed"
SVC=64001
MAILGID=8
mkdir -p "$T/home/sam" "$T/home/tess" "$T/home/uma" "$T/varmail" "$T/spool"
cat >"$T/passwd" <<-EOF
	root:x:0:0:root:/root:/bin/bash
	sam:x:50001:50001:Sam:$T/home/sam:/bin/sh
	tess:x:50002:50002:Tess:$T/home/tess:/bin/sh
	uma:x:50003:50003:Uma:$T/home/uma:/bin/sh
	vmail:x:$SVC:$SVC::/nonexistent:/usr/sbin/nologin
EOF
system_mail_host
# The spool is the service account's.
chown "$SVC:$SVC" "$T/spool"
: >"$T/log" && chown "$SVC" "$T/log"
cat >"$T/conf" <<-EOF
	hostname mx.test.example
	domain test.example
	users system
	aliases $T/aliases
	mailbox_dir $T/varmail
	spool_dir $T/spool
	log $T/log
	nameserver 127.0.0.1:1
	dns_timeout 2s
	smarthost 127.0.0.1:1
	connect_timeout 2s
EOF
: >"$T/aliases"
sed 's/^dns_timeout .*/&\nqueue_lifetime 1s/' "$T/conf" >"$T/expire.conf"
chmod 644 "$T/conf" "$T/expire.conf" "$T/aliases"

# Three mailboxes as Debian makes them (owner, group mail, 0660), each
# with one old message; then tess links hers into her home, and uma
# makes hers 0600.
for u in sam:50001 tess:50002 uma:50003; do
	printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\nold text\n\n' \
		>"$T/varmail/${u%:*}"
	chown "${u#*:}:$MAILGID" "$T/varmail/${u%:*}" && chmod 660 "$T/varmail/${u%:*}"
done
ln "$T/varmail/tess" "$T/home/tess/mbox-link"
chmod 600 "$T/varmail/uma"
cp "$T/varmail/tess" "$T/tess.before"
cp "$T/varmail/uma" "$T/uma.before"

# As the service account (in group mail), as under a launcher.
got=$(printf 'EHLO c\r\nMAIL FROM:<sam@test.example>\r\nRCPT TO:<sam@test.example>\r\nRCPT TO:<tess@test.example>\r\nRCPT TO:<uma@test.example>\r\nDATA\r\nSubject: for three\r\n\r\nhello three\r\n.\r\nQUIT\r\n' |
	timeout 60 setpriv --reuid=$SVC --regid=$SVC --groups=$MAILGID "$BIN/smtp-session" -c "$T/conf" |
	tr -d '\r' | grep -c '^250 2.0.0 Ok: queued as')
expect_eq "the message for sam, tess and uma is accepted" "$got" 1
count() { grep -c '^hello three' "$T/varmail/$1"; }
pending() {     # pending - queued copies still to do for tess or uma
	grep -h '^rcpt pending' "$T"/spool/env/* 2>/dev/null | grep -cE $'\t(tess|uma)$'
}
expect_eq "sam has his copy at once" "$(count sam)" 1
check "tess's hard-linked mailbox is untouched" cmp -s "$T/varmail/tess" "$T/tess.before"
check "uma's unreadable mailbox is untouched" cmp -s "$T/varmail/uma" "$T/uma.before"
check "the hard link is logged" \
	grep -q "mailbox $T/varmail/tess is not a plain file with one link (a hard link): not written" "$T/log"
check "the unreadable mailbox is logged" \
	grep -q "mailbox $T/varmail/uma cannot be opened (Permission denied): not written" "$T/log"
expect_eq "tess's and uma's copies wait in the queue, for their mailboxes" \
	"$(grep -h '^rcpt ' "$T"/spool/env/* 2>/dev/null | grep -oE $'\t(tess|uma)$' | tr -d '\t' | sort | tr '\n' ' ')" \
	"tess uma "

# relay-agent (started as root, it works as the spool's owner): nothing
# mended yet, both copies stay queued.
timeout 60 "$BIN/relay-agent" -c "$T/conf" 2>>"$T/relay.err"
check "relay-agent leaves both mailboxes untouched while they stay unusable" \
	bash -c "cmp -s '$T/varmail/tess' '$T/tess.before' && cmp -s '$T/varmail/uma' '$T/uma.before'"
expect_eq "... and both copies stay queued" "$(pending)" 2

chmod 660 "$T/varmail/uma"
timeout 60 "$BIN/relay-agent" -c "$T/conf" -f 2>>"$T/relay.err"
expect_eq "once uma's mode is mended, relay-agent delivers her copy" "$(count uma)" 1
expect_eq "... and tess's still waits" "$(pending)" 1

sleep 1.1      # past the 1 s queue lifetime of expire.conf
timeout 60 "$BIN/relay-agent" -c "$T/expire.conf" -f 2>>"$T/relay.err"
check "past its queue lifetime tess's copy is bounced to sam, with the reason" \
	$PY - "$T/varmail/sam" <<-'PY'
	import mailbox, sys
	dsn = [m for m in mailbox.mbox(sys.argv[1]) if m.get_from().startswith("MAILER-DAEMON")]
	text = dsn[0].as_string() if len(dsn) == 1 else ""
	sys.exit(0 if "tess@test.example" in text and "cannot be written now" in text else 1)
	PY
check "tess's mailbox was never written" cmp -s "$T/varmail/tess" "$T/tess.before"
expect_eq "the queue holds nothing for tess or uma afterwards" "$(pending)" 0
