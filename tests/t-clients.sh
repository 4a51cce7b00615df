# t-clients.sh - smtp-session driven by real clients: swaks over a pipe
# and over a socket, python3 smtplib, a raw pipelined dialogue, a 3 MiB
# binary attachment read back with python's mailbox module, GNU mailutils
# listing the result, and a foreign recipient queued in the spool.
. "$(dirname "$0")/lib.sh"
plan 30

write_conf

# mmask - mask plus the date line of our Received header.
mmask() {
	mask | sed -E 's/^\t[A-Z][a-z]{2}, [ 0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [-+][0-9]{4}$/\tDATE/'
}

# count_from FILE - number of "From " separator lines in FILE.
count_from() { grep -c '^From ' "$1" 2>/dev/null || true; }

# ------------------------------------------------------------ swaks --pipe
cat >"$T/data1" <<'EOF'
From: Sender <sender@remote.example>
To: alice@test.example
Subject: swaks pipe
Message-ID: <pipe1@remote.example>

hello from swaks
From the pipe
EOF
timeout 60 swaks --pipe "$BIN/smtp-session -c $T/conf" --helo client.example \
	--from sender@remote.example --to alice@test.example --data "@$T/data1" \
	>"$T/swaks1.out" 2>&1
rc=$?
expect_eq "swaks --pipe: exit status 0" "$rc" 0
check "swaks --pipe: 250 2.0.0 after the data" \
	grep -Eq '^<-  250 2\.0\.0 Ok: queued as [0-9A-Z]+$' "$T/swaks1.out"
check "swaks --pipe: 221 2.0.0 Bye after QUIT" grep -q '^<-  221 2.0.0 Bye$' "$T/swaks1.out"
want1='From sender@remote.example DATE
Return-Path: <sender@remote.example>
Delivered-To: alice@test.example
Received: from client.example ([127.0.0.1])
	by mx.test.example with ESMTP id ID
	for <alice@test.example>;
	DATE
From: Sender <sender@remote.example>
To: alice@test.example
Subject: swaks pipe
Message-ID: <pipe1@remote.example>

hello from swaks
>From the pipe

'
got=$(mmask <"$T/mail/alice"; echo x)
expect_eq "swaks --pipe: exact mbox of alice" "${got%x}" "$want1
"
size_after1=$(stat -c %s "$T/mail/alice")

# ---------------------------------------------------- over a real socket
PORT=$(free_port)
if serve_socket "$PORT"; then ok "systemd-socket-activate listens on $PORT"
else nok "systemd-socket-activate listens on $PORT"; fi

# smtplib: EHLO, then one message to alice, bob and team@other.example
# (team = alice, bob: each mailbox gets exactly one copy).
$PY - "$PORT" >"$T/smtplib.out" 2>&1 <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
code, text = s.ehlo("client.example")
print("EHLO", code)
print(text.decode())
msg = ("From: Sender <sender@remote.example>\r\n"
       "To: alice@test.example, bob@test.example, team@other.example\r\n"
       "Subject: smtplib three\r\n"
       "Message-ID: <smtplib1@remote.example>\r\n"
       "\r\n"
       "one copy each\r\n"
       ".dot line\r\n")
refused = s.sendmail("sender@remote.example",
                     ["alice@test.example", "bob@test.example", "team@other.example"], msg)
print("refused", refused)
print("QUIT", s.quit()[0])
PY
expect_eq "smtplib: EHLO reply and delivery" "$(cat "$T/smtplib.out")" "EHLO 250
mx.test.example
PIPELINING
SIZE 26214400
8BITMIME
ENHANCEDSTATUSCODES
refused {}
QUIT 221"
# alice: the swaks message and this one; bob: this one only.
expect_eq "smtplib: alice has 2 messages (one copy of the new one)" "$(count_from "$T/mail/alice")" 2
expect_eq "smtplib: bob has exactly 1 message" "$(count_from "$T/mail/bob")" 1
want_bob='From sender@remote.example DATE
Return-Path: <sender@remote.example>
Delivered-To: bob@test.example
Received: from client.example ([127.0.0.1])
	by mx.test.example with ESMTP id ID;
	DATE
From: Sender <sender@remote.example>
To: alice@test.example, bob@test.example, team@other.example
Subject: smtplib three
Message-ID: <smtplib1@remote.example>

one copy each
.dot line

'
got=$(mmask <"$T/mail/bob"; echo x)
expect_eq "smtplib: exact mbox of bob" "${got%x}" "$want_bob"
got=$(tail -c +$((size_after1 + 1)) "$T/mail/alice" | mmask; echo x)
want_alice2=${want_bob/Delivered-To: bob@test.example/Delivered-To: alice@test.example}
expect_eq "smtplib: alice's new message, exact" "${got%x}" "$want_alice2"
size_after2=$(stat -c %s "$T/mail/alice")
bob_after2=$(stat -c %s "$T/mail/bob")

# A raw pipelined dialogue: after EHLO, MAIL + four RCPT + DATA in one
# write; then the text, the dot and QUIT in one write.
$PY - "$PORT" >"$T/pipelined.out" 2>&1 <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 20)
s.settimeout(20)
buf = b""
def replies(n):
    """read until n complete replies (final lines) have arrived"""
    global buf
    out = []
    end = time.time() + 20
    while len(out) < n:
        while b"\r\n" not in buf:
            if time.time() > end:
                out.append("[timeout]")
                return out
            d = s.recv(65536)
            if not d:
                out.append("[closed]")
                return out
            buf += d
        line, buf = buf.split(b"\r\n", 1)
        line = line.decode()
        if len(line) >= 4 and line[3] == "-":
            continue            # continuation of a multi-line reply
        out.append(line)
    return out
print(*replies(1), sep="\n")
s.sendall(b"EHLO pipe.example\r\n")
print(*replies(1), sep="\n")
s.sendall(b"MAIL FROM:<piper@remote.example>\r\n"
          b"RCPT TO:<alice@test.example>\r\n"
          b"RCPT TO:<nobody@test.example>\r\n"
          b"RCPT TO:<Bob@Other.Example>\r\n"
          b"RCPT TO:<postmaster@other.example>\r\n"
          b"DATA\r\n")
print(*replies(6), sep="\n")
s.sendall(b"Subject: pipelined\r\n\r\nbatch body\r\n>From quoted\r\n.\r\nQUIT\r\n")
print(*replies(2), sep="\n")
PY
got=$(mask <"$T/pipelined.out")
expect_eq "pipelined: every reply in order" "$got" "220 mx.test.example ESMTP ready
250 ENHANCEDSTATUSCODES
250 2.1.0 Ok
250 2.1.5 Ok
550 5.1.1 <nobody@test.example>: Recipient address rejected: User unknown
250 2.1.5 Ok
250 2.1.5 Ok
354 End data with <CR><LF>.<CR><LF>
250 2.0.0 Ok: queued as ID
221 2.0.0 Bye"
got=$(tail -c +$((size_after2 + 1)) "$T/mail/alice" | mmask; echo x)
expect_eq "pipelined: alice (also postmaster) got one exact copy" "${got%x}" 'From piper@remote.example DATE
Return-Path: <piper@remote.example>
Delivered-To: alice@test.example
Received: from pipe.example ([127.0.0.1])
	by mx.test.example with ESMTP id ID;
	DATE
Subject: pipelined

batch body
>>From quoted

'
got=$(tail -c +$((bob_after2 + 1)) "$T/mail/bob" | mmask; echo x)
expect_eq "pipelined: bob got one exact copy (Delivered-To names other.example)" "${got%x}" 'From piper@remote.example DATE
Return-Path: <piper@remote.example>
Delivered-To: bob@other.example
Received: from pipe.example ([127.0.0.1])
	by mx.test.example with ESMTP id ID;
	DATE
Subject: pipelined

batch body
>>From quoted

'
size_after3=$(stat -c %s "$T/mail/alice")

# -------------------------------------- a 3 MiB binary attachment by swaks
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$T/blob.bin"
timeout 60 swaks --server "127.0.0.1:$PORT" --helo client.example \
	--from sender@remote.example --to carol@test.example \
	--header "Subject: big attachment" --attach-type application/octet-stream \
	--attach "@$T/blob.bin" >"$T/swaks2.out" 2>&1
rc=$?
expect_eq "attachment: swaks exit status 0" "$rc" 0
check "attachment: 250 2.0.0 after the data" \
	grep -Eq '^<-  250 2\.0\.0 Ok: queued as [0-9A-Z]+$' "$T/swaks2.out"
got=$($PY - "$T/mail/carol" "$T/blob.bin" 2>&1 <<'PY'
import email, email.policy, hashlib, mailbox, sys
box = mailbox.mbox(sys.argv[1], create=False)
msgs = list(box)
print("messages", len(msgs))
m = email.message_from_bytes(msgs[0].as_bytes(), policy=email.policy.default)
print("subject", m["subject"])
parts = [p for p in m.iter_attachments()]
print("attachments", len(parts))
data = parts[0].get_payload(decode=True) if parts else b""
want = open(sys.argv[2], "rb").read()
print("size", len(data), "of", len(want))
print("sha256", "same" if hashlib.sha256(data).digest() == hashlib.sha256(want).digest() else "differs")
PY
)
expect_eq "attachment: mailbox.mbox reads it back, sha256 equal" "$got" "messages 1
subject big attachment
attachments 1
size $((3 * 1024 * 1024 + 17)) of $((3 * 1024 * 1024 + 17))
sha256 same"

# ------------------------------------------------------ mailutils listing
# mail(1) rewrites the mailbox it reads: only ever a copy.
cp "$T/mail/alice" "$T/alice.copy"
cp "$T/mail/alice" "$T/alice.copy2"
got=$(frm -n -f subject --no-config "$T/alice.copy" 2>&1 | sed -E 's/[[:space:]]+/ /g; s/^ //; s/ $//')
expect_eq "frm lists alice's 3 messages by subject" "$got" "1: swaks pipe
2: smtplib three
3: pipelined"
got=$(MAIL=/dev/null HOME=$T timeout 20 mail -n -N -H -f "$T/alice.copy2" </dev/null 2>&1)
n=$(printf '%s\n' "$got" | sed -nE 's/^[> ][A-Z ] +([0-9]+) .*/\1/p' | tr '\n' ' ')
expect_eq "mail -H lists 3 messages" "$n" "1 2 3 "
subjects=$(printf '%s\n' "$got" | grep -o 'swaks pipe\|smtplib three\|pipelined' | tr '\n' ,)
expect_eq "mail -H shows the three subjects in order" "$subjects" "swaks pipe,smtplib three,pipelined,"
expect_eq "the original mailbox was not touched by the readers" "$(stat -c %s "$T/mail/alice")" "$size_after3"

# ------------------------------------------- a foreign recipient: spooled
before=$(cat "$T"/mail/* | sha256sum)
timeout 60 swaks --server "127.0.0.1:$PORT" --helo client.example \
	--from sender@remote.example --to friend@far.example \
	--header "Subject: to the spool" --body "for relay-agent" >"$T/swaks3.out" 2>&1
rc=$?
expect_eq "spool: swaks exit status 0" "$rc" 0
id=$(sed -nE 's/^<-  250 2\.0\.0 Ok: queued as ([0-9A-Z]+)$/\1/p' "$T/swaks3.out")
check "spool: 250 2.0.0 with a queue id" test -n "$id"
expect_eq "spool: exactly one envelope, named by the queue id" "$(ls "$T/spool/env")" "$id"
expect_eq "spool: exactly one message file, named by the queue id" "$(ls "$T/spool/msg")" "$id"
got=$(sed -E 's/^arrival [0-9]+$/arrival TIME/' "$T/spool/env/$id" 2>&1)
expect_eq "spool: envelope content" "$got" "version 2
id $id
arrival TIME
sender sender@remote.example
body 7BIT
auth 
client 127.0.0.1
helo client.example
rcpt pending	0	0	0	friend@far.example	friend@far.example	"
got=$(head -n 4 "$T/spool/msg/$id" | mmask)
expect_eq "spool: message starts with our Received header" "$got" "Received: from client.example ([127.0.0.1])
	by mx.test.example with ESMTP id ID
	for <friend@far.example>;
	DATE"
check "spool: message holds the body" grep -qx 'for relay-agent' "$T/spool/msg/$id"
expect_eq "spool: no mailbox changed" "$(cat "$T"/mail/* | sha256sum)" "$before"
expect_eq "spool: nothing left in tmp/" "$(ls -A "$T/spool/tmp")" ""
expect_eq "no lock file left" "$(ls "$T/mail" | grep -c '\.lock$')" 0
