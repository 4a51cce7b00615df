/*
 * fuzz-mime.c - the debug sink's MIME walker on arbitrary messages.
 *
 * Each input is reported twice: from a seekable file (the walker's two
 * passes) and, when it fits in a pipe, from a pipe (one pass). Every
 * line the walker emits is held to mime.h's promises, checked here
 * independently of the walker's own code: at most MIME_OUT_LINE_MAX
 * octets, valid UTF-8, no control character nor line-breaking or
 * reordering character. A broken promise, or a report that fails on
 * input that reads fine, aborts, so that libFuzzer keeps the input.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../bounds.h"
#include "../mime.h"

/* violation - say which promise LINE breaks, and abort. */
static void
violation(const char *what, const char *line)
{
	fprintf(stderr, "fuzz-mime: %s in line \"%.600s\"\n", what, line);
	abort();
}

/* forbidden - the code points mime.h promises never to emit. */
static int
forbidden(unsigned long cp)
{
	return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C ||
	       cp == 0x200E || cp == 0x200F || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* next_cp - decode the UTF-8 character at S (RFC 3629) into *CP; its
 * length, or 0 when it is not valid UTF-8. */
static size_t
next_cp(const unsigned char *s, unsigned long *cp)
{
	static const unsigned long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n, i;

	if (s[0] < 0x80)
		n = 1, *cp = s[0];
	else if ((s[0] & 0xE0) == 0xC0)
		n = 2, *cp = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		n = 3, *cp = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		n = 4, *cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)     /* the NUL stops here too */
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3F);
	}
	if (*cp < min[n] || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
		return 0;
	return n;
}

/* emit - check one line against mime.h. */
static void
emit(void *ctx, const char *line)
{
	const unsigned char *s = (const unsigned char *)line;
	size_t len = strlen(line), i, n;
	unsigned long cp;

	(void)ctx;
	if (len > MIME_OUT_LINE_MAX)
		violation("more than MIME_OUT_LINE_MAX octets", line);
	for (i = 0; i < len; i += n) {
		n = next_cp(s + i, &cp);
		if (n == 0)
			violation("invalid UTF-8", line);
		if (forbidden(cp))
			violation("a control character", line);
	}
}

/* report_pipe - the report read from a pipe, when the input fits in one. */
static void
report_pipe(const unsigned char *data, size_t size)
{
	int p[2];

	if (pipe(p) < 0)
		abort();
	if (size > 65536)
		(void)fcntl(p[1], F_SETPIPE_SZ, (int)size);
	if ((size_t)fcntl(p[1], F_GETPIPE_SZ) >= size) {
		if (size && write(p[1], data, size) != (ssize_t)size)
			abort();
		close(p[1]);
		if (mime_report(p[0], emit, NULL) != 0)
			abort();
	} else
		close(p[1]);
	close(p[0]);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	int fd = memfd_create("msg", 0);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	if (mime_report(fd, emit, NULL) != 0)
		abort();
	close(fd);
	report_pipe(data, size);
	return 0;
}
