#!/bin/bash
# t-postdrop.sh - the setgid smtp-postdrop takes its maildrop from the
# configuration, never from its caller: no directory argument; a
# configuration file that is not root's is refused; a maildrop that is a
# symbolic link is not followed (one descriptor, O_NOFOLLOW). It takes at
# most max_message_size and the SMTP framing (sendmail then exits 65), a
# spool short of free space (queue_minfree) is refused (75), and a
# SIGTERM while it writes leaves no tmp- file behind.
. "$(dirname "$0")/lib.sh"
plan 14

SVC=64001
DROPGID=64002
mkdir -p "$T/bin" "$T/mail" "$T/spool/maildrop" "$T/var"
cp "$BIN/sendmail" "$BIN/smtp-postdrop" "$T/bin/"
chown "root:$DROPGID" "$T/bin/smtp-postdrop" && chmod 2755 "$T/bin/smtp-postdrop"
chown "$SVC:$SVC" "$T/mail" "$T/spool" "$T/var"
chmod 0711 "$T/spool"
chown "$SVC:$DROPGID" "$T/spool/maildrop" && chmod 1730 "$T/spool/maildrop"
printf 'alice\npostmaster: alice\n' >"$T/users"
cat >"$T/conf" <<-EOF
	hostname mx.test.example
	domain test.example
	users $T/users
	mailbox_dir $T/mail
	spool_dir $T/spool
	log $T/var/log
	submit_socket $T/nothing-listens.sock
	max_message_size 100000
EOF
chmod 644 "$T/conf" "$T/users"
drops() { ls -A "$T/spool/maildrop"; }
pd() { as_nobody "$T/bin/smtp-postdrop" "$@"; }
dialogue() { printf 'EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'; }

dialogue | pd -c "$T/conf"
expect_eq "from the configuration: stored (exit 0)" "$?:$(drops | wc -l)" "0:1"
rm -f "$T/spool/maildrop"/*
dialogue | pd "$T/spool" 2>/dev/null
expect_eq "a directory argument is a usage error (64)" "$?:$(drops)" "64:"

# Another spool, named by a configuration the caller wrote.
mkdir -p "$T/other/maildrop"
chown "$SVC:$DROPGID" "$T/other/maildrop" && chmod 1730 "$T/other/maildrop"
sed "s|^spool_dir .*|spool_dir $T/other|" "$T/conf" >"$T/evil.conf"
chown 65534 "$T/evil.conf"
dialogue | pd -c "$T/evil.conf" 2>"$T/err1"
expect_eq "a configuration that is not root's: refused (78)" "$?" 78
expect_eq "... nothing in the other maildrop" "$(ls -A "$T/other/maildrop")" ""
check "... and it says why" grep -q "not a configuration file of root's" "$T/err1"

# A maildrop that is a symbolic link to another directory the group may write.
mkdir -p "$T/spool2"
chown "$SVC:$SVC" "$T/spool2" && chmod 711 "$T/spool2"
ln -s "$T/other/maildrop" "$T/spool2/maildrop"
sed "s|^spool_dir .*|spool_dir $T/spool2|" "$T/conf" >"$T/link.conf"
chmod 644 "$T/link.conf"
dialogue | pd -c "$T/link.conf" 2>/dev/null
expect_eq "a maildrop that is a symbolic link: not followed (75), nothing written" \
	"$?:$(ls -A "$T/other/maildrop")" "75:"

# Size: max_message_size 100000 and the framing.
$PY -c 'import sys; sys.stdout.write("Subject: fits\n\n" + ("y" * 70 + "\n") * 1000)' |
	as_nobody "$T/bin/sendmail" -C "$T/conf" alice
expect_eq "a message within max_message_size: stored" "$?:$(drops | wc -l)" "0:1"
rm -f "$T/spool/maildrop"/*
$PY -c 'import sys; sys.stdout.write("Subject: big\n\n" + ("x" * 70 + "\n") * 30000)' |
	as_nobody "$T/bin/sendmail" -C "$T/conf" alice 2>"$T/err2"
expect_eq "a message of 2 MB over max_message_size 100000: sendmail exits 65" "$?" 65
expect_eq "... nothing left in the maildrop" "$(drops)" ""
check "... and says so" grep -q 'larger than the mail system takes' "$T/err2"

# Free space: a reserve no file system has.
sed 's/^max_message_size .*/queue_minfree 1000000000000000/' "$T/conf" >"$T/full.conf"
chmod 644 "$T/full.conf"
dialogue | pd -c "$T/full.conf" 2>"$T/err3"
expect_eq "less free space than queue_minfree: 75, nothing stored" "$?:$(drops)" "75:"
check "... and it says why" grep -q 'too little free space' "$T/err3"

# Killed while writing: the tmp- file goes with it.
mkfifo "$T/in"
# setpriv execs it: $! is smtp-postdrop's PID.
setpriv --reuid=65534 --regid=65534 --clear-groups "$T/bin/smtp-postdrop" -c "$T/conf" <"$T/in" &
PD=$!
PIDS+=("$PD")
exec 7>"$T/in"
printf 'EHLO x\r\n' >&7
for i in $(seq 200); do [ -n "$(drops)" ] && break; sleep 0.05; done
check "writing: a tmp- file in the maildrop" bash -c "ls '$T/spool/maildrop' | grep -q '^tmp-'"
kill -TERM "$PD"
wait "$PD" 2>/dev/null
rc=$?
# The input is still open: only the signal can have ended it.
expect_eq "SIGTERM while writing: exit 75, no tmp- file left" "$rc:$(drops)" "75:"
exec 7>&-
