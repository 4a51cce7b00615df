#!/bin/bash
# t-adversarial.sh - careless clients that need a socket, timing or many
# sessions (tests/adversarial.py): a client that talks before the greeting
# over a socket; the input closed at every octet of a dialogue; a client
# that sends one octet every 10 ms. (Malformed commands, every limit and
# one octet over, and garbage pipelined around a transaction are golden
# dialogues: tests/dialogues, t-dialogues.sh.)
. "$(dirname "$0")/lib.sh"
# cuts 11, early 3, drip 3, and the exit status of each run of the helper
plan $((11 + 3 + 3 + 3))

write_conf
cp "$T/conf" "$T/conf.slow"; echo "timeout 2s" >>"$T/conf.slow"
mkdir -p "$T/spool/tmp" "$T/spool/msg" "$T/spool/env"
# alice already holds a message: nothing may change it but a delivery.
printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\nold text\n\n' >"$T/mail/alice"

adv() {
	timeout -k 5 120 $PY "$TOP/tests/adversarial.py" "$1" "$BIN" "$T" "${2:-}"
	helper_ran "adversarial.py $1" $?
}

adv cuts
port=$(free_port)
if serve_socket "$port"; then
	adv early "$port"
else
	nok "a client that sends before the greeting: no listener on port $port"
fi
adv drip
