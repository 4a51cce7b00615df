/*
 * smtp-postdrop - copy one message from sendmail into the maildrop.
 *
 * SYNOPSIS
 *	smtp-postdrop [-c FILE]
 *
 * DESCRIPTION
 *	Installed setgid to group smtpdrop (mode 2755), its one privilege is
 *	creating files in spool_dir/maildrop/ (mode 1730: that group may
 *	create, nobody but the owner may list). The directory comes from the
 *	configuration (FILE, default /etc/smtp-session.conf; when it cannot
 *	be read, the built-in spool_dir), never from the caller: a FILE other
 *	than the default must belong to root and be writable by nobody else,
 *	unless the caller is root or the program runs without its group.
 *	The maildrop is opened once, with O_PATH and without following a
 *	symbolic link, and the file is created, renamed and synced through
 *	that descriptor. Standard input is copied, unchanged and unparsed,
 *	into a new file maildrop/tmp-ID (spool-drop.c), owned by the user who
 *	ran it, at most max_message_size and the SMTP framing around it
 *	(MAILDROP_FRAMING_MAX), and never more than MAILDROP_FILE_MAX. Only
 *	when the input ends with the last line sendmail writes ("QUIT" and
 *	CRLF) is the file fsynced, renamed to maildrop/ID and the file
 *	system synced; so a sendmail killed midway, a full disk or a size
 *	over the limit leave nothing behind, and neither does a SIGTERM,
 *	SIGINT, SIGHUP or SIGQUIT (a SIGKILL leaves tmp-ID for the pickup to
 *	remove after SPOOL_TMP_STALE_SEC). It refuses to start when the
 *	spool's file system has less free space than the reserve
 *	smtp-session keeps (queue_minfree). relay-agent's pickup then feeds
 *	the file to smtp-session on its owner's behalf: nothing in it is
 *	trusted but that owner.
 *
 * EXIT STATUS
 *	0 stored; 64 usage; 65 input cut short or too large (nothing stored);
 *	75 the file could not be written, or too little free space (nothing
 *	stored); 78 a configuration file it may not use.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "config.h"
#include "spool.h"
#include "util.h"

#define LAST_LINE "QUIT\r\n"

#ifdef __SANITIZE_ADDRESS__
/* The sanitizer build: LeakSanitizer cannot run in a setgid process
 * (it cannot be traced), and would end it with an error. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

/* What a signal handler removes: the maildrop and the file being written. */
static volatile sig_atomic_t drop_fd = -1;
static char drop_tmp[QUEUE_ID_MAX + 8];

/* on_signal - killed while writing: remove tmp-ID, exit 75. */
static void
on_signal(int sig)
{
	(void)sig;
	if (drop_fd >= 0 && drop_tmp[0])
		unlinkat(drop_fd, drop_tmp, 0);
	_exit(EXIT_TEMPFAIL);
}

/* usage - the command line, then exit 64. */
static int
usage(void)
{
	fprintf(stderr, "usage: smtp-postdrop [-c FILE]\n");
	return EXIT_USAGE;
}

/*
 * config_read - the configuration FILE into CF (only its keys). A FILE
 * other than the default must be root's and writable by root only when
 * the program runs with its group and the caller is not root: the caller
 * chooses the maildrop only among those an administrator configured.
 * One that does not exist or cannot be read gives the defaults, as for
 * sendmail. 0, or -1 with the reason on stderr.
 */
static int
config_read(struct config *cf, const char *file)
{
	char err[1024], path[64];
	struct stat st;
	int fd, rc;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		if (errno != ENOENT && errno != EACCES) {
			fprintf(stderr, "smtp-postdrop: %s: %s\n", file, strerror(errno));
			return -1;
		}
		config_defaults(cf);
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (strcmp(file, CONFIG_DEFAULT) != 0 && getegid() != getgid() && getuid() != 0 &&
	     (st.st_uid != 0 || (st.st_mode & 022)))) {
		fprintf(stderr, "smtp-postdrop: %s: not a configuration file of root's (owned by "
		    "root, writable by root only): refused\n", file);
		close(fd);
		return -1;
	}
	/* The file checked, not whatever its name leads to now. */
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	rc = config_load(cf, path, CONFIG_CLIENT, err, sizeof err);
	close(fd);
	if (rc < 0)
		fprintf(stderr, "smtp-postdrop: %s: %s\n", file, err);
	return rc;
}

int
main(int argc, char **argv)
{
	static char buf[IO_BUF_SIZE];
	static struct config cf;
	const char *file = CONFIG_DEFAULT;
	char name[QUEUE_ID_MAX], tail[sizeof LAST_LINE - 1] = { 0 };
	size_t tlen = sizeof tail;
	long long total = 0, limit;
	ssize_t n;
	int opt, fd, dfd;

	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt != 'c')
			return usage();
		file = optarg;
	}
	if (optind != argc || !file[0])
		return usage();
	if (config_read(&cf, file) < 0)
		return EXIT_CONFIG;
	limit = cf.max_message_size > 0 ? cf.max_message_size + MAILDROP_FRAMING_MAX :
	    MAILDROP_FILE_MAX;
	if (limit > MAILDROP_FILE_MAX)
		limit = MAILDROP_FILE_MAX;
	signal(SIGXFSZ, SIG_IGN);   /* a file-size limit is EFBIG: exit 75 */
	if ((dfd = spool_drop_dir(cf.spool_dir)) < 0) {
		fprintf(stderr, "smtp-postdrop: %s/maildrop: %s\n", cf.spool_dir, strerror(errno));
		return EXIT_TEMPFAIL;
	}
	if (!spool_drop_room(dfd, config_minfree(&cf))) {
		fprintf(stderr, "smtp-postdrop: %s: too little free space (queue_minfree)\n",
		    cf.spool_dir);
		return EXIT_TEMPFAIL;
	}
	drop_fd = dfd;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGQUIT, on_signal);
	if ((fd = spool_drop_create(dfd, name, sizeof name)) < 0) {
		fprintf(stderr, "smtp-postdrop: cannot create a file in %s/maildrop: %s\n",
		    cf.spool_dir, strerror(errno));
		return EXIT_TEMPFAIL;
	}
	snprintf(drop_tmp, sizeof drop_tmp, "%s%s", SPOOL_DROP_TMP, name);
	while ((n = read(0, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (total += n) > limit || write_all(fd, buf, (size_t)n) < 0) {
			int rc = n < 0 || total <= limit ? EXIT_TEMPFAIL : EXIT_DATAERR;
			if (rc == EXIT_DATAERR)
				fprintf(stderr, "smtp-postdrop: message too large (max_message_size %ld)\n",
				    cf.max_message_size);
			else
				fprintf(stderr, "smtp-postdrop: %s\n", strerror(errno));
			spool_drop_abandon(dfd, name, fd);
			return rc;
		}
		/* The last octets seen, for the check at the end. */
		if ((size_t)n >= tlen)
			memcpy(tail, buf + n - tlen, tlen);
		else {
			memmove(tail, tail + n, tlen - (size_t)n);
			memcpy(tail + tlen - (size_t)n, buf, (size_t)n);
		}
	}
	if (memcmp(tail, LAST_LINE, tlen) != 0) {
		fprintf(stderr, "smtp-postdrop: input cut short: nothing stored\n");
		spool_drop_abandon(dfd, name, fd);
		return EXIT_DATAERR;
	}
	if (spool_drop_commit(dfd, name, fd) != RES_OK) {
		fprintf(stderr, "smtp-postdrop: cannot store the message in %s/maildrop: %s\n",
		    cf.spool_dir, strerror(errno));
		return EXIT_TEMPFAIL;
	}
	return 0;
}
