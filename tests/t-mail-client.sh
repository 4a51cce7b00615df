#!/bin/bash
# t-mail-client.sh - real programs as callers of our sendmail: GNU
# mailutils' mail(1) with -s and -A (it runs "sendmail -oi -f ... -t"),
# as an unprivileged user, through the local submission socket; the
# attachment byte-identical in the mbox. Then seed 002 on a host running
# this product: mail -s "Hello, World!" -A attachments/report.pdf
# friend@far.example < msg.txt, queued, and relay-agent sends it through
# the TLS smarthost setup of t-tls.sh (stunnel client -> stunnel server ->
# smtp-session requiring AUTH), the smarthost offering only AUTH LOGIN,
# the credentials in smarthost_auth_file.
. "$(dirname "$0")/lib.sh"
plan 18

command -v mail >/dev/null && command -v stunnel4 >/dev/null || nok "mailutils and stunnel4 are installed"
write_conf "submit_socket $T/submit.sock"
chmod 644 "$T/conf" "$T/users"
mkdir -p "$T/home" && chown 65534:65534 "$T/home"
# The sendmail mail(1) runs: ours, with this test's configuration.
printf '#!/bin/sh\nexec "%s/sendmail" -C "%s" "$@"\n' "$BIN" "$T/conf" >"$T/sendmail"
chmod 755 "$T/sendmail"
# mailx ARGS... - mailutils' mail as nobody, using our sendmail.
mailx() {
	HOME=$T/home setpriv --reuid=65534 --regid=65534 --clear-groups \
		mail -E "set sendmail=sendmail://$T/sendmail" "$@"
}
bg systemd-socket-activate -l "$T/submit.sock" -a --inetd \
	-E "ASAN_OPTIONS=${ASAN_OPTIONS:-}" -E "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" \
	"$BIN/smtp-session" -c "$T/conf" 2>>"$T/activator.log"
for i in $(seq 200); do [ -S "$T/submit.sock" ] && break; sleep 0.05; done
chmod 666 "$T/submit.sock"
check "the submission socket listens" test -S "$T/submit.sock"

# --- mail -s -A to a local user ---------------------------------------------
mkdir -p "$T/att" && head -c 70000 /dev/urandom >"$T/att/data.bin" && chmod -R a+rX "$T/att"
printf 'Text of the message.\n.\nA line with a dot before it.\n' >"$T/body.txt"
(cd "$T/att" && mailx -s "Report attached" -A data.bin alice@test.example <"$T/body.txt")
expect_eq "mail -s -A: exit 0" "$?" 0
# part MBOX INDEX - python: the message's subject, text and attachment.
got=$($PY - "$T/mail/alice" "$T/att/data.bin" "$T/body.txt" <<-'PY'
import mailbox, sys
m = list(mailbox.mbox(sys.argv[1]))[-1]
att = text = None
for p in m.walk():
    if p.get_filename() == "data.bin":
        att = p.get_payload(decode=True)
    elif p.get_content_type() == "text/plain" and text is None:
        text = p.get_payload(decode=True)
print(m["Subject"])
print("attachment identical" if att == open(sys.argv[2], "rb").read() else "attachment differs")
print("text identical" if text and text.rstrip(b"\n") == open(sys.argv[3], "rb").read().rstrip(b"\n")
      else "text differs: %r" % text)
print("Received: from uid 65534" if "(userid 65534 (nobody))" in m.get_all("Received")[0] else "no uid")
PY
)
expect_eq "mail -s -A: subject, attachment byte-identical, text, uid" "$got" "Report attached
attachment identical
text identical
Received: from uid 65534"
check "mail's -t: the To: header was the recipient" grep -q '^Delivered-To: alice@test.example$' "$T/mail/alice"

# --- seed 002: through a TLS smarthost with AUTH LOGIN --------------------
TLS=$T/tls
mkdir -p "$TLS"
tls_ca ca && tls_cert localhost ca localhost
check "a test CA and a certificate for localhost" \
	bash -c "openssl verify -CAfile '$TLS/ca.pem' '$TLS/localhost.pem' >/dev/null"

# The smarthost: smtp-session requiring AUTH behind stunnel, its EHLO
# reply narrowed to AUTH LOGIN by a filter between them.
SH=$T/sh
smarthost_setup "$SH"
cat >"$T/loginonly.py" <<-'PY'
	import subprocess, sys, threading
	p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
	def up():
	    while True:
	        b = sys.stdin.buffer.read1(65536)
	        if not b:
	            break
	        p.stdin.write(b); p.stdin.flush()
	    p.stdin.close()
	threading.Thread(target=up, daemon=True).start()
	for line in p.stdout:
	    if line.startswith(b"250-AUTH ") or line.startswith(b"250 AUTH "):
	        line = line[:4] + b"AUTH LOGIN\r\n"
	    sys.stdout.buffer.write(line); sys.stdout.buffer.flush()
	p.wait()
PY
SPORT=$(free_port)
CPORT=$(free_port)
cat >"$T/server.conf" <<-EOF
	foreground = yes
	pid =
	syslog = no
	debug = info
	output = $T/stunnel-server.log
	[smarthost]
	accept = 127.0.0.1:$SPORT
	cert = $TLS/localhost.pem
	key = $TLS/localhost.key
	exec = $PY
	execArgs = python3 $T/loginonly.py $BIN/smtp-session -c $SH/conf
EOF
bg stunnel4 "$T/server.conf" >>"$T/stunnel-server.err" 2>&1
check "the smarthost (stunnel server) listens" wait_port "$SPORT"
sed -e '/^setuid\|^setgid/d' -e "s|^debug = .*|debug = info\noutput = $T/stunnel-client.log|" \
	-e "s|^accept = .*|accept = 127.0.0.1:$CPORT|" -e "s|^connect = .*|connect = 127.0.0.1:$SPORT|" \
	-e "s|^CAfile = .*|CAfile = $TLS/ca.pem|" -e "s|^checkHost = .*|checkHost = localhost|" \
	-e "s|^sni = .*|sni = localhost|" "$TOP/stunnel/smarthost.conf" >"$T/client.conf"
bg stunnel4 "$T/client.conf" >>"$T/stunnel-client.err" 2>&1
for i in $(seq 200); do grep -q "bound to 127\.0\.0\.1:$CPORT\$" "$T/stunnel-client.log" 2>/dev/null && break; sleep 0.05; done
check "the stunnel client (shipped smarthost.conf) listens" grep -q "bound to 127\.0\.0\.1:$CPORT\$" "$T/stunnel-client.log"
# Our relay-agent's settings: the smarthost, its password in a file.
printf 'relay relay pass word\n' >"$T/smarthost.auth"
chmod 640 "$T/smarthost.auth"
printf 'smarthost 127.0.0.1:%s\nsmarthost_auth_file %s\nconnect_timeout 5s\nsmtp_timeout 10s\n' \
	"$CPORT" "$T/smarthost.auth" >>"$T/conf"

# The seed's files: its text (UTF-8, Russian) and a PDF attachment.
mkdir -p "$T/seed/attachments"
printf 'Привет!\n\nSMTP-клиент работает на основе протокола SMTP.\nАвтор: Мартьянов Сергей КН-202\n' >"$T/seed/msg.txt"
$PY - "$T/seed/attachments/report.pdf" <<-'PY'
import os, sys
body = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + os.urandom(20000) + b"\n%%EOF\n"
open(sys.argv[1], "wb").write(body)
PY
chmod -R a+rX "$T/seed"
(cd "$T/seed" && mailx -s "Hello, World!" -A attachments/report.pdf friend@far.example <msg.txt)
expect_eq "seed 002: mail exits 0" "$?" 0
check "seed 002: queued for relay-agent" bash -c "grep -l 'friend@far.example' '$T'/spool/env/* >/dev/null 2>&1"
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$T/conf" 2>"$T/relay.err"
expect_eq "seed 002: relay-agent exits 0" "$?" 0
check "seed 002: sent through the stunnel client" \
	grep -q "to=<friend@far.example>, relay=127.0.0.1\[127.0.0.1\]:$CPORT, .*status=sent" "$T/log"
check "seed 002: the smarthost saw AUTH LOGIN from relay" \
	grep -q 'auth: client=\[127.0.0.1\], method=LOGIN, user=<relay>' "$SH/log"
check "seed 002: the stunnel client verified the smarthost's certificate" \
	grep -q 'Certificate accepted at depth=0: CN=localhost' "$T/stunnel-client.log"
SENV=$(grep -l 'friend@far.example' "$SH"/spool/env/* 2>/dev/null | head -n 1)
check "seed 002: the smarthost queued it, authenticated as relay" \
	bash -c "[ -n '$SENV' ] && grep -qx 'auth relay' '$SENV'"
got=$($PY - "$SH/spool/msg/$(basename "${SENV:-none}")" "$T/seed/msg.txt" "$T/seed/attachments/report.pdf" <<-'PY'
import email, email.policy, sys
try:
    m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
except OSError:
    print("no message"); sys.exit()
att = text = None
for p in m.walk():
    if p.get_filename() == "report.pdf":
        att = p.get_payload(decode=True)
    elif p.get_content_type() == "text/plain" and text is None:
        text = p.get_payload(decode=True)
print(m["Subject"])
print("pdf identical" if att == open(sys.argv[3], "rb").read() else "pdf differs")
print("text identical" if text and text.rstrip(b"\n") == open(sys.argv[2], "rb").read().rstrip(b"\n")
      else "text differs")
rec = m.get_all("Received")
print("%d Received, ours names uid 65534" % len(rec) if any("(userid 65534 (nobody))" in r for r in rec)
      else "no uid")
PY
)
expect_eq "seed 002: at the smarthost, subject, PDF and text intact, our Received" "$got" "Hello, World!
pdf identical
text identical
2 Received, ours names uid 65534"
check "seed 002: the password never in our log" bash -c "! grep -q 'relay pass word' '$T/log'"
chmod 644 "$T/smarthost.auth"
"$TOP/tests/unpriv" "$BIN/relay-agent" -c "$T/conf" 2>"$T/relay2.err"
expect_eq "smarthost_auth_file readable by everyone: refused (78)" "$?" 78
check "... saying why" grep -q 'smarthost.auth: readable by every user' "$T/relay2.err"
