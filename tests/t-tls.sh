#!/bin/bash
# t-tls.sh - TLS the inetd way, through stunnel, with the shipped files:
# submission on implicit TLS (stunnel/smtps.conf running smtp-session with
# etc/smtp-submission.conf.sample) with AUTH PLAIN and LOGIN from swaks;
# the client's real address in the log and in Received (ESMTPS/ESMTPSA);
# relay-agent to a TLS smarthost through a stunnel client
# (stunnel/smarthost.conf) that verifies the certificate: delivered with
# AUTH when it verifies, nothing sent and the message kept when it does
# not (wrong host name, unknown CA).
#
# Every stunnel runs in the foreground with its log in $T and is killed by
# its PID. A test CA and certificates for localhost are made here.
. "$(dirname "$0")/lib.sh"
plan 56

command -v stunnel4 >/dev/null || { nok "stunnel4 is installed"; exit 0; }
TLS=$T/tls
mkdir -p "$TLS"

# --- certificates: a test CA, a server certificate for localhost signed
# by it, and an unknown CA with its own certificate for localhost --------
check "openssl makes a test CA and a certificate for localhost" \
	bash -c "$(declare -f tls_ca tls_cert); TLS='$TLS'; tls_ca testca && tls_cert localhost testca localhost &&
		tls_ca rogueca && tls_cert rogue rogueca localhost"
check "the localhost certificate verifies against the test CA" \
	bash -c "openssl verify -CAfile '$TLS/testca.pem' -verify_hostname localhost '$TLS/localhost.pem' >/dev/null"

# IPv6 loopback present: stunnel listens as shipped, on every address
# (":::PORT"), and IPv4 clients reach it as ::ffff:127.0.0.x.
HAVE6=""
$PY -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null && HAVE6=yes

# wait_log FILE PATTERN - wait (at most 10 s) until FILE has a line
# matching PATTERN (grep -E).
wait_log() {
	local i
	for i in $(seq 200); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# --- submission: stunnel -> smtp-session -------------------------------
write_conf      # the port-25 configuration, for relay-agent below
{
	echo "carol:$(openssl passwd -6 'c-secret')"
	echo "dave:$(openssl passwd -6 'd secret')"
} >"$T/auth"
# smtp-session's configuration for submission: the shipped sample with
# this test's paths.
sed -e "s|^hostname .*|hostname mx.test.example|" -e "s|^domain .*|domain test.example|" \
	-e "s|^users .*|users $T/users|" -e "s|^auth_file .*|auth_file $T/auth|" \
	"$TOP/etc/smtp-submission.conf.sample" >"$T/sub.conf"
printf 'mailbox_dir %s\nspool_dir %s\nlog %s\n' "$T/mail" "$T/spool" "$T/sublog" >>"$T/sub.conf"
check "the submission sample sets auth_file, relay_from none and tls_wrapped yes" \
	bash -c "grep -qx 'auth_file $T/auth' '$T/sub.conf' && grep -qx 'relay_from none' '$T/sub.conf' &&
		grep -qx 'tls_wrapped yes' '$T/sub.conf'"
check "the port-25 sample sets no auth_file" \
	bash -c "! grep -q '^auth_file' '$TOP/etc/smtp-session.conf.sample'"

SUB=$(free_port)
PROBE=$(free_port)
ACCEPT=127.0.0.1:$SUB
[ -n "$HAVE6" ] && ACCEPT=:::$SUB
# The shipped stunnel/smtps.conf with this test's port, certificate,
# programs and log; a second service runs a probe that reports what
# stunnel hands the program it runs.
sed -e "s|^debug = .*|debug = info\noutput = $T/stunnel-sub.log|" \
	-e "s|^accept = .*|accept = $ACCEPT|" \
	-e "s|^cert = .*|cert = $TLS/localhost.pem|" -e "s|^key = .*|key = $TLS/localhost.key|" \
	-e "s|^exec = .*|exec = $BIN/smtp-session|" \
	-e "s|^execArgs = .*|execArgs = smtp-session -c $T/sub.conf|" \
	"$TOP/stunnel/smtps.conf" >"$T/smtps.conf"
cat >>"$T/smtps.conf" <<-EOF
	[probe]
	accept = 127.0.0.1:$PROBE
	cert = $TLS/localhost.pem
	key = $TLS/localhost.key
	exec = $PY
	execArgs = python3 $T/probe.py
EOF
cat >"$T/probe.py" <<-'PY'
	import os, socket, sys
	s = socket.socket(fileno=os.dup(0))
	peer = s.getpeername()
	print("%s %s peer=%s REMOTE_HOST=%s" % (s.family.name, s.type.name, peer[0],
	      os.environ.get("REMOTE_HOST")), end="\r\n", flush=True)
PY
grep -v '^;' "$T/smtps.conf" | grep -q '@[A-Z]*@' && nok "no placeholder left in the test's smtps.conf"
bg stunnel4 "$T/smtps.conf" >>"$T/stunnel-sub.err" 2>&1
STUNNEL_SUB=$!
check "stunnel (shipped smtps.conf) listens on port $SUB" wait_port "$SUB"

# What stunnel 5.68 gives the program it runs (SPEC: a TCP socket whose
# peer is a loopback address, the real client in REMOTE_HOST).
got=$($PY - "$PROBE" "$TLS/testca.pem" <<-'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10, ("127.0.0.5", 0))
s = ctx.wrap_socket(raw, server_hostname="localhost")
got = b""
while True:
    try:
        b = s.recv(4096)
    except (ssl.SSLError, OSError):
        break
    if not b:
        break
    got += b
print(got.decode().strip())
PY
)
expect_eq "stunnel runs the program on a loopback TCP socket, client in REMOTE_HOST" \
	"$got" "AF_INET SOCK_STREAM peer=127.0.0.1 REMOTE_HOST=127.0.0.5"

# sw FROM-ADDR SWAKS-ARGS... - swaks over implicit TLS from a loopback
# address other than 127.0.0.1, verifying the server certificate.
sw() {
	local from=$1; shift
	timeout 30 swaks --server 127.0.0.1 --port "$SUB" --tlsc --tls-verify \
		--tls-ca-path "$TLS/testca.pem" --local-interface "$from" \
		--helo client.example --timeout 20 "$@" 2>&1
}

sw 127.0.0.5 --auth PLAIN --auth-user carol --auth-password c-secret \
	--from carol@test.example --to friend@far.example \
	--header "Subject: plain over tls" >"$T/swaks.plain"
check "swaks --tlsc AUTH PLAIN: 235" grep -q '^<~  235 ' "$T/swaks.plain"
check "swaks --tlsc AUTH PLAIN: foreign recipient accepted and queued" \
	grep -q '^<~  250 2.0.0 Ok: queued as' "$T/swaks.plain"
ENV=$(grep -l 'friend@far.example' "$T"/spool/env/* 2>/dev/null | head -n 1)
check "the message to a foreign domain is in the spool" test -n "$ENV"
check "envelope: authenticated user carol, client 127.0.0.5" \
	bash -c "grep -qx 'auth carol' '$ENV' && grep -qx 'client 127.0.0.5' '$ENV'"
MSG=$T/spool/msg/$(basename "${ENV:-none}")
check "spooled Received: client [127.0.0.5], with ESMTPSA" \
	bash -c "head -n 3 '$MSG' | tr -d '\n' | grep -q '^Received: from client.example (\[127.0.0.5\]).*with ESMTPSA id '"

sw 127.0.0.5 --auth LOGIN --auth-user dave --auth-password 'd secret' \
	--from dave@test.example --to bob@test.example \
	--header "Subject: login over tls" >"$T/swaks.login"
check "swaks --tlsc AUTH LOGIN: 235" grep -q '^<~  235 ' "$T/swaks.login"
check "swaks --tlsc AUTH LOGIN: local recipient delivered" grep -q '^<~  250 2.0.0 Ok' "$T/swaks.login"
check "bob's mbox has the message" grep -q '^Subject: login over tls' "$T/mail/bob"
check "mbox Received: client [127.0.0.5], with ESMTPSA" \
	bash -c "grep -A2 '^Received: from client.example' '$T/mail/bob' | tr -d '\n' |
		grep -q '(\[127.0.0.5\]).*with ESMTPSA id '"

# The shipped sample sets require_auth yes (RFC 6409 4.3): without AUTH
# not even MAIL is taken.
sw 127.0.0.6 --from someone@elsewhere.example --to friend@far.example >"$T/swaks.noauth"
check "without AUTH MAIL is refused with 530 5.7.0" \
	grep -q '^<~\* 530 5.7.0 Authentication required' "$T/swaks.noauth"
expect_eq "nothing more was spooled" "$(ls "$T/spool/env" | wc -l)" 1
sw 127.0.0.6 --from someone@elsewhere.example --to alice@test.example \
	--header "Subject: no auth over tls" >"$T/swaks.local"
check "without AUTH not even a local recipient is taken (530 5.7.0)" \
	grep -q '^<~\* 530 5.7.0 Authentication required' "$T/swaks.local"
check "without AUTH nothing reached a mailbox" test ! -e "$T/mail/alice"

check "log: connect from the real client address" grep -q 'connect from \[127.0.0.5\]' "$T/sublog"
check "log: AUTH PLAIN success names the real client" \
	grep -q 'auth: client=\[127.0.0.5\], method=PLAIN, user=<carol>' "$T/sublog"
check "log: AUTH LOGIN success names the real client" \
	grep -q 'auth: client=\[127.0.0.5\], method=LOGIN, user=<dave>' "$T/sublog"
check "log: the refusal names the real client" \
	grep -q 'reject: MAIL from \[127.0.0.6\];.* reply="530 5.7.0' "$T/sublog"
check "log: the accepted message names the real client" \
	grep -q ': client=\[127.0.0.5\], helo=<client.example>' "$T/sublog"
check "neither log nor Received name 127.0.0.1" \
	bash -c "! grep -q '127\.0\.0\.1' '$T/sublog' '$MSG' '$T/mail/bob' '$T/mail/alice'"
# SPEC: tls_wrapped is recorded in Received and in the log.
check "log: the sessions are marked as TLS-wrapped" \
	bash -c "grep '\[127.0.0.5\]' '$T/sublog' | grep -qi 'tls'"
check "stunnel's log names the client's address" \
	grep -qE 'Service \[smtps\] accepted connection from (::ffff:)?127\.0\.0\.5:' "$T/stunnel-sub.log"
check "password never in the log" bash -c "! grep -q 'c-secret\|d secret' '$T/sublog'"
kill "$STUNNEL_SUB" 2>/dev/null

# --- relaying through a TLS smarthost -----------------------------------
# relay-agent -> stunnel client (shipped smarthost.conf) -> stunnel server
# (TLS, test CA) -> smtp-session as the smarthost: relaying needs AUTH
# there (relay_from none), so what it spools came in authenticated.
SH=$T/sh
smarthost_setup "$SH"
SPORT=$(free_port)
RPORT=$(free_port)
# The smarthost (certificate from the test CA) and an impostor on another
# port (a certificate for localhost from an unknown CA).
cat >"$T/server.conf" <<-EOF
	foreground = yes
	pid =
	syslog = no
	debug = info
	output = $T/stunnel-server.log
	[smarthost]
	accept = 127.0.0.1:$SPORT
	cert = $TLS/localhost.pem
	key = $TLS/localhost.key
	exec = $BIN/smtp-session
	execArgs = smtp-session -c $SH/conf
	[impostor]
	accept = 127.0.0.1:$RPORT
	cert = $TLS/rogue.pem
	key = $TLS/rogue.key
	exec = $BIN/smtp-session
	execArgs = smtp-session -c $SH/conf
EOF
bg stunnel4 "$T/server.conf" >>"$T/stunnel-server.err" 2>&1
check "stunnel server (smarthost) listens" wait_port "$SPORT"
check "stunnel server (impostor) listens" wait_port "$RPORT"

# client NAME PORT CONNECT HOST - a stunnel client from the shipped
# smarthost.conf: accept on 127.0.0.1:PORT, connect to CONNECT, trust the
# test CA, expect a certificate for HOST. Ready when its log says the port
# is bound (a test connection would itself try the TLS handshake).
client() {
	sed -e '/^setuid\|^setgid/d' \
		-e "s|^debug = .*|debug = info\noutput = $T/stunnel-$1.log|" \
		-e "s|^accept = .*|accept = 127.0.0.1:$2|" -e "s|^connect = .*|connect = $3|" \
		-e "s|^CAfile = .*|CAfile = $TLS/testca.pem|" \
		-e "s|^checkHost = .*|checkHost = $4|" -e "s|^sni = .*|sni = $4|" \
		"$TOP/stunnel/smarthost.conf" >"$T/client-$1.conf"
	bg stunnel4 "$T/client-$1.conf" >>"$T/stunnel-$1.err" 2>&1
	wait_log "$T/stunnel-$1.log" "bound to 127\.0\.0\.1:$2\$"
}
CGOOD=$(free_port)
check "stunnel client for the smarthost listens" client good "$CGOOD" "127.0.0.1:$SPORT" localhost
check "shipped smarthost.conf verifies: verifyChain, checkHost, system CA bundle" \
	bash -c "grep -qx 'client = yes' '$TOP/stunnel/smarthost.conf' &&
		grep -qx 'verifyChain = yes' '$TOP/stunnel/smarthost.conf' &&
		grep -q '^checkHost = ' '$TOP/stunnel/smarthost.conf' &&
		grep -qx 'CAfile = /etc/ssl/certs/ca-certificates.crt' '$TOP/stunnel/smarthost.conf' &&
		grep -q '^accept = 127.0.0.1:' '$TOP/stunnel/smarthost.conf'"

# relay CLIENT-PORT [PASSWORD] - a relay-agent configuration that sends
# everything to the stunnel client on CLIENT-PORT.
relay_conf() {
	cp "$T/conf" "$T/relay-$1.conf"
	printf 'smarthost 127.0.0.1:%s\nsmarthost_auth relay %s\nconnect_timeout 5s\nsmtp_timeout 10s\n' \
		"$1" "${2:-relay pass word}" >>"$T/relay-$1.conf"
	echo "$T/relay-$1.conf"
}
# A message with dots, an 8-bit line, a "From " line and a long line.
$PY - "$T/body.txt" <<-'PY'
import sys
body = ("From: alice@test.example\nTo: friend@far.example\nSubject: via the TLS smarthost\n"
        "Message-ID: <tls-smarthost@test>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        ".\n..two dots\nFrom the start of a line\nGr\u00fc\u00dfe aus K\u00f6ln\n"
        + "x" * 900 + "\nlast line\n")
open(sys.argv[1], "wb").write(body.encode())
PY
RSPOOL="$PY $TOP/tests/relay-spool.py $T/spool"
# Leave only what the relay tests below queue.
rm -f "$T"/spool/env/* "$T"/spool/msg/*
M1=$($RSPOOL --rcpt friend@far.example --body "$T/body.txt")
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$(relay_conf "$CGOOD")" 2>"$T/relay1.err"
check "relay-agent: sent through the stunnel client" \
	grep -q "$M1: to=<friend@far.example>, relay=127.0.0.1\[127.0.0.1\]:$CGOOD, .*status=sent" "$T/log"
check "the message left our queue" test ! -e "$T/spool/env/$M1"
SENV=$(ls "$SH"/spool/env/* 2>/dev/null | head -n 1)
check "the smarthost queued it, authenticated as relay" \
	bash -c "[ -n '$SENV' ] && grep -qx 'auth relay' '$SENV' && grep -q 'friend@far.example' '$SENV'"
SMSG=$SH/spool/msg/$(basename "${SENV:-none}")
check "the smarthost's Received says ESMTPSA" \
	bash -c "head -n 3 '$SMSG' | tr -d '\n' | grep -q 'with ESMTPSA id '"
# Intact: the smarthost's copy is its Received header and then our bytes.
got=$($PY - "$SMSG" "$T/body.txt" <<-'PY'
import sys
data = open(sys.argv[1], "rb").read()
lines = data.split(b"\n")
i = 1
while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
    i += 1
print("intact" if b"\n".join(lines[i:]) == open(sys.argv[2], "rb").read() else "changed")
PY
)
expect_eq "the message arrived intact (dots, 8-bit, From line, 900-octet line)" "$got" intact
check "stunnel client verified the smarthost's certificate" \
	grep -q 'Certificate accepted at depth=0: CN=localhost' "$T/stunnel-good.log"

n_sessions() { grep -c 'connect from' "$SH/log"; }
SESS=$(n_sessions)
# failed ID WHAT - the checks after an attempt the stunnel client refused.
failed() {
	local id=$1 what=$2
	check "$what: nothing reached the smarthost" test "$(n_sessions)" = "$SESS"
	expect_eq "$what: the smarthost's queue still holds one message" "$(ls "$SH/spool/env" | wc -l)" 1
	check "$what: the message stays queued" test -e "$T/spool/env/$id" -a -e "$T/spool/msg/$id"
	check "$what: logged as deferred" grep -q "$id: to=<friend@far.example>, .*status=deferred" "$T/log"
	"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$T/conf" -l >"$T/list.$id" 2>&1
	check "$what: relay-agent -l lists it with the error and the next attempt" \
		bash -c "grep -q '$id' '$T/list.$id' && grep -A3 'friend@far.example' '$T/list.$id' | grep -qiE '4[0-9][0-9] |deferred|lost|closed'"
}

# Wrong host name: the smarthost's certificate is for localhost.
CNAME=$(free_port)
check "stunnel client expecting another host name listens" \
	client badname "$CNAME" "127.0.0.1:$SPORT" mail.example.net
M2=$($RSPOOL --rcpt friend@far.example --body "$T/body.txt")
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$(relay_conf "$CNAME")" 2>"$T/relay2.err"
failed "$M2" "wrong host name"
check "wrong host name: stunnel's log names the failure" \
	grep -q 'CERT: Subject checks failed' "$T/stunnel-badname.log"

# Unknown CA: the impostor's certificate is for localhost, but not from
# a CA we trust.
CCA=$(free_port)
check "stunnel client for the impostor listens" client badca "$CCA" "127.0.0.1:$RPORT" localhost
M3=$($RSPOOL --rcpt friend@far.example --body "$T/body.txt")
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$(relay_conf "$CCA")" 2>"$T/relay3.err"
failed "$M3" "unknown CA"
check "unknown CA: stunnel's log names the failure" \
	grep -q 'CERT: Pre-verification error: unable to get local issuer certificate' \
	"$T/stunnel-badca.log"

# A wrong password: the smarthost answers 535; deferred, nothing queued.
M4=$($RSPOOL --rcpt friend@far.example --body "$T/body.txt")
cp "$(relay_conf "$CGOOD" 'wrong password')" "$T/relay-wrongpass.conf"
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$T/relay-wrongpass.conf" 2>"$T/relay4.err"
check "wrong smarthost password: deferred with the smarthost's 535" \
	grep -q "$M4: to=<friend@far.example>, .*status=deferred (.*535" "$T/log"
expect_eq "wrong smarthost password: the smarthost queued nothing more" "$(ls "$SH/spool/env" | wc -l)" 1

# The certificate fixed (the good client): a flush delivers all three.
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$(relay_conf "$CGOOD")" -f 2>"$T/relay5.err"
expect_eq "after the fix, the flush delivered the deferred messages" "$(ls "$T/spool/env" | wc -l)" 0
expect_eq "the smarthost now holds four messages" "$(ls "$SH/spool/env" | wc -l)" 4
