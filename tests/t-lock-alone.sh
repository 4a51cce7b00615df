#!/bin/bash
# t-lock-alone.sh - a delivery never waits for a busy mailbox while it
# holds another (deliver.c): with bob's mbox held by a reader, a message
# for alice and bob waits for bob alone, so alice's mail reader and
# another delivery to alice go ahead at once; once bob is free the
# message lands in both mailboxes together (tests/lock_alone.py).
. "$(dirname "$0")/lib.sh"
# lock_alone.py's nine assertions, and its exit status.
plan $((9 + 1))
write_conf
for u in alice bob; do
	printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\nold text\n\n' >"$T/mail/$u"
done
timeout -k 5 120 $PY "$TOP/tests/lock_alone.py" "$BIN" "$T/conf" "$T/mail" "$T/spool"
helper_ran lock_alone.py $?
