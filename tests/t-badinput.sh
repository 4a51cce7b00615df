#!/bin/bash
# t-badinput.sh - hostile input that needs timing, a process's memory or
# a real socket: the idle timeout (between commands, byte by byte, inside
# DATA), memory that stays flat for a 20 MiB line, and a TLS front end
# that names no client. The line limits, NUL and bare CR, every SMTP
# smuggling variant, long lines and 101 recipients are golden dialogues
# (tests/dialogues, t-dialogues.sh).
. "$(dirname "$0")/lib.sh"
# The peak RSS is judged only without ASan (its shadow memory would count).
case "$BIN" in *asan*) plan 8;; *) plan 9;; esac

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
*asan*) echo "# peak RSS $rss KiB under ASan";;
*) check "peak RSS stays small for a 20 MiB line ($rss KiB < 8192)" test "$rss" -lt 8192;;
esac

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
