#!/bin/bash
# t-relay-7bit.sh - 8-bit text made quoted-printable for a server without
# 8BITMIME keeps the MIME structure: a soft line break never starts a
# line with "-" (a boundary delimiter the message did not have), "." or
# "F"; each part decodes, with Python's email package, to the original's.
# SIZE= gives the size of what is sent, after the conversion.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
# One message per position of the soft line break around "--frontier",
# ".", "From " (3 x 8), each checked for its structure and its parts.
plan 26

write_conf "smarthost 127.0.0.123:$P" "connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$SPOOL" "$T/in"
script 127.0.0.123 size "$T/seven.log"

# A line of N "a"s after an 8-bit line, then the text that a soft line
# break could put at the start of a line: for some N the break falls
# just before it (76 octets per encoded line, "=" included).
$PY - "$T/in" <<-'PY'
import sys
d = sys.argv[1]
for kind, tail in (("dash", "--frontier"), ("dot", "."), ("from", "From me")):
    for n in range(71, 79):
        text = ("Subject: %s %d\nMIME-Version: 1.0\n"
                "Content-Type: multipart/mixed; boundary=\"frontier\"\n\n"
                "--frontier\nContent-Type: text/plain; charset=utf-8\n\n"
                "Gr\u00fc\u00dfe\n%s%s\nafter the long line\n"
                "--frontier\nContent-Type: text/plain; charset=us-ascii\n\n"
                "second part\n--frontier--\n" % (kind, n, "a" * n, tail))
        open("%s/%s-%d.txt" % (d, kind, n), "wb").write(text.encode())
PY
for f in "$T"/in/*.txt; do spool --body "$f" --rcpt "$(basename "$f" .txt)@far.example"; done
# SIZE=: a text that grows three times over when encoded.
$PY -c 'import sys; sys.stdout.buffer.write(b"Subject: big\n\n" + ("\u00e9" * 30 + "\n").encode() * 400)' >"$T/grow.txt"
spool --body "$T/grow.txt" --rcpt grow@far.example

"$RELAY" -c "$T/conf"
expect_eq "every message sent" "$(count_status sent)" 25

# check KIND N - the message for KIND-N as received, against its original.
$PY - "$T/seven.log" "$T/in" >"$T/verdicts" <<-'PY'
import email, email.policy, json, re, sys
got = {}
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("ev") == "message":
        got[d["rcpts"][0].split("@")[0]] = d["text"].encode("latin1").replace(b"\r\n", b"\n")
def parts(b):
    m = email.message_from_bytes(b, policy=email.policy.compat32)
    return [(p.get_content_type(), p.get_payload(decode=True)) for p in m.walk()
            if not p.is_multipart()]
for kind in ("dash", "dot", "from"):
    for n in range(71, 79):
        name = "%s-%d" % (kind, n)
        orig = open("%s/%s.txt" % (sys.argv[2], name), "rb").read()
        sent = got.get(name)
        if sent is None:
            print(name, "missing")
            continue
        lines = sent.split(b"\n")
        starts = [lines[i + 1][:1] for i in range(len(lines) - 1) if lines[i].endswith(b"=")]
        bad = [s for s in starts if s in (b"-", b".", b"F")]
        same = parts(sent) == parts(orig) and len(parts(sent)) == 2
        print(name, "ok" if same and not bad else
              "structure" if not same else "starts %r" % bad)
PY
for kind in dash dot from; do
	for n in 71 72 73 74 75 76 77 78; do
		expect_eq "$kind after $n octets: both parts as sent, no soft line starts with - . F" \
			"$(grep "^$kind-$n " "$T/verdicts")" "$kind-$n ok"
	done
done
# What the server took, as it counts it (each line with its CRLF), is
# what MAIL FROM announced.
sizes=$($PY - "$T/seven.log" <<-'PY'
	import json, re, sys
	last = {}
	for l in open(sys.argv[1]):
	    d = json.loads(l)
	    if d.get("cmd", "").upper().startswith("MAIL"):
	        last[d["conn"]] = re.search(r"SIZE=(\d+)", d["cmd"])
	    if d.get("ev") == "message" and d["rcpts"] == ["grow@far.example"]:
	        a = last[d["conn"]]
	        print("announced %s, took %s" % (a.group(1) if a else "nothing", d["bytes"]))
	PY
)
expect_eq "SIZE= is the size after the conversion" "$sizes" \
	"announced ${sizes##* }, took ${sizes##* }"
exit 0
