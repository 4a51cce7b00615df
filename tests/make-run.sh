#!/bin/sh
# make-run.sh - serve smtp-session on 127.0.0.1:2525 with a sample
# configuration for test.example under ./run/ (users alice and bob,
# postmaster an alias of alice). Local mail lands in run/mail/USER, mail
# for other domains in run/spool/, the log in run/smtp-session.log.
set -e
cd "$(dirname "$0")/.."
top=$PWD
mkdir -p run/mail run/spool
chmod 700 run/mail run/spool
[ -f run/users ] || cat >run/users <<USERS
# mailboxes: one name a line; aliases: name: target, target
alice
bob
postmaster: alice
USERS
cat >run/smtp-session.conf <<CONF
hostname mx.test.example
domain test.example
users $top/run/users
mailbox_dir $top/run/mail
spool_dir $top/run/spool
log $top/run/smtp-session.log
CONF
echo "smtp-session on 127.0.0.1:2525 (configuration run/smtp-session.conf, log run/smtp-session.log)"
echo "try: swaks --server 127.0.0.1:2525 --to alice@test.example --from you@example.org"
echo "then: cat run/mail/alice        (Ctrl-C stops the server)"
exec systemd-socket-activate -l 127.0.0.1:2525 -a --inetd \
	"$top/build/smtp-session" -c "$top/run/smtp-session.conf"
