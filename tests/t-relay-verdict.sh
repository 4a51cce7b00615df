#!/bin/bash
# t-relay-verdict.sh - a destination decided as failed at once (an address
# literal that is this host or no address, a label too long to ask DNS
# about) or before its later messages were taken (NXDOMAIN, with more
# messages than the pass holds at once): every recipient gets that
# verdict, bounced when it is permanent, never deferred as if no host had
# answered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 7

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL"
dns_start || nok "dnsmasq answers"

long=$(printf 'a%.0s' $(seq 70))
spool --sender '' --rcpt 'u@[127.0.0.1]'
spool --sender '' --rcpt 'v@[300.1.2.3]'
spool --sender '' --rcpt "w@$long.example"
"$RELAY" -c "$T/conf"
check "a literal that is this host: bounced 5.4.6" \
	grep -q 'to=<u@\[127.0.0.1\]>, relay=none, .*status=bounced (554 5.4.6 ' "$T/log"
check "a literal that is no address: bounced 5.1.2" \
	grep -q 'to=<v@\[300.1.2.3\]>, relay=none, .*status=bounced (550 5.1.2 bad address literal' "$T/log"
check "a 70-octet label: bounced 5.1.2" \
	grep -q "to=<w@$long.example>, relay=none, .*status=bounced (550 5.1.2 bad domain name" "$T/log"
expect_eq "none of them deferred" "$(count_status deferred)" 0

# 40 messages for a domain that does not exist, 128 descriptors: the pass
# holds 16 at once, the rest are taken after the lookup failed.
: >"$T/log"
for i in $(seq 1 40); do spool --sender '' --rcpt "n$i@nx.example"; done
prlimit --nofile=128:128 "$RELAY" -c "$T/conf"
expect_eq "NXDOMAIN: all 40 bounced" "$(count_status bounced)" 40
expect_eq "NXDOMAIN: none deferred" "$(count_status deferred)" 0
expect_eq "NXDOMAIN: the spool is empty" "$(ls "$SPOOL/env" | wc -l)" 0
exit 0
