/*
 * mime-dump.c - test driver: print mime_report()'s lines for each file.
 *
 *	mime-dump FILE...
 *
 * "-" reads stdin (a pipe: the reader then makes a single pass).
 * With more than one file, each report is preceded by "== FILE". Exit 0,
 * or 1 when a file could not be opened or read.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
}

int main(int argc, char **argv)
{
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		int fd = strcmp(argv[i], "-") ? open(argv[i], O_RDONLY) : 0;
		if (argc > 2)
			printf("== %s\n", argv[i]);
		if (fd < 0 || mime_report(fd, print_line, NULL) < 0) {
			perror(argv[i]);
			rc = 1;
		}
		if (fd > 0)
			close(fd);
	}
	return rc;
}
