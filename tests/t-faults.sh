# t-faults.sh - failures must leave no part of a message anywhere:
# a full disk (a 256 KiB tmpfs holding mailbox_dir and spool_dir) while
# staging, while appending to the mbox, and while committing to the
# spool after the mbox was written (no inode left); SIGKILL in the
# middle of DATA and while waiting for a mailbox lock; and a mailbox
# locked by another holder (fcntl lock, fresh dotlock, stale dotlock):
# the delivery waits, then succeeds after the holder's own message.
. "$(dirname "$0")/lib.sh"
plan 76

MNT=$T/small
MNT2=$T/inodes
# Processes first (they hold files on the mounts), then the mounts, then
# lib.sh's cleanup.
fault_cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
	mountpoint -q "$MNT" && umount "$MNT"
	mountpoint -q "$MNT2" && umount "$MNT2"
	cleanup
}
trap fault_cleanup EXIT

write_conf
snapshot() { cp "$1" "$T/before" 2>/dev/null || : >"$T/before"; }
# same_as_before MBOX WHAT - the mbox is byte-identical to the snapshot.
same_as_before() {
	if cmp -s "$1" "$T/before"; then ok "$2: mbox byte-identical to before"
	else nok "$2: mbox byte-identical to before ($(stat -c %s "$1" 2>&1) octets, was $(stat -c %s "$T/before"))"; fi
}
# spool_clean DIR WHAT - nothing in env/ and msg/, no .lock in mailbox_dir.
spool_clean() {
	expect_eq "$3: spool env/ and msg/ empty" "$(ls -A "$1/env" 2>/dev/null)$(ls -A "$1/msg" 2>/dev/null)" ""
	expect_eq "$3: no .lock left" "$(ls -A "$2" | grep '\.lock$')" ""
}
# big_dialogue RCPT KIB - a dialogue with a message of KIB KiB to RCPT.
big_dialogue() {
	$PY - "$1" "$2" <<-'PY'
	import sys
	rcpt, kib = sys.argv[1], int(sys.argv[2])
	line = b"x" * 1022 + b"\r\n"
	sys.stdout.buffer.write(b"EHLO client.example\r\nMAIL FROM:<sender@remote.example>\r\n"
	    + b"RCPT TO:<" + rcpt.encode() + b">\r\nDATA\r\nSubject: big\r\n\r\n"
	    + line * kib + b".\r\nQUIT\r\n")
	PY
}
small_dialogue='EHLO client.example
MAIL FROM:<sender@remote.example>
RCPT TO:<alice@test.example>
DATA
Subject: small

small message
.
QUIT'
# last_data_reply - the reply to the end of data in a session's output.
last_data_reply() { grep -A1 '^354 ' | sed -n 2p; }

# ---------------------------------------------------------------- disk full
mkdir -p "$MNT"
if ! out=$(mount -t tmpfs -o size=256k,mode=0755 tmpfs "$MNT" 2>&1); then
	nok "disk full: cannot mount a tmpfs ($out): disk-full cases not run"
else
	mkdir -p "$MNT/mail" "$MNT/spool"
	# No message size limit, hence no free-space reserve at MAIL (1.5
	# times the limit): the writes themselves must meet the full disk.
	sed -e "s|^mailbox_dir .*|mailbox_dir $MNT/mail|" -e "s|^spool_dir .*|spool_dir $MNT/spool|" \
		"$T/conf" >"$T/conf.small"
	echo "max_message_size 0" >>"$T/conf.small"
	cp "$T/conf" "$T/conf.orig"
	cp "$T/conf.small" "$T/conf"
	got=$(dialogue "$small_dialogue" | last_data_reply | mask)
	expect_eq "disk full: a small message fits" "$got" "250 2.0.0 Ok: queued as ID"

	# 1. local, larger than the whole file system: staging fails.
	snapshot "$MNT/mail/alice"
	got=$(big_dialogue alice@test.example 300 | session | last_data_reply)
	expect_eq "disk full, staging (local): 452 4.3.1" "$got" "452 4.3.1 Insufficient system storage"
	same_as_before "$MNT/mail/alice" "disk full, staging (local)"
	spool_clean "$MNT/spool" "$MNT/mail" "disk full, staging (local)"

	# 2. local, the staged copy fits but the mbox copy does not.
	snapshot "$MNT/mail/alice"
	got=$(big_dialogue alice@test.example 150 | session | last_data_reply)
	case $got in
	"452 4.3.1 Insufficient system storage"*) ok "disk full, mbox append: 452 4.3.1 ($got)" ;;
	*) nok "disk full, mbox append: 452 4.3.1 (got: $got)" ;;
	esac
	same_as_before "$MNT/mail/alice" "disk full, mbox append"
	spool_clean "$MNT/spool" "$MNT/mail" "disk full, mbox append"

	# 3. foreign, larger than the file system: nothing queued.
	got=$(big_dialogue friend@far.example 300 | session | last_data_reply)
	expect_eq "disk full, spool: 452 4.3.1" "$got" "452 4.3.1 Insufficient system storage"
	spool_clean "$MNT/spool" "$MNT/mail" "disk full, spool"
	same_as_before "$MNT/mail/alice" "disk full, spool"

	# The space came back: the next message is delivered whole.
	got=$(dialogue "$small_dialogue" | last_data_reply | mask)
	expect_eq "disk full: afterwards a small message is delivered" "$got" "250 2.0.0 Ok: queued as ID"
	expect_eq "disk full: alice holds exactly the two small messages" \
		"$(grep -c '^From ' "$MNT/mail/alice")/$(grep -c '^small message$' "$MNT/mail/alice")" "2/2"
	cp "$T/conf.orig" "$T/conf"
	umount "$MNT"
fi

# 4. No inode left for the envelope: the mbox copy was written and
# fsynced, the spool commit fails, the mbox must be truncated back.
mkdir -p "$MNT2"
if ! out=$(mount -t tmpfs -o size=4m,nr_inodes=64,mode=0755 tmpfs "$MNT2" 2>&1); then
	nok "no inode: cannot mount a tmpfs ($out): case not run"
else
	mkdir -p "$MNT2/mail" "$MNT2/spool/tmp" "$MNT2/spool/msg" "$MNT2/spool/env"
	sed -e "s|^mailbox_dir .*|mailbox_dir $MNT2/mail|" -e "s|^spool_dir .*|spool_dir $MNT2/spool|" \
		"$T/conf.orig" >"$T/conf"
	echo "max_message_size 0" >>"$T/conf"     # no free-space reserve at MAIL
	got=$(dialogue "$small_dialogue" | last_data_reply | mask)
	expect_eq "no inode: first a message is delivered" "$got" "250 2.0.0 Ok: queued as ID"
	used=$(df --output=iused "$MNT2" | tail -n 1 | tr -d ' ')
	# two inodes free: the staging file and the dotlock; none for the envelope
	if out=$(mount -o remount,nr_inodes=$((used + 2)) "$MNT2" 2>&1); then
		snapshot "$MNT2/mail/alice"
		got=$(printf '%s\n' 'EHLO client.example' 'MAIL FROM:<sender@remote.example>' \
			'RCPT TO:<alice@test.example>' 'RCPT TO:<friend@far.example>' 'DATA' \
			'Subject: both' '' 'to a mailbox and to the spool' '.' 'QUIT' | crlf | session |
			last_data_reply)
		# This exact text (no "(lock ...)" or "(write ...)" detail) is the
		# spool commit's: the mbox copy had been appended before it.
		expect_eq "no inode for the envelope: 452 4.3.1" "$got" "452 4.3.1 Insufficient system storage"
		same_as_before "$MNT2/mail/alice" "no inode for the envelope"
		spool_clean "$MNT2/spool" "$MNT2/mail" "no inode for the envelope"
	else
		nok "no inode: remount with nr_inodes=$((used + 2)) failed: $out"
	fi
	cp "$T/conf.orig" "$T/conf"
	umount "$MNT2"
fi

# ------------------------------------------------------- file size limit
# A file size limit (ulimit -f, systemd LimitFSIZE=) makes write() fail
# with EFBIG: the same 452 and truncation as a full disk, provided
# SIGXFSZ does not kill the session first.
rm -rf "$T/mail" "$T/spool"
mkdir -p "$T/mail" "$T/spool"
$PY -c 'import sys; sys.stdout.write("From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\n" + ("y" * 99 + "\n") * 1000 + "\n")' >"$T/mail/alice"
snapshot "$T/mail/alice"
# limited_session KIB RCPT - a message of KIB KiB under a 128 KiB limit.
limited_session() {
	big_dialogue "$2" "$1" >"$T/dlg"
	( ulimit -f 128; exec "$BIN/smtp-session" -c "$T/conf" <"$T/dlg" >"$T/limited.out" 2>/dev/null )
	echo "exit $?"
	tr -d '\r' <"$T/limited.out" | last_data_reply
}
# 60 KiB: the staged copy fits, the mbox (100 KiB already) would pass 128 KiB.
got=$(limited_session 60 alice@test.example 2>&1)
case $got in
"exit 0"$'\n'"452 4.3.1 Insufficient system storage"*) ok "file size limit, mbox append: 452 4.3.1, exit 0" ;;
*) nok "file size limit, mbox append: 452 4.3.1, exit 0"; printf '%s\n' "$got" | sed 's/^/   got: /' ;;
esac
same_as_before "$T/mail/alice" "file size limit, mbox append"
spool_clean "$T/spool" "$T/mail" "file size limit, mbox append"
rm -f "$T/mail/alice.lock"; cp "$T/before" "$T/mail/alice"
# 200 KiB to a foreign address: the staging file passes the limit.
got=$(limited_session 200 friend@far.example 2>&1)
expect_eq "file size limit, spool: 452 4.3.1, exit 0" "$got" "exit 0
452 4.3.1 Insufficient system storage"
spool_clean "$T/spool" "$T/mail" "file size limit, spool"
same_as_before "$T/mail/alice" "file size limit, spool"

# ------------------------------------------- after a crash in an append
# A crash in the middle of an append (power loss, SIGKILL, SIGXFSZ) can
# leave a partial copy ending inside a line (SPEC: a duplicate, never a
# loss). The next delivery must still start on a line of its own, or
# readers see it as part of the partial one: a loss.
rm -rf "$T/mail" "$T/spool"
mkdir -p "$T/mail" "$T/spool"
printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: cut short\n\npartial line without' >"$T/mail/alice"
got=$(dialogue "$small_dialogue" | last_data_reply | mask)
expect_eq "after a partial copy: 250" "$got" "250 2.0.0 Ok: queued as ID"
got=$($PY -c 'import mailbox,sys; b=mailbox.mbox(sys.argv[1]); print(len(b), [m["subject"] for m in b])' "$T/mail/alice" 2>&1)
expect_eq "after a partial copy: mailbox.mbox still sees the new message on its own" "$got" \
	"2 ['cut short', 'small']"
check "after a partial copy: the new From line starts a line" grep -q '^From sender@remote.example ' "$T/mail/alice"

# ---------------------------------------------------------- SIGKILL, locks
rm -rf "$T/mail" "$T/spool"
mkdir -p "$T/mail" "$T/spool"
got=$(dialogue "$small_dialogue" | last_data_reply | mask)
expect_eq "locks: a first message for alice" "$got" "250 2.0.0 Ok: queued as ID"

# faults MODE - tests/faults.py MODE: its own assertions and one for its exit.
faults() {
	timeout -k 5 60 $PY "$TOP/tests/faults.py" "$1" "$BIN" "$T/conf" "$T/mail" "$T/spool"
	helper_ran "faults.py $1" $?
}

snapshot "$T/mail/alice"
faults kill-data
same_as_before "$T/mail/alice" "SIGKILL mid-DATA"
spool_clean "$T/spool" "$T/mail" "SIGKILL mid-DATA"

snapshot "$T/mail/alice"
faults kill-lockwait
same_as_before "$T/mail/alice" "SIGKILL while waiting for the lock"
expect_eq "SIGKILL while waiting for the lock: spool env/ and msg/ empty" \
	"$(ls -A "$T/spool/env" 2>/dev/null)$(ls -A "$T/spool/msg" 2>/dev/null)" ""
# (a dotlock may remain: the session may die between creating and
# removing it; it goes stale after 10 minutes.)
rm -f "$T/mail/alice.lock"
rm -f "$T"/spool/tmp/*

# wait_then_deliver MODE - the holder's message, then ours, after BEFORE.
wait_then_deliver() {
	snapshot "$T/mail/alice"
	faults "$1"
	local size; size=$(stat -c %s "$T/before")
	got=$(tail -c +$((size + 1)) "$T/mail/alice" | mask | grep -v '^	\|^Received:\|^Delivered-To:\|^Return-Path:' |
		sed -n '1,7p')
	expect_eq "$1: the holder's message, then ours" "$got" "From reader@test.example DATE
Subject: written by another holder of the lock

own text
>From quoted by the reader

From sender@remote.example DATE"
	expect_eq "$1: our message ends with its last line and an empty line" \
		"$(tail -n 2 "$T/mail/alice" | sed 's/^0123456789a.*/LINE/' | tr '\n' '|')" "LINE||"
	check "$1: the old content is unchanged" cmp -s -n "$size" "$T/before" "$T/mail/alice"
	expect_eq "$1: our message has all 50 lines" "$(grep -c '^0123456789abcdef' "$T/mail/alice")" \
		$(( $(grep -c '^0123456789abcdef' "$T/before") + 50 ))
	expect_eq "$1: no .lock left" "$(ls -A "$T/mail" | grep '\.lock$')" ""
}
wait_then_deliver wait-fcntl
wait_then_deliver wait-dotlock

snapshot "$T/mail/alice"
faults stale-dotlock
expect_eq "stale-dotlock: one message more" "$(grep -c '^From ' "$T/mail/alice")" \
	$(( $(grep -c '^From ' "$T/before") + 1 ))
expect_eq "stale-dotlock: the stale lock is gone" "$(ls -A "$T/mail" | grep '\.lock$')" ""
