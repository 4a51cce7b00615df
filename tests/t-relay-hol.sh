#!/bin/bash
# t-relay-hol.sh - a slow destination does not hold back a fast one: with
# room for 16 messages at once (128 descriptors), 40 messages for a
# server that takes 2 s per message do not keep the one for a fast server
# waiting for a slot; the messages put off are all sent in the same pass.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 4

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL"
dns_start --mx-host=slow.example,mx.slow.example,10 --host-record=mx.slow.example,127.0.0.150 \
	--mx-host=fast.example,mx.fast.example,10 --host-record=mx.fast.example,127.0.0.151 ||
	nok "dnsmasq answers"
script 127.0.0.150 slowdata=2 "$T/slow.log"
script 127.0.0.151 plain "$T/fast.log"
# Queue ids sort in this order: the slow ones are taken first.
for i in $(seq -w 1 40); do spool --id A$i --subject "slow $i" --rcpt "s$i@slow.example"; done
spool --id B1 --subject fast --rcpt f1@fast.example
prlimit --nofile=128:128 "$RELAY" -c "$T/conf"
expect_eq "all 40 slow messages sent in the pass" "$(taken "$T/slow.log" | grep -c .)" 40
expect_eq "the fast one sent" "$(taken "$T/fast.log")" f1@fast.example
# Taken only when a slot frees, it would come after at least 25 of the
# slow ones (40 - 16 + 1).
before=$(awk '/to=<f1@fast.example>/ { exit } /to=<s[0-9]+@slow.example>, .*status=sent/ { n++ } END { print n + 0 }' "$T/log")
check "the fast one did not wait for slow ones to free a slot ($before sent before it)" \
	test "$before" -lt 12
expect_eq "nothing deferred" "$(count_status deferred)" 0
exit 0
