#!/bin/bash
# t-relay-root.sh - relay-agent started as root on a spool owned by the
# service account (here "nobody"): it becomes that account first (uid,
# group, supplementary groups), so every file it writes is the account's
# and the account's next run (-l) sees the queue; an envelope the account
# cannot read is an error -l shows, and a pass leaves it alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay-lib.sh"
plan 11

ACCT=nobody
GRP=$(id -gn "$ACCT")
write_conf "nameserver 127.0.0.1:$DNSPORT" "remote_port $P" "dns_timeout 5s" \
	"connect_timeout 5s" "smtp_timeout 10s"
mkdir -p "$T/nb"
sed -i "s|^log .*|log $T/nb/log|" "$T/conf"
T_LOG=$T/nb/log
dns_start --mx-host=ok.example,mx.ok.example,10 --host-record=mx.ok.example,127.0.0.110 \
	--mx-host=defer.example,mx.defer.example,10 --host-record=mx.defer.example,127.0.0.111 ||
	nok "dnsmasq answers"
script 127.0.0.110 plain "$T/ok.log"
script 127.0.0.111 soft "$T/defer.log"

# as_acct CMD... - CMD as the service account.
as_acct() { setpriv --reuid="$ACCT" --regid="$GRP" --init-groups "$@"; }

spool --subject "two of them" --rcpt a@ok.example --rcpt b@defer.example
M1=$ID
chown -R "$ACCT:$GRP" "$SPOOL" "$T/nb" "$T/mail"

"$RELAY" -c "$T/conf"
expect_eq "run as root: the pass exits 0" "$?" 0
expect_eq "the sent recipient went out" "$(taken "$T/ok.log")" a@ok.example
check "the updated envelope is the account's" test "$(stat -c %U "$SPOOL/env/$M1")" = "$ACCT"
expect_eq "nothing in the spool is root's" "$(find "$SPOOL" -user root | wc -l)" 0
check "the log file is the account's" test "$(stat -c %U "$T/nb/log")" = "$ACCT"
as_acct "$RELAY" -c "$T/conf" -l >"$T/list" 2>&1
expect_eq "-l as the account afterwards: exit 0" "$?" 0
check "-l as the account lists the message (not an empty queue)" grep -q "^$M1 " "$T/list"
check "-l shows the deferred recipient" grep -q '<b@defer.example>' "$T/list"

# An envelope the account cannot read.
spool --subject unreadable --rcpt c@ok.example
UNR=$ID
chown root:root "$SPOOL/env/$UNR"
chmod 600 "$SPOOL/env/$UNR"
as_acct "$RELAY" -c "$T/conf" -l >"$T/list2" 2>&1
expect_eq "-l with an unreadable envelope: exit 75" "$?" 75
check "-l names it with the error" grep -q "^$UNR .*(cannot read its envelope: Permission denied)" "$T/list2"
as_acct "$RELAY" -c "$T/conf" -f
check "a pass logs it and leaves it where it is" \
	sh -c "grep -q '$UNR: cannot read its envelope: Permission denied' '$T_LOG' && test -e '$SPOOL/env/$UNR'"
exit 0
