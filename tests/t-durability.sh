#!/bin/bash
# t-durability.sh - the file-system calls of a delivery, traced by the
# fault injection shim (tests/faultinject.c):
#   - a copy that goes into an mbox that exists but is empty (as a
#     rolled-back creation leaves it) is followed by an fsync of
#     mailbox_dir before 250, as for a new mbox;
#   - when a delivery to two mailboxes fails on the second (EIO) and the
#     truncate that takes back the first fails too, that is logged.
. "$(dirname "$0")/lib.sh"
plan 5
FI=$T/fi
mkdir -p "$FI/mail" "$FI/spool"
write_conf
sed -i -e "s|^mailbox_dir .*|mailbox_dir $FI/mail|" -e "s|^spool_dir .*|spool_dir $FI/spool|" "$T/conf"
cc -shared -fPIC -o "$T/fi.so" "$TOP/tests/faultinject.c" -ldl
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"

deliver() {   # deliver [ENV...] - one message to alice and bob: the final reply
	rm -f "$T/trace"
	printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nSubject: d\r\n\r\nx\r\n.\r\nQUIT\r\n' |
		env FI_DIR="$FI" FI_LOG="$T/trace" LD_PRELOAD="$T/fi.so" "$@" "$BIN/smtp-session" -c "$T/conf" |
		tr -d '\r' | grep -A1 '^354' | tail -n 1 | cut -c1-9
}

# alice's mbox exists and is empty; bob's holds mail.
: >"$FI/mail/alice"
printf 'From a@b Mon Jan  5 10:00:00 2026\nSubject: old\n\nold\n\n' >"$FI/mail/bob"
expect_eq "a message to an empty and a non-empty mbox is delivered" "$(deliver)" "250 2.0.0"
expect_eq "mailbox_dir is fsynced after the copy went into the empty mbox" \
	"$(awk -F'\t' -v a="$FI/mail/alice" -v d="$FI/mail" '
		$2 == "write" && $3 == a { w = $1 }
		$2 == "fsync" && $3 == d && w && $1 > w { print "synced"; exit }' "$T/trace")" "synced"

# Rollback: bob's writes fail with EIO, and the truncate of alice too.
cp "$FI/mail/alice" "$T/alice.before"
deliver FI_EIO="$FI/mail/bob" >/dev/null
n=$(awk -F'\t' -v a="$FI/mail/alice" '$2 == "ftruncate" && $3 == a { print $1; exit }' "$T/trace")
check "the failed delivery truncates alice's mbox back (traced)" test -n "$n"
rm -f "$T/log"
expect_eq "with the truncate failing as well: a 4xx" \
	"$(deliver FI_EIO="$FI/mail/bob" FI_FAIL="${n:-0}" | cut -c1)" "4"
check "the failed truncate is logged" grep -q 'cannot take back a failed delivery to mailbox alice' "$T/log"
