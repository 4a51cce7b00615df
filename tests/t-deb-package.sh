# t-deb-package.sh - the Debian package as built by make deb: its control
# fields, its files with their modes and owners, its conffiles, lintian,
# its units (systemd-analyze verify, [Install] sections) and what its
# maintainer scripts enable, start, stop and purge. Installing it is
# t-deb-install.sh's job (in a throwaway root).
#
# make deb runs in a copy of the tree, so that nothing is written in the
# real one. The package is built from the sources, not from $BIN: these
# assertions are made once, with the plain build.
. "$(dirname "$0")/lib.sh"
N=26
plan $N
if [ "$BIN" != "$TOP/build" ]; then
	skip $N "the package is built from the sources: tested with the plain build only"
	exit 0
fi

VERSION=$(sed -n 's/^#define VERSION "\(.*\)"$/\1/p' "$TOP/util.h")
ARCH=$(dpkg --print-architecture)
# The units enabled and started at installation, and the others.
ENABLED="relay-agent.timer smtp-local.socket smtp-mkmbox.socket smtp-pickup.path smtp-session.socket"
STATIC="relay-agent.service smtp-pickup.service"
MANUAL="smtp-submission-starttls.service smtp-submission.service"

SRC=$T/src
mkdir -p "$SRC"
(cd "$TOP" && tar -c --exclude=./.git --exclude='./build*' --exclude=./run --exclude=./deps \
	--exclude=./bench/results .) | tar -x -C "$SRC"

# --- make deb ----------------------------------------------------------------
make -C "$SRC" -s deb O="$T/out" >"$T/deb.out" 2>"$T/deb.err"
rc=$?
if [ $rc -eq 0 ]; then ok "make deb builds the package"; else
	nok "make deb builds the package (exit status $rc)"
	tail -n 30 "$T/deb.err" "$T/out/deb/build.log" 2>/dev/null | sed 's/^/   /'
fi
DEB=$T/out/smtp-session_${VERSION}_$ARCH.deb
expect_eq "make deb prints the path of the .deb it leaves in O" \
	"$(tail -n 1 "$T/deb.out"):$([ -f "$DEB" ] && echo exists)" "$DEB:exists"

field() { dpkg-deb -f "$DEB" "$1" 2>/dev/null; }
expect_eq "package name, version (util.h's VERSION) and architecture" \
	"$(field Package) $(field Version) $(field Architecture)" "smtp-session $VERSION $ARCH"
expect_eq "it provides, conflicts with and replaces mail-transport-agent" \
	"$(field Provides):$(field Conflicts):$(field Replaces)" \
	"mail-transport-agent:mail-transport-agent:mail-transport-agent"
deps=$(field Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | LC_ALL=C sort | tr '\n' ' ')
expect_eq "it depends on adduser and the shared libraries it links (libc6, libcrypt1, libudns0)" \
	"$deps" "adduser libc6 libcrypt1 libudns0 "

# --- files -------------------------------------------------------------------
# "MODE OWNER PATH [-> TARGET]" for each file and link; directories apart.
listing() { dpkg-deb -c "$DEB" 2>/dev/null | awk '{ p = $6; for (i = 7; i <= NF; i++) p = p " " $i; print $1, $2, p }'; }
expect_eq "the files of the package, their modes and owners" \
	"$(listing | grep -v '^d' | sed 's|^\([^ ]* [^ ]*\) \./|\1 |' | LC_ALL=C sort -k3)" "$(cat <<-'LIST'
	-rw-r--r-- root/root etc/cron.d/relay-agent
	-rw-r--r-- root/root etc/logrotate.d/smtp-session
	-rw-r--r-- root/root etc/smtp-submission.conf
	-rw-r--r-- root/root etc/stunnel/smarthost-starttls.conf
	-rw-r--r-- root/root etc/stunnel/smarthost.conf
	-rw-r--r-- root/root etc/stunnel/smtps.conf
	-rw-r--r-- root/root etc/stunnel/submission-starttls.conf
	-rw-r--r-- root/root etc/systemd/system/smtp-session.socket.d/loopback.conf
	-rw-r--r-- root/root etc/xinetd.d/smtp
	-rw-r--r-- root/root lib/systemd/system/relay-agent.service
	-rw-r--r-- root/root lib/systemd/system/relay-agent.timer
	-rw-r--r-- root/root lib/systemd/system/smtp-local.socket
	-rw-r--r-- root/root lib/systemd/system/smtp-local@.service
	-rw-r--r-- root/root lib/systemd/system/smtp-mkmbox.socket
	-rw-r--r-- root/root lib/systemd/system/smtp-mkmbox@.service
	-rw-r--r-- root/root lib/systemd/system/smtp-pickup.path
	-rw-r--r-- root/root lib/systemd/system/smtp-pickup.service
	-rw-r--r-- root/root lib/systemd/system/smtp-session.socket
	-rw-r--r-- root/root lib/systemd/system/smtp-session@.service
	-rw-r--r-- root/root lib/systemd/system/smtp-submission-starttls.service
	-rw-r--r-- root/root lib/systemd/system/smtp-submission.service
	lrwxrwxrwx root/root usr/bin/mailq -> ../lib/smtp-session/mailq
	lrwxrwxrwx root/root usr/bin/newaliases -> ../lib/smtp-session/newaliases
	lrwxrwxrwx root/root usr/lib/sendmail -> ../sbin/sendmail
	-rwxr-xr-x root/root usr/lib/smtp-session/clamdscan-filter
	lrwxrwxrwx root/root usr/lib/smtp-session/mailq -> sendmail
	lrwxrwxrwx root/root usr/lib/smtp-session/newaliases -> sendmail
	-rwxr-xr-x root/root usr/lib/smtp-session/rspamc-filter
	-rwxr-xr-x root/root usr/lib/smtp-session/sendmail
	-rwxr-xr-x root/root usr/lib/smtp-session/smtp-mkmbox
	-rwxr-xr-x root/root usr/lib/smtp-session/smtp-postdrop
	-rwxr-xr-x root/root usr/lib/smtp-session/spamc-filter
	-rwxr-xr-x root/root usr/lib/smtp-session/tcpremoteip
	-rwxr-xr-x root/root usr/sbin/relay-agent
	lrwxrwxrwx root/root usr/sbin/sendmail -> ../lib/smtp-session/sendmail
	-rwxr-xr-x root/root usr/sbin/smtp-session
	-rw-r--r-- root/root usr/share/doc/smtp-session/README.md.gz
	-rw-r--r-- root/root usr/share/doc/smtp-session/changelog.gz
	-rw-r--r-- root/root usr/share/doc/smtp-session/copyright
	-rw-r--r-- root/root usr/share/doc/smtp-session/examples/smtp-session.conf
	-rw-r--r-- root/root usr/share/man/man5/smtp-session.conf.5.gz
	lrwxrwxrwx root/root usr/share/man/man8/mailq.8.gz -> sendmail.8.gz
	lrwxrwxrwx root/root usr/share/man/man8/newaliases.8.gz -> sendmail.8.gz
	-rw-r--r-- root/root usr/share/man/man8/relay-agent.8.gz
	-rw-r--r-- root/root usr/share/man/man8/sendmail.8.gz
	-rw-r--r-- root/root usr/share/man/man8/smtp-mkmbox.8.gz
	-rw-r--r-- root/root usr/share/man/man8/smtp-session.8.gz
	-rw-r--r-- root/root usr/share/smtp-session/filter-loopback.conf
	-rw-r--r-- root/root usr/share/smtp-session/rblsmtpd.conf
	LIST
)"
expect_eq "every directory is root's, mode 0755" \
	"$(listing | grep '^d' | awk '{print $1, $2}' | sort -u)" "drwxr-xr-x root/root"
mkdir -p "$T/ctl" "$T/x"
dpkg-deb -e "$DEB" "$T/ctl" 2>/dev/null
dpkg-deb -x "$DEB" "$T/x" 2>/dev/null
# /etc/smtp-session.conf is not among them: the postinst writes it.
expect_eq "the static files in /etc are conffiles; /etc/smtp-session.conf is not shipped" \
	"$(LC_ALL=C sort "$T/ctl/conffiles" 2>/dev/null)" "$(cat <<-'LIST'
	/etc/cron.d/relay-agent
	/etc/logrotate.d/smtp-session
	/etc/smtp-submission.conf
	/etc/stunnel/smarthost-starttls.conf
	/etc/stunnel/smarthost.conf
	/etc/stunnel/smtps.conf
	/etc/stunnel/submission-starttls.conf
	/etc/systemd/system/smtp-session.socket.d/loopback.conf
	/etc/xinetd.d/smtp
	LIST
)"

# --- the programs ------------------------------------------------------------
for p in smtp-session relay-agent; do
	f=$T/x/usr/sbin/$p
	check "$p is dynamically linked (libc.so.6) with dpkg-buildflags' hardening (BIND_NOW, fortified calls)" \
		bash -c "readelf -d '$f' | grep -q 'NEEDED.*\[libc\.so\.6\]' &&
			readelf -d '$f' | grep -q 'BIND_NOW' &&
			readelf --dyn-syms -W '$f' | grep -q '__[a-z_]*_chk'"
	expect_eq "the packaged $p -V prints the package's version" \
		"$("$f" -V 2>&1)" "$p $VERSION"
done
# The version has one source: a changelog that says otherwise stops the
# build before anything is compiled.
cp -a "$SRC" "$T/src2"
sed -i "1s/(\([^)]*\))/(\1.1)/" "$T/src2/debian/changelog"
(cd "$T/src2" && make -s -f debian/rules execute_before_dh_auto_build) >"$T/vcheck.out" 2>&1
rc=$?
check "a debian/changelog version other than util.h's VERSION stops the build" \
	bash -c "[ $rc -ne 0 ] && grep -q 'util.h says $VERSION' '$T/vcheck.out'"

# --- lintian -----------------------------------------------------------------
lintian --pedantic "$DEB" >"$T/lintian.out" 2>/dev/null
expect_eq "lintian reports no error" "$(grep '^E: ' "$T/lintian.out")" ""
# Each warning kept is explained in the README's list.
unlisted=""
for tag in $(sed -n 's/^W: smtp-session[^:]*: \([^ ]*\).*/\1/p' "$T/lintian.out" | sort -u); do
	grep -q "^- \`$tag\`" "$TOP/README.md" || unlisted="$unlisted $tag"
done
expect_eq "every lintian warning is one the README lists and explains" "$unlisted" ""
sed 's/^/# lintian: /' "$T/lintian.out"

# --- the units ---------------------------------------------------------------
# installs UNIT - the [Install] targets of UNIT.
installs() {
	sed -n '/^\[Install\]/,/^\[/s/^WantedBy=//p' "$T/x/lib/systemd/system/$1" 2>/dev/null | tr '\n' ' '
}
got="" want=""
for u in $ENABLED; do
	got="$got$u: $(installs "$u")
"
	case $u in *.socket) t=sockets.target;; *.path) t=paths.target;; *.timer) t=timers.target;; esac
	want="$want$u: $t 
"
done
expect_eq "each unit the package enables has its [Install] target" "$got" "$want"

# verify: the units with the paths they name moved into the unpacked
# package, the drop-in found through SYSTEMD_UNIT_PATH.
V=$T/v
cp -a "$T/x" "$V"
for f in "$V"/lib/systemd/system/*; do
	sed -i -e "s|/usr/sbin/|$V/usr/sbin/|g" -e "s|/usr/lib/smtp-session/|$V/usr/lib/smtp-session/|g" \
		-e "s|/etc/|$V/etc/|g" "$f"
done
units=$(cd "$V/lib/systemd/system" && ls)
verify() {
	(cd / && SYSTEMD_UNIT_PATH="$V/etc/systemd/system:$V/lib/systemd/system:" \
		MANPATH="$V/usr/share/man" systemd-analyze verify "$@" 2>&1)
}
# shellcheck disable=SC2086
out=$(verify $units)
expect_eq "systemd-analyze verify accepts every unit of the package" "$?:$out" "0:"
cp "$V/etc/systemd/system/smtp-session.socket.d/loopback.conf" "$T/loopback.conf"
echo "NoSuchKey=1" >>"$V/etc/systemd/system/smtp-session.socket.d/loopback.conf"
check "systemd-analyze reads the loopback drop-in with the socket unit" \
	bash -c "$(declare -f verify); V='$V'; verify smtp-session.socket | grep -q 'loopback.conf:.*NoSuchKey'"
# The addresses the socket listens on: the unit's, then the drop-in's
# (an empty ListenStream= clears the list).
listen=$(cat "$T/x/lib/systemd/system/smtp-session.socket" "$T/loopback.conf" |
	awk -F= '/^ListenStream=/ { if ($2 == "") n = 0; else l[n++] = $2 }
		END { for (i = 0; i < n; i++) printf "%s ", l[i] }')
expect_eq "port 25 on the loopback addresses only after installation" "$listen" "127.0.0.1:25 [::1]:25 "
check "the cron line runs relay-agent as root, unless systemd is the init system" \
	grep -qE '^\*/5 \* \* \* \*[[:space:]]+root[[:space:]]+\[ -d /run/systemd/system \] \|\| /usr/sbin/relay-agent -c /etc/smtp-session.conf$' \
	"$T/x/etc/cron.d/relay-agent"

# --- the maintainer scripts --------------------------------------------------
# words FILE PATTERN - the quoted unit names on lines matching PATTERN.
words() {
	grep -E "$2" "$1" 2>/dev/null | grep -o "'[^']*'" | tr -d "'" | LC_ALL=C sort -u | tr '\n' ' '
}
sorted() { printf '%s\n' "$@" | LC_ALL=C sort -u | tr '\n' ' '; }
enabled=$(LC_ALL=C comm -23 <(words "$T/ctl/postinst" 'deb-systemd-helper enable ' | tr ' ' '\n') \
	<(words "$T/ctl/postinst" 'deb-systemd-helper debian-installed ' | tr ' ' '\n') | grep . | tr '\n' ' ')
expect_eq "the postinst enables the sockets, the path unit and the timer (was-enabled: a choice of the administrator stays)" \
	"$enabled" "$(sorted $ENABLED)"
expect_eq "the postinst starts them where systemd runs (restarts them on upgrade)" \
	"$(words "$T/ctl/postinst" 'deb-systemd-invoke \$_dh_action ')" "$(sorted $ENABLED)"
expect_eq "the submission services are neither enabled nor started, only restarted on upgrade when they run" \
	"$(words "$T/ctl/postinst" 'deb-systemd-helper debian-installed '):$(grep "try-restart" "$T/ctl/postinst" | grep -o "'[^']*'" | tr -d "'" | LC_ALL=C sort | tr '\n' ' ')" \
	"$(sorted $MANUAL):$(sorted $MANUAL)"
expect_eq "the prerm stops every unit and service on removal where systemd runs" \
	"$(words "$T/ctl/prerm" 'deb-systemd-invoke stop ') $(grep -oE '(relay-agent|smtp-pickup|smtp-submission|smtp-submission-starttls)\.service' "$T/ctl/prerm" | LC_ALL=C sort -u | tr '\n' ' ')" \
	"$(sorted $ENABLED) $(sorted $STATIC $MANUAL)"
expect_eq "the postrm forgets the enablement of every unit on purge" \
	"$(words "$T/ctl/postrm" 'deb-systemd-helper purge ')" "$(sorted $ENABLED $MANUAL)"

# --- the README --------------------------------------------------------------
expect_eq "the README's Installing section starts with make deb and apt-get install ./build/...deb" \
	"$(sed -n '/^### Installing/,/^#/p' "$TOP/README.md" | grep -m2 '^    ' | sed 's/ *#.*//; s/^ *//')" \
	"make deb
apt-get install ./build/smtp-session_${VERSION}_$ARCH.deb"
