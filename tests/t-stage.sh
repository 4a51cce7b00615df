#!/bin/bash
# t-stage.sh - where a message waits between DATA and storage (stage.c):
# in memory up to STAGE_MEM_MAX (64 KiB of stored text), else in an
# unnamed file in spool_dir/tmp that has a name only once the spool takes
# it. The fault-injection shim (tests/faultinject.c, nothing failing)
# traces every call under spool_dir, which shows what was made there.
#
#   - a small local message touches nothing in spool_dir/tmp;
#   - messages from just under to just over 64 KiB, and one of 300 KiB
#     with "From " lines everywhere (read back in pieces), are stored
#     exactly (mboxrd), the large ones through an unnamed file;
#   - small and large messages to a foreign address are queued whole,
#     and tmp/ is empty afterwards;
#   - with a content filter, a small message is a regular file on the
#     filter's stdin;
#   - where unnamed files cannot be made (the shim fails the first
#     O_TMPFILE open with EOPNOTSUPP), tmp/ID.msg serves instead: the
#     message is stored and queued whole, and tmp/ is empty afterwards;
#   - a session killed (SIGKILL mid-DATA, SIGKILL while it waits for a
#     busy mailbox, SIGTERM mid-DATA) leaves nothing in tmp/ and no part
#     of the message anywhere.
. "$(dirname "$0")/lib.sh"
SIZES="65000 65200 65400 65500 65600 65800 66000"
nsizes=$(echo $SIZES | wc -w)
plan $((1 + 2 + nsizes + 2 + 3 + 3 + 3 + 2 + 4 + 3 * 3))

if ! out=$(cc -shared -fPIC -o "$T/fi.so" "$TOP/tests/faultinject.c" -ldl 2>&1); then
	nok "the tracing shim builds: $out"
	exit 0
fi
ok "the tracing shim builds"
write_conf

# traced DIALOGUE-FILE - run a session on it with every call under
# spool_dir traced into $T/trace; replies (CR removed) on stdout.
traced() {
	rm -f "$T/trace"
	env FI_DIR="$T/spool" FI_LOG="$T/trace" LD_PRELOAD="$T/fi.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		timeout 60 "$BIN/smtp-session" -c "$T/conf" <"$1" | tr -d '\r'
}
# dialogue_file RCPT BODYFILE OUT - one message with BODYFILE (LF lines)
# as its text, dot-stuffed, CRLF, to RCPT.
dialogue_file() {
	$PY - "$1" "$2" "$3" <<-'PY'
	import sys
	rcpt, body, out = sys.argv[1:4]
	text = open(body, "rb").read()
	lines = text.split(b"\n")[:-1]
	data = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
	open(out, "wb").write(b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<" +
	    rcpt.encode() + b">\r\nDATA\r\n" + data + b".\r\nQUIT\r\n")
	PY
}
# body SIZE FILE - a text of about SIZE octets: a header, then lines of
# varied lengths, some starting "From ", ">From ", ">>From ", "." or "..".
body() {
	$PY - "$1" "$2" <<-'PY'
	import sys
	size, out = int(sys.argv[1]), sys.argv[2]
	text = bytearray(b"Subject: stage %d\n\n" % size)
	i = 0
	while len(text) < size:
	    i += 1
	    k = i % 7
	    head = [b"From here ", b">From there ", b">>From afar ", b".dot ", b"..two ", b"", b"Fro"][k]
	    text += head + (b"x%d" % i) * (i % 23 + 1) + b"\n"
	open(out, "wb").write(bytes(text))
	PY
}
# stored_ok USER BODY - the last message in USER's mbox is BODY, quoted
# the mboxrd way, after our Received, Return-Path and Delivered-To.
stored_ok() {
	$PY - "$T/mail/$1" "$2" <<-'PY'
	import re, sys
	mbox, body = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
	want = b"".join((b">" + l if re.match(rb">*From ", l) else l)
	                for l in body.splitlines(keepends=True)) + b"\n"
	msg = mbox[mbox.rfind(b"\nFrom s@remote.example ") + 1:]
	# our Received header is three or four lines; the text follows it
	m = re.match(rb"From [^\n]*\nReturn-Path: [^\n]*\nDelivered-To: [^\n]*\n"
	             rb"Received: [^\n]*\n(\t[^\n]*\n)+", msg)
	sys.exit(0 if m and msg[m.end():] == want else 1)
	PY
}
tmp_empty() { [ -z "$(ls -A "$T/spool/tmp" 2>/dev/null)" ]; }

# --- a small local message: no staging file --------------------------------
body 900 "$T/small"
dialogue_file alice@test.example "$T/small" "$T/d"
got=$(traced "$T/d" | grep -c '^250 2.0.0 Ok: queued')
expect_eq "a small message for alice: 250" "$got" "1"
expect_eq "... and nothing under spool_dir/tmp was opened or made" \
	"$(grep -c "$T/spool/tmp" "$T/trace")" "0"

# --- around STAGE_MEM_MAX: memory, then a file -----------------------------
in_file=0 in_memory=0
for size in $SIZES; do
	body "$size" "$T/b$size"
	dialogue_file alice@test.example "$T/b$size" "$T/d"
	traced "$T/d" >/dev/null
	check "a message of $size octets is stored exactly" stored_ok alice "$T/b$size"
	if grep -q "	open	$T/spool/tmp\$" "$T/trace"; then in_file=$((in_file + 1)); else in_memory=$((in_memory + 1)); fi
done
check "some of them were staged in memory ($in_memory)" test "$in_memory" -gt 0
check "and the others in an unnamed file in tmp/ ($in_file), none with a name" \
	bash -c "[ $in_file -gt 0 ] && ! grep -q '$T/spool/tmp/[0-9A-F]' '$T/trace'"

# --- a large message, read back from its file in pieces ----------------------
body 300000 "$T/big"
dialogue_file alice@test.example "$T/big" "$T/d"
expect_eq "300 KB for alice: 250" "$(traced "$T/d" | grep -c '^250 2.0.0 Ok: queued')" "1"
check "300 KB for alice: stored exactly, every From line quoted" stored_ok alice "$T/big"
check "300 KB for alice: nothing left in tmp/" tmp_empty

# --- foreign recipients: the spool takes the text -------------------------
# queued_ok BODY - exactly one queued message, env/ and msg/ alike named,
# its text our Received and then BODY.
queued_ok() {
	$PY - "$T/spool" "$1" <<-'PY'
	import os, re, sys
	spool, body = sys.argv[1], open(sys.argv[2], "rb").read()
	ids = os.listdir(spool + "/msg")
	if len(ids) != 1 or os.listdir(spool + "/env") != ids:
	    sys.exit(1)
	text = open(spool + "/msg/" + ids[0], "rb").read()
	m = re.match(rb"Received: [^\n]*\n(\t[^\n]*\n)+", text)
	sys.exit(0 if m and text[m.end():] == body and
	         b"id " + ids[0].encode() in text[:m.end()] else 1)
	PY
}
for what in small big; do
	rm -rf "$T/spool"; mkdir -p "$T/spool"
	dialogue_file friend@far.example "$T/$what" "$T/d"
	expect_eq "a $what message for a foreign address: 250" \
		"$(traced "$T/d" | grep -c '^250 2.0.0 Ok: queued')" "1"
	check "a $what message for a foreign address: queued whole under its queue id" \
		queued_ok "$T/$what"
	check "a $what message for a foreign address: nothing left in tmp/" tmp_empty
done

# --- with a content filter, a small message is a file on its stdin ---------
printf '#!/bin/sh\nif [ -f /dev/stdin ]; then echo "X-Stdin: file"; else echo "X-Stdin: other"; fi\ncat\n' >"$T/filter"
chmod 755 "$T/filter"
write_conf "filter $T/filter"
dialogue_file alice@test.example "$T/small" "$T/d"
expect_eq "a filter on a small message: 250" \
	"$(traced "$T/d" | grep -c '^250 2.0.0 Ok: queued')" "1"
check "... its stdin was a regular file" grep -q '^X-Stdin: file' "$T/mail/alice"
write_conf

# --- no unnamed files: named staging files instead --------------------------
rm -rf "$T/spool" "$T/mail"; mkdir -p "$T/spool" "$T/mail"
$PY - "$T/big" "$T/d" <<'PY'
import sys
text = open(sys.argv[1], "rb").read()
lines = text.split(b"\n")[:-1]
data = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
open(sys.argv[2], "wb").write(b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n"
    b"RCPT TO:<alice@test.example>\r\nRCPT TO:<friend@far.example>\r\nDATA\r\n" +
    data + b".\r\nQUIT\r\n")
PY
traced "$T/d" >/dev/null
n=$(awk -F'\t' -v p="$T/spool/tmp" '$2 == "open" && $3 == p { print $1; exit }' "$T/trace")
rm -rf "$T/spool" "$T/mail"; mkdir -p "$T/spool" "$T/mail"
got=$(FI_FAIL=${n:-0} FI_ERRNO=95 traced "$T/d" | grep -c '^250 2.0.0 Ok: queued')
expect_eq "no unnamed files (O_TMPFILE fails): 250 for alice and a foreign address" "$got" "1"
check "... a named staging file tmp/ID.msg served instead" grep -q "$T/spool/tmp/[0-9A-F]*\.msg" "$T/trace"
check "... alice's copy is stored exactly, the foreign one queued whole" \
	bash -c "$(declare -f stored_ok queued_ok); T='$T' PY='$PY'; stored_ok alice '$T/big' && queued_ok '$T/big'"
check "... and nothing is left in tmp/" tmp_empty

# --- killed sessions leave nothing in tmp/ ---------------------------------
# killed MODE - a session for alice and friend@far.example killed in the
# way MODE says; prints one line per check (see below).
cat >"$T/kill.py" <<'PY'
import fcntl, os, signal, subprocess, sys, time
prog, conf, spool, mbox, mode = sys.argv[1:6]
p = subprocess.Popen([prog, "-c", conf], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
holder = None
if mode == "lockwait":   # a reader holds alice's mbox: the session waits
    holder = os.open(mbox, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.lockf(holder, fcntl.LOCK_EX)
p.stdin.write(b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\n"
              b"RCPT TO:<friend@far.example>\r\nDATA\r\nSubject: killed\r\n\r\n" + line * 3000)
if mode == "lockwait":
    p.stdin.write(b".\r\n")
p.stdin.flush()

def staged():
    """the size of a file in spool/tmp the session holds open, or -1"""
    fds = "/proc/%d/fd" % p.pid
    for f in os.listdir(fds):
        try:
            if os.readlink(os.path.join(fds, f)).startswith(spool + "/tmp/"):
                return os.stat(os.path.join(fds, f)).st_size
        except OSError:
            pass
    return -1

def sleeping():
    with open("/proc/%d/syscall" % p.pid) as f:
        return f.read().split()[0] in ("35", "230")

end, seen = time.time() + 20, False
while time.time() < end and not seen:
    seen = staged() >= 128 * 1024 and (mode != "lockwait" or sleeping())
    time.sleep(0.01)
print("staged" if seen else "never staged")
p.send_signal(signal.SIGTERM if mode == "term" else signal.SIGKILL)
p.wait(10)
print("killed" if p.returncode in (-signal.SIGKILL, -signal.SIGTERM) else "exit %r" % p.returncode)
if holder is not None:
    os.close(holder)
PY
for mode in data lockwait term; do
	rm -rf "$T/spool" "$T/mail"; mkdir -p "$T/spool" "$T/mail"
	printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\nold\n\n' >"$T/mail/alice"
	cp "$T/mail/alice" "$T/alice.before"
	got=$(timeout 60 $PY "$T/kill.py" "$BIN/smtp-session" "$T/conf" "$T/spool" "$T/mail/alice" "$mode")
	expect_eq "killed ($mode): it had staged 128 KiB in an open file in tmp/, then died of the signal" \
		"$got" "staged
killed"
	check "killed ($mode): nothing left in tmp/" tmp_empty
	check "killed ($mode): no part of the message anywhere" bash -c \
		"cmp -s '$T/mail/alice' '$T/alice.before' && [ -z \"\$(ls -A '$T/spool/env' '$T/spool/msg' 2>/dev/null | grep -v ':\$')\" ]"
done
