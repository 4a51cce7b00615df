# bench/fetch-postfix.sh - Postfix for the benchmarks, never installed
# (sourced by session-bench.sh and relay-bench.sh, which run as root).
#
# The postfix package would become the machine's mail server (it replaces
# exim4 and enables its service). The benchmarks need its smtp-source (the
# load), smtp-sink (a receiver that stores nothing) and a private Postfix
# to compare with, so its files are unpacked into a cache directory
# instead (tests/deps.sh extract: apt-get download, dpkg-deb -x, its
# libraries installed as plain packages) and run from there.
#
#   pf_cache             the cache directory both benchmarks use
#                        (${TMPDIR:-/tmp}/smtp-session-bench-postfix)
#   postfix_fetch DIR    unpack Postfix into DIR (once: a finished unpack
#                        is kept); its commands go first on PATH, its own
#                        libraries on LD_LIBRARY_PATH (the programs look
#                        for them in /usr/lib/postfix)
#   postfix_main_cf      main.cf lines that make a "postfix -c" instance
#                        find its programs, libraries and files in DIR
#   postfix_accounts     the postfix account and postdrop group that an
#                        instance runs as, made when missing
#   postfix_accounts_undo  remove what postfix_accounts made

pf_cache=${TMPDIR:-/tmp}/smtp-session-bench-postfix
pf_root="" pf_made_user="" pf_made_group=""

postfix_fetch() {
	pf_root=$1
	sh "$top/tests/deps.sh" extract postfix "$pf_root" || return 1
	export PATH="$pf_root/usr/sbin:$PATH"
	export LD_LIBRARY_PATH="$pf_root/usr/lib/postfix${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

postfix_main_cf() {
	cat <<-CF
	daemon_directory = $pf_root/usr/lib/postfix/sbin
	command_directory = $pf_root/usr/sbin
	shlib_directory = $pf_root/usr/lib/postfix
	meta_directory = $pf_root/etc/postfix
	sendmail_path = $pf_root/usr/sbin/sendmail
	mailq_path = $pf_root/usr/bin/mailq
	newaliases_path = $pf_root/usr/bin/newaliases
	import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH=$pf_root/usr/lib/postfix
	CF
}

postfix_accounts() {
	if ! getent group postdrop >/dev/null; then
		groupadd --system postdrop || return 1
		pf_made_group=yes
	fi
	if ! getent passwd postfix >/dev/null; then
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin postfix || return 1
		pf_made_user=yes
	fi
	# (postqueue and postdrop stay without their set-gid bit: the
	# benchmarks run them as root, and a set-gid program would not get
	# LD_LIBRARY_PATH; "postfix check" warns about it, nothing more)
}

postfix_accounts_undo() {
	[ -z "$pf_made_user" ] || userdel postfix
	[ -z "$pf_made_group" ] || groupdel postdrop
	pf_made_user="" pf_made_group=""
}
