#!/bin/bash
# t-config.sh - configuration errors: each names the file and line, the
# client gets 421 4.3.0 instead of a greeting, and the exit status is 78.
. "$(dirname "$0")/lib.sh"
plan 53
write_conf

# bad_conf WHAT WANT-ERROR [CONF LINES...] - the config file is the
# standard one plus the lines given.
bad_conf() {
	local what=$1 want=$2; shift 2
	write_conf "$@"
	printf 'EHLO x\r\nQUIT\r\n' | "$BIN/smtp-session" -c "$T/conf" 2>"$T/err" >"$T/out"
	rc=$?
	out=$(tr -d '\r' <"$T/out")
	expect_eq "$what: 421 4.3.0 instead of a greeting" "$out" \
		"421 4.3.0 mx.test.example Configuration error, try again later"
	expect_eq "$what: exit 78" "$rc" "78"
	check "$what: error names file and line ($want)" grep -qF "$want" "$T/err"
}

bad_conf "unknown key" "$T/conf:8: unknown key \"colour\"" "colour blue"
bad_conf "key twice" "$T/conf:8: \"hostname\" given twice" "hostname again.example"
bad_conf "bare number duration" "$T/conf:8: timeout: expected a duration" "timeout 30"
bad_conf "bad unit" "$T/conf:8: retry_min: expected a duration" "retry_min 5w"
bad_conf "bad cidr" "$T/conf:8: relay_from: bad network \"10.0.0.0/33\"" "relay_from 10.0.0.0/33"
bad_conf "bad yes/no" "$T/conf:8: log_transcript: expected yes or no" "log_transcript maybe"
write_conf; sed -i 's|^log .*|log relative.log|' "$T/conf"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
check "relative log path refused" grep -qF "$T/conf:7: log: expected syslog, stderr or an absolute file path" "$T/err"
bad_conf "too many name servers" "$T/conf:14: nameserver: more than 6 name servers" \
	"nameserver 127.0.0.1" "nameserver 127.0.0.2" "nameserver 127.0.0.3" \
	"nameserver 127.0.0.4" "nameserver 127.0.0.5" "nameserver 127.0.0.6" "nameserver 127.0.0.7"
bad_conf "bad port" "$T/conf:8: remote_port: expected a number from 1 to 65535" "remote_port 0"
bad_conf "missing value" "$T/conf:8: \"auth_file\" needs a value" "auth_file"
bad_conf "smarthost_auth without password" "$T/conf:8: smarthost_auth: expected USER PASSWORD" "smarthost_auth user"
bad_conf "bad IPv6 name server" "$T/conf:8: nameserver: bad name server" "nameserver [::1"

bad_conf "timeout over a day" "$T/conf:8: timeout: at most 1d" "timeout 30d"

# users file errors
write_conf
printf 'alice\nbob\npostmaster: alice\nloop1: loop2\nloop2: loop1\n' >"$T/users"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
expect_eq "alias loop refused with exit 78" "$?" "78"
check "alias loop named" grep -q "alias loop through" "$T/err"

printf 'alice\nbob\n' >"$T/users"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
check "missing postmaster refused" grep -q "postmaster must be" "$T/err"

printf 'alice\npostmaster: alice\n../etc\n' >"$T/users"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
check "a path-like user name is refused with its line" grep -qF "$T/users:3: bad name \"../etc\"" "$T/err"

printf 'alice\npostmaster: alice\nmbox.lock\n' >"$T/users"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
check "a name ending in .lock is refused" grep -qF "$T/users:3: bad name \"mbox.lock\"" "$T/err"

printf 'alice\npostmaster: alice\nALICE\n' >"$T/users"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
check "names differing only in case are one name" grep -qF "$T/users:3: \"ALICE\" given twice" "$T/err"

printf 'alice\npostmaster: alice\nx: nosuch\n' >"$T/users"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
check "alias to an unknown local name refused" grep -qF "unknown local name \"nosuch\"" "$T/err"

{ echo alice; echo "postmaster: a1"; for i in $(seq 1 11); do echo "a$i: a$((i + 1))"; done; echo "a12: alice"; } >"$T/users"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
check "aliases nested more than 10 deep refused" grep -q "nest more than 10 deep" "$T/err"

{ echo alice; echo "postmaster: alice"; echo "big: $(seq -s ', ' -f 'u%g@far.example' 1 100)";
  echo "bigger: big, $(seq -s ', ' -f 'v%g@far.example' 1 99)"
  for i in $(seq 1 9); do echo "huge$i: bigger, $(seq -s ', ' -f "w${i}x%g@far.example" 1 99)"; done
  echo "all: $(seq -s ', ' -f 'huge%g' 1 9)"; } >"$T/users"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>"$T/err"
check "an alias reaching more than 1000 addresses is refused" grep -qF '"all" expands to more than 1000 addresses' "$T/err"

# the error reaches the configured log file (log read before the error)
write_conf "bogus line"
printf 'EHLO x\r\n' | "$BIN/smtp-session" -c "$T/conf" >/dev/null 2>/dev/null
check "error written to the log file named before it" grep -qF "configuration error: $T/conf:8: unknown key \"bogus\"" "$T/log"

# stderr that is a socket (inetd) gets nothing
write_conf "bogus line"
out=$($PY - "$BIN/smtp-session" "$T/conf" <<-'PY'
	import socket, subprocess, sys
	a, b = socket.socketpair()
	p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], stdin=b, stdout=b, stderr=b)
	b.close()
	a.settimeout(10)
	data = b""
	while True:
	    chunk = a.recv(4096)
	    if not chunk:
	        break
	    data += chunk
	p.wait(timeout=10)
	print(repr(data), p.returncode)
	PY
)
expect_eq "under inetd the client gets only the 421 line" "$out" \
	"b'421 4.3.0 mx.test.example Configuration error, try again later\\r\\n' 78"

# a missing configuration file
printf 'QUIT\r\n' | "$BIN/smtp-session" -c "$T/nonexistent" 2>"$T/err" >"$T/out"
rc=$?
expect_eq "missing configuration: 421 and exit 78" "$(tr -d '\r' <"$T/out") $rc" \
	"421 4.3.0 $(hostname) Configuration error, try again later 78"

# command line
"$BIN/smtp-session" -x </dev/null >/dev/null 2>&1
expect_eq "unknown flag: exit 64" "$?" "64"
expect_eq "-V prints the version" "$("$BIN/smtp-session" -V)" "smtp-session 1.0"

# good configurations: every key accepted
write_conf "relay_from 192.0.2.0/24 2001:db8::/32 127.0.0.1" "max_message_size 1000000" \
	"max_recipients 50" "timeout 2m" "log_transcript yes" "nameserver [::1]:5353" \
	"nameserver 127.0.0.1:5353" "dns_timeout 10s" "remote_port 2525" "connect_timeout 5s" \
	"smtp_timeout 1m" "smarthost relay.example:587" "smarthost_auth user pass # word" \
	"tls_wrapped no" "max_connections 5" "retry_min 1m" "retry_max 1h" "queue_lifetime 2d" \
	"# a comment" ""
out=$(printf 'QUIT\r\n' | "$BIN/smtp-session" -c "$T/conf" 2>&1 | tr -d '\r')
expect_eq "every key accepted" "$out" "220 mx.test.example ESMTP ready
221 2.0.0 Bye"
check "log_transcript logs commands and replies" grep -q '> 221 2.0.0 Bye' "$T/log"
