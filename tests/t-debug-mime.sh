#!/bin/bash
# t-debug-mime.sh - the debug sink's message reader (mime.c) through the
# test driver tests/mime-dump.c: golden reports of the corpus in
# tests/debug (well-formed messages made by Python's email package,
# malformed ones made by hand), the limits, and mutated messages that
# must neither crash nor hang. Under an ASan build directory the driver
# is built with ASan and UBSan too.
. "$(dirname "$0")/lib.sh"
# One assertion per message of the corpus, and fifteen more.
emls=("$TOP"/tests/debug/*.eml)
plan $((15 + ${#emls[@]}))

san=""
case "$BIN" in
*asan*) san="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" ;;
esac
DUMP=$T/mime-dump
# shellcheck disable=SC2086
if cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 $san -I"$TOP" \
	-o "$DUMP" "$TOP/tests/mime-dump.c" "$TOP/mime.c" "$TOP/mime-leaf.c" \
	"$TOP/mime-out.c" "$TOP/mime-header.c" "$TOP/mime-charset.c" \
	"$TOP/mime-transfer.c" "$TOP/html-text.c" "$TOP/base64.c" 2>"$T/cc.err"; then
	ok "mime-dump builds with -Wall -Wextra -Werror${san:+ and sanitizers}"
else
	nok "mime-dump builds"; cat "$T/cc.err"; exit 1
fi

# Golden reports: every NAME.eml against NAME.out, exactly.
for eml in "${emls[@]}"; do
	name=$(basename "$eml" .eml)
	got=$(timeout 10 "$DUMP" "$eml"); rc=$?
	if [ $rc -ne 0 ]; then nok "$name: mime-dump exit status $rc"; continue; fi
	expect_eq "$name: report" "$got" "$(cat "$TOP/tests/debug/$name.out")"
done

# Read from a pipe the reader makes one pass: same report where the HTML
# part does not come first.
got=$("$DUMP" - <"$TOP/tests/debug/ok-forward.eml")
expect_eq "one pass over a pipe gives the same report" "$got" \
	"$(cat "$TOP/tests/debug/ok-forward.out")"

# Limits: text shown per message, parts listed, huge attachment.
$PY - "$T" <<'PY'
import sys, os
from email.message import EmailMessage
t = sys.argv[1]
m = EmailMessage()
m["Subject"] = "long text"
m.set_content("".join("line of text %06d\n" % i for i in range(70000)), cte="8bit")
m.add_attachment("second text part\n", disposition="inline")
open(t + "/bigtext.eml", "wb").write(m.as_bytes().replace(b"\r\n", b"\n"))
parts = "".join("--P\nContent-Type: text/plain\n\np%d\n" % i for i in range(1100))
open(t + "/parts.eml", "w").write("Subject: many\nContent-Type: multipart/mixed; boundary=P\n\n" + parts + "--P--\n")
m = EmailMessage()
m["Subject"] = "big"
m.set_content("hi\n")
m.add_attachment(b"\xa5" * (12 * 1024 * 1024), maintype="application",
                 subtype="octet-stream", filename="big.bin")
open(t + "/big.eml", "wb").write(m.as_bytes().replace(b"\r\n", b"\n"))
PY
"$DUMP" "$T/bigtext.eml" >"$T/bigtext.out"
check "text cut short at MIME_TEXT_MAX (1048576 octets)" \
	grep -qx '\[text of part 1 cut short after 1048576 octets: at most 1048576 octets of text are shown per message\]' "$T/bigtext.out"
check "a later text part says it is cut short too" \
	grep -qx '\[text of part 2 cut short after 0 octets: at most 1048576 octets of text are shown per message\]' "$T/bigtext.out"
n=$(grep -c '^| line of text' "$T/bigtext.out")
expect_eq "lines shown before the cut (52428 whole, one cut)" "$n" 52429
"$DUMP" "$T/parts.eml" >"$T/parts.out"
check "parts beyond MIME_PARTS_MAX (1000) are not listed" \
	grep -qx '\[more than 1000 parts: the rest are not listed\]' "$T/parts.out"
expect_eq "1000 parts listed" "$(grep -c '^Text (part' "$T/parts.out")" 1000
got=$(timeout 20 "$DUMP" "$T/big.eml" | tail -n 1)
expect_eq "a 12 MiB attachment: decoded size" "$got" \
	'Attachment (part 2): name="big.bin" type=application/octet-stream size=12582912'

# Every line is safe to log: at most 512 octets, UTF-8, no control
# characters, whatever the input.
check_lines() {
	$PY - "$1" <<-'PY'
	import re, sys
	bad = 0
	for ln in open(sys.argv[1], "rb").read().split(b"\n"):
	    try:
	        s = ln.decode("utf-8")
	    except UnicodeDecodeError:
	        bad += 1
	        continue
	    if len(ln) > 512 or re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", s):
	        bad += 1
	sys.exit(1 if bad else 0)
	PY
}
cat "$TOP"/tests/debug/*.out "$T/bigtext.out" >"$T/all.out"
check "corpus reports: lines short, UTF-8, no control characters" check_lines "$T/all.out"

# Mutated messages: output, clean exit, no hang, sanitizers silent.
mkdir "$T/fuzz"
$PY - "$TOP/tests/debug" "$T/fuzz" <<'PY'
import glob, random, sys
src = [open(f, "rb").read() for f in sorted(glob.glob(sys.argv[1] + "/*.eml"))]
rnd = random.Random(5)
toks = [b"\n", b"--", b"=?utf-8?b?", b"?=", b"=", b"\r", b"\x00", b"<", b">",
        b"&", b";", b'"', b"\\", b"\xff", b"\xc3", b"\xe2\x80", b"<br>",
        b"&#x", b"<!--", b"charset=koi8-r", b"charset=utf-16",
        b"charset=iso-2022-jp", b"Content-Type: text/html\n\n",
        b"Content-Type: multipart/mixed; boundary=b1\n\n--b1\n", b"--b1--\n",
        b"--b1\n", b"Content-Type: message/rfc822\n\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Transfer-Encoding: quoted-printable\n"]
for i in range(600):
    d = bytearray(rnd.choice(src))
    for _ in range(rnd.randint(1, 12)):
        op, p = rnd.randint(0, 4), rnd.randint(0, len(d))
        if op == 0 and d:
            del d[p:p + rnd.randint(1, 50)]
        elif op == 1:
            d[p:p] = rnd.choice(toks)
        elif op == 2 and d:
            d[p % len(d)] = rnd.randint(0, 255)
        elif op == 3 and d:
            q = rnd.randint(0, len(d))
            d[p:p] = d[min(p, q):max(p, q)][:2000]
        else:
            d[p:p] = rnd.choice(src)[:rnd.randint(0, 3000)]
    open("%s/m%04d.eml" % (sys.argv[2], i), "wb").write(d)
PY
timeout 120 "$DUMP" "$T"/fuzz/*.eml >"$T/fuzz.out" 2>"$T/fuzz.err"
rc=$?
expect_eq "600 mutated messages: exit status" "$rc" 0
expect_eq "600 mutated messages: a report for each" \
	"$(grep -c '^== ' "$T/fuzz.out")" 600
check "mutated messages: nothing on stderr" test ! -s "$T/fuzz.err"
check "mutated messages: lines short, UTF-8, no control characters" check_lines "$T/fuzz.out"

# The same through a pipe (one pass, no second look at the structure).
bad=0
for f in "$T"/fuzz/m00[0-9]*.eml; do
	timeout 10 "$DUMP" - <"$f" >/dev/null 2>>"$T/pipe.err" || bad=$((bad + 1))
done
check "100 mutated messages through a pipe: clean exits" test "$bad" -eq 0
check "mutated messages through a pipe: nothing on stderr" test ! -s "$T/pipe.err"
