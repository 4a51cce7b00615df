#!/bin/bash
# t-auth.sh - AUTH PLAIN and LOGIN against crypt(3) hashes (SHA-512,
# yescrypt, bcrypt): success grants relaying, every refusal per RFC 4954,
# three failures end the session, secrets never reach the log.
. "$(dirname "$0")/lib.sh"
plan 26
{
	echo "# user:hash"
	echo "carol:$(openssl passwd -6 'c-secret')"
	echo "dave:$(mkpasswd -m yescrypt 'd secret')"
	echo "erin:$(mkpasswd -m bcrypt 'e-secret')"
} >"$T/auth"
write_conf "auth_file $T/auth"
b64() { printf "$1" | base64 -w0; }
plain_carol=$(b64 '\0carol\0c-secret')

# out - run a dialogue from an outside address; replies without CR.
out() { printf "$1" | TCPREMOTEIP=192.0.2.9 "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | mask; }
ehlo='220 mx.test.example ESMTP ready
250-mx.test.example
250-PIPELINING
250-SIZE 26214400
250-8BITMIME
250-AUTH PLAIN LOGIN
250 ENHANCEDSTATUSCODES'

got=$(out "EHLO c\r\nMAIL FROM:<c@far.example>\r\nRCPT TO:<x@far.example>\r\nRSET\r\nAUTH PLAIN $plain_carol\r\nMAIL FROM:<carol@test.example> AUTH=<>\r\nRCPT TO:<x@far.example>\r\nDATA\r\nSubject: relayed\r\n\r\nhi\r\n.\r\nQUIT\r\n")
expect_eq "PLAIN with initial response: 235, then relaying allowed" "$got" "$ehlo
250 2.1.0 Ok
554 5.7.1 <x@far.example>: Relay access denied
250 2.0.0 Ok
235 2.7.0 Authentication successful
250 2.1.0 Ok
250 2.1.5 Ok
354 End data with <CR><LF>.<CR><LF>
250 2.0.0 Ok: queued as ID
221 2.0.0 Bye"
check "envelope records the authenticated user" grep -qx 'auth carol' "$T"/spool/env/*
check "Received says ESMTPA" grep -q 'with ESMTPA id' "$T"/spool/msg/*
check "log names the user and the client" grep -q 'auth: client=\[192.0.2.9\], method=PLAIN, user=<carol>' "$T/log"

got=$(out "EHLO c\r\nAUTH PLAIN\r\n$plain_carol\r\nQUIT\r\n")
expect_eq "PLAIN without initial response: empty 334 challenge" "$got" "$ehlo
334 
235 2.7.0 Authentication successful
221 2.0.0 Bye"

got=$(out "EHLO c\r\nAUTH LOGIN\r\n$(b64 dave)\r\n$(b64 'd secret')\r\nQUIT\r\n")
expect_eq "LOGIN with a yescrypt hash" "$got" "$ehlo
334 VXNlcm5hbWU6
334 UGFzc3dvcmQ6
235 2.7.0 Authentication successful
221 2.0.0 Bye"

got=$(out "EHLO c\r\nauth login $(b64 erin)\r\n$(b64 e-secret)\r\nQUIT\r\n")
expect_eq "LOGIN with initial user name and a bcrypt hash" "$got" "$ehlo
334 UGFzc3dvcmQ6
235 2.7.0 Authentication successful
221 2.0.0 Bye"

got=$(out "EHLO c\r\nAUTH PLAIN $(b64 'carol\0carol\0c-secret')\r\nQUIT\r\n")
expect_eq "PLAIN with authzid equal to authcid" "$got" "$ehlo
235 2.7.0 Authentication successful
221 2.0.0 Bye"

got=$(out "EHLO c\r\nAUTH PLAIN $(b64 'dave\0carol\0c-secret')\r\nQUIT\r\n")
expect_eq "PLAIN acting for another user is refused" "$got" "$ehlo
535 5.7.8 Error: authentication failed
221 2.0.0 Bye"

got=$(out "EHLO c\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN\r\n$(b64 carol)\r\n*\r\nAUTH PLAIN ####\r\nAUTH PLAIN\r\nnot base64!\r\nAUTH PLAIN $(b64 'no-nul-at-all')\r\nAUTH CRAM-MD5\r\nAUTH\r\nQUIT\r\n")
expect_eq "cancel, bad base64, malformed PLAIN, unknown mechanism" "$got" "$ehlo
334 
501 5.7.0 Authentication cancelled
334 VXNlcm5hbWU6
334 UGFzc3dvcmQ6
501 5.7.0 Authentication cancelled
501 5.5.2 Error: cannot decode the initial response
334 
501 5.5.2 Error: cannot decode the response
501 5.5.2 Error: malformed PLAIN response
504 5.5.4 Unrecognized authentication type
501 5.5.4 Syntax: AUTH mechanism [initial-response]
221 2.0.0 Bye"

got=$(out "EHLO c\r\nMAIL FROM:<a@far.example>\r\nAUTH PLAIN $plain_carol\r\nRSET\r\nAUTH PLAIN $plain_carol\r\nAUTH PLAIN $plain_carol\r\nQUIT\r\n")
expect_eq "AUTH inside a transaction and AUTH twice: 503" "$got" "$ehlo
250 2.1.0 Ok
503 5.5.1 Error: MAIL transaction in progress
250 2.0.0 Ok
235 2.7.0 Authentication successful
503 5.5.1 Error: already authenticated
221 2.0.0 Bye"

: >"$T/log"
got=$(out "EHLO c\r\nAUTH PLAIN $(b64 '\0carol\0wrong-1')\r\nAUTH LOGIN $(b64 mallory)\r\n$(b64 wrong-2)\r\nAUTH PLAIN $(b64 '\0dave\0wrong-3')\r\nNOOP\r\n")
expect_eq "three failures: 535 5.7.8 each, then 421 4.7.0" "$got" "$ehlo
535 5.7.8 Error: authentication failed
334 UGFzc3dvcmQ6
535 5.7.8 Error: authentication failed
535 5.7.8 Error: authentication failed
421 4.7.0 mx.test.example Error: too many failed authentications"
expect_eq "failures logged with client and user (fail2ban)" \
	"$(grep -o 'auth failed: .*' "$T/log")" "auth failed: client=[192.0.2.9], method=PLAIN, user=<carol>
auth failed: client=[192.0.2.9], method=LOGIN, user=<mallory>
auth failed: client=[192.0.2.9], method=PLAIN, user=<dave>"
check "no password in the log" bash -c "! grep -qE 'wrong-|$(b64 wrong-2)' '$T/log'"

write_conf "auth_file $T/auth" "log_transcript yes"
out "EHLO c\r\nAUTH PLAIN $plain_carol\r\nQUIT\r\n" >/dev/null
out "EHLO c\r\nAUTH LOGIN\r\n$(b64 carol)\r\n$(b64 c-secret)\r\nQUIT\r\n" >/dev/null
check "transcript masks AUTH lines" grep -q '< AUTH \*\*\*' "$T/log"
check "transcript shows no secret" bash -c "! grep -qE 'c-secret|$plain_carol|$(b64 c-secret)' '$T/log'"

write_conf
got=$(out "EHLO c\r\nAUTH PLAIN $plain_carol\r\nQUIT\r\n")
expect_eq "without auth_file: no AUTH offered, AUTH answers 502" "$got" "220 mx.test.example ESMTP ready
250-mx.test.example
250-PIPELINING
250-SIZE 26214400
250-8BITMIME
250 ENHANCEDSTATUSCODES
502 5.5.1 Error: authentication not enabled
221 2.0.0 Bye"

# A failed decode leaves nothing behind that spoils the next attempt.
write_conf "auth_file $T/auth"
junk=$($PY -c 'import base64; print(base64.b64encode(b"y" * 60).decode() + "!!!!")')
got=$(out "EHLO c\r\nAUTH PLAIN $junk\r\nAUTH LOGIN $(b64 carol)\r\n$(b64 c-secret)\r\nQUIT\r\n")
expect_eq "LOGIN after a response that did not decode" "$got" "$ehlo
501 5.5.2 Error: cannot decode the initial response
334 UGFzc3dvcmQ6
235 2.7.0 Authentication successful
221 2.0.0 Bye"

# A response sent after a refused AUTH is masked in the transcript too.
write_conf "log_transcript yes"
printf 'EHLO c\r\nAUTH LOGIN\r\n%s\r\nQUIT\r\n' "$(b64 hidden-pass)" | "$BIN/smtp-session" -c "$T/conf" >/dev/null
check "refused AUTH: the next line is masked in the transcript" \
	bash -c "! grep -q '$(b64 hidden-pass)' '$T/log' && grep -q '< \*\*\*' '$T/log'"

# Timing: a wrong password for a known user and any password for an
# unknown one cost one crypt() of the same method (the file's).
write_conf "auth_file $T/auth"
{ echo "dave:$(mkpasswd -m yescrypt 'd secret')"; } >"$T/auth.y"
cat >"$T/timing.c" <<-'C'
	#include <stdio.h>
	#include <time.h>
	#include "auth.h"
	static double t(const char *f, const char *u) {
	    struct timespec a, b;
	    clock_gettime(CLOCK_MONOTONIC, &a);
	    for (int i = 0; i < 5; i++) auth_check(f, u, "wrong");
	    clock_gettime(CLOCK_MONOTONIC, &b);
	    return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	}
	int main(int c, char **v) { (void)c; double k = t(v[1], "dave"), u = t(v[1], "nobody");
	    printf("%s\n", u > k / 3 ? "alike" : "different"); return 0; }
	C
if cc -std=c11 -D_GNU_SOURCE -I"$TOP" -o "$T/timing" "$T/timing.c" "$TOP/auth.c" "$TOP/util.c" -lcrypt 2>"$T/cc.err"; then
	expect_eq "unknown user costs a crypt() of the file's method" "$("$T/timing" "$T/auth.y")" "alike"
else
	nok "timing probe builds"; cat "$T/cc.err"
fi

# an unreadable auth_file is a configuration error
write_conf "auth_file $T/missing"
printf 'QUIT\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
expect_eq "missing auth_file: exit 78" "$?" "78"

# swaks over a socket, AUTH PLAIN and LOGIN, relaying a message
write_conf "auth_file $T/auth" "relay_from none"
port=$(free_port)
serve_socket "$port"
for mech in PLAIN LOGIN; do
	swaks --server "127.0.0.1:$port" --auth "$mech" --auth-user carol --auth-password c-secret \
		--from carol@test.example --to "friend-$mech@far.example" >"$T/swaks.$mech" 2>&1
	check "swaks AUTH $mech relays (exit 0)" test $? -eq 0
	check "swaks AUTH $mech: message spooled" grep -qs "friend-$mech@far.example" "$T"/spool/env/*
done
swaks --server "127.0.0.1:$port" --from carol@test.example --to friend@far.example >"$T/swaks.none" 2>&1
check "swaks without AUTH: relaying refused with 554 5.7.1" grep -q '554 5.7.1' "$T/swaks.none"
