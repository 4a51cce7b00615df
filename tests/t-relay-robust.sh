#!/bin/bash
# t-relay-robust.sh - relay-agent under pressure: two passes at once, a pass
# killed mid-DATA, hostile servers (garbage, endless and overlong replies,
# silence, a dropped connection), EHLO refused, smarthost with AUTH PLAIN
# and LOGIN, many messages over PIPELINING to a receiver that offers it, a
# message from smtp-session to the wire, stale spool files, exit statuses.
. "$(dirname "$0")/lib.sh"
plan 44
. "$(dirname "$0")/relay-lib.sh"

# hostile ADDR MODE - a misbehaving server on ADDR:$P.
hostile() {
	bg $PY "$TOP/tests/relay-hostile.py" "$1" "$P" "$2" "$T/hostile-$2.log" 2>>"$T/hostile.err"
	wait_port "$P" "$1"
}

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 2s" "max_connections 10"
mkdir -p "$SPOOL"
records=()
for d in a b c; do
	records+=(--mx-host=$d.example,mx.$d.example,10 --host-record=mx.$d.example,127.0.0.2)
done
for m in garbage endless silent longline dropdata noehlo; do
	records+=(--mx-host=$m.example,mx.$m.example,10)
done
records+=(--host-record=mx.garbage.example,127.0.0.10 --host-record=mx.endless.example,127.0.0.11
	--host-record=mx.silent.example,127.0.0.12 --host-record=mx.longline.example,127.0.0.13
	--host-record=mx.dropdata.example,127.0.0.14 --host-record=mx.noehlo.example,127.0.0.15
	--mx-host=stall.example,mx.stall.example,10 --host-record=mx.stall.example,127.0.0.8)
for i in $(seq 1 5); do
	records+=(--mx-host=sink$i.example,mx.sink.example,10)
done
records+=(--host-record=mx.sink.example,127.0.0.17)
dns_start "${records[@]}" || nok "dnsmasq answers"

# --- exit statuses ---
"$RELAY" -V >"$T/v"
expect_eq "-V exits 0" "$?" 0
check "-V prints the version" grep -q '^relay-agent [0-9]' "$T/v"
"$RELAY" -x 2>/dev/null
expect_eq "unknown option: exit 64" "$?" 64
"$RELAY" -c "$T/conf" -f -l 2>/dev/null
expect_eq "-f with -l: exit 64" "$?" 64
"$RELAY" -c "$T/conf" extra 2>/dev/null
expect_eq "stray argument: exit 64" "$?" 64
printf 'bogus_key 1\n' >"$T/bad.conf"
"$RELAY" -c "$T/bad.conf" 2>"$T/bad.err"
expect_eq "bad configuration: exit 78" "$?" 78
check "bad configuration: file and line named" grep -q "$T/bad.conf:1" "$T/bad.err"
touch "$T/notadir"
sed "s|^spool_dir .*|spool_dir $T/notadir|" "$T/conf" >"$T/conf.nospool"
"$RELAY" -c "$T/conf.nospool" 2>/dev/null
expect_eq "unreadable spool: exit 75" "$?" 75

# --- two passes at once deliver each recipient exactly once ---
sink 127.0.0.2 "$T/r2"
for i in $(seq 1 40); do
	spool --subject "twice $i" --rcpt "u$i@a.example" --rcpt "v$i@b.example" --rcpt "w$i@c.example"
done
"$RELAY" -c "$T/conf" -f & A=$!
"$RELAY" -c "$T/conf" -f & B=$!
wait $A; RA=$?
wait $B; RB=$?
expect_eq "two concurrent passes both exit 0" "$RA/$RB" "0/0"
GOT=$(received "$T/r2")
expect_eq "two concurrent passes: 120 recipients delivered" "$(sort -u <<<"$GOT" | grep -c .)" 120
expect_eq "two concurrent passes: no recipient twice" "$(sort <<<"$GOT" | uniq -d)" ""
expect_eq "two concurrent passes: spool empty" "$(ls "$SPOOL/env" | wc -l)" 0
expect_eq "one log line per recipient" "$(grep -c 'status=sent' "$T/log")" 120

# --- a pass killed with SIGKILL in the middle of DATA loses nothing ---
sink 127.0.0.8 "$T/r8" --stall-data
STALLPID=$SINKPID
spool --subject killed --rcpt victim@stall.example
KID=$ID
"$RELAY" -c "$T/conf" & RPID=$!
for _ in $(seq 1 100); do [ -e "$T/r8/stalled" ] && break; sleep 0.1; done
check "the receiver got the message and stalls before its reply" test -e "$T/r8/stalled"
kill -9 "$RPID"; wait "$RPID" 2>/dev/null
# Its worker gets SIGKILL from the kernel (PR_SET_PDEATHSIG); allow 5 s.
for _ in $(seq 1 50); do pgrep -f -- "-c $T/conf\$" >/dev/null || break; sleep 0.1; done
check "no worker outlives the killed pass" sh -c "! pgrep -f -- '-c $T/conf\$' >/dev/null"
expect_eq "after SIGKILL the recipient is still pending" "$(env_field "$KID" victim@stall.example STATE)" pending
check "after SIGKILL the message text is intact" test -s "$SPOOL/msg/$KID"
kill "$STALLPID"; wait "$STALLPID" 2>/dev/null
rm -rf "$T/r8"
sink 127.0.0.8 "$T/r8"
"$RELAY" -c "$T/conf" -f
expect_eq "the next pass delivers it once" "$(received "$T/r8")" victim@stall.example
check "and the spool is empty" test ! -e "$SPOOL/env/$KID"

# --- hostile servers: the pass ends in time, every recipient deferred ---
for m in garbage endless silent longline dropdata noehlo; do
	hostile 127.0.0.1$(( $(echo "garbage endless silent longline dropdata noehlo" |
		tr ' ' '\n' | grep -n "^$m\$" | cut -d: -f1) - 1 )) $m
done
for m in garbage endless silent longline dropdata noehlo; do
	spool --subject "$m" --rcpt "x@$m.example"
done
START=$(date +%s)
"$RELAY" -c "$T/conf" -v 2>"$T/hostile.v"
expect_eq "hostile servers: pass exits 0" "$?" 0
check "hostile servers: pass ended within 15 s" test $(( $(date +%s) - START )) -le 15
check "garbage instead of a reply code: deferred" \
	grep -q 'to=<x@garbage.example>.*status=deferred (451 4.5.0 .* sent garbage instead of the reply to EHLO)' "$T/log"
check "endless multi-line reply: deferred" \
	grep -q 'to=<x@endless.example>.*status=deferred (451 4.5.0 .* sent an endless reply instead of the greeting)' "$T/log"
check "reply that never comes: deferred on timeout" \
	grep -q 'to=<x@silent.example>.*status=deferred (451 4.4.2 timeout waiting for .* to reply to the greeting)' "$T/log"
check "overlong reply line: deferred" \
	grep -q 'to=<x@longline.example>.*status=deferred (451 4.5.0 .* sent a line over' "$T/log"
check "connection dropped during DATA: deferred" \
	grep -q 'to=<x@dropdata.example>.*status=deferred (451 4.4.2 lost connection' "$T/log"
check "EHLO refused: HELO, then sent" grep -q 'to=<x@noehlo.example>.*status=sent' "$T/log"
check "EHLO refused: HELO was sent" grep -q '^HELO mx.test.example' "$T/hostile-noehlo.log"
expect_eq "every command line ended in CRLF" "$(grep -cv $'\r$' "$T/hostile-noehlo.log")" 0

# --- smarthost with AUTH PLAIN: every foreign domain goes there ---
sink 127.0.0.16 "$T/r16" --auth user:secret
cp "$T/conf" "$T/conf.smart"
printf 'smarthost 127.0.0.16:%s\nsmarthost_auth user secret\n' "$P" >>"$T/conf.smart"
spool --subject smart --rcpt someone@nowhere.example --rcpt other@a.example
"$RELAY" -c "$T/conf.smart"
expect_eq "smarthost: both recipients (even an NXDOMAIN one) went there" \
	"$(received "$T/r16")" "other@a.example
someone@nowhere.example"
check "smarthost: one transaction, authenticated with AUTH PLAIN" \
	grep -q '"login": "PLAIN:user"' "$T"/r16/*.json
hostile 127.0.0.18 loginonly
sed "s/^smarthost .*/smarthost 127.0.0.18:$P/" "$T/conf.smart" >"$T/conf.login"
spool --subject login --rcpt l@nowhere.example
"$RELAY" -c "$T/conf.login"
check "smarthost offering only AUTH LOGIN: LOGIN used" grep -q '^AUTH-RESULT ok' "$T/hostile-loginonly.log"
check "smarthost via AUTH LOGIN: sent" grep -q 'to=<l@nowhere.example>.*status=sent' "$T/log"

# --- many messages over PIPELINING to a receiver that offers it ---
sink 127.0.0.17 "$T/r17" --pipelining
for i in $(seq 1 100); do
	spool --subject "bulk $i" --rcpt "r$i@sink$(( i % 5 + 1 )).example" --rcpt "s$i@sink$(( i % 5 + 1 )).example"
done
"$RELAY" -c "$T/conf" -v 2>"$T/bulk.v"
expect_eq "pipelining receiver: 200 recipients sent" "$(grep -c '127.0.0.17.*status=sent' "$T/log")" 200
expect_eq "pipelining receiver: it holds those 200 recipients" "$(received "$T/r17" | grep -c '@sink[1-5]\.example$')" 200
expect_eq "pipelining receiver: those messages left the spool" "$(cat "$SPOOL"/env/* | grep -c 'sink[0-9].example')" 0
# One worker's transcript (its pid prefixes every line of it).
W=$(grep -m1 -o '^relay-agent\[[0-9]*\]: mx.sink.example' "$T/bulk.v" | cut -d: -f1)
grep -F "$W:" "$T/bulk.v" | sed 's/^[^]]*\]: [^ ]* //' | grep -A3 -m1 '^> MAIL FROM' >"$T/pipe.v"
expect_eq "PIPELINING: MAIL, RCPT, RCPT, DATA written before any reply" \
	"$(cut -c1-9 "$T/pipe.v" | tr '\n' '|')" "> MAIL FR|> RCPT TO|> RCPT TO|> DATA|"
check "connections reused: fewer connections than messages" \
	test "$(grep -c '127.0.0.17.*connected' "$T/bulk.v")" -le 10

# --- from smtp-session to the wire ---
if [ -x "$BIN/smtp-session" ]; then
	printf 'EHLO client.test\nMAIL FROM:<alice@test.example>\nRCPT TO:<e2e@a.example>\nDATA\nSubject: end to end\n\n..dot line\nbody\n.\nQUIT\n' |
		crlf | session >"$T/e2e.out"
	check "smtp-session spooled the message" grep -q '^250 .*queued as' "$T/e2e.out"
	"$RELAY" -c "$T/conf"
	check "relay-agent delivered what smtp-session spooled" grep -qx e2e@a.example <<<"$(received "$T/r2")"
	E2E=$(grep -l 'e2e@a.example' "$T"/r2/*.json | sed 's/json$/eml/')
	check "the dot line arrived unstuffed once" grep -q $'^\\.dot line\r$' "$E2E"
fi

# --- stale spool files ---
touch -d '2 days ago' "$SPOOL/tmp/OLD.msg"
touch "$SPOOL/tmp/NEW.msg"
# (msg/ files age from their rename, st_ctime, which touch cannot set
# back: t-relay-faults.sh removes an old one with a shifted clock.)
touch "$SPOOL/msg/FRESHORPHAN"
"$RELAY" -c "$T/conf"
check "stale tmp/ file removed" test ! -e "$SPOOL/tmp/OLD.msg"
check "fresh tmp/ file kept (a commit may be under way)" test -e "$SPOOL/tmp/NEW.msg"
check "fresh msg/ file without envelope kept" test -e "$SPOOL/msg/FRESHORPHAN"
exit 0
