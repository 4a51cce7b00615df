# Makefile - smtp-session and relay-agent.
#
#   make            build into build/
#   make run        install what is missing, build, serve 127.0.0.1:2525
#   make debug      the same port as a debug sink: reports on the terminal
#   make check      install what is missing, build, run every test, then
#                   run them again under ASan+UBSan (warnings are errors)
#   make check-fresh  make check in a new Debian 12 root (tests/fresh-root.sh)
#   make install    PREFIX (/usr/local) and DESTDIR honoured

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
# the stunnel files (stunnel/: submission on port 465, smarthost client)
# in SYSCONFDIR; all of it below DESTDIR.
PREFIX     = /usr/local
DESTDIR    =
SBINDIR    = $(PREFIX)/sbin
MANDIR     = $(PREFIX)/share/man
UNITDIR    = $(PREFIX)/lib/systemd/system
SYSCONFDIR = /etc
UNITS      = smtp-session.socket smtp-session@.service \
             relay-agent.service relay-agent.timer smtp-submission.service
# Files in SYSCONFDIR: installed name and source (NAME:SOURCE).
ETCFILES   = xinetd.d/smtp:xinetd.d/smtp cron.d/relay-agent:cron.d/relay-agent \
             smtp-session.conf:etc/smtp-session.conf.sample \
             smtp-submission.conf:etc/smtp-submission.conf.sample \
             stunnel/smtps.conf:stunnel/smtps.conf \
             stunnel/smarthost.conf:stunnel/smarthost.conf
# Of those, the ones uninstall keeps when they differ from the source.
ETCCONFS   = smtp-session.conf:etc/smtp-session.conf.sample \
             smtp-submission.conf:etc/smtp-submission.conf.sample \
             stunnel/smtps.conf:stunnel/smtps.conf \
             stunnel/smarthost.conf:stunnel/smarthost.conf

ifeq ($(SAN),1)
CFLAGS   = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

COMMON_OBJS  = util.o log.o config.o linereader.o addr.o spool.o deliver.o
SESSION_OBJS = smtp-session.o dataread.o mime.o auth.o base64.o
RELAY_OBJS   = relay-agent.o dns.o smtp-client.o bounce.o base64.o
PROGS        = smtp-session relay-agent

all: $(addprefix $(O)/,$(PROGS))

$(O)/smtp-session: $(addprefix $(O)/,$(SESSION_OBJS) $(COMMON_OBJS))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcrypt

$(O)/relay-agent: $(addprefix $(O)/,$(RELAY_OBJS) $(COMMON_OBJS))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -ludns

$(O)/%.o: %.c $(wildcard *.h) | $(O)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

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
check: deps-check
	$(MAKE) -B WERROR=-Werror all
	$(MAKE) -B WERROR=-Werror O=build-asan SAN=1 all
	$(MAKE) fuzz-build
	sh tests/run build build-asan

# check-fresh - make check in a Debian 12 root made by debootstrap
# (minbase, git and make), on a fresh clone of the commit checked out.
check-fresh:
	sh tests/fresh-root.sh

# install - the files of "Installed layout" in SPEC.md. The files in
# SYSCONFDIR are the administrator's once installed: an existing one is
# kept. @SBINDIR@ and @SYSCONFDIR@ in the units, the xinetd and cron
# files and the sample are replaced by the installed paths.
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/xinetd.d $(DESTDIR)$(SYSCONFDIR)/cron.d \
		$(DESTDIR)$(SYSCONFDIR)/stunnel
	install -m 755 $(O)/smtp-session $(O)/relay-agent $(DESTDIR)$(SBINDIR)/
	install -m 644 man/smtp-session.8 man/relay-agent.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 man/smtp-session.conf.5 $(DESTDIR)$(MANDIR)/man5/
	for u in $(UNITS); do \
		$(SUBST) systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u.tmp && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		mv -f $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
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
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/smtp-session $(DESTDIR)$(SBINDIR)/relay-agent
	rm -f $(DESTDIR)$(MANDIR)/man8/smtp-session.8 \
		$(DESTDIR)$(MANDIR)/man8/relay-agent.8 \
		$(DESTDIR)$(MANDIR)/man5/smtp-session.conf.5
	for u in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$u; done
	rm -f $(DESTDIR)$(SYSCONFDIR)/xinetd.d/smtp $(DESTDIR)$(SYSCONFDIR)/cron.d/relay-agent
	@for fs in $(ETCCONFS); do \
		conf=$(DESTDIR)$(SYSCONFDIR)/$${fs%%:*}; src=$${fs#*:}; \
		if [ -e $$conf ]; then \
			if $(SUBST) $$src | cmp -s - $$conf; then \
				echo "rm -f $$conf"; rm -f $$conf; \
			else echo "kept $$conf (changed from the sample)"; fi; \
		fi; \
	done

# Fuzzing: libFuzzer harnesses under fuzz/, seed corpora under tests/fuzz/.
FUZZ_CC      = clang
FUZZ_FLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
FUZZ_SECONDS ?= 600
FUZZERS      = session config addr mime dataread
FUZZ_SESSION_SRC = dataread.c mime.c auth.c base64.c util.c log.c config.c \
                   linereader.c addr.c spool.c deliver.c

build-fuzz/fuzz-session: fuzz/fuzz-session.c smtp-session.c $(FUZZ_SESSION_SRC) $(wildcard *.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz-session.c $(FUZZ_SESSION_SRC) -lcrypt
build-fuzz/fuzz-config: fuzz/fuzz-config.c config.c util.c $(wildcard *.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz-config.c config.c util.c
build-fuzz/fuzz-addr: fuzz/fuzz-addr.c addr.c $(wildcard *.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz-addr.c addr.c
build-fuzz/fuzz-mime: fuzz/fuzz-mime.c mime.c $(wildcard *.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz-mime.c mime.c
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

.PHONY: all run debug check check-fresh clean deps-build deps-run deps-check install uninstall
