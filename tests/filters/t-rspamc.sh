# t-rspamc.sh - contrib/filters/rspamc-filter against a real rspamd: run in
# the foreground with a private configuration (Debian's rules, our worker
# on a loopback port, its DNS a dnsmasq on loopback that knows nothing),
# checked on its own and as the filter of smtp-session: GTUBE refused
# (rspamd's "reject") or tagged, a clean message stored with rspamc's
# headers and its body intact, the envelope passed on, a forged verdict
# header removed, rspamd unreachable deferred.
. "$(dirname "$0")/lib.sh"
plan 19

F=$FILTERS/rspamc-filter
if ! command -v rspamd >/dev/null || ! command -v rspamc >/dev/null; then
	skip_all "rspamd is not installed (package rspamd)"
elif [ -n "${NO_NETNS:-}" ]; then
	skip_all "no private network namespace (needs root and unshare)"
elif ! command -v dnsmasq >/dev/null; then
	skip_all "dnsmasq is not installed (package dnsmasq-base)"
fi

RS=$T/rspamd
mkdir -p "$RS/local/local.d" "$RS/db" "$RS/run"
PORT=$(free_port)
DNS=$(free_port)
# The top level of Debian's /etc/rspamd/rspamd.conf with one scanner
# worker on our port, no controller, proxy or fuzzy workers, the log on
# stderr and the databases in $RS.
cat >"$RS/rspamd.conf" <<-EOF2
	.include "\$CONFDIR/common.conf"
	options {
	    pidfile = "\$RUNDIR/rspamd.pid";
	    .include "\$CONFDIR/options.inc"
	    dns { nameserver = ["127.0.0.1:$DNS"]; timeout = 1s; retransmits = 1; }
	}
	logging { type = "console"; level = "notice"; }
	worker "normal" {
	    bind_socket = "127.0.0.1:$PORT";
	    .include "\$CONFDIR/worker-normal.inc"
	    count = 1;
	}
EOF2
chown -R nobody: "$RS"
if [ -z "$SKIP" ]; then
	# A resolver that answers at once (REFUSED: it has no upstream), so
	# that rspamd's DNS rules fail fast instead of waiting for timeouts.
	bg dnsmasq --keep-in-foreground --conf-file=/dev/null --no-hosts --no-resolv \
		--listen-address=127.0.0.1 --bind-interfaces --port="$DNS" --pid-file= \
		--user=nobody 2>"$RS/dnsmasq.log"
	bg rspamd -f -c "$RS/rspamd.conf" -u nobody -g nogroup \
		--var CONFDIR=/etc/rspamd --var LOCAL_CONFDIR="$RS/local" \
		--var DBDIR="$RS/db" --var RUNDIR="$RS/run" --var LOGDIR="$RS" \
		>"$RS/rspamd.log" 2>&1
	if ! wait_for 180 bash -c "echo >/dev/tcp/127.0.0.1/$PORT"; then
		echo "# rspamd log:"; tail -n 20 "$RS/rspamd.log" | sed 's/^/#   /'
		skip_all "rspamd did not start within 180 s"
	fi
fi
check "rspamd runs in the foreground on 127.0.0.1:$PORT" wait_port "$PORT"
RSPAMC=(-- -h "127.0.0.1:$PORT")

message "$T/ham.eml" "lunch on friday" "Shall we meet at noon by the fountain?"
message "$T/spam.eml" "an offer" "$GTUBE"
# A clean message that claims rspamd's verdict in its own header.
sed 's/^Subject: .*/&\nX-Spam-Action: reject\nX-Spam-Score: 99 \/ 15\n  folded/' \
	"$T/ham.eml" >"$T/forged.eml"

# --- the wrapper on its own ----------------------------------------------
rc=$(run_filter "$T/o1" "$T/e1" "$F" "${RSPAMC[@]}" <"$T/ham.eml")
expect_eq "tag (default), clean message: exit 0" "$rc" 0
# Without Bayes or DNS a clean message may reach rspamd's greylist
# score (4): a verdict all the same, and no refusal.
ACCEPTED='^X-Spam-Action: (no action|greylist|add header)$'
check "tag, clean message: rspamc's X-Spam-Action header added" \
	grep -qE "$ACCEPTED" "$T/o1"
expect_eq "tag, clean message: body unchanged" "$(body_of "$T/o1")" "$(body_of "$T/ham.eml")"

rc=$(run_filter "$T/o2" "$T/e2" "$F" -m tag "${RSPAMC[@]}" <"$T/spam.eml")
expect_eq "tag, GTUBE: exit 0 (stored, not refused)" "$rc" 0
check "tag, GTUBE: X-Spam-Action: reject and the GTUBE symbol" \
	bash -c "grep -q '^X-Spam-Action: reject' '$T/o2' && grep -q 'GTUBE' '$T/o2'"

rc=$(run_filter "$T/o3" "$T/e3" "$F" -m refuse "${RSPAMC[@]}" <"$T/spam.eml")
expect_eq "refuse, GTUBE: exit 100 with the reply text on stderr" \
	"$rc:$(head -n 1 "$T/e3")" "100:Message refused as spam"
check "refuse, GTUBE: nothing on stdout" test ! -s "$T/o3"
rc=$(run_filter "$T/o4" "$T/e4" env RSPAMC_FILTER_MODE=refuse "$F" "${RSPAMC[@]}" <"$T/ham.eml")
expect_eq "refuse (from RSPAMC_FILTER_MODE), clean message: exit 0" "$rc" 0

rc=$(run_filter "$T/o5" "$T/e5" "$F" -m refuse "${RSPAMC[@]}" <"$T/forged.eml")
expect_eq "a forged X-Spam-Action: reject in the message: not believed, exit 0" "$rc" 0
expect_eq "the forged X-Spam-* headers are gone, with their continuation line" \
	"$(grep -c -e '^X-Spam-Action:' -e '^X-Spam-Score: 99' -e '^  folded' "$T/o5")" 1

# The envelope reaches rspamd: its log line names the queue id, the
# client address, the sender and both recipients.
check "rspamd saw the envelope: queue id, ip, from and both recipients" \
	wait_for 10 grep -qE 'qid: <0TEST>, ip: 127\.0\.0\.9,.*from: <sender@remote\.example>.*rcpts: <alice@test\.example,bob@test\.example>' "$RS/rspamd.log"

DEAD=$(free_port)
rc=$(run_filter "$T/o6" "$T/e6" "$F" -m refuse -- -h "127.0.0.1:$DEAD" <"$T/ham.eml")
expect_eq "rspamd unreachable: exit 111 (try again later), nothing on stdout" \
	"$rc:$(wc -c <"$T/o6")" "111:0"

# --- as smtp-session's filter ---------------------------------------------
e2e_conf refuse "filter $F -m refuse -- -h 127.0.0.1:$PORT"
expect_eq "smtp-session, refuse, GTUBE: 554 5.7.1 with the wrapper's text" \
	"$(e2e refuse "$T/spam.eml")" "554 5.7.1 Message refused as spam"
check "smtp-session, refuse, GTUBE: nothing stored" \
	bash -c "! grep -qs 'an offer' '$T/refuse.mail/alice' && [ -z \"\$(ls '$T/refuse.spool/msg' 2>/dev/null)\" ]"
expect_eq "smtp-session, refuse, clean message: 250" \
	"$(e2e refuse "$T/ham.eml" | cut -c1-9)" "250 2.0.0"
check "smtp-session, refuse, clean message: stored with X-Spam-Action" \
	grep -qE "$ACCEPTED" "$T/refuse.mail/alice"
expect_eq "smtp-session, clean message: body intact in the mbox" \
	"$(stored_body refuse)" "$(body_of "$T/ham.eml")"
check "rspamd saw smtp-session's envelope and queue id" \
	wait_for 10 grep -qE 'qid: <[0-9A-Z]+>, ip: 127\.0\.0\.1,.*from: <sender@remote\.example>.*rcpts: <alice@test\.example>' "$RS/rspamd.log"
