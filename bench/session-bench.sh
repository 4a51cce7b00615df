#!/bin/bash
# session-bench.sh - messages per second received and delivered (fsynced to
# an mbox) by smtp-session under a socket activator, by the floor program
# (bench/floor.c: the least a per-connection receiver can do) under the
# same activator, and by Postfix set up the same way on loopback, under the
# same smtp-source loads into the same mailbox directory; then the peak RSS
# of smtp-session and Postfix while receiving one 50 MiB message.
#
# usage: bench/session-bench.sh [-r RUNS] [-b BINDIR] [-a tcpserver|systemd]
#                               [-m N1K] [-M N100K] [-s LIST] [-k]
#   -r RUNS    runs per cell; the table shows the median (default 3)
#   -b BINDIR  take smtp-session from BINDIR and do not run make
#              (default: run make, use build/)
#   -a NAME    socket activator for smtp-session and the floor: tcpserver
#              (tcpserver -H -R -l 0 -c 100, default) or systemd
#              (systemd-socket-activate -a --inetd)
#   -m N       messages per 1 KiB load (default 5000)
#   -M N       messages per 100 KiB load (default 1000)
#   -s LIST    the servers measured, comma-separated: session, floor,
#              postfix (default all three)
#   -k         keep the work directory (configurations, mboxes, logs);
#              it is always kept when a load failed
#
# Every message goes on its own connection (smtp-source without -d), one
# recipient. Five loads: 1 and 10 sessions of 1 KiB and of 100 KiB
# messages, all to one mbox; and 10 sessions of 1 KiB messages, each
# session to its own mailbox (ten smtp-source processes side by side, one
# session each). A load counts only when smtp-source saw no error and the
# mboxes then hold exactly the messages sent. For Postfix the time runs
# until the last message is in its mbox, not just queued.
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

runs=3 bindir="" activator=tcpserver n1k=5000 n100k=1000 which=session,floor,postfix keep=""
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
servers=()
for w in ${which//,/ }; do
	case $w in session|floor|postfix) servers+=("$w") ;;
	*) echo "-s: a list of session, floor, postfix" >&2; exit 64 ;; esac
done
[ ${#servers[@]} -gt 0 ] || { echo "-s: no server" >&2; exit 64; }
# has SERVER - SERVER is measured.
has() { [[ " ${servers[*]} " == *" $1 "* ]]; }
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
	if [ -z "$bindir" ] && has session; then
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
if has session; then bindir=$(cd "$bindir" && pwd) || exit 1; fi

SESSION_PORT=2525 POSTFIX_PORT=2526 FLOOR_PORT=2527
activator_pids=() pfdir="" failures=0
# One mailbox directory for all three servers; Postfix's virtual(8)
# writes there as nobody.
MAIL=$T/mail
mkdir -p "$MAIL"
chown nobody:nogroup "$MAIL"
MBOXES=10           # mailboxes of the last load

cleanup() {
	local p
	for p in "${activator_pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
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
if has session; then
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

# activate PORT LOG PROGRAM ARGS... - PROGRAM once per connection on PORT,
# under the chosen activator.
activate() {
	local port=$1 log=$2
	shift 2
	if [ "$activator" = systemd ]; then
		systemd-socket-activate -l "127.0.0.1:$port" -a --inetd "$@" 2>>"$log" &
	else
		tcpserver -H -R -l 0 -c 100 127.0.0.1 "$port" "$@" 2>>"$log" &
	fi
	activator_pids+=($!)
	wait_port "$port" || { say "$1: activator did not listen on $port"; exit 1; }
}

# --- smtp-session ----------------------------------------------------------

session_setup() {
	mkdir -p "$T/session/spool"
	{ echo bench; echo postmaster: bench; for k in $(seq 0 $((MBOXES - 1))); do
		echo "bench$k"; done; } >"$T/session/users"
	cat >"$T/session/conf" <<-CONF
	hostname mx.test.example
	domain test.example
	users $T/session/users
	mailbox_dir $MAIL
	spool_dir $T/session/spool
	log $T/session/log
	max_message_size 104857600
	CONF
	activate "$SESSION_PORT" "$T/session/activator.log" "$session_bin" -c "$T/session/conf"
}

# --- the floor -----------------------------------------------------------------

floor_setup() {
	mkdir -p "$T/floor"
	cc -O2 -o "$T/floor/floor" "$top/bench/floor.c" || { say "floor.c does not build"; exit 1; }
	activate "$FLOOR_PORT" "$T/floor/activator.log" "$T/floor/floor" "$MAIL"
}

# --- Postfix ----------------------------------------------------------------

postfix_setup() {
	pfdir=$T/postfix
	postfix_accounts || { say "cannot make the postfix account"; exit 1; }
	mkdir -p "$pfdir/etc" "$pfdir/queue" "$pfdir/data" "$pfdir/log"
	chown postfix: "$pfdir/data"
	local map="bench@test.example=bench" k
	for k in $(seq 0 $((MBOXES - 1))); do map="$map bench$k@test.example=bench$k"; done
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
	virtual_mailbox_base = $MAIL
	virtual_mailbox_maps = inline:{ $map }
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

# load SERVER SESSIONS BYTES COUNT MBOXES ERRFILE - one timed smtp-source
# load against SERVER (session|floor|postfix) into fresh mboxes; prints the
# helper's line "ok|fail ACCEPT_SECS DELIVER_SECS FOUND RC". With MBOXES 1
# one smtp-source runs SESSIONS sessions to the mbox "bench"; otherwise
# MBOXES smtp-sources run side by side, one session each, each to its own
# mbox benchK, COUNT/MBOXES messages each. smtp-source runs with -A (go on
# after an unexpected reply) and says what it saw in ERRFILE.
load() {
	local server=$1 sessions=$2 bytes=$3 count=$4 mboxes=$5 err=$6 port k
	local -a cmd=() boxes=()
	case $server in
	session) port=$SESSION_PORT ;;
	floor) port=$FLOOR_PORT ;;
	postfix) port=$POSTFIX_PORT ;;
	esac
	if [ "$mboxes" = 1 ]; then
		boxes=("$MAIL/bench")
		cmd=(timeout 900 smtp-source -A -s "$sessions" -m "$count" -l "$bytes"
			-M client.test.example -f bench@test.example -t bench@test.example
			"127.0.0.1:$port")
	else
		for k in $(seq 0 $((mboxes - 1))); do
			boxes+=("$MAIL/bench$k")
			[ ${#cmd[@]} -gt 0 ] && cmd+=(+++)
			cmd+=(timeout 900 smtp-source -A -s 1 -m $((count / mboxes)) -l "$bytes"
				-M client.test.example -f bench@test.example -t "bench$k@test.example"
				"127.0.0.1:$port")
		done
	fi
	rm -f "${boxes[@]}"
	sync
	$helper load "$(IFS=,; echo "${boxes[*]}")" "$count" 300 -- "${cmd[@]}" 2>"$err"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
	if (NR % 2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2 }'; }

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s }'; }

# SESSIONS BYTES COUNT MBOXES, and the name of each load
cells=("1 1024 $n1k 1" "10 1024 $n1k 1" "1 102400 $n100k 1" "10 102400 $n100k 1"
	"10 1024 $n1k $MBOXES")
cell_names=("1 session, 1 KiB" "10 sessions, 1 KiB" "1 session, 100 KiB"
	"10 sessions, 100 KiB" "10 sessions, 1 KiB, 10 mboxes")

for s in "${servers[@]}"; do "${s}_setup"; done
declare -A deliver accept failed
for run in $(seq "$runs"); do
	for i in "${!cells[@]}"; do
		read -r sessions bytes count mboxes <<<"${cells[$i]}"
		for s in "${servers[@]}"; do
			err=$T/smtp-source.$s.$i.$run
			read -r st ta td found rc < <(load "$s" "$sessions" "$bytes" "$count" "$mboxes" "$err")
			nerr=$(grep -c . "$err")
			say "run $run, $s, ${cell_names[$i]}: $count messages, accepted in ${ta}s, delivered in ${td}s, $found in the mbox(es), smtp-source exit $rc, $nerr complaints"
			if [ "$st" != ok ] || [ "$nerr" != 0 ]; then
				failed[$s,$i]="${failed[$s,$i]:-}${failed[$s,$i]:+; }run $run: $found of $count in the mbox(es), smtp-source exit $rc, $nerr complaints"
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
if has session; then
	rm -f "$MAIL/bench"
	read -r kib reply rc < <($helper rss "$big" -- "$session_bin" -c "$T/session/conf")
	found=$($helper count "$MAIL/bench")
	size=$(stat -c %s "$MAIL/bench" 2>/dev/null || echo 0)
	say "50 MiB message to smtp-session: peak RSS $kib KiB, reply ${reply//_/ }, exit $rc, mbox $size bytes, $found message(s)"
	if [ "$found" = 1 ] && [ "${reply:0:3}" = 250 ]; then
		rss_session="$(kib_to_mib "$kib") MiB"
	else
		rss_session="failed (${reply//_/ }, exit $rc, $found message(s) in the mbox)"
		failures=$((failures + 1))
	fi
fi
if has postfix; then
	# fresh daemons, so that no earlier load set their high-water marks
	postfix_stop
	postfix -c "$pfdir/etc" start >>"$pfdir/setup.log" 2>&1 && wait_port "$POSTFIX_PORT"
	rm -f "$MAIL/bench"
	reply=$($helper send 127.0.0.1 "$POSTFIX_PORT" "$big" bench@test.example bench@test.example)
	for _ in $(seq 600); do
		[ "$($helper count "$MAIL/bench")" = 1 ] && break
		sleep 0.1
	done
	found=$($helper count "$MAIL/bench")
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
declare -A names=([session]="smtp-session ($act)" [floor]="floor program, cc -O2, dynamic ($act)"
	[postfix]="Postfix $pfversion (virtual → mbox)")
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

ratio_row() {   # ratio_row NAME A B - A's rate over B's, per load
	local line="| $1 |" i a b r
	for i in "${!cells[@]}"; do
		a=$(cell deliver "$2" "$i") b=$(cell deliver "$3" "$i")
		if [ "$a" = FAILED ] || [ "$b" = FAILED ]; then r="-"
		else r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'); fi
		line="$line $r |"
	done
	echo "$line"
}

{
	echo "Messages per second, received and delivered (fsynced to an mbox), every"
	echo "message on its own connection, $what; $n1k messages per 1 KiB load, $n100k"
	echo "per 100 KiB load; $(nproc) cores, $(uname -r), $(findmnt -n -o FSTYPE -T "$T") under $T;"
	echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	has session && echo "smtp-session: $bindir/smtp-session$built_from ($session_version)."
	echo
	line="| server |" sep="| --- |"
	for n in "${cell_names[@]}"; do line="$line $n |" sep="$sep --- |"; done
	echo "$line"
	echo "$sep"
	for s in "${servers[@]}"; do row "${names[$s]}" deliver "$s"; done
	if has session && has floor; then ratio_row "ratio smtp-session / floor" session floor; fi
	if has session && has postfix; then ratio_row "ratio smtp-session / Postfix" session postfix; fi
	if has postfix; then row "Postfix, queued only (smtp-source done)" accept postfix; fi
	echo
	echo "Peak RSS while receiving one 50 MiB message:"
	has session && echo "- smtp-session: $rss_session"
	has postfix && echo "- Postfix: $rss_postfix"
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
