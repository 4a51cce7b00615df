#!/bin/bash
# t-relay-admin.sh - relay-agent's queue commands (-s, -h, -H, -r, -d ID,
# -d ALL), held messages (not tried, not expiring while held), a next
# attempt absurdly far ahead (due), an envelope nobody can parse (moved to
# corrupt/, logged, shown by -l and -s, deleted by -d).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 34

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s" "queue_lifetime 5d"
mkdir -p "$SPOOL"
dns_start --mx-host=ok.example,mx.ok.example,10 --host-record=mx.ok.example,127.0.0.100 \
	--mx-host=defer.example,mx.defer.example,10 --host-record=mx.defer.example,127.0.0.101 ||
	nok "dnsmasq answers"
script 127.0.0.100 plain "$T/ok.log"
script 127.0.0.101 soft "$T/defer.log"

# --- -s: the envelope, then the text ---
spool --subject "show me" --rcpt a@ok.example
M1=$ID
"$RELAY" -c "$T/conf" -s "$M1" >"$T/show"
expect_eq "-s exits 0" "$?" 0
check "-s: envelope header" grep -qx "\*\*\* ENVELOPE RECORDS $M1 \*\*\*" "$T/show"
check "-s: the sender" grep -qx 'sender: <alice@test.example>' "$T/show"
rcpt_shown() { grep -A1 -x 'recipient: <a@ok.example>' "$T/show" | grep -q 'state pending, 0 attempts'; }
check "-s: the recipient and its state" rcpt_shown
text_shown() { sed -n '/^\*\*\* MESSAGE CONTENTS/,$p' "$T/show" | grep -qx 'Subject: show me'; }
check "-s: then the message" text_shown
"$RELAY" -c "$T/conf" -s NOSUCH1 2>/dev/null
expect_eq "-s of no such message: exit 1" "$?" 1
"$RELAY" -c "$T/conf" -s ../env 2>/dev/null
expect_eq "-s of a bad id: exit 64" "$?" 64

# --- -h: held, not tried; -l marks it; -H releases ---
"$RELAY" -c "$T/conf" -h "$M1" >/dev/null
expect_eq "-h exits 0" "$?" 0
check "-h is logged" grep -q "$M1: held by the administrator" "$T/log"
"$RELAY" -c "$T/conf" -f
expect_eq "a held message is not tried, even with -f" "$(taken "$T/ok.log")" ""
check "-l shows it on hold" sh -c "'$RELAY' -c '$T/conf' -l | grep -A1 '^$M1' | grep -q 'on hold since'"
"$RELAY" -c "$T/conf" -H "$M1" >/dev/null
expect_eq "-H exits 0" "$?" 0
"$RELAY" -c "$T/conf"
expect_eq "released, it is delivered" "$(taken "$T/ok.log")" a@ok.example

# --- held time does not count toward queue_lifetime ---
spool --subject "held long" --age $((6 * 86400)) --rcpt b@defer.example
M2=$ID
"$RELAY" -c "$T/conf" -h "$M2" >/dev/null
sed -i "s/^hold [0-9]*/hold $(( $(date +%s) - 2 * 86400 ))/" "$SPOOL/env/$M2"
"$RELAY" -c "$T/conf" -f
expect_eq "held 2 days: not tried while held" "$(grep -c RCPT "$T/defer.log")" 0
"$RELAY" -c "$T/conf" -H "$M2" >/dev/null
"$RELAY" -c "$T/conf" -f
check "6 days old, 2 of them held (lifetime 5d): deferred, not expired" logged b@defer.example deferred
expect_eq "and still pending" "$(env_field "$M2" b@defer.example STATE)" pending

# --- -r: due now ---
NOW=$(date +%s)
spool --subject later --rcpt-line $'pending\t1\t'$((NOW + 3600))$'\t'$NOW$'\tc@ok.example\tc@ok.example\t451 4.3.0 try later'
M3=$ID
"$RELAY" -c "$T/conf"
expect_eq "not due yet: not tried" "$(taken "$T/ok.log" | grep -c '^c@')" 0
"$RELAY" -c "$T/conf" -r "$M3" >/dev/null
expect_eq "-r exits 0" "$?" 0
"$RELAY" -c "$T/conf"
expect_eq "after -r it is tried and delivered" "$(taken "$T/ok.log" | grep -c '^c@')" 1

# --- a next attempt absurdly far ahead (the clock was stepped back) ---
spool --subject future --rcpt-line $'pending\t1\t'$((NOW + 10 * 365 * 86400))$'\t'$NOW$'\td@ok.example\td@ok.example\t451 4.3.0 x'
"$RELAY" -c "$T/conf"
expect_eq "a next attempt ten years ahead counts as due" "$(taken "$T/ok.log" | grep -c '^d@')" 1

# --- -d ID ---
spool --subject "delete me" --rcpt e@ok.example
M5=$ID
"$RELAY" -c "$T/conf" -d "$M5" </dev/null >"$T/del"
expect_eq "-d exits 0" "$?" 0
check "-d removed the envelope and the text" test ! -e "$SPOOL/env/$M5" -a ! -e "$SPOOL/msg/$M5"
check "-d is logged" grep -q "$M5: removed by the administrator" "$T/log"
"$RELAY" -c "$T/conf" -d "$M5" 2>/dev/null
expect_eq "-d of a message already gone: exit 1" "$?" 1

# --- an envelope nobody can parse ---
printf 'this is no envelope\n' >"$SPOOL/env/BAD1"
printf 'Subject: broken\n\nx\n' >"$SPOOL/msg/BAD1"
"$RELAY" -c "$T/conf"
check "malformed envelope moved to corrupt/" test -e "$SPOOL/corrupt/BAD1" -a ! -e "$SPOOL/env/BAD1"
check "its message moved with it" test -e "$SPOOL/corrupt/BAD1.msg" -a ! -e "$SPOOL/msg/BAD1"
check "and logged" grep -q "BAD1: malformed envelope: moved to $SPOOL/corrupt/" "$T/log"
"$RELAY" -c "$T/conf" -l >"$T/list"
expect_eq "-l with a corrupt envelope: exit 75" "$?" 75
check "-l shows it" grep -q '^BAD1 .*(malformed envelope, moved to' "$T/list"
check "-s shows it as stored" sh -c "'$RELAY' -c '$T/conf' -s BAD1 | grep -qx 'this is no envelope'"

# --- -d ALL: every message, corrupt ones too, no question asked ---
spool --subject all1 --rcpt f@defer.example
spool --subject all2 --rcpt g@defer.example
"$RELAY" -c "$T/conf" -d ALL </dev/null >"$T/delall"
expect_eq "-d ALL exits 0" "$?" 0
expect_eq "-d ALL: env/ is empty" "$(ls "$SPOOL/env" | wc -l)" 0
expect_eq "-d ALL: corrupt/ is empty" "$(ls "$SPOOL/corrupt" | wc -l)" 0
check "-d ALL: each deletion logged" test "$(grep -c 'removed.* by the administrator' "$T/log")" -ge 5
exit 0
