#!/bin/bash
# t-peer.sh - who the client is, failing closed (SPEC "Where the peer
# address comes from"):
#   - on a pipe, the first of REMOTE_ADDR, TCPREMOTEIP, REMOTE_HOST and
#     SOCAT_PEERADDR that is set names the client; one that is set but
#     holds garbage, or nothing, leaves it unidentified: local mail only,
#     never a relay, and a warning naming the variable; an IPv6 zone is
#     stripped; with none set, a pipe is a local dialogue (127.0.0.1);
#   - a real `socat TCP-LISTEN:...,fork EXEC:smtp-session` launcher (a
#     socketpair, the client only in SOCAT_PEERADDR) with a client bound
#     to another loopback address and relay_from 127.0.0.1/32;
#   - an AF_UNIX client through systemd-socket-activate, running as
#     nobody: a local process named by SO_PEERCRED, relaying although
#     relay_from is none, its uid and name in Received and the log.
. "$(dirname "$0")/lib.sh"
VARS="REMOTE_ADDR TCPREMOTEIP REMOTE_HOST SOCAT_PEERADDR"
plan $((4 * 3 + 3 + 2 + 4 * 2 + 1 + 1 + 1 + 4 + 4))
write_conf

# try ENV... - one relay attempt and one local RCPT under ENV; prints
# the two RCPT replies.
try() {
	rm -f "$T/log"
	printf 'EHLO client.example\nMAIL FROM:<s@remote.example>\nRCPT TO:<victim@far.example>\nRCPT TO:<alice@test.example>\nQUIT\n' |
		crlf | env -u REMOTE_ADDR -u TCPREMOTEIP -u REMOTE_HOST -u SOCAT_PEERADDR "$@" \
		"$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep '^[245][0-9][0-9] ' |
		sed -n '4,5p' | cut -d' ' -f1 | tr '\n' ' '
}
# The two RCPT replies: the relay attempt, then alice.
DENIED="554 250 "
RELAYED="250 250 "

for v in $VARS; do
	expect_eq "$v=garbage: no relaying, local mail accepted" "$(try "$v=garbage")" "$DENIED"
	check "$v=garbage: the warning names $v" grep -q "$v=\"garbage\" holds no valid address" "$T/log"
	check "$v=garbage: the client is unidentified in the log" grep -q 'connect from \[unknown\] unidentified' "$T/log"
done
expect_eq "REMOTE_ADDR set but empty: no relaying" "$(try REMOTE_ADDR=)" "$DENIED"
check "REMOTE_ADDR empty: the warning names it" grep -q 'REMOTE_ADDR="" holds no valid address' "$T/log"
expect_eq "REMOTE_ADDR=garbage wins over a valid TCPREMOTEIP (the first set decides)" \
	"$(try REMOTE_ADDR=garbage TCPREMOTEIP=127.0.0.1)" "$DENIED"

# An IPv6 zone is stripped: fe80::1%eth0 is fe80::1.
write_conf "relay_from fe80::/10"
expect_eq "REMOTE_ADDR=fe80::1%eth0: the zone is stripped, relay_from fe80::/10 matches" \
	"$(try 'REMOTE_ADDR=fe80::1%eth0')" "$RELAYED"
check "REMOTE_ADDR=fe80::1%eth0: logged as [fe80::1]" grep -q 'connect from \[fe80::1\]' "$T/log"
write_conf

for v in $VARS; do
	expect_eq "$v=192.0.2.1 names the client: outside relay_from, no relaying" \
		"$(try "$v=192.0.2.1")" "$DENIED"
	check "$v=192.0.2.1: logged as the client" grep -q 'connect from \[192.0.2.1\]' "$T/log"
done
expect_eq "SOCAT_PEERADDR=[0000:...:0001] (socat's IPv6 form) is ::1: relaying" \
	"$(try 'SOCAT_PEERADDR=[0000:0000:0000:0000:0000:0000:0000:0001]')" "$RELAYED"
expect_eq "a pipe with no variable set is a local dialogue (127.0.0.1): relaying" \
	"$(try)" "$RELAYED"
# An unidentified client's message names it as such in Received.
rm -f "$T/mail/alice"
printf 'EHLO client.example\nMAIL FROM:<s@remote.example>\nRCPT TO:<alice@test.example>\nDATA\nSubject: u\n\nx\n.\nQUIT\n' |
	crlf | REMOTE_ADDR=garbage "$BIN/smtp-session" -c "$T/conf" >/dev/null
check "an unidentified client is 'unknown' in Received" \
	grep -q '^Received: from client.example (unknown)$' "$T/mail/alice"

# --- a real socat launcher ----------------------------------------------
write_conf "relay_from 127.0.0.1/32"
rm -f "$T/mail/alice"
PORT=$(free_port)
bg socat "TCP-LISTEN:$PORT,fork,reuseaddr,bind=127.0.0.1" "EXEC:$BIN/smtp-session -c $T/conf"
wait_port "$PORT" || nok "socat listens on $PORT"
socat_client() {   # socat_client SOURCE-ADDRESS - relay try, then a local message
	$PY - "$PORT" "$1" <<-'PY'
	import smtplib, sys
	s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20, source_address=(sys.argv[2], 0))
	s.ehlo("client.example")
	s.mail("s@remote.example")
	print(s.rcpt("victim@far.example")[0], end=" ")
	s.rset()
	s.sendmail("s@remote.example", ["alice@test.example"],
	           "From: s@remote.example\r\nSubject: via socat from " + sys.argv[2] + "\r\n\r\nx\r\n")
	print("sent")
	s.quit()
	PY
}
expect_eq "socat launcher, client from 127.0.0.2: relaying refused, local mail taken" \
	"$(socat_client 127.0.0.2 2>&1)" "554 sent"
expect_eq "socat launcher, client from 127.0.0.1: relaying allowed" \
	"$(socat_client 127.0.0.1 2>&1)" "250 sent"
received_from() {   # received_from SUBJECT - the first Received line of that message
	$PY - "$T/mail/alice" "$1" <<-'PY'
	import mailbox, sys
	for m in mailbox.mbox(sys.argv[1]):
	    if m["Subject"] == sys.argv[2]:
	        print(m.get_all("Received")[0].split("\n")[0])
	PY
}
expect_eq "socat launcher: Received names the client 127.0.0.2" \
	"$(received_from 'via socat from 127.0.0.2')" "from client.example ([127.0.0.2])"
expect_eq "socat launcher: Received names the client 127.0.0.1" \
	"$(received_from 'via socat from 127.0.0.1')" "from client.example ([127.0.0.1])"

# --- an AF_UNIX client, identified by its uid ----------------------------
write_conf "relay_from none"
rm -f "$T/mail/alice"
SOCK=$T/submit.sock
bg systemd-socket-activate -l "$SOCK" -a --inetd \
	-E "ASAN_OPTIONS=${ASAN_OPTIONS:-}" -E "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" \
	"$BIN/smtp-session" -c "$T/conf" 2>>"$T/activator.log"
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
chmod 666 "$SOCK"
cat >"$T/unix_client.py" <<-'PY'
import smtplib, socket, sys
class UnixSMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(host)
        return s
s = UnixSMTP(timeout=20)
s.connect(sys.argv[1])
s.ehlo("localhost")
s.sendmail("nobody@test.example", ["alice@test.example", "friend@far.example"],
           "From: nobody@test.example\r\nSubject: local submission\r\n\r\nx\r\n")
print("sent")
s.quit()
PY
chmod 644 "$T/unix_client.py"
expect_eq "AF_UNIX client running as nobody: relaying although relay_from is none" \
	"$(timeout 30 setpriv --reuid=65534 --regid=65534 --clear-groups $PY "$T/unix_client.py" "$SOCK" 2>&1)" "sent"
expect_eq "AF_UNIX client: Received names userid 65534 (nobody)" \
	"$(received_from 'local submission')" "from localhost (userid 65534 (nobody))"
check "AF_UNIX client: the log names uid and user" grep -q 'uid=65534 user=<nobody>' "$T/log"
check "AF_UNIX client: the foreign recipient is queued" grep -qs 'friend@far.example' "$T"/spool/env/*
