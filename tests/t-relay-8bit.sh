#!/bin/bash
# t-relay-8bit.sh - outbound correctness: 8-bit text to a server without
# 8BITMIME is sent quoted-printable (RFC 6152 section 3), each part checked
# by Python's email package against the original; a message that cannot
# be converted safely (8-bit octets in a header) bounces 5.6.3; a server
# with 8BITMIME gets the octets as they are; a reply line longer than 512
# octets is read, not turned into an error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 12

write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL"
dns_start --mx-host=seven.example,mx.seven.example,10 --host-record=mx.seven.example,127.0.0.120 \
	--mx-host=eight.example,mx.eight.example,10 --host-record=mx.eight.example,127.0.0.121 \
	--mx-host=long.example,mx.long.example,10 --host-record=mx.long.example,127.0.0.122 ||
	nok "dnsmasq answers"
script 127.0.0.120 plain "$T/seven.log"
script 127.0.0.121 8bit "$T/eight.log"
script 127.0.0.122 longreply "$T/long.log"

# Messages: plain 8-bit text without MIME headers; a multipart with 8-bit
# text, 8-bit HTML, a 7-bit part and a base64 attachment; 8-bit in a header.
$PY - "$T" <<-'PY'
import sys
t = sys.argv[1]
open(t + "/plain.txt", "wb").write(
    "Subject: plain\n\nGrüße aus Köln, = ein Gleichheitszeichen\n".encode()
    + b"trailing blank \n" + "ä".encode() * 60 + b"\n.dot line\n")
open(t + "/multi.txt", "wb").write(b"""Subject: multi
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

""" + "Größe: 3 m²\n".encode() + b"""--inner
Content-Type: text/html; charset=utf-8

""" + "<p>Größe</p>\n".encode() + b"""--inner--
--outer
Content-Type: text/plain; charset=us-ascii

seven bit = unchanged
--outer
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAwQFBgcICQ==
--outer--
""")
open(t + "/header.txt", "wb").write("Subject: Grüße\n\nbody\n".encode())
PY
spool --body "$T/plain.txt" --rcpt p@seven.example
spool --body "$T/multi.txt" --rcpt m@seven.example
spool --body "$T/header.txt" --rcpt h@seven.example
spool --body "$T/plain.txt" --rcpt e@eight.example
spool --subject "long reply" --rcpt l@long.example
"$RELAY" -c "$T/conf"
expect_eq "the pass exits 0" "$?" 0

# check_conv LOG RCPT ORIGINAL - Python's verdict on the converted copy.
check_conv() {
	$PY - "$1" "$2" "$3" <<-'PY'
	import email, email.policy, json, sys
	text = None
	for l in open(sys.argv[1]):
	    d = json.loads(l)
	    if d.get("ev") == "message" and sys.argv[2] in d["rcpts"]:
	        text = d["text"].encode("latin1")
	if text is None:
	    print("not received"); sys.exit(1)
	if any(b > 127 for b in text):
	    print("8-bit octets on the wire"); sys.exit(1)
	if any(len(l) > 1000 for l in text.split(b"\r\n")):
	    print("line too long"); sys.exit(1)
	got = email.message_from_bytes(text.replace(b"\r\n", b"\n"), policy=email.policy.compat32)
	orig = email.message_from_bytes(open(sys.argv[3], "rb").read(), policy=email.policy.compat32)
	g = [p for p in got.walk() if not p.is_multipart()]
	o = [p for p in orig.walk() if not p.is_multipart()]
	if len(g) != len(o):
	    print("parts differ"); sys.exit(1)
	for a, b in zip(g, o):
	    da, db = a.get_payload(decode=True), b.get_payload(decode=True)
	    if da != db:
	        print("payload differs", da[:80], db[:80]); sys.exit(1)
	    if b.get("Content-Transfer-Encoding", "").lower() in ("base64",) and \
	       a.get("Content-Transfer-Encoding") != b.get("Content-Transfer-Encoding"):
	        print("base64 part re-encoded"); sys.exit(1)
	print("ok", ",".join(str(a.get("Content-Transfer-Encoding")) for a in g))
	PY
}
R=$(check_conv "$T/seven.log" p@seven.example "$T/plain.txt")
expect_eq "no 8BITMIME, plain 8-bit text: sent quoted-printable, decodes to the original" \
	"$R" "ok quoted-printable"
check "no 8BITMIME, plain: MIME-Version and charset unknown-8bit added" \
	grep -q 'Content-Type: text/plain; charset=unknown-8bit' "$T/seven.log"
R=$(check_conv "$T/seven.log" m@seven.example "$T/multi.txt")
expect_eq "no 8BITMIME, multipart: 8-bit parts quoted-printable, others as they were" \
	"$R" "ok quoted-printable,quoted-printable,None,base64"
check "no 8BITMIME: BODY=8BITMIME not sent" sh -c "! grep -q 'BODY=8BITMIME' '$T/seven.log'"
check "8-bit header: bounced 5.6.3" \
	grep -q 'to=<h@seven.example>.*status=bounced (554 5.6.3 .*8-bit octets in a header)' "$T/log"
expect_eq "8-bit header: nothing sent" "$(taken "$T/seven.log" | grep -c '^h@')" 0
DSN=$($PY "$TOP/tests/relay-dsn.py" "$T/mail/alice" 2>&1)
check "8-bit header: the DSN says 5.6.3" grep -qx 'RCPT h@seven.example failed 5.6.3' <<<"$DSN"

# With 8BITMIME: as it is, BODY=8BITMIME.
check "8BITMIME: MAIL with BODY=8BITMIME" grep -q 'MAIL FROM:<alice@test.example> BODY=8BITMIME' "$T/eight.log"
same8() {
	$PY - "$T/eight.log" "$T/plain.txt" <<-'PY'
	import json, sys
	for l in open(sys.argv[1]):
	    d = json.loads(l)
	    if d.get("ev") == "message":
	        got = d["text"].encode("latin1").replace(b"\r\n", b"\n")
	        sys.exit(0 if got == open(sys.argv[2], "rb").read() else 1)
	sys.exit(1)
	PY
}
check "8BITMIME: the octets arrive unchanged" same8

# A reply line of 1200 octets.
expect_eq "a 1200-octet reply line: read, the recipient sent" "$(taken "$T/long.log")" l@long.example
check "a 1200-octet reply line: logged sent" logged l@long.example sent
exit 0
