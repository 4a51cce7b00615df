/*
 * smtp-postdrop - copy one message from sendmail into the maildrop.
 *
 * SYNOPSIS
 *	smtp-postdrop SPOOL_DIR
 *
 * DESCRIPTION
 *	Installed setgid to group smtpdrop (mode 2755), its one privilege is
 *	creating files in SPOOL_DIR/maildrop/ (mode 1730: that group may
 *	create, nobody but the owner may list). Standard input is copied,
 *	unchanged and unparsed, into a new file maildrop/tmp-ID (spool.c),
 *	owned by the user who ran it. Only when the input ends with the last
 *	line sendmail writes ("QUIT" and CRLF) is the file fsynced, renamed
 *	to maildrop/ID and the directory fsynced; so a sendmail killed midway,
 *	a full disk or a size over MAILDROP_FILE_MAX leave nothing behind.
 *	relay-agent's pickup then feeds the file to smtp-session on its
 *	owner's behalf: nothing in it is trusted but that owner.
 *
 * EXIT STATUS
 *	0 stored; 64 usage; 65 input cut short or too large (nothing stored);
 *	75 the file could not be written (nothing stored).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
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

int
main(int argc, char **argv)
{
	static char buf[IO_BUF_SIZE];
	char name[QUEUE_ID_MAX], tail[sizeof LAST_LINE - 1] = { 0 };
	size_t tlen = sizeof tail;
	long long total = 0;
	ssize_t n;
	int fd;

	if (argc != 2 || argv[1][0] == '\0') {
		fprintf(stderr, "usage: smtp-postdrop SPOOL_DIR\n");
		return EXIT_USAGE;
	}
	signal(SIGXFSZ, SIG_IGN);   /* a file-size limit is EFBIG: exit 75 */
	if ((fd = spool_drop_create(argv[1], name, sizeof name)) < 0) {
		fprintf(stderr, "smtp-postdrop: cannot create a file in %s/maildrop: %s\n", argv[1],
		    strerror(errno));
		return EXIT_TEMPFAIL;
	}
	while ((n = read(0, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (total += n) > MAILDROP_FILE_MAX || write_all(fd, buf, (size_t)n) < 0) {
			int rc = n < 0 || total <= MAILDROP_FILE_MAX ? EXIT_TEMPFAIL : EXIT_DATAERR;
			fprintf(stderr, "smtp-postdrop: %s\n", rc == EXIT_DATAERR ? "message too large" :
			    strerror(errno));
			spool_drop_abandon(argv[1], name, fd);
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
		spool_drop_abandon(argv[1], name, fd);
		return EXIT_DATAERR;
	}
	if (spool_drop_commit(argv[1], name, fd) != RES_OK) {
		fprintf(stderr, "smtp-postdrop: cannot store the message in %s/maildrop: %s\n",
		    argv[1], strerror(errno));
		return EXIT_TEMPFAIL;
	}
	return 0;
}
