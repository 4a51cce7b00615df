/*
 * relay-agent - drain the relay spool written by smtp-session.
 *
 * SYNOPSIS
 *	relay-agent [-c FILE] [-v] [-f | -l | -p | -s ID | -d ID | -h ID |
 *	            -H ID | -r ID] [-V]
 *
 * DESCRIPTION
 *	Without a queue command: one pass over the spool, then exit; cron or
 *	a systemd timer starts it every few minutes, and a pass may start
 *	while another still runs (a lock per message keeps them apart). The
 *	pass is a scheduler (relay-sched.c) handing deliveries to worker
 *	processes (relay-worker.c) that speak SMTP (smtp-client.c) to the
 *	hosts DNS names (dns.c); queue commands are relay-admin.c's.
 *
 *	First, each pass picks up what sendmail left in the maildrop
 *	(pickup.c); -p does only that. Started as root, relay-agent forks
 *	the mailbox helper "users system" needs (mkmbox.c), then becomes the
 *	owner of spool_dir (its uid, that account's group and supplementary
 *	groups: spool_become_owner), so that nothing it writes in the spool,
 *	the mailboxes or the log is root's.
 *
 * OPTIONS
 *	-c FILE  configuration (default /etc/smtp-session.conf)
 *	-v       narrate on stderr      -f  try every message now
 *	-l       list the queue         -s ID  show a message
 *	-p       pick up the maildrop only
 *	-d ID    delete (ALL: every message)
 *	-h ID    hold                   -H ID  release
 *	-r ID    due now                -V  print the version
 *
 * EXIT STATUS
 *	0 done (deferrals included), 1 no such queued message, 64 usage,
 *	75 spool unreadable (or a message busy, or an envelope in error for
 *	-l), 78 configuration.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mkmbox.h"
#include "pickup.h"
#include "relay.h"
#include "spool.h"
#include "util.h"

int relay_verbose;

/* What the command line asks for. */
struct args {
	const char *file;
	int flush;
	char cmd;                       /* 0: a pass; 'l', 'p', 's', 'd', 'h', 'H',
	                                   'r' */
	const char *id;
};

/* relay_narrate - one step on stderr under -v. */
void relay_narrate(const char *fmt, ...)
{
	va_list ap;

	if (!relay_verbose)
		return;
	va_start(ap, fmt);
	log_narrate("relay-agent: ", fmt, ap);
	va_end(ap);
}

/* usage - the command line, then exit 64. */
static void usage(void)
{
	fprintf(stderr, "usage: relay-agent [-c FILE] [-v] [-f | -l | -p | -s ID | -d ID|ALL | "
	        "-h ID | -H ID | -r ID] [-V]\n");
	exit(EXIT_USAGE);
}

/* parse_args - the options into A; exits on -V and on errors. */
static void parse_args(int argc, char **argv, struct args *a)
{
	int opt, ncmd = 0;

	memset(a, 0, sizeof *a);
	a->file = CONFIG_DEFAULT;
	while ((opt = getopt(argc, argv, "c:vflps:d:h:H:r:V")) != -1) {
		switch (opt) {
		case 'c': a->file = optarg; break;
		case 'v': relay_verbose = 1; break;
		case 'f': a->flush = 1; ncmd++; break;
		case 'l': case 'p': a->cmd = (char)opt; ncmd++; break;
		case 's': case 'd': case 'h': case 'H': case 'r':
			a->cmd = (char)opt;
			a->id = optarg;
			ncmd++;
			break;
		case 'V':
			printf("relay-agent %s\n", VERSION);
			exit(0);
		default: usage();
		}
	}
	if (optind != argc || ncmd > 1)
		usage();
}

/* load_config - read the configuration; exits 78 when it is broken. */
static void load_config(struct config *cf, const char *file)
{
	char err[1024];

	log_init("relay-agent");
	config_set_reporter(log_later);
	if (config_load(cf, file, CONFIG_FULL, err, sizeof err) < 0) {
		fprintf(stderr, "relay-agent: %s\n", err);
		log_msg(LOG_ERR, "configuration error: %s", err);
		exit(EXIT_CONFIG);
	}
}

/*
 * drop_root - started as root (cron): the mailbox helper keeps root, the
 * rest runs as the owner of spool_dir (spool_become_owner); not root, or
 * a spool that is root's: nothing changes. Exits 75 when the switch
 * fails: root must never go on writing in the spool.
 */
static void drop_root(const struct config *cf)
{
	if (mkmbox_child_start(cf) < 0 || spool_become_owner(cf->spool_dir) < 0) {
		fprintf(stderr, "relay-agent: cannot drop root privileges: %s\n", strerror(errno));
		log_msg(LOG_ERR, "cannot drop root privileges: %s", strerror(errno));
		exit(EXIT_TEMPFAIL);
	}
}

/* open_log - the configured log target (after the identity switch, so a
 * log file is never created as root). Exits 78 when it cannot be opened. */
static void open_log(const struct config *cf)
{
	if (log_open(cf->log) < 0) {
		fprintf(stderr, "relay-agent: cannot open log %s: %s\n", cf->log, strerror(errno));
		exit(EXIT_CONFIG);
	}
	if (relay_verbose && !log_target_is_stderr())
		log_to_stderr_too(1);
}

/* run_command - the queue command or the pass A asks for; exit status. */
static int run_command(const struct config *cf, const struct args *a)
{
	struct smtp_options opt;

	switch (a->cmd) {
	case 'l': return relay_list(cf);
	case 'p':
		signal(SIGPIPE, SIG_IGN);
		pickup_run(cf, 1);
		return 0;
	case 's': return relay_show(cf, a->id);
	case 'd': return relay_delete(cf, a->id);
	case 'h': return relay_hold(cf, a->id, 1);
	case 'H': return relay_hold(cf, a->id, 0);
	case 'r': return relay_requeue(cf, a->id);
	}
	memset(&opt, 0, sizeof opt);
	opt.helo = cf->hostname;
	opt.connect_timeout = cf->connect_timeout;
	opt.timeout = cf->smtp_timeout;
	opt.verbose = relay_verbose;
	if (cf->smarthost[0] && cf->smarthost_user[0]) {
		opt.auth_user = cf->smarthost_user;
		opt.auth_password = cf->smarthost_password;
	}
	signal(SIGPIPE, SIG_IGN);
	pickup_run(cf, 0);              /* what sendmail left, into the queue */
	return relay_pass(cf, &opt, a->flush);
}

/* main - options, configuration, root dropped, log, then the work. */
int main(int argc, char **argv)
{
	static struct config cf;
	struct args a;
	int rc;

	parse_args(argc, argv, &a);
	load_config(&cf, a.file);
	drop_root(&cf);
	open_log(&cf);
	rc = run_command(&cf, &a);
	config_free(&cf);
	return rc;
}
