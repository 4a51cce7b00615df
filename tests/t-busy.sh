#!/bin/bash
# t-busy.sh - one busy mailbox never holds back the rest: bob's mbox is
# held locked (dotlock and fcntl, as a mail reader holds it) past the
# 30 s lock wait while a message for alice and bob arrives. The message
# gets 250 with alice's copy in her mbox at once and bob's in the spool
# (its envelope names the mailbox); bob's mbox is untouched. Once the
# lock is released, one relay-agent pass appends bob's copy and the
# queue is empty.
. "$(dirname "$0")/lib.sh"
plan 9
write_conf
printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\nold text\n\n' >"$T/mail/bob"
cp "$T/mail/bob" "$T/bob.before"

# The reader: dotlock bob.lock, fcntl lock on bob; holds both until the
# file $T/release appears (at most 180 s), then releases them.
cat >"$T/holder.py" <<'PY'
import fcntl, os, sys, time
path, release = sys.argv[1], sys.argv[2]
lock = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
f = open(path, "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
end = time.time() + 180
while not os.path.exists(release) and time.time() < end:
    time.sleep(0.05)
fcntl.lockf(f, fcntl.LOCK_UN)
os.close(lock)
os.unlink(path + ".lock")
print("released", flush=True)
PY
bg $PY "$T/holder.py" "$T/mail/bob" "$T/release" >"$T/holder.out"
HOLDER=$!
for _ in $(seq 100); do grep -q locked "$T/holder.out" && break; sleep 0.05; done
check "the reader holds bob's mbox" grep -q locked "$T/holder.out"

got=$(printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nSubject: busy bob\r\n\r\nfor both\r\n.\r\nQUIT\r\n' |
	timeout 120 "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep '^250 2.0.0' | cut -c1-9)
expect_eq "the message is accepted although bob's mbox stays locked past the wait" "$got" "250 2.0.0"
count() {   # count USER - messages with Subject "busy bob" in USER's mbox
	$PY - "$T/mail/$1" <<-'PY'
	import mailbox, sys
	print(sum(1 for m in mailbox.mbox(sys.argv[1]) if m["Subject"] == "busy bob"))
	PY
}
expect_eq "alice has her copy at once" "$(count alice)" "1"
check "bob's mbox is untouched while locked" cmp -s "$T/mail/bob" "$T/bob.before"
expect_eq "bob's copy waits in the spool, for his mailbox" \
	"$(grep -h '^rcpt' "$T"/spool/env/* 2>/dev/null | grep -c 'bob')" "1"

# Release the lock, then one relay-agent pass.
touch "$T/release"
wait "$HOLDER" 2>/dev/null
timeout 60 "$BIN/relay-agent" -c "$T/conf" 2>"$T/relay.err"
expect_eq "relay-agent appends bob's copy" "$(count bob)" "1"
expect_eq "alice still has exactly one copy" "$(count alice)" "1"
check "bob's old mail is kept" grep -q 'old text' "$T/mail/bob"
expect_eq "the queue is empty afterwards" "$(ls "$T/spool/env" "$T/spool/msg" 2>/dev/null | grep -v ':$' | grep -v '^$')" ""
