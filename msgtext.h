/*
 * msgtext.h - a message's text as it is stored: our Received header and
 * the message, dot-unstuffed, LF line ends (bare CRs kept as they came).
 *
 * It lives in a file read with pread (a staging file, a queued msg/ID, a
 * temporary file) or in memory; readers never care which. The spool may
 * take a staging file as it is instead of copying it (spool_commit).
 */
#ifndef MSGTEXT_H
#define MSGTEXT_H

#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* What FD is to the spool. */
enum msgtext_file {
	MSGTEXT_OTHER = 0,      /* not the spool's: copied when queued */
	MSGTEXT_NAMED,          /* spool_dir/tmp/ID.msg: queued by rename */
	MSGTEXT_UNNAMED         /* an unnamed (O_TMPFILE) file in
	                           spool_dir/tmp: queued by linking it */
};

struct msgtext {
	int fd;                 /* the file; -1 when the text is in MEM */
	const char *mem;
	size_t len;             /* octets of MEM */
	const char *id;         /* the queue id it was staged under (our
	                           Received header names it): a spool entry
	                           takes it; NULL: the entry gets a new one */
	enum msgtext_file file;
};

/* msgtext_read - up to N octets at OFF into BUF: the count, 0 at the
 * end, -1 with errno. */
static inline ssize_t
msgtext_read(const struct msgtext *t, void *buf, size_t n, off_t off)
{
	if (t->fd >= 0) {
		ssize_t got;
		while ((got = pread(t->fd, buf, n, off)) < 0 && errno == EINTR)
			;
		return got;
	}
	if (off < 0 || (size_t)off >= t->len)
		return 0;
	if (n > t->len - (size_t)off)
		n = t->len - (size_t)off;
	memcpy(buf, t->mem + off, n);
	return (ssize_t)n;
}

/* msgtext_chunk - the octets at OFF: *P points at them (into the text
 * itself when it is in memory, else into BUF, filled with up to N of
 * them); their count, 0 at the end, -1 with errno. */
static inline ssize_t
msgtext_chunk(const struct msgtext *t, char *buf, size_t n, off_t off, const char **p)
{
	if (t->fd < 0) {
		if (off < 0 || (size_t)off >= t->len)
			return 0;
		*p = t->mem + off;
		return (ssize_t)(t->len - (size_t)off);
	}
	*p = buf;
	return msgtext_read(t, buf, n, off);
}

#endif
