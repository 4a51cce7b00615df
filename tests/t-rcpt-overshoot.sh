#!/bin/bash
# t-rcpt-overshoot.sh - RCPT past the recipient limit (Postfix's
# smtpd_recipient_overshoot_limit): 452 4.5.3 for up to 1000
# (RCPT_OVERSHOOT_MAX) recipients past the limit in one transaction, then
# each further one also counts as an error, and at the 10th error of the
# session the client gets 421 4.7.0 and is disconnected.
#
#   - max_recipients 2: 2 accepted, 1010 refused with 452, the last
#     followed by 421 4.7.0; nothing after it is answered;
#   - the allowance is per transaction, the errors per session: 1005
#     past the limit, RSET, 1004 past it again: still connected (9
#     errors); one more refused RCPT ends it;
#   - a pipelined list of 300 recipients, 100 accepted: 200 refused with
#     452, no error counted, the message stored for the 100;
#   - at the limit, a RCPT is refused before any work: an unknown user
#     gets 452, not 550 (max_recipients), and after an alias that
#     expands to 1000 mailboxes (INJECT_TARGETS_MAX) the next RCPT is
#     452 too, not an expansion's 550.
. "$(dirname "$0")/lib.sh"
plan $((3 + 3 + 3 + 2))

# replies PYTHON-EXPR - send the octets the expression gives (a dialogue)
# to a session; its replies (CR removed) on stdout.
replies() {
	$PY -c "import sys; sys.stdout.buffer.write($1)" |
		timeout 120 "$BIN/smtp-session" -c "$T/conf" | tr -d '\r'
}
# tally - the reply lines counted by code: "CODE COUNT" lines, in order of
# first appearance, with runs collapsed.
tally() { cut -c1-3 | uniq -c | awk '{ print $2 " " $1 }'; }

H='b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n"'
R='b"RCPT TO:<alice@test.example>\r\n"'

write_conf "max_recipients 2"
got=$(replies "$H + $R * 1012 + b\"NOOP\r\nQUIT\r\n\"")
expect_eq "2 accepted, 1010 refused (452), then 421 and no more replies" \
	"$(printf '%s\n' "$got" | tail -n +2 | tally)" \
	"250 8
452 1010
421 1"
expect_eq "... the 421 is the error limit's" "$(printf '%s\n' "$got" | tail -n 1)" \
	"421 4.7.0 mx.test.example Error: too many errors"
check "... the log counts 10 errors" grep -q 'disconnect from .* errors=10$' "$T/log"

got=$(replies "$H + $R * 1007 + b\"RSET\r\nMAIL FROM:<s@remote.example>\r\n\" + $R * 1006 + b\"NOOP\r\n\" + $R + b\"NOOP\r\nQUIT\r\n\"")
expect_eq "per transaction: 1005 past the limit, RSET, 1004 past it: still connected" \
	"$(printf '%s\n' "$got" | tail -n +2 | head -n $((6 + 2 + 1005 + 2 + 2 + 1004 + 1)) | tally)" \
	"250 8
452 1005
250 4
452 1004
250 1"
expect_eq "... one more refused RCPT is the 10th error: 452, then 421" \
	"$(printf '%s\n' "$got" | tail -n 2)" \
	"452 4.5.3 Error: too many recipients
421 4.7.0 mx.test.example Error: too many errors"
check "... the log counts 10 errors" grep -q 'disconnect from .* errors=10$' "$T/log"

write_conf
rm -rf "$T/mail"; mkdir -p "$T/mail"
got=$(replies "$H + $R * 100 + b\"RCPT TO:<bob@test.example>\r\n\" * 200 + b\"DATA\r\nSubject: list\r\n\r\nx\r\n.\r\nQUIT\r\n\"")
expect_eq "a pipelined list of 300: 100 accepted, 200 refused (452), the message stored" \
	"$(printf '%s\n' "$got" | tail -n +2 | tally)" \
	"250 106
452 200
354 1
250 1
221 1"
check "... no error counted" grep -q 'disconnect from .* errors=0$' "$T/log"
check "... alice has the one copy" test "$(grep -c '^Subject: list' "$T/mail/alice")" = 1

write_conf "max_recipients 2"
got=$(replies "$H + $R * 2 + b\"RCPT TO:<nosuchuser@test.example>\r\nQUIT\r\n\"")
expect_eq "at max_recipients: an unknown user gets 452 (no lookup), not 550" \
	"$(printf '%s\n' "$got" | tail -n 2 | head -n 1)" "452 4.5.3 Error: too many recipients"

# An alias of 1000 mailboxes (ten lists of 100) fills INJECT_TARGETS_MAX.
write_conf "max_recipients 100"
{
	for i in $(seq 1000); do echo "m$i"; done
	for g in $(seq 0 9); do
		printf 'g%d: %s\n' "$g" "$(seq -f 'm%g' $((g * 100 + 1)) $((g * 100 + 100)) | paste -sd,)"
	done
	printf 'big: %s\n' "$(seq -f 'g%g' 0 9 | paste -sd,)"
} >>"$T/users"
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 1100 ]; then
	skip 1 "the descriptor limit is below 1100: fewer mailboxes per message"
else
	got=$(replies "$H + b\"RCPT TO:<big@test.example>\r\nRCPT TO:<nosuchuser@test.example>\r\nQUIT\r\n\"")
	expect_eq "after an alias of 1000 mailboxes: the next RCPT gets 452 before its lookup" \
		"$(printf '%s\n' "$got" | tail -n 3 | head -n 2)" "250 2.1.5 Ok
452 4.5.3 Error: too many recipients"
fi
