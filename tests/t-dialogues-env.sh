#!/bin/bash
# t-dialogues-env.sh - the golden dialogues do not depend on the
# environment they are run from: t-dialogues.sh, run on a few dialogues
# whose result depends on who the client is (a pipe relays; a .env names
# a client that may not relay, or an IPv6 one) with every launcher
# variable set to a client that may relay (127.0.0.1) or to junk, passes.
. "$(dirname "$0")/lib.sh"
plan 3
sub=$T/dialogues
mkdir -p "$sub"
for name in relaydenied ipv6peer recipients; do
	cp "$TOP"/tests/dialogues/"$name".* "$sub"/
done
out=$(env REMOTE_ADDR=127.0.0.1 REMOTE_HOST=127.0.0.1 TCPREMOTEIP=192.0.2.66 \
	SOCAT_PEERADDR=junk TCPLOCALIP=127.0.0.1 DIALOGUES="$sub" \
	timeout 300 bash "$TOP/tests/t-dialogues.sh" 2>&1)
rc=$?
expect_eq "t-dialogues.sh exits 0 under a developer's launcher variables" "$rc" 0
planned=$(printf '%s\n' "$out" | sed -n 's/^1\.\.//p' | head -n 1)
expect_eq "... every planned assertion is made and passes" \
	"$(printf '%s\n' "$out" | grep -c '^ok - ')" "${planned:-none}"
expect_eq "... none fails" "$(printf '%s\n' "$out" | grep '^not ok')" ""
