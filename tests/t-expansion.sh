#!/bin/bash
# t-expansion.sh - an expansion is counted at RCPT, and whatever is
# accepted can be delivered: twelve aliases of 100 mailboxes each under
# `prlimit --nofile=1024:4096` (the soft limit is raised to fit every
# mailbox of one message): each RCPT gets 250 or 452, DATA gets 250,
# every accepted mailbox holds exactly one copy and no other file is
# made. With a hard limit too low (512), the mailboxes per message are
# lowered for the session and logged, and what is accepted is still
# delivered. A mailbox file is never removed to clean up. Eleven aliases
# of 100 foreign targets: 1000 are queued, the eleventh alias gets 452.
. "$(dirname "$0")/lib.sh"
plan $((2 * 5 + 1 + 3))

# setup - 1200 mailboxes u0..u1199, aliases a0..a11 of 100 each.
setup() {
	write_conf
	rm -rf "$T/mail" "$T/spool"
	mkdir -p "$T/mail" "$T/spool"
	{
		for i in $(seq 0 1199); do echo "u$i"; done
		echo "alice"; echo "postmaster: alice"
		for a in $(seq 0 11); do
			printf 'a%d: ' "$a"
			seq -s ', ' -f "u%g" $((a * 100)) $((a * 100 + 99))
		done
	} >"$T/users"
}

# run_case NOFILE - the twelve aliases in one message under prlimit;
# prints the RCPT replies (code only, one line), then the DATA reply.
run_case() {
	{
		printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n'
		for a in $(seq 0 11); do printf 'RCPT TO:<a%d@test.example>\r\n' "$a"; done
		printf 'DATA\r\nSubject: wide\r\n\r\nto many\r\n.\r\nQUIT\r\n'
	} | prlimit --nofile="$1" "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' >"$T/out"
	grep -E '^(250 2\.1\.5|452|451|550)' "$T/out" | cut -d' ' -f1 | tr '\n' ' '
	echo
	grep -E '^(250 2\.0\.0|4[0-9][0-9]|5[0-9][0-9])' "$T/out" | grep -v '^452 4.5.3' | head -n 1
}

# judge LABEL N - N aliases accepted: their 100 mailboxes hold one copy
# each, and no other file exists in mailbox_dir.
judge() {
	local label=$1 n=$2 want_rcpts="" i
	for i in $(seq 0 11); do
		if [ "$i" -lt "$n" ]; then want_rcpts="${want_rcpts}250 "; else want_rcpts="${want_rcpts}452 "; fi
	done
	local got
	got=$(run_case "$3")
	expect_eq "$label: RCPT replies ($n aliases of 100 accepted, the rest 452)" \
		"$(echo "$got" | head -n 1)" "$want_rcpts"
	expect_eq "$label: DATA answered 250" "$(echo "$got" | sed -n 2p | cut -c1-9)" "250 2.0.0"
	expect_eq "$label: exactly the accepted mailboxes exist (no stray files)" \
		"$(ls "$T/mail" | sort)" "$(for i in $(seq 0 $((n * 100 - 1))); do echo "u$i"; done | sort)"
	expect_eq "$label: each accepted mailbox holds exactly one copy" \
		"$($PY - "$T/mail" <<-'PY'
		import mailbox, os, sys
		counts = {}
		for f in os.listdir(sys.argv[1]):
		    n = len(mailbox.mbox(os.path.join(sys.argv[1], f)))
		    counts[n] = counts.get(n, 0) + 1
		print(" ".join("%d:%d" % kv for kv in sorted(counts.items())))
		PY
		)" "1:$((n * 100))"
	expect_eq "$label: no staging file, nothing spooled" \
		"$(ls "$T/spool/tmp" "$T/spool/env" 2>/dev/null | grep -v ':$' | grep -v '^$')" ""
}

setup
judge "soft limit 1024, hard 4096" 10 1024:4096
setup
judge "hard limit 512" 4 512:512
check "hard limit 512: the lowered mailbox limit is logged" \
	grep -q 'descriptor limit 512 is below .*: at most 448 mailboxes per message' "$T/log"

# Foreign targets count too: eleven aliases of 100 foreign addresses.
write_conf
rm -rf "$T/mail" "$T/spool"; mkdir -p "$T/mail" "$T/spool"
{
	echo "alice"; echo "postmaster: alice"
	for a in $(seq 0 10); do
		printf 'f%d: ' "$a"
		seq -s ', ' -f "x%g@far.example" $((a * 100)) $((a * 100 + 99))
	done
} >"$T/users"
got=$({ printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n'
	for a in $(seq 0 10); do printf 'RCPT TO:<f%d@test.example>\r\n' "$a"; done
	printf 'DATA\r\nSubject: wide\r\n\r\nto many\r\n.\r\nQUIT\r\n'; } |
	"$BIN/smtp-session" -c "$T/conf" | tr -d '\r')
expect_eq "11 aliases of 100 foreign targets: 10 accepted, the 11th 452" \
	"$(echo "$got" | grep -E '^(250 2\.1\.5|452|451)' | cut -d' ' -f1 | tr '\n' ' ')" \
	"250 250 250 250 250 250 250 250 250 250 452 "
expect_eq "... DATA 250" "$(echo "$got" | grep -A1 '^354' | tail -n 1 | cut -c1-9)" "250 2.0.0"
expect_eq "... 1000 recipients queued" "$(grep -c '^rcpt' "$T"/spool/env/* 2>/dev/null)" "1000"
