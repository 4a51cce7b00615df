#!/bin/bash
# t-relay-stop.sh - stopping a pass, and a bounce to a busy mailbox: a
# SIGTERM in the middle of an append to a local mailbox lets the append
# finish (the whole message, no lock left, recorded, not appended again);
# a remote worker awaiting the reply after the final dot gets it within
# the grace period (recorded, not sent twice); a bounce to a local sender
# whose mailbox is locked goes through the queue, so the scheduler never
# waits for that lock (other outcomes reach the disk, SIGTERM is obeyed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 16

write_conf "smarthost 127.0.0.171:$P" "connect_timeout 5s" "smtp_timeout 10s" \
	"max_message_size 100000000"
mkdir -p "$SPOOL"
if out=$(cc -shared -fPIC -o "$T/shim.so" "$TOP/tests/relay-shim.c" -ldl 2>&1); then
	ok "the test shim builds"
else
	nok "the test shim builds: $out"
fi
# wait_for SECONDS CMD... - until CMD succeeds (at most SECONDS).
wait_for() {
	local n=$(( $1 * 10 )); shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
gone() { ! kill -0 "$1" 2>/dev/null; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# --- SIGTERM while a local mailbox is appended to ---
$PY -c '
import sys
sys.stdout.write("Subject: big\n\n" + ("x" * 76 + "\n") * 65000 + "THE END\n")' >"$T/big.txt"
spool --body "$T/big.txt" \
	--rcpt-line "$(printf 'pending\t0\t0\t0\talice@test.example\talice@test.example\t\talice')"
BIG=$ID
touch "$T/mail/alice"
env LD_PRELOAD="$T/shim.so" SLOW_WRITE="$(realpath "$T/mail/alice")" \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$RELAY" -c "$T/conf" & RPID=$!
started() { [ "$(size "$T/mail/alice")" -gt 0 ]; }
wait_for 20 started
kill -TERM "$RPID"
check "local append: the pass ends after SIGTERM" wait_for 20 gone "$RPID"
wait "$RPID"
expect_eq "local append: exit status 0" "$?" 0
expect_eq "local append: the mailbox holds the whole message" "$($PY - "$T/mail/alice" <<-'PY'
	import mailbox, sys
	ms = list(mailbox.mbox(sys.argv[1]))
	print(len(ms), all(m.get_payload().endswith("THE END\n") for m in ms))
	PY
	)" "1 True"
check "local append: no lock left behind" test ! -e "$T/mail/alice.lock"
check "local append: recorded (the message left the queue)" test ! -e "$SPOOL/env/$BIG"
before=$(size "$T/mail/alice")
"$RELAY" -c "$T/conf"
expect_eq "local append: the next pass appends nothing again" "$(size "$T/mail/alice")" "$before"
rm -f "$T/big.txt"

# --- SIGTERM while the reply after the final dot is awaited ---
script 127.0.0.171 slowdata=1 "$T/slow.log"
spool --subject "awaited" --rcpt r@far.example
AW=$ID
"$RELAY" -c "$T/conf" & RPID=$!
data_sent() { grep -q '"cmd": "DATA"' "$T/slow.log"; }
wait_for 20 data_sent
kill -TERM "$RPID"
check "awaited reply: the pass ends within 10 s" wait_for 10 gone "$RPID"
wait "$RPID"
check "awaited reply: the 250 that came in the grace period is recorded" \
	grep -q "$AW: to=<r@far.example>, .*status=sent" "$T/log"
"$RELAY" -c "$T/conf"
expect_eq "awaited reply: the server has one copy, not two" "$(taken "$T/slow.log")" r@far.example

# --- a bounce to a local sender whose mailbox is locked ---
script 127.0.0.172 plain "$T/far.log"
sed -i "s/^smarthost .*/smarthost 127.0.0.172:$P/" "$T/conf"
spool --sender carol@test.example --subject "refused" --rcpt bad@far.example
for i in 1 2 3 4 5 6; do spool --sender bob@test.example --subject "ok $i" --rcpt "ok$i@far.example"; done
touch "$T/mail/carol"
echo $$ >"$T/mail/carol.lock"           # fresh: not stale for 10 minutes
"$RELAY" -c "$T/conf" & RPID=$!
bounced() { grep -q "to=<bad@far.example>, .*status=bounced" "$T/log"; }
check "busy sender: the refusal is logged" wait_for 20 bounced
six_done() { [ "$(grep -l 'ok[0-9]@far.example' "$SPOOL"/env/* 2>/dev/null | wc -l)" = 0 ]; }
check "busy sender: the other messages' outcomes reach the disk meanwhile" wait_for 5 six_done
kill -TERM "$RPID"
check "busy sender: SIGTERM ends the pass within 10 s" wait_for 10 gone "$RPID"
wait "$RPID"
check "busy sender: the bounce waits in the queue for carol" \
	sh -c "grep -l '^sender \$' '$SPOOL'/env/* | xargs grep -l 'carol@test.example' >/dev/null"
rm -f "$T/mail/carol.lock"
"$RELAY" -c "$T/conf" -f
check "busy sender: the next pass delivers the bounce" \
	grep -q '^Subject: Undelivered Mail Returned to Sender' "$T/mail/carol"
expect_eq "busy sender: one copy of each other message" "$(taken "$T/far.log" | uniq -c | awk '{print $1}' | sort -u)" 1
exit 0
