#!/bin/bash
# t-session-limits.sh - limits on a slow or noisy client, and the command
# line:
#   - more than 100 junk commands (NOOP, RSET, VRFY, HELP, repeated
#     HELO/EHLO) since the last accepted message: 421 4.7.0;
#   - session_limit: 421 4.4.2 and exit, also in the middle of DATA,
#     leaving no staging file; a client that stops reading our replies
#     after 354 leaves no staging file either;
#   - the size counted against max_message_size leaves out the dots
#     removed by dot-unstuffing (RFC 1870);
#   - a bad command line: 421 4.3.0 to the client, exit 64, and nothing
#     else on a socket stderr;
#   - a stale dotlock is removed, but never a fresh lock taken meanwhile.
. "$(dirname "$0")/lib.sh"
plan $((3 + 3 + 2 + 2 + 4 + 4))
write_conf

# --- junk commands ------------------------------------------------------
junk() {   # junk LINES - EHLO, the lines, QUIT: the last reply line
	{ printf 'EHLO c.example\r\n'; printf '%b' "$1"; printf 'QUIT\r\n'; } |
		"$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | tail -n 1
}
expect_eq "101 NOOPs: the 101st gets 421 4.7.0" \
	"$(junk "$(for i in $(seq 101); do printf 'NOOP\\r\\n'; done)")" \
	"421 4.7.0 mx.test.example Error: too many junk commands"
expect_eq "25 each of RSET, VRFY, HELP, repeated EHLO, then one NOOP: 421 4.7.0" \
	"$(junk "$(for i in $(seq 25); do printf 'RSET\\r\\nVRFY x\\r\\nHELP\\r\\nEHLO c.example\\r\\n'; done; printf 'NOOP\\r\\n')")" \
	"421 4.7.0 mx.test.example Error: too many junk commands"
expect_eq "the count restarts after an accepted message: 60 NOOPs, a message, 60 NOOPs" \
	"$(junk "$(for i in $(seq 60); do printf 'NOOP\\r\\n'; done
	           printf 'MAIL FROM:<s@remote.example>\\r\\nRCPT TO:<alice@test.example>\\r\\nDATA\\r\\nSubject: j\\r\\n\\r\\nx\\r\\n.\\r\\n'
	           for i in $(seq 60); do printf 'NOOP\\r\\n'; done)")" "221 2.0.0 Bye"

# --- session_limit ------------------------------------------------------
write_conf "session_limit 2s"
rm -f "$T"/mail/*
cat >"$T/slow.py" <<'PY'
import os, select, subprocess, sys, time
prog, conf, mode = sys.argv[1:4]
p = subprocess.Popen([prog, "-c", conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
got = b""
def send(b):
    try:
        p.stdin.write(b)
    except BrokenPipeError:
        pass
send(b"EHLO c.example\r\n")
if mode == "data":
    send(b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: slow\r\n\r\n")
end = time.time() + 20
while time.time() < end and p.poll() is None:
    send(b"NOOP\r\n" if mode == "noop" else b"a line of a slow message\r\n")
    time.sleep(0.3)                     # never idle, never fast
    r, _, _ = select.select([p.stdout], [], [], 0)
    if r:
        got += os.read(p.stdout.fileno(), 65536)
try:
    got += p.stdout.read()
    p.wait(timeout=10)
except Exception:
    p.kill()
last = [l for l in got.decode().split("\r\n") if l][-1]
print(last, p.returncode)
PY
expect_eq "a client that keeps sending NOOP: 421 4.4.2 at session_limit, exit 0" \
	"$(timeout 60 $PY "$T/slow.py" "$BIN/smtp-session" "$T/conf" noop)" \
	"421 4.4.2 mx.test.example Error: session time limit exceeded 0"
expect_eq "a message sent a line at a time: 421 4.4.2 at session_limit, in DATA" \
	"$(timeout 60 $PY "$T/slow.py" "$BIN/smtp-session" "$T/conf" data)" \
	"421 4.4.2 mx.test.example Error: session time limit exceeded 0"
expect_eq "the slow message left no staging file and no mail" \
	"$(ls "$T/spool/tmp" 2>/dev/null; ls "$T/mail")" ""

# A client that stops reading: our replies fill its (small) pipe while we
# hold a staging file after 354; the idle timeout ends the session.
write_conf "timeout 1s"
cat >"$T/noread.py" <<'PY'
import fcntl, os, subprocess, sys
prog, conf = sys.argv[1:3]
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)              # F_SETPIPE_SZ: one page
dialogue = (b"EHLO c.example\r\n" + b"VRFY someone\r\n" * 60 +
            b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\n")
p = subprocess.Popen([prog, "-c", conf], stdin=subprocess.PIPE, stdout=w)
os.close(w)
p.stdin.write(dialogue)
p.stdin.flush()
try:
    rc = p.wait(timeout=20)             # never reading its replies
except subprocess.TimeoutExpired:
    p.kill(); rc = "killed"
print(rc)
PY
expect_eq "a client that stops reading after DATA: the session ends (exit 0)" \
	"$(timeout 60 $PY "$T/noread.py" "$BIN/smtp-session" "$T/conf")" "0"
expect_eq "... and leaves no staging file" "$(ls "$T/spool/tmp" 2>/dev/null)" ""

# --- size with dot-stuffing ----------------------------------------------
write_conf "max_message_size 1000"
sized() {   # sized [LINE] - LINE (if given), then 10 lines ".xxx...x":
	    # 100 octets each with CRLF unstuffed, 101 as sent (stuffed)
	{ printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example> SIZE=1000\r\nRCPT TO:<alice@test.example>\r\nDATA\r\n'
	  [ $# -gt 0 ] && printf '%s\r\n' "$1"
	  for i in $(seq 10); do printf '..%097d\r\n' 0; done
	  printf '.\r\nQUIT\r\n'; } | "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep -A1 '^354' | tail -n 1 | cut -c1-9
}
expect_eq "1000 octets unstuffed (1010 as sent) fit max_message_size 1000" "$(sized)" "250 2.0.0"
expect_eq "one more line (1003 octets) does not" "$(sized x)" "552 5.3.4"

# --- the command line ---------------------------------------------------
write_conf
out=$("$BIN/smtp-session" -x -c "$T/conf" 2>"$T/usage.err" </dev/null | tr -d '\r'; echo "rc=${PIPESTATUS[0]}")
expect_eq "unknown option: 421 4.3.0 to the client, exit 64" "$(echo "$out" | sed -E 's/^(421 4\.3\.0) [^ ]+ /\1 HOST /')" \
	"421 4.3.0 HOST Bad command line, try again later
rc=64"
expect_eq "-c without its argument: 421 4.3.0, exit 64" \
	"$("$BIN/smtp-session" -c 2>/dev/null </dev/null | tr -d '\r' | cut -c1-9; echo "rc=${PIPESTATUS[0]}")" "421 4.3.0
rc=64"
check "stderr (not a socket here) has the usage line" grep -q '^usage: smtp-session' "$T/usage.err"
expect_eq "under inetd (stderr a socket) the client sees only the 421 line" \
	"$($PY - "$BIN/smtp-session" <<-'PY'
	import re, socket, subprocess, sys
	a, b = socket.socketpair()
	p = subprocess.Popen([sys.argv[1], "-x"], stdin=b, stdout=b, stderr=b)
	b.close()
	a.settimeout(10)
	got = b""
	while True:
	    d = a.recv(4096)
	    if not d:
	        break
	    got += d
	p.wait(timeout=10)
	print(repr(re.sub(rb"^421 4\.3\.0 [^ ]+ ", b"421 4.3.0 HOST ", got)), p.returncode)
	PY
	)" "b'421 4.3.0 HOST Bad command line, try again later\\r\\n' 64"

# --- stale dotlocks -------------------------------------------------------
# A lock older than 10 minutes is removed.
write_conf
: >"$T/mail/alice.lock"
touch -d '20 minutes ago' "$T/mail/alice.lock"
deliver_alice() {
	printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: %s\r\n\r\nx\r\n.\r\nQUIT\r\n' "$1" |
		timeout 60 "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep '^250 2.0.0' | cut -c1-9
}
expect_eq "a stale dotlock is removed and the message delivered" "$(deliver_alice stale)" "250 2.0.0"
# Another delivery takes a fresh lock between our look at the stale one
# and its removal (simulated by a preloaded shim: just before the first
# rename or unlink of NAME.lock it replaces that file by a fresh one).
cat >"$T/lockrace.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void race(const char *path) {
	const char *marker = getenv("LOCKRACE_MARKER");
	size_t n = strlen(path);
	if (!marker || n < 5 || strcmp(path + n - 5, ".lock") || access(marker, F_OK) == 0)
		return;
	int (*u)(const char *) = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
	u(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd >= 0) { (void)!write(fd, "fresh\n", 6); close(fd); }
	close(open(marker, O_WRONLY | O_CREAT, 0600));
}
int rename(const char *a, const char *b) {
	race(a);
	return ((int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename"))(a, b);
}
int unlink(const char *p) {
	race(p);
	return ((int (*)(const char *))dlsym(RTLD_NEXT, "unlink"))(p);
}
C
cc -shared -fPIC -o "$T/lockrace.so" "$T/lockrace.c" -ldl
: >"$T/mail/alice.lock"
touch -d '20 minutes ago' "$T/mail/alice.lock"
ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" LOCKRACE_MARKER=$T/raced LD_PRELOAD=$T/lockrace.so \
	deliver_alice raced >"$T/raced.out" &
RACER=$!
PIDS+=("$RACER")
for _ in $(seq 200); do [ -e "$T/raced" ] && break; sleep 0.05; done
check "the race was played (a fresh lock replaced the stale one)" test -e "$T/raced"
sleep 0.5
expect_eq "the fresh lock survives the removal of the stale one" "$(cat "$T/mail/alice.lock" 2>/dev/null)" "fresh"
rm -f "$T/mail/alice.lock"
wait "$RACER"
expect_eq "once that lock is released the message is delivered" "$(cat "$T/raced.out")" "250 2.0.0"
