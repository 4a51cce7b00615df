#!/bin/bash
# t-maildrop.sh - the maildrop: sendmail run by nobody with no listener
# on the submission socket hands the message to the setgid helper
# smtp-postdrop; relay-agent, started as root, becomes the spool's owner
# and its pickup feeds each file to smtp-session -U on behalf of the
# file's owner: delivered once, a second run delivers nothing; a refused
# recipient gets its sender a DSN; a 4xx keeps the file until
# queue_lifetime, then a DSN; a full disk leaves nothing; a file that is
# not what sendmail writes is removed; -U is refused to anyone but root
# and the spool's owner; relay-agent -p does only the pickup.
. "$(dirname "$0")/lib.sh"
plan 34

SVC=64001       # the service account (owner of the spool), no passwd entry
DROPGID=64002   # the maildrop's group, smtp-postdrop's setgid group
printf 'alice\nbob\ncarol\ndave\npostmaster: alice\n' | maildrop_setup

sm() { as_nobody "$T/bin/sendmail" -C "$T/conf" "$@"; }
drops() { ls "$T/spool/maildrop"; }
nmsgs() { grep -c '^From ' "$T/mail/$1" 2>/dev/null || echo 0; }
ra() { "$T/bin/relay-agent" -c "$T/conf" "$@"; }

# --- dropping -----------------------------------------------------------
printf 'Subject: dropped\n\nfrom the maildrop\n' | sm bob
expect_eq "no listener: sendmail exits 0" "$?" 0
F=$(drops)
check "one file in the maildrop, named by a queue id" bash -c "[[ '$F' =~ ^[0-9A-F]+$ ]]"
expect_eq "owned by the submitting user, group smtpdrop, mode 0644" \
	"$(stat -c '%u %g %a' "$T/spool/maildrop/$F" 2>/dev/null)" "65534 $DROPGID 644"
check "it holds the dialogue sendmail would have spoken" \
	bash -c "head -n 4 '$T/spool/maildrop/$F' | tr -d '\r' | tr '\n' '|' |
		grep -q '^EHLO mx.test.example|MAIL FROM:<nobody@test.example> BODY=8BITMIME|RCPT TO:<bob@test.example>|DATA|\$' &&
		tail -c 11 '$T/spool/maildrop/$F' | od -c | tr -s ' ' | grep -q '\\\\r \\\\n \\. \\\\r \\\\n Q U I T \\\\r \\\\n'"
check "nobody cannot list the maildrop" bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups ls '$T/spool/maildrop' 2>/dev/null"

# --- the pickup -----------------------------------------------------------
ra
expect_eq "relay-agent (root): exit 0" "$?" 0
expect_eq "bob has the message once" "$(nmsgs bob)" 1
expect_eq "the maildrop is empty" "$(drops)" ""
check "Received: names the file's owner" \
	bash -c "grep -A1 '^Received: from mx.test.example' '$T/mail/bob' | tr -d '\n' | grep -q '(userid 65534 (nobody))'"
check "log: the pickup, uid and queue id" \
	grep -q "pickup: $F: uid=65534, from=<nobody@test.example>, nrcpt=1: 250 2.0.0 Ok: queued as" "$T/var/log"
expect_eq "relay-agent ran as the spool's owner (its files are the owner's)" \
	"$(stat -c %u "$T/var/log" "$T/mail/bob" | sort -u)" "$SVC"
ra
expect_eq "a second run delivers nothing" "$(nmsgs bob)" 1

# --- a refused recipient: a DSN to the sender -----------------------------
printf 'Subject: to nobody known\n\nx\n' | sm -f carol nosuch
expect_eq "an unknown recipient is dropped all the same (exit 0)" "$?" 0
ra
check "the sender gets a DSN naming the recipient and 5.1.1" \
	bash -c "grep -q '^Subject: Undelivered Mail Returned to Sender' '$T/mail/carol' &&
		grep -q '^Final-Recipient: rfc822; nosuch@test.example' '$T/mail/carol' &&
		grep -q '^Status: 5.1.1' '$T/mail/carol'"
check "the DSN carries the original header" grep -q '^Subject: to nobody known' "$T/mail/carol"
expect_eq "the refused file is removed" "$(drops)" ""

# --- a temporary failure: the file stays, then goes -----------------------
mkdir "$T/mail/dave"            # dave's mbox cannot be opened: 451
printf 'Subject: later\n\nwait for it\n' | sm -f carol dave
ra
expect_eq "a 4xx keeps the file" "$(drops | wc -l)" 1
check "log: deferred with the reply" grep -q 'pickup: .*from=<carol@test.example>: deferred (451' "$T/var/log"
rmdir "$T/mail/dave"
ra
expect_eq "the next run delivers it" "$(nmsgs dave)" 1
expect_eq "and removes the file" "$(drops)" ""
mv "$T/mail/dave" "$T/dave.mbox" && mkdir "$T/mail/dave"
printf 'Subject: too late\n\nnever\n' | sm -f carol dave
touch -d '6 days ago' "$T/spool/maildrop/$(drops)"
ra
rmdir "$T/mail/dave"
check "past queue_lifetime: a DSN to the sender (5.4.7)" \
	bash -c "grep -q '^Final-Recipient: rfc822; dave@test.example' '$T/mail/carol' &&
		grep -q '^Status: 5.4.7' '$T/mail/carol'"
expect_eq "past queue_lifetime: the file is removed" "$(drops)" ""

# --- nothing half-written -------------------------------------------------
$PY -c 'import sys; sys.stdout.write("Subject: big\n\n" + "x" * 9000 + "\n")' |
	as_nobody prlimit --fsize=4096 "$T/bin/sendmail" -C "$T/conf" bob 2>"$T/err.full"
expect_eq "a full disk (file size limit): exit 75" "$?" 75
expect_eq "a full disk: nothing left in the maildrop" "$(drops)" ""
check "a full disk: both ways named on stderr" grep -q 'submission socket .* and the maildrop .* both failed' "$T/err.full"
printf 'EHLO x\r\nMAIL FROM:<a@b.example>\r\n' | as_nobody "$T/bin/smtp-postdrop" -c "$T/conf" 2>/dev/null
expect_eq "smtp-postdrop: input cut short (no QUIT): exit 65" "$?" 65
expect_eq "smtp-postdrop: input cut short: nothing left" "$(drops)" ""

# --- a file that is not sendmail's ------------------------------------------
printf 'HELLO there\r\nQUIT\r\n' | as_nobody "$T/bin/smtp-postdrop" -c "$T/conf"
expect_eq "smtp-postdrop stores what ends with QUIT" "$(drops | wc -l)" 1
ra
expect_eq "the pickup removes a file that is not a dialogue" "$(drops)" ""
check "log: why, with its owner" grep -q "pickup: .*: uid=65534: not a file sendmail writes (no EHLO first): removed" "$T/var/log"

# --- -U is the pickup's only ---------------------------------------------------
printf 'QUIT\r\n' | as_nobody "$T/bin/smtp-session" -c "$T/conf" -U 0 >/dev/null 2>&1
expect_eq "smtp-session -U as nobody: exit 77" "$?" 77
out=$(printf 'EHLO x\r\nQUIT\r\n' | setpriv --reuid=$SVC --regid=$SVC --clear-groups "$T/bin/smtp-session" -c "$T/conf" -U 65534 | tr -d '\r' | head -n 1)
check "smtp-session -U as the spool's owner: served" bash -c "[[ '$out' == 220* ]]"

# --- relay-agent -p -------------------------------------------------------
printf 'Subject: pickup only\n\nby -p\n' | sm alice
ra -p
expect_eq "relay-agent -p: exit 0" "$?" 0
check "relay-agent -p picked it up" grep -q '^by -p$' "$T/mail/alice"
