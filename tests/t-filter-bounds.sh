#!/bin/bash
# t-filter-bounds.sh - the content filter's bounds (filter.c):
#
#   - 1000 recipients of 200 octets each (200 KB, over the kernel's
#     128 KiB for one environment string): the message is stored (250),
#     SMTP_RECIPIENTS holds the whole lines that fit in 64 KiB
#     (FILTER_RCPTS_ENV_MAX), a prefix of the list, and
#     SMTP_RECIPIENTS_TRUNCATED the number left out; with 2 recipients
#     the list is whole and SMTP_RECIPIENTS_TRUNCATED is not set;
#   - two filters killed on filter_timeout in one session: 451 each, and
#     the session holds no pipe afterwards (none leaks), the filters are
#     gone;
#   - a filter that exits 0 leaving a child in the background (not
#     holding our pipes): 250, and the child is killed with its group.
. "$(dirname "$0")/lib.sh"
plan $((5 + 2 + 3 + 2))

cat >"$T/envfilter" <<SH
#!/bin/sh
printf '%s' "\$SMTP_RECIPIENTS" >"$T/rcpts.env"
printf '%s' "\${SMTP_RECIPIENTS_TRUNCATED-unset}" >"$T/truncated.env"
exec cat
SH
chmod 755 "$T/envfilter"

# --- many long recipients ----------------------------------------------------
write_conf "filter $T/envfilter" "max_recipients 1000"
$PY - "$T/d" "$T/all" <<'PY'
import sys
dom = "x" * 60 + "." + "y" * 60 + "." + "z" * 60 + ".far.example"
rcpts = ["u%04d@%s" % (i, dom) for i in range(1000)]
assert all(len(r) == 200 for r in rcpts)
open(sys.argv[2], "w").write("\n".join(rcpts))
open(sys.argv[1], "wb").write(b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n" +
    b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) +
    b"DATA\r\nSubject: many\r\n\r\nx\r\n.\r\nQUIT\r\n")
PY
got=$(timeout 60 "$BIN/smtp-session" -c "$T/conf" <"$T/d" | tr -d '\r' | grep -A1 '^354' | tail -n 1)
expect_eq "1000 recipients of 200 octets: stored (250)" "${got%% as *}" "250 2.0.0 Ok: queued"
size=$(wc -c <"$T/rcpts.env" 2>/dev/null || echo 0)
check "... SMTP_RECIPIENTS is at most 65536 octets, and not empty ($size)" \
	test "$size" -le 65536 -a "$size" -gt 0
check "... it is whole lines, a prefix of the list" $PY -c "
import sys
got, full = open('$T/rcpts.env').read(), open('$T/all').read()
sys.exit(not (full.startswith(got) and full[len(got)] == '\n'))"
n=$(( $(tr -cd '\n' <"$T/rcpts.env" | wc -c) + 1 ))
expect_eq "... SMTP_RECIPIENTS_TRUNCATED is the number left out" "$(cat "$T/truncated.env")" \
	"$((1000 - n))"
expect_eq "... every recipient is queued" "$(grep -c '^rcpt' "$T"/spool/env/* 2>/dev/null)" 1000

printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
	timeout 60 "$BIN/smtp-session" -c "$T/conf" >/dev/null
expect_eq "2 recipients: the whole list" "$(cat "$T/rcpts.env")" "alice@test.example
bob@test.example"
expect_eq "... SMTP_RECIPIENTS_TRUNCATED is not set" "$(cat "$T/truncated.env")" "unset"

# --- killed on timeout: no descriptor leaks ----------------------------------
cat >"$T/hang" <<SH
#!/bin/sh
echo \$\$ >>"$T/hang.pids"
cat >/dev/null
exec sleep 300
SH
chmod 755 "$T/hang"
write_conf "filter $T/hang" "filter_timeout 1s"
rm -f "$T/hang.pids"
cat >"$T/leak.py" <<'PY'
import os, socket, subprocess, sys, time
# leak.py PROG CONF: two messages whose filter times out, on a socket;
# prints the two replies, then the pipes the session holds.
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], stdin=b.fileno(), stdout=b.fileno())
b.close()
a.settimeout(30)
buf = b""
def reply(code):
    global buf
    while not any(l.startswith(code) for l in buf.split(b"\r\n")):
        buf += a.recv(4096)
    line = [l for l in buf.split(b"\r\n") if l.startswith(code)][0]
    buf = buf.split(line + b"\r\n", 1)[1]
    return line.decode()
a.sendall(b"EHLO c.example\r\n")
for i in range(2):
    a.sendall(b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\n")
    reply(b"354")
    a.sendall(b"Subject: t\r\n\r\nx\r\n.\r\n")
    print(reply(b"451"))
pipes = 0
for f in os.listdir("/proc/%d/fd" % p.pid):
    try:
        pipes += os.readlink("/proc/%d/fd/%s" % (p.pid, f)).startswith("pipe:")
    except OSError:
        pass
print("pipes held: %d" % pipes)
a.sendall(b"QUIT\r\n")
p.wait(20)
PY
got=$(timeout 60 $PY "$T/leak.py" "$BIN/smtp-session" "$T/conf")
expect_eq "two filters killed on the timeout: 451 each" "$(printf '%s\n' "$got" | head -n 2)" \
	"451 4.7.1 Content filter failed, try again later
451 4.7.1 Content filter failed, try again later"
expect_eq "... the session holds no pipe afterwards" "$(printf '%s\n' "$got" | tail -n 1)" \
	"pipes held: 0"
gone() {   # gone PID - no such process (or a zombie) within 5 s
	for _ in $(seq 100); do
		[ -e "/proc/$1" ] || return 0
		grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
check "... both filters are gone" bash -c "$(declare -f gone); for p in \$(cat '$T/hang.pids'); do gone \$p || exit 1; done; [ \$(wc -l <'$T/hang.pids') = 2 ]"

# --- exit 0 leaving a background child ---------------------------------------
cat >"$T/bgchild" <<SH
#!/bin/sh
cat
sleep 300 </dev/null >/dev/null 2>&1 &
echo \$! >"$T/child.pid"
exit 0
SH
chmod 755 "$T/bgchild"
write_conf "filter $T/bgchild"
got=$(printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: bg\r\n\r\nx\r\n.\r\nQUIT\r\n' |
	timeout 60 "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep -A1 '^354' | tail -n 1)
expect_eq "exit 0 leaving a child in the background: stored (250)" "${got%% as *}" "250 2.0.0 Ok: queued"
child=$(cat "$T/child.pid" 2>/dev/null)
check "... the child was killed with the filter's group" gone "${child:-0}"
[ -n "$child" ] && kill -9 "$child" 2>/dev/null
for p in $(cat "$T/hang.pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
exit 0
