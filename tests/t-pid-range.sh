#!/bin/bash
# t-pid-range.sh - process ids above 32767, as Linux hands out where
# pid_max is 4194304 (systemd's default on 64-bit machines): the seed of
# the lock-wait back-off mixes in the pid, and must do so without an
# integer overflow (UBSan aborts the sanitizer build on one).
#
# A preloaded shim makes getpid() answer 4194303 (the largest pid). alice's
# mbox is held locked (a fresh dotlock, removed a second later) while a
# message for her arrives: smtp-session waits between tries
# (random_between, which seeds from the pid), then delivers.
. "$(dirname "$0")/lib.sh"
plan 4
write_conf

cat >"$T/bigpid.c" <<'C'
#include <unistd.h>
pid_t getpid(void) { return 4194303; }
C
if ! out=$(cc -shared -fPIC -o "$T/bigpid.so" "$T/bigpid.c" 2>&1); then
	nok "the getpid shim builds: $out"
	exit 0
fi
ok "the getpid shim builds"
# (the shim is not the first library of the sanitizer build: tell ASan
# that is fine, keeping the runner's options)
asan=${ASAN_OPTIONS:-}
case $BIN in *asan*) asan="${asan:+$asan:}verify_asan_link_order=0" ;; esac
check "the shim answers 4194303" \
	bash -c "[ \"\$(LD_PRELOAD='$T/bigpid.so' $PY -c 'import os; print(os.getpid())')\" = 4194303 ]"

printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old\n\nold text\n\n' >"$T/mail/alice"
: >"$T/mail/alice.lock"
bg bash -c "sleep 1; rm -f '$T/mail/alice.lock'"
got=$(printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: big pid\r\n\r\nx\r\n.\r\nQUIT\r\n' |
	ASAN_OPTIONS=$asan LD_PRELOAD="$T/bigpid.so" timeout 60 "$BIN/smtp-session" -c "$T/conf" |
	tr -d '\r' | grep '^250 2.0.0' | cut -c1-9)
expect_eq "pid 4194303: the delivery waits for the lock, then 250" "$got" "250 2.0.0"
expect_eq "alice's mbox holds the old message and the new one" \
	"$(grep -c '^From ' "$T/mail/alice"):$(grep -c '^Subject: big pid' "$T/mail/alice")" "2:1"
