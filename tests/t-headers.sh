#!/bin/bash
# t-headers.sh - nothing the client sends can forge what we write:
#   - a HELO argument that is not one word of printable ASCII without
#     ( ) < > , ; " gets 501 5.5.4 (a '_' is fine), so the Received
#     header, read back with Python's mailbox, holds exactly our fields;
#   - the client's Return-Path:, Content-Length:, Bcc: and Resent-Bcc:
#     are dropped with their continuation lines, in the header only;
#   - client text in the log (addresses, parameters echoed in a reply) is
#     escaped or quoted: no key=value of the client's shows up in a line.
. "$(dirname "$0")/lib.sh"
plan $((4 + 4 + 9 + 3))
write_conf

first_reply_after_ehlo() {   # the reply to the HELO/EHLO line given
	printf '%s\r\nMAIL FROM:<s@remote.example>\r\nQUIT\r\n' "$1" |
		"$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep -E '^[245][0-9][0-9] ' | sed -n 2,3p | tr '\n' '|'
}
expect_eq "EHLO with a forged comment is refused, the session stays ungreeted" \
	"$(first_reply_after_ehlo 'EHLO mail.bank.example ([198.51.100.7])')" \
	"501 5.5.4 Syntax: EHLO hostname|503 5.5.1 Error: send HELO/EHLO first|"
expect_eq "EHLO with a comma and a key=value is refused" \
	"$(first_reply_after_ehlo 'EHLO x, from=<ceo@bank>')" \
	"501 5.5.4 Syntax: EHLO hostname|503 5.5.1 Error: send HELO/EHLO first|"
expect_eq "HELO with a semicolon is refused" \
	"$(first_reply_after_ehlo 'HELO a;b')" "501 5.5.4 Syntax: HELO hostname|503 5.5.1 Error: send HELO/EHLO first|"
expect_eq "HELO with a quote is refused" \
	"$(first_reply_after_ehlo 'HELO "a"')" "501 5.5.4 Syntax: HELO hostname|503 5.5.1 Error: send HELO/EHLO first|"

# deliver HELO-LINE FILE - one message (headers and body from FILE) to alice.
deliver() {
	{ printf '%s\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\n' "$1"
	  crlf <"$2"; printf '.\r\nQUIT\r\n'; } | "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' |
		grep '^250 2.0.0' | cut -c1-9
}
# received LINE... - the first Received field of the last message, unfolded.
received() {
	$PY - "$T/mail/alice" <<-'PY'
	import mailbox, sys
	m = list(mailbox.mbox(sys.argv[1]))[-1]
	r = m.get_all("Received")[0]
	print(" ".join(r.split()).split(";")[0])
	PY
}
printf 'Subject: helo\n\nx\n' >"$T/plain"
expect_eq "EHLO WIN_PC01 (an underscore) is accepted" "$(deliver 'EHLO WIN_PC01' "$T/plain")" "250 2.0.0"
expect_eq "Received names WIN_PC01 and the address, nothing else" "$(received)" \
	"from WIN_PC01 ([127.0.0.1]) by mx.test.example with ESMTP id $(grep -o 'id [0-9A-F]*' "$T/mail/alice" | tail -n 1 | cut -c4-) for <alice@test.example>"
expect_eq "HELO [192.0.2.1] (an address literal) is accepted" "$(deliver 'HELO [192.0.2.1]' "$T/plain")" "250 2.0.0"
expect_eq "Received from an address literal HELO" "$(received | cut -d' ' -f1-3)" "from [192.0.2.1] ([127.0.0.1])"
rm -f "$T/mail/alice"

cat >"$T/headers" <<'MSG'
Return-Path: <ceo@bank.example>
Subject: dropped headers
Content-Length: 3
Bcc: secret@far.example,
	hidden-continuation@far.example
X-Keep: Bcc: stays inside another field's value
RESENT-BCC: other-secret@far.example
bcc : spaced@far.example
Content-Length-Extra: kept, only the exact name is dropped

Body line one.
Bcc: a body line that looks like a header stays
Content-Length: 99 in the body stays
MSG
expect_eq "a message with headers to drop is accepted" "$(deliver 'EHLO c.example' "$T/headers")" "250 2.0.0"
readback() {
	$PY - "$T/mail/alice" <<-'PY'
	import mailbox, sys
	m = list(mailbox.mbox(sys.argv[1]))[0]
	print("return-path=%s" % m.get_all("Return-Path"))
	for h in ("Content-Length", "Bcc", "Resent-Bcc"):
	    print("%s=%s" % (h.lower(), m.get_all(h)))
	print("subject=%s" % m["Subject"])
	print("x-keep=%s" % m["X-Keep"])
	print("extra=%s" % m["Content-Length-Extra"])
	body = m.get_payload()
	print("body=%s" % body.replace("\n", "|"))
	print("continuation=%s" % ("hidden-continuation" in open(sys.argv[1]).read()))
	PY
}
got=$(readback)
expect_eq "one Return-Path, ours" "$(echo "$got" | grep '^return-path=')" "return-path=['<s@remote.example>']"
expect_eq "the client's Content-Length is dropped" "$(echo "$got" | grep '^content-length=')" "content-length=None"
expect_eq "Bcc is dropped (also 'bcc :' with a blank before the colon)" "$(echo "$got" | grep '^bcc=')" "bcc=None"
expect_eq "Resent-Bcc is dropped (any case)" "$(echo "$got" | grep '^resent-bcc=')" "resent-bcc=None"
expect_eq "a dropped field's continuation line goes with it" "$(echo "$got" | grep '^continuation=')" "continuation=False"
expect_eq "other fields stay" "$(echo "$got" | grep -E '^(subject|x-keep)=')" "subject=dropped headers
x-keep=Bcc: stays inside another field's value"
expect_eq "a longer name that starts like a dropped one stays" "$(echo "$got" | grep '^extra=')" \
	"extra=kept, only the exact name is dropped"
expect_eq "the body is untouched" "$(echo "$got" | grep '^body=')" \
	"body=Body line one.|Bcc: a body line that looks like a header stays|Content-Length: 99 in the body stays|"

# The log: no key=value of the client's.
rm -f "$T/log"
printf 'EHLO c.example\r\nMAIL FROM:<"x> helo=<evil"@remote.example>\r\nRCPT TO:<alice@test.example> from=<ceo@bank>\r\nRCPT TO:<"a, to=<x@y>"@far.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: log\r\n\r\nx\r\n.\r\nQUIT\r\n' |
	"$BIN/smtp-session" -c "$T/conf" >/dev/null
check "the log has the reject and the message lines" grep -q 'reject: RCPT' "$T/log"
logkeys() {   # every key=value word outside double quotes, per line
	$PY - "$T/log" <<-'PY'
	import re, sys
	bad = []
	for line in open(sys.argv[1], encoding="latin-1"):
	    words, cur, q = [], "", False
	    for c in line.rstrip("\n"):
	        if c == '"':
	            q = not q
	        elif c == " " and not q:
	            words.append(cur); cur = ""; continue
	        if not q and c != '"':
	            cur += c
	    words.append(cur)
	    keys = [w.split("=", 1)[0] for w in words if re.match(r"^[a-z_]+=", w)]
	    for k in set(keys):
	        if keys.count(k) > 1:
	            bad.append("%s twice: %s" % (k, line.strip()))
	    for w in words:
	        if w.startswith(("from=<ceo", "helo=<evil", "to=<x@y")):
	            bad.append("forged %s: %s" % (w, line.strip()))
	print("\n".join(bad) if bad else "clean")
	PY
}
expect_eq "no log line holds a key=value the client wrote" "$(logkeys)" "clean"
check "the reply with client text is logged quoted" \
	grep -q 'reply="555 5.5.4 Unsupported parameter from=<ceo@bank>"' "$T/log"
