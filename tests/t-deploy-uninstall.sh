# t-deploy-uninstall.sh - make uninstall while a launcher still runs the
# installed program: xinetd is told to reload, so that its port closes
# instead of failing every connection; with DESTDIR nothing running is
# touched; and uninstall names the data it leaves.
#
# The "running system" here is a private one: PREFIX and SYSCONFDIR under
# $T, an xinetd of the test's own whose pid file is XINETD_PIDFILE.
. "$(dirname "$0")/lib.sh"
plan 14

SRC=$T/src
mkdir -p "$SRC"
cp -a "$TOP"/Makefile "$TOP"/*.c "$TOP"/*.h "$TOP"/man "$TOP"/systemd "$TOP"/xinetd.d \
	"$TOP"/cron.d "$TOP"/logrotate.d "$TOP"/etc "$TOP"/stunnel "$TOP"/contrib "$SRC"/ 2>/dev/null
cp -a "$BIN" "$T/bin"
find "$T/bin" -type f -exec touch {} +
P=$T/p E=$T/etc
VARS=(O="$T/bin" PREFIX="$P" SYSCONFDIR="$E" XINETD_PIDFILE="$T/xinetd.pid")

# greets PORT - a connection to 127.0.0.1:PORT gets a 220 greeting.
greets() {
	$PY - "$1" <<-'PY'
	import socket, sys
	try:
	    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
	    s.settimeout(5)
	    sys.exit(0 if s.recv(512).startswith(b"220 ") else 1)
	except OSError:
	    sys.exit(1)
	PY
}
# refused PORT - within 5 s, connections to 127.0.0.1:PORT are refused.
refused() {
	$PY - "$1" <<-'PY'
	import socket, sys, time
	end = time.time() + 5
	while time.time() < end:
	    try:
	        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
	    except ConnectionRefusedError:
	        sys.exit(0)
	    except OSError:
	        pass
	    time.sleep(0.05)
	sys.exit(1)
	PY
}

make -C "$SRC" -s install "${VARS[@]}" >"$T/i.log" 2>&1
check "make install PREFIX=$P SYSCONFDIR=$E succeeds" test $? -eq 0
# The administrator's configuration, and the entry enabled on a free port.
write_conf
cp "$T/conf" "$E/smtp-session.conf"
chmod 755 "$T"
[ "$(id -u)" = 0 ] && chown nobody: "$T/mail" "$T/spool" && touch "$T/log" && chown nobody: "$T/log"
PORT=$(free_port)
sed -i -e "s|^\([[:space:]]*disable[[:space:]]*=\).*|\1 no|" \
	-e "s|^\([[:space:]]*port[[:space:]]*=\).*|\1 $PORT|" "$E/xinetd.d/smtp"
if [ "$(id -u)" = 0 ]; then
	sed -i "s|^\([[:space:]]*user[[:space:]]*=\).*|\1 nobody|" "$E/xinetd.d/smtp"
else
	sed -i '/^[[:space:]]*user[[:space:]]*=/d' "$E/xinetd.d/smtp"
fi
cat >"$T/xinetd.conf" <<EOF
defaults
{
	log_type = FILE $T/xinetd.log
	bind     = 127.0.0.1
}
includedir $E/xinetd.d
EOF
bg xinetd -dontfork -f "$T/xinetd.conf" -pidfile "$T/xinetd.pid" 2>"$T/xinetd.err"
XPID=$!
wait_port "$PORT"
check "xinetd serves the installed smtp-session on 127.0.0.1:$PORT" greets "$PORT"

# --- with DESTDIR: files only, the running xinetd is left alone ------------
D=$T/d
make -C "$SRC" -s install DESTDIR="$D" "${VARS[@]}" >/dev/null 2>&1
make -C "$SRC" -s uninstall DESTDIR="$D" "${VARS[@]}" >"$T/u1.log" 2>&1
check "make uninstall DESTDIR=... succeeds" test $? -eq 0
check "with DESTDIR, uninstall does not signal the running xinetd" \
	bash -c "! grep -q 'kill -HUP' '$T/u1.log'"
check "with DESTDIR, xinetd goes on serving $PORT" greets "$PORT"

# --- without DESTDIR: xinetd reloads and its port closes --------------------
make -C "$SRC" -s uninstall "${VARS[@]}" >"$T/u2.log" 2>&1
rc=$?
check "make uninstall succeeds" test $rc -eq 0
check "uninstall reloads the running xinetd and says so" \
	grep -q "^kill -HUP $XPID (xinetd reloads" "$T/u2.log"
check "xinetd no longer accepts on $PORT: connections are refused, not dropped" refused "$PORT"
check "xinetd itself still runs" kill -0 "$XPID"
check "the changed configuration is kept" grep -q "^kept $E/smtp-session.conf" "$T/u2.log"
# What is left, read from the kept configuration.
check "uninstall names the users file it leaves" grep -qF "the users file:          $T/users" "$T/u2.log"
check "uninstall names the mailboxes it leaves" grep -qF "the mailboxes:           $T/mail" "$T/u2.log"
check "uninstall names the queue it leaves" grep -qF "the queue:               $T/spool" "$T/u2.log"
check "uninstall names the log and the service account it leaves" \
	bash -c "grep -qF 'the log:                 $T/log' '$T/u2.log' &&
		grep -qF 'the service account:     vmail' '$T/u2.log'"
sed 's/^/# /' "$T/u2.log"
