#!/bin/bash
# relay-bench.sh - how fast relay-agent drains a queue, next to Postfix
# relaying the same queue to the same receivers, in one run, both with
# their default settings.
#
# usage: bench/relay-bench.sh [-r RUNS] [-b BINDIR] [-s SCENARIOS] [-k]
#   -r RUNS       runs of each side per scenario; the table shows each run
#                 and the median (default 3)
#   -b BINDIR     relay-agent and smtp-session from BINDIR (default: make,
#                 build/)
#   -s SCENARIOS  a comma-separated subset of the scenarios (default all):
#       domains50    2000 messages to 50 domains, instant receivers
#       domains1000  1000 messages to 1000 domains, instant receivers
#       smarthost    1000 messages to 50 domains through a smarthost
#       slow         100 messages to one domain whose server waits 1 s
#                    before it answers each DATA (smtp-sink -w 1)
#   -k            keep the work directory
#
# Setup, identical for both sides: dnsmasq on 127.0.0.1:53 answers MX
# d<K>.example -> mx.d<K>.example -> 127.0.0.2..6 (five Postfix smtp-sink
# receivers on port 25, which store nothing), slow.example ->
# 127.0.0.8 (smtp-sink -w 1); the smarthost is an smtp-sink on 127.0.0.7.
# Every message has one recipient and about 1 KiB. The queue is filled
# first (smtp-session reading one piped session for relay-agent; one SMTP
# session into a Postfix instance whose smtpd puts every message on
# hold), then the clock runs: relay-agent from start to exit; Postfix from
# "postsuper -H ALL; postqueue -f" until its queue is empty. Both deliver
# over SMTP with an MX lookup per destination, and both must report every
# recipient sent.
#
# Postfix is never installed as this machine's MTA: its Debian package is
# fetched with apt-get download and unpacked into a cache directory
# (${TMPDIR:-/tmp}/relay-bench-postfix), and runs from there with its own
# configuration; its library dependencies are installed as plain packages
# when missing. Runs as root, in a private network and mount namespace
# (unshare) with only loopback and a resolv.conf naming 127.0.0.1,
# because Postfix asks the system resolver on port 53.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
helper="/usr/bin/python3 $top/bench/relay-bench.py"
pfcache=${TMPDIR:-/tmp}/relay-bench-postfix
all_scenarios=domains50,domains1000,smarthost,slow

runs=3 bindir="" keep="" scenarios=$all_scenarios
while getopts "r:b:s:k" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	b) bindir=$OPTARG ;;
	s) scenarios=$OPTARG ;;
	k) keep=yes ;;
	*) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//;$d' >&2; exit 64 ;;
	esac
done
if [ "$(id -u)" != 0 ]; then
	echo "relay-bench.sh: must run as root (Postfix, namespaces)" >&2
	exit 1
fi

# fetch_postfix DIR - Postfix's Debian package unpacked into DIR (once),
# and the libraries it needs installed as plain packages.
fetch_postfix() {
	local dir=$1 deb libs missing="" p
	if [ ! -x "$dir/root/usr/sbin/postfix" ]; then
		rm -rf "$dir" && mkdir -p "$dir" || return 1
		(cd "$dir" && apt-get download postfix >&2) || return 1
		dpkg-deb -x "$dir"/postfix_*.deb "$dir/root" || return 1
	fi
	deb=$(ls "$dir"/postfix_*.deb)
	libs=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/[ (].*//;s/^ *//' | grep '^lib')
	for p in $libs; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2
}

# Outside: build, fetch, then start again inside the namespaces.
if [ -z "${RELAY_BENCH_NETNS:-}" ]; then
	need=""
	command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need="$need dnsmasq-base"
	command -v unshare >/dev/null || need="$need util-linux"
	command -v ip >/dev/null || [ -x /usr/sbin/ip ] || need="$need iproute2"
	[ -x /usr/bin/python3 ] || need="$need python3"
	[ -z "$need" ] ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2
	fetch_postfix "$pfcache" || { echo "relay-bench.sh: cannot fetch Postfix" >&2; exit 1; }
	if [ -z "$bindir" ]; then
		make -C "$top" -s all >&2 || exit 1
		bindir=$top/build
	fi
	bindir=$(cd "$bindir" && pwd) || exit 1
	exec env RELAY_BENCH_NETNS=1 PATH="$PATH:/usr/sbin:/sbin" unshare --net --mount \
		bash "$0" -r "$runs" -b "$bindir" -s "$scenarios" ${keep:+-k}
fi

ip link set lo up
T=$(mktemp -d "${TMPDIR:-/tmp}/relay-bench.XXXXXX")
chmod 755 "$T"
PF=$pfcache/root
export LD_LIBRARY_PATH=$PF/usr/lib/postfix
pids=()
pfdir=""
say() { echo "relay-bench: $*" >&2; }
cleanup() {
	[ -n "$pfdir" ] && "$PF/usr/sbin/postfix" -c "$pfdir/etc" stop >/dev/null 2>&1
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
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

# --- accounts, DNS and receivers (private to this namespace) --------------------
# Postfix wants its own account and a setgid group; where the package was
# never installed they are added to private copies of passwd and group.
if ! id postfix >/dev/null 2>&1 || ! getent group postdrop >/dev/null; then
	cp /etc/passwd "$T/passwd"; cp /etc/group "$T/group"
	id postfix >/dev/null 2>&1 || {
		echo "postfix:x:64999:64999::/nonexistent:/usr/sbin/nologin" >>"$T/passwd"
		echo "postfix:x:64999:" >>"$T/group"; }
	getent group postdrop >/dev/null || echo "postdrop:x:64998:" >>"$T/group"
	mount --bind "$T/passwd" /etc/passwd
	mount --bind "$T/group" /etc/group
fi
printf 'nameserver 127.0.0.1\n' >"$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
records=()
for k in $(seq 1 1000); do
	records+=(--mx-host=d$k.example,mx.d$k.example,10
		--host-record=mx.d$k.example,127.0.0.$(( k % 5 + 2 )))
done
records+=(--mx-host=slow.example,mx.slow.example,10 --host-record=mx.slow.example,127.0.0.8
	--host-record=pf.test.example,127.0.0.1)
dnsmasq --keep-in-foreground --conf-file=/dev/null --no-hosts --no-resolv \
	--listen-address=127.0.0.1 --bind-interfaces --port=53 --pid-file= \
	--local=/example/ "${records[@]}" 2>"$T/dnsmasq.err" &
pids+=($!)
sink="$PF/usr/sbin/smtp-sink"
for a in 2 3 4 5 6 7; do
	"$sink" -u nobody 127.0.0.$a:25 256 >/dev/null 2>&1 &
	pids+=($!)
done
"$sink" -u nobody -w 1 127.0.0.8:25 256 >/dev/null 2>&1 &
pids+=($!)
for a in 2 3 4 5 6 7 8; do wait_port 127.0.0.$a 25 || { say "smtp-sink did not start"; exit 1; }; done

# scenario NAME - its messages, domains, fixed domain and whether it goes
# through the smarthost, as "N DOMAINS DOMAIN SMART".
scenario() {
	case $1 in
	domains50)   echo "2000 50 - no" ;;
	domains1000) echo "1000 1000 - no" ;;
	smarthost)   echo "1000 50 - yes" ;;
	slow)        echo "100 1 slow.example no" ;;
	esac
}
describe() {
	case $1 in
	domains50)   echo "2000 messages to 50 domains, instant receivers" ;;
	domains1000) echo "1000 messages to 1000 domains, instant receivers" ;;
	smarthost)   echo "1000 messages through a smarthost, instant" ;;
	slow)        echo "100 messages to one domain, 1 s per DATA" ;;
	esac
}

# --- relay-agent ---------------------------------------------------------------
mkdir -p "$T/ra"
printf 'bench\npostmaster: bench\n' >"$T/ra/users"

run_relay_agent() {
	local name=$1 n domains domain smart t0 t1 sent
	read -r n domains domain smart <<<"$(scenario "$name")"
	cat >"$T/ra/conf" <<-CF
	hostname ra.test.example
	domain test.example
	users $T/ra/users
	mailbox_dir $T/ra/mail
	spool_dir $T/ra/spool
	log $T/ra/log
	CF
	[ "$smart" = yes ] && echo "smarthost 127.0.0.7:25" >>"$T/ra/conf"
	rm -rf "$T/ra/spool" "$T/ra/log"
	$helper dialogue "$n" "$domains" "$T/dialogue" $([ "$domain" != - ] && echo "$domain")
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
	mkdir -p "$pfdir/etc" "$pfdir/queue" "$pfdir/data" "$pfdir/log"
	chown postfix: "$pfdir/data"
	cat >"$pfdir/etc/main.cf" <<-CF
	compatibility_level = 3.6
	queue_directory = $pfdir/queue
	data_directory = $pfdir/data
	daemon_directory = $PF/usr/lib/postfix/sbin
	command_directory = $PF/usr/sbin
	shlib_directory = $PF/usr/lib/postfix
	meta_directory = $PF/etc/postfix
	import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH
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
	"$PF/usr/sbin/postfix" -c "$pfdir/etc" start >>"$pfdir/setup.log" 2>&1 &&
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
	local name=$1 n domains domain smart t0 t1 sent before held
	read -r n domains domain smart <<<"$(scenario "$name")"
	"$PF/usr/sbin/postconf" -c "$pfdir/etc" -e \
		"relayhost = $([ "$smart" = yes ] && echo '[127.0.0.7]:25')"
	"$PF/usr/sbin/postfix" -c "$pfdir/etc" reload >/dev/null 2>&1
	sleep 1
	before=$(grep -c 'status=sent' "$pfdir/log/maillog" 2>/dev/null)
	$helper inject "$n" "$domains" 127.0.0.1 2526 $([ "$domain" != - ] && echo "$domain") ||
		{ say "injection into Postfix failed"; return 1; }
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
	"$PF/usr/sbin/postsuper" -c "$pfdir/etc" -H ALL 2>/dev/null
	"$PF/usr/sbin/postqueue" -c "$pfdir/etc" -f
	while [ "$(queue_count)" != 0 ]; do sleep 0.02; done
	t1=$(now)
	sent=$(( $(grep -c 'status=sent' "$pfdir/log/maillog") - before ))
	if [ "$sent" != "$n" ]; then say "Postfix: $sent of $n sent"; return 1; fi
	echo "$t0 $t1" | awk -v n="$n" '{ printf "%.0f\n", n / ($2 - $1) }'
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "-") }'; }

postfix_setup
pfversion=$("$PF/usr/sbin/postconf" -c "$pfdir/etc" -h mail_version 2>/dev/null)
rows=()
for name in ${scenarios//,/ }; do
	[ -n "$(scenario "$name")" ] || { say "unknown scenario $name"; exit 64; }
	ra=() pf=()
	for r in $(seq 1 "$runs"); do
		x=$(run_relay_agent "$name") || x=failed
		ra+=("$x")
		y=$(run_postfix "$name") || y=failed
		pf+=("$y")
		say "$name run $r: relay-agent $x msg/s, Postfix $y msg/s"
	done
	mra=$(echo "${ra[*]}" | median)
	mpf=$(echo "${pf[*]}" | median)
	ratio=$(awk -v a="$mra" -v b="$mpf" 'BEGIN { if (b + 0 > 0) printf "%.1f", a / b; else print "-" }')
	rows+=("| $(describe "$name") | ${ra[*]} | $mra | ${pf[*]} | $mpf | ${ratio}x |")
done

echo
echo "relay-agent (default settings) and Postfix $pfversion (default settings) draining the"
echo "same queue; messages/s, median of $runs runs; $(nproc) cores; receivers are Postfix's"
echo "smtp-sink behind dnsmasq on loopback."
echo "Command: bench/relay-bench.sh -r $runs${scenarios:+ -s $scenarios}"
echo
echo "| scenario | relay-agent runs | relay-agent | Postfix runs | Postfix | ratio |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
