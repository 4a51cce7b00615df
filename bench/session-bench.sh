#!/bin/bash
# session-bench.sh - messages per second received and delivered (fsynced to
# an mbox) by smtp-session under a socket activator, and by Postfix set up
# the same way on loopback, under the same smtp-source loads; then the peak
# RSS of each while receiving one 50 MiB message.
#
# usage: bench/session-bench.sh [-r RUNS] [-b BINDIR] [-a systemd|tcpserver]
#                               [-m N1K] [-M N100K] [-s session|postfix|both]
#                               [-k]
#   -r RUNS    runs per cell; the table shows the median (default 3)
#   -b BINDIR  take smtp-session from BINDIR and do not run make
#              (default: run make, use build/)
#   -a NAME    socket activator for smtp-session: systemd
#              (systemd-socket-activate -a --inetd, default) or tcpserver
#   -m N       messages per 1 KiB load (default 5000)
#   -M N       messages per 100 KiB load (default 1000)
#   -s WHICH   measure only smtp-session or only Postfix (default both)
#   -k         keep the work directory (configurations, mboxes, logs);
#              it is always kept when a load failed
#
# Every message goes on its own connection (smtp-source without -d), one
# recipient, to one mbox; a load counts only when smtp-source saw no error
# and the mbox then holds exactly the messages sent. For Postfix the time
# runs until the last message is in the mbox, not just queued.
#
# Runs as root. Everything happens in a private network namespace with only
# loopback (Postfix would otherwise stall on DNS), and in a temporary
# directory under ${TMPDIR:-/tmp}: it must be on a real disk, or fsync costs
# nothing. Postfix (with smtp-source) is unpacked into a cache directory,
# not installed (bench/fetch-postfix.sh). A summary is also written to bench/results/.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
helper="/usr/bin/python3 $top/bench/session-bench.py"
args=("$@")

runs=3 bindir="" activator=systemd n1k=5000 n100k=1000 which=both keep=""
while getopts "r:b:a:m:M:s:k" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	b) bindir=$OPTARG ;;
	a) activator=$OPTARG ;;
	m) n1k=$OPTARG ;;
	M) n100k=$OPTARG ;;
	s) which=$OPTARG ;;
	k) keep=yes ;;
	*) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//;$d' >&2; exit 64 ;;
	esac
done
case $activator in systemd|tcpserver) ;; *) echo "-a systemd|tcpserver" >&2; exit 64 ;; esac
case $which in session|postfix|both) ;; *) echo "-s session|postfix|both" >&2; exit 64 ;; esac
if [ "$(id -u)" != 0 ]; then
	echo "session-bench.sh: must run as root (Postfix, network namespace)" >&2
	exit 1
fi

. "$top/bench/fetch-postfix.sh"

# Outside the namespace: install what is missing, unpack Postfix into the
# work directory and build, then start again inside a namespace with
# nothing but loopback.
if [ -z "${SESSION_BENCH_NETNS:-}" ]; then
	for prog in tcpserver systemd-socket-activate; do
		if ! command -v "$prog" >/dev/null && ! [ -x "/usr/sbin/$prog" ]; then
			sh "$top/tests/deps.sh" check || exit 1
			break
		fi
	done
	T=$(mktemp -d "${TMPDIR:-/tmp}/session-bench.XXXXXX") || exit 1
	chmod 755 "$T"
	postfix_fetch "$pf_cache" || { rm -rf "$T"; exit 1; }
	if [ -z "$bindir" ] && [ "$which" != postfix ]; then
		make -C "$top" -s build/smtp-session >&2 || { rm -rf "$T"; exit 1; }
		args+=(-b "$top/build")
	fi
	SESSION_BENCH_NETNS=$T exec unshare --net "$0" "${args[@]}"
fi
T=$SESSION_BENCH_NETNS
pf_root=$pf_cache
ip link set lo up || exit 1
export PATH="$PATH:/usr/sbin:/sbin"
[ -n "$bindir" ] || bindir=$top/build
if [ "$which" != postfix ]; then bindir=$(cd "$bindir" && pwd) || exit 1; fi

SESSION_PORT=2525 POSTFIX_PORT=2526
activator_pid="" pfdir="" failures=0

cleanup() {
	if [ -n "$activator_pid" ]; then
		kill "$activator_pid" 2>/dev/null
		wait "$activator_pid" 2>/dev/null
	fi
	[ -n "$pfdir" ] && postfix_stop
	postfix_accounts_undo
	if [ -n "$keep" ] || [ "$failures" != 0 ]; then
		echo "work directory kept: $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }

# run a private copy: a rebuild of BINDIR during the run (make relinks the
# file in place) would make exec fail for the connections of that moment
if [ "$which" != postfix ]; then
	cp "$bindir/smtp-session" "$T/smtp-session" || exit 1
	session_bin=$T/smtp-session
	session_version=$("$session_bin" -V 2>&1) || {
		say "$bindir/smtp-session -V failed: $session_version"; exit 1; }
	session_version=${session_version%%$'\n'*}
fi

# wait_port PORT - wait at most 10 s until PORT accepts connections.
wait_port() {
	/usr/bin/python3 - "$1" <<-'PY'
	import socket, sys, time
	end = time.time() + 10
	while time.time() < end:
	    try:
	        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
	        sys.exit(0)
	    except OSError:
	        time.sleep(0.05)
	sys.exit(1)
	PY
}

# --- smtp-session ----------------------------------------------------------

session_setup() {
	mkdir -p "$T/session/mail" "$T/session/spool"
	printf 'bench\npostmaster: bench\n' >"$T/session/users"
	cat >"$T/session/conf" <<-CONF
	hostname mx.test.example
	domain test.example
	users $T/session/users
	mailbox_dir $T/session/mail
	spool_dir $T/session/spool
	log $T/session/log
	max_message_size 104857600
	CONF
	if [ "$activator" = systemd ]; then
		systemd-socket-activate -l "127.0.0.1:$SESSION_PORT" -a --inetd \
			"$session_bin" -c "$T/session/conf" \
			2>>"$T/session/activator.log" &
	else
		tcpserver -H -R -l 0 -c 100 127.0.0.1 "$SESSION_PORT" \
			"$session_bin" -c "$T/session/conf" \
			2>>"$T/session/activator.log" &
	fi
	activator_pid=$!
	wait_port "$SESSION_PORT" || { say "smtp-session: activator did not listen"; exit 1; }
}

# --- Postfix ----------------------------------------------------------------

postfix_setup() {
	pfdir=$T/postfix
	postfix_accounts || { say "cannot make the postfix account"; exit 1; }
	mkdir -p "$pfdir/etc" "$pfdir/queue" "$pfdir/data" "$pfdir/log" "$pfdir/mail"
	chown postfix: "$pfdir/data"
	chown nobody:nogroup "$pfdir/mail"
	postfix_main_cf >"$pfdir/etc/main.cf"
	cat >>"$pfdir/etc/main.cf" <<-CF
	compatibility_level = 3.6
	queue_directory = $pfdir/queue
	data_directory = $pfdir/data
	mail_owner = postfix
	setgid_group = postdrop
	syslog_name = postfix-bench
	maillog_file = $pfdir/log/maillog
	maillog_file_prefixes = $pfdir/log
	myhostname = pf.test.example
	mydomain = test.example
	mydestination =
	inet_interfaces = 127.0.0.1
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	relay_domains =
	alias_maps =
	alias_database =
	biff = no
	smtpd_banner = \$myhostname ESMTP
	message_size_limit = 104857600
	virtual_mailbox_domains = test.example
	virtual_mailbox_base = $pfdir/mail
	virtual_mailbox_maps = inline:{ bench@test.example=bench }
	virtual_uid_maps = static:$(id -u nobody)
	virtual_gid_maps = static:$(id -g nobody)
	virtual_mailbox_limit = 0
	virtual_destination_concurrency_limit = 1
	CF
	# no chroot: the queue is not where Debian's chroot setup expects it
	cat >"$pfdir/etc/master.cf" <<-CF
	127.0.0.1:$POSTFIX_PORT inet n - n - - smtpd
	pickup    unix  n       -       n       60      1       pickup
	cleanup   unix  n       -       n       -       0       cleanup
	qmgr      unix  n       -       n       300     1       qmgr
	tlsmgr    unix  -       -       n       1000?   1       tlsmgr
	rewrite   unix  -       -       n       -       -       trivial-rewrite
	bounce    unix  -       -       n       -       0       bounce
	defer     unix  -       -       n       -       0       bounce
	trace     unix  -       -       n       -       0       bounce
	verify    unix  -       -       n       -       1       verify
	flush     unix  n       -       n       1000?   0       flush
	proxymap  unix  -       -       n       -       -       proxymap
	proxywrite unix -       -       n       -       1       proxymap
	smtp      unix  -       -       n       -       -       smtp
	relay     unix  -       -       n       -       -       smtp
	showq     unix  n       -       n       -       -       showq
	error     unix  -       -       n       -       -       error
	retry     unix  -       -       n       -       -       error
	discard   unix  -       -       n       -       -       discard
	local     unix  -       n       n       -       -       local
	virtual   unix  -       n       n       -       -       virtual
	lmtp      unix  -       -       n       -       -       lmtp
	anvil     unix  -       -       n       -       1       anvil
	scache    unix  -       -       n       -       1       scache
	postlog   unix-dgram n  -       n       -       1       postlogd
	CF
	postfix -c "$pfdir/etc" check >>"$pfdir/setup.log" 2>&1 &&
		postfix -c "$pfdir/etc" start >>"$pfdir/setup.log" 2>&1 &&
		wait_port "$POSTFIX_PORT" || {
		say "Postfix did not start:"; cat "$pfdir/setup.log" "$pfdir/log/maillog" >&2 2>/dev/null
		exit 1
	}
}

postfix_master_pid() { sed -n '1s/ //gp' "$pfdir/queue/pid/master.pid" 2>/dev/null; }

postfix_stop() {
	local pid
	pid=$(postfix_master_pid)
	postfix -c "$pfdir/etc" stop >>"$pfdir/setup.log" 2>&1
	# "postfix stop" returns before the master is gone
	for _ in $(seq 50); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
}

# --- loads --------------------------------------------------------------------

# load SERVER SESSIONS BYTES COUNT ERRFILE - one timed smtp-source load
# against SERVER (session|postfix) into a fresh mbox; prints the helper's
# line "ok|fail ACCEPT_SECS DELIVER_SECS FOUND RC". smtp-source runs with
# -A (go on after an unexpected reply) and says what it saw in ERRFILE.
load() {
	local server=$1 sessions=$2 bytes=$3 count=$4 err=$5 port mbox
	if [ "$server" = session ]; then
		port=$SESSION_PORT mbox=$T/session/mail/bench
	else
		port=$POSTFIX_PORT mbox=$pfdir/mail/bench
	fi
	rm -f "$mbox"
	sync
	$helper load "$mbox" "$count" 300 -- timeout 900 \
		smtp-source -A -s "$sessions" -m "$count" -l "$bytes" \
		-M client.test.example -f bench@test.example -t bench@test.example \
		"127.0.0.1:$port" 2>"$err"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
	if (NR % 2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2 }'; }

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s }'; }

cells=("1 1024 $n1k" "10 1024 $n1k" "1 102400 $n100k" "10 102400 $n100k")
cell_names=("1 session, 1 KiB" "10 sessions, 1 KiB" "1 session, 100 KiB" "10 sessions, 100 KiB")
servers=()
[ "$which" != postfix ] && servers+=(session)
[ "$which" != session ] && servers+=(postfix)

for s in "${servers[@]}"; do "${s}_setup"; done
declare -A deliver accept failed
for run in $(seq "$runs"); do
	for i in "${!cells[@]}"; do
		read -r sessions bytes count <<<"${cells[$i]}"
		for s in "${servers[@]}"; do
			err=$T/smtp-source.$s.$i.$run
			read -r st ta td found rc < <(load "$s" "$sessions" "$bytes" "$count" "$err")
			nerr=$(grep -c . "$err")
			say "run $run, $s, ${cell_names[$i]}: $count messages, accepted in ${ta}s, delivered in ${td}s, $found in the mbox, smtp-source exit $rc, $nerr complaints"
			if [ "$st" != ok ] || [ "$nerr" != 0 ]; then
				failed[$s,$i]="${failed[$s,$i]:-}${failed[$s,$i]:+; }run $run: $found of $count in the mbox, smtp-source exit $rc, $nerr complaints"
				sed "s/^/$s, ${cell_names[$i]}, run $run: /" "$err" >>"$T/smtp-source.err"
				failures=$((failures + 1))
				continue
			fi
			deliver[$s,$i]="${deliver[$s,$i]:-} $(rate "$count" "$td")"
			accept[$s,$i]="${accept[$s,$i]:-} $(rate "$count" "$ta")"
		done
	done
done

# --- peak RSS, one 50 MiB message ---------------------------------------------

big=$((50 * 1024 * 1024))
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
rss_session="" rss_postfix=""
if [ "$which" != postfix ]; then
	rm -f "$T/session/mail/bench"
	read -r kib reply rc < <($helper rss "$big" -- "$session_bin" -c "$T/session/conf")
	found=$($helper count "$T/session/mail/bench")
	size=$(stat -c %s "$T/session/mail/bench" 2>/dev/null || echo 0)
	say "50 MiB message to smtp-session: peak RSS $kib KiB, reply ${reply//_/ }, exit $rc, mbox $size bytes, $found message(s)"
	if [ "$found" = 1 ] && [ "${reply:0:3}" = 250 ]; then
		rss_session="$(kib_to_mib "$kib") MiB"
	else
		rss_session="failed (${reply//_/ }, exit $rc, $found message(s) in the mbox)"
		failures=$((failures + 1))
	fi
fi
if [ "$which" != session ]; then
	# fresh daemons, so that no earlier load set their high-water marks
	postfix_stop
	postfix -c "$pfdir/etc" start >>"$pfdir/setup.log" 2>&1 && wait_port "$POSTFIX_PORT"
	rm -f "$pfdir/mail/bench"
	reply=$($helper send 127.0.0.1 "$POSTFIX_PORT" "$big" bench@test.example bench@test.example)
	for _ in $(seq 600); do
		[ "$($helper count "$pfdir/mail/bench")" = 1 ] && break
		sleep 0.1
	done
	found=$($helper count "$pfdir/mail/bench")
	master=$(postfix_master_pid)
	kids=$(awk -v m="$master" '$4 == m { print $1 }' /proc/[0-9]*/stat 2>/dev/null)
	# shellcheck disable=SC2086
	hwm=$($helper hwm $kids)
	say "50 MiB message to Postfix: reply $reply, $found message(s) in the mbox; VmHWM in KiB:"
	say "$hwm"
	if [ "$found" = 1 ] && [ "${reply:0:3}" = 250 ]; then
		rss_postfix=$(awk '$2 == "smtpd" || $2 == "cleanup" || $2 == "virtual" {
			if ($3 > m[$2]) m[$2] = $3 }
			END { printf "smtpd %.1f MiB (cleanup %.1f, virtual %.1f)",
				m["smtpd"]/1024, m["cleanup"]/1024, m["virtual"]/1024 }' <<<"$hwm")
	else
		rss_postfix="failed ($reply, $found message(s) in the mbox)"
		failures=$((failures + 1))
	fi
fi

# --- the table ----------------------------------------------------------------

pfversion=$(postconf -c "$pf_root/etc/postfix" -d -h mail_version 2>/dev/null)
built_from=""
if [ "$bindir" = "$top/build" ] && git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	built_from=", built from $(git -C "$top" describe --always --dirty)"
fi
if [ "$activator" = systemd ]; then act="systemd-socket-activate"; else act="tcpserver"; fi
name_session="smtp-session ($act)"
name_postfix="Postfix $pfversion (virtual → mbox)"
if [ "$runs" = 1 ]; then what="one run"; else what="median of $runs runs"; fi

cell() {   # cell KIND SERVER INDEX
	local -n kind=$1
	if [ -n "${failed[$2,$3]:-}" ]; then echo "FAILED"; return; fi
	# shellcheck disable=SC2086
	median ${kind[$2,$3]}
}

row() {   # row NAME KIND SERVER
	local line="| $1 |" i
	for i in "${!cells[@]}"; do line="$line $(cell "$2" "$3" "$i") |"; done
	echo "$line"
}

{
	echo "Messages per second, received and delivered (fsynced to one mbox), every"
	echo "message on its own connection, $what; $n1k messages per 1 KiB load, $n100k"
	echo "per 100 KiB load; $(nproc) cores, $(uname -r), $(findmnt -n -o FSTYPE -T "$T") under $T."
	[ "$which" != postfix ] && echo "smtp-session: $bindir/smtp-session$built_from ($session_version)."
	echo
	echo "| server | ${cell_names[0]} | ${cell_names[1]} | ${cell_names[2]} | ${cell_names[3]} |"
	echo "| --- | --- | --- | --- | --- |"
	[ "$which" != postfix ] && row "$name_session" deliver session
	[ "$which" != session ] && row "$name_postfix" deliver postfix
	if [ "$which" = both ]; then
		line="| ratio smtp-session / Postfix |"
		for i in "${!cells[@]}"; do
			a=$(cell deliver session "$i") b=$(cell deliver postfix "$i")
			if [ "$a" = FAILED ] || [ "$b" = FAILED ]; then r="-"
			else r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'); fi
			line="$line $r |"
		done
		echo "$line"
	fi
	if [ "$which" != session ]; then
		row "Postfix, queued only (smtp-source done)" accept postfix
	fi
	echo
	echo "Peak RSS while receiving one 50 MiB message:"
	[ "$which" != postfix ] && echo "- smtp-session: $rss_session"
	[ "$which" != session ] && echo "- Postfix: $rss_postfix"
	for s in "${servers[@]}"; do
		for i in "${!cells[@]}"; do
			[ -n "${failed[$s,$i]:-}" ] || continue
			echo
			echo "FAILED: $s, ${cell_names[$i]}: ${failed[$s,$i]}"
		done
	done
	if [ -s "$T/smtp-source.err" ]; then
		echo
		echo "smtp-source said (the most frequent lines, with their counts):"
		sort "$T/smtp-source.err" | uniq -c | sort -rn | head -n 20 | sed 's/^ */    /'
	fi
	echo
	echo "Every run (messages/second delivered):"
	for s in "${servers[@]}"; do
		for i in "${!cells[@]}"; do
			echo "    $s, ${cell_names[$i]}:${deliver[$s,$i]:- none}"
		done
	done
} >"$T/summary"
cat "$T/summary"
mkdir -p "$top/bench/results"
cp "$T/summary" "$top/bench/results/session-bench-$(date +%Y%m%d-%H%M%S).txt"
[ "$failures" = 0 ]
