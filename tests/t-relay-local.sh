#!/bin/bash
# t-relay-local.sh - queued mail for local mailboxes: one busy mailbox
# holds back neither the other mailboxes (several local workers) nor the
# pass (its lock is waited for once per pass, its other copies are
# deferred at once); two copies for one mailbox are never appended at the
# same time; once free, every copy is delivered whole.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 11

write_conf
mkdir -p "$SPOOL"
copy() {        # copy ID MAILBOX - a queued copy that waited for MAILBOX
	spool --id "$1" --subject "copy $1" \
		--rcpt-line "$(printf 'pending\t0\t0\t0\t%s@test.example\t%s@test.example\t\t%s' "$2" "$2" "$2")"
}
for i in 1 2 3; do copy A$i alice; done
copy B1 bob
spool --id C1 --subject "to carol" --rcpt carol@test.example
touch "$T/mail/alice"
echo $$ >"$T/mail/alice.lock"           # fresh: not stale for 10 minutes
"$RELAY" -c "$T/conf"
expect_eq "busy mailbox: its three copies deferred" \
	"$(grep -c 'to=<alice@test.example>, relay=local, .*status=deferred (451 4.2.0' "$T/log")" 3
expect_eq "busy mailbox: its lock waited for once in the pass, not once per copy" \
	"$(grep -c 'mailbox alice is still locked after the wait' "$T/log")" 1
check "the other mailboxes delivered in the same pass" \
	sh -c "grep -q '^Subject: copy B1' '$T/mail/bob' && grep -q '^Subject: to carol' '$T/mail/carol'"
# The order of the log: bob's delivery does not wait for alice's lock.
first_alice=$(grep -n 'to=<alice@test.example>' "$T/log" | head -n1 | cut -d: -f1)
bob=$(grep -n 'to=<bob@test.example>, relay=local, .*status=sent' "$T/log" | cut -d: -f1)
check "bob's copy is delivered while alice's lock is waited for (before her first outcome)" \
	test -n "$bob" -a -n "$first_alice" -a "${bob:-0}" -lt "${first_alice:-0}"

# Free again: the next pass delivers every copy, one append at a time.
rm -f "$T/mail/alice.lock"
: >"$T/log"
"$RELAY" -c "$T/conf" -f
expect_eq "free again: the three copies delivered" \
	"$(grep -c 'to=<alice@test.example>, relay=local, .*status=sent' "$T/log")" 3
expect_eq "free again: alice's mailbox reads as three whole messages" "$($PY - "$T/mail/alice" <<-'PY'
	import mailbox, sys
	print(sorted(m["Subject"] for m in mailbox.mbox(sys.argv[1])))
	PY
	)" "['copy A1', 'copy A2', 'copy A3']"
expect_eq "free again: the queue is empty" "$(ls "$SPOOL/env" | wc -l)" 0

# Two copies for one mailbox whose every append takes 3.5 s (longer than
# a queued copy's lock wait), six for six others, at once: the one
# mailbox is appended to by one worker at a time (a second append at the
# same time would wait for the lock, give up and defer), the others go on
# meanwhile.
if out=$(cc -shared -fPIC -o "$T/shim.so" "$TOP/tests/relay-shim.c" -ldl 2>&1); then
	ok "the test shim builds"
else
	nok "the test shim builds: $out"
fi
printf 'dave\n' >>"$T/users"
touch "$T/mail/dave"
: >"$T/log"
for i in 1 2; do copy D$i dave; done
for i in $(seq 1 6); do
	printf 'u%d\n' "$i" >>"$T/users"
	copy E$i "u$i"
done
env LD_PRELOAD="$T/shim.so" SLOW_WRITE="$(realpath "$T/mail/dave")" SLOW_WRITE_MS=3500 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$RELAY" -c "$T/conf"
expect_eq "one slow mailbox, two copies: both delivered, one after the other" \
	"$($PY -c 'import mailbox, sys; print(len(mailbox.mbox(sys.argv[1])))' "$T/mail/dave")" 2
expect_eq "one slow mailbox: neither copy gave up waiting for the other's lock" \
	"$(grep -c 'status=deferred' "$T/log")" 0
expect_eq "six other mailboxes: all delivered" "$(cat "$T"/mail/u* | grep -c '^Subject: copy E')" 6
exit 0
