#!/bin/bash
# t-relay-loop.sh - mail loops relay-agent must catch: an MX host that is
# our own smtp-session under another name (behind tcpserver: its greeting
# names our hostname), and an MX host whose address is one of this host's
# own (127.0.0.1). Both bounce with 5.4.6 "mail for DOMAIN loops back to
# myself" instead of going round; the bounce's text names the host.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 9

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL"
dns_start --mx-host=loopme.example,mx.elsewhere.example,10 \
	--host-record=mx.elsewhere.example,127.0.0.90 \
	--mx-host=selfaddr.example,mx.selfaddr.example,10 --host-record=mx.selfaddr.example,127.0.0.1 ||
	nok "dnsmasq answers"

# Our own smtp-session, same configuration (same hostname), on 127.0.0.90.
bg tcpserver -H -R -l 0 -c 50 127.0.0.90 "$P" "$BIN/smtp-session" -c "$T/conf" 2>>"$T/tcpserver.err"
wait_port "$P" 127.0.0.90

spool --subject "round and round" --rcpt x@loopme.example
LOOP=$ID
spool --subject "to myself" --rcpt y@selfaddr.example
SELF=$ID
"$RELAY" -c "$T/conf"
expect_eq "the pass exits 0" "$?" 0
check "greeting names our hostname: bounced 5.4.6" \
	grep -q "to=<x@loopme.example>, relay=mx.elsewhere.example\[127.0.0.90\]:$P, .*status=bounced (554 5.4.6 mail for loopme.example loops back to myself)" "$T/log"
check "our smtp-session accepted nothing (no MAIL reached it)" \
	sh -c "! grep -q 'smtp-session.*from=<alice@test.example>' '$T/log'"
expect_eq "nothing went back into the spool" "$(ls "$SPOOL/env" | wc -l)" 0
check "MX address that is one of ours (127.0.0.1): bounced 5.4.6" \
	grep -q "to=<y@selfaddr.example>, relay=none, .*status=bounced (554 5.4.6 mail for selfaddr.example loops back to myself)" "$T/log"
DSN=$($PY "$TOP/tests/relay-dsn.py" "$T/mail/alice" 2>&1)
check "DSN: the loop is failed 5.4.6" grep -qx 'RCPT x@loopme.example failed 5.4.6' <<<"$DSN"
check "DSN: the own-address loop is failed 5.4.6" grep -qx 'RCPT y@selfaddr.example failed 5.4.6' <<<"$DSN"
check "DSN text for a human names the host" \
	grep -q '^<x@loopme.example>: host mx.elsewhere.example said: 554 5.4.6 mail for loopme.example loops back to myself' "$T/mail/alice"
check "DSN: Remote-MTA names the host" grep -q '^Remote-MTA: dns; mx.elsewhere.example' "$T/mail/alice"
exit 0
