#!/bin/bash
# t-relay-busy.sh - relay-agent against busy servers (tests/relay-script.py
# behind dnsmasq MX records): a 421 after N messages per connection, a
# close after every message, 452 and 552 beyond N recipients per
# transaction, at most 100 RCPTs per transaction, a primary MX that
# soft-fails every message (the backup's connection is kept), a primary
# that refuses every connection (down for the pass, not retried per
# message). Everything must be delivered in one pass.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 23

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL"
records=()
i=50
for d in limit close rcpt452 rcpt552 many limit1; do
	records+=(--mx-host=$d.example,mx.$d.example,10 --host-record=mx.$d.example,127.0.0.$i)
	i=$((i + 1))
done
records+=(--mx-host=soft.example,mx1.soft.example,10 --host-record=mx1.soft.example,127.0.0.60
	--mx-host=soft.example,mx2.soft.example,20 --host-record=mx2.soft.example,127.0.0.61
	--mx-host=refuse.example,mx1.refuse.example,10 --host-record=mx1.refuse.example,127.0.0.62
	--mx-host=refuse.example,mx2.refuse.example,20 --host-record=mx2.refuse.example,127.0.0.63)
dns_start "${records[@]}" || nok "dnsmasq answers"

script 127.0.0.50 limit=10 "$T/limit.log"
script 127.0.0.51 closeafter "$T/close.log"
script 127.0.0.52 pipe,rcptmax=50 "$T/rcpt452.log"
script 127.0.0.53 rcpt552=50 "$T/rcpt552.log"
script 127.0.0.54 pipe "$T/many.log"
script 127.0.0.60 soft "$T/soft1.log"
script 127.0.0.61 plain "$T/soft2.log"
script 127.0.0.62 refuse "$T/refuse1.log"
script 127.0.0.63 plain "$T/refuse2.log"

for i in $(seq 1 30); do spool --subject "limit $i" --rcpt "l$i@limit.example"; done
for i in $(seq 1 10); do spool --subject "close $i" --rcpt "c$i@close.example"; done
args=(); for i in $(seq 1 120); do args+=(--rcpt "r$i@rcpt452.example"); done
spool --subject "120 recipients" "${args[@]}"
args=(); for i in $(seq 1 70); do args+=(--rcpt "q$i@rcpt552.example"); done
spool --subject "70 recipients" "${args[@]}"
args=(); for i in $(seq 1 250); do args+=(--rcpt "m$i@many.example"); done
spool --subject "250 recipients" "${args[@]}"
for i in $(seq 1 20); do spool --subject "soft $i" --rcpt "s$i@soft.example"; done
for i in $(seq 1 20); do spool --subject "refuse $i" --rcpt "f$i@refuse.example"; done

"$RELAY" -c "$T/conf" 2>"$T/pass.err"
expect_eq "the pass exits 0" "$?" 0
expect_eq "nothing deferred" "$(count_status deferred)" 0
expect_eq "nothing bounced" "$(count_status bounced)" 0
expect_eq "the spool is empty" "$(ls "$SPOOL/env" | wc -l)" 0

# 421 after 10 messages per connection: reconnect and go on.
expect_eq "421 after 10 per connection: all 30 taken in one pass" "$(taken "$T/limit.log" | grep -c .)" 30

# The same with one connection at a time: 421 after 10, reconnect, go on.
script 127.0.0.55 limit=10 "$T/limit1.log"
cp "$T/conf" "$T/conf.one"
printf 'destination_concurrency 1\n' >>"$T/conf.one"
for i in $(seq 1 25); do spool --subject "limit1 $i" --rcpt "k$i@limit1.example"; done
"$RELAY" -c "$T/conf.one"
expect_eq "one connection at a time, 421 after 10: all 25 taken in one pass" \
	"$(taken "$T/limit1.log" | grep -c .)" 25
expect_eq "one connection at a time, 421 after 10: three connections" "$(conns "$T/limit1.log" opens)" 3
expect_eq "one connection at a time, 421 after 10: the server said 421 twice" \
	"$(grep -c '"ev": "421"' "$T/limit1.log")" 2

# Close after each message: reconnect.
expect_eq "close after each message: all 10 taken" "$(taken "$T/close.log" | grep -c .)" 10

# 452 beyond 50 RCPTs: the rest in new transactions.
expect_eq "452 beyond 50: all 120 recipients taken" "$(taken "$T/rcpt452.log" | sort -u | grep -c .)" 120
expect_eq "452 beyond 50: no transaction over 50" "$(conns "$T/rcpt452.log" txnmax)" 50
expect_eq "452 beyond 50: no recipient taken twice" "$(taken "$T/rcpt452.log" | uniq -d)" ""

# 552 at RCPT counts as 452 (RFC 5321 4.5.3.1.10).
expect_eq "552 beyond 50: all 70 recipients taken, none bounced" \
	"$(taken "$T/rcpt552.log" | sort -u | grep -c .)" 70

# At most 100 RCPTs per transaction.
expect_eq "250 recipients: all taken" "$(taken "$T/many.log" | sort -u | grep -c .)" 250
expect_eq "250 recipients: at most 100 per transaction" "$(conns "$T/many.log" txnmax)" 100
expect_eq "250 recipients: no RCPT beyond 100 in a transaction" \
	"$($PY -c '
import json, sys
n, best = {}, 0
for l in open(sys.argv[1]):
    d = json.loads(l)
    c, k = d.get("cmd", "").upper(), d.get("conn")
    if c.startswith("MAIL"): n[k] = 0
    if c.startswith("RCPT"): n[k] = n.get(k, 0) + 1; best = max(best, n[k])
print(best)' "$T/many.log")" 100

# A primary that soft-fails every message: delivered through the backup,
# whose connections are reused; the primary is not reconnected per message.
expect_eq "primary soft-fails: all 20 taken by the backup" "$(taken "$T/soft2.log" | grep -c .)" 20
expect_eq "primary soft-fails: the primary took nothing" "$(taken "$T/soft1.log")" ""
check "primary soft-fails: fewer than 10 connections to it for 20 messages (was one per message)" \
	test "$(conns "$T/soft1.log" opens)" -lt 10
check "primary soft-fails: connections to the backup carry several messages" \
	test "$(conns "$T/soft2.log" opens)" -lt 20

# A primary that refuses every connection (554 greeting) is down for the pass.
expect_eq "primary refuses: all 20 taken by the backup" "$(taken "$T/refuse2.log" | grep -c .)" 20
check "primary refuses: fewer than 10 connections to it for 20 messages" \
	test "$(conns "$T/refuse1.log" opens)" -lt 10
check "primary refuses: logged down for the pass" grep -q "127.0.0.62:$P down for this pass" "$T/log"
exit 0
