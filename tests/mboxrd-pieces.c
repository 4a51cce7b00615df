/*
 * mboxrd-pieces.c - test driver of mboxrd.c: appends the text of a file
 * to an mbox as local delivery does, and prints nothing.
 *
 *	mboxrd-pieces file|mem TEXT MBOX
 *
 * "file": the text is read from TEXT itself, in IO_BUF_SIZE pieces, so a
 * line start may straddle two (or more) reads; "mem": TEXT is read into
 * memory first and quoted in one piece. The copy gets sender
 * s@example.org, Delivered-To d@example.org and the time 0.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mboxrd.h"

/* main - one copy of TEXT appended to MBOX; exit 0, or 1 with a reason. */
int
main(int argc, char **argv)
{
	struct msgtext text = { .fd = -1 };
	struct stat st;
	char *mem = NULL;
	int in, out, err;

	if (argc != 4 || (strcmp(argv[1], "file") != 0 && strcmp(argv[1], "mem") != 0)) {
		fprintf(stderr, "usage: mboxrd-pieces file|mem TEXT MBOX\n");
		return 2;
	}
	if ((in = open(argv[2], O_RDONLY)) < 0 || fstat(in, &st) < 0) {
		perror(argv[2]);
		return 1;
	}
	if (strcmp(argv[1], "file") == 0) {
		text.fd = in;
	} else {
		size_t got = 0;
		if (!(mem = malloc((size_t)st.st_size + 1)))
			return 1;
		while (got < (size_t)st.st_size) {
			ssize_t n = read(in, mem + got, (size_t)st.st_size - got);
			if (n <= 0) {
				perror("read");
				return 1;
			}
			got += (size_t)n;
		}
		text.mem = mem;
		text.len = got;
	}
	if ((out = open(argv[3], O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600)) < 0) {
		perror(argv[3]);
		return 1;
	}
	if ((err = mboxrd_write(out, 0, &text, "s@example.org", "d@example.org", 0)) != 0) {
		fprintf(stderr, "mboxrd_write: %s\n", strerror(err));
		return 1;
	}
	close(out);
	close(in);
	free(mem);
	return 0;
}
