# t-mboxrd.sh - mboxrd round trip: bodies full of From-like lines and
# dot lines, checked on the raw mbox bytes (one more '>' on ^>*From
# lines, nothing else changed, un-quoting restores the body), every
# message ending with an empty line, python's mailbox.mbox counting
# them; and the separator line for the null sender and for a sender
# with white space.
. "$(dirname "$0")/lib.sh"
plan 35

write_conf
timeout -k 5 300 $PY "$TOP/tests/mboxrd_check.py" "$BIN" "$T/conf" "$T/mail/carol"
helper_ran mboxrd_check.py $?

# The separator line: <> is MAILER-DAEMON; white space in the sender
# becomes '_' so that readers still see two fields before the date.
got=$(dialogue 'HELO client.example
MAIL FROM:<>
RCPT TO:<bob@test.example>
DATA
Subject: null sender

bounce text
.
MAIL FROM:<"john smith"@remote.example>
RCPT TO:<bob@test.example>
DATA
Subject: quoted sender

From john
.
QUIT' | mask)
expect_eq "separators: replies" "$got" "220 mx.test.example ESMTP ready
250 mx.test.example
250 2.1.0 Ok
250 2.1.5 Ok
354 End data with <CR><LF>.<CR><LF>
250 2.0.0 Ok: queued as ID
250 2.1.0 Ok
250 2.1.5 Ok
354 End data with <CR><LF>.<CR><LF>
250 2.0.0 Ok: queued as ID
221 2.0.0 Bye"
got=$(grep -E '^(From |>*From |Return-Path:|Subject:)' "$T/mail/bob" | mask)
expect_eq "separators: MAILER-DAEMON and '_' for white space" "$got" 'From MAILER-DAEMON DATE
Return-Path: <>
Subject: null sender
From "john_smith"@remote.example DATE
Return-Path: <"john smith"@remote.example>
Subject: quoted sender
>From john'
check "separators: the date is 24 characters of ctime format, UTC" \
	test "$(grep -cE '^From [^ ]+ [A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$' "$T/mail/bob")" = 2
got=$($PY -c 'import mailbox,sys; b=mailbox.mbox(sys.argv[1]); print(len(b), [m.get_from().split(" ")[0] for m in b])' "$T/mail/bob" 2>&1)
expect_eq "separators: mailbox.mbox splits 2 messages with their senders" "$got" \
	"2 ['MAILER-DAEMON', '\"john_smith\"@remote.example']"
