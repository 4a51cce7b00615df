#!/bin/bash
# t-relay-dsn.sh - what a bounce says (RFC 3464), read with Python's email
# package: a server's refusal names the server (Remote-MTA, "Diagnostic-
# Code: smtp", "host X said"); an error relay-agent found itself (a
# message that cannot be made 7-bit, the lifetime expired after a
# server's 451 or after refused connections) names none and is reported
# as "Diagnostic-Code: X-relay-agent"; original headers with 8-bit octets
# are declared 8bit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 17

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s" "queue_lifetime 1d"
mkdir -p "$SPOOL"
dns_start --mx-host=eight.example,mx.eight.example,10 --host-record=mx.eight.example,127.0.0.162 \
	--mx-host=seven.example,mx.seven.example,10 --host-record=mx.seven.example,127.0.0.163 \
	--mx-host=dead.example,mx.dead.example,10 --host-record=mx.dead.example,127.0.0.164 ||
	nok "dnsmasq answers"
script 127.0.0.162 8bit "$T/eight.log"
script 127.0.0.163 plain "$T/seven.log"
# Nothing listens on 127.0.0.164: connections are refused.

printf 'Subject: Gr\303\274\303\237e\nFrom: <alice@test.example>\n\nbody\n' >"$T/m8.txt"
spool --sender alice@test.example --subject remote --body "$T/m8.txt" --rcpt bad1@eight.example
spool --sender alice@test.example --subject seven --body "$T/m8.txt" --rcpt conv@seven.example
spool --sender alice@test.example --subject expired --age 90000 --rcpt later@eight.example
spool --sender alice@test.example --subject refused --age 90000 --rcpt gone@dead.example
"$RELAY" -c "$T/conf"
"$RELAY" -c "$T/conf"
expect_eq "four recipients bounced" "$(count_status bounced)" 4

# One line per recipient of every bounce in alice's mailbox:
# rcpt|Remote-MTA|diagnostic type|human line|8bit declared (part, top)
$PY - "$T/mail/alice" >"$T/dsn" <<-'PY'
import mailbox, sys
for m in mailbox.mbox(sys.argv[1]):
    human = [p for p in m.walk() if p.get_content_type() == "text/plain"][0].get_payload()
    ds = [p for p in m.walk() if p.get_content_type() == "message/delivery-status"][0]
    hp = [p for p in m.walk() if p.get_content_type() == "text/rfc822-headers"][0]
    for b in ds.get_payload()[1:]:
        rcpt = b["Final-Recipient"].split(";")[1].strip()
        line = [l for l in human.splitlines() if l.startswith("<%s>" % rcpt)][0]
        print("%s|%s|%s|%s|%s,%s" % (rcpt, b.get("Remote-MTA", "-"),
              b["Diagnostic-Code"].split(";")[0], "said" if " said: " in line else "plain",
              hp.get("Content-Transfer-Encoding", "-"), m.get("Content-Transfer-Encoding", "-")))
PY
field() { awk -F'|' -v r="$1" -v f="$2" '$1 == r { print $f }' "$T/dsn"; }
expect_eq "a server's refusal: Remote-MTA names it" "$(field bad1@eight.example 2)" "dns; mx.eight.example"
expect_eq "a server's refusal: Diagnostic-Code smtp" "$(field bad1@eight.example 3)" smtp
expect_eq "a server's refusal: the text says which host said it" "$(field bad1@eight.example 4)" said
expect_eq "8-bit original headers: that part and the report declared 8bit" \
	"$(field bad1@eight.example 5)" "8bit,8bit"
expect_eq "cannot be made 7-bit (5.6.3): no Remote-MTA" "$(field conv@seven.example 2)" -
expect_eq "cannot be made 7-bit (5.6.3): Diagnostic-Code X-relay-agent" \
	"$(field conv@seven.example 3)" X-relay-agent
expect_eq "cannot be made 7-bit (5.6.3): no host said it" "$(field conv@seven.example 4)" plain
expect_eq "expired after a server's 451: no Remote-MTA" "$(field later@eight.example 2)" -
expect_eq "expired after a server's 451: Diagnostic-Code X-relay-agent" \
	"$(field later@eight.example 3)" X-relay-agent
expect_eq "expired after a server's 451: no host said it" "$(field later@eight.example 4)" plain
expect_eq "7-bit original headers: nothing declared" "$(field later@eight.example 5)" "-,-"
expect_eq "expired, connection refused: no Remote-MTA" "$(field gone@dead.example 2)" -
expect_eq "expired, connection refused: Diagnostic-Code X-relay-agent" \
	"$(field gone@dead.example 3)" X-relay-agent
expect_eq "expired, connection refused: no host said it" "$(field gone@dead.example 4)" plain
check "the connection refused is the reason given" \
	grep -q "to=<gone@dead.example>, .*status=bounced (554 5.4.7 delivery time expired (451 4.4.1 connect to" "$T/log"
check "the 8-bit header reached alice's mailbox as it was" grep -q $'^Subject: Gr\303\274\303\237e' "$T/mail/alice"
exit 0
