#!/bin/bash
# t-starttls.sh - STARTTLS the inetd way, through stunnel's "protocol =
# smtp", with the shipped files. Submission on port 587
# (stunnel/submission-starttls.conf running smtp-session with
# etc/smtp-submission.conf.sample): STARTTLS offered and required before
# smtp-session runs, then swaks --tls and msmtp (tls_starttls on,
# verifying the test CA) with AUTH LOGIN; MAIL before AUTH refused with
# 530 (require_auth yes). Relaying through a smarthost that offers only
# STARTTLS (stunnel/smarthost-starttls.conf, a client with "protocol =
# smtp") to a receiver behind stunnel "protocol = smtp" in server mode;
# a wrong certificate name, or a receiver without STARTTLS, gets nothing
# (no AUTH, no message) and the message stays queued.
#
# Every stunnel runs in the foreground with its log in $T and is killed by
# its PID. A test CA and certificates for localhost are made here.
. "$(dirname "$0")/lib.sh"
plan 27

TLS=$T/tls
mkdir -p "$TLS"
check "openssl makes a test CA, a certificate for localhost and an unknown CA" \
	bash -c "$(declare -f tls_ca tls_cert); TLS='$TLS'; tls_ca testca && tls_cert localhost testca localhost && tls_ca rogueca"

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

# --- submission on port 587 ---------------------------------------------
write_conf
{
	echo "carol:$(openssl passwd -6 'c-secret')"
	echo "dave:$(openssl passwd -6 'd secret')"
} >"$T/auth"
sed -e "s|^hostname .*|hostname mx.test.example|" -e "s|^domain .*|domain test.example|" \
	-e "s|^users .*|users $T/users|" -e "s|^auth_file .*|auth_file $T/auth|" \
	"$TOP/etc/smtp-submission.conf.sample" >"$T/sub.conf"
printf 'mailbox_dir %s\nspool_dir %s\nlog %s\n' "$T/mail" "$T/spool" "$T/sublog" >>"$T/sub.conf"
check "the submission sample sets require_auth yes, auth_file, relay_from none, tls_wrapped yes" \
	bash -c "grep -qx 'require_auth yes' '$T/sub.conf' && grep -qx 'auth_file $T/auth' '$T/sub.conf' &&
		grep -qx 'relay_from none' '$T/sub.conf' && grep -qx 'tls_wrapped yes' '$T/sub.conf'"

SUB=$(free_port)
# The shipped file with this test's port, certificate, program and log.
sed -e "s|^debug = .*|debug = info\noutput = $T/stunnel-sub.log|" \
	-e "s|^accept = .*|accept = 127.0.0.1:$SUB|" \
	-e "s|^cert = .*|cert = $TLS/localhost.pem|" -e "s|^key = .*|key = $TLS/localhost.key|" \
	-e "s|^exec = .*|exec = $BIN/smtp-session|" \
	-e "s|^execArgs = .*|execArgs = smtp-session -c $T/sub.conf|" \
	"$TOP/stunnel/submission-starttls.conf" >"$T/sub-stunnel.conf"
check "shipped submission-starttls.conf: protocol = smtp, port 587, smtp-submission.conf" \
	bash -c "grep -qx 'protocol = smtp' '$TOP/stunnel/submission-starttls.conf' &&
		grep -qx 'accept = :::587' '$TOP/stunnel/submission-starttls.conf' &&
		grep -qx 'execArgs = smtp-session -c @SYSCONFDIR@/smtp-submission.conf' '$TOP/stunnel/submission-starttls.conf'"
bg stunnel4 "$T/sub-stunnel.conf" >>"$T/stunnel-sub.err" 2>&1
check "stunnel (shipped submission-starttls.conf) listens on port $SUB" wait_port "$SUB"

# plain FROM LINES... - a plaintext session from FROM: print what the
# server says to each line (first line of each reply), "closed" at EOF.
plain() {
	$PY - "$SUB" "$@" <<-'PY'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10, (sys.argv[2], 0))
	f = s.makefile("rb")
	def reply():
	    out = []
	    while True:
	        l = f.readline()
	        if not l:
	            out.append("closed"); break
	        out.append(l.decode(errors="replace").rstrip())
	        if l[3:4] != b"-":
	            break
	    print(" | ".join(out))
	try:
	    reply()
	    for c in sys.argv[3:]:
	        s.sendall(c.encode() + b"\r\n"); reply()
	except OSError:
	    print("closed")
	PY
}
got=$(plain 127.0.0.7 "EHLO client.example")
expect_eq "before TLS: stunnel greets and offers only STARTTLS" "$got" \
"220 mx.test.example stunnel for ESMTP ready
250-mx.test.example | 250 STARTTLS"
got=$(plain 127.0.0.7 "EHLO client.example" "MAIL FROM:<x@remote.example>" "RCPT TO:<alice@test.example>")
check "a client that skips STARTTLS gets no SMTP session (no 250 to MAIL)" \
	bash -c "! echo '$got' | sed -n '3,\$p' | grep -q '^250'"
# stunnel runs smtp-session at once, for its greeting; the session then
# gets nothing and ends when stunnel drops the client.
check "smtp-session got no command from it" \
	bash -c "grep -q 'disconnect from \[127.0.0.7\] commands=0 errors=0' '$T/sublog' &&
		! grep '127.0.0.7' '$T/sublog' | grep -vqE '(dis)?connect from \[127.0.0.7\]|lost connection from'"

# sw FROM-ADDR SWAKS-ARGS... - swaks with STARTTLS (required) from a
# loopback address other than 127.0.0.1, verifying the test CA.
sw() {
	local from=$1; shift
	timeout 30 swaks --server 127.0.0.1 --port "$SUB" --tls --tls-verify \
		--tls-ca-path "$TLS/testca.pem" --local-interface "$from" \
		--helo client.example --timeout 20 "$@" 2>&1
}
sw 127.0.0.5 --auth LOGIN --auth-user carol --auth-password c-secret \
	--from carol@test.example --to friend@far.example \
	--header "Subject: starttls login" >"$T/swaks.login"
check "swaks --tls: STARTTLS, then smtp-session's EHLO offers AUTH" \
	bash -c "grep -q '^<-  220 Go ahead' '$T/swaks.login' && grep -q '^<~  250-AUTH PLAIN LOGIN' '$T/swaks.login'"
check "swaks --tls AUTH LOGIN: 235" grep -q '^<~  235 ' "$T/swaks.login"
check "swaks --tls AUTH LOGIN: foreign recipient accepted and queued" \
	grep -q '^<~  250 2.0.0 Ok: queued as' "$T/swaks.login"
ENV=$(grep -l 'friend@far.example' "$T"/spool/env/* 2>/dev/null | head -n 1)
check "envelope: authenticated user carol, client 127.0.0.5" \
	bash -c "[ -n '$ENV' ] && grep -qx 'auth carol' '$ENV' && grep -qx 'client 127.0.0.5' '$ENV'"
MSG=$T/spool/msg/$(basename "${ENV:-none}")
check "spooled Received: client [127.0.0.5], with ESMTPSA" \
	bash -c "head -n 3 '$MSG' | tr -d '\n' | grep -q '^Received: from client.example (\[127.0.0.5\]).*with ESMTPSA id '"

sw 127.0.0.6 --from carol@test.example --to bob@test.example >"$T/swaks.noauth"
check "MAIL before AUTH: 530 5.7.0 Authentication required (require_auth yes)" \
	grep -q '^<~\* 530 5.7.0 Authentication required' "$T/swaks.noauth"
check "MAIL before AUTH: nothing delivered to bob" test ! -e "$T/mail/bob"
sw 127.0.0.6 --auth LOGIN --auth-user carol --auth-password wrong \
	--from carol@test.example --to bob@test.example >"$T/swaks.badpass"
check "a wrong password: 535" grep -q '^<~\* 535 ' "$T/swaks.badpass"

# msmtp, as a user's mail program would be set up for port 587.
# msmtprc CA - an msmtp configuration that trusts CA.
msmtprc() {
	cat >"$T/msmtprc.$1" <<-EOF
	account sub
	host 127.0.0.1
	port $SUB
	source_ip 127.0.0.8
	domain client.example
	from dave@test.example
	auth login
	user dave
	password d secret
	tls on
	tls_starttls on
	tls_trust_file $TLS/$1.pem
	tls_host_override localhost
	logfile $T/msmtp.$1.log
	EOF
	chmod 600 "$T/msmtprc.$1"
}
msmtprc testca
printf 'From: dave@test.example\nTo: bob@test.example\nSubject: msmtp over starttls\n\nhello bob\n' >"$T/msmtp.msg"
timeout 30 msmtp -C "$T/msmtprc.testca" -a sub bob@test.example <"$T/msmtp.msg" >"$T/msmtp.out" 2>&1
rc=$?
expect_eq "msmtp (tls_starttls on, test CA trusted, AUTH LOGIN): exit 0" "$rc:$(cat "$T/msmtp.out")" "0:"
check "bob's mbox has msmtp's message, Received from [127.0.0.8] with ESMTPSA" \
	bash -c "grep -q '^Subject: msmtp over starttls' '$T/mail/bob' &&
		grep -A2 '^Received: from client.example' '$T/mail/bob' | tr -d '\n' | grep -q '(\[127.0.0.8\]).*with ESMTPSA id '"
msmtprc rogueca
timeout 30 msmtp -C "$T/msmtprc.rogueca" -a sub bob@test.example <"$T/msmtp.msg" >"$T/msmtp-rogue.out" 2>&1
rc=$?
check "msmtp trusting another CA refuses the server's certificate" \
	bash -c "[ $rc -ne 0 ] && grep -qi 'certificate' '$T/msmtp-rogue.out'"
expect_eq "bob's mbox holds one message only" "$(grep -c '^From ' "$T/mail/bob")" 1
check "password never in the log" bash -c "! grep -q 'c-secret\|d secret' '$T/sublog'"

# --- relaying to a smarthost that offers only STARTTLS --------------------
# relay-agent -> stunnel client (shipped smarthost-starttls.conf) ->
# stunnel server with "protocol = smtp" (test CA) -> smtp-session that
# requires AUTH for relaying.
SH=$T/sh
mkdir -p "$SH/mail" "$SH/spool"
printf 'postmaster\n' >"$SH/users"
echo "relay:$(openssl passwd -6 'relay pass word')" >"$SH/auth"
printf '%s\n' "hostname smarthost.test" "domain smarthost.test" "users $SH/users" \
	"mailbox_dir $SH/mail" "spool_dir $SH/spool" "log $SH/log" "auth_file $SH/auth" \
	"relay_from none" "tls_wrapped yes" >"$SH/conf"
SPORT=$(free_port)
cat >"$T/server.conf" <<-EOF
	foreground = yes
	pid =
	syslog = no
	debug = info
	output = $T/stunnel-server.log
	[smarthost]
	accept = 127.0.0.1:$SPORT
	protocol = smtp
	cert = $TLS/localhost.pem
	key = $TLS/localhost.key
	exec = $BIN/smtp-session
	execArgs = smtp-session -c $SH/conf
EOF
bg stunnel4 "$T/server.conf" >>"$T/stunnel-server.err" 2>&1
check "the smarthost (stunnel protocol = smtp, server) listens" wait_port "$SPORT"
# A receiver without STARTTLS: smtp-session alone, same configuration.
PPORT=$(free_port)
bg systemd-socket-activate -l "127.0.0.1:$PPORT" -a --inetd \
	-E "ASAN_OPTIONS=${ASAN_OPTIONS:-}" -E "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" \
	"$BIN/smtp-session" -c "$SH/conf" 2>>"$T/activator.log"
wait_port "$PPORT"

# client NAME PORT CONNECT HOST - a stunnel client from the shipped
# smarthost-starttls.conf: accept on 127.0.0.1:PORT, connect to CONNECT,
# trust the test CA, expect a certificate for HOST.
client() {
	sed -e '/^setuid\|^setgid/d' \
		-e "s|^debug = .*|debug = info\noutput = $T/stunnel-$1.log|" \
		-e "s|^accept = .*|accept = 127.0.0.1:$2|" -e "s|^connect = .*|connect = $3|" \
		-e "s|^CAfile = .*|CAfile = $TLS/testca.pem|" \
		-e "s|^checkHost = .*|checkHost = $4|" -e "s|^sni = .*|sni = $4|" \
		"$TOP/stunnel/smarthost-starttls.conf" >"$T/client-$1.conf"
	bg stunnel4 "$T/client-$1.conf" >>"$T/stunnel-$1.err" 2>&1
	wait_log "$T/stunnel-$1.log" "bound to 127\.0\.0\.1:$2\$"
}
# relay_conf PORT - a relay-agent configuration for the client on PORT.
relay_conf() {
	cp "$T/conf" "$T/relay-$1.conf"
	printf 'smarthost 127.0.0.1:%s\nsmarthost_auth relay relay pass word\nconnect_timeout 5s\nsmtp_timeout 10s\n' \
		"$1" >>"$T/relay-$1.conf"
	echo "$T/relay-$1.conf"
}
RSPOOL="$PY $TOP/tests/relay-spool.py $T/spool"
rm -f "$T"/spool/env/* "$T"/spool/msg/*
printf 'From: alice@test.example\nTo: friend@far.example\nSubject: via starttls\n\n.\n..two dots\nlast line\n' >"$T/body.txt"

CGOOD=$(free_port)
client good "$CGOOD" "127.0.0.1:$SPORT" localhost
M1=$($RSPOOL --rcpt friend@far.example --body "$T/body.txt")
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$(relay_conf "$CGOOD")" 2>"$T/relay1.err"
check "relay-agent: sent through the STARTTLS client" \
	grep -q "$M1: to=<friend@far.example>, relay=127.0.0.1\[127.0.0.1\]:$CGOOD, .*status=sent" "$T/log"
SENV=$(ls "$SH"/spool/env/* 2>/dev/null | head -n 1)
check "the smarthost queued it, authenticated as relay, with ESMTPSA" \
	bash -c "[ -n '$SENV' ] && grep -qx 'auth relay' '$SENV' &&
		head -n 3 '$SH/spool/msg/$(basename "${SENV:-none}")' | tr -d '\n' | grep -q 'with ESMTPSA id '"
check "the STARTTLS handshake verified the smarthost's certificate" \
	bash -c "grep -q 'Certificate accepted at depth=0: CN=localhost' '$T/stunnel-good.log' &&
		grep -q 'TLS accepted' '$T/stunnel-server.log'"

# Wrong name: the smarthost's certificate is for localhost.
CNAME=$(free_port)
client badname "$CNAME" "127.0.0.1:$SPORT" mail.example.net
S0=$(grep -c 'connect from' "$SH/log")
M2=$($RSPOOL --rcpt friend@far.example --body "$T/body.txt")
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$(relay_conf "$CNAME")" 2>"$T/relay2.err"
check "wrong certificate name: deferred, still queued, no AUTH and no message sent" \
	bash -c "grep -q '$M2: to=<friend@far.example>, .*status=deferred' '$T/log' &&
		[ -e '$T/spool/env/$M2' ] && [ \"\$(grep -c 'auth:' '$SH/log')\" = 1 ] &&
		[ \"\$(ls '$SH/spool/env' | wc -l)\" = 1 ] && grep -q 'CERT: Subject checks failed' '$T/stunnel-badname.log'"
# No STARTTLS offered: stunnel gives up after its EHLO.
CPLAIN=$(free_port)
client plain "$CPLAIN" "127.0.0.1:$PPORT" localhost
M3=$($RSPOOL --rcpt friend@far.example --body "$T/body.txt")
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$(relay_conf "$CPLAIN")" 2>"$T/relay3.err"
check "receiver without STARTTLS: deferred and still queued" \
	bash -c "grep -q '$M3: to=<friend@far.example>, .*status=deferred' '$T/log' && [ -e '$T/spool/env/$M3' ]"
check "receiver without STARTTLS: it was reached but saw no AUTH and no message" \
	bash -c "[ \"\$(grep -c 'connect from' '$SH/log')\" -gt '$S0' ] &&
		[ \"\$(grep -c 'auth:' '$SH/log')\" = 1 ] && [ \"\$(ls '$SH/spool/env' | wc -l)\" = 1 ]"
