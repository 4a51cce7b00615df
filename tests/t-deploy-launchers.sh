# t-deploy-launchers.sh - a real message through each super-server:
# xinetd (with an entry generated from the shipped xinetd.d/smtp),
# systemd-socket-activate --inetd and tcpserver, each on a loopback port
# and running smtp-session as an unprivileged account. Under xinetd the
# client is also stderr: it must never see anything but SMTP replies.
. "$(dirname "$0")/lib.sh"
plan 26

# The service account: nobody, owning the mailbox and spool directories
# and able to read everything else the test writes.
umask 022
SVC_USER=nobody
SVC_UID=$(id -u $SVC_USER) SVC_GID=$(id -g $SVC_USER)
ROOT=no
[ "$(id -u)" = 0 ] && ROOT=yes
write_conf
touch "$T/log"
[ $ROOT = yes ] && chown "$SVC_USER:" "$T/mail" "$T/spool" "$T/log"
cp "$T/conf" "$T/conf.file"
# The program as installed: where the service account may run it even
# when the build directory is private (a checkout under /root).
mkdir "$T/sbin"
cp "$BIN/smtp-session" "$T/sbin/"
SS=$T/sbin/smtp-session

# Sanitizer reports of the sessions go where the service account may
# write; they are reported at the end.
mkdir -m 1777 "$T/san"
export ASAN_OPTIONS="log_path=$T/san/asan:detect_leaks=0:abort_on_error=0"
export UBSAN_OPTIONS="log_path=$T/san/ubsan:print_stacktrace=1:halt_on_error=1"

# send_mail PORT TOKEN [RCPT] - deliver one message over SMTP (to alice).
send_mail() {
	$PY - "$1" "$2" "${3:-alice@test.example}" <<-'PY'
	import smtplib, sys
	port, token, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	msg = ("From: sender@remote.example\r\nTo: " + rcpt + "\r\n"
	       "Subject: launcher " + token + "\r\n\r\nbody of " + token + "\r\n")
	s = smtplib.SMTP("127.0.0.1", port, timeout=10)
	s.ehlo("client.example")
	s.sendmail("sender@remote.example", [rcpt], msg)
	s.quit()
	PY
}

# raw_session PORT FILE - send the dialogue in FILE at once, print every
# octet received until the server closes (at most 10 s).
raw_session() {
	$PY - "$1" "$2" <<-'PY'
	import socket, sys
	data = open(sys.argv[2], "rb").read()
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
	s.settimeout(10)
	s.sendall(data)
	got = b""
	try:
	    while True:
	        b = s.recv(65536)
	        if not b:
	            break
	        got += b
	except socket.timeout:
	    got += b"[timeout]"
	except ConnectionResetError:
	    got += b"[reset]"
	sys.stdout.buffer.write(got)
	PY
}

# only_replies FILE - true when FILE is nothing but SMTP reply lines.
only_replies() {
	$PY - "$1" <<-'PY'
	import re, sys
	data = open(sys.argv[1], "rb").read()
	lines = data.split(b"\r\n")
	ok = data.endswith(b"\r\n") and all(
	    re.fullmatch(rb"[2-5][0-9][0-9]([ -][\x20-\x7e]*)?", l) for l in lines[:-1])
	if not ok:
	    print("   received: %r" % data[:2000])
	sys.exit(0 if ok else 1)
	PY
}

# delivered TOKEN - the mbox of alice holds the message TOKEN, whose
# header names the loopback address (the Received line).
delivered() {
	local m=$T/mail/alice
	grep -q "^Subject: launcher $1\$" "$m" 2>/dev/null &&
	grep -q "^body of $1\$" "$m" &&
	awk -v t="$1" '/^From /{h=1; r=0; next} h && $0=="" {h=0}
		h && /127\.0\.0\.1/ {r=1} $0=="body of " t {exit !r}' "$m"
}

# --- xinetd ------------------------------------------------------------
if command -v xinetd >/dev/null; then
	PORT=$(free_port)
	mkdir "$T/xinetd.d"
	# The shipped entry with only the port, the paths and the user changed,
	# and enabled (it is shipped disabled).
	sed -e "s|^\([[:space:]]*port[[:space:]]*=\).*|\1 $PORT|" \
	    -e "s|^\([[:space:]]*disable[[:space:]]*=\).*|\1 no|" \
	    -e "s|^\([[:space:]]*server[[:space:]]*=\).*|\1 $SS|" \
	    -e "s|@SYSCONFDIR@/smtp-session.conf|$T/conf|" \
	    -e "s|^\([[:space:]]*user[[:space:]]*=\).*|\1 $SVC_USER|" \
	    "$TOP/xinetd.d/smtp" >"$T/xinetd.d/smtp"
	cat >"$T/xinetd.conf" <<-EOF
	defaults
	{
		log_type = FILE $T/xinetd.log
		bind     = 127.0.0.1
	}
	includedir $T/xinetd.d
	EOF
	check "generated xinetd entry differs from the shipped one only in port, paths, user and disable" \
		bash -c "diff '$TOP/xinetd.d/smtp' '$T/xinetd.d/smtp' | grep '^[<>]' |
			grep -vE '^[<>][[:space:]]+(port|server|server_args|user|disable)[[:space:]]*=' | grep -q . && exit 1 || exit 0"
	bg xinetd -dontfork -f "$T/xinetd.conf" -pidfile "$T/xinetd.pid" 2>"$T/xinetd.err"
	XPID=$!
	if wait_port "$PORT"; then ok "xinetd listens on 127.0.0.1:$PORT"; else
		nok "xinetd listens on 127.0.0.1:$PORT"; sed 's/^/   /' "$T/xinetd.err" "$T/xinetd.log" 2>/dev/null
	fi

	check "xinetd: message delivered" send_mail "$PORT" xinetd
	check "xinetd: mbox holds the message, Received from 127.0.0.1" delivered xinetd
	if [ $ROOT = yes ]; then
		expect_eq "xinetd: mbox belongs to $SVC_USER, mode 600" \
			"$(stat -c '%U %a' "$T/mail/alice")" "$SVC_USER 600"
	else
		skip 1 "xinetd: the mbox owner (sessions run as $SVC_USER only as root)"
	fi
	check "xinetd: the session logged the message to the log file" \
		grep -q 'from=<sender@remote.example>' "$T/log"

	# log syslog: with no syslog daemon (as in CI) nothing may leak to
	# the client either; errors and a transcript make the session chatty.
	grep -v '^log ' "$T/conf.file" >"$T/conf"
	printf 'log syslog\nlog_transcript yes\n' >>"$T/conf"
	printf '%s\r\n' "EHLO client.example" "MAIL FROM:<s@remote.example>" \
		"RCPT TO:<nobody-here@test.example>" "RCPT TO:<alice@test.example>" \
		"DATA" "Subject: launcher syslog" "" "body of syslog" "." \
		"EXPN team" "BOGUS" "RCPT TO:<x@remote.example>" "QUIT" >"$T/syslog.in"
	raw_session "$PORT" "$T/syslog.in" >"$T/syslog.out"
	check "xinetd, log syslog: client receives nothing but SMTP replies" only_replies "$T/syslog.out"
	expect_eq "xinetd, log syslog: replies in order" \
		"$(tr -d '\r' <"$T/syslog.out" | grep -v '^250-' | cut -c1-3 | tr '\n' ' ')" \
		"220 250 250 550 250 354 250 502 500 503 221 "
	check "xinetd, log syslog: message delivered" delivered syslog

	# A broken configuration: 421 4.3.0 to the client and nothing else.
	# The client waits for the greeting (sending first could earn a reset).
	printf 'bogus_key 1\n' >>"$T/conf"
	: >"$T/broken.in"
	raw_session "$PORT" "$T/broken.in" >"$T/broken.out"
	check "xinetd, broken configuration: client receives nothing but SMTP replies" only_replies "$T/broken.out"
	expect_eq "xinetd, broken configuration: one 421 4.3.0 reply" \
		"$(tr -d '\r' <"$T/broken.out" | cut -c1-9)" "421 4.3.0"
	cp "$T/conf.file" "$T/conf"
	kill "$XPID" 2>/dev/null
	wait "$XPID" 2>/dev/null
	check "xinetd: a session ended with status 78 on the broken configuration" \
		grep -q 'EXIT: smtp status=78' "$T/xinetd.log"
else
	nok "xinetd is installed"
fi

# --- systemd-socket-activate --inetd ------------------------------------
if command -v systemd-socket-activate >/dev/null; then
	PORT=$(free_port)
	RUNAS=()
	[ $ROOT = yes ] && RUNAS=(setpriv --reuid="$SVC_UID" --regid="$SVC_GID" --clear-groups)
	bg systemd-socket-activate -l "127.0.0.1:$PORT" -a --inetd \
		-E "ASAN_OPTIONS=$ASAN_OPTIONS" -E "UBSAN_OPTIONS=$UBSAN_OPTIONS" \
		"${RUNAS[@]}" "$SS" -c "$T/conf" 2>"$T/activate.err"
	SPID=$!
	check "systemd-socket-activate listens on 127.0.0.1:$PORT" wait_port "$PORT"
	check "systemd-socket-activate: message delivered" send_mail "$PORT" socket-activate
	check "systemd-socket-activate: mbox holds the message, Received from 127.0.0.1" \
		delivered socket-activate
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
else
	nok "systemd-socket-activate is installed"
fi

# --- tcpserver -----------------------------------------------------------
if command -v tcpserver >/dev/null; then
	PORT=$(free_port)
	IDS=()
	[ $ROOT = yes ] && IDS=(-u "$SVC_UID" -g "$SVC_GID")
	bg tcpserver -H -R -l 0 -c 20 "${IDS[@]}" 127.0.0.1 "$PORT" \
		"$SS" -c "$T/conf" 2>"$T/tcpserver.err"
	TPID=$!
	check "tcpserver listens on 127.0.0.1:$PORT" wait_port "$PORT"
	check "tcpserver: message delivered" send_mail "$PORT" tcpserver
	check "tcpserver: mbox holds the message, Received from 127.0.0.1" delivered tcpserver
	# A message for a foreign address waits in the spool for the cron run.
	check "tcpserver: message for a foreign address accepted" \
		send_mail "$PORT" relayed ext@test.example
	kill "$TPID" 2>/dev/null
	wait "$TPID" 2>/dev/null
else
	nok "tcpserver is installed"
fi

# --- cron: the shipped relay-agent line, as its user, without systemd ---
# The smarthost is a second smtp-session (under tcpserver) for which
# remote.example is local: relay-agent's delivery lands in its mbox.
if command -v tcpserver >/dev/null; then
	mkdir -p "$T/mail2" "$T/spool2"
	touch "$T/log2"
	[ $ROOT = yes ] && chown "$SVC_USER:" "$T/mail2" "$T/spool2" "$T/log2"
	printf 'someone\npostmaster: someone\n' >"$T/users2"
	printf '%s\n' "hostname mx.remote.example" "domain remote.example" \
		"users $T/users2" "mailbox_dir $T/mail2" "spool_dir $T/spool2" \
		"log $T/log2" >"$T/conf2"
	PORT2=$(free_port)
	bg tcpserver -H -R -l 0 -c 20 "${IDS[@]}" 127.0.0.1 "$PORT2" \
		"$SS" -c "$T/conf2" 2>"$T/tcpserver2.err"
	T2PID=$!
	check "smarthost listens on 127.0.0.1:$PORT2" wait_port "$PORT2"
	printf 'smarthost 127.0.0.1:%s\n' "$PORT2" >>"$T/conf"
	cp "$BIN/relay-agent" "$T/sbin/"

	# The shipped line with only the paths changed; cron runs the command
	# with /bin/sh and the PATH the file sets. It does nothing where
	# systemd is the init system: there /run is hidden from it.
	line=$(grep -E '^[0-9*]' "$TOP/cron.d/relay-agent")
	cron_user=$(printf '%s\n' "$line" | awk '{print $6}')
	cmd=$(printf '%s\n' "$line" | sed -E 's/^([^[:space:]]+[[:space:]]+){6}//' |
		sed -e "s|@SBINDIR@|$T/sbin|g" -e "s|@SYSCONFDIR@/smtp-session.conf|$T/conf|g")
	cron_path=$(sed -n 's/^PATH=//p' "$TOP/cron.d/relay-agent")
	expect_eq "cron line runs as root (relay-agent becomes the spool's owner) every five minutes" \
		"$(printf '%s\n' "$line" | awk '{print $1, $2, $3, $4, $5, $6}')" "*/5 * * * * root"
	nosd=()
	[ -d /run/systemd/system ] &&
		nosd=(unshare --mount sh -c 'mount -t tmpfs tmpfs /run && exec "$@"' sh)
	if [ $ROOT = yes ]; then
		(cd / && timeout 60 "${nosd[@]}" env -i "PATH=$cron_path" \
			"ASAN_OPTIONS=$ASAN_OPTIONS" "UBSAN_OPTIONS=$UBSAN_OPTIONS" \
			/bin/sh -c "$cmd") >"$T/cron.out" 2>&1
	else
		(cd / && timeout 60 env -i "PATH=$cron_path" /bin/sh -c "$cmd") >"$T/cron.out" 2>&1
	fi
	rc=$?
	echo "# cron line ($cron_user): $cmd"
	expect_eq "cron line: relay-agent ran quietly and succeeded" "$rc:$(cat "$T/cron.out")" "0:"
	check "cron line: the queued message reached the smarthost's mailbox" \
		grep -q '^body of relayed$' "$T/mail2/someone"
	# (the turns file of local deliveries stays: it holds no mail)
	expect_eq "cron line: the spool is empty afterwards" \
		"$(find "$T/spool" -type f ! -path "$T/spool/turns" | wc -l)" 0
	kill "$T2PID" 2>/dev/null
	wait "$T2PID" 2>/dev/null
fi

expect_eq "alice's mbox holds exactly the four messages" \
	"$(grep -c '^From ' "$T/mail/alice" 2>/dev/null)" 4
if [ -n "$(ls -A "$T/san")" ]; then
	nok "no sanitizer report from the sessions"
	cat "$T/san"/* | head -n 80 | sed 's/^/   /'
else
	ok "no sanitizer report from the sessions"
fi
