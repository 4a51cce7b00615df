#!/bin/bash
# t-faultinject.sh - every file-system call of a delivery fails once.
#
# tests/faultinject.c (an LD_PRELOAD shim) counts the calls smtp-session
# makes under mailbox_dir and spool_dir (open, write, writev, pread,
# fsync, rename, link, unlink, ftruncate, close, fcntl, fstat, mkdir)
# and makes the Nth fail with EIO (then ENOSPC for writes and fsyncs). For a message to
# two mailboxes (alice, who has mail, and bob, whose mbox does not exist
# yet), one to a foreign recipient only (spool) and a mixed one, each
# N = 1..total must give either a 4xx with no trace of the message
# anywhere, or a 250 with every copy whole (tests/faultinject.py).
# The last scenario has bob over quota (every write to his mbox fails
# with EDQUOT): his copy goes to the spool for relay-agent, so a failure
# while spooling that waiting copy must undo alice's copy too.
. "$(dirname "$0")/lib.sh"
# The shim; per scenario (four) three assertions of faultinject.py and its
# exit status; one more per mailbox a scenario creates (bob's, in the
# first).
plan $((1 + 4 * (3 + 1) + 1))

FI=$T/fi
mkdir -p "$FI"
write_conf
sed -i -e "s|^mailbox_dir .*|mailbox_dir $FI/mail|" -e "s|^spool_dir .*|spool_dir $FI/spool|" "$T/conf"

if ! out=$(cc -shared -fPIC -o "$T/fi.so" "$TOP/tests/faultinject.c" -ldl 2>&1); then
	nok "the fault injection shim builds: $out"
	exit 0
fi
ok "the fault injection shim builds"

# fresh - the starting state: alice holds one old message, bob has none.
fresh() {
	rm -rf "$FI/mail" "$FI/spool"
	mkdir -p "$FI/mail" "$FI/spool/tmp" "$FI/spool/msg" "$FI/spool/env"
	printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\nold text\n\n' >"$FI/mail/alice"
}

# scenario NAME CREATED RCPT... - the whole loop for one recipient list;
# CREATED: the mailboxes the delivery must create ("-": none).
scenario() {
	local name=$1 created=$2; shift 2
	fresh
	timeout -k 5 300 $PY "$TOP/tests/faultinject.py" "$BIN" "$T/conf" "$FI" "$T/fi.so" "$T" \
		"$name" "$created" "$@"
	helper_ran "faultinject.py ($name)" $?
}

scenario "two mailboxes" bob alice@test.example bob@test.example
scenario "spool only" - friend@far.example
scenario "mixed" - alice@test.example friend@far.example
# (bob's mbox is made, but left empty: his copy waits in the spool)
FI_QUOTA=$FI/mail/bob scenario "bob over quota" - alice@test.example bob@test.example
