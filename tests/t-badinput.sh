#!/bin/bash
# t-badinput.sh - hostile input: line limits, NUL and bare CR in commands,
# every SMTP smuggling variant, NUL in DATA, long lines, 101 recipients,
# the idle timeout, slow clients and memory that stays flat.
. "$(dirname "$0")/lib.sh"
write_conf

# raw BYTES - send printf-style BYTES as they are; replies without CR.
raw() { printf "$1" | "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | mask; }
hello='EHLO c.example\r\n'
ehlo_reply='220 mx.test.example ESMTP ready
250-mx.test.example
250-PIPELINING
250-SIZE 26214400
250-8BITMIME
250 ENHANCEDSTATUSCODES'

# --- command line limits: 512 octets with CRLF, 1000 for MAIL/RCPT
n510="NOOP $(head -c 505 /dev/zero | tr '\0' y)"   # 510 octets + CRLF = 512
n511="NOOP $(head -c 506 /dev/zero | tr '\0' y)"
got=$(raw "${n510}\r\n${n511}\r\nQUIT\r\n")
expect_eq "512-octet command accepted, 513 refused" "$got" "220 mx.test.example ESMTP ready
250 2.0.0 Ok
500 5.5.2 Error: line too long
221 2.0.0 Bye"

# MAIL FROM:<a@remote.example> + blanks + SIZE=1: 998 octets + CRLF = 1000
sp=$(printf '%*s' 964 '')
got=$(raw "${hello}MAIL FROM:<a@remote.example>${sp}SIZE=1\r\nRSET\r\nMAIL FROM:<a@remote.example>${sp} SIZE=1\r\nQUIT\r\n")
expect_eq "MAIL line of 1000 octets accepted, 1001 refused" "$got" "$ehlo_reply
250 2.1.0 Ok
250 2.0.0 Ok
500 5.5.2 Error: line too long
221 2.0.0 Bye"

long=$(head -c 20000 /dev/zero | tr '\0' a)
got=$(raw "${long}\r\nNOOP\r\nQUIT\r\n")
expect_eq "a 20000-octet line is refused whole and the session goes on" "$got" "220 mx.test.example ESMTP ready
500 5.5.2 Error: line too long
250 2.0.0 Ok
221 2.0.0 Bye"

addr300=$(head -c 300 /dev/zero | tr '\0' b)
got=$(raw "${hello}MAIL FROM:<${addr300}@remote.example>\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<${addr300:0:65}@test.example>\r\nQUIT\r\n")
expect_eq "overlong addresses and local parts refused" "$got" "$ehlo_reply
501 5.5.4 Sender address too long
250 2.1.0 Ok
501 5.5.4 Recipient address too long
221 2.0.0 Bye"

# --- NUL and bare CR in commands; a bare LF ends a command
got=$(raw "NO\0OP\r\nNOOP\rNOOP\r\nNOOP\nQUIT\r\n")
expect_eq "NUL and bare CR in a command get 500 5.5.2; LF alone ends a line" "$got" "220 mx.test.example ESMTP ready
500 5.5.2 Error: bare CR or NUL in command
500 5.5.2 Error: bare CR or NUL in command
250 2.0.0 Ok
221 2.0.0 Bye"

# --- SMTP smuggling: only <CRLF>.<CRLF> ends DATA
envelope="${hello}MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: smuggle\r\n\r\nbefore"
smuggled="MAIL FROM:<evil@remote.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n"
i=0
for seq in '\n.\n' '\r.\r' '\r.\n' '\n.\r' '\n.\r\n' '\r\n.\n' '\r.\r\n' '\r\n.\r'; do
	i=$((i + 1))
	rm -rf "$T/mail"/* "$T/spool"
	got=$(raw "${envelope}${seq}${smuggled}\r\n.\r\nQUIT\r\n")
	expect_eq "smuggling variant $i ($seq): one message only" "$got" "$ehlo_reply
250 2.1.0 Ok
250 2.1.5 Ok
354 End data with <CR><LF>.<CR><LF>
250 2.0.0 Ok: queued as ID
221 2.0.0 Bye"
	check "smuggling variant $i: nothing for bob" test ! -e "$T/mail/bob"
	check "smuggling variant $i: the smuggled text is message text" \
		grep -qa 'MAIL FROM:<evil@remote.example>' "$T/mail/alice"
done
rm -rf "$T/mail"/* "$T/spool"
got=$(raw "${envelope}\r\n\0.\r\n${smuggled}\r\n.\r\nQUIT\r\n")
expect_eq "smuggling with NUL (\\\\r\\\\n\\\\0.\\\\r\\\\n): refused whole after the end" "$got" "$ehlo_reply
250 2.1.0 Ok
250 2.1.5 Ok
354 End data with <CR><LF>.<CR><LF>
554 5.6.0 Message contains NUL characters
221 2.0.0 Bye"
check "NUL message: no mailbox written" test ! -e "$T/mail/alice" -a ! -e "$T/mail/bob"
expect_eq "NUL message: no staging file left" "$(ls "$T/spool/tmp")" ""

# bare LF line ends are taken as CRLF; bare CRs are kept
rm -rf "$T/mail"/*
raw "${hello}MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\nSubject: lf\n\nline one\nline\rtwo\r\n.\r\nQUIT\r\n" >/dev/null
expect_eq "bare LF taken as a line end, bare CR kept" "$(tail -n 3 "$T/mail/alice" | od -c | head -n 2 | sed 's/  */ /g')" \
	"$(printf 'line one\nline\rtwo\n\n' | od -c | head -n 2 | sed 's/  */ /g')"

# --- lines longer than 998 octets are stored unchanged
rm -rf "$T/mail"/*
big=$(head -c 100000 /dev/zero | tr '\0' L)
raw "${hello}MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: long\r\n\r\n${big}\r\n.\r\nQUIT\r\n" >/dev/null
check "a 100000-octet line is stored unchanged" grep -qx "$big" "$T/mail/alice"

# --- 101 recipients: the 101st gets 452 4.5.3
{
	printf 'EHLO c.example\r\nMAIL FROM:<a@remote.example>\r\n'
	for i in $(seq 1 101); do printf 'RCPT TO:<alice+%d@test.example>\r\n' "$i"; done
	printf 'QUIT\r\n'
} | "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' >"$T/out"
expect_eq "100 recipients accepted" "$(grep -c '^250 2.1.5' "$T/out")" "100"
expect_eq "the 101st gets 452 4.5.3" "$(grep '^452' "$T/out")" "452 4.5.3 Error: too many recipients"

# --- a message over the limit without SIZE=: read to the end, then 552
write_conf "max_message_size 2000"
rm -rf "$T/mail"/*
body=$(head -c 3000 /dev/zero | tr '\0' x)
got=$(raw "${hello}MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\n${body}\r\n.\r\nNOOP\r\nQUIT\r\n" | tail -n 4)
expect_eq "oversize without SIZE: 552 5.3.4 after the data, session goes on" "$got" "354 End data with <CR><LF>.<CR><LF>
552 5.3.4 Message size exceeds fixed limit
250 2.0.0 Ok
221 2.0.0 Bye"
check "oversize: nothing delivered" test ! -e "$T/mail/alice"
# exactly at the limit: 1998 octets of text + CRLF = 2000
got=$(raw "${hello}MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\n${body:0:1998}\r\n.\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\n${body:0:1999}\r\n.\r\nQUIT\r\n" | grep -E '^(250 2.0.0|552)')
expect_eq "size exactly at the limit accepted, one octet over refused" "$got" "250 2.0.0 Ok: queued as ID
552 5.3.4 Message size exceeds fixed limit"

# --- idle timeout: no complete line for `timeout`
write_conf "timeout 1s"
got=$($PY - "$BIN/smtp-session" "$T/conf" <<-'PY'
	import subprocess, sys, time
	p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
	p.stdin.write(b"EHLO c.example\r\nNOOP")   # an incomplete line, then silence
	p.stdin.flush()
	out = p.stdout.read()       # stdin stays open: no EOF
	p.wait(timeout=20)
	print(out.decode().replace("\r", ""), end="")
	print("exit", p.returncode)
	PY
)
expect_eq "idle timeout: 421 4.4.2 and exit 0" "$(echo "$got" | tail -n 2)" "421 4.4.2 mx.test.example Error: timeout exceeded
exit 0"

# slow drip: a byte every 0.3 s never completes a line within 1 s
got=$($PY - "$BIN/smtp-session" "$T/conf" <<-'PY'
	import subprocess, sys, time, threading
	p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
	def drip():
	    try:
	        for c in b"NOOPNOOPNOOPNOOPNOOPNOOP":
	            p.stdin.write(bytes([c])); p.stdin.flush(); time.sleep(0.3)
	    except BrokenPipeError:
	        pass
	t = threading.Thread(target=drip, daemon=True); t.start()
	out = p.stdout.read()
	p.wait(timeout=20)
	print(out.decode().replace("\r", ""), end="")
	PY
)
expect_eq "slow drip: timeout counts per complete line" "$got" "220 mx.test.example ESMTP ready
421 4.4.2 mx.test.example Error: timeout exceeded"

# idle inside DATA
rm -rf "$T/mail"/*
got=$($PY - "$BIN/smtp-session" "$T/conf" <<-'PY'
	import subprocess, sys
	p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
	p.stdin.write(b"EHLO c.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: x\r\n\r\nhalf")
	p.stdin.flush()
	out = p.stdout.read()       # stdin stays open: no EOF
	p.wait(timeout=20)
	print(out.decode().replace("\r", "").splitlines()[-1])
	PY
)
expect_eq "idle timeout inside DATA: 421 4.4.2" "$got" "421 4.4.2 mx.test.example Error: timeout exceeded"
check "timeout inside DATA: nothing delivered" test ! -e "$T/mail/alice"
expect_eq "timeout inside DATA: no staging file left" "$(ls "$T/spool/tmp")" ""

# --- memory stays flat: one 20 MiB line
write_conf
# The peak resident size (VmHWM) is read while the session, its message
# delivered, waits for the next command.
rss=$($PY - "$BIN/smtp-session" "$T/conf" <<-'PY'
	import subprocess, sys
	p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
	p.stdin.write(b"EHLO c.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n\r\n")
	chunk = b"m" * 65536
	for _ in range(320):
	    p.stdin.write(chunk)
	p.stdin.write(b"\r\n.\r\n")
	p.stdin.flush()
	while True:
	    line = p.stdout.readline()
	    if not line or line.startswith(b"250 2.0.0"):
	        break
	hwm = [l.split()[1] for l in open("/proc/%d/status" % p.pid) if l.startswith("VmHWM")][0]
	p.stdin.write(b"QUIT\r\n")
	p.stdin.close()
	p.stdout.read()
	p.wait(timeout=60)
	print(hwm)
	PY
)
expect_eq "20 MiB single line delivered whole" "$(awk 'length($0) == 20971520' "$T/mail/bob" | wc -l)" "1"
case "$BIN" in
*asan*) ok "peak RSS $rss KiB (not judged under ASan)";;
*) check "peak RSS stays small for a 20 MiB line ($rss KiB < 8192)" test "$rss" -lt 8192;;
esac

# --- QUIT and RSET take no argument
write_conf
got=$(raw "QUIT now\r\nRSET x\r\nQUIT\r\n")
expect_eq "QUIT and RSET with an argument: 501 5.5.4" "$got" "220 mx.test.example ESMTP ready
501 5.5.4 Syntax: QUIT
501 5.5.4 Syntax: RSET
221 2.0.0 Bye"

# --- behind a TLS front end that names no client, loopback grants nothing
write_conf "tls_wrapped yes"
got=$($PY - "$BIN/smtp-session" "$T/conf" <<-'PY'
	import os, socket, subprocess, sys
	srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
	cli = socket.create_connection(srv.getsockname()); conn, _ = srv.accept()
	env = dict(os.environ); env.pop("REMOTE_HOST", None)
	p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], stdin=conn, stdout=conn, env=env)
	conn.close()
	cli.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<x@far.example>\r\n"
	            b"RCPT TO:<alice@test.example>\r\nQUIT\r\n")
	cli.settimeout(10)
	data = b""
	while True:
	    chunk = cli.recv(4096)
	    if not chunk:
	        break
	    data += chunk
	p.wait(timeout=10)
	print(data.decode().replace("\r", "").splitlines()[-3])
	PY
)
expect_eq "tls_wrapped without REMOTE_HOST: relaying refused" "$got" "554 5.7.1 <x@far.example>: Relay access denied"
check "tls_wrapped without REMOTE_HOST: warning logged" grep -q 'no valid REMOTE_HOST' "$T/log"
