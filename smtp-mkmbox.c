/*
 * smtp-mkmbox - make one missing system mailbox for its user.
 *
 * SYNOPSIS
 *	smtp-mkmbox [-c FILE] [-V]
 *
 * DESCRIPTION
 *	Run as root, once per connection, by smtp-mkmbox.socket (systemd,
 *	Accept=yes) with no capability but CAP_CHOWN. Reads one line, an
 *	account name, from standard input; under "users system" creates
 *	mailbox_dir/NAME for it (mkmbox.c: our name rules and getpwnam, O_EXCL
 *	and no symlink followed, mode 0660, owner NAME, group mail) unless it
 *	exists; answers one line on standard output ("ok", "no such account",
 *	"error ...") and exits. The directory comes from the configuration,
 *	never from the asker. It logs to syslog (or stderr with "log
 *	stderr"), never to a log file, which a root process would create with
 *	the wrong owner.
 *
 * EXIT STATUS
 *	0 answered; 64 usage; 78 bad configuration or not users system.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mkmbox.h"
#include "util.h"

int
main(int argc, char **argv)
{
	static struct config cf;
	const char *file = CONFIG_DEFAULT;
	char err[1024];
	int opt;

	while ((opt = getopt(argc, argv, "c:V")) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 'V':
			printf("smtp-mkmbox %s\n", VERSION);
			return 0;
		default:
			fprintf(stderr, "usage: smtp-mkmbox [-c FILE] [-V]\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: smtp-mkmbox [-c FILE] [-V]\n");
		return EXIT_USAGE;
	}
	log_init("smtp-mkmbox");
	if (config_load(&cf, file, CONFIG_CLIENT, err, sizeof err) < 0) {
		log_msg(LOG_ERR, "configuration error: %s", err);
		(void)write_all(1, "error configuration\n", 20);
		return EXIT_CONFIG;
	}
	if (strcmp(cf.log, "stderr") == 0)
		log_open("stderr");
	if (!cf.users_system) {
		log_msg(LOG_ERR, "%s: not \"users system\": no mailbox is made for a user", file);
		(void)write_all(1, "error not users system\n", 23);
		return EXIT_CONFIG;
	}
	mkmbox_serve(0, 1, cf.mailbox_dir);
	config_free(&cf);
	return 0;
}
