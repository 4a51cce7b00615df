#!/bin/bash
# t-pickup-busy.sh - the pickup is not held up by busy mailboxes: bob's,
# carol's and dave's mboxes are held by a mail reader (dotlock and fcntl
# lock) while three files sendmail left in the maildrop (to alice and
# bob, to carol, to dave) are picked up. Each busy mailbox is waited for
# a few seconds only (relay-agent's short lock wait, not a session's
# 30 s), then its copy waits in the queue: the pickup is over in well
# under 30 s, the maildrop is empty and alice has her copy. Once the
# reader lets go, a relay-agent pass delivers the three copies that
# waited. (Needs root, as t-maildrop.sh.)
. "$(dirname "$0")/lib.sh"
plan 13

SVC=64001       # the service account (owner of the spool), no passwd entry
DROPGID=64002   # the maildrop's group, smtp-postdrop's setgid group
printf 'alice\nbob\ncarol\ndave\npostmaster: alice\n' | maildrop_setup
for u in alice bob carol dave; do
	printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\nold text\n\n' >"$T/mail/$u"
	cp "$T/mail/$u" "$T/$u.before"
done
chown -R "$SVC:$SVC" "$T/mail"

sm() { as_nobody "$T/bin/sendmail" -C "$T/conf" "$@"; }
drops() { ls "$T/spool/maildrop"; }
nbusy() { grep -c '^Subject: busy' "$T/mail/$1"; }
waiting() {     # waiting - queued copies still to do for bob, carol or dave
	grep -h '^rcpt pending' "$T"/spool/env/* 2>/dev/null | grep -cE $'\t(bob|carol|dave)$'
}

# The reader: bob's, carol's and dave's mboxes, each dotlocked and fcntl
# locked, until $T/release appears (at most 180 s).
cat >"$T/holder.py" <<'PY'
import fcntl, os, sys, time
release, paths = sys.argv[1], sys.argv[2:]
files = []
for path in paths:
    os.close(os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    f = open(path, "r+")
    fcntl.lockf(f, fcntl.LOCK_EX)
    files.append(f)
print("locked", flush=True)
end = time.time() + 180
while not os.path.exists(release) and time.time() < end:
    time.sleep(0.05)
for path, f in zip(paths, files):
    fcntl.lockf(f, fcntl.LOCK_UN)
    f.close()
    os.unlink(path + ".lock")
print("released", flush=True)
PY
bg $PY "$T/holder.py" "$T/release" "$T/mail/bob" "$T/mail/carol" "$T/mail/dave" >"$T/holder.out"
HOLDER=$!
for _ in $(seq 100); do grep -q locked "$T/holder.out" && break; sleep 0.05; done
check "a reader holds bob's, carol's and dave's mboxes" grep -q locked "$T/holder.out"

printf 'Subject: busy 1\n\nto alice and bob\n' | sm alice bob
printf 'Subject: busy 2\n\nto carol\n' | sm carol
printf 'Subject: busy 3\n\nto dave\n' | sm dave
expect_eq "three files in the maildrop" "$(drops | wc -l)" 3

t0=$(date +%s%N)
timeout 60 "$T/bin/relay-agent" -c "$T/conf" -p
expect_eq "relay-agent -p: exit 0" "$?" 0
took=$(( ($(date +%s%N) - t0) / 1000000 ))
# Three busy mailboxes, one after the other: 3 x 3 s, where a session's
# lock wait would take 3 x 30 s.
check "the pickup waited a few seconds per busy mailbox, not 30 ($took ms)" test "$took" -lt 25000
expect_eq "the maildrop is empty" "$(drops)" ""
expect_eq "alice has her copy at once" "$(nbusy alice)" 1
check "bob's, carol's and dave's mboxes are untouched while held" \
	bash -c "cmp -s '$T/mail/bob' '$T/bob.before' && cmp -s '$T/mail/carol' '$T/carol.before' &&
		cmp -s '$T/mail/dave' '$T/dave.before'"
expect_eq "their three copies wait in the queue, for their mailboxes" "$(waiting)" 3
expect_eq "log: each file was picked up" "$(grep -c 'pickup: .*nrcpt=.*250 2.0.0' "$T/var/log")" 3

touch "$T/release"
wait "$HOLDER" 2>/dev/null
timeout 60 "$T/bin/relay-agent" -c "$T/conf"
expect_eq "once the reader lets go, a relay-agent pass: exit 0" "$?" 0
expect_eq "bob, carol and dave have their copies" "$(nbusy bob) $(nbusy carol) $(nbusy dave)" "1 1 1"
expect_eq "nothing waits in the queue afterwards" "$(waiting)" 0
expect_eq "alice still has exactly one copy" "$(nbusy alice)" 1
