#!/bin/bash
# t-rbl.sh - DNS blocklists the ucspi way: rblsmtpd in front of
# smtp-session, against a dnsmasq blocklist zone on loopback. Under
# tcpserver (TCPREMOTEIP) and under systemd-socket-activate through
# contrib/rblsmtpd/tcpremoteip (REMOTE_ADDR), running the command line of
# the shipped drop-in contrib/rblsmtpd/rblsmtpd.conf. A listed client gets
# rblsmtpd's 451 (553 with -b) with the zone's TXT text and never reaches
# smtp-session; an unlisted one is served.
#
# rblsmtpd asks DNS on port 53 only: the script runs in a private network
# namespace (only loopback), where dnsmasq can have 127.0.0.1:53.
N=17
if [ -z "${RBL_NETNS:-}" ] && [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
	exec unshare --net env RBL_NETNS=1 bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi
. "$(dirname "$0")/lib.sh"
plan $N
if [ -z "${RBL_NETNS:-}" ]; then
	for i in $(seq $N); do nok "a private network namespace (root, unshare) for DNS on port 53"; done
	exit 0
fi

write_conf
ZONE=bl.test
bg dnsmasq --keep-in-foreground --conf-file=/dev/null --no-hosts --no-resolv \
	--listen-address=127.0.0.1 --bind-interfaces --port=53 --pid-file= --user=nobody \
	--log-queries --log-facility="$T/dnsmasq.log" --local=/$ZONE/ \
	--txt-record=2.0.0.127.$ZONE,"Listed at $ZONE: see http://$ZONE/127.0.0.2" \
	--txt-record=3.0.0.127.$ZONE,"Listed at $ZONE too" 2>"$T/dnsmasq.err"
export DNSCACHEIP=127.0.0.1

# smtp CLIENT-ADDR PORT - a session from CLIENT-ADDR: EHLO, MAIL, RCPT to
# alice, and DATA when RCPT was accepted; prints each reply's first line,
# or "closed" when the server hung up.
smtp() {
	$PY - "$1" "$2" <<-'PY'
	import socket, sys
	try:
	    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), 10, (sys.argv[1], 0))
	    f = s.makefile("rb")
	    def reply():
	        while True:
	            l = f.readline()
	            if not l:
	                print("closed"); sys.exit(0)
	            if l[3:4] != b"-":
	                print(l.decode().rstrip()); return l[:3]
	    reply()
	    for c in ("EHLO client.example", "MAIL FROM:<s@remote.example>", "RCPT TO:<alice@test.example>"):
	        s.sendall(c.encode() + b"\r\n"); code = reply()
	    if code == b"250":
	        s.sendall(b"DATA\r\n"); reply()
	        s.sendall(b"Subject: rbl from " + sys.argv[1].encode() + b"\r\n\r\nhello\r\n.\r\n"); reply()
	    s.sendall(b"QUIT\r\n"); reply()
	except (OSError, socket.timeout) as e:
	    print("closed")
	PY
}
check "dnsmasq serves the blocklist zone on 127.0.0.1:53" \
	bash -c "for i in \$(seq 50); do ss -lun | grep -q '127.0.0.1:53 ' && exit 0; sleep 0.1; done; exit 1"

# --- tcpserver -------------------------------------------------------
P1=$(free_port)
bg tcpserver -H -R -l 0 -c 20 127.0.0.1 "$P1" \
	rblsmtpd -r "$ZONE" "$BIN/smtp-session" -c "$T/conf" 2>"$T/tcpserver.err"
check "tcpserver with rblsmtpd listens" wait_port "$P1"
got=$(smtp 127.0.0.2 "$P1")
expect_eq "tcpserver: a listed client gets 451 with the zone's text at RCPT" \
	"$(echo "$got" | sed -n 4p)" "451 Listed at $ZONE: see http://$ZONE/127.0.0.2"
check "tcpserver: the listed client was greeted by rblsmtpd, not smtp-session" \
	bash -c "echo '$got' | head -n 1 | grep -q '^220 rblsmtpd' && ! grep -q '127.0.0.2' '$T/log' 2>/dev/null"
check "tcpserver: rblsmtpd logged the refusal on stderr" \
	grep -q "rblsmtpd: 127.0.0.2 pid [0-9]*: 451 Listed at $ZONE" "$T/tcpserver.err"
got=$(smtp 127.0.0.4 "$P1")
check "tcpserver: an unlisted client is served by smtp-session (250 after DATA)" \
	bash -c "echo '$got' | head -n 1 | grep -q '^220 mx.test.example' && echo '$got' | grep -q '^250 2.0.0 Ok'"
check "tcpserver: alice's mbox holds the unlisted client's message from [127.0.0.4]" \
	bash -c "grep -q '^Subject: rbl from 127.0.0.4' '$T/mail/alice' && grep -q '(\[127.0.0.4\])' '$T/mail/alice'"
P2=$(free_port)
bg tcpserver -H -R -l 0 -c 20 127.0.0.1 "$P2" \
	rblsmtpd -b -r "$ZONE" "$BIN/smtp-session" -c "$T/conf" 2>>"$T/tcpserver.err"
wait_port "$P2"
expect_eq "tcpserver, rblsmtpd -b: a listed client gets 553" \
	"$(smtp 127.0.0.3 "$P2" | sed -n 4p)" "553 Listed at $ZONE too"
check "the lookups went to the blocklist zone" \
	grep -q "query\[TXT\] 2.0.0.127.$ZONE from 127.0.0.1" "$T/dnsmasq.log"

# --- systemd socket: tcpremoteip and the shipped drop-in ---------------
DROPIN=$TOP/contrib/rblsmtpd/rblsmtpd.conf
cmd=$(sed -n 's/^ExecStart=\(..*\)$/\1/p' "$DROPIN" | sed -e "s|@LIBEXECDIR@|$TOP/contrib/rblsmtpd|" \
	-e "s|@SBINDIR@|$BIN|" -e "s|@SYSCONFDIR@/smtp-session.conf|$T/conf|" -e "s|-r [^ ]*|-r $ZONE|")
echo "# the drop-in's command here: $cmd"
check "the drop-in runs tcpremoteip, rblsmtpd and smtp-session" \
	bash -c "echo '$cmd' | grep -q '^$TOP/contrib/rblsmtpd/tcpremoteip /usr/bin/rblsmtpd -r $ZONE $BIN/smtp-session -c '"
# activate ADDR - systemd-socket-activate running the drop-in's command,
# REMOTE_ADDR=ADDR as systemd sets it for a socket with Accept=yes
# (systemd-socket-activate itself sets none); its port in $A.
activate() {
	A=$(free_port)
	bg systemd-socket-activate -l "127.0.0.1:$A" -a --inetd ${1:+-E REMOTE_ADDR=$1} \
		-E DNSCACHEIP=127.0.0.1 -E "ASAN_OPTIONS=${ASAN_OPTIONS:-}" \
		-E "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" $cmd 2>>"$T/activate.err" >/dev/null
	wait_port "$A"
}
activate 127.0.0.2
expect_eq "socket: REMOTE_ADDR of a listed client: 451 at RCPT" \
	"$(smtp 127.0.0.2 "$A" | sed -n 4p)" "451 Listed at $ZONE: see http://$ZONE/127.0.0.2"
activate ::ffff:127.0.0.3
expect_eq "socket: a v4-mapped REMOTE_ADDR (::ffff:127.0.0.3) is looked up as 127.0.0.3" \
	"$(smtp 127.0.0.3 "$A" | sed -n 4p)" "451 Listed at $ZONE too"
activate 127.0.0.4
got=$(smtp 127.0.0.4 "$A")
check "socket: an unlisted client is served (250 after DATA)" \
	bash -c "echo '$got' | grep -q '^250 2.0.0 Ok'"
activate ""
expect_eq "socket: without REMOTE_ADDR nothing runs: the connection is closed" \
	"$(smtp 127.0.0.4 "$A" | head -n 1)" "closed"
check "socket: tcpremoteip says why on stderr" \
	grep -q 'tcpremoteip: REMOTE_ADDR is not set' "$T/activate.err"
rc=$(REMOTE_ADDR='1.2.3.4;x' "$TOP/contrib/rblsmtpd/tcpremoteip" true 2>/dev/null; echo $?)
expect_eq "tcpremoteip refuses a REMOTE_ADDR that is not an address (exit 111)" "$rc" 111

# The drop-in on the installed unit: systemd-analyze verify accepts both.
U=$T/units
mkdir -p "$U/smtp-session@.service.d"
for f in smtp-session.socket smtp-session@.service; do
	sed -e "s|@SBINDIR@|$BIN|g" -e "s|@SYSCONFDIR@|$T|g" "$TOP/systemd/$f" >"$U/$f"
done
sed -e "s|@LIBEXECDIR@|$TOP/contrib/rblsmtpd|g" -e "s|@SBINDIR@|$BIN|g" \
	-e "s|@SYSCONFDIR@|$T|g" "$DROPIN" >"$U/smtp-session@.service.d/rblsmtpd.conf"
verify() {
	(cd "$U" && SYSTEMD_UNIT_PATH="$U:" systemd-analyze verify --man=no \
		./smtp-session.socket ./smtp-session@.service 2>&1)
}
out=$(verify)
# The drop-in is read: the same with tcpremoteip misspelt is an error.
sed -i 's|/tcpremoteip |/tcpremoteip-missing |' "$U/smtp-session@.service.d/rblsmtpd.conf"
bad=$(verify)
expect_eq "systemd-analyze verify accepts the unit with the drop-in (and reads it)" \
	"$out:$(echo "$bad" | grep -c 'tcpremoteip-missing is not executable')" ":1"
