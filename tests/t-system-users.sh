#!/bin/bash
# t-system-users.sh - "users system": the host's accounts (a private
# password and group database through nss_wrapper, so no account of the
# machine is touched) with an aliases(5) file and ~/.forward. Mailboxes
# are made for their users (owner, group mail, 0660) three ways: by
# smtp-session itself as root, by smtp-mkmbox behind a socket for a
# session run as the service account, and by relay-agent's root child for
# a copy that waited in the queue. /dev/null, a self-reference, an
# unsupported target (550 5.7.1, logged at load, the rest works), a
# mailbox owned by someone else, root@localhost, postmaster, and
# newaliases on a good and a broken aliases file (warnings, exit 0, as
# Postfix's: the rest of the file works).
. "$(dirname "$0")/lib.sh"
plan 40

[ -n "$NSSLIB" ] || nok "libnss-wrapper is installed"
SVC=64001
MAILGID=8
mkdir -p "$T/home/sam" "$T/home/tess" "$T/home/uma" "$T/varmail" "$T/spool" "$T/svc"
cat >"$T/passwd" <<-EOF
	root:x:0:0:root:/root:/bin/bash
	sam:x:50001:50001:Sam Sample,,,:$T/home/sam:/bin/sh
	tess:x:50002:50002:Tess:$T/home/tess:/bin/sh
	uma:x:50003:50003:Uma:$T/home/uma:/bin/sh
	wendy:x:50004:50004:Wendy:$T/home/wendy:/bin/sh
	xena:x:50005:50005:Xena:$T/home/xena:/bin/sh
	yuri:x:50006:50006:Yuri:$T/home/yuri:/bin/sh
	vmail:x:$SVC:$SVC::/nonexistent:/usr/sbin/nologin
	nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
system_mail_host
cat >"$T/aliases" <<-EOF
	# aliases(5)
	sam: sam, ext@far.example
	ops: /dev/null
	prog: "|/usr/bin/cat", sam
	staff: tess,
	   uma
	# a comment inside an entry's lines
	team: staff@localhost
EOF
printf '# forward\numa, \\tess\n"|/bin/true"\n' >"$T/home/tess/.forward"
chown 50002 "$T/home/tess/.forward" && chmod 644 "$T/home/tess/.forward"
printf 'sam\n' >"$T/home/uma/.forward"
chown 50003 "$T/home/uma/.forward" && chmod 664 "$T/home/uma/.forward"    # group-writable
cat >"$T/conf" <<-EOF
	hostname mx.test.example
	domain test.example
	users system
	aliases $T/aliases
	mailbox_dir $T/varmail
	spool_dir $T/spool
	log $T/log
EOF
chmod 644 "$T/conf" "$T/aliases"

# send RCPT... - one message to these recipients; replies in $T/replies.
send() {
	{
		printf 'EHLO client.example\r\nMAIL FROM:<someone@remote.example>\r\n'
		for r in "$@"; do printf 'RCPT TO:<%s>\r\n' "$r"; done
		printf 'DATA\r\nSubject: to %s\r\n\r\nhello %s\r\n.\r\nQUIT\r\n' "$*" "$*"
	} | "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' >"$T/replies"
}
owner() { stat -c '%u:%g %a' "$1" 2>/dev/null; }
has() { grep -q "^hello .*$2" "$T/varmail/$1" 2>/dev/null; }

# --- smtp-session as root makes the mailbox itself ------------------------
send sam@test.example
check "sam: accepted" grep -q '^250 2.0.0 Ok: queued as' "$T/replies"
expect_eq "sam's new mailbox: owner sam, group mail, 0660" "$(owner "$T/varmail/sam")" "50001:$MAILGID 660"
check "sam's mailbox has it" has sam sam@test.example
check "self-reference: sam also forwards to ext@far.example" \
	bash -c "grep -l 'ext@far.example' '$T'/spool/env/* >/dev/null 2>&1"
send ops@test.example
check "/dev/null: accepted" grep -q '^250 2.0.0 Ok: queued as' "$T/replies"
check "/dev/null: nothing stored" test ! -e "$T/varmail/ops"
send prog@test.example
check "unsupported target: 550 5.7.1" grep -q '^550 5.7.1 <prog@test.example>' "$T/replies"
check "unsupported target: logged with file and line" \
	grep -q "$T/aliases:4: alias \"prog\": |command targets are not supported" "$T/log"
send team@test.example
check "the rest of the file works: team -> staff (continuation line) -> tess, uma" \
	bash -c "grep -q '^250 2.0.0' '$T/replies' && grep -q 'hello team@test.example' '$T/varmail/uma'"
check ".forward: tess forwards to uma and keeps a copy (\\tess)" \
	bash -c "grep -q 'hello team@test.example' '$T/varmail/tess' &&
		[ \$(grep -c 'hello team@test.example' '$T/varmail/uma') = 1 ]"
check ".forward: a |command line is ignored, logged" \
	grep -q "home/tess/.forward: .*|/bin/true.* ignored: only addresses are supported" "$T/log"
check ".forward: a group-writable one is ignored, logged" \
	grep -q "$T/home/uma/.forward: not a plain file owned by uma and writable by it only: ignored" "$T/log"
check ".forward: uma's (ignored) did not forward to sam" bash -c "! grep -q 'hello team' '$T/varmail/sam'"
send SAM@Test.Example
check "local parts are matched in any case" has sam SAM@Test.Example
send root@localhost postmaster@test.example
check "root@localhost and postmaster (no alias: root)" \
	bash -c "grep -q '^250 2.0.0' '$T/replies' && [ \$(grep -c '^hello root@localhost' '$T/varmail/root') = 1 ]"
expect_eq "root's mailbox: owner root, group mail, 0660" "$(owner "$T/varmail/root")" "0:$MAILGID 660"
send nosuch@test.example
check "unknown account: 550 5.1.1" grep -q '^550 5.1.1 <nosuch@test.example>' "$T/replies"
# A mailbox owned by another user: refused, logged, the copy waits.
touch "$T/varmail/wendy" && chown "50001:$MAILGID" "$T/varmail/wendy" && chmod 660 "$T/varmail/wendy"
send wendy@test.example
check "a mailbox owned by someone else: accepted into the queue" grep -q '^250 2.0.0' "$T/replies"
expect_eq "a mailbox owned by someone else: left untouched" "$(stat -c %s "$T/varmail/wendy")" 0
check "a mailbox owned by someone else: logged" grep -q "mailbox $T/varmail/wendy is not owned by user wendy" "$T/log"
check "a mailbox owned by someone else: its copy waits in the queue" \
	bash -c "grep -h '^rcpt ' '$T'/spool/env/* | grep -q \$'\twendy\$'"

# --- the service account with smtp-mkmbox behind a socket -------------------
chown -R "$SVC:$SVC" "$T/spool" "$T/svc"
sed -e "s|^log .*|log $T/svc/log|" "$T/conf" >"$T/svc.conf"
printf 'mkmbox_socket %s\n' "$T/mkmbox.sock" >>"$T/svc.conf"
sed -e "s|^log .*|log stderr|" "$T/svc.conf" >"$T/helper.conf"
chmod 644 "$T/svc.conf" "$T/helper.conf"
bg systemd-socket-activate -l "$T/mkmbox.sock" -a --inetd \
	-E "LD_PRELOAD=$LD_PRELOAD" -E "NSS_WRAPPER_PASSWD=$T/passwd" -E "NSS_WRAPPER_GROUP=$T/group" \
	-E NSS_WRAPPER_DISABLE_DEEPBIND=1 \
	-E "ASAN_OPTIONS=$ASAN_OPTIONS" -E "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" \
	"$BIN/smtp-mkmbox" -c "$T/helper.conf" 2>>"$T/mkmbox.log"
for i in $(seq 200); do [ -S "$T/mkmbox.sock" ] && break; sleep 0.05; done
chgrp "$SVC" "$T/mkmbox.sock" && chmod 660 "$T/mkmbox.sock"     # as smtp-mkmbox.socket
# svc RCPT - one message through smtp-session run as the service account.
svc() {
	printf 'EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<%s>\r\nDATA\r\n\r\nhello %s\r\n.\r\nQUIT\r\n' "$2" "$2" |
		setpriv --reuid=$SVC --regid=$SVC --groups=$MAILGID "$BIN/smtp-session" -c "$1" |
		tr -d '\r' >"$T/replies"
}
svc "$T/svc.conf" xena@test.example
check "service account: accepted" grep -q '^250 2.0.0 Ok' "$T/replies"
expect_eq "service account: smtp-mkmbox made xena's mailbox (owner, group mail, 0660)" \
	"$(owner "$T/varmail/xena")" "50005:$MAILGID 660"
check "service account: delivered into it" has xena xena@test.example
check "smtp-mkmbox logged it" grep -q 'created mailbox .*/xena (owner xena, group mail, mode 0660)' "$T/mkmbox.log"
got=$(printf 'nosuchuser\n' | "$BIN/smtp-mkmbox" -c "$T/svc.conf" 2>/dev/null)
expect_eq "smtp-mkmbox: a name that is no account" "$got" "no such account"
got=$(printf '../etc/passwd\n' | "$BIN/smtp-mkmbox" -c "$T/svc.conf" 2>/dev/null)
expect_eq "smtp-mkmbox: a path is no name" "$got" "no such account"
sed -e '/^users /d' -e '/^aliases /d' "$T/svc.conf" >"$T/virt.conf"
printf 'users %s\n' "$T/aliases" >>"$T/virt.conf"
got=$(printf 'sam\n' | "$BIN/smtp-mkmbox" -c "$T/virt.conf" 2>/dev/null; echo " rc=$?")
expect_eq "smtp-mkmbox refuses to work without users system" "$got" "error not users system
 rc=78"

# --- no helper: the copy waits; relay-agent's root child makes the mailbox -
sed -e "s|^mkmbox_socket .*|mkmbox_socket $T/no-helper.sock|" "$T/svc.conf" >"$T/nohelper.conf"
chmod 644 "$T/nohelper.conf"
svc "$T/nohelper.conf" yuri@test.example
check "no helper: accepted all the same" grep -q '^250 2.0.0 Ok' "$T/replies"
check "no helper: yuri's mailbox does not exist yet" test ! -e "$T/varmail/yuri"
check "no helper: logged as missing" grep -q "mailbox $T/varmail/yuri is missing: no mailbox helper at" "$T/svc/log"
printf 'nameserver 127.0.0.1:1\ndns_timeout 2s\nsmarthost 127.0.0.1:1\nconnect_timeout 2s\n' >>"$T/nohelper.conf"
"$BIN/relay-agent" -c "$T/nohelper.conf"
expect_eq "relay-agent as root: its child made yuri's mailbox" "$(owner "$T/varmail/yuri")" "50006:$MAILGID 660"
check "relay-agent as root: the waiting copy is delivered" has yuri yuri@test.example
expect_eq "relay-agent dropped to the service account: the envelopes it rewrote are the account's" \
	"$(stat -c %u "$T"/spool/env/* | sort -u)" "$SVC"
check "relay-agent: the copy's recipient is done" \
	bash -c "! grep -h '^rcpt pending' '$T'/spool/env/* 2>/dev/null | grep -q 'yuri'"

# --- newaliases ---------------------------------------------------------
"$BIN/sendmail" -C "$T/conf" -bi 2>"$T/bi.err"
expect_eq "newaliases on the aliases file: exit 0" "$?" 0
check "newaliases prints the unsupported target as a warning" \
	grep -q "^warning: $T/aliases:4: alias \"prog\": |command targets" "$T/bi.err"
cp "$T/aliases" "$T/aliases.bad"
printf 'bad line without colon\nok2: sam\n.x: sam\n' >>"$T/aliases.bad"
sed "s|^aliases .*|aliases $T/aliases.bad|" "$T/conf" >"$T/bad.conf"
"$BIN/sendmail" -C "$T/bad.conf" -bi 2>"$T/bi.bad"
expect_eq "newaliases on an aliases file with broken entries: exit 0 (warnings)" "$?" 0
check "newaliases names every broken entry by file and line" \
	bash -c "grep -q '^warning: $T/aliases.bad:9: ' '$T/bi.bad' && grep -q '^warning: $T/aliases.bad:11: bad name' '$T/bi.bad'"
expect_eq "broken entries in the aliases file do not refuse the session" \
	"$(printf 'QUIT\r\n' | "$BIN/smtp-session" -c "$T/bad.conf" 2>/dev/null | tr -d '\r' | cut -c1-9 | head -n 1)" "220 mx.te"
