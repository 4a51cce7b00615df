#!/bin/bash
# t-expand-bound.sh - the work one RCPT may cost under "users system" is
# bounded: accounts whose ~/.forward files name each other hundreds of
# times are each expanded once (the password database is asked a few
# hundred times, not tens of thousands: nss_wrapper's debug lines count
# the lookups), and past EXPAND_STEPS_MAX (10000) targets and names looked
# at the expansion stops with 452 4.5.3 and a log line. Accounts come
# from nss_wrapper.
. "$(dirname "$0")/lib.sh"
plan 6

[ -n "$NSSLIB" ] || nok "libnss-wrapper is installed"
{
	echo "root:x:0:0:root:/root:/bin/bash"
	uid=50001
	for u in aa bb c d e; do
		echo "$u:x:$uid:$uid::$T/home/$u:/bin/sh"
		uid=$((uid + 1))
	done
} >"$T/passwd"
printf 'root:x:0:\nmail:x:8:\n' >"$T/group"
nss_wrap
mkdir -p "$T/varmail" "$T/spool"
# forward USER UID NAME COUNT - USER's .forward names NAME COUNT times.
forward() {
	mkdir -p "$T/home/$1"
	yes "$3" | head -n "$4" >"$T/home/$1/.forward"
	chown -R "$2:$2" "$T/home/$1"
	chmod 755 "$T/home/$1"
	chmod 644 "$T/home/$1/.forward"
}
forward aa 50001 bb 200
forward bb 50002 aa 200
# "d" and a line end, 4000 times: 8000 octets, under FORWARD_FILE_MAX.
forward c 50003 d 4000
forward d 50004 e 4000
forward e 50005 c 4000
printf 'postmaster: root\n' >"$T/aliases"
cat >"$T/conf" <<-EOF
	hostname mx.test.example
	domain test.example
	users system
	aliases $T/aliases
	mailbox_dir $T/varmail
	spool_dir $T/spool
	log $T/log
EOF
# send RCPT - one message; replies in $T/replies, nss_wrapper's lines in
# $T/nss (at most 60 s: an unbounded expansion would take far longer).
send() {
	printf 'EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<%s>\r\nDATA\r\n\r\nhello %s\r\n.\r\nQUIT\r\n' "$1" "$1" |
		NSS_WRAPPER_DEBUGLEVEL=3 timeout -k 5 60 "$BIN/smtp-session" -c "$T/conf" 2>"$T/nss" |
		tr -d '\r' >"$T/replies"
}

send aa@test.example
check "two accounts naming each other 200 times: accepted" grep -q '^250 2.0.0 Ok' "$T/replies"
expect_eq "... into aa's own mailbox (the loop ends there), once" \
	"$(grep -c '^hello aa@' "$T/varmail/aa" 2>/dev/null):$(test -e "$T/varmail/bb" && echo bb)" "1:"
n=$(grep -c 'nwrap_files_getpwnam: Lookup user' "$T/nss")
echo "# password database lookups for that RCPT: $n"
check "each name is expanded once: at most 1000 lookups of the password database (were 40000)" \
	test "$n" -gt 0 -a "$n" -le 1000

send c@test.example
check "three accounts naming the next 4000 times: 452 4.5.3 past the step limit" \
	grep -q '^452 4.5.3 ' "$T/replies"
check "... logged" grep -q 'expansion of "c" stopped after 10000 steps' "$T/log"
check "... and nothing delivered" test ! -e "$T/varmail/c" -a ! -e "$T/varmail/d" -a ! -e "$T/varmail/e"
