# Makefile - smtp-session and relay-agent.
#
#   make            build into build/
#   make run        install what is missing, build, serve 127.0.0.1:2525
#   make debug      the same port as a debug sink: reports on the terminal
#   make check      install what is missing, build, run every test, then
#                   run them again under ASan+UBSan (warnings are errors)
#   make check-fresh  make check in a new Debian 12 root (tests/fresh-root.sh)
#   make check-filters  install spamd, rspamd and clamd (services left
#                   disabled) and test contrib/filters against them
#   make install    PREFIX (/usr/local) and DESTDIR honoured
#   make deb        the Debian package (debian/), left in $(O)/

CC      ?= cc
O       ?= build
CFLAGS  ?= -O2 -g
# CPPFLAGS, CFLAGS and LDFLAGS are the packager's (dpkg-buildflags); a
# warning fails the build only where WERROR=-Werror is set: make check,
# CI and the fuzz build.
WERROR   =
WARN     = -Wall -Wextra $(WERROR) -std=c11 -D_GNU_SOURCE
# Installed layout (make install): programs, man pages and units under
# PREFIX; the xinetd entry, the cron file, the sample configurations and
# the stunnel files (stunnel/: submission on ports 465 and 587, smarthost
# clients for 465 and 587) in SYSCONFDIR; the content filter wrappers and
# tcpremoteip in LIBEXECDIR; the unit drop-ins in DATADIR; all of it
# below DESTDIR.
PREFIX     = /usr/local
DESTDIR    =
SBINDIR    = $(PREFIX)/sbin
# sendmail, mailq, newaliases and their helpers: not on the PATH, so they
# never shadow another MTA's; link them in by hand or by the package.
LIBEXECDIR = $(PREFIX)/lib/smtp-session
# The group of the maildrop (spool_dir/maildrop) and of smtp-postdrop.
DROPGROUP  = smtpdrop
MANDIR     = $(PREFIX)/share/man
UNITDIR    = $(PREFIX)/lib/systemd/system
SYSCONFDIR = /etc
DATADIR    = $(PREFIX)/share/smtp-session
UNITS      = smtp-session.socket smtp-session@.service \
             relay-agent.service relay-agent.timer smtp-submission.service \
             smtp-local.socket smtp-local@.service smtp-pickup.path smtp-pickup.service \
             smtp-mkmbox.socket smtp-mkmbox@.service smtp-submission-starttls.service
# Programs in LIBEXECDIR and files in DATADIR (sources).
LIBEXECFILES = contrib/filters/spamc-filter contrib/filters/rspamc-filter \
               contrib/filters/clamdscan-filter contrib/rblsmtpd/tcpremoteip
DATAFILES    = contrib/filters/filter-loopback.conf contrib/rblsmtpd/rblsmtpd.conf
# Files in SYSCONFDIR: installed name and source (NAME:SOURCE).
ETCFILES   = xinetd.d/smtp:xinetd.d/smtp cron.d/relay-agent:cron.d/relay-agent \
             logrotate.d/smtp-session:logrotate.d/smtp-session \
             smtp-session.conf:etc/smtp-session.conf.sample \
             smtp-submission.conf:etc/smtp-submission.conf.sample \
             stunnel/smtps.conf:stunnel/smtps.conf \
             stunnel/smarthost.conf:stunnel/smarthost.conf \
             stunnel/submission-starttls.conf:stunnel/submission-starttls.conf \
             stunnel/smarthost-starttls.conf:stunnel/smarthost-starttls.conf
# Of those, the ones uninstall keeps when they differ from the source.
ETCCONFS   = smtp-session.conf:etc/smtp-session.conf.sample \
             smtp-submission.conf:etc/smtp-submission.conf.sample \
             stunnel/smtps.conf:stunnel/smtps.conf \
             stunnel/smarthost.conf:stunnel/smarthost.conf \
             stunnel/submission-starttls.conf:stunnel/submission-starttls.conf \
             stunnel/smarthost-starttls.conf:stunnel/smarthost-starttls.conf
# The pid file of the system's xinetd (Debian's), told to reload when
# uninstall removes its entry.
XINETD_PIDFILE = /run/xinetd.pid

ifeq ($(SAN),1)
CFLAGS   = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

COMMON_OBJS  = util.o log.o config.o users.o users-expand.o forward.o linereader.o addr.o \
               envelope.o spool.o spool-drop.o spool-aside.o spool-stage.o deliver.o mboxrd.o \
               bufout.o inject.o mkmbox.o stage.o turnlock.o
MIME_SRC     = mime.c mime-leaf.c mime-out.c mime-header.c mime-charset.c \
               mime-transfer.c html-text.c
SESSION_OBJS = smtp-session.o smtp-signals.o smtp-data.o smtp-auth.o peer.o filter.o dataread.o \
               $(MIME_SRC:.c=.o) auth.o base64.o
RELAY_OBJS   = relay-agent.o relay-sched.o relay-pool.o relay-msg.o relay-local.o relay-worker.o \
               relay-admin.o pickup.o dns.o smtp-client.o smtp-body.o mime7.o bounce.o base64.o
SENDMAIL_OBJS = sendmail.o submit.o base64.o util.o config.o users.o users-expand.o \
               forward.o mkmbox.o log.o addr.o bufout.o linereader.o
POSTDROP_OBJS = smtp-postdrop.o spool.o spool-drop.o spool-aside.o envelope.o util.o log.o config.o \
                users.o users-expand.o forward.o mkmbox.o addr.o
MKMBOX_OBJS  = smtp-mkmbox.o mkmbox.o forward.o users.o users-expand.o config.o util.o log.o
PROGS        = smtp-session relay-agent sendmail smtp-postdrop smtp-mkmbox

all: $(addprefix $(O)/,$(PROGS))

# No -lcrypt: auth.c loads libcrypt on the first AUTH (dlopen is in libc).
$(O)/smtp-session: $(addprefix $(O)/,$(SESSION_OBJS) $(COMMON_OBJS))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

$(O)/relay-agent: $(addprefix $(O)/,$(RELAY_OBJS) $(COMMON_OBJS))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -ludns

$(O)/sendmail: $(addprefix $(O)/,$(SENDMAIL_OBJS))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

$(O)/smtp-postdrop: $(addprefix $(O)/,$(POSTDROP_OBJS))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

$(O)/smtp-mkmbox: $(addprefix $(O)/,$(MKMBOX_OBJS))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

$(O)/%.o: %.c $(wildcard *.h) | $(O)
	$(CC) $(WARN) -DSYSCONFDIR='"$(SYSCONFDIR)"' -DSBINDIR='"$(SBINDIR)"' \
		-DLIBEXECDIR='"$(LIBEXECDIR)"' -DSPOOL_DROP_GROUP='"$(DROPGROUP)"' \
		$(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O):
	mkdir -p $@

deps-build:
	@sh tests/deps.sh build
deps-run:
	@sh tests/deps.sh run
deps-check:
	@sh tests/deps.sh check

run: deps-run
	$(MAKE) all
	sh tests/make-run.sh

# debug - the debug sink (smtp-session -d) on 127.0.0.1:2525: for every
# message, the envelope, headers, attachments and text, on this terminal
# (log stderr; socket activation keeps stderr, the client gets stdin and
# stdout). Point an application at it; Ctrl-C stops it.
debug: deps-run
	$(MAKE) $(O)/smtp-session
	mkdir -p run
	printf 'hostname debug-sink.localhost\nlog stderr\n' >run/debug.conf
	@echo "debug sink on 127.0.0.1:2525, reports below (Ctrl-C stops it)"
	@echo "try: swaks --server 127.0.0.1:2525 --to anyone@example.com"
	exec systemd-socket-activate -l 127.0.0.1:2525 -a --inetd \
		$(abspath $(O))/smtp-session -d -c $(CURDIR)/run/debug.conf

# (-B: every object compiled again with -Werror, even when an earlier
# plain make left it up to date)
check: deps-check deps-deb deps-debroot
	$(MAKE) -B WERROR=-Werror all
	$(MAKE) -B WERROR=-Werror O=build-asan SAN=1 all
	$(MAKE) fuzz-build
	sh tests/run build build-asan

# check-fresh - make check in a copy of a Debian 12 root made by
# debootstrap (minbase, git and make; cached by tests/debroot.sh, as the
# root of deps-debroot), on a fresh clone of the commit checked out.
check-fresh:
	sh tests/fresh-root.sh

# check-filters - not part of check: installs the scanners (spamd, rspamd,
# clamd; their services are left disabled and never started) and tests
# the wrappers of contrib/filters against the real daemons, run here in
# the foreground with private configurations. A daemon that cannot run
# here is reported as skipped.
check-filters: deps-build
	@sh tests/filters/deps.sh
	$(MAKE) all
	bash tests/filters/run build

# install - the files of "Installed layout" in SPEC.md. The files in
# SYSCONFDIR are the administrator's once installed: an existing one is
# kept. @SBINDIR@ and @SYSCONFDIR@ in the units, the xinetd and cron
# files and the sample are replaced by the installed paths.
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g'
MAN8 = man/smtp-session.8 man/relay-agent.8 man/sendmail.8 man/smtp-mkmbox.8
# smtp-postdrop is made setgid $(DROPGROUP) (mode 2755) when root installs
# without DESTDIR and the group exists (groupadd --system $(DROPGROUP)
# first, as for the service account); a package does that in its
# postinst instead.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(SYSCONFDIR)/xinetd.d $(DESTDIR)$(SYSCONFDIR)/cron.d \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(SYSCONFDIR)/stunnel \
		$(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DATADIR)
	install -m 755 $(O)/smtp-session $(O)/relay-agent $(DESTDIR)$(SBINDIR)/
	install -m 755 $(O)/sendmail $(O)/smtp-mkmbox $(O)/smtp-postdrop $(DESTDIR)$(LIBEXECDIR)/
	ln -sf sendmail $(DESTDIR)$(LIBEXECDIR)/mailq
	ln -sf sendmail $(DESTDIR)$(LIBEXECDIR)/newaliases
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && getent group $(DROPGROUP) >/dev/null; then \
		echo "chgrp $(DROPGROUP) $(LIBEXECDIR)/smtp-postdrop; chmod 2755 ..."; \
		chgrp $(DROPGROUP) $(LIBEXECDIR)/smtp-postdrop && \
		chmod 2755 $(LIBEXECDIR)/smtp-postdrop || exit 1; \
	else \
		echo "note: for the maildrop, make $(LIBEXECDIR)/smtp-postdrop setgid $(DROPGROUP): chgrp $(DROPGROUP), chmod 2755"; \
	fi
	install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 man/smtp-session.conf.5 $(DESTDIR)$(MANDIR)/man5/
	for u in $(UNITS); do \
		$(SUBST) systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u.tmp && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		mv -f $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	for f in $(LIBEXECFILES); do \
		d=$(DESTDIR)$(LIBEXECDIR)/$${f##*/}; \
		$(SUBST) $$f >$$d.tmp && chmod 755 $$d.tmp && mv -f $$d.tmp $$d || exit 1; \
	done
	for f in $(DATAFILES); do \
		d=$(DESTDIR)$(DATADIR)/$${f##*/}; \
		$(SUBST) $$f >$$d.tmp && chmod 644 $$d.tmp && mv -f $$d.tmp $$d || exit 1; \
	done
	@for fs in $(ETCFILES); do \
		f=$${fs%%:*}; src=$${fs#*:}; \
		dst=$(DESTDIR)$(SYSCONFDIR)/$$f; \
		if [ -e $$dst ]; then echo "kept existing $$dst"; continue; fi; \
		echo "$(SUBST) $$src >$$dst"; \
		$(SUBST) $$src >$$dst.tmp && chmod 644 $$dst.tmp && \
		mv -f $$dst.tmp $$dst || exit 1; \
	done

# uninstall - remove what install put there, except a configuration file
# that differs from its sample (it holds the administrator's settings).
# Without DESTDIR it acts on the running system: first every installed
# unit that systemd runs from UNITDIR is stopped and disabled, and after
# the files are gone a running xinetd (XINETD_PIDFILE) is told to reload,
# so that no launcher goes on accepting connections for a program that is
# no longer there. Then it says what it leaves: the data is yours.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		for u in $(UNITS); do \
			case $$u in *@*) continue;; esac; \
			[ "$$(systemctl show -P FragmentPath $$u 2>/dev/null)" = "$(UNITDIR)/$$u" ] || continue; \
			echo "systemctl disable --now $$u"; systemctl disable --now $$u || exit 1; \
		done; \
	fi
	rm -f $(DESTDIR)$(SBINDIR)/smtp-session $(DESTDIR)$(SBINDIR)/relay-agent
	rm -f $(addprefix $(DESTDIR)$(LIBEXECDIR)/,sendmail mailq newaliases smtp-postdrop smtp-mkmbox)
	-rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
		$(DESTDIR)$(MANDIR)/man5/smtp-session.conf.5
	for u in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$u; done
	for f in $(LIBEXECFILES); do rm -f $(DESTDIR)$(LIBEXECDIR)/$${f##*/}; done
	for f in $(DATAFILES); do rm -f $(DESTDIR)$(DATADIR)/$${f##*/}; done
	-rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DATADIR) 2>/dev/null
	rm -f $(DESTDIR)$(SYSCONFDIR)/xinetd.d/smtp $(DESTDIR)$(SYSCONFDIR)/cron.d/relay-agent \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d/smtp-session
	@for fs in $(ETCCONFS); do \
		conf=$(DESTDIR)$(SYSCONFDIR)/$${fs%%:*}; src=$${fs#*:}; \
		if [ -e $$conf ]; then \
			if $(SUBST) $$src | cmp -s - $$conf; then \
				echo "rm -f $$conf"; rm -f $$conf; \
			else echo "kept $$conf (changed from the sample)"; fi; \
		fi; \
	done
	@if [ -z "$(DESTDIR)" ]; then \
		[ -d /run/systemd/system ] && systemctl daemon-reload; \
		pid=$$(cat $(XINETD_PIDFILE) 2>/dev/null); \
		if [ -n "$$pid" ] && kill -0 "$$pid" 2>/dev/null; then \
			echo "kill -HUP $$pid (xinetd reloads without its smtp entry and stops listening on its port)"; \
			kill -HUP "$$pid"; \
		fi; \
		echo "A tcpserver or other launcher you started yourself still runs: stop it."; \
	fi
	@conf=$(DESTDIR)$(SYSCONFDIR)/smtp-session.conf; \
	key() { v=$$(sed -n "s/^$$1[[:space:]]\{1,\}//p" $$conf 2>/dev/null | tail -n 1); echo "$${v:-$$2}"; }; \
	echo "Left in place (remove them yourself when you no longer want them):"; \
	users=$$(key users $(SYSCONFDIR)/smtp-session.users); \
	[ "$$users" = system ] && users="none (users system: the host's accounts, $$(key aliases /etc/aliases))"; \
	echo "  the users file:          $$users"; \
	echo "  the mailboxes:           $$(key mailbox_dir /var/vmail)"; \
	echo "  the queue:               $$(key spool_dir /var/spool/smtp-session)"; \
	echo "  the log:                 $$(key log syslog) (and /var/log/smtp-session)"; \
	echo "  the service account:     vmail (userdel vmail)"

# deb - the Debian package, built by dpkg-buildpackage from debian/ in a
# copy of the tree ($(O)/deb/src: its clean step and its output in ../
# stay there); the .deb is moved to $(O)/ and its path printed.
# deps-deb installs what that needs (as root; only what is missing):
# dpkg-dev and build-essential, debian/control's Build-Depends, lintian.
DEB_JOBS ?= 2
deps-deb:
	@if ! command -v dpkg-checkbuilddeps >/dev/null || ! command -v lintian >/dev/null || \
	    ! dpkg-checkbuilddeps >/dev/null 2>&1; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make deb: run as root to install dpkg-dev, build-essential, lintian and debian/control's Build-Depends" >&2; \
			exit 1; \
		fi; \
		echo "make deb: installing dpkg-dev, build-essential, lintian and the Build-Depends" >&2; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q >&2 && \
		apt-get install -y -q --no-install-recommends dpkg-dev build-essential lintian >&2 && \
		apt-get build-dep -y -q --no-install-recommends ./ >&2; \
	fi
# deps-debroot - the cached Debian 12 root of tests/t-deb-install.sh,
# made once (a few minutes) before the tests' time limits start.
deps-debroot:
	@sh tests/debroot.sh pristine >/dev/null || \
		echo "no throwaway Debian root here: tests/t-deb-install.sh will be skipped" >&2
deb: deps-deb
	rm -rf $(O)/deb
	mkdir -p $(O)/deb/src
	tar -c --exclude=./.git --exclude='./build*' --exclude=./run --exclude=./deps \
		--exclude=./bench/results --exclude=./$(O) . | tar -x -C $(O)/deb/src
	cd $(O)/deb/src && dpkg-buildpackage -b -us -uc -J$(DEB_JOBS) >../build.log 2>&1 || \
		{ tail -n 40 ../build.log; echo "make deb: dpkg-buildpackage failed; log: $(O)/deb/build.log" >&2; exit 1; }
	@set -- $(O)/deb/smtp-session_*.deb; [ $$# -eq 1 ] && [ -f "$$1" ] || exit 1; \
	mv -f "$$1" $(O)/ && echo "$(O)/$${1##*/}"

# Fuzzing: libFuzzer harnesses under fuzz/, seed corpora under tests/fuzz/.
FUZZ_CC      = clang
FUZZ_FLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
FUZZ_SECONDS ?= 600
FUZZERS      = session config addr mime dataread
FUZZ_SESSION_SRC = smtp-signals.c smtp-data.c smtp-auth.c peer.c filter.c dataread.c $(MIME_SRC) auth.c base64.c util.c log.c config.c users.c \
                   users-expand.c forward.c linereader.c addr.c envelope.c spool.c spool-drop.c spool-aside.c \
                   spool-stage.c deliver.c mboxrd.c bufout.c inject.c mkmbox.c stage.c turnlock.c

build-fuzz/fuzz-session: fuzz/fuzz-session.c smtp-session.c $(FUZZ_SESSION_SRC) $(wildcard *.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz-session.c $(FUZZ_SESSION_SRC) -lcrypt
FUZZ_CONFIG_SRC = config.c users.c users-expand.c forward.c mkmbox.c log.c util.c
build-fuzz/fuzz-config: fuzz/fuzz-config.c $(FUZZ_CONFIG_SRC) $(wildcard *.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz-config.c $(FUZZ_CONFIG_SRC)
build-fuzz/fuzz-addr: fuzz/fuzz-addr.c addr.c $(wildcard *.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz-addr.c addr.c
build-fuzz/fuzz-mime: fuzz/fuzz-mime.c $(MIME_SRC) base64.c $(wildcard *.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz-mime.c $(MIME_SRC) base64.c
build-fuzz/fuzz-dataread: fuzz/fuzz-dataread.c dataread.c $(wildcard *.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz-dataread.c dataread.c

fuzz-build: $(addprefix build-fuzz/fuzz-,$(FUZZERS))

# make fuzz: run every harness for FUZZ_SECONDS; new inputs are kept in
# build-fuzz/corpus-NAME, crashes in build-fuzz/crash-*.
fuzz: deps-check fuzz-build
	for f in $(FUZZERS); do \
		mkdir -p build-fuzz/corpus-$$f; \
		build-fuzz/fuzz-$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build-fuzz/crash-$$f- -max_len=65536 \
			build-fuzz/corpus-$$f tests/fuzz/$$f || exit 1; \
	done

clean:
	rm -rf build build-asan build-fuzz run

.PHONY: all run debug check check-fresh check-filters clean deps-build deps-run deps-check \
	deps-deb deps-debroot deb install uninstall
