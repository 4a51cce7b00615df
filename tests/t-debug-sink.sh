#!/bin/bash
# t-debug-sink.sh - smtp-session -d over a real socket: messages made by
# Python's email package (the ok-* corpus of tests/debug) and by swaks
# are sent through systemd-socket-activate; the debug lines of the log,
# timestamp and queue id stripped, must equal the expected reports.
. "$(dirname "$0")/lib.sh"
# Two assertions per message of the ok-* corpus, and twelve more.
files=("$TOP"/tests/debug/ok-*.eml)
plan $((12 + 2 * ${#files[@]}))

PORT=$(free_port)
mkdir -p "$T/spool" "$T/mail"
# No domain, no users: the debug sink needs neither.
cat >"$T/conf" <<CONF
hostname mx.test.example
log $T/log
spool_dir $T/spool
mailbox_dir $T/mail
CONF
bg systemd-socket-activate -l "127.0.0.1:$PORT" -a --inetd \
	-E "ASAN_OPTIONS=${ASAN_OPTIONS:-}" -E "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" \
	"$BIN/smtp-session" -d -c "$T/conf" 2>>"$T/activator.log"
check "smtp-session -d listens on 127.0.0.1:$PORT" wait_port "$PORT"

# wait_sessions N - wait (at most 20 s) until N sessions have ended.
wait_sessions() {
	local i
	for i in $(seq 200); do
		[ "$(grep -c 'disconnect from' "$T/log" 2>/dev/null)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# reports - the debug lines of the log as "ID<TAB>line", log prefix gone.
reports() {
	sed -nE 's/^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [^ ]+ [^ ]+\[[0-9]+\]: ([0-9A-Z]+): debug: (.*)$/\1\t\2/p' "$T/log"
}

# report_of N - the Nth message's debug lines (N from 1), in order.
report_of() {
	local id
	id=$(reports | cut -f1 | awk '!seen[$0]++' | sed -n "${1}p")
	[ -n "$id" ] && reports | awk -F'\t' -v id="$id" '$1 == id { sub(/^[^\t]*\t/, ""); print }'
}

# Python's messages: each in its own session, the corpus's Received
# header (3 lines) left out; smtplib dot-stuffs and sends CRLF.
$PY - "$PORT" "${files[@]}" <<'PY' >"$T/send.log" 2>&1
import smtplib, sys
port = int(sys.argv[1])
for f in sys.argv[2:]:
    data = open(f, "rb").read().split(b"\n", 3)[3]
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=10) as s:
        s.sendmail("sender@example.org", ["first@any.example", "Second@Other.Example"], data)
PY
check "python: every message accepted" test $? -eq 0 || cat "$T/send.log"
check "python: every session logged" wait_sessions ${#files[@]}

n=0
for f in "${files[@]}"; do
	n=$((n + 1))
	name=$(basename "$f" .eml)
	got=$(report_of $n)
	head=$(printf '%s\n' "$got" | head -n 3)
	if printf '%s\n' "$head" | sed -n 1p | grep -q '^client=\[127\.0\.0\.1\], .*from=<sender@example\.org>' &&
	   [ "$(printf '%s\n' "$head" | sed -n 2,3p)" == "$(printf 'to=<first@any.example>\nto=<Second@Other.Example>')" ]; then
		ok "python $name: envelope"
	else
		nok "python $name: envelope"; printf '%s\n' "$head" | sed 's/^/   /'
	fi
	expect_eq "python $name: report" "$(printf '%s\n' "$got" | tail -n +4)" \
		"$(cat "$TOP/tests/debug/$name.out")"
done

# swaks: a KOI8-R subject, dot-stuffed lines, an attachment.
printf 'a,b\n1,2\n' >"$T/data.csv"
timeout 20 swaks --server "127.0.0.1:$PORT" --helo client.example \
	--from dev@app.example --to one@a.example,two@b.example \
	--header "Date: Mon, 01 Jan 2024 10:00:00 +0000" \
	--header "Subject: =?KOI8-R?B?8NLJ18XU?= from swaks" \
	--header "Message-Id: <1@app.example>" \
	--body "$(printf 'Line one\n.dot line\n..two dots\n')" \
	--attach-type text/csv --attach-name data.csv --attach @"$T/data.csv" \
	>"$T/swaks.log" 2>&1
check "swaks: message accepted" grep -q '^<- *250 2.0.0' "$T/swaks.log"
timeout 20 swaks --server "127.0.0.1:$PORT" --helo client.example \
	--from '<>' --to postmaster \
	--header "Date: Mon, 01 Jan 2024 10:00:01 +0000" \
	--header "Subject: plain swaks" >"$T/swaks2.log" 2>&1
check "swaks: null sender, bare recipient accepted" grep -q '^<- *250 2.0.0' "$T/swaks2.log"
check "swaks: sessions logged" wait_sessions $((${#files[@]} + 2))

got=$(report_of $((n + 1)))
expect_eq "swaks attachment: envelope recipients" \
	"$(printf '%s\n' "$got" | sed -n 2,3p)" \
	"$(printf 'to=<one@a.example>\nto=<two@b.example>')"
expect_eq "swaks attachment: report" "$(printf '%s\n' "$got" | tail -n +4)" \
'From: dev@app.example
To: one@a.example,two@b.example
Date: Mon, 01 Jan 2024 10:00:00 +0000
Subject: Привет from swaks
Text (part 1, text/plain; charset=us-ascii):
| Line one
| .dot line
| ..two dots
Attachment (part 2): name="data.csv" type=text/csv size=8'

got=$(report_of $((n + 2)))
check "swaks plain: null sender" grep -q 'from=<>' <<<"$(printf '%s\n' "$got" | head -n 1)"
expect_eq "swaks plain: report" "$(printf '%s\n' "$got" | tail -n +3)" \
'From: (empty)
To: postmaster
Date: Mon, 01 Jan 2024 10:00:01 +0000
Subject: plain swaks
Text (part 1, text/plain; charset=us-ascii):
| This is a test mailing
|'

# Nothing was delivered or spooled.
check "debug sink: no mailbox written" test -z "$(ls -A "$T/mail")"
check "debug sink: nothing spooled" test -z "$(find "$T/spool" -type f)"
