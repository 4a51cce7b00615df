#!/bin/bash
# t-relay-conns.sh - connections as busy servers and resolvers see them: an
# MX host and a smarthost that take only so many connections at once
# (more get 421 at the greeting) receive everything in one pass, the
# refusals being a limit, not a dead host; a connection carries at most
# 100 messages; the address lookups of a domain whose MX answer came go
# out ahead of the MX queries still waiting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 13

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 10s" \
	"connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL"
records=(--mx-host=lim.example,mx.lim.example,10 --host-record=mx.lim.example,127.0.0.130
	--mx-host=many.example,mx.many.example,10 --host-record=mx.many.example,127.0.0.132)
for i in $(seq 1 1000); do
	records+=(--mx-host=dom$i.example,mx.dom$i.example,10 --host-record=mx.dom$i.example,127.0.0.133)
done
dns_start "${records[@]}" || nok "dnsmasq answers"

# --- an MX host that takes 2 connections at once ---
script 127.0.0.130 maxconn=2,slowdata=0.5 "$T/lim.log"
for i in $(seq 1 20); do spool --subject "lim $i" --rcpt "u$i@lim.example"; done
"$RELAY" -c "$T/conf"
expect_eq "at most 2 connections: all 20 sent in one pass" "$(taken "$T/lim.log" | grep -c .)" 20
expect_eq "at most 2 connections: nothing deferred" "$(count_status deferred)" 0
check "at most 2 connections: some connections were refused (the limit was met)" \
	grep -q '"ev": "refused"' "$T/lim.log"
check "at most 2 connections: the address was never down" \
	sh -c "! grep -q '127.0.0.130:$P down for this pass' '$T/log'"
check "at most 2 connections: at most 4 refused (the pass learns the limit)" \
	test "$(grep -c '"ev": "refused"' "$T/lim.log")" -le 4

# --- a smarthost that takes 3 at once, 50 domains ---
script 127.0.0.131 maxconn=3,slowdata=0.2 "$T/smart.log"
sed "/^nameserver /d" "$T/conf" >"$T/conf.smart"
printf 'smarthost 127.0.0.131:%s\n' "$P" >>"$T/conf.smart"
: >"$T/log"
for i in $(seq 1 50); do spool --subject "smart $i" --rcpt "s$i@d$i.example"; done
"$RELAY" -c "$T/conf.smart"
expect_eq "smarthost taking 3: all 50 sent in one pass" "$(taken "$T/smart.log" | grep -c .)" 50
expect_eq "smarthost taking 3: nothing deferred" "$(count_status deferred)" 0
check "smarthost taking 3: it refused connections on the way" grep -q '"ev": "refused"' "$T/smart.log"

# --- at most 100 messages over one connection ---
script 127.0.0.132 pipe "$T/many.log"
cp "$T/conf" "$T/conf.one"
printf 'destination_concurrency 1\n' >>"$T/conf.one"
for i in $(seq 1 150); do spool --subject "many $i" --rcpt "m$i@many.example"; done
"$RELAY" -c "$T/conf.one"
expect_eq "150 messages, one at a time: all taken" "$(taken "$T/many.log" | grep -c .)" 150
expect_eq "150 messages, one at a time: at most 100 over one connection" "$($PY - "$T/many.log" <<-'PY'
	import collections, json, sys
	n = collections.Counter(json.loads(l)["conn"] for l in open(sys.argv[1])
	                        if json.loads(l).get("ev") == "message")
	print(max(n.values()))
	PY
	)" 100
expect_eq "150 messages, one at a time: two connections" "$(conns "$T/many.log" opens)" 2

# --- 1000 domains at once: address queries go out as MX answers come ---
script 127.0.0.133 pipe "$T/dom.log"
args=(); for i in $(seq 1 1000); do args+=(--rcpt "x$i@dom$i.example"); done
spool --subject "1000 domains" "${args[@]}"
"$RELAY" -c "$T/conf" -v 2>"$T/dom.err"
expect_eq "1000 domains: all taken" "$(taken "$T/dom.log" | sort -u | grep -c .)" 1000
# 150 queries are in flight at most. Address queries waiting behind every
# MX query would come after at least 850 MX answers; going first, the
# first address answer comes after the first answers (at most 150) and
# those in flight with them.
n=$(awk '/: dns dom[0-9]+\.example: A mx\./ { print NR; exit }' "$T/dom.err")
mx=$(head -n "${n:-0}" "$T/dom.err" | grep -c ': dns dom[0-9]*\.example: MX 10 ')
check "1000 domains: the first address answer came after $mx MX answers (fewer than 500)" \
	test -n "$n" -a "$mx" -lt 500
exit 0
