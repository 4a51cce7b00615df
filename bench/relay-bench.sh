#!/bin/bash
# relay-bench.sh - how fast relay-agent drains a queue, next to Postfix
# relaying the same queue to the same receivers, in one run.
#
# usage: bench/relay-bench.sh [-n MESSAGES] [-d DOMAINS] [-r RUNS] [-b BINDIR]
#                             [-c MAX_CONNECTIONS] [-k]
#   -n N       queued messages (default 2000), one recipient each, ~1 KiB
#   -d N       destination domains, each with its own MX name (default 50)
#   -r RUNS    runs of each side; the table shows each run and the median
#              (default 3)
#   -b BINDIR  relay-agent and smtp-session from BINDIR (default: make, build/)
#   -c N       relay-agent's max_connections (default 20, the default of the
#              configuration; Postfix keeps its own defaults)
#   -k         keep the work directory
#
# Setup, identical for both sides: dnsmasq on 127.0.0.1:53 answers MX
# d<K>.example -> mx.d<K>.example -> 127.0.0.2..6 (five Postfix smtp-sink
# receivers on port 25, which store nothing). The queue is filled first
# (smtp-session reading one piped session for relay-agent; one SMTP session
# into a Postfix instance whose smtpd puts every message on hold), then the
# clock runs: relay-agent from start to exit; Postfix from "postsuper -H
# ALL; postqueue -f" until its queue is empty. Both deliver over SMTP with
# an MX lookup per destination, and both must report every recipient sent.
#
# Runs as root, in a private network and mount namespace (unshare) with
# only loopback and a resolv.conf naming 127.0.0.1, because Postfix asks
# the system resolver on port 53. Work directory under ${TMPDIR:-/tmp};
# Postfix (with smtp-sink) is unpacked there, not installed
# (bench/fetch-postfix.sh).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
helper="/usr/bin/python3 $top/bench/relay-bench.py"

n=2000 domains=50 runs=3 bindir="" conns=20 keep=""
while getopts "n:d:r:b:c:k" opt; do
	case $opt in
	n) n=$OPTARG ;;
	d) domains=$OPTARG ;;
	r) runs=$OPTARG ;;
	b) bindir=$OPTARG ;;
	c) conns=$OPTARG ;;
	k) keep=yes ;;
	*) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//;$d' >&2; exit 64 ;;
	esac
done
if [ "$(id -u)" != 0 ]; then
	echo "relay-bench.sh: must run as root (Postfix, namespaces)" >&2
	exit 1
fi

. "$top/bench/fetch-postfix.sh"

# Outside: unpack Postfix into the work directory, build, then start again
# inside the namespaces.
if [ -z "${RELAY_BENCH_NETNS:-}" ]; then
	for prog in dnsmasq unshare; do
		command -v "$prog" >/dev/null || [ -x "/usr/sbin/$prog" ] ||
			{ sh "$top/tests/deps.sh" check || exit 1; break; }
	done
	T=$(mktemp -d "${TMPDIR:-/tmp}/relay-bench.XXXXXX") || exit 1
	chmod 755 "$T"
	postfix_fetch "$T/postfix-root" || { rm -rf "$T"; exit 1; }
	if [ -z "$bindir" ]; then
		make -C "$top" -s all >&2 || { rm -rf "$T"; exit 1; }
		bindir=$top/build
	fi
	bindir=$(cd "$bindir" && pwd) || exit 1
	exec env RELAY_BENCH_NETNS="$T" PATH="$PATH:/usr/sbin:/sbin" unshare --net --mount \
		bash "$0" -n "$n" -d "$domains" -r "$runs" -b "$bindir" -c "$conns" ${keep:+-k}
fi

ip link set lo up
T=$RELAY_BENCH_NETNS
pf_root=$T/postfix-root
pids=()
pfdir=""
say() { echo "relay-bench: $*" >&2; }
cleanup() {
	if [ -n "$pfdir" ]; then
		master=$(sed -n '1s/ //gp' "$pfdir/queue/pid/master.pid" 2>/dev/null)
		postfix -c "$pfdir/etc" stop >/dev/null 2>&1
		# "postfix stop" returns before the master is gone
		for _ in $(seq 50); do
			[ -n "$master" ] && kill -0 "$master" 2>/dev/null || break
			sleep 0.1
		done
		[ -n "$master" ] && kill -9 "$master" 2>/dev/null
	fi
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	postfix_accounts_undo
	if [ -n "$keep" ]; then say "work directory kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

wait_port() {
	/usr/bin/python3 - "$1" "$2" <<-'PY'
	import socket, sys, time
	end = time.time() + 20
	while time.time() < end:
	    try:
	        socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.5).close(); sys.exit(0)
	    except OSError:
	        time.sleep(0.05)
	sys.exit(1)
	PY
}
now() { date +%s.%N; }

# --- DNS and receivers ---------------------------------------------------------
printf 'nameserver 127.0.0.1\n' >"$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
records=()
for k in $(seq 1 "$domains"); do
	records+=(--mx-host=d$k.example,mx.d$k.example,10
		--host-record=mx.d$k.example,127.0.0.$(( k % 5 + 2 )))
done
records+=(--host-record=pf.test.example,127.0.0.1)
dnsmasq --keep-in-foreground --conf-file=/dev/null --no-hosts --no-resolv \
	--listen-address=127.0.0.1 --bind-interfaces --port=53 --pid-file= \
	--local=/example/ "${records[@]}" 2>"$T/dnsmasq.err" &
pids+=($!)
for a in 2 3 4 5 6; do
	smtp-sink -u nobody 127.0.0.$a:25 256 >/dev/null 2>&1 &
	pids+=($!)
done
for a in 2 3 4 5 6; do wait_port 127.0.0.$a 25 || { say "smtp-sink did not start"; exit 1; }; done

# --- relay-agent ---------------------------------------------------------------
mkdir -p "$T/ra"
printf 'bench\npostmaster: bench\n' >"$T/ra/users"
cat >"$T/ra/conf" <<-CF
hostname ra.test.example
domain test.example
users $T/ra/users
mailbox_dir $T/ra/mail
spool_dir $T/ra/spool
log $T/ra/log
max_connections $conns
CF
$helper dialogue "$n" "$domains" "$T/dialogue"

run_relay_agent() {
	local t0 t1 sent
	rm -rf "$T/ra/spool" "$T/ra/log"
	"$bindir/smtp-session" -c "$T/ra/conf" <"$T/dialogue" >"$T/ra/replies"
	if [ "$(ls "$T/ra/spool/env" | wc -l)" != "$n" ]; then
		say "smtp-session queued $(ls "$T/ra/spool/env" | wc -l) of $n"; return 1
	fi
	sync
	t0=$(now)
	"$bindir/relay-agent" -c "$T/ra/conf"
	t1=$(now)
	sent=$(grep -c 'status=sent' "$T/ra/log")
	if [ "$sent" != "$n" ] || [ -n "$(ls -A "$T/ra/spool/env")" ]; then
		say "relay-agent: $sent of $n sent"; return 1
	fi
	echo "$t0 $t1" | awk -v n="$n" '{ printf "%.0f\n", n / ($2 - $1) }'
}

# --- Postfix -------------------------------------------------------------------
postfix_setup() {
	pfdir=$T/postfix
	postfix_accounts || { say "cannot make the postfix account"; exit 1; }
	mkdir -p "$pfdir/etc" "$pfdir/queue" "$pfdir/data" "$pfdir/log"
	chown postfix: "$pfdir/data"
	postfix_main_cf >"$pfdir/etc/main.cf"
	cat >>"$pfdir/etc/main.cf" <<-CF
	compatibility_level = 3.6
	queue_directory = $pfdir/queue
	data_directory = $pfdir/data
	mail_owner = postfix
	setgid_group = postdrop
	syslog_name = postfix-relay-bench
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
	smtp_tls_security_level = none
	smtpd_recipient_restrictions = check_client_access static:HOLD, permit_mynetworks, reject
	CF
	cat >"$pfdir/etc/master.cf" <<-CF
	127.0.0.1:2526 inet n - n - - smtpd
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
	anvil     unix  -       -       n       -       1       anvil
	scache    unix  -       -       n       -       1       scache
	postlog   unix-dgram n  -       n       -       1       postlogd
	CF
	postfix -c "$pfdir/etc" check >>"$pfdir/setup.log" 2>&1 &&
		postfix -c "$pfdir/etc" start >>"$pfdir/setup.log" 2>&1 &&
		wait_port 127.0.0.1 2526 || {
		say "Postfix did not start:"; cat "$pfdir/setup.log" "$pfdir/log/maillog" >&2 2>/dev/null
		exit 1
	}
}

# queue_count - messages in the Postfix queue (held ones included).
queue_count() {
	find "$pfdir/queue/incoming" "$pfdir/queue/active" "$pfdir/queue/deferred" \
		"$pfdir/queue/hold" "$pfdir/queue/maildrop" -type f 2>/dev/null | wc -l
}

run_postfix() {
	local t0 t1 sent before held
	before=$(grep -c 'status=sent' "$pfdir/log/maillog" 2>/dev/null)
	$helper inject "$n" "$domains" 127.0.0.1 2526 || { say "injection into Postfix failed"; return 1; }
	for _ in $(seq 600); do
		held=$(find "$pfdir/queue/hold" -type f | wc -l)
		[ "$held" -ge "$n" ] && break
		sleep 0.1
	done
	if [ "$held" != "$n" ] || [ "$(queue_count)" != "$n" ]; then
		say "Postfix holds $held of $n"; return 1
	fi
	sync
	t0=$(now)
	postsuper -c "$pfdir/etc" -H ALL 2>/dev/null
	postqueue -c "$pfdir/etc" -f
	while [ "$(queue_count)" != 0 ]; do sleep 0.02; done
	t1=$(now)
	sent=$(( $(grep -c 'status=sent' "$pfdir/log/maillog") - before ))
	if [ "$sent" != "$n" ]; then say "Postfix: $sent of $n sent"; return 1; fi
	echo "$t0 $t1" | awk -v n="$n" '{ printf "%.0f\n", n / ($2 - $1) }'
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "-") }'; }

postfix_setup
ra=() pf=()
for r in $(seq 1 "$runs"); do
	x=$(run_relay_agent) || x=failed
	ra+=("$x")
	y=$(run_postfix) || y=failed
	pf+=("$y")
	say "run $r: relay-agent $x msg/s, Postfix $y msg/s"
done
mra=$(echo "${ra[*]}" | median)
mpf=$(echo "${pf[*]}" | median)
ratio=$(awk -v a="$mra" -v b="$mpf" 'BEGIN { if (b + 0 > 0) printf "%.1f", a / b; else print "-" }')
pfversion=$(postconf -c "$pf_root/etc/postfix" -d -h mail_version 2>/dev/null)

echo
echo "Drain $n queued messages (1 KiB, one recipient each) to $domains domains;"
echo "MX via dnsmasq, five smtp-sink receivers on 127.0.0.2-6:25; $(nproc) cores."
echo "Command: bench/relay-bench.sh -n $n -d $domains -r $runs -c $conns"
echo
echo "| program | runs (messages/s) | median messages/s |"
echo "| --- | --- | --- |"
echo "| relay-agent (max_connections $conns) | ${ra[*]} | $mra |"
echo "| Postfix $pfversion (default concurrency) | ${pf[*]} | $mpf |"
echo "| ratio relay-agent / Postfix | | $ratio |"
