#!/bin/bash
# t-relay-faults.sh - relay-agent against servers that answer out of step
# or fail in the middle of a transaction, and against a spool that cannot
# take an envelope update: no recipient is bounced with another one's
# reply, no message is marked sent without having been sent, none is sent
# twice because its envelope could not be written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"

write_conf "nameserver 127.0.0.1:$DNSPORT" "dns_timeout 2s" "connect_timeout 3s" \
	"smtp_timeout 3s" "retry_min 15m" "retry_max 4h" "queue_lifetime 5d"
cp "$T/conf" "$T/conf.base"
NEXTIP=30
if out=$(cc -shared -fPIC -o "$T/shim.so" "$TOP/tests/relay-shim.c" -ldl 2>&1); then
	ok "the test shim builds"
else
	nok "the test shim builds: $out"
fi
# shimmed VAR=VALUE... CMD... - CMD with tests/relay-shim.c preloaded.
shimmed() {
	env LD_PRELOAD="$T/shim.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}

# scenario NAME MODE [CONF LINES] - a server relay-script.py in MODE on a
# fresh loopback address as the smarthost of a fresh spool: $CONF, $SPOOL,
# the server's log in $SLOG.
scenario() {
	local name=$1 mode=$2 ip=127.0.0.$NEXTIP; shift 2
	NEXTIP=$((NEXTIP + 1))
	SPOOL=$T/$name/spool
	CONF=$T/$name/conf
	SLOG=$T/$name/server.log
	mkdir -p "$SPOOL"
	sed "s|^spool_dir .*|spool_dir $SPOOL|" "$T/conf.base" >"$CONF"
	printf 'smarthost %s:%s\n' "$ip" "$P" >>"$CONF"
	local line
	for line in "$@"; do
		sed -i "/^${line%% *} /d" "$CONF"
		printf '%s\n' "$line" >>"$CONF"
	done
	: >"$SLOG"
	bg $PY "$TOP/tests/relay-script.py" "$ip" "$P" "$mode" "$SLOG" 2>>"$T/script.err"
	wait_port "$P" "$ip"
}

# taken LOG - recipients of the messages the server took, sorted.
taken() {
	$PY - "$1" <<-'PY'
	import json, sys
	out = []
	for l in open(sys.argv[1]):
	    d = json.loads(l)
	    if d.get("ev") == "message":
	        out += d["rcpts"]
	print("\n".join(sorted(out)))
	PY
}

# --- a broken transaction never decides for the next message ---
scenario hosterr dropdata
spool --id AAA1 --rcpt bad@far.example --rcpt good1@far.example
spool --id AAA2 --rcpt good2@far.example
"$RELAY" -c "$CONF" -f
expect_eq "drop at DATA: the refused recipient bounces" \
	"$(env_field AAA1 bad@far.example STATE)" bounced
expect_eq "drop at DATA: the accepted recipient is pending" \
	"$(env_field AAA1 good1@far.example STATE)" pending
expect_eq "drop at DATA: the next message is pending, not bounced" \
	"$(env_field AAA2 good2@far.example STATE)" pending
check "drop at DATA: the next message has a 4xx of its own" \
	grep -q '^4' <<<"$(env_field AAA2 good2@far.example REPLY)"
check "drop at DATA: no bounce for the next message" \
	sh -c "! grep -q 'good2@far.example.*bounced' '$T/log'"

# --- a server out of step: nothing is taken for sent ---
for mode in data250 pipe,data250 dupgreet ehlo220; do
	scenario "step-${mode/,/-}" "$mode"
	spool --id STEP1 --rcpt "one@far.example"
	spool --id STEP2 --rcpt "two@far.example"
	"$RELAY" -c "$CONF" -f
	expect_eq "$mode: both recipients still pending" \
		"$(env_field STEP1 one@far.example STATE) $(env_field STEP2 two@far.example STATE)" \
		"pending pending"
	check "$mode: deferred as a protocol error (451 4.5.0)" \
		grep -q '^451 4\.5\.0 ' <<<"$(env_field STEP1 one@far.example REPLY)"
	expect_eq "$mode: the server took no message" "$(taken "$SLOG")" ""
done
check "a 250 to DATA is named in the reply" \
	grep -qs 'answered DATA with: 250 2.0.0 thanks' "$T/step-data250/spool/env/STEP1"
check "a 220 to EHLO is named in the reply" \
	grep -qs 'answered EHLO with: 220 mx ESMTP' "$T/step-ehlo220/spool/env/STEP1"
check "a doubled greeting: no MAIL was sent" \
	sh -c "! grep -q MAIL '$T/step-dupgreet/server.log'"

# --- an envelope update that cannot be written never means a resend ---
# tmp/ made a plain file: no staging file can be created there.
scenario nospace plain
spool --id ROOM1 --rcpt ok@far.example --rcpt later@far.example
mv "$SPOOL/tmp" "$SPOOL/tmp.dir"
: >"$SPOOL/tmp"
for pass in 1 2 3; do "$RELAY" -c "$CONF" -f; done
check "no room for the update: the recipient is not sent three times" \
	test "$(taken "$SLOG" | grep -c '^ok@far.example$')" -le 1
expect_eq "no room for the update: not tried at all" "$(taken "$SLOG")" ""
check "no room for the update: logged" grep -q 'ROOM1: no room for its envelope update' "$T/log"
expect_eq "no room for the update: both recipients pending" \
	"$(env_field ROOM1 ok@far.example STATE) $(env_field ROOM1 later@far.example STATE)" \
	"pending pending"
rm "$SPOOL/tmp"
mv "$SPOOL/tmp.dir" "$SPOOL/tmp"
"$RELAY" -c "$CONF" -f
"$RELAY" -c "$CONF" -f
expect_eq "room again: sent once over two passes" "$(taken "$SLOG")" "ok@far.example"
expect_eq "room again: the envelope was updated" \
	"$(env_field ROOM1 ok@far.example STATE) $(env_field ROOM1 later@far.example STATE)" \
	"sent pending"
expect_eq "room again: no staging file left behind" "$(ls "$SPOOL/tmp")" ""

# --- bounces to local senders: quoted local parts, forwarding aliases ---
printf 'fwdmix: carol, away@remote.example\n' >>"$T/users"
scenario dsn plain
spool --id DSN1 --sender '"alice"@test.example' --rcpt bad1@far.example
spool --id DSN2 --sender ext@test.example --rcpt bad2@far.example
spool --id DSN3 --sender fwdmix@test.example --rcpt bad3@far.example
spool --id DSN4 --sender '' --subject 'queued copy' --rcpt fwdmix@test.example
"$RELAY" -c "$CONF" -f
check "quoted local sender: the bounce is in alice's mailbox" \
	grep -q 'bad1@far.example' "$T/mail/alice"
check "quoted local sender: no bounce dropped" sh -c "! grep -q 'DSN1: bounce dropped' '$T/log'"
# queued ID RCPT - the queue ids of messages from <> to RCPT.
queued() { grep -l "^sender $" "$SPOOL"/env/* 2>/dev/null | xargs -r grep -l "	$1	" | xargs -r -n1 basename; }
B2=$(queued someone@remote.example)
check "sender forwarded elsewhere: the bounce is queued to the target" test -n "$B2"
check "sender forwarded elsewhere: it is the report about bad2" \
	grep -qs 'bad2@far.example' "$SPOOL/msg/$B2"
check "sender forwarded elsewhere: the original sender is the address given" \
	grep -qs $'\text@test.example\tsomeone@remote.example\t' "$SPOOL/env/$B2"
check "sender forwarded to a mailbox and elsewhere: in carol's mailbox" \
	grep -q 'bad3@far.example' "$T/mail/carol"
check "sender forwarded to a mailbox and elsewhere: queued to the target" \
	sh -c "grep -ls 'bad3@far.example' $SPOOL/msg/* | grep -q ."
check "queued bounce to a forwarding alias: a copy in carol's mailbox" \
	grep -q 'Subject: queued copy' "$T/mail/carol"
expect_eq "queued bounce to a forwarding alias: forwarded copies queued" \
	"$(queued away@remote.example | wc -l)" 2
expect_eq "queued bounce to a forwarding alias: done" "$(ls "$SPOOL/env" | grep -c DSN4)" 0

# --- a finished message is not kept locked by another destination's worker ---
SPOOL=$T/locks/spool
mkdir -p "$SPOOL"
sed "s|^spool_dir .*|spool_dir $SPOOL|" "$T/conf.base" >"$T/locks/conf"
printf 'remote_port %s\n' "$P" >>"$T/locks/conf"
bg $PY "$TOP/tests/relay-script.py" 127.0.0.40 "$P" plain "$T/locks/fast.log" 2>>"$T/script.err"
wait_port "$P" 127.0.0.40
bg $PY "$TOP/tests/relay-script.py" 127.0.0.41 "$P" slowread "$T/locks/slow.log" 2>>"$T/script.err"
wait_port "$P" 127.0.0.41
spool --id LOCK1 --rcpt 'later@[127.0.0.40]'
spool --id LOCK2 --rcpt 'x@[127.0.0.41]'
spool --id LOCK3 --rcpt 'ok@[127.0.0.40]'
"$RELAY" -c "$T/locks/conf" -f & RPID=$!
for _ in $(seq 1 100); do
	grep -q 'LOCK1: to=<later@' "$T/log" && grep -qs 'not reading' "$T/locks/slow.log" && break
	sleep 0.1
done
check "the slow destination's worker is still at work" kill -0 "$RPID"
check "the deferred message is unlocked while another worker runs" \
	flock -n "$SPOOL/msg/LOCK1" true
check "the message in work stays locked" sh -c "! flock -n '$SPOOL/msg/LOCK2' true"
wait "$RPID"
expect_eq "a worker sends what it reads from the message file it opened" \
	"$(taken "$T/locks/fast.log")" 'ok@[127.0.0.40]'

# --- a server that takes the text slowly cannot hold DATA forever ---
# The rule: smtp_timeout (10 s here) plus one second per 1024 octets. The
# server takes about 250 octets/s, with pauses well under smtp_timeout;
# the shim keeps the kernel's buffers small. 14 KB: given up after about
# 24 s (without the rule the transfer would take some 40 s, then succeed).
scenario slow trickle "smtp_timeout 10s"
$PY -c 'import sys; sys.stdout.write("Subject: slow\n\n" + ("x" * 79 + "\n") * 175)' >"$T/slow.txt"
spool --id SLOW1 --rcpt slow@far.example --body "$T/slow.txt"
START=$(date +%s)
shimmed SNDBUF=1 timeout 120 "$RELAY" -c "$CONF" -f
END=$(date +%s)
check "slow reader: the pass gives up in time ($((END - START)) s, limit 10 + 14 s)" \
	test $((END - START)) -le 30
expect_eq "slow reader: deferred" "$(env_field SLOW1 slow@far.example STATE)" pending
check "slow reader: the reason says so" \
	grep -q 'too slowly' <<<"$(env_field SLOW1 slow@far.example REPLY)"

# --- SIZE= counts the CRLF line ends ---
scenario size size
printf 'Subject: size\n\none\ntwo\n' >"$T/size.txt"
spool --id SIZE1 --rcpt s@far.example --body "$T/size.txt"
"$RELAY" -c "$CONF" -f
check "SIZE= is the file size plus one octet per line ($(( $(stat -c %s "$T/size.txt") + 4 )))" \
	grep -q "MAIL FROM:<alice@test.example> SIZE=$(( $(stat -c %s "$T/size.txt") + 4 ))\"" "$SLOG"
expect_eq "SIZE=: sent" "$(taken "$SLOG")" s@far.example

# --- -l on a spool never used ---
sed "s|^spool_dir .*|spool_dir $T/never/spool|" "$T/conf.base" >"$T/conf.never"
"$RELAY" -c "$T/conf.never" -l >"$T/never.out" 2>&1
expect_eq "-l without env/: exit 0" "$?" 0
expect_eq "-l without env/: the queue is empty" "$(cat "$T/never.out")" "Mail queue is empty"

# --- orphans: ages count from the rename, envelopes without a message ---
scenario orphans plain
spool --id NOTEXT --rcpt lost@far.example
rm "$SPOOL/msg/NOTEXT"
: >"$SPOOL/tmp/RENAMED"
touch -d '2 hours ago' "$SPOOL/tmp/RENAMED"   # written long ago,
mv "$SPOOL/tmp/RENAMED" "$SPOOL/msg/RENAMED"  # renamed now
"$RELAY" -c "$CONF"
check "a message written long ago but just renamed into msg/ is kept" test -e "$SPOOL/msg/RENAMED"
check "a fresh envelope without its message is kept" test -e "$SPOOL/env/NOTEXT"
shimmed CLOCK_SHIFT=7200 "$RELAY" -c "$CONF"
check "two hours after the rename it is removed" test ! -e "$SPOOL/msg/RENAMED"
check "an old envelope without its message is removed" test ! -e "$SPOOL/env/NOTEXT"
check "and logged" grep -q 'NOTEXT: envelope without its message file (from=<alice@test.example>, 1 recipient(s) pending), removed' "$T/log"

# --- removal order: every envelope, one fsync of env/, then the messages ---
if [ -f "$TOP/tests/faultinject.c" ] &&
   cc -shared -fPIC -o "$T/fi.so" "$TOP/tests/faultinject.c" -ldl 2>/dev/null; then
	scenario order plain
	spool --id ORD1 --rcpt o1@far.example
	spool --id ORD2 --rcpt o2@far.example
	FI_DIR="$SPOOL" FI_LOG="$T/order.trace" LD_PRELOAD="$T/fi.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$RELAY" -c "$CONF" -f
	awk -F'\t' '$2 == "unlink" && $3 ~ /\/(env|msg)\/ORD/ { sub(/.*\/spool\//, "", $3); print "unlink " $3 }
		$2 == "fsync" && $3 ~ /\/spool\/env$/ { print "fsync env" }' "$T/order.trace" >"$T/order.list"
	# Deliveries run in parallel: the two messages may finish in either
	# order, so each run of removals is compared sorted.
	expect_eq "removal order: envelopes, fsync env/, messages" \
		"$($PY -c 'import itertools, sys
for _, g in itertools.groupby(sys.stdin.read().split("\n"), lambda l: l[:10]):
    print("\n".join(sorted(g)))' <"$T/order.list" | grep .)" \
		"unlink env/ORD1
unlink env/ORD2
fsync env
unlink msg/ORD1
unlink msg/ORD2"
fi

exit 0
