#!/bin/bash
# t-dialogues.sh - golden dialogues: tests/dialogues/NAME.in is piped to
# smtp-session all at once (LF turned into CRLF); the replies must equal
# NAME.out. Optional files beside it:
#   NAME.conf        extra configuration lines
#   NAME.env         environment assignments (one per line) for the session
#   NAME.USER.mbox   the expected mbox of USER (dates and ids masked)
#   NAME.spool       the expected rcpt lines of the spooled envelope
#   NAME.nombox      no mbox may exist after the dialogue
. "$(dirname "$0")/lib.sh"

for in in "$TOP"/tests/dialogues/*.in; do
	name=$(basename "$in" .in)
	base=${in%.in}
	rm -rf "$T/mail" "$T/spool" "$T/log"
	extra=()
	[ -f "$base.conf" ] && mapfile -t extra <"$base.conf"
	write_conf "${extra[@]}"
	envs=()
	[ -f "$base.env" ] && mapfile -t envs <"$base.env"
	got=$(crlf <"$in" | env "${envs[@]}" "$BIN/smtp-session" -c "$T/conf" | tr -d '\r' | mask)
	expect_eq "$name: replies" "$got" "$(cat "$base.out")"
	for want in "$base".*.mbox; do
		[ -e "$want" ] || continue
		user=${want#"$base".}; user=${user%.mbox}
		expect_eq "$name: mbox of $user" "$(mask <"$T/mail/$user" 2>/dev/null)" "$(cat "$want")"
	done
	if [ -f "$base.spool" ]; then
		envs_found=$(ls "$T/spool/env" 2>/dev/null | wc -l)
		expect_eq "$name: one message spooled" "$envs_found" "1"
		expect_eq "$name: spooled recipients" \
			"$(grep '^rcpt ' "$T"/spool/env/* 2>/dev/null | cut -f1,2,5,6)" "$(cat "$base.spool")"
	else
		expect_eq "$name: nothing spooled" "$(ls "$T/spool/env" 2>/dev/null)" ""
	fi
	if [ -f "$base.nombox" ]; then
		expect_eq "$name: no mailbox written" "$(ls "$T/mail")" ""
	fi
	expect_eq "$name: no staging file left" "$(ls "$T/spool/tmp" 2>/dev/null)" ""
done
