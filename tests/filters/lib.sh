# tests/filters/lib.sh - helpers for the content filter tests (make
# check-filters): tests/lib.sh, plus skipping and the test messages.
#
# A script that finds its daemon missing or unable to start calls
# skip_all REASON: every later check prints "ok - WHAT # SKIP REASON"
# without running, so the count of its plan holds and tests/filters/run
# counts those lines as skipped, not passed.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
FILTERS=$TOP/contrib/filters
SKIP=""

# skip_all REASON - skip every check from here on.
skip_all() {
	SKIP=$1
	echo "# skipping: $1"
}

# check WHAT CMD... - as in tests/lib.sh, or a skip.
check() {
	local what=$1; shift
	if [ -n "$SKIP" ]; then echo "ok - $what # SKIP $SKIP"; return 0; fi
	if "$@"; then ok "$what"; else nok "$what"; fi
}

# expect_eq WHAT GOT WANT - as in tests/lib.sh, or a skip.
expect_eq() {
	if [ -n "$SKIP" ]; then echo "ok - $1 # SKIP $SKIP"; return 0; fi
	if [ "$2" == "$3" ]; then ok "$1"; else
		nok "$1"
		echo "   --- got:"; printf '%s\n' "$2" | head -n 40 | sed 's/^/   /'
		echo "   --- want:"; printf '%s\n' "$3" | head -n 40 | sed 's/^/   /'
	fi
}

# wait_for SECONDS CMD... - retry CMD every 0.2 s until it succeeds.
wait_for() {
	local n=$(($1 * 5)); shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

# The test strings are assembled here, so that no file of the tree is
# itself taken for spam or a virus by a scanner on a developer's machine.
GTUBE="XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

# message FILE SUBJECT BODY - a plain message, LF line ends, in FILE.
message() {
	printf '%s\n' "Received: from client.example ([127.0.0.9])" \
		"	by mx.test.example with ESMTP id 0TEST; Mon, 7 Dec 2026 10:00:00 +0000" \
		"From: Sender <sender@remote.example>" "To: alice@test.example" \
		"Subject: $2" "Date: Mon, 7 Dec 2026 09:59:00 +0000" \
		"Message-ID: <$(echo "$2" | tr -c 'a-z0-9' '-')@remote.example>" \
		"MIME-Version: 1.0" "Content-Type: text/plain; charset=us-ascii" "" \
		"$3" "" "Regards," "Sender" >"$1"
}

# body_of FILE - the body of a message (after the first empty line).
body_of() { sed '1,/^$/d' "$1"; }

# run_filter OUT ERR CMD... - run a filter the way smtp-session does: the
# message on stdin, the SMTP_* variables set; prints the exit status.
run_filter() {
	local out=$1 err=$2; shift 2
	env SMTP_SENDER=sender@remote.example SMTP_RECIPIENTS="alice@test.example
bob@test.example" SMTP_CLIENT_ADDR=127.0.0.9 SMTP_HELO=client.example \
		SMTP_AUTH_USER= SMTP_QUEUE_ID=0TEST "$@" >"$out" 2>"$err"
	echo $?
}

# e2e_conf NAME FILTER-LINE - a configuration $T/NAME.conf for an
# smtp-session that runs the filter, with its own mailboxes and spool.
e2e_conf() {
	write_conf
	mkdir -p "$T/$1.mail" "$T/$1.spool"
	sed -e "s|^mailbox_dir .*|mailbox_dir $T/$1.mail|" \
		-e "s|^spool_dir .*|spool_dir $T/$1.spool|" -e "s|^log .*|log $T/$1.log|" \
		"$T/conf" >"$T/$1.conf"
	printf '%s\n' "$2" "filter_timeout 2m" >>"$T/$1.conf"
}

# e2e NAME FILE - send the message in FILE to alice through smtp-session
# with $T/NAME.conf; prints the reply to the end of data.
e2e() {
	{
		printf '%s\r\n' "EHLO client.example" "MAIL FROM:<sender@remote.example>" \
			"RCPT TO:<alice@test.example>" "DATA"
		sed -e 's/^\./../' -e 's/$/\r/' "$2"
		printf '%s\r\n' "." "QUIT"
	} | "$BIN/smtp-session" -c "$T/$1.conf" 2>>"$T/$1.err" | tr -d '\r' |
		sed -n '/^354 /{n;p;}'
}

# stored_body NAME - the body of the last message in alice's mbox of NAME.
stored_body() {
	awk '/^From /{ n = 0; delete b; h = 1; next } h && /^$/ { h = 0; next }
	     !h { b[++n] = $0 } END { for (i = 1; i < n; i++) print b[i] }' \
		"$T/$1.mail/alice" 2>/dev/null
}
