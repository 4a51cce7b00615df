#!/bin/bash
# t-root-spool.sh - what root does in and around the spool. relay-agent
# started as root refuses (exit 78, nothing written) a spool_dir that is
# missing or root's, and its queue commands too; on a spool of the service
# account's it makes the missing maildrop through descriptors: a symbolic
# link raced in right after the mkdir (tests/race-symlink.c plays the
# account winning that race) is never followed. relay-agent -S, the
# installer's step, repairs a maildrop: a symbolic link or someone else's
# directory is moved aside and a new one made, a wrong mode set right.
# The log file is never reached through a symbolic link nor a FIFO. A
# spool_dir made by smtp-session is made durable: its parent fsynced
# (tests/faultinject.c traces the calls).
. "$(dirname "$0")/lib.sh"
plan 26

[ -n "$NSSLIB" ] || nok "libnss-wrapper is installed"
SVC=64001
DROPGID=64002
cat >"$T/passwd" <<-EOF
	root:x:0:0:root:/root:/bin/bash
	vmail:x:$SVC:$SVC::/nonexistent:/usr/sbin/nologin
	other:x:50001:50001::/nonexistent:/usr/sbin/nologin
EOF
cat >"$T/group" <<-EOF
	root:x:0:
	vmail:x:$SVC:
	smtpdrop:x:$DROPGID:
EOF
nss_wrap
write_conf "nameserver 127.0.0.1:1" "dns_timeout 2s"
mkdir -p "$T/svc"
chown "$SVC:$SVC" "$T/svc" "$T/mail"
sed -i "s|^log .*|log $T/svc/log|" "$T/conf"
chmod 644 "$T/conf" "$T/users"
ra() { "$BIN/relay-agent" -c "$T/conf" "$@"; }
mode() { stat -c '%u:%g %a' "$1" 2>/dev/null; }

# --- root refuses a spool that is missing or root's -------------------------
rm -rf "$T/spool"
ra 2>"$T/err1"
expect_eq "root, spool_dir missing: exit 78" "$?" 78
check "root, spool_dir missing: it says why" grep -q "spool_dir $T/spool: No such file or directory: started as root" "$T/err1"
check "root, spool_dir missing: nothing made" test ! -e "$T/spool"
mkdir -p "$T/spool"
ra 2>"$T/err2"
expect_eq "root, spool_dir root's: exit 78" "$?" 78
check "root, spool_dir root's: it says why and what to do" \
	grep -q "spool_dir $T/spool belongs to root: .*never as root (chown -R vmail: $T/spool" "$T/err2"
expect_eq "root, spool_dir root's: no maildrop, no subdirectory, no log made as root" \
	"$(ls -A "$T/spool"; ls "$T/svc")" ""
ra -l >/dev/null 2>&1
expect_eq "root, spool_dir root's: the queue commands refuse too (-l: 78)" "$?" 78

# --- the service account's spool: the maildrop made by root -------------------
chown "$SVC:$SVC" "$T/spool"
chmod 700 "$T/spool"
ra 2>"$T/err3"
expect_eq "root, the account's spool: a pass runs (exit 0)" "$?" 0
expect_eq "the missing maildrop is made: the account's, group smtpdrop, 1730" \
	"$(mode "$T/spool/maildrop")" "$SVC:$DROPGID 1730"
expect_eq "the spool becomes 0711 (the maildrop reachable)" "$(mode "$T/spool")" "$SVC:$SVC 711"

# --- the race: a symbolic link swapped in right after the mkdir -------------
if ! out=$(cc -shared -fPIC -o "$T/race.so" "$TOP/tests/race-symlink.c" -ldl 2>&1); then
	nok "the race shim builds: $out"
else
	ok "the race shim builds"
fi
printf 'precious\n' >"$T/victim"
chmod 644 "$T/victim"
mkdir -p "$T/spool2"
chown "$SVC:$SVC" "$T/spool2"
sed "s|^spool_dir .*|spool_dir $T/spool2|" "$T/conf" >"$T/conf2"
chmod 644 "$T/conf2"
RACE_NAME=maildrop RACE_TARGET=$T/victim LD_PRELOAD="$NSSLIB $T/race.so" \
	"$BIN/relay-agent" -c "$T/conf2" 2>"$T/err4"
expect_eq "raced: the file the link points to keeps its owner, group and mode" \
	"$(mode "$T/victim")" "0:0 644"
check "raced: the link is left as it is, never followed" test -L "$T/spool2/maildrop"
check "raced: logged" grep -q "$T/spool2/maildrop changed while it was being made: left alone" "$T/svc/log"

# --- relay-agent -S: the installer's repair --------------------------------
rm -f "$T/spool2/maildrop"
rm -rf "$T/spool2/maildrop.raced"
ln -s "$T/victim" "$T/spool2/maildrop"
ra -S -c "$T/conf2" 2>"$T/err5"
expect_eq "-S on a maildrop that is a symbolic link: exit 0" "$?" 0
expect_eq "-S: the link's target is untouched" "$(mode "$T/victim"):$(cat "$T/victim")" "0:0 644:precious"
expect_eq "-S: a new maildrop, the account's, group smtpdrop, 1730" \
	"$(mode "$T/spool2/maildrop")" "$SVC:$DROPGID 1730"
check "-S: the link moved aside as maildrop.invalid-TIME" \
	bash -c "ls -l '$T/spool2' | grep -q 'maildrop.invalid-[0-9]* -> $T/victim'"
chmod 777 "$T/spool2/maildrop"
ra -S -c "$T/conf2"
expect_eq "-S on the account's maildrop with a wrong mode: set back to 1730" \
	"$(mode "$T/spool2/maildrop")" "$SVC:$DROPGID 1730"
rm -rf "$T/spool2/maildrop" "$T/spool2"/maildrop.invalid-*
mkdir "$T/spool2/maildrop" && chown 50001:50001 "$T/spool2/maildrop"
ra -S -c "$T/conf2"
expect_eq "-S on a directory of another account: moved aside, a new one made" \
	"$(mode "$T/spool2/maildrop"):$(stat -c %u "$T"/spool2/maildrop.invalid-* 2>/dev/null)" \
	"$SVC:$DROPGID 1730:50001"

# --- the log file: no symbolic link, no FIFO --------------------------------
unset LD_PRELOAD
printf 'untouched\n' >"$T/victim2"
mkdir -p "$T/logdir"
ln -s "$T/victim2" "$T/logdir/log"
sed "s|^log .*|log $T/logdir/log|" "$T/conf" >"$T/conf3"
got=$(printf 'QUIT\r\n' | timeout 20 "$BIN/smtp-session" -c "$T/conf3" 2>/dev/null | tr -d '\r' | cut -c1-9)
expect_eq "a log file that is a symbolic link is refused: 421, and its target untouched" \
	"$got:$(cat "$T/victim2")" "421 4.3.0:untouched"
mkfifo "$T/logdir/fifo"
sed "s|^log .*|log $T/logdir/fifo|" "$T/conf" >"$T/conf4"
got=$(printf 'QUIT\r\n' | timeout 20 "$BIN/smtp-session" -c "$T/conf4" 2>/dev/null | tr -d '\r' | cut -c1-9)
expect_eq "a log file that is a FIFO is refused at once: 421" "$got" "421 4.3.0"

# --- a spool_dir made by smtp-session is durable ------------------------------
if ! out=$(cc -shared -fPIC -o "$T/fi.so" "$TOP/tests/faultinject.c" -ldl 2>&1); then
	nok "the fault injection shim builds: $out"
else
	ok "the fault injection shim builds"
fi
mkdir -p "$T/fresh"
sed -e "s|^spool_dir .*|spool_dir $T/fresh/spool|" -e "s|^log .*|log $T/log5|" "$T/conf" >"$T/conf5"
printf 'EHLO c\r\nMAIL FROM:<a@test.example>\r\nRCPT TO:<x@remote.example>\r\nDATA\r\n\r\nhi\r\n.\r\nQUIT\r\n' |
	FI_DIR=$T/fresh FI_LOG=$T/trace LD_PRELOAD=$T/fi.so "$BIN/smtp-session" -c "$T/conf5" |
	tr -d '\r' >"$T/replies5"
check "a message queued into a spool_dir that did not exist" grep -q '^250 2.0.0 Ok: queued as' "$T/replies5"
# The first mkdir of the spool, then an fsync of its parent before any
# file is made in it.
first=$(awk -F'\t' -v d="$T/fresh/spool" '$2 == "mkdir" && $3 == d { print $1; exit }' "$T/trace")
parent=$(awk -F'\t' -v d="$T/fresh" '$2 == "fsync" && $3 == d { print $1; exit }' "$T/trace")
# (the first file: tmp/ID.msg, or an unnamed one opened on tmp itself)
create=$(awk -F'\t' -v d="$T/fresh/spool/tmp" -v f="${first:-0}" \
	'$2 == "open" && index($3, d) == 1 && $1 > f { print $1; exit }' "$T/trace")
check "spool_dir made, then its parent fsynced before the first file is written" \
	test -n "$first" -a -n "$parent" -a -n "$create" -a "${parent:-0}" -gt "${first:-0}" -a "${create:-0}" -gt "${parent:-0}"
check "the spool directory itself fsynced after its subdirectories were made" \
	awk -F'\t' -v d="$T/fresh/spool" -v c="${create:-0}" '$2 == "fsync" && $3 == d && $1 < c { f = 1 } END { exit !f }' "$T/trace"
