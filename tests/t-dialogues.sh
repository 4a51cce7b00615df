#!/bin/bash
# t-dialogues.sh - golden dialogues: each tests/dialogues/NAME.in is piped
# to smtp-session all at once (lib.sh's write_conf configuration), and
# what comes out must equal the files beside it.
#
# NAME.in is the client's side: every line is sent followed by CRLF, after
# these escapes are decoded (tests/dialogue.py):
#     \r CR   \n LF   \t TAB   \0 NUL   \xHH the octet HH   \\ a backslash
#     \{N*TEXT}  TEXT N times, for long lines: NOOP \{505*y}
#     \c         at the very end of a line: no CRLF after it
# A line starting with # is a comment, not sent; any other octet (UTF-8
# too) is sent as it is.
#
# NAME.out holds the replies. Replies and mailboxes are compared as text
# written with the same escapes: CRLF is a line end in replies, and a
# backslash, a CR, a NUL, any other control octet but TAB and LF, and a
# run of more than 64 equal octets are written as above. Queue ids and
# dates read "ID" and "DATE" (lib.sh's mask).
#
# For every dialogue: the replies; each reply line printable US-ASCII
# ending in CRLF; exit status 0; no staging file left in the spool.
# Optional files beside it:
#   NAME.conf        configuration lines added (@DIR@: tests/dialogues)
#   NAME.env         environment assignments (one per line) for the session
#   NAME.USER.mbox   the mbox of USER afterwards; with any of these, no
#                    other mailbox may exist
#   NAME.nombox      no mailbox may exist afterwards
#   NAME.spool       one message spooled: its rcpt lines (state, attempts,
#                    original and final address); without it nothing may
#                    be spooled
#
# The launchers' variables that name a client are removed from the
# environment of every session first, so that the developer's own
# environment cannot change a result: a NAME.env sets what a case needs.
# DIALOGUES names another directory of dialogues (t-dialogues-env.sh).
. "$(dirname "$0")/lib.sh"
D=${DIALOGUES:-$TOP/tests/dialogues}
unset_env=()
for v in REMOTE_ADDR REMOTE_PORT REMOTE_HOST TCPREMOTEIP TCPREMOTEHOST TCPREMOTEINFO \
	TCPREMOTEPORT TCPLOCALIP TCPLOCALHOST TCPLOCALPORT SOCAT_PEERADDR SOCAT_PEERPORT \
	SOCAT_SOCKADDR SOCAT_SOCKPORT PROTO; do
	unset_env+=(-u "$v")
done

# The plan, from the files alone: five assertions per dialogue, one per
# expected mbox, one more per dialogue with any, one per .nombox, one
# more per .spool (two instead of "nothing spooled").
shopt -s nullglob
ins=("$D"/*.in)
mboxes=("$D"/*.*.mbox)
noboxes=("$D"/*.nombox)
spools=("$D"/*.spool)
shopt -u nullglob
withbox=$(printf '%s\n' "${mboxes[@]}" | sed 's/\.[^.]*\.mbox$//' | sort -u | grep -c .)
plan $((5 * ${#ins[@]} + ${#mboxes[@]} + withbox + ${#noboxes[@]} + ${#spools[@]}))

# show [--crlf] - stdin as golden text (tests/dialogue.py show), masked.
show() { $PY "$TOP/tests/dialogue.py" show "$@" | mask; }

# golden WHAT GOT FILE - ok when GOT is the text of FILE, else the diff.
golden() {
	if [ "$2" == "$(cat "$3")" ]; then ok "$1"; else
		nok "$1"
		diff -u --label "$(basename "$3")" --label got "$3" <(printf '%s\n' "$2") |
			head -n 40 | sed 's/^/   /'
	fi
}

# us_ascii_lines FILE - every line of FILE is printable US-ASCII ending
# in CRLF, the last one too.
us_ascii_lines() {
	! LC_ALL=C grep -qv $'^[ -~]*\r$' "$1" && [ "$(tail -c 1 "$1" | od -An -tx1)" = " 0a" ]
}

for in in "${ins[@]}"; do
	name=$(basename "$in" .in)
	base=${in%.in}
	rm -rf "$T/mail" "$T/spool" "$T/log"
	extra=()
	[ -f "$base.conf" ] && mapfile -t extra < <(sed "s|@DIR@|$D|g" "$base.conf")
	write_conf "${extra[@]}"
	envs=()
	[ -f "$base.env" ] && mapfile -t envs <"$base.env"
	$PY "$TOP/tests/dialogue.py" send "$in" |
		env "${unset_env[@]}" "${envs[@]}" "$BIN/smtp-session" -c "$T/conf" >"$T/replies"
	rc=${PIPESTATUS[1]}
	golden "$name: replies" "$(show --crlf <"$T/replies")" "$base.out"
	check "$name: every reply line is printable US-ASCII ending in CRLF" us_ascii_lines "$T/replies"
	expect_eq "$name: exit status" "$rc" 0
	users=""
	for want in "$base".*.mbox; do
		[ -e "$want" ] || continue
		user=${want#"$base".}; user=${user%.mbox}
		users="$users$user "
		if [ -f "$T/mail/$user" ]; then got=$(show <"$T/mail/$user"); else got="(no mbox)"; fi
		golden "$name: mbox of $user" "$got" "$want"
	done
	if [ -n "$users" ]; then
		expect_eq "$name: no other mailbox written" "$(ls "$T/mail" | tr '\n' ' ')" "$users"
	fi
	if [ -f "$base.nombox" ]; then
		expect_eq "$name: no mailbox written" "$(ls "$T/mail")" ""
	fi
	if [ -f "$base.spool" ]; then
		envs_found=$(ls "$T/spool/env" 2>/dev/null | wc -l)
		expect_eq "$name: one message spooled" "$envs_found" "1"
		expect_eq "$name: spooled recipients" \
			"$(grep '^rcpt ' "$T"/spool/env/* 2>/dev/null | cut -f1,2,5,6)" "$(cat "$base.spool")"
	else
		expect_eq "$name: nothing spooled" "$(ls "$T/spool/env" 2>/dev/null)" ""
	fi
	expect_eq "$name: no staging file left" "$(ls "$T/spool/tmp" 2>/dev/null)" ""
done
