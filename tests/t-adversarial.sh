#!/bin/bash
# t-adversarial.sh - hostile and careless clients (tests/adversarial.py):
# every command with malformed arguments (brackets, blanks, quoted local
# parts, address literals, 8-bit and control octets), each with its exact
# reply and the session going on; inputs at each limit and one octet over
# (512, 1000 and 12288 octet lines, local part 64, domain, path 256);
# garbage pipelined around a transaction; a client that talks before the
# greeting over a socket; the input closed at every octet of a dialogue;
# a client that sends one octet every 10 ms.
. "$(dirname "$0")/lib.sh"

write_conf
echo "carol:$(openssl passwd -6 'c-secret')" >"$T/auth"
cp "$T/conf" "$T/conf.auth"; echo "auth_file $T/auth" >>"$T/conf.auth"
cp "$T/conf" "$T/conf.slow"; echo "timeout 2s" >>"$T/conf.slow"
mkdir -p "$T/spool/tmp" "$T/spool/msg" "$T/spool/env"
# alice already holds a message: nothing may change it but a delivery.
printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\nold text\n\n' >"$T/mail/alice"

adv() { timeout -k 5 120 $PY "$TOP/tests/adversarial.py" "$1" "$BIN" "$T" "${2:-}" || nok "adversarial.py $1: exit status $?"; }

adv table
adv limits
adv cuts
port=$(free_port)
if serve_socket "$port"; then
	adv early "$port"
else
	nok "a client that sends before the greeting: no listener on port $port"
fi
adv drip
rm -f "$T/mail"/*
adv pipeline
