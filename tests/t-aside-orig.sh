#!/bin/bash
# t-aside-orig.sh - a copy set aside for a mailbox that cannot take it now
# (here: over quota, tests/faultinject.c's FI_QUOTA) waits in the queue
# with the recipient the client gave as its original recipient: team@
# (an alias of alice and bob), not bob@, so that a DSN about it names the
# address the sender used.
. "$(dirname "$0")/lib.sh"
plan 5

write_conf
if ! out=$(cc -shared -fPIC -o "$T/fi.so" "$TOP/tests/faultinject.c" -ldl 2>&1); then
	nok "the fault injection shim builds: $out"
else
	ok "the fault injection shim builds"
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
touch "$T/mail/bob"
printf 'EHLO c\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<team@test.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nSubject: t\r\n\r\nfor the team\r\n.\r\nQUIT\r\n' |
	FI_QUOTA=$T/mail/bob LD_PRELOAD=$T/fi.so "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' >"$T/replies"
check "accepted" grep -q '^250 2.0.0 Ok: queued as' "$T/replies"
check "alice has it" grep -q '^for the team' "$T/mail/alice"
# The queued copy: rcpt STATE ATTEMPTS NEXT ... ORIG ADDR ... MAILBOX.
line=$(cat "$T"/spool/env/* 2>/dev/null | awk -F'\t' '/^rcpt / && $NF == "bob"')
check "bob's copy waits in the queue for mailbox bob" test -n "$line"
expect_eq "its original recipient is the client's RCPT (team@), its address bob's" \
	"$(printf '%s\n' "$line" | awk -F'\t' '{ print $5 " " $6 }')" "team@test.example bob@test.example"
