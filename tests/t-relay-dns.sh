#!/bin/bash
# t-relay-dns.sh - relay-agent's resolver against dnsmasq: 1000 domains,
# each with its own MX name, resolved in one pass with none deferred (the
# queries in flight are bounded, the receive buffer enlarged); an MX
# record naming an address instead of a host is ignored with a warning.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
N=1000
plan 7

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 10s" \
	"connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL/msg" "$SPOOL/env" "$SPOOL/tmp"
records=()
for i in $(seq 1 $N); do
	records+=(--mx-host=d$i.example,mx.d$i.example,10 --host-record=mx.d$i.example,127.0.0.$(( 80 + i % 5 )))
done
records+=(--mx-host=numeric.example,127.0.0.85,10 --mx-host=numeric.example,mx.numeric.example,20
	--host-record=mx.numeric.example,127.0.0.86)
dns_start "${records[@]}" || nok "dnsmasq answers"
for a in 80 81 82 83 84 86; do script 127.0.0.$a pipe "$T/r$a.log"; done
script 127.0.0.85 plain "$T/r85.log"

# The queue, written directly (faster than one process per message).
$PY - "$SPOOL" "$N" <<-'PY'
import os, sys, time
spool, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    qid = "D%05dX%X" % (i, int(time.time()))
    with open("%s/msg/%s" % (spool, qid), "w") as f:
        f.write("Subject: domain %d\n\nhello\n" % i)
    with open("%s/env/%s" % (spool, qid), "w") as f:
        f.write("version 2\nid %s\narrival %d\nsender alice@test.example\nbody 7BIT\n"
                "auth \nclient 127.0.0.1\nhelo h\nrcpt pending\t0\t0\t0\tu@d%d.example\t"
                "u@d%d.example\t\n" % (qid, time.time(), i, i))
PY
spool --subject numeric --rcpt n@numeric.example

"$RELAY" -c "$T/conf" 2>"$T/pass.err"
expect_eq "1000 domains: the pass exits 0" "$?" 0
expect_eq "1000 domains: none deferred" "$(count_status deferred)" 0
expect_eq "1000 domains: all sent" "$(grep -c 'to=<u@d[0-9]*.example>.*status=sent ' "$T/log")" $N
expect_eq "1000 domains: the receivers took them all" \
	"$(cat "$T"/r8[0-4].log | grep -c '"ev": "message"')" $N
check "numeric MX name: warned about" \
	grep -q 'numeric domain name in resource data of MX record for numeric.example: 127.0.0.85' "$T/log"
expect_eq "numeric MX name: not used" "$(taken "$T/r85.log")" ""
expect_eq "numeric MX name: the next MX took it" "$(taken "$T/r86.log")" n@numeric.example
exit 0
