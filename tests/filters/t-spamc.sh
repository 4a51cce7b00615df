# t-spamc.sh - contrib/filters/spamc-filter against a real spamd: run in
# the foreground on a loopback port with a private configuration (no
# network tests, no Bayes, report_safe 0), checked on its own (stdin,
# stdout, exit status, reply text) and as the filter of smtp-session:
# GTUBE refused or tagged, a clean message stored with SpamAssassin's
# headers and its body intact, spamd unreachable deferred.
. "$(dirname "$0")/lib.sh"
plan 23

F=$FILTERS/spamc-filter
if ! command -v spamd >/dev/null || ! command -v spamc >/dev/null; then
	skip_all "spamd or spamc is not installed (packages spamd, spamc)"
elif [ -n "${NO_NETNS:-}" ]; then
	skip_all "no private network namespace (needs root and unshare)"
fi

# spamd as nobody, with a site configuration of its own: the plugin
# loaders of the installed one and our local.cf.
SA=$T/sa
mkdir -p "$SA/site"
cp /etc/spamassassin/*.pre "$SA/site/" 2>/dev/null
cat >"$SA/site/local.cf" <<-EOF2
	report_safe 0
	use_bayes 0
	bayes_auto_learn 0
	skip_rbl_checks 1
	dns_available no
	required_score 5.0
EOF2
chown -R nobody: "$SA" 2>/dev/null
PORT=$(free_port)
if [ -z "$SKIP" ]; then
	bg spamd --syslog=stderr --local --nouser-config --max-children=2 --min-children=1 \
		--listen="127.0.0.1:$PORT" --pidfile="$SA/spamd.pid" --username=nobody \
		--groupname=nogroup --helper-home-dir="$SA" --siteconfigpath="$SA/site" \
		>"$SA/spamd.log" 2>&1
	if ! wait_for 120 grep -q 'server successfully spawned child' "$SA/spamd.log"; then
		echo "# spamd log:"; tail -n 20 "$SA/spamd.log" | sed 's/^/#   /'
		skip_all "spamd did not start within 120 s"
	fi
fi
check "spamd runs in the foreground on 127.0.0.1:$PORT" wait_port "$PORT"
SPAMC=(-- -d 127.0.0.1 -p "$PORT")

message "$T/ham.eml" "lunch on friday" "Shall we meet at noon by the fountain?"
message "$T/spam.eml" "an offer" "$GTUBE"

# --- the wrapper on its own ----------------------------------------------
rc=$(run_filter "$T/o1" "$T/e1" "$F" "${SPAMC[@]}" <"$T/ham.eml")
expect_eq "tag (default), clean message: exit 0" "$rc" 0
check "tag, clean message: SpamAssassin's X-Spam-Status: No header added" \
	grep -q '^X-Spam-Status: No, score=' "$T/o1"
expect_eq "tag, clean message: body unchanged" "$(body_of "$T/o1")" "$(body_of "$T/ham.eml")"

rc=$(run_filter "$T/o2" "$T/e2" "$F" -m tag "${SPAMC[@]}" <"$T/spam.eml")
expect_eq "tag, GTUBE: exit 0 (stored, not refused)" "$rc" 0
check "tag, GTUBE: X-Spam-Flag: YES and the GTUBE test named" \
	bash -c "grep -q '^X-Spam-Flag: YES' '$T/o2' && grep -qE 'tests=([A-Z_0-9]+,)*GTUBE' '$T/o2'"

rc=$(run_filter "$T/o3" "$T/e3" "$F" -m refuse "${SPAMC[@]}" <"$T/spam.eml")
expect_eq "refuse, GTUBE: exit 100" "$rc" 100
# GTUBE is worth 1000 points; the other rules move the total a little.
SPAMTEXT='^Message refused as spam \(score (99[0-9]|1000)\.[0-9]+, limit 5\.0\)$'
check "refuse, GTUBE: the reply text is the first line of stderr" \
	grep -qE "$SPAMTEXT" <(head -n 1 "$T/e3")
check "refuse, GTUBE: nothing on stdout" test ! -s "$T/o3"

rc=$(run_filter "$T/o4" "$T/e4" "$F" -m refuse "${SPAMC[@]}" <"$T/ham.eml")
expect_eq "refuse, clean message: exit 0" "$rc" 0
check "refuse, clean message: stored exactly as it came" cmp -s "$T/o4" "$T/ham.eml"

rc=$(run_filter "$T/o5" "$T/e5" "$F" -m refuse -s 2000 "${SPAMC[@]}" <"$T/spam.eml")
expect_eq "refuse -s 2000, GTUBE (1000 points): below the limit, exit 0" "$rc" 0
rc=$(run_filter "$T/o6" "$T/e6" env SPAMC_FILTER_MODE=refuse SPAMC_FILTER_SCORE=500 \
	"$F" "${SPAMC[@]}" <"$T/spam.eml")
check "mode and score from SPAMC_FILTER_MODE, SPAMC_FILTER_SCORE: refused" \
	grep -qE '^100:Message refused as spam \(score [0-9.]+, limit 500\)$' <(echo "$rc:$(head -n 1 "$T/e6")")

DEAD=$(free_port)
rc=$(run_filter "$T/o7" "$T/e7" "$F" -m refuse -- -d 127.0.0.1 -p "$DEAD" <"$T/ham.eml")
expect_eq "refuse, spamd unreachable: exit 111 (try again later)" "$rc" 111
rc=$(run_filter "$T/o8" "$T/e8" "$F" -- -d 127.0.0.1 -p "$DEAD" <"$T/ham.eml")
expect_eq "tag, spamd unreachable: exit 111, never stored unscanned" "$rc" 111
rc=$(run_filter "$T/o9" "$T/e9" "$F" -m drop "${SPAMC[@]}" <"$T/ham.eml")
expect_eq "an unknown mode: exit 111 with the reason" \
	"$rc:$(head -n 1 "$T/e9")" '111:spamc-filter: unknown mode "drop" (tag or refuse)'

# --- as smtp-session's filter ---------------------------------------------
e2e_conf refuse "filter $F -m refuse -- -d 127.0.0.1 -p $PORT"
check "smtp-session, refuse, GTUBE: 554 5.7.1 with the wrapper's text" \
	grep -qE "^554 5\.7\.1 ${SPAMTEXT#^}" <(e2e refuse "$T/spam.eml")
check "smtp-session, refuse, GTUBE: nothing stored" \
	bash -c "! grep -qs 'an offer' '$T/refuse.mail/alice' && [ -z \"\$(ls '$T/refuse.spool/msg' 2>/dev/null)\" ]"
expect_eq "smtp-session, refuse, clean message: 250" \
	"$(e2e refuse "$T/ham.eml" | cut -c1-9)" "250 2.0.0"

e2e_conf tag "filter $F -m tag -- -d 127.0.0.1 -p $PORT"
expect_eq "smtp-session, tag, clean message: 250" "$(e2e tag "$T/ham.eml" | cut -c1-9)" "250 2.0.0"
check "smtp-session, tag, clean message: stored with X-Spam-Status: No" \
	grep -q '^X-Spam-Status: No, score=' "$T/tag.mail/alice"
expect_eq "smtp-session, tag, clean message: body intact in the mbox" \
	"$(stored_body tag)" "$(body_of "$T/ham.eml")"
got=$(e2e tag "$T/spam.eml" | cut -c1-9)
check "smtp-session, tag, GTUBE: 250 and stored with X-Spam-Flag: YES" \
	bash -c "[ '$got' = '250 2.0.0' ] && grep -q '^X-Spam-Flag: YES' '$T/tag.mail/alice'"
