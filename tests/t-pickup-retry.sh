#!/bin/bash
# t-pickup-retry.sh - a recipient of a dropped file refused for now at
# RCPT is retried, never bounced as final. The file names "big" (an
# alias reaching 1000 addresses, the most one message may have) and
# alice: the first transaction stores big's copies and gets 452 for
# alice; the pickup feeds alice again in a new transaction from the same
# file, on behalf of the same user. When that one fails for now too
# (alice's mailbox cannot be opened), the file stays with a record of
# what was done, and the next run feeds alice alone: big's copies are not
# queued twice, nobody gets a DSN, and the file and its record go.
. "$(dirname "$0")/lib.sh"
plan 13

SVC=64001       # the service account (owner of the spool), no passwd entry
DROPGID=64002   # the maildrop's group, smtp-postdrop's setgid group
{
	printf 'alice\nbob\ncarol\npostmaster: alice\n'
	printf 'big: g0'
	for g in 1 2 3 4 5 6 7 8 9; do printf ', g%s' "$g"; done
	printf '\n'
	for g in 0 1 2 3 4 5 6 7 8 9; do
		printf 'g%s: x%s-0@far.example' "$g" "$g"
		for i in $(seq 1 99); do printf ', x%s-%s@far.example' "$g" "$i"; done
		printf '\n'
	done
} | maildrop_setup
drops() { ls "$T/spool/maildrop"; }
envs() { ls "$T/spool/env" 2>/dev/null | wc -l; }
far() { cat "$T"/spool/env/* 2>/dev/null | grep -c '^rcpt .*@far.example'; }

mkdir "$T/mail/alice"           # alice's mbox cannot be opened: 451
printf 'Subject: to big and alice\n\nhello\n' |
	as_nobody "$T/bin/sendmail" -C "$T/conf" -f carol big alice
expect_eq "dropped" "$(drops | wc -l)" 1
F=$(drops)
"$T/bin/relay-agent" -c "$T/conf" -p
expect_eq "first run: big's 1000 copies are queued once" "$(envs):$(far)" "1:1000"
check "first run: alice got 452 4.5.3 in the first transaction, then a second one (logged)" \
	bash -c "grep -q 'pickup: $F: .*nrcpt=1: 250' '$T/var/log' &&
		grep -q 'pickup: $F: uid=65534, from=<carol@test.example>: deferred (451' '$T/var/log'"
check "first run: no DSN (alice is not bounced)" test ! -e "$T/mail/carol"
expect_eq "first run: the file stays, with its record (owned by the service account)" \
	"$(drops | sort | tr '\n' ' ')" "$F $F.done "
expect_eq "the record names big (recipient 0) as done" "$(cat "$T/spool/maildrop/$F.done")" 0
expect_eq "the record is the service account's, mode 0600" \
	"$(stat -c '%u %a' "$T/spool/maildrop/$F.done")" "$SVC 600"

rmdir "$T/mail/alice"
"$T/bin/relay-agent" -c "$T/conf" -p
check "second run: alice has it" grep -q '^Subject: to big and alice' "$T/mail/alice"
expect_eq "second run: big's copies were not queued again" "$(envs):$(far)" "1:1000"
expect_eq "second run: the file and its record are gone" "$(drops)" ""
check "still no DSN" test ! -e "$T/mail/carol"

# A recipient refused for good is still reported at once (5.1.1).
# (A whole pass: the pickup queues the DSN, and the same pass delivers it.)
printf 'Subject: one unknown\n\nx\n' | as_nobody "$T/bin/sendmail" -C "$T/conf" -f carol bob nosuch
"$T/bin/relay-agent" -c "$T/conf"
check "a 550 at RCPT: a DSN for that recipient only; bob has it" \
	bash -c "grep -q '^Final-Recipient: rfc822; nosuch@test.example' '$T/mail/carol' &&
		! grep -q '^Final-Recipient: rfc822; bob@test.example' '$T/mail/carol' &&
		grep -q '^Subject: one unknown' '$T/mail/bob' && [ -z \"\$(ls '$T/spool/maildrop')\" ]"

# A MAIL refused for good: the DSN gives that reply, not the 503 the
# RCPTs got after it.
rm -f "$T/mail/carol"
printf 'EHLO x\r\nMAIL FROM:<carol@test.example> SIZE=999999999\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nSubject: huge\r\n\r\ny\r\n.\r\nQUIT\r\n' |
	as_nobody "$T/bin/smtp-postdrop" -c "$T/conf"
"$T/bin/relay-agent" -c "$T/conf"
check "MAIL refused (552 5.3.4): the DSN says 5.3.4 for bob, not 5.5.1" \
	bash -c "grep -q '^Final-Recipient: rfc822; bob@test.example' '$T/mail/carol' &&
		grep -q '^Status: 5.3.4' '$T/mail/carol' && [ -z \"\$(ls '$T/spool/maildrop')\" ]"
