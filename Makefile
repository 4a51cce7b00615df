# Makefile - smtp-session and relay-agent.
#
#   make            build into build/
#   make run        install what is missing, build, serve 127.0.0.1:2525
#   make check      install what is missing, build, run every test, then
#                   run them again under ASan+UBSan
#   make install    PREFIX (/usr/local) and DESTDIR honoured

CC      ?= cc
O       ?= build
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE
ifeq ($(SAN),1)
CFLAGS   = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

COMMON_OBJS  = util.o log.o config.o linereader.o addr.o spool.o deliver.o
SESSION_OBJS = smtp-session.o dataread.o mime.o
RELAY_OBJS   = relay-agent.o dns.o smtp-client.o bounce.o
PROGS        = smtp-session relay-agent

all: $(addprefix $(O)/,$(PROGS))

$(O)/smtp-session: $(addprefix $(O)/,$(SESSION_OBJS) $(COMMON_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ -lcrypt

$(O)/relay-agent: $(addprefix $(O)/,$(RELAY_OBJS) $(COMMON_OBJS))
	$(CC) $(LDFLAGS) -o $@ $^ -ludns

$(O)/%.o: %.c $(wildcard *.h) | $(O)
	$(CC) $(WARN) $(CFLAGS) -c -o $@ $<

$(O):
	mkdir -p $@

deps-build:
	@sh tests/deps.sh build
deps-check:
	@sh tests/deps.sh check

run: deps-build
	$(MAKE) all
	sh tests/make-run.sh

check: deps-check
	$(MAKE) all
	$(MAKE) O=build-asan SAN=1 all
	sh tests/run build build-asan

clean:
	rm -rf build build-asan run

.PHONY: all run check clean deps-build deps-check
