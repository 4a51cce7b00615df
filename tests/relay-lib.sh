# relay-lib.sh - helpers of the relay-agent tests (source after lib.sh).
DNSPORT=$(free_port)
P=$(free_port)
RELAY="$BIN/relay-agent"
SPOOL=$T/spool

# dns_start RECORDS... - dnsmasq on 127.0.0.1:$DNSPORT serving RECORDS
# (dnsmasq options) for *.example; returns when it answers.
dns_start() {
	bg dnsmasq --keep-in-foreground --conf-file=/dev/null --no-hosts --no-resolv \
		--listen-address=127.0.0.1 --bind-interfaces --port="$DNSPORT" --pid-file= \
		--log-facility="$T/dnsmasq.log" --local=/example/ "$@" 2>>"$T/dnsmasq.err"
	$PY - "$DNSPORT" <<-'PY'
	import socket, struct, sys, time
	q = struct.pack(">HHHHHH", 1, 0x100, 1, 0, 0, 0) + b"\x04good\x07example\x00\x00\x0f\x00\x01"
	end = time.time() + 10
	while time.time() < end:
	    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
	    try:
	        s.sendto(q, ("127.0.0.1", int(sys.argv[1]))); s.recv(512); sys.exit(0)
	    except OSError:
	        time.sleep(0.05)
	sys.exit(1)
	PY
}

# sink ADDR OUTDIR [OPTIONS] - an aiosmtpd receiver on ADDR:$P.
sink() {
	local addr=$1 out=$2; shift 2
	bg $PY "$TOP/tests/relay-sink.py" "$addr" "$P" "$out" "$@" 2>>"$T/sink.err"
	SINKPID=$!
	wait_port "$P" "$addr"
}

# received DIR - "rcpt" per line for every message DIR received, sorted.
received() {
	$PY - "$1" <<-'PY'
	import glob, json, sys
	out = []
	for f in glob.glob(sys.argv[1] + "/*.json"):
	    out += json.load(open(f))["to"]
	print("\n".join(sorted(out)))
	PY
}

# spool MSGARGS... - queue one message; its id in $ID.
spool() { ID=$($PY "$TOP/tests/relay-spool.py" "$SPOOL" "$@"); }

# env_field ID RCPT FIELD - a recipient's STATE, ATTEMPTS, NEXT or REPLY.
env_field() {
	awk -F'\t' -v r="$2" -v f="$3" '
		/^rcpt / { sub(/^rcpt /, ""); if ($6 == r) {
			if (f == "STATE") print $1; else if (f == "ATTEMPTS") print $2;
			else if (f == "NEXT") print $3; else if (f == "REPLY") print $7 } }' \
		"$SPOOL/env/$1" 2>/dev/null
}

# logged RCPT STATUS - whether the log has that recipient's outcome.
logged() { grep -q "to=<$1>, relay=.*status=$2 " "$T/log"; }


# script ADDR MODE LOG - a scripted server (tests/relay-script.py) on
# ADDR:$P in MODE, logging to LOG; returns when it accepts connections.
script() {
	: >"$3"
	bg $PY "$TOP/tests/relay-script.py" "$1" "$P" "$2" "$3" 2>>"$T/script.err"
	wait_port "$P" "$1"
}

# taken LOG - recipients of the messages a scripted server took, sorted.
taken() {
	$PY - "$1" <<-'PY'
	import json, sys
	out = []
	for l in open(sys.argv[1]):
	    d = json.loads(l)
	    if d.get("ev") == "message":
	        out += d["rcpts"]
	print("\n".join(sorted(out)))
	PY
}

# conns LOG WHAT - from a scripted server's log: "opens" (connections
# that sent a command: wait_port's probe does not count),
# "peak" (most open at once), "txnmax" (most recipients in one message).
conns() {
	$PY - "$1" "$2" <<-'PY'
	import json, sys
	ev = [json.loads(l) for l in open(sys.argv[1])]
	if sys.argv[2] == "opens":
	    print(len({d["conn"] for d in ev if "cmd" in d}))
	elif sys.argv[2] == "peak":
	    pts = sorted((d["t"], 1 if d["ev"] == "open" else -1) for d in ev
	                 if d.get("ev") in ("open", "close"))
	    cur = best = 0
	    for _, k in pts:
	        cur += k; best = max(best, cur)
	    print(best)
	elif sys.argv[2] == "txnmax":
	    print(max([len(d["rcpts"]) for d in ev if d.get("ev") == "message"] or [0]))
	PY
}

# count_status STATUS - recipients logged with that status.
count_status() { grep -c "status=$1 " "$T/log"; }
