#!/bin/bash
# t-disk-reserve.sh - disk use is bounded. smtp-session answers MAIL with
# 452 4.3.1 when spool_dir's file system has less free space than the
# reserve: queue_minfree, and at least 1.5 times max_message_size
# (Postfix's rule), plus a SIZE= the client declares. A maildrop pickup
# pass lists at most PICKUP_NAMES_MAX (10000) names at once. The small
# file system is a 4 MiB tmpfs mounted in a mount namespace of the test's
# own (unshare), so nothing outside sees it.
. "$(dirname "$0")/lib.sh"
plan 9

write_conf "queue_minfree 1000000000000000"
# mail [PARAMS] - the reply to MAIL FROM:<s@remote.example> PARAMS.
mail() {
	printf 'EHLO c\r\nMAIL FROM:<s@remote.example>%s\r\nQUIT\r\n' "${1:+ $1}" |
		"$BIN/smtp-session" -c "$T/conf" 2>/dev/null | tr -d '\r' | grep -E '^[245][0-9][0-9] [0-9]\.' | head -n 1
}
expect_eq "queue_minfree larger than the free space: MAIL gets 452 4.3.1" "$(mail)" \
	"452 4.3.1 Insufficient system storage"
check "... logged" grep -q "less than 1000000000000000 octets free in $T/spool: MAIL refused for now" "$T/log"

# --- a 4 MiB file system ------------------------------------------------------
SVC=64001
mkdir -p "$T/small"
cat >"$T/inside.sh" <<-'INSIDE'
	set -u
	T=$1 BIN=$2 SVC=$3
	mount -t tmpfs -o size=4m tmpfs "$T/small" || exit 1
	mkdir -p "$T/small/spool"
	conf() {
		sed -e "s|^spool_dir .*|spool_dir $T/small/spool|" -e '/^queue_minfree/d' "$T/conf" >"$T/small.conf"
		printf 'max_message_size %s\n' "$1" >>"$T/small.conf"
	}
	mail() {
		printf 'EHLO c\r\nMAIL FROM:<s@remote.example>%s\r\nQUIT\r\n' "${1:+ $1}" |
			"$BIN/smtp-session" -c "$T/small.conf" 2>/dev/null | tr -d '\r' |
			grep -E '^[245][0-9][0-9] [0-9]\.' | head -n 1
	}
	conf 3000000
	mail >"$T/res.big"
	conf 2000000
	mail >"$T/res.fits"
	mail SIZE=1500000 >"$T/res.size-big"
	mail SIZE=1000000 >"$T/res.size-fits"
	# The pickup's listing: 10001 files that are no dialogue, each removed
	# when handled; one pass lists 10000 of them.
	conf 1000000
	mkdir -p "$T/small/spool/maildrop"
	(cd "$T/small/spool/maildrop" && seq -f 'A%05g' 0 10000 | xargs touch && chown 65534 A*)
	chown -R "$SVC:$SVC" "$T/small/spool"
	sed "s|^log .*|log $T/small/relay.log|" "$T/small.conf" >"$T/relay.conf"
	"$BIN/relay-agent" -c "$T/relay.conf"
	ls "$T/small/spool/maildrop" | wc -l >"$T/res.pass"
	"$BIN/relay-agent" -c "$T/relay.conf" -p
	ls "$T/small/spool/maildrop" | wc -l >"$T/res.again"
INSIDE
chmod 644 "$T/conf" "$T/users"
if ! timeout -k 5 300 unshare --mount --propagation private bash "$T/inside.sh" "$T" "$BIN" "$SVC" 2>"$T/inside.err"; then
	sed 's/^/   /' "$T/inside.err"
fi
expect_eq "4 MiB free, max_message_size 3000000 (1.5 times is 4.5 MB): 452 4.3.1" \
	"$(cat "$T/res.big" 2>/dev/null)" "452 4.3.1 Insufficient system storage"
expect_eq "max_message_size 2000000 (reserve 3 MB): 250" "$(cat "$T/res.fits" 2>/dev/null)" "250 2.1.0 Ok"
expect_eq "... SIZE=1500000 on top of the reserve does not fit: 452 4.3.1" \
	"$(cat "$T/res.size-big" 2>/dev/null)" "452 4.3.1 Insufficient system storage"
expect_eq "... SIZE=1000000 does: 250" "$(cat "$T/res.size-fits" 2>/dev/null)" "250 2.1.0 Ok"
expect_eq "a pass over a maildrop of 10001 names handles 10000 of them" "$(cat "$T/res.pass" 2>/dev/null)" 1
expect_eq "... and the next takes the rest" "$(cat "$T/res.again" 2>/dev/null)" 0
check "the mount stayed inside the test's namespace" bash -c "! grep -q ' $T/small ' /proc/mounts"
