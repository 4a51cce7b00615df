# t-clamdscan.sh - contrib/filters/clamdscan-filter against a real clamd:
# run in the foreground with a private configuration, socket and
# signature database holding only the EICAR test signature (no
# freshclam, no download), checked on its own and as the filter of
# smtp-session: EICAR in the body or in a base64 attachment refused, a
# clean message stored unchanged, clamd unreachable or a message over
# clamd's size limits refused rather than passed unscanned.
. "$(dirname "$0")/lib.sh"
plan 16

F=$FILTERS/clamdscan-filter
if ! command -v clamd >/dev/null || ! command -v clamdscan >/dev/null; then
	skip_all "clamd or clamdscan is not installed (packages clamav-daemon, clamdscan)"
fi

CL=$T/clamav
mkdir -p "$CL/db" "$CL/tmp"
# The one signature: EICAR's string anywhere in a scanned object.
printf 'Eicar-Test-Signature:0:*:%s\n' "$(printf '%s' "$EICAR" | od -An -tx1 | tr -d ' \n')" \
	>"$CL/db/eicar.ndb"
cat >"$CL/clamd.conf" <<-EOF2
	Foreground yes
	LocalSocket $CL/clamd.sock
	DatabaseDirectory $CL/db
	TemporaryDirectory $CL/tmp
	LogFile $CL/clamd.log
	PidFile $CL/clamd.pid
	User nobody
	MaxFileSize 1M
	MaxScanSize 1M
	AlertExceedsMax yes
EOF2
chown -R nobody: "$CL"
if [ -z "$SKIP" ]; then
	bg clamd -c "$CL/clamd.conf" >"$CL/clamd.out" 2>&1
	if ! wait_for 120 clamdscan --config-file="$CL/clamd.conf" --ping 1; then
		echo "# clamd log:"; tail -n 20 "$CL/clamd.log" "$CL/clamd.out" | sed 's/^/#   /'
		skip_all "clamd did not start within 120 s"
	fi
fi
check "clamd runs in the foreground with one signature, EICAR" \
	grep -q 'Loaded 1 signatures' "$CL/clamd.log"
CLAMD=(-- "--config-file=$CL/clamd.conf")

message "$T/ham.eml" "lunch on friday" "Shall we meet at noon by the fountain?"
message "$T/virus.eml" "the file" "$EICAR"
# EICAR as a base64 attachment: found only by clamd's MIME decoding.
{
	sed '/^Content-Type:/,$d' "$T/ham.eml"
	printf '%s\n' 'Content-Type: multipart/mixed; boundary="b1"' "" "--b1" \
		"Content-Type: text/plain" "" "See the attachment." "--b1" \
		"Content-Type: application/octet-stream; name=\"tool.com\"" \
		"Content-Transfer-Encoding: base64" "" "$(printf '%s' "$EICAR" | base64)" "--b1--"
} >"$T/attach.eml"
# Messages over clamd's MaxFileSize (1 MiB here), one with EICAR at the
# end, past the first MiB.
{ cat "$T/ham.eml"; head -c 1500000 /dev/zero | tr '\0' 'x' | fold -w 76; } >"$T/big.eml"
{ cat "$T/big.eml"; echo "$EICAR"; } >"$T/bigvirus.eml"

# --- the wrapper on its own ----------------------------------------------
rc=$(run_filter "$T/o1" "$T/e1" "$F" "${CLAMD[@]}" <"$T/ham.eml")
expect_eq "clean message: exit 0" "$rc" 0
check "clean message: stored exactly as it came" cmp -s "$T/o1" "$T/ham.eml"
rc=$(run_filter "$T/o2" "$T/e2" "$F" "${CLAMD[@]}" <"$T/virus.eml")
expect_eq "EICAR in the body: exit 100, the signature's name as the reply text" \
	"$rc:$(head -n 1 "$T/e2")" "100:Virus found: Eicar-Test-Signature.UNOFFICIAL"
check "EICAR in the body: nothing on stdout" test ! -s "$T/o2"
rc=$(run_filter "$T/o3" "$T/e3" "$F" "${CLAMD[@]}" <"$T/attach.eml")
expect_eq "EICAR in a base64 attachment: exit 100" "$rc" 100
rc=$(run_filter "$T/o4" "$T/e4" "$F" -- "--config-file=$T/no-clamd.conf" <"$T/ham.eml")
expect_eq "clamd unreachable: exit 111 (try again later), nothing on stdout" \
	"$rc:$(wc -c <"$T/o4")" "111:0"
rc=$(run_filter "$T/o5" "$T/e5" "$F" "${CLAMD[@]}" <"$T/big.eml")
expect_eq "a message over clamd's MaxFileSize: refused, never stored unscanned" \
	"$rc:$(head -n 1 "$T/e5"):$(wc -c <"$T/o5")" "100:Message too large to scan for viruses:0"
rc=$(run_filter "$T/o6" "$T/e6" "$F" "${CLAMD[@]}" <"$T/bigvirus.eml")
expect_eq "EICAR after the first MiB of a large message: refused" "$rc" 100
printf 'TCPSocket %s\nTCPAddr 127.0.0.1\n' "$(free_port)" >"$T/tcp.conf"
rc=$(run_filter "$T/o7" "$T/e7" "$F" -- "--config-file=$T/tcp.conf" <"$T/ham.eml")
expect_eq "clamd named by a TCP address only: exit 111 (no descriptor passing)" "$rc" 111

# --- as smtp-session's filter ---------------------------------------------
e2e_conf av "filter $F -- --config-file=$CL/clamd.conf"
expect_eq "smtp-session, EICAR: 554 5.7.1 with the wrapper's text" \
	"$(e2e av "$T/virus.eml")" "554 5.7.1 Virus found: Eicar-Test-Signature.UNOFFICIAL"
check "smtp-session, EICAR: nothing stored" \
	bash -c "! grep -qs 'the file' '$T/av.mail/alice' && [ -z \"\$(ls '$T/av.spool/msg' 2>/dev/null)\" ]"
expect_eq "smtp-session, EICAR attachment: 554 5.7.1" \
	"$(e2e av "$T/attach.eml" | cut -c1-9)" "554 5.7.1"
expect_eq "smtp-session, clean message: 250" "$(e2e av "$T/ham.eml" | cut -c1-9)" "250 2.0.0"
expect_eq "smtp-session, clean message: body intact in the mbox" \
	"$(stored_body av)" "$(body_of "$T/ham.eml")"
expect_eq "the private database still holds only the EICAR signature" \
	"$(ls "$CL/db")" "eicar.ndb"
