#!/bin/bash
# t-forward-private.sh - "users system" on homes made as Debian's adduser
# makes them (0700): ~/.forward is read with its user's identity. A
# session run as the service account asks the mailbox helper
# (smtp-mkmbox behind a socket), whose child becomes the user; a session
# run as root reads it in a child that becomes the user (so a file the
# user cannot reach is not used); with no helper the address waits in the
# queue and relay-agent's root child reads it. The helper's own answers;
# a password database that cannot be read is a temporary failure (451 at
# RCPT, "error" from the helper), never "no such user". Accounts come from
# nss_wrapper: nothing of this machine is touched.
. "$(dirname "$0")/lib.sh"
plan 20

[ -n "$NSSLIB" ] || nok "libnss-wrapper is installed"
SVC=64001
MAILGID=8
mkdir -p "$T/home" "$T/varmail" "$T/spool" "$T/svc"
cat >"$T/passwd" <<-EOF
	root:x:0:0:root:/root:/bin/bash
	sam:x:50001:50001:Sam:$T/home/sam:/bin/sh
	tess:x:50002:50002:Tess:$T/home/tess:/bin/sh
	uma:x:50003:50003:Uma:$T/home/uma:/bin/sh
	vera:x:50004:50004:Vera:$T/home/vera:/bin/sh
	vmail:x:$SVC:$SVC::/nonexistent:/usr/sbin/nologin
EOF
system_mail_host
chmod 755 "$T/home"
# home USER UID TEXT - a 0700 home of its own with a .forward (0644).
home() {
	mkdir -p "$T/home/$1"
	printf '%s\n' "$3" >"$T/home/$1/.forward"
	chown -R "$2:$2" "$T/home/$1"
	chmod 700 "$T/home/$1"
	chmod 644 "$T/home/$1/.forward"
}
home sam 50001 "sam-out@far.example"
home tess 50002 "tess-out@far.example"
home vera 50004 "vera-out@far.example"
chmod 664 "$T/home/vera/.forward"        # group-writable: not used
# uma's .forward sits in a home of root's that uma cannot search: only
# root could read it, and it must not be used.
mkdir -p "$T/home/uma"
printf 'uma-out@far.example\n' >"$T/home/uma/.forward"
chown 50003:50003 "$T/home/uma/.forward" && chmod 644 "$T/home/uma/.forward"
chown root:root "$T/home/uma" && chmod 700 "$T/home/uma"
cat >"$T/conf" <<-EOF
	hostname mx.test.example
	domain test.example
	users system
	aliases $T/aliases
	mailbox_dir $T/varmail
	spool_dir $T/spool
	log $T/svc/log
	mkmbox_socket $T/mkmbox.sock
	nameserver 127.0.0.1:1
	dns_timeout 2s
	smarthost 127.0.0.1:1
	connect_timeout 2s
EOF
printf 'postmaster: root\n' >"$T/aliases"
chmod 644 "$T/conf" "$T/aliases"
chown -R "$SVC:$SVC" "$T/spool" "$T/svc"
sed -e "s|^log .*|log stderr|" "$T/conf" >"$T/helper.conf"
chmod 644 "$T/helper.conf"

# send CONF AS RCPT - one message to RCPT through smtp-session run AS
# (root or svc); replies in $T/replies.
send() {
	local run=()
	[ "$2" = svc ] && run=(setpriv --reuid=$SVC --regid=$SVC --groups=$MAILGID)
	printf 'EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<%s>\r\nDATA\r\n\r\nhello %s\r\n.\r\nQUIT\r\n' "$3" "$3" |
		"${run[@]}" "$BIN/smtp-session" -c "$1" 2>>"$T/session.err" | tr -d '\r' >"$T/replies"
}
# queued ADDR [STATE] - whether a queued envelope has ADDR as a recipient
# (its address as expanded), in STATE if given.
queued() {
	cat "$T"/spool/env/* 2>/dev/null |
		awk -F'\t' -v a="$1" -v s="${2:-}" '/^rcpt / && $6 == a && (s == "" || $1 == "rcpt " s) { f = 1 }
			END { exit !f }'
}
has() { grep -q "^hello $2" "$T/varmail/$1" 2>/dev/null; }

# --- the service account and the helper ------------------------------------
bg systemd-socket-activate -l "$T/mkmbox.sock" -a --inetd \
	-E "LD_PRELOAD=$LD_PRELOAD" -E "NSS_WRAPPER_PASSWD=$T/passwd" -E "NSS_WRAPPER_GROUP=$T/group" \
	-E NSS_WRAPPER_DISABLE_DEEPBIND=1 \
	-E "ASAN_OPTIONS=$ASAN_OPTIONS" -E "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" \
	"$BIN/smtp-mkmbox" -c "$T/helper.conf" 2>>"$T/mkmbox.log"
for i in $(seq 200); do [ -S "$T/mkmbox.sock" ] && break; sleep 0.05; done
chgrp "$SVC" "$T/mkmbox.sock" && chmod 660 "$T/mkmbox.sock"     # as smtp-mkmbox.socket
send "$T/conf" svc sam@test.example
check "service account, 0700 home: accepted" grep -q '^250 2.0.0 Ok' "$T/replies"
check "service account, 0700 home: the helper read sam's .forward (queued for sam-out@far.example)" \
	queued sam-out@far.example
check "service account, 0700 home: nothing in sam's mailbox" test ! -s "$T/varmail/sam"
check "service account: no .forward read was refused (no EACCES logged)" \
	bash -c "! grep -q 'Permission denied' '$T/svc/log'"

# --- the helper's answers ---------------------------------------------------
helper() { printf '%s\n' "$1" | "$BIN/smtp-mkmbox" -c "$T/helper.conf" 2>/dev/null; }
expect_eq "helper: forward sam answers ok and the file" "$(helper 'forward sam')" "ok 20
sam-out@far.example"
expect_eq "helper: forward of a group-writable .forward: ignored" "$(helper 'forward vera')" \
	"ignored not a plain file owned by vera and writable by it only"
expect_eq "helper: forward of a file the user cannot reach: ignored" "$(helper 'forward uma')" \
	"ignored Permission denied"
expect_eq "helper: forward of no account" "$(helper 'forward nosuch')" "no such account"
expect_eq "helper: forward of a path is no account" "$(helper 'forward ../etc')" "no such account"

# --- root reads it as the user -------------------------------------------------
sed -e "s|^log .*|log $T/root.log|" "$T/conf" >"$T/root.conf"
chown -R root:root "$T/spool"
send "$T/root.conf" root tess@test.example
check "root, 0700 home: tess's .forward is used" queued tess-out@far.example
send "$T/root.conf" root uma@test.example
check "root: a .forward only root could reach is not used: uma's own mailbox" has uma uma@test.example
check "root: ... and it is not forwarded" bash -c "! grep -rq 'uma-out@far.example' '$T/spool/env'"
check "root: logged as ignored, as the user saw it" \
	grep -q "$T/home/uma/.forward: Permission denied: ignored" "$T/root.log"

# --- no helper: the address waits; relay-agent's root child reads it ----------
rm -rf "$T/spool"/*
chown -R "$SVC:$SVC" "$T/spool"
sed -e "s|^mkmbox_socket .*|mkmbox_socket $T/no-helper.sock|" "$T/conf" >"$T/nohelper.conf"
chmod 644 "$T/nohelper.conf"
send "$T/nohelper.conf" svc sam@test.example
check "no helper: RCPT accepted all the same (250 after DATA)" grep -q '^250 2.0.0 Ok' "$T/replies"
check "no helper: sam@test.example waits in the queue as it is" queued sam@test.example
check "no helper: logged" grep -q "home/sam/.forward: no mailbox helper at $T/no-helper.sock.*cannot be read now: \"sam\" waits" "$T/svc/log"
"$BIN/relay-agent" -c "$T/nohelper.conf" 2>>"$T/relay.err"
check "relay-agent as root: its child read sam's .forward; sam-out@far.example is queued" \
	queued sam-out@far.example
if queued sam@test.example pending || ! grep -q ': to=<sam@test.example>, relay=local, .*status=sent' "$T/svc/log"; then
	nok "relay-agent: sam@test.example itself is done"
else
	ok "relay-agent: sam@test.example itself is done"
fi

# --- a password database that cannot be read ----------------------------------
cp "$T/passwd" "$T/passwd.closed" && chmod 600 "$T/passwd.closed"
printf 'EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<tess@test.example>\r\nQUIT\r\n' |
	NSS_WRAPPER_PASSWD=$T/passwd.closed setpriv --reuid=$SVC --regid=$SVC --groups=$MAILGID \
	"$BIN/smtp-session" -c "$T/conf" 2>/dev/null | tr -d '\r' >"$T/replies"
check "unreadable password database: 451 4.3.0 at RCPT, not 550" \
	grep -q '^451 4.3.0 <tess@test.example>: Temporary lookup failure' "$T/replies"
got=$(printf 'tess\n' | NSS_WRAPPER_PASSWD=$T/passwd.closed setpriv --reuid=$SVC --regid=$SVC \
	--clear-groups "$BIN/smtp-mkmbox" -c "$T/helper.conf" 2>/dev/null)
expect_eq "unreadable password database: the helper answers error, not no" "$got" "error cannot create it now"
