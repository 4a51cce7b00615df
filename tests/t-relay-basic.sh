#!/bin/bash
# t-relay-basic.sh - relay-agent against a DNS server (dnsmasq) and
# receiving SMTP servers (aiosmtpd) on loopback addresses: MX order and
# fallback, implicit MX, NXDOMAIN / null MX / mail-loop bounces as RFC 3464
# reports, mixed outcomes, dot-stuffing and folding on the wire, retries,
# queue lifetime, -l, bounces for foreign senders, DNS failure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s" "retry_min 15m" "retry_max 4h" \
	"queue_lifetime 5d"
mkdir -p "$SPOOL"
dns_start \
	--mx-host=good.example,mx1.good.example,10 --mx-host=good.example,mx2.good.example,20 \
	--host-record=mx1.good.example,127.0.0.2 --host-record=mx2.good.example,127.0.0.7 \
	--mx-host=refused.example,mx1.refused.example,10 --host-record=mx1.refused.example,127.0.0.9 \
	--mx-host=refused.example,mx2.refused.example,20 --host-record=mx2.refused.example,127.0.0.2 \
	--mx-host=tempfail.example,mx1.tempfail.example,10 --host-record=mx1.tempfail.example,127.0.0.3 \
	--mx-host=tempfail.example,mx2.tempfail.example,20 --host-record=mx2.tempfail.example,127.0.0.2 \
	--host-record=implicit.example,127.0.0.2 \
	--dns-rr=nullmx.example,15,000000 \
	--mx-host=loop.example,mx.test.example,10 --mx-host=loop.example,backup.loop.example,20 \
	--host-record=mx.test.example,127.0.0.2 --host-record=backup.loop.example,127.0.0.2 \
	--mx-host=mixed.example,mx.mixed.example,10 --host-record=mx.mixed.example,127.0.0.4 \
	--mx-host=later.example,mx.later.example,10 --host-record=mx.later.example,127.0.0.5 \
	--mx-host=datafail.example,mx.datafail.example,10 --host-record=mx.datafail.example,127.0.0.6 \
	--mx-host=v6.example,mx.v6.example,10 --host-record=mx.v6.example,::1 ||
	nok "dnsmasq answers"
sink 127.0.0.2 "$T/r2"
sink 127.0.0.7 "$T/r7"
sink 127.0.0.3 "$T/r3" --rcpt '*=451 4.3.0 greylisted, come back later'
sink 127.0.0.4 "$T/r4" --rcpt 'bad@mixed.example=550 5.1.1 no such user here' \
	--rcpt 'later@mixed.example=452 4.2.2 mailbox full'
sink 127.0.0.5 "$T/r5" --rcpt '*=451 4.7.1 try again later'
LATERPID=$SINKPID
sink 127.0.0.6 "$T/r6" --data '554 5.6.0 content rejected'

# An MX host with only an AAAA record, when this machine has IPv6 loopback.
HAVE6=""
$PY -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null && HAVE6=yes
[ -n "$HAVE6" ] && sink ::1 "$T/r6v6"

# --- one pass over a queue of mixed messages ---
spool --subject routes --rcpt bob@good.example --rcpt carol@refused.example \
	--rcpt dave@tempfail.example --rcpt erin@implicit.example
M1=$ID
spool --subject bounces --rcpt y@nx.example --rcpt z@nullmx.example --rcpt w@loop.example
M2=$ID
spool --subject mixed --rcpt ok1@mixed.example --rcpt bad@mixed.example \
	--rcpt later@mixed.example --rcpt ok2@good.example --rcpt q@nx.example \
	--rcpt f@datafail.example
M3=$ID
# Dot-stuffing: lines that are or start with dots must come back unchanged.
printf 'Subject: dots\nMessage-ID: <dots@test>\n\n.\n..\n.hidden line\n...three\nend\n. \n' >"$T/dots.txt"
spool --rcpt dots@good.example --body "$T/dots.txt"
M4=$ID
# Bare CR, a 2500-octet line and no final LF: sent as space, folded, CRLF added.
$PY - "$T/long.txt" <<-'PY'
import sys
body = b"Subject: long\n\nbare\rcr\n" + b"." + b"x" * 2499 + b"\nlast line without LF"
open(sys.argv[1], "wb").write(body)
PY
spool --rcpt long@good.example --body "$T/long.txt"
M5=$ID
spool --subject later --rcpt retry@later.example
M6=$ID
spool --subject expired --age 600000 --rcpt old@good.example \
	--rcpt-line $'pending\t7\t1\t1\told2@later.example\told2@later.example\t451 4.4.1 connection refused'
M7=$ID
spool --subject foreign --sender someone@far.example --rcpt nobody@nx.example
M8=$ID

[ -n "$HAVE6" ] && spool --subject v6 --rcpt six@v6.example
"$RELAY" -c "$T/conf" 2>"$T/pass1.err"
expect_eq "a pass exits 0 even with deferrals" "$?" 0

# Preferred MX, fallbacks, implicit MX.
R2=$(received "$T/r2")
check "delivered through the preferred MX (mx1)" grep -qx bob@good.example <<<"$R2"
expect_eq "the second MX got nothing" "$(received "$T/r7")" ""
check "first MX refuses the connection: next MX took it" grep -qx carol@refused.example <<<"$R2"
check "first MX answers 451: next MX took it" grep -qx dave@tempfail.example <<<"$R2"
expect_eq "the 451 MX kept nothing" "$(received "$T/r3")" ""
check "implicit MX (no MX record, A record)" grep -qx erin@implicit.example <<<"$R2"
check "log: sent with relay host[ip]:port" \
	grep -q "$M1: to=<carol@refused.example>, relay=mx2.refused.example\[127.0.0.2\]:$P, delay=[0-9]*, status=sent (250 2.0.0 Ok: queued)" "$T/log"
check "message with all recipients sent left the spool" test ! -e "$SPOOL/env/$M1" -a ! -e "$SPOOL/msg/$M1"

if [ -n "$HAVE6" ]; then
	# ::1 is one of this host's own addresses: an MX there is a loop.
	expect_eq "MX host at one of our own addresses (::1): nothing sent there" "$(received "$T/r6v6")" ""
	check "MX host at one of our own addresses: bounced, loops back to myself" \
		grep -q "to=<six@v6.example>, relay=none, .*status=bounced (554 5.4.6 mail for v6.example loops back to myself)" "$T/log"
fi

# NXDOMAIN, null MX, our own MX: bounced at once in one report to alice.
check "NXDOMAIN bounced" logged y@nx.example bounced
check "null MX bounced" logged z@nullmx.example bounced
check "MX pointing at ourselves bounced" logged w@loop.example bounced
DSN=$($PY "$TOP/tests/relay-dsn.py" "$T/mail/alice" 2>&1)
check "bounce is multipart/report; report-type=delivery-status with 3 parts" \
	grep -qx 'DSN delivery-status text/plain,message/delivery-status,text/rfc822-headers dns; mx.test.example' <<<"$DSN"
check "DSN: NXDOMAIN is failed 5.1.2" grep -qx 'RCPT y@nx.example failed 5.1.2' <<<"$DSN"
check "DSN: null MX is failed 5.1.10" grep -qx 'RCPT z@nullmx.example failed 5.1.10' <<<"$DSN"
check "DSN: mail loop is failed 5.4.6" grep -qx 'RCPT w@loop.example failed 5.4.6' <<<"$DSN"
check "DSN carries the original headers" grep -qx 'HDR bounces' <<<"$DSN"
check "bounce comes from <>" grep -q '^Return-Path: <>' "$T/mail/alice"

# Mixed outcomes in one message over three domains.
check "mixed: 250 recipient sent" grep -qx ok1@mixed.example <<<"$(received "$T/r4")"
check "mixed: other domain sent" grep -qx ok2@good.example <<<"$R2"
check "mixed: 550 at RCPT bounces that recipient only" logged bad@mixed.example bounced
check "mixed: 452 at RCPT deferred" logged later@mixed.example deferred
check "mixed: 554 after DATA bounced" logged f@datafail.example bounced
check "DSN: 550 recipient is failed 5.1.1" grep -qx 'RCPT bad@mixed.example failed 5.1.1' <<<"$DSN"
check "DSN: 554 after DATA is failed 5.6.0" grep -qx 'RCPT f@datafail.example failed 5.6.0' <<<"$DSN"
expect_eq "mixed: deferred recipient pending in the envelope" \
	"$(env_field "$M3" later@mixed.example STATE)/$(env_field "$M3" later@mixed.example ATTEMPTS)" "pending/1"
expect_eq "mixed: sent recipient marked sent" "$(env_field "$M3" ok1@mixed.example STATE)" sent
expect_eq "mixed: bounced recipient marked bounced" "$(env_field "$M3" bad@mixed.example STATE)" bounced
check "mixed: last reply kept" grep -q '452 4.2.2 mailbox full' <<<"$(env_field "$M3" later@mixed.example REPLY)"
NEXT=$(env_field "$M3" later@mixed.example NEXT)
check "mixed: next attempt retry_min (15m) ahead" test "$NEXT" -ge $(($(date +%s) + 850)) -a "$NEXT" -le $(($(date +%s) + 905))

# Dot-stuffing and folding, checked on the bytes the receiver got.
DOTS=$(grep -l 'dots@good.example' "$T"/r2/*.json | sed 's/json$/eml/')
expect_eq "dot-stuffing round trip: same checksum" \
	"$(sha256sum <"$DOTS" | cut -c1-64)" "$(sed 's/$/\r/' "$T/dots.txt" | sha256sum | cut -c1-64)"
LONG=$(grep -l 'long@good.example' "$T"/r2/*.json | sed 's/json$/eml/')
$PY - "$T/long.txt" "$LONG" <<-'PY' && ok "bare CR sent as space, 2500-octet line folded at 998 with CRLF SP (the stuffed dot counted)" || nok "bare CR sent as space, long line folded"
import sys
src = open(sys.argv[1], "rb").read().replace(b"\r", b" ")
out = []
for line in src.split(b"\n"):
    parts, first = [], True
    while len(line) > 998 or first:
        # A line starting with "." is sent with a second dot, which
        # counts toward the 998 octets.
        cut = 997 if first and line.startswith(b".") else 998
        parts.append(line[:cut]); line = b" " + line[cut:] if len(line) > cut else b""
        first = False
        if not line: break
    if line: parts.append(line)
    out.append(b"\r\n".join(parts))
want = b"\r\n".join(out) + b"\r\n"
got = open(sys.argv[2], "rb").read()
sys.exit(0 if got == want and all(len(l) <= 998 for l in got.split(b"\r\n")) else 1)
PY

# Queue lifetime: one final attempt, then a bounce.
expect_eq "expired recipient: one final attempt, which succeeds" "$(received "$T/r2" | grep -c '^old@')" 1
check "expired recipient whose final attempt fails bounced" logged old2@later.example bounced
check "DSN: expiry is failed 5.4.7" grep -qx 'RCPT old2@later.example failed 5.4.7' <<<"$DSN"

# A foreign sender's bounce goes into the spool, from <>.
BNC=$(grep -l '^sender $' "$SPOOL"/env/* 2>/dev/null | head -n1)
check "bounce for a foreign sender spooled from <>" test -n "$BNC"
check "spooled bounce is addressed to the sender" grep -q $'\tsomeone@far.example\t' "${BNC:-/dev/null}"
[ -n "$BNC" ] && $PY "$TOP/tests/relay-dsn.py" --file "$SPOOL/msg/$(basename "$BNC")" >"$T/dsn8"
check "spooled bounce is a DSN for nobody@nx.example" grep -qx 'RCPT nobody@nx.example failed 5.1.2' "$T/dsn8"

# -l lists what is left, with the last error and the next attempt.
"$RELAY" -c "$T/conf" -l >"$T/list"
expect_eq "-l exits 0" "$?" 0
check "-l header" grep -q '^-Queue ID- .*--Size-- --Age--' "$T/list"
check "-l shows the message and sender" grep -q "^$M6 .* <alice@test.example>" "$T/list"
check "-l shows the recipient" grep -q '<retry@later.example>' "$T/list"
check "-l shows attempts, next attempt and last error" \
	grep -q '(1 attempt, next in 1[45]m: 451 4.7.1 try again later)' "$T/list"
check "-l summary line" grep -q '^-- [0-9]* Kbytes in [0-9]* Requests.' "$T/list"

# Not due yet: a pass without -f leaves it alone; -f delivers.
kill "$LATERPID"; wait "$LATERPID" 2>/dev/null
sink 127.0.0.5 "$T/r5"
"$RELAY" -c "$T/conf"
expect_eq "deferred recipient not retried before its time" "$(received "$T/r5")" ""
check "the bounce of a bounce is dropped with a log line" \
	grep -q "bounce dropped: the message is itself a bounce" "$T/log"
"$RELAY" -c "$T/conf" -f
expect_eq "4xx then success on a later -f pass" "$(received "$T/r5")" retry@later.example
check "retried message left the spool" test ! -e "$SPOOL/env/$M6"

# DNS down: deferred with 4.4.3, no bounce, no fallback to A.
cp "$T/conf" "$T/conf.nodns"
sed -i "s/^nameserver .*/nameserver 127.0.0.1:$(free_port)/; s/^dns_timeout .*/dns_timeout 2s/" "$T/conf.nodns"
spool --subject nodns --rcpt dnsdown@good.example
M9=$ID
BEFORE=$(grep -c '^From ' "$T/mail/alice")
"$RELAY" -c "$T/conf.nodns"
expect_eq "DNS down: pass exits 0" "$?" 0
check "DNS down: deferred" logged dnsdown@good.example deferred
check "DNS down: reply is 451 4.4.3" grep -q '^451 4.4.3' <<<"$(env_field "$M9" dnsdown@good.example REPLY)"
expect_eq "DNS down: no bounce" "$(grep -c '^From ' "$T/mail/alice")" "$BEFORE"
expect_eq "DNS down: nothing delivered" "$(received "$T/r2" | grep -c dnsdown)" 0

# IPv6 delivery: a smarthost at [::1] (a smarthost is never a loop).
if [ -n "$HAVE6" ]; then
	cp "$T/conf" "$T/conf.v6"
	printf 'smarthost [::1]:%s\n' "$P" >>"$T/conf.v6"
	spool --subject v6smart --rcpt six2@v6.example
	"$RELAY" -c "$T/conf.v6"
	expect_eq "smarthost at [::1]: delivered over IPv6" "$(received "$T/r6v6")" six2@v6.example
	check "log names the IPv6 relay" grep -q "to=<six2@v6.example>, relay=::1\[::1\]:$P," "$T/log"
fi
exit 0
