#!/bin/bash
# t-limits.sh - per-client connection limits in what we ship: the shipped
# xinetd entry (instances 64, per_source 8) under a real xinetd: eight
# sessions from one address are served, the ninth from it is refused
# while a session from another address is still served. The socket
# unit's MaxConnections=/MaxConnectionsPerSource= are read from the file
# (systemd-socket-activate has no per-source limit to run them with).
. "$(dirname "$0")/lib.sh"
plan 7

expect_eq "smtp-session.socket: MaxConnections=64, MaxConnectionsPerSource=8" \
	"$(grep -E '^MaxConnections(PerSource)?=' "$TOP/systemd/smtp-session.socket" | tr '\n' ' ')" \
	"MaxConnections=64 MaxConnectionsPerSource=8 "
expect_eq "xinetd.d/smtp: instances 64, per_source 8" \
	"$(grep -E '^\s*(instances|per_source)\s*=' "$TOP/xinetd.d/smtp" | tr -s ' \t' ' ' | tr '\n' '|')" \
	" instances = 64| per_source = 8|"

# The sessions run as nobody, from a copy of the program it may run.
write_conf
touch "$T/log"
mkdir "$T/sbin"
cp "$BIN/smtp-session" "$T/sbin/"
[ "$(id -u)" = 0 ] && chown nobody: "$T/mail" "$T/spool" "$T/log"
PORT=$(free_port)
mkdir "$T/xinetd.d"
sed -e "s|^\([[:space:]]*port[[:space:]]*=\).*|\1 $PORT|" \
    -e "s|^\([[:space:]]*server[[:space:]]*=\).*|\1 $T/sbin/smtp-session|" \
    -e "s|@SYSCONFDIR@/smtp-session.conf|$T/conf|" \
    -e "s|^\([[:space:]]*user[[:space:]]*=\).*|\1 nobody|" \
    -e "s|^\([[:space:]]*disable[[:space:]]*=\).*|\1 no|" \
    "$TOP/xinetd.d/smtp" >"$T/xinetd.d/smtp"
printf 'defaults\n{\n\tlog_type = FILE %s\n\tbind = 127.0.0.1\n}\nincludedir %s\n' \
	"$T/xinetd.log" "$T/xinetd.d" >"$T/xinetd.conf"
mkdir -m 1777 "$T/san"
export ASAN_OPTIONS="log_path=$T/san/asan:detect_leaks=0:abort_on_error=0"
bg xinetd -dontfork -f "$T/xinetd.conf" -pidfile "$T/xinetd.pid" 2>"$T/xinetd.err"
check "xinetd with the shipped entry (enabled) listens" wait_port "$PORT"

# Nine connections held open from 127.0.0.5, then one from 127.0.0.6;
# each line: the source and the first line it received (or "closed").
$PY - "$PORT" >"$T/conns" <<-'PY'
import socket, sys, time
port = int(sys.argv[1])
def greet(src):
    s = socket.create_connection(("127.0.0.1", port), 10, (src, 0))
    s.settimeout(10)
    try:
        l = s.makefile("rb").readline().decode().strip()
    except OSError:
        l = ""
    return s, l or "closed"
held = []
for i in range(9):
    s, l = greet("127.0.0.5")
    held.append(s)
    print("127.0.0.5", l[:3] if l != "closed" else l, flush=True)
s, l = greet("127.0.0.6")
print("127.0.0.6", l[:3] if l != "closed" else l, flush=True)
for s in held:
    s.close()
PY
expect_eq "eight sessions from one address are greeted" \
	"$(head -n 8 "$T/conns" | sort | uniq -c | tr -s ' ')" " 8 127.0.0.5 220"
expect_eq "the ninth from the same address is refused" "$(sed -n 9p "$T/conns")" "127.0.0.5 closed"
expect_eq "another address is still served" "$(sed -n 10p "$T/conns")" "127.0.0.6 220"
check "no sanitizer report from the sessions" test -z "$(ls -A "$T/san")"
