#!/bin/bash
# t-peer-inet.sh - an AF_INET or AF_INET6 socket on stdin whose peer
# cannot be read (getpeername fails) is no local process: the client is
# unidentified (relaying only after AUTH, local delivery still works) and
# a warning is logged.
#
#   - an unconnected UDP socket on 127.0.0.1 (and on ::1) as stdin: the
#     dialogue arrives as one datagram; a foreign recipient is refused
#     with 554 5.7.1, alice is accepted; the log says unidentified;
#   - a TCP connection reset by the client before the session starts:
#     the log says unidentified, not 127.0.0.1.
. "$(dirname "$0")/lib.sh"
plan $((2 * 3 + 2))
write_conf

cat >"$T/udp.py" <<'PY'
import socket, subprocess, sys
# udp.py FAMILY ADDR PROG CONF: the session reads an unconnected UDP
# socket; its replies (a pipe) are printed.
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
rx = socket.socket(fam, socket.SOCK_DGRAM)
rx.bind((sys.argv[2], 0))
tx = socket.socket(fam, socket.SOCK_DGRAM)
tx.sendto(b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<friend@far.example>\r\n"
          b"RCPT TO:<alice@test.example>\r\nQUIT\r\n", rx.getsockname())
p = subprocess.run([sys.argv[3], "-c", sys.argv[4]], stdin=rx.fileno(),
                   stdout=subprocess.PIPE, timeout=30)
sys.stdout.write(p.stdout.decode().replace("\r", ""))
PY
cat >"$T/reset.py" <<'PY'
import socket, struct, subprocess, sys, time
# reset.py PROG CONF: the client connects and resets the connection; then
# the session gets the accepted socket.
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
c = socket.create_connection(ls.getsockname())
a, _ = ls.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
end = time.time() + 10
while time.time() < end:
    try:
        a.getpeername()
        time.sleep(0.01)
    except OSError:
        break
subprocess.run([sys.argv[1], "-c", sys.argv[2]], stdin=a.fileno(), stdout=subprocess.DEVNULL,
               timeout=30)
PY

for fam in 4 6; do
	addr=127.0.0.1; [ $fam = 6 ] && addr=::1
	if [ $fam = 6 ] && ! $PY -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null; then
		skip 3 "no IPv6 loopback"
		continue
	fi
	rm -f "$T/log"
	got=$(timeout 60 $PY "$T/udp.py" $fam $addr "$BIN/smtp-session" "$T/conf" | grep '^5\|^250 2.1.5')
	expect_eq "IPv$fam socket without a peer: no relay, local delivery" "$got" \
		"554 5.7.1 <friend@far.example>: Relay access denied
250 2.1.5 Ok"
	check "IPv$fam socket without a peer: connect from [unknown] unidentified" \
		grep -q 'connect from \[unknown\] unidentified' "$T/log"
	check "IPv$fam socket without a peer: a warning says why" \
		grep -q 'no readable peer address' "$T/log"
done

rm -f "$T/log"
timeout 60 $PY "$T/reset.py" "$BIN/smtp-session" "$T/conf"
check "a connection reset before the session: unidentified" \
	grep -q 'connect from \[unknown\] unidentified' "$T/log"
check "... not a local process" bash -c "! grep -q 'connect from \[127.0.0.1\]' '$T/log'"
