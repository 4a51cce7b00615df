#!/bin/bash
# t-relay-envelopes.sh - envelopes that are not what they seem: one whose
# id line names another message (moved to corrupt/, never written over
# that message's envelope), one with nothing left to do (removed), the
# remains of a crash while a corrupt message was moved aside (completed
# into corrupt/, never removed as orphans, listed by -l), and a queued
# copy for a mailbox whose password-database lookup fails (deferred, not
# bounced).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 22

write_conf "smarthost 127.0.0.161:$P" "connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL"
script 127.0.0.161 plain "$T/far.log"
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

# --- an envelope whose id line names another message ---
spool --id AAAA1 --subject "message A" --rcpt x@far.example --rcpt later@far.example
spool --id BBBB2 --subject "message B" --rcpt carol@far.example
"$RELAY" -c "$T/conf" -h BBBB2 >/dev/null
before=$(cat "$SPOOL/env/BBBB2")
sed -i 's/^id AAAA1$/id BBBB2/' "$SPOOL/env/AAAA1"
"$RELAY" -c "$T/conf"
expect_eq "id mismatch: the other message's envelope is untouched" "$(cat "$SPOOL/env/BBBB2")" "$before"
check "id mismatch: the envelope is moved to corrupt/" test -e "$SPOOL/corrupt/AAAA1" -a ! -e "$SPOOL/env/AAAA1"
check "id mismatch: its text with it" test -e "$SPOOL/corrupt/AAAA1.msg" -a ! -e "$SPOOL/msg/AAAA1"
check "id mismatch: logged as malformed" grep -q "AAAA1: malformed envelope: moved to" "$T/log"
expect_eq "id mismatch: nothing was sent" "$(taken "$T/far.log")" ""
"$RELAY" -c "$T/conf" -d AAAA1 >/dev/null
"$RELAY" -c "$T/conf" -d BBBB2 >/dev/null

# --- nothing left to do: the message leaves the queue ---
spool --id DONE1 --rcpt-line "$(printf 'sent\t1\t0\t0\tx@far.example\tx@far.example\t250 ok')"
spool --id DONE2 --rcpt-line "$(printf 'sent\t1\t0\t0\ty@far.example\ty@far.example\t250 ok')" \
	--rcpt-line "$(printf 'bounced\t1\t0\t0\tz@far.example\tz@far.example\t550 no')"
"$RELAY" -c "$T/conf"
check "all sent: envelope and text removed" test ! -e "$SPOOL/env/DONE1" -a ! -e "$SPOOL/msg/DONE1"
check "sent and bounced: envelope and text removed" test ! -e "$SPOOL/env/DONE2" -a ! -e "$SPOOL/msg/DONE2"
check "the removal is logged" grep -q "DONE1: removed" "$T/log"
expect_eq "nothing was sent again" "$(taken "$T/far.log")" ""
"$RELAY" -c "$T/conf" -l >"$T/list"
expect_eq "-l: the queue is empty" "$(cat "$T/list")" "Mail queue is empty"

# --- a crash between the two moves into corrupt/ ---
# Envelope moved, text still in msg/ (this version's order): the text
# follows it, even once it looks like an orphan (an hour old).
mkdir -p "$SPOOL/corrupt"
printf 'no envelope at all\n' >"$SPOOL/corrupt/CRASH1"
printf 'Subject: crash one\n\nkeep me\n' >"$SPOOL/msg/CRASH1"
# Text moved, envelope still in env/ (an older version's order).
printf 'Subject: crash two\n\nkeep me too\n' >"$SPOOL/corrupt/CRASH2.msg"
printf 'version 1\nid CRASH2\n' >"$SPOOL/env/CRASH2"
# Only a text in corrupt/ (what the older order left after the orphan
# removal): listed all the same.
printf 'Subject: crash three\n\nlisted\n' >"$SPOOL/corrupt/CRASH3.msg"
"$RELAY" -c "$T/conf" -l >"$T/list"
check "-l lists an envelope whose text is still in msg/" grep -q '^CRASH1 ' "$T/list"
check "-l lists a text in corrupt/ without its envelope" grep -q '^CRASH3 ' "$T/list"
check "-s shows the text still in msg/" sh -c "'$RELAY' -c '$T/conf' -s CRASH1 | grep -qx 'keep me'"
shimmed CLOCK_SHIFT=7200 "$RELAY" -c "$T/conf"
expect_eq "envelope moved first: its text follows it into corrupt/" \
	"$(cat "$SPOOL/corrupt/CRASH1.msg" 2>/dev/null)" "$(printf 'Subject: crash one\n\nkeep me')"
check "and msg/ no longer has it" test ! -e "$SPOOL/msg/CRASH1"
expect_eq "text moved first: its envelope follows it into corrupt/" \
	"$(cat "$SPOOL/corrupt/CRASH2" 2>/dev/null)" "$(printf 'version 1\nid CRASH2')"
check "and env/ no longer has it" test ! -e "$SPOOL/env/CRASH2"
check "the text moved first is still there" test -e "$SPOOL/corrupt/CRASH2.msg"
"$RELAY" -c "$T/conf" -d ALL >/dev/null

# --- a queued copy whose password-database lookup fails ---
mkdir -p "$T/varmail"
printf 'postmaster: root\n' >"$T/aliases"
cat >"$T/conf.sys" <<-EOF
	hostname mx.test.example
	domain test.example
	users system
	aliases $T/aliases
	mailbox_dir $T/varmail
	spool_dir $SPOOL
	log $T/log
	retry_min 15m
EOF
spool --id NSS1 --rcpt-line "$(printf 'pending\t0\t0\t0\tdaemon@test.example\tdaemon@test.example\t\tdaemon')"
spool --id NSS2 --rcpt-line "$(printf 'pending\t0\t0\t0\tnoacct9@test.example\tnoacct9@test.example\t\tnoacct9')"
shimmed PWFAIL=daemon "$RELAY" -c "$T/conf.sys"
expect_eq "lookup error: the copy is deferred" "$(env_field NSS1 daemon@test.example STATE)" pending
check "lookup error: logged as deferred, with the reason" \
	sh -c "grep -q 'to=<daemon@test.example>, relay=local, .*status=deferred (451 4.3.0 ' '$T/log' &&
		grep -q 'cannot look up local mailbox daemon: ' '$T/log'"
check "no such account: bounced as before" grep -q "to=<noacct9@test.example>, relay=local, .*status=bounced" "$T/log"
exit 0
