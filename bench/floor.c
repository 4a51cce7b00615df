/*
 * floor - the least a receiver started once per connection can do: the
 * measuring stick of bench/session-bench.sh, not a mail server.
 *
 *	floor MAILDIR
 *
 * Started by the same launcher as smtp-session (tcpserver, or
 * systemd-socket-activate --inetd), it speaks just enough SMTP for
 * smtp-source: 220, then 250 to every command, 354 to DATA and 221 to
 * QUIT. The message is read into memory up to its final dot and appended,
 * after a "From " line, to the mbox MAILDIR/NAME, where NAME is the
 * local part of the last RCPT (letters and digits only; anything else is
 * refused) under a blocking fcntl lock, then fsynced; only then comes
 * the 250. No dot-unstuffing, no line-end conversion, no checks, no
 * dotlock, no staging file, no log: what is left is the cost of the
 * design itself (exec by the launcher, the dialogue's round trips, one
 * append and fsync per message).
 *
 * Build it as Debian builds programs: cc -O2 -o floor floor.c
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define IN_SIZE   65536         /* octets read from the client at once */
#define TEXT_MAX  (4 << 20)     /* octets of one message kept; more: 552 */
#define NAME_MAX_ 32            /* octets of a mailbox name */

static char in[IN_SIZE];
static size_t in_len, in_pos;

/* fill - more input; 0 at EOF or on an error. */
static int
fill(void)
{
	ssize_t n = read(0, in, sizeof in);

	in_len = n > 0 ? (size_t)n : 0;
	in_pos = 0;
	return n > 0;
}

/* next_line - one line (with its line end) into BUF, cut at SIZE-1; its
 * length, or -1 at EOF. */
static long
next_line(char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		if (in_pos == in_len && !fill())
			return -1;
		char c = in[in_pos++];
		if (n + 1 < size)
			buf[n++] = c;
		if (c == '\n') {
			buf[n] = '\0';
			return (long)n;
		}
	}
}

/* say - one reply. */
static void
say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		exit(1);
}

/* mailbox - the letters and digits of the local part in "RCPT TO:<x@y>"
 * into NAME; 0 when there are none or anything else. */
static int
mailbox(const char *line, char *name)
{
	const char *p = strchr(line, '<');
	size_t n = 0;

	if (!p)
		return 0;
	for (p++; *p && *p != '@' && *p != '>'; p++) {
		if (n == NAME_MAX_ || !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9')))
			return 0;
		name[n++] = *p;
	}
	name[n] = '\0';
	return n > 0;
}

/* deliver - append TEXT to DIR/NAME under an fcntl lock, fsync; 0 or -1. */
static int
deliver(const char *dir, const char *name, const char *text, size_t len)
{
	char path[4096];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd, rc = 0;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (fcntl(fd, F_SETLKW, &fl) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		rc = -1;
	close(fd);
	return rc;
}

int
main(int argc, char **argv)
{
	static char line[IN_SIZE + 1], text[TEXT_MAX];
	static const char from_[] = "From floor@bench Thu Jan  1 00:00:00 1970\n";
	char name[NAME_MAX_ + 1] = "";
	long n;

	if (argc != 2) {
		fprintf(stderr, "usage: floor MAILDIR\n");
		return 64;
	}
	say("220 floor ESMTP\r\n");
	while ((n = next_line(line, sizeof line)) >= 0) {
		if (strncasecmp(line, "QUIT", 4) == 0) {
			say("221 bye\r\n");
			return 0;
		}
		if (strncasecmp(line, "RCPT", 4) == 0 && !mailbox(line, name)) {
			say("550 no such mailbox\r\n");
			continue;
		}
		if (strncasecmp(line, "DATA", 4) != 0) {
			say("250 ok\r\n");
			continue;
		}
		say("354 go ahead\r\n");
		size_t len = sizeof from_ - 1;
		int big = 0;
		memcpy(text, from_, len);
		while ((n = next_line(line, sizeof line)) >= 0 && strcmp(line, ".\r\n") != 0) {
			if (len + (size_t)n + 1 > sizeof text)
				big = 1;
			else {
				memcpy(text + len, line, (size_t)n);
				len += (size_t)n;
			}
		}
		if (n < 0)
			return 1;
		text[len++] = '\n';
		if (big)
			say("552 too big\r\n");
		else if (!name[0] || deliver(argv[1], name, text, len) < 0)
			say("451 not stored\r\n");
		else
			say("250 stored\r\n");
	}
	return 0;
}
