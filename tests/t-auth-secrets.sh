#!/bin/bash
# t-auth-secrets.sh - AUTH on a submission service:
#   - the client's AUTH response is cleared from the line reader's buffer
#     once used: while the session waits for the next command, its
#     memory (read through /proc/PID/mem) holds neither the PLAIN initial
#     response nor the LOGIN password line;
#   - require_auth yes: MAIL before a successful AUTH gets
#     530 5.7.0 Authentication required (RFC 6409 4.3), after it 250; the
#     shipped submission sample sets it.
. "$(dirname "$0")/lib.sh"
plan $((2 * 2 + 3 + 1))
echo "carol:$(openssl passwd -6 'c-secret-4711')" >"$T/auth"
write_conf "auth_file $T/auth"

# in_memory EXCHANGE - run a session, do EXCHANGE (plain | login), then,
# with the session waiting for its next command, search its writable
# memory for the response octets. Prints "235 found|absent".
cat >"$T/peek.py" <<'PY'
import base64, os, re, select, subprocess, sys, time
prog, conf, how = sys.argv[1:4]
p = subprocess.Popen([prog, "-c", conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
buf = b""
def reply():
    global buf
    end = time.time() + 20
    while time.time() < end:
        m = re.search(rb"(?m)^\d{3} [^\r\n]*\r\n", buf)
        if m:
            line, buf = buf[:m.end()], buf[m.end():]
            return line.decode().strip()
        r, _, _ = select.select([p.stdout], [], [], 1)
        if r:
            buf += os.read(p.stdout.fileno(), 65536)
    return "[timeout]"
reply()
p.stdin.write(b"EHLO c.example\r\n"); reply()
if how == "plain":
    secret = base64.b64encode(b"\0carol\0c-secret-4711")
    p.stdin.write(b"AUTH PLAIN " + secret + b"\r\n")
else:
    secret = base64.b64encode(b"c-secret-4711")
    p.stdin.write(b"AUTH LOGIN " + base64.b64encode(b"carol") + b"\r\n")
    reply()
    p.stdin.write(secret + b"\r\n")
code = reply()[:3]
time.sleep(0.2)                         # it now waits for a command
found = False
with open("/proc/%d/maps" % p.pid) as maps, open("/proc/%d/mem" % p.pid, "rb", 0) as mem:
    for line in maps:
        f = line.split()
        if "rw" not in f[1] or (len(f) > 5 and f[5].startswith("[v")):
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if hi - lo > 1 << 30:
            continue                    # sanitizer shadow: not ours
        try:
            mem.seek(lo)
            if secret in mem.read(hi - lo):
                found = True
        except OSError:
            pass
p.stdin.write(b"QUIT\r\n"); p.stdin.close(); p.wait(timeout=20)
print(code, "found" if found else "absent")
PY
for how in plain login; do
	got=$(timeout 60 $PY "$T/peek.py" "$BIN/smtp-session" "$T/conf" "$how")
	expect_eq "AUTH $how: accepted" "${got% *}" "235"
	expect_eq "AUTH $how: the response is no longer in the session's memory" "${got#* }" "absent"
done

write_conf "auth_file $T/auth" "require_auth yes"
plain=$(printf '\0carol\0c-secret-4711' | base64 -w0)
got=$(printf 'EHLO c.example\r\nMAIL FROM:<carol@test.example>\r\nAUTH PLAIN %s\r\nMAIL FROM:<carol@test.example>\r\nQUIT\r\n' "$plain" |
	"$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | grep -E '^[0-9]{3} ' | sed -n '3,5p')
expect_eq "require_auth yes: MAIL before AUTH is refused" "$(echo "$got" | sed -n 1p)" "530 5.7.0 Authentication required"
expect_eq "require_auth yes: AUTH succeeds" "$(echo "$got" | sed -n 2p)" "235 2.7.0 Authentication successful"
expect_eq "require_auth yes: MAIL after AUTH is accepted" "$(echo "$got" | sed -n 3p)" "250 2.1.0 Ok"
check "the shipped submission sample sets require_auth yes" \
	grep -q '^require_auth yes$' "$TOP/etc/smtp-submission.conf.sample"
