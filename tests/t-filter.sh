#!/bin/bash
# t-filter.sh - the content filter hook (key "filter"), with small
# filter scripts: what it is given (the stored text with our Received
# and without the dropped headers on stdin; the SMTP_* variables), every
# exit path (0 stores its output, the permanent codes refuse with 554
# 5.7.1 and its first stderr line, anything else, a signal, empty output
# or the timeout give 451 4.7.1), output over max_message_size (552), a
# filter that cannot change the envelope, and a 50 MiB message through
# it with the session's peak memory flat. A refused message leaves
# nothing anywhere.
. "$(dirname "$0")/lib.sh"
PERM="100 64 65 70 76 77 78 112"
TEMP="1 75 111"
plan $((6 + 2 + 8 * 2 + 3 * 2 + 2 + 2 + 3 + 3 + 3))

# filter NAME BODY - an executable filter script $T/NAME.
filter() { printf '#!/bin/sh\n%s\n' "$2" >"$T/$1"; chmod 755 "$T/$1"; }

# send [SUBJECT] - one message to alice and friend@far.example; prints
# the reply to the final dot.
send() {
	printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: %s\r\nBcc: hidden@far.example\r\n\r\nbody\r\n.\r\nQUIT\r\n' "${1:-test}" |
		timeout 60 "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep -A1 '^354' | tail -n 1
}
# nothing_left - no mbox, nothing queued, no staging file.
nothing_left() {
	[ -z "$(ls "$T/mail")" ] && [ -z "$(ls "$T/spool/env" "$T/spool/tmp" 2>/dev/null | grep -v ':$' | grep -v '^$')" ]
}
fresh() { rm -rf "$T/mail" "$T/spool"; mkdir -p "$T/mail" "$T/spool"; }

# --- a filter that passes the message, adding a header -------------------
filter pass "cat >$T/stdin.copy
for v in SMTP_AUTH_USER SMTP_CLIENT_ADDR SMTP_HELO SMTP_LOCAL_UID SMTP_QUEUE_ID SMTP_RECIPIENTS SMTP_SENDER; do
	printenv \$v >/dev/null && printf '%s=%s\\n' \$v \"\$(printenv \$v)\"
done >$T/env.out
printf 'X-Filtered: yes\r\n'
cat $T/stdin.copy"
write_conf "filter $T/pass"
fresh
got=$(send passed)
expect_eq "exit 0: the message is stored" "${got:0:9}" "250 2.0.0"
id=${got##* }
expect_eq "the filter's header and ours are in the mbox, the client's Bcc is not" \
	"$($PY - "$T/mail/alice" <<-'PY'
	import mailbox, sys
	m = list(mailbox.mbox(sys.argv[1]))[0]
	print(m["X-Filtered"], len(m.get_all("Received")), m["Bcc"], m["Subject"])
	PY
	)" "yes 1 None passed"
check "its stdin began with our Received header" grep -q '^Received: from c.example (\[127.0.0.1\])$' "$T/stdin.copy"
expect_eq "its environment" "$(cat "$T/env.out")" "SMTP_AUTH_USER=
SMTP_CLIENT_ADDR=127.0.0.1
SMTP_HELO=c.example
SMTP_QUEUE_ID=$id
SMTP_RECIPIENTS=alice@test.example
SMTP_SENDER=s@remote.example"
# A local process on an AF_UNIX socket: SMTP_LOCAL_UID is set, and
# SMTP_RECIPIENTS holds one address per line.
fresh
$PY - "$BIN/smtp-session" "$T/conf" "$T/submit.sock" <<'PY' >"$T/unix.out"
import socket, subprocess, sys
# A connection to a socket bound to a path, as the submission socket's
# (a socketpair is no local process: socat hands one for a TCP client).
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[3])
srv.listen(1)
a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
a.connect(sys.argv[3])
b, _ = srv.accept()
srv.close()
p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], stdin=b, stdout=b)
b.close()
a.sendall(b"EHLO localhost\r\nMAIL FROM:<>\r\nRCPT TO:<alice@test.example>\r\n"
          b"RCPT TO:<friend@far.example>\r\nDATA\r\nSubject: local\r\n\r\nx\r\n.\r\nQUIT\r\n")
a.settimeout(30)
got = b""
while True:
    d = a.recv(65536)
    if not d:
        break
    got += d
p.wait(timeout=30)
print("250 2.0.0" if b"\r\n250 2.0.0" in got else got)
PY
expect_eq "local submission: stored" "$(cat "$T/unix.out")" "250 2.0.0"
expect_eq "local submission: SMTP_LOCAL_UID, both recipients, empty sender" \
	"$(grep -E '^SMTP_(LOCAL_UID|SENDER|RECIPIENTS)|far.example' "$T/env.out")" "SMTP_LOCAL_UID=$(id -u)
SMTP_RECIPIENTS=alice@test.example
friend@far.example
SMTP_SENDER="

# --- it cannot change the envelope; it may replace the text --------------
filter replace "printf 'To: other@far.example\nSubject: replaced\n\nnew text\n'"
write_conf "filter $T/replace"
fresh
expect_eq "a filter that never reads its stdin: its output is stored" "$(send orig | cut -c1-9)" "250 2.0.0"
expect_eq "the envelope is the session's: alice got the replaced text, nothing queued" \
	"$(grep -c 'new text' "$T/mail/alice"; ls "$T/spool/env" 2>/dev/null | wc -l)" "1
0"

# --- the exit codes ------------------------------------------------------
filter bycode 'code=$(sed -n "s/^Subject: code //p" | tr -d "\r")
echo "Refused by the filter with $code: it is spam; score=12.5" >&2
echo "a second line" >&2
exit $code'
write_conf "filter $T/bycode"
for c in $PERM; do
	fresh
	expect_eq "exit $c: 554 5.7.1 with the first line of its stderr" "$(send "code $c")" \
		"554 5.7.1 Refused by the filter with $c: it is spam; score=12.5"
	check "exit $c: nothing stored" nothing_left
done
for c in $TEMP; do
	fresh
	expect_eq "exit $c: 451 4.7.1" "$(send "code $c")" "451 4.7.1 Content filter failed, try again later"
	check "exit $c: nothing stored" nothing_left
done
filter dies 'cat >/dev/null; kill -SEGV $$'
write_conf "filter $T/dies"
fresh
expect_eq "a filter that dies of a signal: 451 4.7.1" "$(send)" "451 4.7.1 Content filter failed, try again later"
check "... nothing stored" nothing_left
filter empty 'cat >/dev/null; exit 0'
write_conf "filter $T/empty"
fresh
expect_eq "exit 0 with empty output is a filter fault: 451 4.7.1" "$(send)" "451 4.7.1 Content filter failed, try again later"
check "... nothing stored" nothing_left

# --- a filter that exits 0 leaving a child that holds its stdout -----------
filter hang "cat >/dev/null
printf 'Subject: x\n\ny\n'
sleep 300 &
echo \$! >$T/child.pid
exit 0"
write_conf "filter $T/hang" "filter_timeout 2s"
fresh
expect_eq "it exits 0, its child keeps stdout open: its verdict counts at once, 250" \
	"$(send | sed 's/queued as .*/queued/')" "250 2.0.0 Ok: queued"
check "... alice's mbox holds what it printed" grep -qx 'Subject: x' "$T/mail/alice"
dead() {   # dead PID - gone or a zombie, within 5 s
	for _ in $(seq 100); do
		[ -e "/proc/$1" ] || return 0
		grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
check "its process group was killed (the child holding stdout is gone)" dead "$(cat "$T/child.pid")"

# --- output over max_message_size ------------------------------------------
filter big 'cat >/dev/null; printf "Subject: big\r\n\r\n"; yes 0123456789abcdefghijklmnopqrstuvwxyz012345678901234567890123456789 | head -n 1000'
write_conf "filter $T/big" "max_message_size 20000"
fresh
expect_eq "output over max_message_size: 552 5.3.4" "$(send)" "552 5.3.4 Message size exceeds fixed limit"
check "... nothing stored" nothing_left
# A message of exactly max_message_size through cat passes: our own
# Received header, which the filter was given, is not counted.
filter cat 'exec cat'
write_conf "filter $T/cat" "max_message_size 1000"
fresh
expect_eq "a message of exactly max_message_size through cat is stored" \
	"$({ printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\n'
	     for i in $(seq 10); do printf '%098d\r\n' 0; done; printf '.\r\nQUIT\r\n'; } |
	   "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep -A1 '^354' | tail -n 1 | cut -c1-9)" "250 2.0.0"

# --- a 50 MiB message: the session's memory stays flat -----------------------
write_conf "filter $T/cat" "max_message_size 62914560"
cat >"$T/hwm.py" <<'PY'
import os, select, subprocess, sys, time
prog, conf, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = subprocess.Popen([prog, "-c", conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
p.stdin.write(b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\n"
              b"Subject: huge\r\n\r\n")
line = b"x" * 1022 + b"\r\n"
for _ in range(mib * 1024):
    p.stdin.write(line)
p.stdin.write(b".\r\n")
buf = b""
end = time.time() + 300
while b"\r\n250 2.0.0" not in buf and b"\r\n4" not in buf and b"\r\n5" not in buf and time.time() < end:
    r, _, _ = select.select([p.stdout], [], [], 1)
    if r:
        buf += os.read(p.stdout.fileno(), 65536)
hwm = [l for l in open("/proc/%d/status" % p.pid) if l.startswith("VmHWM")][0].split()[1]
p.stdin.write(b"QUIT\r\n"); p.stdin.close(); p.wait(timeout=60)
print("250" if b"\r\n250 2.0.0" in buf else "no 250", hwm)
PY
fresh
small=$(timeout 400 $PY "$T/hwm.py" "$BIN/smtp-session" "$T/conf" 0)
fresh
huge=$(timeout 400 $PY "$T/hwm.py" "$BIN/smtp-session" "$T/conf" 50)
expect_eq "a 50 MiB message through the filter is stored" "${huge% *}" "250"
check "the session's peak memory grows by less than 16 MiB for it (${small#* } KiB -> ${huge#* } KiB)" \
	test "$((${huge#* } - ${small#* }))" -lt 16384
check "the mbox holds the 50 MiB message (51200 lines of 1023 octets stored)" \
	test "$(stat -c %s "$T/mail/alice")" -gt $((51200 * 1023))
