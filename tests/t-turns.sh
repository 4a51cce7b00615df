#!/bin/bash
# t-turns.sh - our own deliveries to one mailbox take turns in the kernel
# (turnlock.c) before the dotlock and fcntl lock that every mail program
# honours (deliver.c), and those locks still work with other programs
# (tests/turns.py does each part):
#   - sessions waiting for a mailbox one of ours holds (while it waits
#     for that mailbox alone) block in fcntl and never poll; they deliver
#     in turn once it is free;
#   - the turn is waited for at most the 30 s lock wait, then the copy
#     goes through the spool, as for a busy mailbox;
#   - procmail (dotlock, then fcntl) and our sessions delivering into one
#     mbox at the same time leave every message whole;
#   - a dotlock made by procmail's lockfile(1) holds a session back until
#     it is removed;
#   - the turns file made by root belongs to the spool's owner, and one
#     the service account cannot open only costs it the queueing (a
#     warning; the message is still delivered).
. "$(dirname "$0")/lib.sh"
plan $((6 + 4 + 2 + 4 + 3))
write_conf

# run MODE - a fresh mail and spool directory, then turns.py MODE.
run() {
	rm -rf "$T/mail" "$T/spool"
	mkdir -p "$T/mail" "$T/spool"
	timeout -k 5 120 $PY "$TOP/tests/turns.py" "$1" "$BIN" "$T/conf" "$T/mail" "$T/spool" ||
		nok "$1: turns.py exit status $?"
}
run queue
run bound
if command -v procmail >/dev/null && command -v lockfile >/dev/null; then
	run procmail
	run lockfile
else
	for _ in $(seq 6); do nok "procmail and lockfile(1) are not installed (tests/deps.sh)"; done
fi

# --- the turns file and its owner ----------------------------------------
# dialogue_for USER SUBJECT - one message for USER.
dialogue_for() {
	printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<%s@test.example>\r\nDATA\r\nSubject: %s\r\n\r\nbody\r\n.\r\nQUIT\r\n' "$1" "$2"
}
rm -rf "$T/mail" "$T/spool"
mkdir -p "$T/mail" "$T/spool"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chown nobody: "$T/mail" "$T/spool"
	dialogue_for alice "made by root" | timeout 60 "$BIN/smtp-session" -c "$T/conf" >/dev/null
	expect_eq "a turns file made by root belongs to the spool's owner" \
		"$(stat -c %U "$T/spool/turns" 2>&1)" "nobody"
	# Now one the service account (nobody) cannot open.
	chown root: "$T/spool/turns"
	touch "$T/log"; chown nobody: "$T/log" "$T/mail/alice"
	got=$(dialogue_for alice "turns closed to us" |
		timeout 60 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep -c '^250 2.0.0 Ok: queued')
	expect_eq "turns file closed to the service account: the message is still delivered" "$got" "1"
	check "... and the log says why deliveries poll" grep -q 'turns: Permission denied: deliveries poll' "$T/log"
else
	for _ in 1 2 3; do nok "the turns file's owner: needs root and the user nobody"; done
fi
