#!/bin/bash
# t-relay-sched.sh - relay-agent's scheduler with real peers: each
# outcome on disk within a second (a kill between two siblings' outcomes
# repeats neither), several connections at once to one slow destination
# and to a smarthost, connections reused across domains that share an MX
# address (at most address_connections to it), a local recipient that
# does not wait behind a stalled remote one, SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 19

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL"
records=(--mx-host=fast.example,mx.fast.example,10 --host-record=mx.fast.example,127.0.0.70
	--mx-host=stall.example,mx.stall.example,10 --host-record=mx.stall.example,127.0.0.71
	--mx-host=slow.example,mx.slow.example,10 --host-record=mx.slow.example,127.0.0.72)
for i in $(seq 1 60); do
	records+=(--mx-host=shared$i.example,mx$i.shared.example,10
		--host-record=mx$i.shared.example,127.0.0.73)
done
dns_start "${records[@]}" || nok "dnsmasq answers"

# wait_for SECONDS CMD... - until CMD succeeds (at most SECONDS).
wait_for() {
	local n=$(( $1 * 10 )); shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}

# --- a kill between two siblings' outcomes: exactly one copy ---
sink 127.0.0.70 "$T/fast"
sink 127.0.0.71 "$T/stall" --stall-data
STALLPID=$SINKPID
spool --subject siblings --rcpt a@fast.example --rcpt b@stall.example
SIB=$ID
"$RELAY" -c "$T/conf" & RPID=$!
both_seen() { test -e "$T/stall/stalled" -a -n "$(received "$T/fast")"; }
check "the fast sibling is taken while the slow one stalls" wait_for 10 both_seen
fast_sent() { [ "$(env_field "$SIB" a@fast.example STATE)" = sent ]; }
check "the fast sibling's outcome is on disk within a second or so" wait_for 2 fast_sent
kill -9 "$RPID"; wait "$RPID" 2>/dev/null
kill "$STALLPID"; wait "$STALLPID" 2>/dev/null
rm -rf "$T/stall"
sink 127.0.0.71 "$T/stall"
"$RELAY" -c "$T/conf" -f
expect_eq "after the kill and another pass: the fast one has exactly one copy" \
	"$(received "$T/fast")" a@fast.example
expect_eq "and the slow one has its copy" "$(received "$T/stall")" b@stall.example
check "and the message left the spool" test ! -e "$SPOOL/env/$SIB"

# --- several connections at once to one slow destination ---
script 127.0.0.72 slowdata=1 "$T/slow.log"
for i in $(seq 1 30); do spool --subject "slow $i" --rcpt "s$i@slow.example"; done
"$RELAY" -c "$T/conf"
expect_eq "slow destination: all 30 taken" "$(taken "$T/slow.log" | grep -c .)" 30
check "slow destination: several connections open at once (was one)" \
	test "$(conns "$T/slow.log" peak)" -ge 5
check "slow destination: at most destination_concurrency (20) at once" \
	test "$(conns "$T/slow.log" peak)" -le 20

# --- and to a smarthost ---
script 127.0.0.74 slowdata=1 "$T/smart.log"
cp "$T/conf" "$T/conf.smart"
printf 'smarthost 127.0.0.74:%s\n' "$P" >>"$T/conf.smart"
for i in $(seq 1 30); do spool --subject "smart $i" --rcpt "m$i@d$(( i % 7 )).example"; done
"$RELAY" -c "$T/conf.smart"
expect_eq "smarthost: all 30 taken" "$(taken "$T/smart.log" | grep -c .)" 30
check "smarthost: several connections open at once (was one)" \
	test "$(conns "$T/smart.log" peak)" -ge 5

# --- 60 domains sharing one MX address: reused, at most 4 at once ---
script 127.0.0.73 pipe "$T/shared.log"
cp "$T/conf" "$T/conf.shared"
printf 'address_connections 4\n' >>"$T/conf.shared"
for i in $(seq 1 60); do spool --subject "shared $i" --rcpt "x$i@shared$i.example"; done
"$RELAY" -c "$T/conf.shared"
expect_eq "shared MX address: all 60 taken" "$(taken "$T/shared.log" | grep -c .)" 60
check "shared MX address: at most address_connections (4) open at once" \
	test "$(conns "$T/shared.log" peak)" -le 4
check "shared MX address: connections reused across domains (was one per domain)" \
	test "$(conns "$T/shared.log" opens)" -le 8

# --- a local recipient does not wait behind a stalled remote one ---
kill "$SINKPID" 2>/dev/null
rm -rf "$T/stall"
sink 127.0.0.71 "$T/stall" --stall-data
STALLPID=$SINKPID
spool --subject "remote first" --rcpt c@stall.example
# A copy that waited for a busy mailbox (envelope version 2, MAILBOX) and a
# version 1 recipient at a local domain.
ID=L1$(date +%s)
printf 'Subject: local copy\n\nwaited\n' >"$SPOOL/tmp/$ID.msg"
printf 'version 2\nid %s\narrival %s\nsender x@far.example\nbody 7BIT\nauth \nclient 127.0.0.1\nhelo h\nrcpt pending\t0\t0\t0\tcarol@test.example\tcarol@test.example\t\tcarol\n' \
	"$ID" "$(date +%s)" >"$SPOOL/tmp/$ID.env"
mv "$SPOOL/tmp/$ID.msg" "$SPOOL/msg/$ID"; mv "$SPOOL/tmp/$ID.env" "$SPOOL/env/$ID"
spool --subject "local v1" --sender x@far.example --rcpt bob@test.example
"$RELAY" -c "$T/conf" & RPID=$!
check "the remote one stalls" wait_for 10 test -e "$T/stall/stalled"
check "meanwhile the queued copy for a busy mailbox (version 2) is delivered" \
	wait_for 5 grep -q '^Subject: local copy' "$T/mail/carol"
check "meanwhile the local recipient of a version 1 envelope is delivered" \
	wait_for 5 grep -q '^Subject: local v1' "$T/mail/bob"

# --- SIGTERM: nothing new, what is known written, exit within 10 s ---
kill -TERM "$RPID"
check "SIGTERM: the pass ends within 10 s" wait_for 10 sh -c "! kill -0 $RPID 2>/dev/null"
wait "$RPID"
expect_eq "SIGTERM: exit status 0" "$?" 0
check "SIGTERM: the interrupted recipient is still pending, not counted as an attempt" \
	grep -q $'^rcpt pending\t0\t.*c@stall.example' "$SPOOL"/env/*
exit 0
