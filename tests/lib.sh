# tests/lib.sh - helpers for the test scripts (bash). Source it first.
#
# A script first declares how many assertions it makes (plan N), then
# each assertion prints "ok - what" or "not ok - what"; tests/run checks
# the count against the plan. Every process a test starts is recorded
# and killed by PID at exit.
set -u
BIN=${BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build}
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PY=/usr/bin/python3
# Programs of packages that ship a daemon are not installed: tests/deps.sh
# extracts them under deps/ (xinetd, stunnel4).
for d in "$TOP"/deps/*/usr/sbin "$TOP"/deps/*/usr/bin; do
	[ -d "$d" ] && PATH=$d:$PATH
done
T=$(mktemp -d /tmp/smtptest.XXXXXX)
chmod 755 "$T"
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# plan N - the number of assertions this script makes, computed from its
# inputs before any runs (TAP "1..N"); call it once, first.
plan() { echo "1..$1"; }

ok()   { echo "ok - $*"; }
nok()  { echo "not ok - $*"; }

# skip N WHY - N planned assertions that cannot run on this machine (no
# IPv6 loopback, not root): TAP's "ok - # SKIP", counted apart.
skip() {
	local i
	for ((i = 0; i < $1; i++)); do echo "ok - # SKIP $2"; done
}

# helper_ran WHAT STATUS - one assertion: the helper WHAT (a Python script
# printing ok lines of its own) exited 0. A helper that dies also leaves
# its lines missing, which fails the plan.
helper_ran() {
	if [ "$2" -eq 0 ]; then ok "$1 ran to the end"; else nok "$1 ran to the end (exit status $2)"; fi
}

# check WHAT CMD... - ok when CMD succeeds.
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else nok "$what"; fi
}

# expect_eq WHAT GOT WANT - ok when equal, else show both.
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		nok "$1"
		echo "   --- got:"; printf '%s\n' "$2" | head -n 40 | sed 's/^/   /'
		echo "   --- want:"; printf '%s\n' "$3" | head -n 40 | sed 's/^/   /'
	fi
}

# write_conf [EXTRA LINES] - a configuration for test.example in $T.
write_conf() {
	mkdir -p "$T/mail" "$T/spool"
	cat >"$T/users" <<-USERS
	alice
	bob
	carol
	postmaster: alice
	team: alice, bob
	ext: someone@remote.example
	USERS
	cat >"$T/conf" <<-CONF
	hostname mx.test.example
	domain test.example
	domain other.example
	users $T/users
	mailbox_dir $T/mail
	spool_dir $T/spool
	log $T/log
	CONF
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$T/conf"
	return 0
}

# crlf - turn LF line ends of stdin into CRLF.
crlf() { sed 's/$/\r/'; }

# session [ENV...] - run smtp-session on stdin with $T/conf; replies on
# stdout with CR removed, exit status in $T/rc.
session() {
	"$BIN/smtp-session" -c "$T/conf" | tr -d '\r'
	echo "${PIPESTATUS[0]}" >"$T/rc"
}

# dialogue TEXT - send TEXT (LF lines, turned into CRLF) all at once.
dialogue() { printf '%s\n' "$1" | crlf | session; }

# mask - replace queue ids and dates in replies or mbox text.
mask() {
	sed -E -e 's/queued as [0-9A-Z]+/queued as ID/' \
	       -e 's/id [0-9A-Z]+/id ID/' \
	       -e 's/^(From [^ ]*) .*/\1 DATE/' \
	       -e 's/; [A-Z][a-z]{2}, .*/; DATE/' \
	       -e 's/^(\s+)[A-Z][a-z]{2}, [0-9]+ [A-Z][a-z]{2} [0-9]{4} .*/\1DATE/'
}

# free_port - a TCP port free on 127.0.0.1 now.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT [HOST] - wait (at most 10 s) until PORT accepts connections.
wait_port() {
	$PY - "$1" "${2:-127.0.0.1}" <<-'PY'
	import socket, sys, time
	end = time.time() + 10
	while time.time() < end:
	    try:
	        socket.create_connection((sys.argv[2], int(sys.argv[1])), 0.5).close()
	        sys.exit(0)
	    except OSError:
	        time.sleep(0.05)
	sys.exit(1)
	PY
}

# bg CMD... - start CMD in the background and remember its PID in $!.
bg() { "$@" & PIDS+=($!); }

# serve_socket PORT - smtp-session behind systemd-socket-activate on PORT.
serve_socket() {
	bg systemd-socket-activate -l "127.0.0.1:$1" -a --inetd \
		-E "ASAN_OPTIONS=${ASAN_OPTIONS:-}" -E "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" \
		"$BIN/smtp-session" -c "$T/conf" 2>>"$T/activator.log"
	wait_port "$1"
}

# mbox_of USER - the mbox file content (empty if none).
mbox_of() { cat "$T/mail/$1" 2>/dev/null; }

# as_nobody CMD... - CMD as nobody (65534), with no other group.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# maildrop_setup <USERS - a host whose sendmail finds no submission socket
# and uses the maildrop, under $T: copies of sendmail, smtp-postdrop
# (setgid to $DROPGID), relay-agent and smtp-session in $T/bin; the mail,
# spool and log directories owned by the service account $SVC, the spool
# 0711, its maildrop $SVC:$DROPGID 1730; the users file from stdin;
# $T/conf, in which no DNS server answers.
maildrop_setup() {
	mkdir -p "$T/bin" "$T/mail" "$T/spool/maildrop" "$T/var"
	cp "$BIN/sendmail" "$BIN/smtp-postdrop" "$BIN/relay-agent" "$BIN/smtp-session" "$T/bin/"
	chown "root:$DROPGID" "$T/bin/smtp-postdrop" && chmod 2755 "$T/bin/smtp-postdrop"
	chown "$SVC:$SVC" "$T/mail" "$T/spool" "$T/var"
	chmod 0711 "$T/spool"
	chown "$SVC:$DROPGID" "$T/spool/maildrop" && chmod 1730 "$T/spool/maildrop"
	cat >"$T/users"
	cat >"$T/conf" <<-CONF
	hostname mx.test.example
	domain test.example
	users $T/users
	mailbox_dir $T/mail
	spool_dir $T/spool
	log $T/var/log
	submit_socket $T/nothing-listens.sock
	nameserver 127.0.0.1:1
	dns_timeout 2s
	CONF
	chmod 644 "$T/conf" "$T/users"
}

# NSSLIB: nss_wrapper's library, "" when libnss-wrapper is missing.
NSSLIB=$(ls /usr/lib/*/libnss_wrapper.so 2>/dev/null | head -n 1)

# nss_wrap - what this script starts from here on takes $T/passwd and
# $T/group for the account databases (nss_wrapper, preloaded). Without
# RTLD_DEEPBIND, which the sanitizer runtime refuses, and without ASan's
# check that it comes first in the link order.
nss_wrap() {
	export LD_PRELOAD=$NSSLIB NSS_WRAPPER_PASSWD=$T/passwd NSS_WRAPPER_GROUP=$T/group
	export NSS_WRAPPER_DISABLE_DEEPBIND=1
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
}

# The test certificates, under $TLS (openssl's complaints in
# $TLS/openssl.log).
# tls_ca NAME - a self-signed CA certificate and key: $TLS/NAME.pem, .key.
tls_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$1" -keyout "$TLS/$1.key" -out "$TLS/$1.pem" \
		-addext basicConstraints=critical,CA:true \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>>"$TLS/openssl.log"
}
# tls_cert NAME CA HOST - a server certificate for HOST signed by CA.
tls_cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
		-keyout "$TLS/$1.key" -out "$TLS/$1.csr" 2>>"$TLS/openssl.log" &&
	printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
		"$3" >"$TLS/$1.ext" &&
	openssl x509 -req -in "$TLS/$1.csr" -CA "$TLS/$2.pem" -CAkey "$TLS/$2.key" \
		-CAcreateserial -days 2 -extfile "$TLS/$1.ext" -out "$TLS/$1.pem" 2>>"$TLS/openssl.log"
}

# smarthost_setup DIR - an smtp-session configuration in DIR/conf for a
# smarthost behind stunnel: relaying only with AUTH (user "relay",
# password "relay pass word"), its mailboxes and spool under DIR.
smarthost_setup() {
	mkdir -p "$1/mail" "$1/spool"
	printf 'postmaster\n' >"$1/users"
	echo "relay:$(openssl passwd -6 'relay pass word')" >"$1/auth"
	cat >"$1/conf" <<-EOF
	hostname smarthost.test
	domain smarthost.test
	users $1/users
	mailbox_dir $1/mail
	spool_dir $1/spool
	log $1/log
	auth_file $1/auth
	relay_from none
	tls_wrapped yes
	EOF
}

# system_mail_host - the groups of a Debian host for users system in
# $T/group (mail, with the service account $SVC a member; MAILGID), the
# accounts of $T/passwd and $T/group in force (nss_wrap), and $T/varmail
# made Debian's /var/mail: root:mail 2775.
system_mail_host() {
	printf 'root:x:0:\nmail:x:%s:vmail\nvmail:x:%s:\n' "$MAILGID" "$SVC" >"$T/group"
	nss_wrap
	mkdir -p "$T/varmail"
	chown "root:$MAILGID" "$T/varmail" && chmod 2775 "$T/varmail"
}
