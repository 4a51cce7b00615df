#!/bin/bash
# t-turns.sh - our own deliveries to one mailbox take turns in the kernel
# (turnlock.c) before the dotlock and fcntl lock that every mail program
# honours (deliver.c), and those locks still work with other programs
# (tests/turns.py does each part):
#   - sessions waiting for a mailbox one of ours holds block in fcntl
#     and never poll; they deliver in turn once it is free;
#   - the turn is waited for at most the 30 s lock wait, then the copy
#     goes through the spool, as for a busy mailbox;
#   - procmail (dotlock, then fcntl) and our sessions delivering into one
#     mbox at the same time leave every message whole;
#   - a dotlock made by procmail's lockfile(1) holds a session back until
#     it is removed.
. "$(dirname "$0")/lib.sh"
plan $((6 + 4 + 2 + 4))
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
