# t-parallel.sh - 20 clients at once, 25 messages each, over real
# sockets (systemd-socket-activate, one smtp-session per connection), all
# to alice, half of them also to bob: 500 intact messages in alice's
# mbox, 250 in bob's, never interleaved, no lock left behind.
. "$(dirname "$0")/lib.sh"
plan 18

write_conf
PORT=$(free_port)
if serve_socket "$PORT"; then ok "systemd-socket-activate listens on $PORT"
else nok "systemd-socket-activate listens on $PORT"; fi
timeout -k 5 170 $PY "$TOP/tests/parallel_send.py" "$PORT" "$T/mail" 20 25
rc=$?
expect_eq "parallel_send.py exit status" "$rc" 0
expect_eq "spool: nothing queued" "$(ls -A "$T/spool/env")$(ls -A "$T/spool/msg")" ""
expect_eq "spool: no staging file left" "$(ls -A "$T/spool/tmp" 2>/dev/null)" ""
check "log: 500 messages accepted" test "$(grep -c ': from=<client[0-9]*@remote.example>, size=' "$T/log")" = 500
