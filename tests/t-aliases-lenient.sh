#!/bin/bash
# t-aliases-lenient.sh - under "users system" one entry of /etc/aliases
# that cannot be used never takes the server down: it is a warning with
# its file and line, that alias alone is refused (550 5.1.1), the rest of
# the file works. An RFC 822 phrase, a loop, an entry without a colon, a
# name given twice (the first wins); a domain literal is a valid target.
# newaliases (sendmail -bi) reports every entry and exits 0, as Postfix's
# does. Accounts come from nss_wrapper.
. "$(dirname "$0")/lib.sh"
plan 15

[ -n "$NSSLIB" ] || nok "libnss-wrapper is installed"
cat >"$T/passwd" <<-EOF
	root:x:0:0:root:/root:/bin/bash
	sam:x:50001:50001:Sam:$T/home/sam:/bin/sh
	tess:x:50002:50002:Tess:$T/home/tess:/bin/sh
	lonely:x:50003:50003:Lonely:$T/home/lonely:/bin/sh
EOF
printf 'root:x:0:\nmail:x:8:\n' >"$T/group"
nss_wrap
mkdir -p "$T/varmail" "$T/spool"
cat >"$T/aliases" <<-EOF
	postmaster: root
	lists: "Some Body" <sb@example.org>
	ipaddr: bob@[192.0.2.1], v6@[IPv6:2001:db8::1]
	dup: sam
	Dup: tess
	loopa: loopb
	loopb: loopa
	lonely
	good: sam
EOF
cat >"$T/conf" <<-EOF
	hostname mx.test.example
	domain test.example
	users system
	aliases $T/aliases
	mailbox_dir $T/varmail
	spool_dir $T/spool
	log $T/log
EOF
# rcpt ADDR - the reply to RCPT TO:<ADDR> (one session each).
rcpt() {
	printf 'EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<%s>\r\nQUIT\r\n' "$1" |
		"$BIN/smtp-session" -c "$T/conf" 2>/dev/null | tr -d '\r' | sed -n 's/^\([0-9][0-9][0-9] [0-9.]*\) .*/\1/p' | sed -n 2p
}
send() {
	printf 'EHLO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<%s>\r\nDATA\r\n\r\nhello %s\r\n.\r\nQUIT\r\n' "$1" "$1" |
		"$BIN/smtp-session" -c "$T/conf" 2>/dev/null | tr -d '\r' >"$T/replies"
}

expect_eq "the server greets (no 421) with broken entries in the aliases file" \
	"$(printf 'QUIT\r\n' | "$BIN/smtp-session" -c "$T/conf" 2>/dev/null | tr -d '\r' | head -n 1 | cut -c1-4)" "220 "
expect_eq "an RFC 822 phrase we do not read: that alias alone is refused (550 5.1.1)" "$(rcpt lists@test.example)" "550 5.1.1"
check "... and logged with file and line" \
	grep -q "$T/aliases:2: bad alias target .*alias \"lists\" refused (550 5.1.1) until it is fixed" "$T/log"
send ipaddr@test.example
check "domain literals are valid targets: accepted" grep -q '^250 2.0.0 Ok' "$T/replies"
check "... and queued as they are" \
	bash -c "grep -hq \$'\\tbob@\\[192.0.2.1\\]' '$T'/spool/env/* && grep -hq \$'\\tv6@\\[IPv6:2001:db8::1\\]' '$T'/spool/env/*"
send dup@test.example
check "a name given twice: the first entry wins (sam)" \
	bash -c "grep -q '^hello dup@' '$T/varmail/sam' && ! grep -q '^hello dup@' '$T/varmail/tess' 2>/dev/null"
check "... and the second is a warning" grep -q "$T/aliases:5: \"Dup\" given again (first at line 4): this entry is ignored" "$T/log"
expect_eq "a loop: its aliases are refused (550 5.1.1)" "$(rcpt loopa@test.example) $(rcpt loopb@test.example)" "550 5.1.1 550 5.1.1"
check "... logged" grep -q "alias loop through .*alias \"loopa\" refused" "$T/log"
expect_eq "an entry without a colon is skipped: the account of that name still gets its mail" \
	"$(rcpt lonely@test.example)" "250 2.1.5"
send good@test.example
check "the rest of the file works" grep -q '^hello good@' "$T/varmail/sam"

# --- newaliases ---------------------------------------------------------------
chmod 644 "$T/conf" "$T/aliases"
"$BIN/sendmail" -C "$T/conf" -bi 2>"$T/bi.err"
expect_eq "newaliases: exit 0, as Postfix's" "$?" 0
check "newaliases reports each entry by file and line as a warning" \
	bash -c "grep -q '^warning: $T/aliases:2: ' '$T/bi.err' && grep -q '^warning: $T/aliases:5: ' '$T/bi.err' &&
		grep -q '^warning: $T/aliases:8: ' '$T/bi.err' && grep -q '^warning: $T/aliases:6: .*loop' '$T/bi.err'"
rm -f "$T/aliases.missing"
sed "s|^aliases .*|aliases $T/aliases.missing|" "$T/conf" >"$T/missing.conf"
"$BIN/sendmail" -C "$T/missing.conf" -bi 2>/dev/null
expect_eq "newaliases on an aliases file that cannot be read: still exit 78" "$?" 78
expect_eq "... and so does smtp-session (421)" \
	"$(printf 'QUIT\r\n' | "$BIN/smtp-session" -c "$T/missing.conf" 2>/dev/null | tr -d '\r' | head -n 1 | cut -c1-9)" "421 4.3.0"
