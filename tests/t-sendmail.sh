#!/bin/bash
# t-sendmail.sh - sendmail through the local submission socket, run as an
# unprivileged user (nobody) against smtp-session served on an AF_UNIX
# socket by systemd-socket-activate: the uid in Received: and the log,
# -t with Bcc:, -f, -F, -i and the lone dot, the headers it adds, CRLF
# and 8-bit input, long lines, a last line without its LF, NUL octets,
# an unknown local user (67, nothing sent), hostname and localhost as
# local domains, -bs, -bp / mailq, -q, -bi / newaliases, usage errors.
. "$(dirname "$0")/lib.sh"
plan 56

write_conf "submit_socket $T/submit.sock"
chmod 644 "$T/conf" "$T/users"

# as_nobody CMD... - CMD as uid/gid 65534 with no other group.
# sm ARGS... - our sendmail as nobody, with this test's configuration.
sm() { as_nobody "$BIN/sendmail" -C "$T/conf" "$@"; }
# box USER - the mbox of USER.
box() { cat "$T/mail/$1" 2>/dev/null; }
# nmsgs USER - how many messages USER's mbox holds.
nmsgs() { grep -c '^From ' "$T/mail/$1" 2>/dev/null || true; }

bg systemd-socket-activate -l "$T/submit.sock" -a --inetd \
	-E "ASAN_OPTIONS=${ASAN_OPTIONS:-}" -E "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" \
	"$BIN/smtp-session" -c "$T/conf" 2>>"$T/activator.log"
for i in $(seq 200); do [ -S "$T/submit.sock" ] && break; sleep 0.05; done
chmod 666 "$T/submit.sock"      # SocketMode=0666, as smtp-local.socket
check "the submission socket listens" test -S "$T/submit.sock"

# --- a plain message from an unprivileged user ---------------------------
printf 'Subject: plain\n\nHello from nobody.\n' | sm alice
expect_eq "exit 0" "$?" 0
check "alice has it" grep -q '^Hello from nobody\.$' "$T/mail/alice"
check "Received: names the user by uid and name" \
	bash -c "grep -A1 '^Received: from ' '$T/mail/alice' | tr -d '\n' | grep -q '(userid 65534 (nobody))'"
check "log: connect names uid and user" grep -q 'connect from \[127.0.0.1\] uid=65534 user=<nobody>' "$T/log"
check "the sender is nobody at the first domain" grep -q '^Return-Path: <nobody@test.example>$' "$T/mail/alice"
check "From:, Date: and Message-ID: added" \
	bash -c "grep -q '^From: nobody <nobody@test.example>$' '$T/mail/alice' &&
		grep -q '^Date: ' '$T/mail/alice' && grep -q '^Message-ID: <.*@mx.test.example>$' '$T/mail/alice'"

# --- -t with Cc and Bcc, -f, -F ------------------------------------------
printf 'To: Bob Example <bob@test.example>\nCc: "Carol, C." <carol>, (no one)\nBcc: team@test.example\nSubject: extract\n\nTo all.\n' |
	sm -t -f sender@remote.example -F 'Nobody Special'
expect_eq "-t: exit 0" "$?" 0
check "-t: bob, carol and the Bcc alias (alice, bob) have it" \
	bash -c "grep -q '^To all' '$T/mail/bob' && grep -q '^To all' '$T/mail/carol' &&
		grep -q '^To all' '$T/mail/alice'"
expect_eq "-t: bob got one copy (To: and the Bcc alias)" "$(grep -c '^To all' "$T/mail/bob")" 1
check "-t: Bcc: is gone from every copy" bash -c "! grep -qi '^Bcc:' '$T/mail/bob' '$T/mail/carol' '$T/mail/alice'"
check "-f: the envelope sender" grep -q '^Return-Path: <sender@remote.example>$' "$T/mail/carol"
check "-F: the full name in the added From:" grep -q '^From: Nobody Special <sender@remote.example>$' "$T/mail/carol"

printf 'From: Me <me@test.example>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <given@x>\nSubject: kept\n\nmine\n' | sm carol
check "present From:, Date:, Message-ID: are not added again" \
	bash -c "[ \$(grep -c '^From: ' '$T/mail/carol') = 2 ] && [ \$(grep -c '^Message-ID: ' '$T/mail/carol') = 2 ] &&
		grep -q '^Message-ID: <given@x>$' '$T/mail/carol'"

# --- the lone dot, -i, dot lines -----------------------------------------
printf 'Subject: dot\n\nbefore\n.\nafter the dot\n' | sm bob
check "without -i a lone dot ends the message" \
	bash -c "grep -q '^before$' '$T/mail/bob' && ! grep -q 'after the dot' '$T/mail/bob'"
printf 'Subject: dot -i\n\nfirst\n.\n..two\n.x\nlast\n' | sm -i bob
check "-i: the lone dot is text" bash -c "grep -A8 '^Subject: dot -i' '$T/mail/bob' | grep -qx '\.'"
check "-i: dot lines arrive unchanged" bash -c "grep -qx '\.\.two' '$T/mail/bob' && grep -qx '\.x' '$T/mail/bob' && grep -qx last '$T/mail/bob'"
printf 'Subject: dot -oi\n\nx\n.\ny-oi\n' | sm -oi bob
check "-oi is -i" grep -qx 'y-oi' "$T/mail/bob"

# --- input forms --------------------------------------------------------
printf 'From someone@example.org Mon Jan  1 00:00:00 2024\r\nSubject: crlf\r\n\r\nline one\r\nline two\r\n' | sm carol
check "CRLF input stored with LF only" bash -c "grep -q '^line two$' '$T/mail/carol' && ! grep -q \$'\\r' '$T/mail/carol'"
check "a leading mbox From line is removed" bash -c "! grep -q 'someone@example.org' '$T/mail/carol'"
printf 'Subject: 8bit\n\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\n' | sm carol
check "8-bit text intact" grep -q $'^Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln$' "$T/mail/carol"
$PY -c 'import sys; sys.stdout.write("Subject: long\n\n" + "y" * 5000 + "\nno newline at the end")' | sm carol
check "a 5000-octet line intact" bash -c "grep -qx 'y\{5000\}' '$T/mail/carol'"
check "a last line without its LF arrives" grep -qx 'no newline at the end' "$T/mail/carol"
printf 'no header at all\nsecond\n' | sm carol
check "a message without a header gets one, then an empty line, then the text" \
	bash -c "grep -B1 -x 'no header at all' '$T/mail/carol' | head -n 1 | grep -qx ''"
before=$(nmsgs alice)
printf 'Subject: nul\n\nbad\0octet\n' | sm alice 2>"$T/err.nul"
expect_eq "a NUL octet: exit 65" "$?" 65
check "a NUL octet: a clear error" grep -q 'NUL' "$T/err.nul"
expect_eq "a NUL octet: nothing stored" "$(nmsgs alice)" "$before"
$PY -c 'import sys; sys.stdout.write("X-Big: " + "z" * 70 + "\n" * 1 + "".join("X-H%d: %s\n" % (i, "z" * 60) for i in range(20000)) + "\nbody\n")' |
	sm alice 2>"$T/err.big"
expect_eq "a header section over the limit: exit 65" "$?" 65
check "a header section over the limit: said so" grep -q 'header section is longer than' "$T/err.big"

# --- recipients -----------------------------------------------------------
before=$(nmsgs alice)
printf 'Subject: unknown\n\nx\n' | sm alice nosuch@test.example 2>"$T/err.unknown"
expect_eq "unknown local user: exit 67" "$?" 67
check "unknown local user: the address and the reply on stderr" \
	grep -q '<nosuch@test.example>: 550 5.1.1' "$T/err.unknown"
expect_eq "unknown local user: nothing sent to the others" "$(nmsgs alice)" "$before"
printf 'Subject: names\n\nto the host names\n' | sm alice@localhost bob@MX.TEST.EXAMPLE carol
check "localhost, hostname and a bare name are local" \
	bash -c "grep -q 'to the host names' '$T/mail/alice' && grep -q 'to the host names' '$T/mail/bob' &&
		grep -q 'to the host names' '$T/mail/carol'"
check "a bare name gets the first domain" grep -q '^Delivered-To: carol@test.example$' "$T/mail/carol"
printf 'Subject: foreign\n\nout\n' | sm friend@far.example
expect_eq "a local user may send to a foreign domain (queued)" "$(grep -l 'friend@far.example' "$T"/spool/env/* 2>/dev/null | wc -l)" 1
printf 'x\n' | sm 'bad address@' 2>/dev/null
expect_eq "a bad recipient address: exit 65" "$?" 65
printf 'x\n' | sm 2>/dev/null
expect_eq "no recipient: exit 64" "$?" 64
printf 'Subject: none\n\nx\n' | sm -t 2>/dev/null
expect_eq "-t without any recipient: exit 65" "$?" 65
sm -Z alice </dev/null 2>/dev/null
expect_eq "an unknown option: exit 64" "$?" 64
printf 'Subject: ignored options\n\nok\n' | sm -oem -N never -R hdrs -B 8BITMIME -v -bm alice 2>"$T/err.v"
expect_eq "-oem -N -R -B -bm -v accepted" "$?" 0
check "-v shows the dialogue" grep -q '^<<< 250 2.0.0 Ok: queued as' "$T/err.v"
expect_eq "-V prints the version" "$(sm -V)" "sendmail 1.0"

# --- -bs ------------------------------------------------------------------
got=$(printf 'EHLO me\r\nMAIL FROM:<nobody@test.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nSubject: bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n' |
	sm -bs | tr -d '\r' | grep -E '^[0-9]{3} ' | cut -c1-3 | tr '\n' ' ')
expect_eq "-bs: SMTP relayed to the socket" "$got" "220 250 250 250 354 250 221 "
check "-bs: delivered, named by uid" \
	bash -c "grep -B2 -A8 '^Subject: bs' '$T/mail/bob' | grep -q 'via -bs' &&
		grep -A1 'Received: from me' '$T/mail/bob' | tr -d '\n' | grep -q 'userid 65534'"
sed "s|^submit_socket .*|submit_socket $T/none.sock|" "$T/conf" >"$T/nosock.conf"
chmod 644 "$T/nosock.conf"
printf 'QUIT\r\n' | as_nobody "$BIN/sendmail" -C "$T/nosock.conf" -bs >/dev/null 2>&1
expect_eq "-bs without a socket: exit 75" "$?" 75

# --- the queue: -bp, mailq, -q ----------------------------------------------
# As the spool's owner (tests/unpriv): relay-agent, which -bp runs,
# refuses root on a spool of root's.
"$TOP/tests/unpriv" "$BIN/sendmail" -C "$T/conf" -bp >"$T/bp.out" 2>&1
expect_eq "-bp as the spool's owner: exit 0" "$?" 0
check "-bp lists the queued message" grep -q '<friend@far.example>' "$T/bp.out"
ln -s "$BIN/sendmail" "$T/mailq"
"$TOP/tests/unpriv" "$T/mailq" -C "$T/conf" >"$T/mailq.out" 2>&1
# The age column may have turned a second between the two listings.
age() { sed -E 's/ [0-9]+[smhd] / AGE /' "$1"; }
expect_eq "mailq is sendmail -bp" "$(age "$T/mailq.out")" "$(age "$T/bp.out")"
sm -bp >/dev/null 2>"$T/bp.err"
expect_eq "-bp as nobody: exit 77" "$?" 77
check "-bp as nobody: a clear message" grep -q 'for root and the mail system' "$T/bp.err"
sm -q >/dev/null 2>&1
expect_eq "-q as nobody: exit 77" "$?" 77

# --- -bi / newaliases -------------------------------------------------------
"$BIN/sendmail" -C "$T/conf" -bi
expect_eq "-bi on a good users file: exit 0" "$?" 0
ln -s "$BIN/sendmail" "$T/newaliases"
cp "$T/users" "$T/users.good"
printf 'bad name!\n' >>"$T/users"
"$T/newaliases" -C "$T/conf" 2>"$T/bi.err"
expect_eq "newaliases on a broken users file: exit 78" "$?" 78
check "newaliases names the file and line" grep -q "^$T/users:7: bad name" "$T/bi.err"
cp "$T/users.good" "$T/users"

# --- an unreadable configuration ---------------------------------------------
chmod 600 "$T/nosock.conf"
printf 'x\n' | as_nobody "$BIN/sendmail" -C "$T/nosock.conf" alice >/dev/null 2>"$T/err.noconf"
expect_eq "unreadable configuration and nothing reachable: exit 75" "$?" 75
check "... and only then it says it used the defaults" grep -q 'used the defaults' "$T/err.noconf"
